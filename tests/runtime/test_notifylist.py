"""gpm._runtime.sema's NotifyList (Cond's tickets), driven directly: procs=1,
and each waiter is spawned only after the previous one parked, so every
ticket and queue state below is exact."""

import pytest

import gpm
from tests.support import internal_g, rsema

R = rsema.WaitReason.SEMACQUIRE


def settle(pred, what):
    """gosched until ``pred()`` (the spawned goroutines ran and parked)."""
    for _ in range(1000):
        if pred():
            return
        gpm.gosched()
    raise AssertionError(what)


def spawn_in_order(q, calls):
    """Spawn ``fn(*args)`` for each of ``calls``, each after the previous one
    parked (``len(q)`` grew): they queue in this order."""
    gs = []
    for fn, *args in calls:
        n = len(q)
        gs.append(gpm.go(fn, *args))
        settle(lambda n=n: len(q) == n + 1, "a waiter did not park")
    return gs


def test_notifylist_tickets():
    def main():
        nl = rsema.NotifyList()
        woke = []
        assert [nl.add(), nl.add()] == [0, 1]

        def w(t):
            nl.wait(t, R)
            woke.append(t)
        gs = spawn_in_order(nl.waiters, [(w, 0), (w, 1)])
        nl.notify_one()                    # the oldest ticket first
        gs[0].join()
        assert woke == [0] and nl.notify_ticket == 1
        nl.notify_one()
        gs[1].join()
        assert woke == [0, 1] and nl.notify_ticket == 2
        nl.notify_one()                    # nobody holds a ticket: nothing is saved for later
        assert nl.notify_ticket == 2
        t = nl.add()
        assert t == 2
        g = gpm.go(w, t)
        settle(lambda: len(nl.waiters) == 1, "the waiter did not park")
        assert woke == [0, 1]              # parked: the earlier notify was not kept
        nl.notify_one()
        g.join()
        # a ticket notified before its wait: wait returns at once
        t = nl.add()
        nl.notify_one()
        nl.wait(t, R)
        return woke, nl.notify_ticket, nl.wait_ticket
    assert gpm.run(main, procs=1) == ([0, 1, 2], 4, 4)


def test_notifylist_notify_all():
    def main():
        nl = rsema.NotifyList()
        woke = []

        def w():
            nl.wait(nl.add(), R)
            woke.append(1)
        gs = [gpm.go(w) for _ in range(3)]
        settle(lambda: len(nl.waiters) == 3, "waiters did not park")
        nl.notify_all()
        for g in gs:
            g.join()
        nl.notify_all()                    # none: harmless
        return len(woke), nl.notify_ticket, nl.wait_ticket, len(nl.waiters)
    assert gpm.run(main, procs=1) == (3, 3, 3, 0)


def test_notifylist_withdraw():
    def main():
        nl = rsema.NotifyList()
        woke = []

        def w(t):
            nl.wait(t, R)
            woke.append(t)
        t0 = nl.add()
        nl.withdraw(t0)                    # the newest ticket: un-issued
        assert nl.wait_ticket == 0 and nl.withdrawn is None
        t0, t1 = nl.add(), nl.add()
        nl.withdraw(t0)                    # an older one: skipped by the next notify
        assert nl.withdrawn == {0} and nl.wait_ticket == 2
        g1 = gpm.go(w, t1)
        settle(lambda: len(nl.waiters) == 1, "the waiter did not park")
        nl.notify_one()
        g1.join()
        assert woke == [1] and nl.notify_ticket == 2 and not nl.withdrawn
        # withdrawn after being notified: the notification goes to the next ticket
        t2, t3 = nl.add(), nl.add()
        g3 = gpm.go(w, t3)
        settle(lambda: len(nl.waiters) == 1, "the waiter did not park")
        nl.notify_one()                    # spent on t2, whose owner never waits
        assert woke == [1]
        nl.withdraw(t2)
        g3.join()
        assert woke == [1, 3]
        # stale withdrawn tickets (< notify_ticket) are dropped when a new one is added
        t4, t5, t6 = nl.add(), nl.add(), nl.add()
        nl.withdraw(t4)
        nl.notify_ticket = t5              # (t4 was consumed)
        nl.withdraw(t5)
        return nl.withdrawn, nl.wait_ticket, t6
    assert gpm.run(main, procs=1) == ({5}, 7, 6)


@pytest.mark.parametrize("n", [1, 3])
def test_notify_one_skips_several_withdrawn_tickets(n):
    def main():
        nl = rsema.NotifyList()
        ts = [nl.add() for _ in range(n)]
        last = nl.add()
        for t in ts:
            nl.withdraw(t)
        woke = []
        g = gpm.go(lambda: (nl.wait(last, R), woke.append(last)))
        settle(lambda: len(nl.waiters) == 1, "the waiter did not park")
        nl.notify_one()
        g.join()
        return woke, nl.notify_ticket
    assert gpm.run(main, procs=1) == ([n], n + 1)


def test_waiters_park_with_their_wait_reason():
    def main():
        nl = rsema.NotifyList()
        s = rsema.Sema(0)
        g1 = gpm.go(nl.wait, nl.add(), rsema.WaitReason.COND_WAIT)
        settle(lambda: len(nl.waiters) == 1, "the Cond waiter did not park")
        g2 = gpm.go(s.semacquire, R)
        settle(lambda: len(s.waiters) == 1, "the sema waiter did not park")
        reasons = (internal_g(g1).waitreason, internal_g(g2).waitreason)
        nl.notify_all()
        s.semrelease()
        g1.join()
        g2.join()
        return reasons
    assert gpm.run(main, procs=1) == (rsema.WaitReason.COND_WAIT, R)


def test_sema_starts_empty_and_counts_each_release():
    s = rsema.Sema()
    assert not s.try_acquire() and s.count == 0
    s.semrelease()
    s.semrelease()
    assert s.count == 2
    s.semacquire(R)                        # free tokens, nobody waiting: neither call parks
    s.semacquire(R)
    assert s.count == 0


def test_withdraw_removes_a_queued_sudog_once():
    import collections
    lock = rsema.new_lock()
    a, b = object(), object()
    q = collections.deque([a, b])
    assert rsema._withdraw(lock, q, a) is True and list(q) == [b]
    assert rsema._withdraw(lock, q, a) is False       # a waker dequeued it first
    assert lock.acquire(False)                         # released on both paths
    lock.release()
