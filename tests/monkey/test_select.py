"""gpm.monkey select item: select/poll/epoll/selectors park inside goroutines."""

from tests.monkey.patched import run_patched, lines

MINE = ("gpm.monkey.patch_socket(); gpm.monkey.patch_select(); gpm.monkey.patch_time(); "
        "gpm.monkey.patch_dns()")


def test_each_waiting_api_parks_on_one_p():
    # procs=1: for each API, 20 goroutines wait at once on their own socketpair; only when all
    # 20 are parked does a goroutine (same P) write to every pair.  A call that blocked the M
    # would keep the writer from ever running (the child's timeout fails the test).
    out = run_patched("""
        import select, selectors, socket, gpm
        N = 20
        def sel_select(a):
            return select.select([a], [], [], 30)[0] == [a]
        def sel_poll(a):
            p = select.poll(); p.register(a, select.POLLIN)
            return p.poll(30000) == [(a.fileno(), select.POLLIN)]
        def sel_epoll(a):
            with select.epoll() as ep:
                ep.register(a.fileno(), select.EPOLLIN)
                return ep.poll(30) == [(a.fileno(), select.EPOLLIN)]
        def sel_default(a):
            with selectors.DefaultSelector() as s:
                s.register(a, selectors.EVENT_READ, "x")
                return [(k.data, ev) for k, ev in s.select(30)] == [("x", selectors.EVENT_READ)]
        def sel_pollsel(a):
            with selectors.PollSelector() as s:
                s.register(a, selectors.EVENT_READ, "x")
                return [(k.data, ev) for k, ev in s.select()] == [("x", selectors.EVENT_READ)]
        def sel_selectsel(a):
            with selectors.SelectSelector() as s:
                s.register(a, selectors.EVENT_READ, "x")
                return [(k.data, ev) for k, ev in s.select(30)] == [("x", selectors.EVENT_READ)]
        def main():
            res = {}
            for fn in (sel_select, sel_poll, sel_epoll, sel_default, sel_pollsel, sel_selectsel):
                pairs = [socket.socketpair() for _ in range(N)]
                wg = gpm.sync.WaitGroup()
                inside = gpm.Chan(N)
                out = []
                def waiter(a):
                    inside.send(1)
                    out.append(fn(a))
                for a, b in pairs:
                    wg.go(waiter, a)
                for _ in range(N):
                    inside.recv()
                gpm.gosched()                 # every waiter is now parked in its call
                for a, b in pairs:
                    b.send(b"!")
                wg.wait()
                res[fn.__name__] = (len(out), all(out))
                for a, b in pairs:
                    a.close(); b.close()
            return res
        for k, v in gpm.run(main, procs=1).items():
            print(k, v)
    """, patch=MINE)
    assert lines(out) == {k: "(20, True)" for k in ("sel_select", "sel_poll", "sel_epoll", "sel_default",
                                                    "sel_pollsel", "sel_selectsel")}


def test_timeouts_errors_and_plain_threads():
    out = run_patched("""
        import select, selectors, socket, threading, time, gpm
        a, b = socket.socketpair()
        orig_select = gpm.monkey.get_original("select", "select")
        def errors(sel):
            out = []
            for args in (([a], [], [], -1), ([a], [], [], "x"), (["x"], [], [], 0), ([99999], [], [], 0)):
                try:
                    sel(*args); out.append(None)
                except Exception as e:
                    out.append((type(e).__name__, str(e)))
            return out
        expected = errors(orig_select)
        def main():
            t0 = time.monotonic()
            r = (select.select([a], [], [], 0.05), time.monotonic() - t0 >= 0.05)
            p = select.poll(); p.register(a, select.POLLIN)
            t0 = time.monotonic()
            r += (p.poll(50), time.monotonic() - t0 >= 0.05)
            with selectors.DefaultSelector() as s:
                s.register(a, selectors.EVENT_READ)
                t0 = time.monotonic()
                r += (s.select(0.05), time.monotonic() - t0 >= 0.05)
            r += (select.select([], [a], [], 1)[1] == [a],)     # writable at once
            r += (errors(select.select) == expected,)
            return r
        print("goroutine", gpm.run(main, procs=1))
        # plain threads: the originals (a thread blocks in select until another writes)
        res = []
        t = threading.Thread(target=lambda: res.append(select.select([a], [], [], 10)[0] == [a]))
        t.start(); b.send(b"x"); t.join()
        print("thread", res, errors(select.select) == expected)
    """, patch=MINE)
    assert lines(out) == {"goroutine": "(([], [], []), True, [], True, [], True, True, True)",
                          "thread": "[True] True"}
