"""gpm.sync against API.md and Go's sync package rules."""

import threading

import pytest

import gpm
from gpm import sync


def test_mutex_basic_and_errors():
    m = sync.Mutex()
    assert m.try_lock()
    assert not m.try_lock()
    m.unlock()
    with pytest.raises(RuntimeError):
        m.unlock()
    with m:
        assert not m.try_lock()
    assert m.try_lock()
    m.unlock()


def test_mutex_counter(procs):
    def main():
        m = sync.Mutex()
        wg = sync.WaitGroup()
        box = [0]

        def inc():
            for _ in range(200):
                m.lock()
                v = box[0]
                gpm.gosched()          # hold the lock across a yield
                box[0] = v + 1
                m.unlock()

        for _ in range(8):
            wg.go(inc)
        wg.wait()
        return box[0]

    assert gpm.run(main, procs=procs) == 1600


def test_mutex_starvation_mode(procs):
    # Go's TestMutexFairness: a hog relocks in a loop; a waiter must still
    # get the lock (starvation mode after 1 ms) within a bounded time.
    def main():
        m = sync.Mutex()
        stop = gpm.Chan()
        got = gpm.Chan(1)

        def hog():
            while True:
                m.lock()
                gpm.sleep(0.0001)
                m.unlock()
                if gpm.select(stop.recv, gpm.default)[0] == 0:
                    return

        def waiter():
            for _ in range(10):
                gpm.sleep(0.0001)
                m.lock()
                m.unlock()
            got.send(True)

        gpm.go(hog)
        gpm.go(waiter)
        i, _ = gpm.select(got.recv, gpm.after(10).recv)
        stop.close()
        return i

    assert gpm.run(main, procs=procs) == 0


def test_mutex_from_threads_and_goroutines(procs):
    def main():
        m = sync.Mutex()
        box = [0]
        wg = sync.WaitGroup()

        def work():
            for _ in range(300):
                with m:
                    box[0] += 1

        ths = [threading.Thread(target=work) for _ in range(2)]
        for t in ths:
            t.start()
        for _ in range(3):
            wg.go(work)
        wg.wait()
        for t in ths:
            gpm.syscall(t.join)
        return box[0]

    assert gpm.run(main, procs=procs) == 1500


def test_rwmutex_errors():
    rw = sync.RWMutex()
    with pytest.raises(RuntimeError):
        rw.unlock()
    with pytest.raises(RuntimeError):
        rw.runlock()
    assert rw.try_rlock() and rw.try_rlock()
    assert not rw.try_lock()
    rw.runlock()
    rw.runlock()
    assert rw.try_lock()
    assert not rw.try_rlock()
    rw.unlock()


def test_rwmutex_readers_share_writer_excludes(procs):
    def main():
        rw = sync.RWMutex()
        state = {"readers": 0, "max": 0, "writer": False, "bad": 0}
        mu = sync.Mutex()
        wg = sync.WaitGroup()

        def reader():
            for _ in range(50):
                rw.rlock()
                with mu:
                    state["readers"] += 1
                    state["max"] = max(state["max"], state["readers"])
                    if state["writer"]:
                        state["bad"] += 1
                gpm.gosched()
                with mu:
                    state["readers"] -= 1
                rw.runlock()

        def writer():
            for _ in range(20):
                rw.lock()
                with mu:
                    if state["readers"] or state["writer"]:
                        state["bad"] += 1
                    state["writer"] = True
                gpm.gosched()
                with mu:
                    state["writer"] = False
                rw.unlock()

        for _ in range(4):
            wg.go(reader)
        for _ in range(2):
            wg.go(writer)
        wg.wait()
        return state

    st = gpm.run(main, procs=procs)
    assert st["bad"] == 0
    assert st["max"] >= 1


