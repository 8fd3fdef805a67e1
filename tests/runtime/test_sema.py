"""sema.py on its own: WaitQ, Sema (FIFO, direct handoff) and NotifyList (tickets).

Fast and in-process (mutation testing runs this file against sema.py).  The
goroutine tests use procs=1, so "parked in this order" is the spawn order.
"""

import threading

import gpm
from tests.support import Sudog, rsema

REASON = rsema.WaitReason.SEMACQUIRE


def _parked(q, n):
    """Yield until WaitQ/deque ``q`` holds ``n`` waiters (procs=1: each gosched runs the others)."""
    for _ in range(10000):
        if len(q) >= n:
            return
        gpm.gosched()
    raise AssertionError(f"deadlock: {len(q)} of {n} waiters parked")


# -- WaitQ ---------------------------------------------------------------------

def test_waitq_fifo_first_drain_and_lifo():
    q = rsema.WaitQ()
    assert not q and len(q) == 0 and q.first() is None and q.dequeue() is None
    a, b, c = (Sudog(None, None) for _ in range(3))
    q.q.extend([a, b])
    q.q.appendleft(c)
    assert q and len(q) == 3 and q.first() is c
    assert q.dequeue() is c
    assert q.drain() == [a, b]
    assert not q and q.drain() == []


def test_waitq_park_stores_elem_and_honours_lifo():
    def main():
        lock = rsema.new_lock("sema")
        q = rsema.WaitQ()
        got = gpm.Chan(3)

        def waiter(name, lifo):
            lock.acquire()
            sg = q.park(lock, REASON, elem=name, lifo=lifo)
            got.send((name, sg.ok))

        gpm.go(waiter, "a", False)
        _parked(q, 1)
        gpm.go(waiter, "b", False)
        _parked(q, 2)
        gpm.go(waiter, "c", True)                   # a requeued waiter goes first
        _parked(q, 3)
        lock.acquire()
        assert [sg.elem for sg in q.q] == ["c", "a", "b"]
        sgs = q.drain()
        lock.release()
        rsema.wake_all(sgs)
        return sorted(got.recv() for _ in range(3))
    assert gpm.run(main, procs=1) == [("a", True), ("b", True), ("c", True)]


# -- Sema ------------------------------------------------------------------------

def test_sema_counts_tokens_without_waiters():
    s = rsema.Sema(2)
    assert s.try_acquire() and s.try_acquire()
    assert not s.try_acquire()
    s.semrelease()
    assert s.count == 1
    s.semacquire(REASON)                            # a free token: returns at once
    assert s.count == 0


def test_sema_hands_tokens_to_waiters_in_fifo_order():
    def main():
        s = rsema.Sema(0)
        order = gpm.Chan(3)
        for i in range(3):
            gpm.go(lambda i=i: (s.semacquire(REASON), order.send(i)))
            _parked(s.waiters, i + 1)
        out = []
        for _ in range(3):
            s.semrelease()
            assert s.count == 0                     # handed over, not counted
            out.append(order.recv())
        return out
    assert gpm.run(main, procs=1) == [0, 1, 2]


def test_sema_newcomer_never_overtakes_a_waiter():
    def main():
        s = rsema.Sema(0)
        got = gpm.Chan(1)
        gpm.go(lambda: (s.semacquire(REASON), got.send("waiter")))
        _parked(s.waiters, 1)
        s.semrelease()                              # the token belongs to the waiter now
        took = s.try_acquire()                      # before the waiter even ran
        return took, got.recv(), s.count
    assert gpm.run(main, procs=1) == (False, "waiter", 0)


def test_sema_try_acquire_fails_while_someone_waits():
    def main():
        s = rsema.Sema(0)
        gpm.go(lambda: s.semacquire(REASON))
        _parked(s.waiters, 1)
        s.count = 1                                 # as if a token appeared: still not ours
        r = s.try_acquire()
        s.count = 0
        s.semrelease()
        return r
    assert gpm.run(main, procs=1) is False


def test_sema_from_a_plain_thread():
    s = rsema.Sema(0)
    done = threading.Event()

    def acquirer():
        s.semacquire(REASON)
        done.set()

    t = threading.Thread(target=acquirer)
    t.start()
    for _ in range(20000):
        if len(s.waiters):
            break
        threading.Event().wait(0.0005)
    assert len(s.waiters) == 1 and not done.is_set()
    s.semrelease()
    t.join(10)
    assert done.is_set() and s.count == 0


# -- NotifyList ------------------------------------------------------------------

def test_notify_before_wait_is_not_lost():
    n = rsema.NotifyList()
    t0, t1 = n.add(), n.add()
    assert (t0, t1) == (0, 1)
    n.notify_one()                                  # for t0, before it waits
    n.wait(t0, REASON)                              # returns at once
    assert n.notify_ticket == 1 and n.wait_ticket == 2


def test_notify_one_wakes_the_oldest_ticket():
    def main():
        n = rsema.NotifyList()
        got = gpm.Chan(3)
        for name in "abc":
            t = n.add()
            gpm.go(lambda t=t, name=name: (n.wait(t, REASON), got.send(name)))
            _parked(n.waiters, len(n.waiters) + 1)
        n.notify_one()
        first = got.recv()
        n.notify_all()
        rest = sorted(got.recv() for _ in range(2))
        return first, rest, n.notify_ticket, n.wait_ticket
    assert gpm.run(main, procs=1) == ("a", ["b", "c"], 3, 3)


def test_notify_with_no_ticket_outstanding_is_a_no_op():
    n = rsema.NotifyList()
    n.notify_one()
    n.notify_all()
    assert n.notify_ticket == 0 and n.wait_ticket == 0
    t = n.add()
    assert t == 0


def test_withdrawn_tickets_are_skipped_by_notify():
    def main():
        n = rsema.NotifyList()
        t0 = n.add()
        t1 = n.add()
        got = gpm.Chan(1)
        gpm.go(lambda: (n.wait(t1, REASON), got.send("t1")))
        _parked(n.waiters, 1)
        n.withdraw(t0)                              # t0's caller gave up before waiting
        n.notify_one()                              # must reach t1, not be spent on t0
        return got.recv(), n.notify_ticket
    assert gpm.run(main, procs=1) == ("t1", 2)


def test_withdraw_of_the_newest_ticket_unissues_it():
    n = rsema.NotifyList()
    n.add()
    t1 = n.add()
    n.withdraw(t1)
    assert n.wait_ticket == 1 and not n.withdrawn


def test_withdraw_of_a_notified_ticket_passes_the_signal_on():
    def main():
        n = rsema.NotifyList()
        t0, t1 = n.add(), n.add()
        got = gpm.Chan(1)
        gpm.go(lambda: (n.wait(t1, REASON), got.send("t1")))
        _parked(n.waiters, 1)
        n.notify_one()                              # meant for t0 ...
        n.withdraw(t0)                              # ... which will not wait: t1 gets it
        return got.recv()
    assert gpm.run(main, procs=1) == "t1"
