"""select.py on its own: the claim protocol, poll order, validation, the pass-2 retry.

Fast and in-process (mutation testing runs this file against select.py and chan.py).
Plain-thread selects with no runtime draw their poll order from ``random``,
seeded here, so every count below is deterministic.
"""

import collections
import random
import threading
import types

import pytest

import gpm
from tests.support import Sudog, rchan, rlocks


def _select_sudog():
    """A select Sudog as select's pass 2 makes it: its claim not yet taken."""
    sg = Sudog(None, rlocks.new_sema())
    sg.sema.acquire()                                 # held until woken, as a waiting thread's
    sg.isselect = True
    sg.sel = [rlocks.new_sema(), None]
    return sg


def _lost(sg):
    """Mark ``sg`` as a select Sudog whose claim some other waker already won."""
    sg.sel[0].acquire()
    return sg


# -- claim and dequeue ---------------------------------------------------------

def test_claim_is_won_exactly_once():
    sg = _select_sudog()
    other = Sudog(None, None)
    other.isselect, other.sel = True, sg.sel         # a second case of the same select
    assert rchan.claim(sg) is True
    assert sg.sel[1] is sg
    assert rchan.claim(other) is False
    assert rchan.claim(sg) is False
    assert sg.sel[1] is sg                            # the winner is not overwritten


def test_dequeue_skips_lost_select_sudogs_and_keeps_fifo():
    plain1, plain2 = Sudog(None, None), Sudog(None, None)
    lost, live = _lost(_select_sudog()), _select_sudog()
    q = collections.deque([lost, plain1, live, plain2])
    assert rchan.dequeue(q) is plain1                 # the lost one is dropped
    assert rchan.dequeue(q) is live and live.sel[1] is live
    assert rchan.dequeue(q) is plain2
    assert rchan.dequeue(q) is None and not q


def test_dequeue_of_only_lost_sudogs_empties_the_queue():
    q = collections.deque([_lost(_select_sudog()), _lost(_select_sudog())])
    assert rchan.dequeue(q) is None
    assert not q


def test_send_skips_a_lost_select_receiver():
    """A receiver Sudog whose select already fired elsewhere must not get the
    value: the send goes to the next live receiver (here: the buffer)."""
    ch = gpm.Chan(1)
    stale = _lost(_select_sudog())
    ch._recvq.append(stale)
    ch.send("v")
    assert stale.elem is None
    assert not ch._recvq and ch.recv() == "v"


def test_close_wakes_only_claimable_select_sudogs():
    ch = gpm.Chan()
    stale, live = _lost(_select_sudog()), _select_sudog()
    ch._recvq.extend([stale, live])
    ch.close()
    assert live.sel[1] is live and live.ok is False
    assert stale.ok is True                           # untouched: its select fired elsewhere
    assert live.sema.acquire(False)                   # woken (its semaphore released)
    assert not ch._recvq


# -- the choice among ready cases ------------------------------------------------

@pytest.mark.parametrize("n", [3, 7])
def test_select_chooses_uniformly_among_ready_cases(n):
    random.seed(5)
    chans = [gpm.Chan(1) for _ in range(n)]
    wins = collections.Counter()
    rounds = 300 * n
    for _ in range(rounds):
        for c in chans:
            if not len(c):
                c.send(0)
        i, _ = gpm.select(*[c.recv for c in chans])
        wins[i] += 1
    expect = rounds / n
    assert all(0.7 * expect <= wins[i] <= 1.3 * expect for i in range(n)), wins


def test_ready_case_wins_over_default_and_nil_cases():
    random.seed(1)
    ch = gpm.Chan(1)
    for _ in range(50):
        ch.send(7)
        assert gpm.select(gpm.nilchan.recv, gpm.default, ch.recv_ok) == (2, (7, True))
    assert gpm.select(gpm.nilchan.recv, gpm.default, ch.recv) == (1, None)


# -- validation happens before any case is tried ---------------------------------

@pytest.mark.parametrize("bad", [42, (print, 1), (gpm.Chan().recv, 1), gpm.Chan().close, (1,)])
def test_bad_case_after_a_ready_one_raises_before_anything_is_done(bad):
    ch = gpm.Chan(1)
    ch.send("kept")
    out = gpm.Chan(1)
    with pytest.raises(TypeError, match="case 2"):
        gpm.select(ch.recv, (out.send, "x"), bad)
    assert ch.recv() == "kept" and len(out) == 0


def test_two_defaults_raise():
    with pytest.raises(TypeError, match="more than one default"):
        gpm.select(gpm.default, gpm.default)


def test_send_case_on_closed_channel_raises():
    ch = gpm.Chan(1)
    ch.close()
    with pytest.raises(gpm.ClosedChannelError):
        gpm.select((ch.send, 1), gpm.default)


# -- pass 2: a false "ready" goes back to pass 1 --------------------------------

