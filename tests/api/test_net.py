"""gpm.net against API.md: echo, many connections, deadlines, close, half-close,
reset, unix and IPv6 sockets, wait_read/wait_write, plain threads, fd leaks.

Loopback only; every loop is bounded in count and time.
"""

import os
import random
import resource
import socket
import struct
import threading
import time

import pytest
from hypothesis import given, settings, HealthCheck, strategies as st

import gpm
import gpm.net as net
from tests.support import fd_table, internal_g, nfds, wait_io


def echo_server(ln):
    """Accept until closed; echo each conn in its own goroutine; wait for them all."""
    wg = gpm.sync.WaitGroup()

    def handle(c):
        with c:
            while True:
                b = c.read()
                if not b:
                    return
                c.write(b)
    while True:
        try:
            c = ln.accept()
        except net.ClosedError:
            break
        wg.go(handle, c)
    wg.wait()


def hostport(addr):
    host, port = addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@pytest.mark.parametrize("procs", [1, 4])
def test_echo_round_trips(procs, fdcheck):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        srv = gpm.go(echo_server, ln)
        results = gpm.Chan(10)

        def client(i):
            with net.dial("tcp", hostport(ln.addr)) as c:
                assert c.remote_addr == ln.addr
                for k in range(50):
                    msg = f"{i}:{k}:".encode() * 3
                    assert c.write(msg) == len(msg)
                    assert c.read_exactly(len(msg)) == msg
            results.send(i)
        for i in range(10):
            gpm.go(client, i)
        got = sorted(results.recv() for _ in range(10))
        ln.close()
        srv.join()
        return got
    assert gpm.run(main, procs=procs) == list(range(10))


def _raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        if target < need:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return soft, hard


NCONN = 1000


@settings(max_examples=2, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 4096), min_size=16, max_size=16))
@pytest.mark.timeout(60)
def test_thousand_concurrent_connections(sizes):
    """1,000 connections open at once, each sending checked payloads of random sizes."""
    before = nfds()
    table = fd_table()
    saved = _raise_nofile(2 * NCONN + 200)

    def main():
        ln = net.listen("tcp", "127.0.0.1:0", backlog=NCONN)
        srv = gpm.go(echo_server, ln)
        wg = gpm.sync.WaitGroup()
        ready = gpm.sync.WaitGroup()
        ready.add(NCONN)
        start = gpm.Chan()
        errors = []

        def client(i):
            try:
                c = net.dial("tcp", hostport(ln.addr))
            finally:
                ready.done()
            with c:
                start.recv()                     # every connection is open before any sends
                c.set_deadline(time.monotonic() + 30)
                for k in range(3):
                    n = sizes[(i + k) % len(sizes)]
                    payload = struct.pack(">II", i, k) + bytes((i + k + j) & 0xFF for j in range(n))
                    c.write(payload)
                    back = c.read_exactly(len(payload))
                    if back != payload:
                        errors.append((i, k))
        for i in range(NCONN):
            wg.go(client, i)
        ready.wait()
        start.close()
        wg.wait()
        ln.close()
        srv.join()
        return errors
    try:
        assert gpm.run(main, procs=2) == []
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, saved)
    # Failed once (2026-12-02, full suite, randomize=1, procs=1, the first hypothesis example
    # only: 15 fds after, 14 before): name the extra ones when it happens again.
    after = fd_table()
    assert nfds() == before, {fd: after[fd] for fd in after.keys() - table.keys()}


def test_read_deadline(procs, fdcheck):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        c = net.dial("tcp", hostport(ln.addr))
        s = ln.accept()
        t0 = time.monotonic()
        c.set_read_deadline(t0 + 0.05)
        with pytest.raises(net.Timeout):
            c.read()
        assert time.monotonic() - t0 >= 0.05
        with pytest.raises(TimeoutError):          # still past: fails at once
            c.read()
        c.set_read_deadline(None)                  # cleared: data flows again
        s.write(b"hi")
        assert c.read() == b"hi"
        for x in (c, s, ln):
            x.close()
    gpm.run(main, procs=procs)


def test_deadline_moved_while_waiting(procs, fdcheck):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        c = net.dial("tcp", hostport(ln.addr))
        s = ln.accept()
        # 1. extended while a read waits: the old deadline passes harmlessly.
        # (Both are set once the read waits: a deadline set before the read
        # began could pass first on a loaded machine, flake seen at procs=4.)
        h = gpm.go(c.read)
        wait_io(h)
        c.set_read_deadline(time.monotonic() + 0.1)
        c.set_read_deadline(time.monotonic() + 30)
        gpm.sleep(0.25)                            # well past the old deadline
        assert not h.done()
        s.write(b"late")
        assert h.join() == b"late"
        # 2. moved into the past while a read waits: the reader times out now.
        c.set_read_deadline(None)
        box = []

        def reader():
            try:
                c.read()
            except net.Timeout as e:
                box.append(e)
        h = gpm.go(reader)
        wait_io(h)
        c.set_read_deadline(time.monotonic() - 1)
        h.join()
        assert len(box) == 1
        for x in (c, s, ln):
            x.close()
    gpm.run(main, procs=procs)


