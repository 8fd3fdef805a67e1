"""gpm.monkey socket and dns items against real loopback peers (each scenario in a fresh,
patched interpreter: patching is process-global)."""

from tests.monkey.patched import run_patched, lines

SOCK = "gpm.monkey.patch_socket(); gpm.monkey.patch_dns(); gpm.monkey.patch_time()"


def test_many_blocking_clients_on_one_p_wait_concurrently():
    # A plain-thread server (patched sockets on a plain thread: the original blocking behaviour)
    # answers nobody until N requests are in flight at once.  With procs=1 that only happens if
    # no goroutine's recv blocks the M; otherwise the server gives up after 10 s and says "late".
    out = run_patched("""
        import socket, threading, gpm
        N = 50
        ls = socket.create_server(("127.0.0.1", 0))
        port = ls.getsockname()[1]
        gauge = threading.Condition()
        inflight = [0, 0]     # now, max
        def handle(c):
            with c:
                c.recv(100)
                with gauge:
                    inflight[0] += 1
                    inflight[1] = max(inflight[1], inflight[0])
                    gauge.notify_all()
                    ok = gauge.wait_for(lambda: inflight[1] >= N, timeout=10)
                c.sendall(b"ok" if ok else b"late")
        def serve():
            for _ in range(N):
                c, _ = ls.accept()
                threading.Thread(target=handle, args=(c,), daemon=True).start()
        threading.Thread(target=serve, daemon=True).start()
        def client():
            s = socket.create_connection(("127.0.0.1", port))
            with s:
                s.sendall(b"req")
                return s.recv(100)
        def main():
            gs = [gpm.go(client) for _ in range(N)]
            return [g.join() for g in gs]
        res = gpm.run(main, procs=1)
        print("answers", sorted(set(res)))
        print("max_inflight", inflight[1])
    """, patch=SOCK)
    assert lines(out) == {"answers": "[b'ok']", "max_inflight": "50"}


def test_timeout_semantics_match_the_original():
    # The same table of settimeout/setblocking inputs on an original and a patched socket,
    # on a plain thread and inside a goroutine.
    out = run_patched("""
        import socket, gpm
        Orig = gpm.monkey.get_original("socket", "socket")
        vals = [None, 0, 0.0, 1, 2.5, 1e-10, 0.1234567891234, True, -1, float("nan"), "x", 10**30, 1j]
        def table(cls):
            rows = []
            for v in vals:
                s = cls()
                try:
                    s.settimeout(v)
                    rows.append((s.gettimeout(), s.timeout, s.getblocking()))
                except Exception as e:
                    rows.append((type(e).__name__, str(e)))
                s.close()
            for flag in (True, False, 0, 1, 2):
                s = cls()
                s.setblocking(flag)
                rows.append((s.gettimeout(), s.getblocking()))
                s.close()
            s = cls(); s.close()
            for op in (lambda: s.settimeout(1), lambda: s.setblocking(True)):
                try:
                    op(); rows.append("no error")
                except OSError as e:
                    rows.append(("closed", e.errno))
            socket.setdefaulttimeout(3.0)
            s = cls(); rows.append(("default", s.gettimeout())); s.close()
            socket.setdefaulttimeout(None)
            return rows
        expected = table(Orig)
        assert socket.socket is not Orig
        print("thread", table(socket.socket) == expected)
        print("goroutine", gpm.run(lambda: table(socket.socket), procs=1) == expected)
    """, patch=SOCK)
    assert lines(out) == {"thread": "True", "goroutine": "True"}