def test_rwmutex_writer_not_starved(procs):
    # Readers keep the lock read-held continuously; a writer must get in.
    def main():
        rw = sync.RWMutex()
        stop = gpm.Chan()
        wrote = gpm.Chan(1)

        def reader():
            while gpm.select(stop.recv, gpm.default)[0] != 0:
                rw.rlock()
                gpm.gosched()
                rw.runlock()

        for _ in range(4):
            gpm.go(reader)
        gpm.gosched()

        def writer():
            rw.lock()
            rw.unlock()
            wrote.send(True)

        gpm.go(writer)
        i, _ = gpm.select(wrote.recv, gpm.after(10).recv)
        stop.close()
        return i

    assert gpm.run(main, procs=procs) == 0


def test_waitgroup(procs):
    def main():
        wg = sync.WaitGroup()
        res = []
        for i in range(20):
            wg.go(res.append, i)
        wg.wait()
        wg.wait()          # zero counter: returns at once
        return sorted(res)

    assert gpm.run(main, procs=procs) == list(range(20))


def test_waitgroup_negative():
    wg = sync.WaitGroup()
    with pytest.raises(ValueError):
        wg.done()
    wg.add(1)
    with pytest.raises(ValueError):
        wg.add(-2)
    wg.done()


def test_waitgroup_many_waiters_and_thread(procs):
    def main():
        wg = sync.WaitGroup()
        wg.add(1)
        woke = gpm.Chan(10)
        for _ in range(5):
            gpm.go(lambda: (wg.wait(), woke.send(1)))
        t = threading.Thread(target=lambda: (wg.wait(), woke.send(1)))
        t.start()
        gpm.sleep(0.001)
        wg.done()
        n = sum(woke.recv() for _ in range(6))
        gpm.syscall(t.join)
        return n

    assert gpm.run(main, procs=procs) == 6


def test_once():
    o = sync.Once()
    calls = []
    o.do(lambda: calls.append(1))
    o.do(lambda: calls.append(2))
    assert calls == [1]

    o2 = sync.Once()

    def boom():
        calls.append("boom")
        raise KeyError("x")

    with pytest.raises(KeyError):
        o2.do(boom)
    o2.do(boom)            # a raising fn still counts as done
    assert calls == [1, "boom"]


def test_once_concurrent(procs):
    def main():
        o = sync.Once()
        box = []
        wg = sync.WaitGroup()

        def init():
            gpm.sleep(0.001)
            box.append(1)

        def user():
            o.do(init)
            assert box == [1]      # every caller sees the completed init

        for _ in range(10):
            wg.go(user)
        wg.wait()
        return box

    assert gpm.run(main, procs=procs) == [1]


def test_cond_signal_broadcast(procs):
    def main():
        m = sync.Mutex()
        cond = sync.Cond(m)
        state = {"ready": 0, "go": False}
        done = gpm.Chan(10)

        def waiter():
            m.lock()
            state["ready"] += 1
            while not state["go"]:
                cond.wait()
            m.unlock()
            done.send(1)

        for _ in range(5):
            gpm.go(waiter)
        while True:
            with m:
                if state["ready"] == 5:
                    break
            gpm.gosched()
        with m:
            state["go"] = True
            cond.signal()
        assert done.recv() == 1
        with m:
            cond.broadcast()
        return 1 + sum(done.recv() for _ in range(4))

    assert gpm.run(main, procs=procs) == 5


def test_semaphore_weighted_fifo(procs):
    def main():
        s = sync.Semaphore(4)
        order = []
        assert s.try_acquire(3)
        done = gpm.Chan(3)

        def big():
            s.acquire(4)         # queued first: must not be overtaken
            order.append("big")
            s.release(4)
            done.send(1)

        def small(i):
            s.acquire(1)
            order.append(f"small{i}")
            s.release(1)
            done.send(1)

        gpm.go(big)
        while not s._waiters:
            gpm.gosched()
        assert not s.try_acquire(1)      # FIFO: the big request blocks newcomers
        gpm.go(small, 1)
        gpm.go(small, 2)
        gpm.sleep(0.002)
        assert order == []
        s.release(3)
        for _ in range(3):
            done.recv()
        return order

    order = gpm.run(main, procs=procs)
    assert order[0] == "big" and sorted(order[1:]) == ["small1", "small2"]