def test_write_deadline(fdcheck):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        c = net.dial("tcp", hostport(ln.addr))
        s = ln.accept()
        c.set_write_deadline(time.monotonic() + 0.1)
        chunk = b"x" * 65536
        with pytest.raises(net.Timeout):
            for _ in range(10000):                 # the peer never reads: buffers fill up
                c.write(chunk)
        for x in (c, s, ln):
            x.close()
    gpm.run(main, procs=2)


def test_close_wakes_blocked_reader_and_accept(procs, fdcheck):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        c = net.dial("tcp", hostport(ln.addr))
        s = ln.accept()
        errs = gpm.Chan(2)

        def blocked(fn):
            try:
                fn()
            except net.ClosedError as e:
                errs.send(e)
        h1 = gpm.go(blocked, c.read)
        h2 = gpm.go(blocked, ln.accept)
        wait_io(h1)
        wait_io(h2)
        c.close()
        ln.close()
        e1, e2 = errs.recv(), errs.recv()
        assert isinstance(e1, net.ClosedError) and isinstance(e2, net.ClosedError)
        with pytest.raises(net.ClosedError):
            c.read()
        with pytest.raises(net.ClosedError):
            c.write(b"x")
        c.close()                                   # idempotent
        assert s.read() == b""                      # the peer sees EOF
        s.close()
    gpm.run(main, procs=procs)


def test_half_close(fdcheck):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")

        def server():
            with ln.accept() as s:
                data = b""
                while True:
                    b = s.read()
                    if not b:
                        break
                    data += b
                s.write(data[::-1])
        h = gpm.go(server)
        with net.dial("tcp", hostport(ln.addr)) as c:
            c.write(b"abcdef")
            c.close_write()
            assert c.read_exactly(6) == b"fedcba"
            assert c.read() == b""
        h.join()
        ln.close()
    gpm.run(main, procs=2)


def test_peer_reset_and_eof(fdcheck):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        c = net.dial("tcp", hostport(ln.addr))
        s = ln.accept()
        # EOF: an orderly close reads b"".
        c2 = net.dial("tcp", hostport(ln.addr))
        s2 = ln.accept()
        s2.close()
        assert c2.read() == b""
        c2.close()
        # RST: the peer closes with SO_LINGER 0 while we wait in read.
        box = gpm.Chan(1)

        def reader():
            try:
                box.send(c.read())
            except ConnectionResetError as e:
                box.send(e)
        h = gpm.go(reader)
        wait_io(h)
        s._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        assert isinstance(box.recv(), ConnectionResetError)
        c.close()
        ln.close()
    gpm.run(main, procs=1)


def test_dial_refused_and_bad_addresses(fdcheck):
    def main():
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        with pytest.raises(ConnectionRefusedError):
            net.dial("tcp", f"127.0.0.1:{port}")
        with pytest.raises(ValueError):
            net.dial("udp", "127.0.0.1:1")
        with pytest.raises(ValueError):
            net.listen("tcp", "127.0.0.1")
    gpm.run(main, procs=1)


def test_dial_by_name_resolves_through_syscall(fdcheck):
    def main():
        with net.listen("tcp4", "127.0.0.1:0") as ln:
            h = gpm.go(ln.accept)
            with net.dial("tcp4", f"localhost:{ln.addr[1]}", timeout=10) as c:
                with h.join() as s:
                    c.write(b"ok")
                    assert s.read_exactly(2) == b"ok"
    gpm.run(main, procs=2)


def test_unix_sockets(tmp_path, procs, fdcheck):
    path = str(tmp_path / "echo.sock")

    def main():
        ln = net.listen("unix", path)
        assert ln.addr == path
        srv = gpm.go(echo_server, ln)
        with net.dial("unix", path) as c:
            for n in (1, 100, 100000):
                msg = bytes(random.Random(n).randbytes(n))
                c.write(msg)
                assert c.read_exactly(n) == msg
        ln.close()
        srv.join()
    gpm.run(main, procs=procs)
    assert not os.path.exists(path)


