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
    """(server SSLContext, client SSLContext, CA) with test certificates for 127.0.0.1/localhost
    (tests/certs.py: trustme, or openssl where trustme is missing)."""
    import ssl
    from tests import certs
    ca = certs.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client, ca


class GaugeSMTPServer:
    """A minimal SMTP server (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) on plain threads.

    With ``hold=N`` the reply to the end of DATA waits until N messages have been in their
    DATA phase at once (``patience`` seconds at most, then it replies 451).  ``messages``
    collects (from, [to], body) of the accepted ones.
    """

    def __init__(self, hold=0, patience=10.0):
        import socketserver
        self.hold = hold
        self.patience = patience
        self.cond = threading.Condition()
        self.indata = 0             # guarded by cond
        self.max_indata = 0         # guarded by cond
        self.messages = []          # guarded by cond
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                w = self.wfile.write
                w(b"220 gpm-test ESMTP\r\n")
                mail, rcpt = None, []
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    cmd = line.strip().decode("ascii", "replace")
                    verb = cmd[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        w(b"250-gpm-test\r\n250 8BITMIME\r\n" if verb == "EHLO" else b"250 gpm-test\r\n")
                    elif verb == "MAIL":
                        mail, rcpt = cmd.split(":", 1)[1].strip(), []
                        w(b"250 OK\r\n")
                    elif verb == "RCPT":
                        rcpt.append(cmd.split(":", 1)[1].strip())
                        w(b"250 OK\r\n")
                    elif verb == "DATA":
                        w(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                        body = []
                        while True:
                            ln = self.rfile.readline()
                            if not ln or ln == b".\r\n":
                                break
                            body.append(ln)
                        w(outer._accept(mail, rcpt, b"".join(body)))
                    elif verb in ("RSET", "NOOP"):
                        w(b"250 OK\r\n")
                    elif verb == "QUIT":
                        w(b"221 Bye\r\n")
                        return
                    else:
                        w(b"502 not implemented\r\n")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 256

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def _accept(self, mail, rcpt, body):
        with self.cond:
            self.indata += 1
            self.max_indata = max(self.max_indata, self.indata)
            self.cond.notify_all()
            ok = not self.hold or self.cond.wait_for(lambda: self.max_indata >= self.hold, self.patience)
            self.indata -= 1
            if ok:
                self.messages.append((mail, rcpt, body))
        return b"250 OK queued\r\n" if ok else b"451 late\r\n"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
