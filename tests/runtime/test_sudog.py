"""sudog.py on its own: the one wait/wake protocol for goroutines and plain threads.

Fast and in-process (mutation testing runs this file against sudog.py).
"""

import gc
import threading
import weakref

import greenlet
import pytest

import gpm
from tests.support import Sudog, current_sched, current_waiter, getg, note_plain, rlocks, wait_blocked, wake_all


def _held_lock():
    lk = rlocks.new_lock("chan")
    lk.acquire()
    return lk


def test_plain_waiter_blocks_until_woken_from_another_thread():
    sg = current_waiter()
    assert sg.g is None and sg.sema is not None and sg.ok and sg.elem is None
    lk = _held_lock()
    woke = []

    def waker():
        lk.acquire()                 # the waiter released it before parking
        sg.elem = "v"
        lk.release()
        sg.wake()

    t = threading.Thread(target=waker)
    t.start()
    assert sg.block(lk, "chan receive") is True
    woke.append(sg.elem)
    t.join(10)
    assert woke == ["v"]
    assert not lk.locked()


def test_plain_timeout_won_by_cancel_returns_false():
    sg = current_waiter()
    lk = _held_lock()
    calls = []

    def cancel(s):
        calls.append(s)
        return True                  # still queued: the timeout wins

    assert sg.block(lk, "chan receive", timeout=0.0, cancel=cancel) is False
    assert calls == [sg]


def test_plain_timeout_lost_to_a_waker_consumes_its_wake():
    """cancel() says a waker dequeued sg first: block must wait for that wake
    (returning True), not report a timeout with a wake still coming."""
    sg = current_waiter()
    lk = _held_lock()

    def cancel(s):
        threading.Thread(target=s.wake).start()    # the waker's release, after cancel lost
        return False

    assert sg.block(lk, "chan receive", timeout=0.0, cancel=cancel) is True
    # The semaphore was consumed exactly once: it is held again.
    assert not sg.sema.acquire(False)


def test_plain_timed_wait_woken_in_time_returns_true_without_cancel():
    """A plain thread's timed wait that a waker ends before the timeout
    reports the wake (True), so the caller keeps what the waker handed over;
    cancel is not asked (mutant: ``return False`` after the semaphore was
    acquired in time: a timeout reported with the wake consumed)."""
    sg = current_waiter()
    lk = _held_lock()

    def waker():
        lk.acquire()                 # the waiter released it before parking
        lk.release()
        sg.wake()

    def cancel(s):
        raise AssertionError("cancel asked although the waker won in time")

    th = threading.Thread(target=waker)
    th.start()
    try:
        assert sg.block(lk, "chan receive", timeout=60.0, cancel=cancel) is True
    finally:
        th.join(10)


def test_goroutine_waiter_is_the_running_g():
    def main():
        sg = current_waiter()
        assert sg.sema is None
        return sg.g is not None and sg.g is getg()
    assert gpm.run(main, procs=1)


def test_waiter_on_a_scheduler_greenlet_raises():
    class Sched0(greenlet.greenlet):
        pp = object()                # what marks a scheduler greenlet (g0, timer callbacks)

    out = []
    Sched0(lambda: out.append(pytest.raises(RuntimeError, current_waiter))).switch()
    assert "scheduler greenlet" in str(out[0].value)


def test_wake_all_wakes_threads_and_goroutines():
    def main():
        lk = rlocks.new_lock("chan")
        ready = gpm.Chan(4)
        sgs, done = [], gpm.Chan(4)

        def waiter():
            sg = current_waiter()
            lk.acquire()
            sgs.append(sg)
            ready.send(1)
            sg.block(lk, "chan receive")
            done.send(sg.elem)

        for _ in range(2):
            gpm.go(waiter)
        th = threading.Thread(target=waiter)
        th.start()
        for _ in range(3):
            ready.recv()
        lk.acquire()                 # every waiter has released it: all parked
        for i, sg in enumerate(sgs):
            sg.elem = i
        batch = list(sgs)
        lk.release()
        wake_all(batch)
        got = sorted(done.recv() for _ in range(3))
        th.join(10)
        return got
    assert gpm.run(main, procs=1) == [0, 1, 2]


def test_note_plain_records_a_thread_once_per_runtime():
    def main():
        seen = []
        s = current_sched()

        def plain():
            note_plain()
            seen.append(threading.get_ident() in s.foreign)
            n = len(s.foreign)
            note_plain()             # cached: no second registration
            seen.append(len(s.foreign) == n)

        t = threading.Thread(target=plain)
        t.start()
        t.join(10)
        return seen
    assert gpm.run(main, procs=1) == [True, True]


def test_note_plain_is_a_no_op_on_a_goroutine():
    def main():
        s = current_sched()
        n = len(s.foreign)
        note_plain()
        return len(s.foreign) == n
    assert gpm.run(main, procs=1)


def test_plain_thread_does_not_keep_its_last_runtime_alive():
    """Issue 12: chan._tls held a strong reference to the last Sched each plain
    thread used a channel with, so a runtime stayed alive as long as any such
    thread lived.  The thread below outlives the run; the runtime must not.
    (Fails without the fix: the weakref still answers.)"""
    sent, finish = threading.Event(), threading.Event()
    ch = gpm.Chan(1)

    def plain():
        ch.send(1)                   # a buffered send: recorded for checkdead
        sent.set()
        finish.wait(30)

    threads = []
    try:
        def main():
            t = threading.Thread(target=plain)
            threads.append(t)
            t.start()
            assert ch.recv() == 1
            return weakref.ref(current_sched())
        ref = gpm.run(main, procs=1)
        assert sent.wait(10)
        gc.collect()
        assert ref() is None, "a plain thread keeps the finished runtime alive"
    finally:
        finish.set()
        for t in threads:
            t.join(10)


def test_sudog_current_is_current_waiter():
    sg = Sudog.current()
    assert type(sg) is Sudog and sg.g is None


def test_park_on_reuses_a_goroutines_sudog_with_fresh_state():
    """park_on gives a goroutine one Sudog for all its channel waits (Go's sudog
    cache).  A wait ended by close leaves ok=False in it: the next wait must
    start with ok=True, or a later send that a receiver takes would raise
    "send on closed channel"."""
    def main():
        a, b = gpm.Chan(), gpm.Chan()
        seen = []

        def g():
            seen.append(a.recv_ok())             # woken by close: ok False
            seen.append(getg().sudog)
            b.send(1)                            # parks; taken by main below
            seen.append(getg().sudog)

        h = gpm.go(g)
        wait_blocked(a._recvq)
        a.close()
        wait_blocked(b._sendq)
        assert b.recv() == 1
        h.join()
        return seen
    first, sg1, sg2 = gpm.run(main, procs=1)
    assert first == (None, False)
    assert sg1 is sg2 and sg1 is not None