def _has_ipv6():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback")
def test_ipv6_loopback(fdcheck):
    def main():
        ln = net.listen("tcp6", "[::1]:0")
        assert ln.addr[0] == "::1"
        srv = gpm.go(echo_server, ln)
        with net.dial("tcp6", hostport(ln.addr)) as c:
            assert c.remote_addr == ln.addr
            c.write(b"six")
            assert c.read_exactly(3) == b"six"
        ln.close()
        srv.join()
    gpm.run(main, procs=2)


def test_wait_read_write_on_foreign_fds(procs, fdcheck):
    def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        try:
            net.wait_write(a)                      # an empty socket buffer is writable
            h = gpm.go(net.wait_read, b.fileno())
            wait_io(h)
            a.send(b"z")
            h.join()
            assert b.recv(1) == b"z"
            with pytest.raises(net.Timeout):
                net.wait_read(b, deadline=time.monotonic() + 0.02)
        finally:
            a.close()
            b.close()
    gpm.run(main, procs=procs)


def test_two_readers_on_one_conn_is_an_error(fdcheck):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        c = net.dial("tcp", hostport(ln.addr))
        s = ln.accept()
        h = gpm.go(c.read)
        wait_io(h)
        with pytest.raises(RuntimeError):
            c.read()
        s.write(b"1")
        assert h.join() == b"1"
        for x in (c, s, ln):
            x.close()
    gpm.run(main, procs=1)


def test_plain_thread_client_blocks_its_thread(fdcheck):
    """A plain thread may use gpm.net: it blocks its OS thread, goroutines serve it."""
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        srv = gpm.go(echo_server, ln)
        out = []
        done = gpm.Chan(1)

        def plain():
            with net.dial("tcp", hostport(ln.addr)) as c:
                for i in range(20):
                    c.write(b"%d" % i)
                    out.append(c.read_exactly(len(b"%d" % i)))
            done.send(True)
        t = threading.Thread(target=plain)
        t.start()
        done.recv()
        t.join()
        ln.close()
        srv.join()
        return out
    assert gpm.run(main, procs=2) == [b"%d" % i for i in range(20)]


def test_netpoll_waiter_is_not_a_deadlock(fdcheck):
    """checkdead counts netpoll waiters: a goroutine waiting on a socket keeps the run alive."""
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        c = net.dial("tcp", hostport(ln.addr))
        s = ln.accept()

        def writer():
            s.write(b"w")                          # runs on a plain thread via a timer-free path
        c.set_read_deadline(time.monotonic() + 0.1)
        with pytest.raises(net.Timeout):
            c.read()                               # all Ps idle, one netpoll waiter, one timer
        c.set_read_deadline(None)
        th = threading.Thread(target=writer)
        th.start()
        assert c.read() == b"w"
        th.join()
        for x in (c, s, ln):
            x.close()
    gpm.run(main, procs=2)


@pytest.mark.parametrize("rounds", [50])
def test_data_and_fin_in_one_edge(rounds, fdcheck):
    """Regression: the reader parks, then the peer's data and FIN arrive in one
    edge.  The wake consumes that edge; the first read is short; the second
    must still see EOF (no new edge will ever come for it).  Conn.read skips a
    recv after a short read only while no HUP was seen."""
    def main():
        for _ in range(rounds):
            with net.listen("tcp", "127.0.0.1:0") as ln:
                got = gpm.Chan(1)

                def server():
                    with ln.accept() as s:
                        data = b""
                        while b := s.read():
                            data += b
                        got.send(data)  # noqa: B023  (each round's server ends before the next)

                gpm.go(server)
                with net.dial("tcp", hostport(ln.addr)) as c:
                    gpm.gosched()            # procs=1: the server accepts and parks in read
                    c.write(b"abcdef")       # data and FIN before the server runs again
                    c.close_write()
                    assert got.recv() == b"abcdef"
    gpm.run(main, procs=1)


# -- issue 8 regressions ------------------------------------------------------

def _short_read_pair(ln):
    """A connected (client, server) pair whose client has parked in a read
    and then made a short read (so it believes its socket is drained)."""
    c = net.dial("tcp", hostport(ln.addr))
    s = ln.accept()
    h = gpm.go(c.read, 100)
    wait_io(h)                                     # c's fd is registered with the poller
    s.write(b"ab")
    assert h.join() == b"ab"                       # short: the socket is empty now
    return c, s