def test_stale_sudog_makes_pass_two_retry_not_fire():
    """A lost select Sudog in a's sendq makes recv_ready(a) true; select must
    drop it in the next pass 1 and then park, and get b's value (no
    livelock, no value invented from the stale Sudog)."""
    a, b = gpm.Chan(), gpm.Chan()
    stale = _lost(_select_sudog())
    stale.elem = "stale"
    a._sendq.append(stale)
    with a._lock:
        assert rchan.recv_ready(a)

    def sender():
        # b's receiver Sudog appears only once the select parked in pass 2.
        while not b._recvq:
            threading.Event().wait(0.0005)     # polls the condition, bounded below
        b.send("fresh")

    t = threading.Thread(target=sender)
    t.start()
    try:
        assert gpm.select(a.recv, b.recv) == (1, "fresh")
    finally:
        t.join(10)
    assert not a._sendq and not a._recvq and not b._recvq


def test_ready_predicates():
    c = gpm.Chan(1)
    with c._lock:
        assert not rchan.recv_ready(c) and rchan.send_ready(c)
    c.send(1)
    with c._lock:
        assert rchan.recv_ready(c) and not rchan.send_ready(c)
    u = gpm.Chan()
    with u._lock:
        assert not rchan.recv_ready(u) and not rchan.send_ready(u)
    u.close()
    with u._lock:
        assert rchan.recv_ready(u) and rchan.send_ready(u)


# -- pass 3: the losers are removed --------------------------------------------

def test_losing_sudogs_are_removed_after_the_wake():
    def main():
        a, b, c = gpm.Chan(), gpm.Chan(), gpm.Chan()
        got = gpm.Chan(1)
        gpm.go(lambda: got.send(gpm.select(a.recv, (b.send, 1), c.recv_ok)))
        while not (a._recvq and b._sendq and c._recvq):
            gpm.gosched()
        c.send("x")
        r = got.recv()
        return r, len(a._recvq), len(b._sendq), len(c._recvq)
    assert gpm.run(main, procs=1) == ((2, ("x", True)), 0, 0, 0)


def test_exactly_one_case_fires_when_two_become_ready():
    """Two wakers race for one parked select: one wins the claim, the other's
    value stays in its channel (buffered) or its sender stays blocked."""
    def main():
        a, b = gpm.Chan(), gpm.Chan()
        got = gpm.Chan(1)
        gpm.go(lambda: got.send(gpm.select(a.recv, b.recv)))
        while not (a._recvq and b._recvq):
            gpm.gosched()
        sent = gpm.Chan(2)
        gpm.go(lambda: (a.send("a"), sent.send("a")))
        gpm.go(lambda: (b.send("b"), sent.send("b")))
        i, v = got.recv()
        first = sent.recv()
        # The loser is still blocked in its send: receive its value to finish.
        other = (b if i == 0 else a).recv()
        second = sent.recv()
        return (i, v, first, other, second)
    i, v, first, other, second = gpm.run(main, procs=1)
    assert (i, v) in ((0, "a"), (1, "b"))
    assert first == v and {v, other} == {"a", "b"} and second == other


# -- the P's Sudog cache (Go's acquireSudog / releaseSudog) ----------------------

def test_reused_sudog_forgets_a_close():
    """A select woken by a close leaves ok=False in its Sudogs; the next select
    of that P reuses them and must not report its send as closed."""
    def main():
        a, b = gpm.Chan(), gpm.Chan()
        got = gpm.Chan(1)

        def first():
            got.send(gpm.select(a.recv_ok, b.recv_ok))
        gpm.go(first)
        while not (a._recvq and b._recvq):
            gpm.gosched()
        a.close()
        r1 = got.recv()
        c, d = gpm.Chan(), gpm.Chan()

        def second():
            got.send(gpm.select((c.send, "v"), d.recv))
        gpm.go(second)
        while not (c._sendq and d._recvq):
            gpm.gosched()
        v = c.recv()
        return r1, got.recv(), v
    assert gpm.run(main, procs=1) == ((0, (None, False)), (0, None), "v")


def test_cached_sudogs_keep_nothing_alive():
    """After a parked select returns, its Sudogs (back in the P's cache) hold
    neither the sent value, the channels nor the goroutine."""
    import gc
    import weakref

    class Val:
        pass

    def main():
        a, b = gpm.Chan(), gpm.Chan()
        got = gpm.Chan(1)
        v = Val()
        ref = weakref.ref(v)

        def sender(a, b, v):
            got.send(gpm.select((a.send, v), b.recv))
        gpm.go(sender, a, b, v)
        del v
        while not (a._sendq and b._recvq):
            gpm.gosched()
        a.recv()
        got.recv()
        bref = weakref.ref(b)
        del a, b
        gc.collect()
        return ref() is None, bref() is None
    assert gpm.run(main, procs=1) == (True, True)


def test_blocking_select_on_a_scheduler_greenlet_raises_with_no_lock_held():
    """A blocking select on a scheduler greenlet (a runtime bug) raises
    RuntimeError before pass 2 takes any channel lock: the channels stay usable."""
    import greenlet

    class Sched0(greenlet.greenlet):
        pp = types.SimpleNamespace(rng=random.Random(1))   # marks a scheduler greenlet (g0, timers)

    a, b = gpm.Chan(), gpm.Chan()
    out = []
    Sched0(lambda: out.append(pytest.raises(RuntimeError, gpm.select, a.recv, b.recv))).switch()
    assert "scheduler greenlet" in str(out[0].value)
    assert not a._lock.locked() and not b._lock.locked()
