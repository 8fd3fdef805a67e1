"""TLS in gpm.net (API.md v2) against real peers: gpm client vs gpm server,
gpm client vs a stdlib ssl server on a plain thread, stdlib client vs gpm
server; accept never waits for a handshake; bad certificates; SNI;
close_notify and EOF; large transfers both ways; deadlines during the
handshake.  Certificates from trustme (tests/certs.py: openssl where trustme is missing);
loopback only; every loop bounded.
"""

import hashlib
import socket
import ssl
import threading
import time

import pytest

import gpm
import gpm.net as net
from tests import certs
from tests.support import wait_io

PEER_TIMEOUT = 20.0      # a stdlib peer thread gives up after this (never reached when green)


@pytest.fixture(scope="module")
def ca():
    return certs.CA()


@pytest.fixture(scope="module")
def server_ctx(ca):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1", "::1").configure_cert(ctx)
    return ctx


@pytest.fixture(scope="module")
def client_ctx(ca):
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def hostport(addr):
    return f"{addr[0]}:{addr[1]}"


def echo(c):
    """Echo until EOF, then close (a close_notify goes out)."""
    with c:
        while b := c.read():
            c.write(b)


def payload(n, seed):
    h = hashlib.sha256(str(seed).encode()).digest()
    return (h * (n // len(h) + 1))[:n]


@pytest.mark.parametrize("procs", [1, 2])
def test_gpm_client_gpm_server(procs, server_ctx, client_ctx, fdcheck):
    def main():
        with net.listen_tls("tcp", "127.0.0.1:0", server_ctx) as ln:
            def serve():
                wg = gpm.sync.WaitGroup()
                while True:
                    try:
                        c = ln.accept()
                    except net.ClosedError:
                        break
                    assert isinstance(c, net.Conn)
                    wg.go(echo, c)
                wg.wait()
            srv = gpm.go(serve)
            out = gpm.Chan(8)

            def client(i):
                with net.dial_tls("tcp", hostport(ln.addr), client_ctx) as c:
                    assert isinstance(c, net.Conn)
                    assert c.version() in ("TLSv1.2", "TLSv1.3") and c.cipher() is not None
                    assert c.getpeercert()["subjectAltName"]
                    for k in range(20):
                        msg = f"{i}:{k}".encode() * (k + 1)
                        assert c.write(msg) == len(msg)
                        assert c.read_exactly(len(msg)) == msg
                out.send(i)
            for i in range(8):
                gpm.go(client, i)
            got = sorted(out.recv() for _ in range(8))
            ln.close()
            srv.join()
            return got
    assert gpm.run(main, procs=procs) == list(range(8))


def _stdlib_server(ctx, ready, result):
    """A stdlib ssl server on a plain thread: echo until close_notify, then
    send b"bye" and unwrap (its close_notify)."""
    with socket.create_server(("127.0.0.1", 0)) as ls:
        ls.settimeout(PEER_TIMEOUT)
        ready.append(ls.getsockname())
        raw, _ = ls.accept()
        raw.settimeout(PEER_TIMEOUT)
        with ctx.wrap_socket(raw, server_side=True) as s:
            data = b""
            while b := s.recv(65536):
                data += b
                s.sendall(b)
            result.append(data)
            s.sendall(b"bye")
            s.unwrap().close()


@pytest.mark.parametrize("procs", [1, 2])
def test_gpm_client_stdlib_server(procs, server_ctx, client_ctx, fdcheck):
    ready, result = [], []
    t = threading.Thread(target=_stdlib_server, args=(server_ctx, ready, result))
    t.start()

    def main():
        while not ready:                               # bounded by the test timeout
            gpm.sleep(0.001)
        c = net.dial_tls("tcp", hostport(ready[0]), client_ctx, server_hostname="localhost")
        with c:
            for n in (1, 1000, 100000):
                msg = payload(n, n)
                c.write(msg)
                assert c.read_exactly(n) == msg
            c.close_write()                            # close_notify: the server's recv sees EOF
            assert c.read_exactly(3) == b"bye"         # reading still works after close_write
            assert c.read() == b""                     # the server's close_notify
            assert c.read() == b""
            with pytest.raises(BrokenPipeError):
                c.write(b"late")
    gpm.run(main, procs=procs)
    t.join(PEER_TIMEOUT)
    assert result == [payload(1, 1) + payload(1000, 1000) + payload(100000, 100000)]


@pytest.mark.parametrize("procs", [1, 2])
def test_stdlib_client_gpm_server(procs, server_ctx, ca, fdcheck):
    cctx = ssl.create_default_context()
    ca.configure_trust(cctx)

    def main():
        with net.listen_tls("tcp", "127.0.0.1:0", server_ctx) as ln:
            got = []

            def plain_client():
                with socket.create_connection(ln.addr, timeout=PEER_TIMEOUT) as raw:
                    with cctx.wrap_socket(raw, server_hostname="localhost") as s:
                        for n in (5, 70000):
                            msg = payload(n, -n)
                            s.sendall(msg)
                            back = b""
                            while len(back) < n:
                                back += s.recv(65536)
                            got.append(back == msg)
                        s.unwrap()                     # close_notify both ways
            t = threading.Thread(target=plain_client)
            t.start()
            echo(ln.accept())                          # returns at EOF (the client's close_notify)
            t.join(PEER_TIMEOUT)
            return got
    assert gpm.run(main, procs=procs) == [True, True]


@pytest.mark.parametrize("procs", [1, 2])
def test_silent_client_does_not_block_accept(procs, server_ctx, client_ctx, fdcheck):
    """A client that connects and never says a word: accept returns its conn at
    once, its handshake waits in its own goroutine, and a second client is
    served meanwhile."""
    def main():
        with net.listen_tls("tcp", "127.0.0.1:0", server_ctx) as ln:
            silent = net.dial("tcp", hostport(ln.addr))   # plain TCP: no ClientHello ever
            first = ln.accept()                            # returns without a handshake
            errs = gpm.Chan(1)

            def stuck():
                try:
                    first.handshake()
                except (ssl.SSLError, OSError) as e:
                    errs.send(e)
            h = gpm.go(stuck)
            wait_io(h)
            srv = gpm.go(lambda: echo(ln.accept()))
            with net.dial_tls("tcp", hostport(ln.addr), client_ctx, timeout=10) as c:
                c.write(b"second")
                assert c.read_exactly(6) == b"second"
            srv.join()
            assert not h.done()                            # still waiting for the silent one
            silent.close()
            assert isinstance(errs.recv(), (ssl.SSLError, OSError))   # EOF in the handshake
            first.close()
    gpm.run(main, procs=procs)


def test_bad_certificate(server_ctx, client_ctx, fdcheck):
    def main():
        with net.listen_tls("tcp", "127.0.0.1:0", server_ctx) as ln:
            srv_errs = gpm.Chan(3)

            def serve(k):
                for _ in range(k):
                    c = ln.accept()
                    try:
                        c.handshake()
                    except (ssl.SSLError, OSError) as e:
                        srv_errs.send(e)
                    c.close()
            h = gpm.go(serve, 3)
            untrusted = ssl.create_default_context()       # does not trust trustme's CA
            with pytest.raises(ssl.SSLCertVerificationError):
                net.dial_tls("tcp", hostport(ln.addr), untrusted, server_hostname="localhost")
            with pytest.raises(ssl.SSLCertVerificationError, match="[Hh]ostname|match"):
                net.dial_tls("tcp", hostport(ln.addr), client_ctx, server_hostname="other.example")
            # tls_client with a verifying context: the same error on first use, and sticky.
            c = net.tls_client(net.dial("tcp", hostport(ln.addr)), untrusted, "localhost")
            with pytest.raises(ssl.SSLCertVerificationError):
                c.write(b"x")
            with pytest.raises(ssl.SSLCertVerificationError):
                c.read()
            c.close()
            h.join()
            for _ in range(3):
                assert isinstance(srv_errs.recv(), (ssl.SSLError, OSError))   # the client's alert
    gpm.run(main, procs=2)


def test_sni(ca, client_ctx, fdcheck):
    seen = []
    sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(sctx)
    sctx.sni_callback = lambda sslobj, name, ctx: seen.append(name)

    def main():
        with net.listen_tls("tcp", "127.0.0.1:0", sctx) as ln:
            for name in ("localhost", None):
                srv = gpm.go(lambda: echo(ln.accept()))
                with net.dial_tls("tcp", hostport(ln.addr), client_ctx, server_hostname=name or "127.0.0.1") as c:
                    c.write(b"sni")
                    assert c.read_exactly(3) == b"sni"
                srv.join()
    gpm.run(main, procs=1)
    assert seen == ["localhost", None]                    # an IP address sends no SNI


def test_close_notify_and_eof(server_ctx, client_ctx, fdcheck):
    def main():
        with net.listen_tls("tcp", "127.0.0.1:0", server_ctx) as ln:
            def server():
                with ln.accept() as s:
                    data = b""
                    while b := s.read():
                        data += b
                    s.write(data[::-1])                    # after the client's close_write
            h = gpm.go(server)
            with net.dial_tls("tcp", hostport(ln.addr), client_ctx) as c:
                c.write(b"abcdef")
                c.close_write()
                c.close_write()                            # idempotent
                assert c.read_exactly(6) == b"fedcba"
                assert c.read() == b""                     # server's close: close_notify
            h.join()
            # A ragged EOF (TCP FIN, no close_notify) also reads b"".
            def ragged():
                s = ln.accept()
                s.handshake()
                s.write(b"r")
                net.Conn.close(s)                          # the plain close: no close_notify
            h = gpm.go(ragged)
            with net.dial_tls("tcp", hostport(ln.addr), client_ctx) as c:
                assert c.read_exactly(1) == b"r"
                assert c.read() == b""
            h.join()
    gpm.run(main, procs=2)


@pytest.mark.parametrize("procs", [1, 2])
def test_large_transfers_both_ways(procs, server_ctx, client_ctx, fdcheck):
    N = 8 << 20

    def main():
        with net.listen_tls("tcp", "127.0.0.1:0", server_ctx) as ln:
            def server():
                with ln.accept() as s:
                    w = gpm.go(s.write, payload(N, "down"))
                    h = hashlib.sha256()
                    got = 0
                    while got < N:
                        b = s.read()
                        assert b
                        h.update(b)
                        got += len(b)
                    w.join()
                    return h.hexdigest()
            srv = gpm.go(server)
            with net.dial_tls("tcp", hostport(ln.addr), client_ctx) as c:
                c.set_deadline(time.monotonic() + 60)
                w = gpm.go(c.write, payload(N, "up"))      # both directions at once
                down = c.read_exactly(N)
                assert w.join() == N
            assert srv.join() == hashlib.sha256(payload(N, "up")).hexdigest()
            return hashlib.sha256(down).hexdigest()
    assert gpm.run(main, procs=procs) == hashlib.sha256(payload(N, "down")).hexdigest()


def test_deadlines_apply_to_handshakes(server_ctx, client_ctx, fdcheck):
    def main():
        # Client side: dial_tls's timeout covers the handshake with a mute server.
        with net.listen("tcp", "127.0.0.1:0") as plain:
            t0 = time.monotonic()
            with pytest.raises(net.Timeout):
                net.dial_tls("tcp", hostport(plain.addr), client_ctx, timeout=0.2)
            assert time.monotonic() - t0 >= 0.2
            plain.accept().close()
        # Server side: a deadline set before the handshake bounds it, and the
        # failure is sticky (Go: the handshake error is kept).
        with net.listen_tls("tcp", "127.0.0.1:0", server_ctx) as ln:
            mute = net.dial("tcp", hostport(ln.addr))
            s = ln.accept()
            s.set_deadline(time.monotonic() + 0.1)
            with pytest.raises(net.Timeout):
                s.read()
            s.set_deadline(None)
            with pytest.raises(net.Timeout):
                s.handshake()
            # A deadline moved while the handshake waits applies to it.
            s2c = net.dial("tcp", hostport(ln.addr))
            s2 = ln.accept()
            def hs():
                try:
                    s2.handshake()
                except net.Timeout as e:
                    return e
            h = gpm.go(hs)
            wait_io(h)
            s2.set_read_deadline(time.monotonic() - 1)
            assert isinstance(h.join(), net.Timeout)
            for x in (mute, s, s2c, s2):
                x.close()
    gpm.run(main, procs=1)


def test_wrapping_existing_conns_and_bad_input(server_ctx, client_ctx, fdcheck):
    """tls_client/tls_server upgrade a plain conn in mid-stream (STARTTLS);
    bad arguments raise before anything happens on the wire."""
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            def server():
                with ln.accept() as p:
                    assert p.read_exactly(8) == b"STARTTLS"
                    p.write(b"OK")
                    echo(net.tls_server(p, server_ctx))
            h = gpm.go(server)
            p = net.dial("tcp", hostport(ln.addr))
            p.write(b"STARTTLS")
            assert p.read_exactly(2) == b"OK"
            with pytest.raises(TypeError, match="server_hostname"):
                net.tls_client(p, client_ctx, server_hostname=b"localhost")
            with pytest.raises(TypeError, match="context"):
                net.tls_client(p, "not a context")
            with pytest.raises(ValueError):
                net.tls_client(p, client_ctx)          # check_hostname needs server_hostname
            c = net.tls_client(p, client_ctx, "localhost")
            assert c.version() is None                 # no handshake yet
            c.handshake()
            c.handshake()                              # once
            assert c.version() is not None
            c.write(b"secret")
            assert c.read_exactly(6) == b"secret"
            with pytest.raises(TypeError, match="plain gpm.net.Conn"):
                net.tls_client(c, client_ctx, "localhost")
            c.close()
            h.join()
            with pytest.raises(net.ClosedError):
                net.tls_server(p, server_ctx)          # the plain conn under the closed TLS one
            with pytest.raises(ValueError):
                c.read(0)
        with pytest.raises(TypeError, match="context"):
            net.listen_tls("tcp", "127.0.0.1:0", None)
        with pytest.raises(ValueError, match="timeout"):
            net.dial_tls("tcp", "127.0.0.1:1", client_ctx, timeout=float("nan"))
    gpm.run(main, procs=2)