def test_read_after_timeout_that_lost_its_edge_sees_pending_data(fdcheck, monkeypatch):
    """Regression (issue 8.1): a read parked after a short read is woken by an
    edge, but its deadline passed while it waited for its P, so it raises
    Timeout before recv.  The next read must still find the bytes (the edge
    that announced them was consumed; edge-triggered epoll sends no other).

    interleaving (procs=1):
      reader: short read, then parks with a deadline D
      main:   peer writes "cd"; holds the P past D while sysmon's netpoll
              readies the reader (its deadline timer is deleted)
      reader: runs, sees D passed -> Timeout (no recv)
      main:   read again -> must return b"cd", not park forever
    """
    # main holds the P with a CPU loop on purpose: no preemption (3.12+).
    monkeypatch.setenv("GPM_DEBUG", os.environ.get("GPM_DEBUG", "") + ",asyncpreemptoff=1")

    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            c, s = _short_read_pair(ln)
            deadline = time.monotonic() + 0.05
            c.set_read_deadline(deadline)
            out = gpm.Chan(1)

            def reader():
                try:
                    out.send(c.read())
                except net.Timeout as e:
                    out.send(e)
            h = gpm.go(reader)
            wait_io(h)
            s.write(b"cd")
            limit = time.monotonic() + 10
            # Hold the P (no gpm call) until the deadline passed and sysmon's
            # netpoll has readied the reader through the edge.
            while internal_g(h).status == 4 or time.monotonic() <= deadline:
                assert time.monotonic() < limit, "sysmon never readied the reader"
            assert isinstance(out.recv(), net.Timeout)
            c.set_read_deadline(time.monotonic() + 2)
            got = c.read()
            for x in (c, s):
                x.close()
            return got
    assert gpm.run(main, procs=1) == b"cd"


def test_read_of_a_huge_n_after_a_short_read(fdcheck):
    """Regression (issue 8.1): read(2**63) after a short read parked first and
    then failed in recv (OverflowError), leaving the conn believing it was
    drained; the next read parked forever with bytes pending.  A huge n is
    now capped (read returns up to n bytes)."""
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            c, s = _short_read_pair(ln)
            s.write(b"cd")
            c.set_read_deadline(time.monotonic() + 2)
            got = [c.read(2 ** 63)]
            s.write(b"ef")
            got.append(c.read())
            for x in (c, s):
                x.close()
            return got
    assert gpm.run(main, procs=1) == [b"cd", b"ef"]


def test_read_size_is_validated_before_any_effect(fdcheck):
    """Regression (issue 8.11): read(0) returned b"" (which means EOF); bad
    sizes are rejected, naming the parameter, and the conn stays usable."""
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            c = net.dial("tcp", hostport(ln.addr))
            s = ln.accept()
            for bad, exc in ((0, ValueError), (-1, ValueError), ("1", TypeError), (1.0, TypeError),
                             (True, TypeError)):
                with pytest.raises(exc, match="read size n"):
                    c.read(bad)
            assert c.read_exactly(0) == b""
            s.write(b"ok")
            assert c.read_exactly(2) == b"ok"
            for x in (c, s):
                x.close()
    gpm.run(main, procs=1)


def _fill(sock):
    """Fill ``sock``'s send buffer (non-blocking) so it is not writable."""
    n = 0
    try:
        while True:
            n += sock.send(b"x" * 65536)
    except BlockingIOError:
        return n


def _drain(sock):
    n = 0
    try:
        while b := sock.recv(1 << 20):
            n += len(b)
    except BlockingIOError:
        pass
    return n


def test_wait_read_and_wait_write_on_one_fd_at_once(procs, fdcheck):
    """Regression (issue 8.2): the second registration of one fd raised
    FileExistsError and its cleanup dropped the first waiter's registration.
    Both waits share the fd's one PollDesc (reader slot, writer slot)."""
    def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        try:
            sent = _fill(b)
            d = time.monotonic() + 10             # a lost wake-up fails as Timeout, not a hang
            hr = gpm.go(net.wait_read, b, d)
            hw = gpm.go(net.wait_write, b, d)
            wait_io(hr)
            wait_io(hw)
            a.send(b"r")
            hr.join()
            assert not hw.done()
            got = 0
            while got < sent:                     # make room: b becomes writable
                got += _drain(a)
                gpm.sleep(0.001)
            hw.join()
            assert b.recv(1) == b"r"
            # Neither wait left the fd registered: a third wait works as a first.
            a.send(b"s")
            net.wait_read(b, time.monotonic() + 10)
            assert b.recv(1) == b"s"
        finally:
            a.close()
            b.close()
    gpm.run(main, procs=procs)