def test_timeouts_nonblocking_and_close_inside_goroutines():
    out = run_patched("""
        import errno, socket, time, gpm
        def main():
            a, b = socket.socketpair()
            a.settimeout(0.05)
            t0 = time.monotonic()
            try:
                a.recv(1)
            except TimeoutError as e:
                print("timeout", type(e).__name__, e, time.monotonic() - t0 >= 0.05)
            a.setblocking(False)
            try:
                a.recv(1)
            except BlockingIOError as e:
                print("nonblocking", e.errno == errno.EAGAIN)
            a.setblocking(True)
            # a goroutine parked in recv is woken by close with EBADF
            res = gpm.Chan(1)
            def reader():
                try:
                    a.recv(1)
                    res.send("data?")
                except OSError as e:
                    res.send(e.errno)
            gpm.go(reader)
            time.sleep(0.02)    # not synchronization: EBADF is the answer whether or not the reader parked yet
            a.close()
            print("closed", res.recv() == errno.EBADF)
            b.close()
            # connect to a closed port: the original's error
            s = socket.socket()
            s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
            try:
                socket.create_connection(("127.0.0.1", port))
            except ConnectionRefusedError:
                print("refused", True)
            c = socket.socket()
            print("connect_ex", c.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED)
            c.close()
            # a thread's timeout on a patched socket
        gpm.run(main, procs=1)
        a, b = socket.socketpair()
        a.settimeout(0.05)
        try:
            a.recv(1)
        except TimeoutError as e:
            print("thread_timeout", e)
    """, patch=SOCK)
    assert lines(out) == {"timeout": "TimeoutError timed out True", "nonblocking": "True",
                          "closed": "True", "refused": "True", "connect_ex": "True",
                          "thread_timeout": "timed out"}


def test_accept_udp_makefile_sendfile_dup_and_big_sendall():
    out = run_patched("""
        import os, socket, tempfile, gpm
        def main():
            # several goroutines blocked in accept on one listening socket (threads may do it too)
            ls = socket.create_server(("127.0.0.1", 0))
            port = ls.getsockname()[1]
            got = gpm.Chan(3)
            def acceptor(i):
                c, _ = ls.accept()
                got.send(c.recv(10))
                c.close()
            for i in range(3):
                gpm.go(acceptor, i)
            gpm.sleep(0.02)
            for i in range(3):
                c = socket.create_connection(("localhost", port))
                c.sendall(b"c%d" % i); c.close()
            print("accepts", sorted(got.recv() for _ in range(3)))
            # UDP
            u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u1.bind(("127.0.0.1", 0))
            u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u2.bind(("127.0.0.1", 0))
            def udp_echo():
                data, addr = u1.recvfrom(100)
                u1.sendto(data.upper(), addr)
            gpm.go(udp_echo)
            gpm.sleep(0.01)
            u2.sendto(b"dgram", u1.getsockname())
            buf = bytearray(100)
            n, addr = u2.recvfrom_into(buf)
            print("udp", bytes(buf[:n]), addr == u1.getsockname())
            # makefile, dup, socketpair types
            a, b = socket.socketpair()
            print("types", type(a) is socket.socket, type(a.dup()) is socket.socket)
            def writer():
                f = b.makefile("wb")
                f.write(b"line one\\nline two\\n"); f.flush(); f.close()
            gpm.go(writer)
            rf = a.makefile("rb")
            print("makefile", rf.readline(), rf.readline())
            rf.close()
            # a big sendall against a reader on the same P (the writer parks on a full buffer)
            big = os.urandom(4 << 20)
            def reader():
                chunks, n = [], 0
                while n < len(big):
                    c = a.recv(1 << 16)
                    chunks.append(c); n += len(c)
                return b"".join(chunks)
            g = gpm.go(reader)
            b.sendall(big)
            print("sendall", g.join() == big)
            # sendfile (os.sendfile on the netpoller)
            with tempfile.TemporaryFile() as f:
                f.write(big[:1 << 20]); f.flush(); f.seek(0)
                g = gpm.go(lambda: b"".join(iter(lambda: a.recv(1 << 16), b"")))
                sent = b.sendfile(f)
                b.close()
                print("sendfile", sent == 1 << 20, g.join() == big[:1 << 20])
            a.close()
        gpm.run(main, procs=1)
    """, patch=SOCK)
    assert lines(out) == {"accepts": "[b'c0', b'c1', b'c2']", "udp": "b'DGRAM' True",
                          "types": "True True", "makefile": "b'line one\\n' b'line two\\n'",
                          "sendall": "True", "sendfile": "True True"}


