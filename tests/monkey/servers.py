"""Real local peers for the gpm.monkey scenarios (run inside the patched child, on plain threads).

``GaugeHTTPServer``: a threaded HTTP/1.1 server on 127.0.0.1 that counts requests in flight.
With ``hold=N`` every request waits until N requests have been in flight at once (at most
``patience`` seconds, then it answers ``late``): a client side that blocks its M can never get
N requests in flight on one P, so ``max_inflight == N`` and no ``late`` body prove it did not.
With ``delay`` each answer comes after that many seconds (benchmarks).  ``tls`` is an
``ssl.SSLContext`` for HTTPS.  Plain threads under patching keep the original behaviour, which
these servers also exercise.
"""

import http.server
import threading
import time


class GaugeHTTPServer:
    def __init__(self, hold=0, delay=0.0, tls=None, patience=10.0, body=b"ok"):
        self.hold = hold
        self.delay = delay
        self.patience = patience
        self.body = body
        self.cond = threading.Condition()
        self.inflight = 0           # guarded by cond
        self.max_inflight = 0       # guarded by cond
        self.requests = 0           # guarded by cond
        self.connections = 0        # guarded by cond
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with outer.cond:
                    outer.connections += 1

            def log_message(self, *args):
                pass

            def do_GET(self):
                body = outer._enter()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024

        self.httpd = Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def _enter(self):
        body = self.body
        with self.cond:
            self.requests += 1
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
            self.cond.notify_all()
            if self.hold and not self.cond.wait_for(lambda: self.max_inflight >= self.hold, self.patience):
                body = b"late"
        if self.delay:
            time.sleep(self.delay)
        with self.cond:
            self.inflight -= 1
        return body

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def tls_pair():
    """(server SSLContext, client SSLContext, CA) with trustme certificates for 127.0.0.1/localhost."""
    import ssl
    import trustme
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client, ca