def test_wait_read_on_a_conns_own_fd(procs, fdcheck):
    """Regression (issue 8.2): wait_read(conn.fileno()) raised FileExistsError
    and unregistered the conn's fd, whose later reads then parked forever.  It
    now waits on the conn's own PollDesc; the edge it consumes does not make
    the conn believe it is drained."""
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            c, s = _short_read_pair(ln)           # c registered and "drained"
            c.set_read_deadline(time.monotonic() + 10)   # a lost wake-up fails, not hangs
            h = gpm.go(net.wait_read, c.fileno(), time.monotonic() + 10)
            wait_io(h)
            s.write(b"cd")
            h.join()
            assert c.read() == b"cd"              # the edge went to wait_read: recv anyway
            h = gpm.go(c.read)                    # the conn's registration survived
            wait_io(h)
            s.write(b"ef")
            assert h.join() == b"ef"
            for x in (c, s):
                x.close()
    gpm.run(main, procs=procs)


def test_two_waiters_on_one_side_of_an_fd_is_an_error(fdcheck):
    """Regression (issue 8.2): a second reader of one fd is a clear error, not
    a silent overwrite, and the first waiter keeps its registration."""
    def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        with net.listen("tcp", "127.0.0.1:0") as ln:
            c = net.dial("tcp", hostport(ln.addr))
            s = ln.accept()
            try:
                h = gpm.go(net.wait_read, b, time.monotonic() + 10)
                wait_io(h)
                with pytest.raises(RuntimeError, match="already has a goroutine waiting to read"):
                    net.wait_read(b.fileno())
                a.send(b"z")
                h.join()
                # The same between a conn's read and a wait_read of its fd.
                c.set_read_deadline(time.monotonic() + 10)
                h = gpm.go(c.read)
                wait_io(h)
                with pytest.raises(RuntimeError, match="already has a goroutine waiting to read"):
                    net.wait_read(c)
                s.write(b"y")
                assert h.join() == b"y"
            finally:
                for x in (a, b, c, s):
                    x.close()
    gpm.run(main, procs=1)


def test_write_timeout_reports_bytes_written(fdcheck):
    """Regression (issue 8.11): a write that times out said nothing of what it
    sent; the exception now carries ``written`` (Go's n), and the peer gets
    exactly that many bytes."""
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            c = net.dial("tcp", hostport(ln.addr))
            s = ln.accept()
            data = bytes(range(256)) * (32 << 12)          # 32 MiB: more than both buffers hold
            c.set_write_deadline(time.monotonic() + 0.2)
            with pytest.raises(net.Timeout) as ei:
                c.write(data)
            n = ei.value.written
            assert 0 < n < len(data)
            assert s.read_exactly(n) == data[:n]
            s.set_read_deadline(time.monotonic() + 0.05)
            with pytest.raises(net.Timeout):
                s.read()                                  # nothing beyond what was reported
            c.close()
            with pytest.raises(net.ClosedError) as ei:
                c.write(b"x")
            assert ei.value.written == 0
            s.close()
    gpm.run(main, procs=2)


def test_closed_conn_and_listener_refuse_fileno_and_deadlines(fdcheck):
    """Regression (issue 8.11): fileno() after close returned the stale fd (a
    number the OS may reuse) and set_deadline after close succeeded."""
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        c = net.dial("tcp", hostport(ln.addr))
        s = ln.accept()
        assert c.fileno() >= 0 and ln.fileno() >= 0
        for x in (c, s, ln):
            x.close()
        for fn in (c.fileno, ln.fileno, lambda: c.set_deadline(None),
                   lambda: c.set_read_deadline(time.monotonic() + 1),
                   lambda: c.set_write_deadline(None)):
            with pytest.raises(net.ClosedError):
                fn()
    gpm.run(main, procs=1)


def test_durations_are_validated_alike(fdcheck):
    """Regression (issue 8.11): dial(timeout=nan) meant no timeout while
    set_deadline(nan) raised.  One validator: NaN ValueError, bool/str
    TypeError, naming the parameter, before any side effect."""
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            addr = hostport(ln.addr)
            for bad, exc in ((float("nan"), ValueError), ("1", TypeError), (True, TypeError)):
                with pytest.raises(exc, match="dial: timeout"):
                    net.dial("tcp", addr, timeout=bad)
            c = net.dial("tcp", addr, timeout=float("inf"))
            s = ln.accept()
            for bad, exc in ((float("nan"), ValueError), ("1", TypeError), (False, TypeError)):
                with pytest.raises(exc, match="set_deadline: t"):
                    c.set_deadline(bad)
                with pytest.raises(exc, match="set_read_deadline: t"):
                    c.set_read_deadline(bad)
                with pytest.raises(exc, match="wait_read: deadline"):
                    net.wait_read(c, bad)
            s.write(b"still usable")
            assert c.read_exactly(12) == b"still usable"
            for x in (c, s):
                x.close()
    gpm.run(main, procs=1)
