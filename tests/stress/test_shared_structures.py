"""One bounded stress test per structure shared between Ms (docs/ARCHITECTURE.md,
"Thread-safety audit"), written for free-threaded builds (``make test-ft`` runs them with the
GIL off, where the Ms really run at once) and run on every build.  Each asserts an exact
invariant (every item delivered exactly once, every count exact); none times anything.

  run queue      owner put/get against two thieves' grab (RunQueue alone, plain threads)
  timers         sleeps and after_func timers armed on one P, stopped from another
  select claims  selects on shared channels against senders on every P: each value once
  netpoll        loopback connections echoing across 4 Ps (epoll wake-ups, deadlines unset)
  syscall pool   gpm.syscall from goroutines on 4 Ps: every call's own result, once
  checkdead      plain threads started inside the run that wake goroutines later: no false
                 Deadlock, and a real one is still reported
"""

import random
import threading

import pytest

import gpm
import gpm.net as net
import gpm.sync
from tests.support import FakeG, RunQueue, fdcheck  # noqa: F401 (a fixture, used by name)

pytestmark = pytest.mark.stress

PROCS = 4


def test_runqueue_owner_against_two_thieves():
    rq = RunQueue(capacity=16)
    N = 20_000
    got = [[], [], []]                   # owner, thief 1, thief 2
    done = threading.Event()

    def owner():
        rng = random.Random(1)
        for i in range(N):
            batch = rq.put(FakeG(i, pinned=(i % 5 == 0)), next=(rng.random() < 0.2))
            if batch:
                got[0].extend(batch)     # overflowed to "the global queue": delivered
            if rng.random() < 0.4:
                gp, _ = rq.get()
                if gp is not None:
                    got[0].append(gp)
        while True:
            gp, _ = rq.get()
            if gp is None:
                break
            got[0].append(gp)
        done.set()

    def thief(k):
        while not done.is_set():
            got[k].extend(rq.grab(steal_runnext=True))
        got[k].extend(rq.grab(steal_runnext=True))

    ts = [threading.Thread(target=thief, args=(k,)) for k in (1, 2)]
    for t in ts:
        t.start()
    owner()
    for t in ts:
        t.join(60)
    ids = sorted(g.n for part in got for g in part)
    assert ids == list(range(N)), f"lost or duplicated: {len(ids)} of {N}"
    assert not any(g.pp is not None for g in got[1] + got[2]), "a thief took a pinned G"


def test_timers_armed_on_one_p_stopped_from_another():
    # after_func timers armed by goroutines spread over the Ps, each stopped by one stopper
    # goroutine (another P's heap, racing the firing): each fires iff its stop() said False.
    N = 400

    def main():
        fired = gpm.Chan(N)
        timers = gpm.Chan(N)
        stopped = gpm.Chan(N)

        def arm(i):
            timers.send((i, gpm.after_func(0.001 * (i % 7), lambda: fired.send(i))))

        def stopper():
            for _ in range(N):
                i, t = timers.recv()
                stopped.send((i, t.stop() if i % 3 else None))
        wg = gpm.sync.WaitGroup()
        for i in range(N):
            wg.go(arm, i)
        s = gpm.go(stopper)
        sleepers = [gpm.go(gpm.sleep, 0.0005 * (i % 5)) for i in range(N)]   # more timers
        wg.wait()
        s.join()
        for g in sleepers:
            g.join()
        outcome = dict(stopped.recv() for _ in range(N))
        expect = sorted(i for i, st in outcome.items() if not st)
        got = sorted(fired.recv() for _ in expect)
        gpm.sleep(0.02)                   # past every deadline: a stopped timer firing shows
        return got, expect, len(fired)

    got, expect, extra = gpm.run(main, procs=PROCS)
    assert got == expect
    assert extra == 0, "a stopped timer fired"


def test_select_claims_on_shared_channels():
    NS, PER = 8, 300

    def main():
        a, b, quit_ = gpm.Chan(), gpm.Chan(4), gpm.Chan()
        out = gpm.Chan(NS * PER)

        def sender(k):
            for j in range(PER):
                (a if j % 2 else b).send((k, j))

        def selector():
            while True:
                i, v = gpm.select(a.recv, b.recv, quit_.recv)
                if i == 2:
                    return
                out.send(v)
        senders = gpm.sync.WaitGroup()
        for k in range(NS):
            senders.go(sender, k)
        sels = [gpm.go(selector) for _ in range(6)]
        senders.wait()
        quit_.close()
        for g in sels:
            g.join()
        return sorted(out.recv() for _ in range(len(out)))

    got = gpm.run(main, procs=PROCS)
    assert got == sorted((k, j) for k in range(NS) for j in range(PER))


@pytest.mark.usefixtures("fdcheck")
def test_netpoll_wakeups_across_ps():
    NC, MSGS = 16, 100

    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            def serve(c):
                with c:
                    while b := c.read():
                        c.write(b)

            def acceptor():
                for _ in range(NC):
                    gpm.go(serve, ln.accept())
            acc = gpm.go(acceptor)
            addr = f"{ln.addr[0]}:{ln.addr[1]}"

            def client(i):
                with net.dial("tcp", addr) as c:
                    for k in range(MSGS):
                        msg = f"{i}.{k};".encode()
                        c.write(msg)
                        assert c.read_exactly(len(msg)) == msg
                return i
            gs = [gpm.go(client, i) for i in range(NC)]
            got = sorted(g.join() for g in gs)
            acc.join()
            return got

    assert gpm.run(main, procs=PROCS) == list(range(NC))


def test_syscall_pool_from_every_p():
    N = 400

    def main():
        gs = [gpm.go(gpm.syscall, lambda i=i: i * i) for i in range(N)]
        return [g.join() for g in gs]

    assert gpm.run(main, procs=PROCS) == [i * i for i in range(N)]


def test_checkdead_plain_threads_waking_goroutines_later():
    # Every goroutine is blocked while plain threads started inside the run are still about
    # to wake them: never a Deadlock (API.md), on any interleaving.
    for _ in range(20):
        def main():
            ch = gpm.Chan()
            go_on = threading.Event()

            def plain():
                go_on.wait(30)
                for i in range(3):
                    ch.send(i)
            ts = [threading.Thread(target=plain) for _ in range(2)]
            for t in ts:
                t.start()
            gpm.go(go_on.set)
            got = sorted(ch.recv() for _ in range(6))
            for t in ts:
                t.join(30)
            return got
        assert gpm.run(main, procs=PROCS) == [0, 0, 1, 1, 2, 2]

    def stuck():
        gpm.Chan().recv()
    with pytest.raises(gpm.Deadlock):
        gpm.run(stuck, procs=PROCS)


def test_checkdead_main_joins_a_background_goroutine():
    # A gpm.run whose main joins a background goroutine that exits on another runtime's M:
    # never a Deadlock in the window between the background G leaving allgs and its wake of
    # main (5 of 300 runs on 3.13t before checkdead looked at the background runtime first
    # and counted its running Ps).
    from tests.support import stop_background
    try:
        for _ in range(60):
            ch = gpm.Chan()
            bg = gpm.go(lambda ch=ch: ch.recv() + 1)

            def main(ch=ch, bg=bg):
                ch.send(41)
                return bg.join()
            assert gpm.run(main, procs=1) == 42
            stop_background()
    finally:
        stop_background()