def test_threads_and_goroutines_share_a_socket_and_plain_threads_behave():
    out = run_patched("""
        import socket, threading, gpm
        # no runtime: a plain-thread ping-pong over patched blocking sockets
        a, b = socket.socketpair()
        def echo():
            for _ in range(200):
                b.sendall(b.recv(10))
        t = threading.Thread(target=echo); t.start()
        ok = all((a.sendall(b"%d" % i), a.recv(10))[1] == b"%d" % i for i in range(200))
        t.join()
        print("threads", ok)
        # a goroutine reads what a plain thread writes on the same socket, and back
        def main():
            def th():
                for i in range(100):
                    b.sendall(b"x%03d" % i)
                    assert b.recv(4) == b"y%03d" % i
            t = threading.Thread(target=th); t.start()
            for i in range(100):
                assert a.recv(4) == b"x%03d" % i
                a.sendall(b"y%03d" % i)
            t.join()
            return True
        print("mixed", gpm.run(main, procs=1))
    """, patch=SOCK)
    assert lines(out) == {"threads": "True", "mixed": "True"}


def test_dns_runs_in_the_syscall_pool_inside_goroutines():
    out = run_patched("""
        import socket, threading, gpm
        orig = gpm.monkey.get_original("socket", "getaddrinfo")
        seen = []
        def spy(*a, **k):
            seen.append(threading.current_thread().name)
            return orig(*a, **k)
        # spy under the patched wrapper, so we can see which thread ran the lookup
        import gpm.monkey._dns as d
        socket.getaddrinfo = d._wrap(spy, d._fast_getaddrinfo)
        def main():
            r1 = socket.getaddrinfo("localhost", 80, socket.AF_INET, socket.SOCK_STREAM)
            r2 = socket.getaddrinfo("127.0.0.1", 80, socket.AF_INET, socket.SOCK_STREAM)
            print("same", r1 == r2)
            print("byname", socket.gethostbyname("localhost"), socket.gethostbyname("127.0.0.1"))
            print("nameinfo", socket.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV))
            print("fqdn", isinstance(socket.getfqdn("127.0.0.1"), str))
        gpm.run(main, procs=1)
        print("threads", seen[0].startswith("gpm-syscall-"), seen[1].startswith("gpm-M"))
        print("patched", gpm.monkey.is_patched("dns"))
    """, patch="gpm.monkey.patch_socket(); gpm.monkey.patch_dns()")
    assert lines(out) == {"same": "True", "byname": "127.0.0.1 127.0.0.1", "nameinfo": "('127.0.0.1', '80')",
                          "fqdn": "True", "threads": "True True", "patched": "True"}


def test_socket_collected_without_close_does_not_poison_its_fd_number():
    # A patched socket that parked once (its PollDesc is in the netpoller's fd table) and is
    # then dropped without close: the finalizer closes the fd, the next socket gets the same
    # number and must be able to park on it (the table recognises the dead owner).
    out = run_patched("""
        import gc, socket, gpm
        def main():
            a, b = socket.socketpair()
            g = gpm.go(a.recv, 1)
            gpm.sleep(0.01)
            b.send(b"x"); g.join()
            fd = a.fileno()
            del a, g
            gc.collect()
            c, d = socket.socketpair()
            same = fd in (c.fileno(), d.fileno())
            r = c if c.fileno() == fd else d
            w = d if r is c else c
            g = gpm.go(r.recv, 1)
            gpm.sleep(0.01)
            w.send(b"y")
            return same, g.join()
        print("reuse", gpm.run(main, procs=1))
    """, patch="gpm.monkey.patch_socket()")
    assert lines(out) == {"reuse": "(True, b'y')"}


