"""gpm.syscall against API.md: results and exceptions come back, the P keeps
running other goroutines (proved with counters), the pool is bounded."""

import threading

import pytest

import gpm


def test_result_and_exception(procs):
    def boom(x):
        raise KeyError(x)

    def main():
        assert gpm.syscall(lambda a, b=0: a + b, 40, b=2) == 42
        with pytest.raises(KeyError, match="k"):
            gpm.syscall(boom, "k")
        return gpm.syscall(threading.current_thread).name
    name = gpm.run(main, procs=procs)
    assert name.startswith("gpm-syscall-")


def test_other_goroutines_keep_running_during_syscall():
    """procs=1: the blocking call can only finish after another goroutine ran
    1,000 steps on the same P, so the P was not blocked by it."""
    steps = 1000
    released = threading.Event()
    count = [0]

    def worker():
        for _ in range(steps):
            count[0] += 1
            gpm.gosched()
        released.set()

    def main():
        gpm.go(worker)
        ok = gpm.syscall(released.wait, 30)
        return ok, count[0]
    assert gpm.run(main, procs=1) == (True, steps)


def _barrier_through_syscall(n, procs, timeout=30):
    """n goroutines each call gpm.syscall(barrier.wait) on one n-party barrier:
    it needs all n calls in flight at the same time.  Returns their indexes."""
    barrier = threading.Barrier(n, timeout=timeout)

    def main():
        wg = gpm.sync.WaitGroup()
        res = []
        for i in range(n):
            wg.go(lambda i=i: res.append((gpm.syscall(barrier.wait), i)))
        wg.wait()
        return sorted(i for _, i in res)
    return gpm.run(main, procs=procs)


def test_many_goroutines_in_syscall_at_once(monkeypatch):
    n = 8
    monkeypatch.setenv("GPM_SYSCALL_THREADS", str(n))
    assert _barrier_through_syscall(n, procs=2) == list(range(n))


def test_pool_is_bounded_and_queues(monkeypatch):
    monkeypatch.setenv("GPM_SYSCALL_THREADS", "2")
    monkeypatch.setenv("GPM_SYSCALL_MAX_THREADS", "2")     # no growth beyond the size
    lock = threading.Lock()
    active = [0, 0]                  # now, max
    names = set()
    gate = threading.Semaphore(0)

    def call():
        with lock:
            active[0] += 1
            active[1] = max(active[1], active[0])
            names.add(threading.current_thread().name)
        gate.acquire(timeout=30)
        with lock:
            active[0] -= 1

    def main():
        wg = gpm.sync.WaitGroup()
        for _ in range(6):
            wg.go(gpm.syscall, call)
        for _ in range(6):
            gate.release()
        wg.wait()
    gpm.run(main, procs=1)
    assert active[1] <= 2
    assert len(names) <= 2


def test_syscall_in_flight_is_not_a_deadlock():
    """All Ps idle, no timers: only the syscall is alive; checkdead must wait for it."""
    ev = threading.Event()

    def main():
        threading.Timer(0.05, ev.set).start()
        return gpm.syscall(ev.wait, 30)
    assert gpm.run(main, procs=1) is True


def test_stats_count_syscalls():
    def main():
        return gpm.syscall(lambda: gpm.stats().syscalls)
    assert gpm.run(main, procs=1) == 1


def test_plain_thread_calls_directly():
    assert gpm.syscall(threading.current_thread) is threading.current_thread()
    with pytest.raises(TypeError):
        gpm.syscall(42)


def test_calls_that_wait_on_each_other_grow_the_pool(monkeypatch):
    """Issue 8 (bug 11): seven calls that wait on each other used to hang with
    a pool of six (the seventh queued behind six blocked threads).  The pool
    grows when no call completes while requests wait (Go starts an M per
    blocked syscall)."""
    monkeypatch.setenv("GPM_SYSCALL_THREADS", "6")
    assert _barrier_through_syscall(7, procs=1, timeout=20) == list(range(7))


def test_pool_growth_stops_at_the_cap_and_warns_once(monkeypatch):
    """At GPM_SYSCALL_MAX_THREADS the pool stops growing and says so once on
    logger "gpm".  The calls here wait for that warning, so they finish only
    if it comes (and the last one only after a thread is free again)."""
    import logging

    monkeypatch.setenv("GPM_SYSCALL_THREADS", "1")
    monkeypatch.setenv("GPM_SYSCALL_MAX_THREADS", "2")
    warned = threading.Event()
    records = []

    class Catch(logging.Handler):
        def emit(self, record):
            msg = record.getMessage()
            if "GPM_SYSCALL_MAX_THREADS" in msg:
                records.append(msg)
                warned.set()

    h = Catch()
    log = logging.getLogger("gpm")
    log.addHandler(h)
    try:
        def main():
            wg = gpm.sync.WaitGroup()
            res = []
            for _ in range(4):
                wg.go(lambda: res.append(gpm.syscall(warned.wait, 20)))
            wg.wait()
            return res, threading.active_count()
        res, _ = gpm.run(main, procs=1)
    finally:
        log.removeHandler(h)
    assert res == [True] * 4
    assert len(records) == 1 and "all 2 pool threads" in records[0]
