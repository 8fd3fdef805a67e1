"""gpm.monkey ssl item: TLS on patched sockets (trustme certificates, real local peers)."""

from tests.monkey.patched import run_patched, lines


def test_https_clients_on_one_p_wait_concurrently():
    out = run_patched("""
        import http.client, gpm
        from tests.monkey.servers import GaugeHTTPServer, tls_pair
        sctx, cctx, ca = tls_pair()
        N = 30
        with GaugeHTTPServer(hold=N, tls=sctx) as srv:
            def get():
                c = http.client.HTTPSConnection("127.0.0.1", srv.port, context=cctx, timeout=30)
                c.request("GET", "/")
                body = c.getresponse().read()
                c.close()
                return body
            def main():
                gs = [gpm.go(get) for _ in range(N)]
                return [g.join() for g in gs]
            res = gpm.run(main, procs=1)
            print("bodies", sorted(set(res)))
            print("max_inflight", srv.max_inflight)
    """, patch="gpm.monkey.patch_socket(); gpm.monkey.patch_ssl(); gpm.monkey.patch_dns()")
    assert lines(out) == {"bodies": "[b'ok']", "max_inflight": "30"}


def test_handshake_sni_peercert_unwrap_timeouts_and_cert_errors():
    out = run_patched("""
        import socket, ssl, gpm
        from tests.monkey.servers import tls_pair
        sctx, cctx, ca = tls_pair()
        names = []
        sctx.sni_callback = lambda sock, name, ctx: names.append(name)
        def main():
            ls = socket.create_server(("127.0.0.1", 0))
            port = ls.getsockname()[1]
            def server():
                raw, _ = ls.accept()
                s = sctx.wrap_socket(raw, server_side=True)
                s.sendall(s.recv(100).upper())
                # unwrap to plaintext and talk again
                plain = s.unwrap()
                plain.sendall(b"clear:" + plain.recv(100))
                plain.close()
            g = gpm.go(server)
            c = cctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
            print("type", isinstance(c, ssl.SSLSocket), type(c) is ssl.SSLContext.sslsocket_class,
                  isinstance(c, socket.socket))
            print("version", c.version() in ("TLSv1.2", "TLSv1.3"))
            print("peer", c.getpeercert()["subjectAltName"][0])
            c.sendall(b"hello")
            print("echo", c.recv(100))
            plain = c.unwrap()
            plain.sendall(b"abc")
            print("plain", plain.recv(100))
            plain.close()
            g.join()
            print("sni", names)
            # a read timeout and a non-blocking read on a TLS socket
            def quiet():
                raw, _ = ls.accept()
                s = sctx.wrap_socket(raw, server_side=True)
                s.recv(1)                 # until the client closes
                s.close()
            g = gpm.go(quiet)
            c = cctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
            c.settimeout(0.05)
            try:
                c.recv(10)
            except TimeoutError as e:
                print("timeout", e)
            c.setblocking(False)
            try:
                c.recv(10)
            except ssl.SSLWantReadError:
                print("wantread", True)
            c.close()
            g.join()
            # a client that does not trust the server's CA
            def bad():
                raw, _ = ls.accept()
                try:
                    sctx.wrap_socket(raw, server_side=True)
                except ssl.SSLError:
                    pass
                raw.close()
            g = gpm.go(bad)
            try:
                ssl.create_default_context().wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                                        server_hostname="localhost")
            except ssl.SSLCertVerificationError:
                print("verify", True)
            g.join()
        gpm.run(main, procs=1)
    """, patch="gpm.monkey.patch_socket(); gpm.monkey.patch_ssl()")
    assert lines(out) == {"type": "True True True", "version": "True", "peer": "('IP Address', '127.0.0.1')",
                          "echo": "b'HELLO'", "plain": "b'clear:abc'", "sni": "['localhost']",
                          "timeout": "The read operation timed out", "wantread": "True", "verify": "True"}