def test_fd_closed_behind_a_patched_sockets_back_and_reused():
    # A patched socket that parked once (its PollDesc is in the netpoller's fd table) has its fd
    # closed behind its back (os.close: a C library, a wrong fd); the kernel hands the number to
    # a new socket, which must park on it.  The FdWaiter comes from netpoll.pollopen (gpm.net's
    # one registration path), which replaces the stale entry; a PollDesc made directly found the
    # old owner alive (its fileno() still says the number) and raised RuntimeError.
    out = run_patched("""
        import os, socket, gpm
        def main():
            a, b = socket.socketpair()
            a.settimeout(0.01)
            try:
                a.recv(1)
            except TimeoutError:
                pass
            fd = a.fileno()
            os.close(fd)
            c, d = socket.socketpair()
            r = c if c.fileno() == fd else d
            w = d if r is c else c
            g = gpm.go(r.recv, 1)
            for _ in range(1000):        # until the reader parks (any schedule order)
                if r._gw is not None:
                    break
                gpm.gosched()
            parked = r._gw is not None
            w.send(b"y")
            res = g.join()
            a.detach()
            return fd in (c.fileno(), d.fileno()), parked, res
        print("reuse", gpm.run(main, procs=1))
    """, patch="gpm.monkey.patch_socket()")
    assert lines(out) == {"reuse": "(True, True, b'y')"}


def test_findings_of_cpythons_test_socket_on_patched_sockets():
    # Each line is a test_socket case that failed on the first version of the patch (run on a
    # plain thread and inside a goroutine): MSG_DONTWAIT never waits, iterables of buffers
    # survive a retry, setblocking/settimeout on a bad fd raise OSError, and a failed lookup
    # keeps no reference to its arguments.
    out = run_patched("""
        import socket, sys, threading, gpm
        def checks():
            r = []
            a, b = socket.socketpair()
            n = 0
            try:
                while n < 100000:
                    a.sendmsg([b"a" * 512], [], socket.MSG_DONTWAIT); n += 1
            except BlockingIOError:
                r.append("sendmsg-dontwait")
            try:
                b.recv(1 << 20); b.recv(1 << 20, socket.MSG_DONTWAIT); b.recv(1, socket.MSG_DONTWAIT)
            except BlockingIOError:
                r.append("recv-dontwait")
            def later():
                a2.sendall(b"xyz")
            a2, b2 = socket.socketpair()
            t = threading.Timer(0.05, later); t.start()
            buf = bytearray(3)
            nbytes = b2.recvmsg_into((x for x in [buf]))[0]     # a generator, consumed once per try
            t.join()
            r.append(("recvmsg_into", nbytes, bytes(buf)))
            s0 = socket.socket(); s = socket.socket(fileno=s0.fileno()); s0.close()
            for op in (lambda: s.setblocking(False), lambda: s.settimeout(1)):
                try:
                    op()
                except OSError:
                    r.append("badfd")
            s.detach()
            name = "a-name-nobody-else-holds-" + str(id(r))
            before = sys.getrefcount(name)
            try:
                socket.getnameinfo(name, 0)
            except TypeError:
                r.append(("refs", sys.getrefcount(name) - before))
            for x in (a, b, a2, b2):
                x.close()
            return r
        expected = ["sendmsg-dontwait", "recv-dontwait", ("recvmsg_into", 3, b"xyz"), "badfd", "badfd",
                    ("refs", 0)]
        got = checks()
        print("thread", got == expected or got)
        got = gpm.run(checks, procs=1)
        print("goroutine", got == expected or got)
    """, patch="gpm.monkey.patch_socket(); gpm.monkey.patch_dns()")
    assert lines(out) == {"thread": "True", "goroutine": "True"}
