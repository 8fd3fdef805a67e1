"""Protocol breaks that once passed every test (issue 8, mutation score).

1. stopm's recheck after announcing idle (Go's "delicate dance"): a producer
   that published a G just before the P joined pidle, and read a stale
   npidle/nmspinning, relies on that recheck; without it the P sleeps with
   work queued.
2. A timed wait whose waker won: the timeout must consult cancel and do
   nothing, never ready the G a second time.
"""

import os
import threading

import pytest

import gpm
from tests.support import FakeG, Sudog, rsched


class _HookLock:
    """Sched.lock stand-in: runs ``hook`` once, right after the first release
    (the moment between stopm's announce and its recheck)."""

    def __init__(self, real, hook):
        self.real = real
        self.hook = hook

    def acquire(self, *a):
        return self.real.acquire(*a)

    def release(self):
        self.real.release()
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()

    __enter__ = acquire

    def __exit__(self, *exc):
        self.release()


def _publish_global(s):
    s.runq.append(FakeG(1, pinned=False))         # a plain thread's newproc ...
    s.runqsize += 1                               # ... that read a stale npidle: no wakep


def _publish_local(s):
    s.allp[0].runq.put(FakeG(2, pinned=False))     # P0's newproc read a stale npidle: no wakep


@pytest.mark.parametrize("publish", [_publish_global, _publish_local], ids=["global", "other-P"])
def test_stopm_rechecks_after_announcing_idle(publish):
    s = rsched.Sched(2)                            # not started: stopm runs on this thread
    pp = s.allp[1]
    s.lock = _HookLock(s.lock, lambda: publish(s))
    t = threading.Thread(target=s.stopm, args=(pp,), daemon=True)
    t.start()
    t.join(10)
    slept = t.is_alive()
    if slept:
        pp.note.wakeup()                           # let the thread go
        t.join(10)
    assert not slept, "stopm slept with a G published during its announce (no recheck)"
    assert pp not in s.pidle and s.npidle == 0     # it left idle again


def test_timeout_after_the_waker_won_is_harmless(monkeypatch):
    """procs=1: the waker dequeues and wakes the waiter, then holds the P
    past the deadline, so the timeout timer fires while the waiter is
    runnable.  cancel finds it gone: no second ready, no timeout reported
    (under checks=1 a second ready would be a FatalError).  The waker holds
    its P on purpose: preemption off (it took the P away after 10 ms on
    3.13t, so the waiter ran before its deadline)."""
    monkeypatch.setenv("GPM_DEBUG", os.environ.get("GPM_DEBUG", "") + ",asyncpreemptoff=1")
    def main():
        lock = threading.Lock()
        q = []
        sg = Sudog.current()
        deadline = rsched.nanotime() + 0.05

        def cancel(sg):
            with lock:
                if sg in q:
                    q.remove(sg)
                    return True
                return False

        def waker():
            with lock:
                q.remove(sg)
            sg.wake()
            while rsched.nanotime() < deadline + 0.02:
                pass                               # the timer is due before the waiter runs

        lock.acquire()
        q.append(sg)
        gpm.go(waker)
        woke = sg.block(lock, "test", 0.05, cancel)
        gpm.sleep(0.03)                             # a stray second ready would surface here
        return woke, rsched.nanotime() > deadline

    woke, late = gpm.run(main, procs=1)
    assert late
    assert woke is True


def test_plain_thread_timed_wait_times_out():
    """Sudog.block on a plain thread: the timeout cancels its own Sudog and
    reports False (mutants: cancel(None) hung, 'return True' returned None)."""
    def main():
        never = gpm.Chan()
        g = gpm.go(never.recv)
        out = []

        def plain():
            try:
                out.append(g.join(timeout=0.05))
            except TimeoutError:
                out.append("timeout")
        t = threading.Thread(target=plain)
        t.start()
        t.join(20)
        alive = t.is_alive()
        never.send(None)
        return out, alive
    out, alive = gpm.run(main, procs=2)
    assert not alive and out == ["timeout"]


def test_parked_goroutines_show_their_wait_reason():
    """gopark gets the reason for untimed and timed waits alike."""
    def main():
        ch = gpm.Chan()
        r = gpm.go(ch.recv)
        j = gpm.go(r.join)                       # untimed wait
        k = gpm.go(r.join, 30)                   # timed wait
        want = (f"goroutine {r.id} [chan receive", f"goroutine {j.id} [goroutine join",
                f"goroutine {k.id} [goroutine join")
        text = ""
        for _ in range(10_000):
            text = gpm.dump_goroutines()
            if all(w in text for w in want):
                break
            gpm.gosched()
        ch.send(1)
        j.join()
        k.join()
        return text, want
    text, want = gpm.run(main, procs=1)
    for w in want:
        assert w in text


def test_goroutine_timed_wait_times_out():
    """Sudog.block on a goroutine: the timer's callback asks cancel with this
    Sudog, marks it timed out and readies it; block reports False (mutants:
    cancel(None), timedout not set, goready(None))."""
    def main():
        lock = threading.Lock()
        q = []
        asked = []

        def cancel(sg):
            asked.append(sg)
            with lock:
                if sg in q:
                    q.remove(sg)
                    return True
                return False

        sg = Sudog.current()
        lock.acquire()
        q.append(sg)
        woke = sg.block(lock, "test", 0.01, cancel)
        return woke, asked == [sg], q, sg.timedout
    assert gpm.run(main, procs=1) == (False, True, [], True)