def test_semaphore_errors_and_cm():
    s = sync.Semaphore(2)
    with pytest.raises(ValueError):
        s.release(1)
    with pytest.raises(ValueError):
        s.acquire(3)
    with pytest.raises(ValueError):
        sync.Semaphore(-1)
    with s:
        assert s.try_acquire(1)
        assert not s.try_acquire(1)
        s.release(1)


def test_group_first_error_and_ctx(procs):
    from gpm import context

    def main():
        g = sync.Group(context.background())
        started = gpm.Chan(10)

        def waits_for_cancel():
            started.send(1)
            g.ctx.done().recv()
            return "cancelled"

        def fails():
            started.recv()
            raise ValueError("first")

        g.go(waits_for_cancel)
        g.go(fails)
        with pytest.raises(ValueError, match="first"):
            g.wait()
        assert isinstance(g.ctx.err(), context.Canceled)

        g2 = sync.Group()
        assert g2.ctx is None
        res = []
        for i in range(5):
            g2.go(res.append, i)
        assert g2.wait() is None
        return sorted(res)

    assert gpm.run(main, procs=procs) == list(range(5))


def test_group_limit(procs):
    def main():
        g = sync.Group(limit=2)
        mu = sync.Mutex()
        st = {"cur": 0, "max": 0}

        def job():
            with mu:
                st["cur"] += 1
                st["max"] = max(st["max"], st["cur"])
            gpm.sleep(0.001)
            with mu:
                st["cur"] -= 1

        for _ in range(8):
            g.go(job)
        g.wait()
        return st["max"]

    assert gpm.run(main, procs=procs) <= 2


def test_sync_from_plain_threads_no_runtime():
    # WaitGroup + Mutex between plain threads, no runtime at all.
    wg = sync.WaitGroup()
    m = sync.Mutex()
    box = [0]

    def work():
        for _ in range(1000):
            with m:
                box[0] += 1
        wg.done()

    wg.add(4)
    ths = [threading.Thread(target=work) for _ in range(4)]
    for t in ths:
        t.start()
    wg.wait()
    for t in ths:
        t.join()
    assert box[0] == 4000


# -- sync objects that outlive a run -----------------------------------------
# A goroutine parked on a module-level sync object when its run ends is
# discarded; its place in the object's queue must go with it, or the next run's
# wake-up (signal, unlock, release) is handed to a goroutine that is gone.

def _park_and_discard(park):
    """Run 1 (procs=1): a goroutine parks in ``park()`` and the run returns."""
    def main():
        started = gpm.Chan()

        def waiter():
            started.send(None)            # then runs on (procs=1) until it parks
            park()
        gpm.go(waiter)
        started.recv()
    gpm.run(main, procs=1)


def _woken_in_next_run(park, wake):
    """Run 2: a live waiter parks in ``park()``; ``wake()`` must reach it."""
    def main():
        started, done = gpm.Chan(), gpm.Chan(1)

        def waiter():
            started.send(None)
            park()
            done.send("woken")
        gpm.go(waiter)
        started.recv()
        wake()
        return gpm.select(done.recv, gpm.after(2).recv)[0]
    return gpm.run(main, procs=1)


def test_cond_signal_after_a_run_discarded_a_waiter():
    mu = gpm.sync.Mutex()
    cond = gpm.sync.Cond(mu)

    def park():
        with mu:
            cond.wait()

    def wake():
        with mu:
            cond.signal()
    _park_and_discard(park)
    assert _woken_in_next_run(park, wake) == 0, "the signal went to the discarded waiter"


def test_mutex_unlock_after_a_run_discarded_a_waiter():
    mu = gpm.sync.Mutex()
    mu.lock()                              # held across both runs: their waiters queue
    _park_and_discard(mu.lock)
    assert _woken_in_next_run(mu.lock, mu.unlock) == 0, "unlock woke the discarded waiter"


def test_semaphore_release_after_a_run_discarded_a_waiter():
    sem = gpm.sync.Semaphore(1)
    sem.acquire()
    _park_and_discard(sem.acquire)
    assert _woken_in_next_run(sem.acquire, sem.release) == 0, "the unit went to the discarded waiter"
    assert not sem.try_acquire()           # the live waiter holds it: no unit lost or doubled
