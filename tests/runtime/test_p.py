"""Model-based tests of the P run queue (ring + runnext + pinned overflow + timerq).

The model tracks where every G is and the order in which Gs entered the tail
of the queue; after every rule: no G lost or duplicated, the queue is FIFO in
tail order, overflow holds only pinned Gs and only behind a full ring, nfree
counts the free Gs in the ring, and a steal takes n - n//2 of the free Gs,
oldest first, never a pinned one; timer-readied Gs (timerq) run in fire
order ahead of the ring, at most TIMERQ_BURST in a row while the ring holds Gs.
"""

import itertools

import pytest

from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tests.support import FakeG, RunQueue, TIMERQ_BURST, examples

CAP = 4      # tiny ring: overflow and wrap-around happen in every run


class RunQueueMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.q = RunQueue(capacity=CAP)
        self.ids = itertools.count()
        self.tailseq = {}            # G -> order it entered the tail
        self.seq = itertools.count()
        self.glob = []               # Gs handed to the global queue
        self.out = []                # Gs taken by get() or grab()
        self.made = []
        self.ops = 0                 # rules run (bounds the re-pack work)
        self.timed = []              # Gs put into timerq, in order

    def _new(self, pinned):
        g = FakeG(next(self.ids), pinned)
        self.made.append(g)
        return g

    def _note_tail(self, g):
        self.tailseq[g] = next(self.seq)

    @rule(pinned=st.booleans(), nxt=st.booleans())
    def put(self, pinned, nxt):
        g = self._new(pinned)
        before_next = self.q.runnext
        if nxt:
            if before_next is not None:
                self._note_tail(before_next)
        else:
            self._note_tail(g)
        batch = self.q.put(g, nxt)
        if batch:
            assert all(x.pp is None for x in batch), "pinned G sent to the global queue"
            self.glob.extend(batch)
        if nxt:
            assert self.q.runnext is g

    @rule(k=st.integers(min_value=1, max_value=3 * CAP))
    def extend(self, k):
        """goready_list: a batch of readied (pinned) Gs forwarded home at once."""
        gs = [self._new(True) for _ in range(k)]
        for g in gs:
            self._note_tail(g)
        self.q._extend(gs)

    @rule(k=st.integers(min_value=1, max_value=2 * CAP))
    def put_timed(self, k):
        """This P's timers readied a batch (pinned Gs, in fire order)."""
        gs = [self._new(True) for _ in range(k)]
        self.timed.extend(gs)
        self.q.put_timed(gs)

    @rule(runnext_ok=st.booleans())
    def get(self, runnext_ok):
        local = self._local()
        nxt = self.q.runnext
        tq = list(self.q.timerq)
        jumped = self.q.jumped
        gp, inherit = self.q.get(runnext_ok)
        if gp is None:
            assert nxt is None and not local and not tq
            return
        if nxt is not None and (runnext_ok or (not local and not tq)):
            assert gp is nxt and inherit
        elif tq and (jumped < TIMERQ_BURST or not local):
            assert gp is tq[0] and not inherit, "timerq runs first, in fire order"
            if nxt is not None and self.q.runnext is None:
                self._note_tail(nxt)
        else:
            assert not inherit
            assert gp is local[0], "the oldest G must run first"
            if nxt is not None:
                if self.q.runnext is None:
                    self._note_tail(nxt)          # demoted behind the queue
                else:
                    assert nxt.pp is None and len(self.q) >= CAP
        self.out.append(gp)

    @rule(runnext_ok=st.booleans())
    def yield_get(self, runnext_ok):
        """gosched's fast path: the running (pinned) G requeues and the next one is taken."""
        g = self._new(True)
        local = self._local()
        nxt = self.q.runnext
        r = self.q.yield_get(g, runnext_ok)
        demoted = nxt is not None and not runnext_ok and self.q.runnext is None
        if demoted:
            self._note_tail(nxt)
        if r is None:
            # no room, or timerq Gs to run first: gosched falls back to put + get
            assert len(self._local()) >= CAP or self.q.timerq
            self._note_tail(g)
            batch = self.q.put(g)
            if batch:
                self.glob.extend(batch)
            return
        got, inherit = r
        if nxt is not None and runnext_ok:
            assert got is nxt and inherit
        elif local or demoted:
            assert not inherit
            assert got is (local + ([nxt] if demoted else []))[0], "the oldest G must run first"
        else:
            assert got is g, "with nothing else queued the yielding G runs again"
        if got is not g:
            self._note_tail(g)
        self.out.append(got)

    @rule(steal_runnext=st.booleans())
    def grab(self, steal_runnext):
        ring = self._ring()
        free = [g for g in ring if g.pp is None]
        nxt = self.q.runnext
        got = self.q.grab(steal_runnext)
        if free:
            want = len(free) - len(free) // 2
            assert got == free[:want], "steal must take the oldest half (rounded up) of the free Gs"
        elif steal_runnext and nxt is not None and nxt.pp is None:
            assert got == [nxt]
        else:
            assert got == []
        self.out.extend(got)

    def _ring(self):
        q = self.q
        return [q.buf[i % q.cap] for i in range(q.head, q.tail)]

    def _local(self):
        return self._ring() + list(self.q.overflow)

    @invariant()
    def bounded_repack_work(self):
        """Each operation re-packs at most one ring, never the overflow."""
        self.ops += 1
        assert self.q.repacked <= CAP * self.ops

    @invariant()
    def conservation(self):
        places = self.q.snapshot() + self.glob + self.out
        assert len(places) == len(set(map(id, places))), "a G is in two places"
        assert sorted(g.n for g in places) == sorted(g.n for g in self.made), "a G was lost"

    @invariant()
    def fifo(self):
        local = self._local()
        seqs = [self.tailseq[g] for g in local]
        assert seqs == sorted(seqs), f"queue not FIFO: {local}"

    @invariant()
    def shape(self):
        q = self.q
        assert 0 <= q.tail - q.head <= q.cap
        assert all(g.pp is not None for g in q.overflow), "a free G in overflow"
        if q.overflow:
            assert q.tail - q.head == q.cap, "overflow used while the ring has room"
        assert q.nfree == sum(1 for g in self._ring() if g.pp is None)
        assert len(q) == len(self._local()) + len(q.timerq)
        tq = list(q.timerq)
        assert tq == [g for g in self.timed if g in set(tq)], "timerq out of fire order"
        assert all(g.pp is not None for g in tq), "a free G in timerq"


TestRunQueue = RunQueueMachine.TestCase
TestRunQueue.settings = settings(max_examples=examples(250), stateful_step_count=60, deadline=None)
TestRunQueue.pytestmark = [pytest.mark.timeout(300)]    # ~20 s alone; minutes on a loaded 2-core box


def test_putslow_moves_half_plus_new_to_global():
    """Go's runqputslow: a full ring of free Gs sends half of it plus the new G."""
    q = RunQueue(capacity=8)
    gs = [FakeG(i, False) for i in range(8)]
    for g in gs:
        assert q.put(g) is None
    new = FakeG(99, False)
    batch = q.put(new)
    assert batch == gs[:4] + [new]
    assert q.snapshot() == gs[4:]


def test_pinned_gs_survive_overflow_in_order():
    q = RunQueue(capacity=4)
    gs = [FakeG(i, True) for i in range(10)]
    for g in gs:
        assert not q.put(g)
    assert q.snapshot() == gs
    got = [q.get()[0] for _ in range(10)]
    assert got == gs
    assert q.get() == (None, False)


def test_steal_never_takes_pinned():
    q = RunQueue(capacity=16)
    gs = [FakeG(i, i % 2 == 0) for i in range(10)]    # 5 pinned, 5 free
    for g in gs:
        q.put(g)
    got = q.grab()
    assert [g.n for g in got] == [1, 3, 5]
    assert [g.n for g in q.snapshot()] == [0, 2, 4, 6, 7, 8, 9]


# -- cost of mass wake-ups (issue 8, bug 6) ----------------------------------
#
# Readying N pinned Gs on one P used to re-pack the whole pinned overflow on
# every put (O(N) each, O(N^2) in all: closing a channel with 250k parked
# goroutines took 580 s).  ``RunQueue.repacked`` counts the G slots that
# re-packs rewrite; these tests bound it, so they check the amount of work,
# not the time it takes.


def test_readying_pinned_gs_into_a_full_ring_repacks_nothing():
    q = RunQueue(capacity=4)
    n = 5000
    for i in range(n):
        assert not q.put(FakeG(i, True), True)     # goready on the home P: runnext
    for i in range(n, 2 * n):
        assert not q.put(FakeG(i, True))           # gosched
    assert q.repacked == 0
    assert len(q) == 2 * n - 1 and q.runnext.n == n - 1


def test_extend_appends_pinned_batch_in_order():
    q = RunQueue(capacity=4)
    first = [FakeG(i, True) for i in range(3)]
    q._extend(first)
    more = [FakeG(i, True) for i in range(3, 1000)]
    q._extend(more)
    assert q.snapshot() == first + more
    assert q.tail - q.head == 4 and len(q.overflow) == 996 and q.repacked == 0


def test_free_puts_and_steals_beside_a_long_overflow_stay_linear():
    """Free Gs put behind 10k pinned ones and stolen: each operation re-packs
    at most one ring, never the overflow."""
    q = RunQueue(capacity=4)
    for i in range(10000):
        q.put(FakeG(i, True))
    ops = 0
    for i in range(2000):
        q.get()
        q.put(FakeG(-i, False))
        q.grab()
        ops += 3
    assert q.repacked <= 4 * ops


# -- exact cases for make mutants (docs/HACKING.md) ---------------------------

def _check(q):
    """The RunQueue invariants (module doc of p.py)."""
    ring = [q.buf[i % q.cap] for i in range(q.head, q.tail)]
    assert None not in ring and len(q.buf) == q.cap
    assert q.nfree == sum(1 for g in ring if g.pp is None)
    assert not q.overflow or q.tail - q.head == q.cap
    assert all(g.pp is not None for g in q.overflow)


def test_putslow_with_an_odd_ring_moves_half_rounded_down_plus_new():
    q = RunQueue(capacity=5)
    gs = [FakeG(i, False) for i in range(5)]
    for g in gs:
        q.put(g)
    new = FakeG(99, False)
    assert q.put(new) == gs[:2] + [new]               # 5 // 2 = 2, plus the new G
    assert q.snapshot() == gs[2:]
    _check(q)


def test_putslow_after_the_head_moved_takes_half_of_the_ring():
    q = RunQueue(capacity=4)
    gs = [FakeG(i, False) for i in range(5)]
    for g in gs[:4]:
        q.put(g)
    assert q.get() == (gs[0], False)                  # head = 1
    q.put(gs[4])                                      # full again: tail = 5
    new = FakeG(99, False)
    assert q.put(new) == gs[1:3] + [new]
    assert q.snapshot() == gs[3:]
    _check(q)


def test_putslow_of_a_pinned_g_with_free_gs_in_the_ring():
    q = RunQueue(capacity=4)
    free = [FakeG(i, False) for i in range(4)]
    for g in free:
        q.put(g)
    pinned = FakeG(9, True)
    assert q.put(pinned) == free[:2]                  # half the free Gs leave; gp stays
    assert q.snapshot() == free[2:] + [pinned] and not q.overflow
    _check(q)


def test_steal_beside_a_pinned_overflow_refills_the_ring_from_it():
    """A full ring of free Gs, then pinned Gs forwarded home (goready_list's
    _extend) into the overflow: a steal re-packs the ring and refills it from
    the overflow's head, in order, as far as it fits."""
    q = RunQueue(capacity=4)
    free = [FakeG(i, False) for i in range(4)]
    pinned = [FakeG(10 + i, True) for i in range(3)]
    for g in free:
        q.put(g)
    q._extend(pinned)
    assert list(q.overflow) == pinned
    assert q.grab() == free[:2]
    assert q.snapshot() == free[2:] + pinned
    assert [q.buf[i] for i in range(4)] == free[2:] + pinned[:2]
    assert list(q.overflow) == pinned[2:] and q.head == 0 and q.tail == 4 and q.nfree == 2
    assert q.repacked == 4                            # the work counter: 4 slots rewritten
    assert q.grab() == free[2:3]
    assert q.snapshot() == free[3:] + pinned and q.repacked == 8
    _check(q)


def test_put_batch_fills_the_ring_then_spills_free_and_overflows_pinned():
    q = RunQueue(capacity=4)
    a = [FakeG(0, False), FakeG(1, True), FakeG(2, False)]
    assert q.put_batch(a) == []
    assert q.snapshot() == a and q.nfree == 2
    b = [FakeG(3, True), FakeG(4, False), FakeG(5, True), FakeG(6, False)]
    assert q.put_batch(b) == [b[1], b[3]]             # the ring is full after b[0]
    assert q.snapshot() == a + [b[0], b[2]] and list(q.overflow) == [b[2]]
    assert q.nfree == 2
    _check(q)


def test_put_batch_after_the_head_moved():
    q = RunQueue(capacity=4)
    for i in range(3):
        q.put(FakeG(i, False))
    for _ in range(3):
        q.get()                                        # empty, head = tail = 3
    gs = [FakeG(10 + i, False) for i in range(4)]
    assert q.put_batch(gs) == []
    assert q.snapshot() == gs and q.nfree == 4
    _check(q)


def test_put_batch_into_a_full_ring_overwrites_nothing():
    q = RunQueue(capacity=4)
    gs = [FakeG(i, False) for i in range(4)]
    for g in gs:
        q.put(g)
    extra = FakeG(9, False)
    assert q.put_batch([extra]) == [extra]
    assert q.snapshot() == gs and q.nfree == 4
    _check(q)


class _Rng:
    """random.Random stand-in: ``random()`` returns the given values in turn."""

    def __init__(self, *xs):
        self.xs = list(xs)

    def random(self):
        return self.xs.pop(0)


@pytest.mark.parametrize("pinned", [True, False])
def test_perturb_may_move_runnext_behind_the_ring(pinned):
    q = RunQueue(capacity=4)
    a, b, r = FakeG(0, False), FakeG(1, True), FakeG(2, pinned)
    q.put(a)
    q.put(b)
    q.put(r, next=True)
    rng = _Rng(0.49, 0.0)                              # move runnext; swap the head with itself
    q.perturb(rng)
    assert q.runnext is None and q.snapshot() == [a, b, r] and rng.xs == []
    _check(q)


def test_perturb_swaps_the_head_with_a_random_entry():
    q = RunQueue(capacity=4)
    gs = [FakeG(i, i == 1) for i in range(3)]
    r = FakeG(9, True)
    for g in gs:
        q.put(g)
    q.put(r, next=True)
    q.perturb(_Rng(0.5, 0.99))                         # keep runnext; swap head and entry 2
    assert q.runnext is r and q.snapshot() == [r, gs[2], gs[1], gs[0]]
    _check(q)


def test_perturb_indexes_the_ring_modulo_its_size():
    q = RunQueue(capacity=4)
    gs = [FakeG(i, False) for i in range(6)]
    for g in gs[:3]:
        q.put(g)
    for _ in range(3):
        q.get()                                        # head = 3: the ring wraps
    for g in gs[3:]:
        q.put(g)
    q.perturb(_Rng(0.34))                              # no runnext: one draw; j = head + 1
    assert q.snapshot() == [gs[4], gs[3], gs[5]]
    _check(q)


def test_perturb_leaves_a_single_g_and_a_free_runnext_of_a_full_ring():
    q = RunQueue(capacity=4)
    one = FakeG(0, False)
    q.put(one)
    q.perturb(_Rng())                                  # nothing to draw for
    assert q.snapshot() == [one]
    full = RunQueue(capacity=4)
    gs = [FakeG(i, False) for i in range(4)]
    for g in gs:
        full.put(g)
    r = FakeG(9, False)
    full.put(r, next=True)
    full.perturb(_Rng(0.0, 0.0))                       # a free G cannot join an overflow
    assert full.runnext is r and full.snapshot() == [r] + gs and not full.overflow
    p = FakeG(10, True)
    full.runnext = p
    full.perturb(_Rng(0.0, 0.0))                       # a pinned one can
    assert full.runnext is None and list(full.overflow) == [p]
    _check(full)


def test_perturb_swaps_two_and_moves_a_free_runnext_after_the_head_moved():
    q = RunQueue(capacity=4)
    gs = [FakeG(i, False) for i in range(5)]
    for g in gs[:3]:
        q.put(g)
    q.get()                                            # head = 1: 2 queued, room for more
    r = FakeG(9, False)
    q.put(r, next=True)
    q.perturb(_Rng(0.0, 0.99))                         # free runnext fits: it moves; then a swap
    assert q.runnext is None and q.snapshot() == [r, gs[2], gs[1]]   # head <-> entry 2 (r)
    two = RunQueue(capacity=4)
    two.put(gs[3])
    two.put(gs[4])
    two.perturb(_Rng(0.99))                            # two queued: they may swap
    assert two.snapshot() == [gs[4], gs[3]]
    _check(q)
    _check(two)


def test_get_after_the_head_moved_still_sends_a_used_up_free_runnext_behind():
    """The ring's room is ``tail - head``, whatever their absolute values: a
    free runnext whose slice is used up goes behind the ring while there is
    room, also after many puts and gets (mutant: ``tail + head < cap``)."""
    q = RunQueue(8)
    for i in range(20):                       # head and tail advance past cap
        q.put(FakeG(i, False))
        assert q.get()[0].n == i
    a, c = FakeG(100, False), FakeG(101, False)
    q.put(a)
    q.put(c, True)
    assert q.get(False) == (a, False)
    assert q.runnext is None and q.snapshot() == [c]


def test_timerq_runs_ahead_of_never_run_gs_in_fire_order():
    q = RunQueue(capacity=CAP)
    ring = [FakeG(i, False) for i in range(3)]
    for g in ring:
        q.put(g)
    timed = [FakeG(10 + i, True) for i in range(3)]
    q.put_timed(timed[:2])
    q.put_timed(timed[2:])
    assert [q.get()[0] for _ in range(6)] == timed + ring


def test_a_timer_storm_cannot_starve_the_ring():
    """Timers readying a G before every get (a ticker storm): a ring G still runs
    after at most TIMERQ_BURST timerq Gs, and every ring G runs in FIFO order."""
    q = RunQueue(capacity=CAP)
    ring = [FakeG(i, False) for i in range(3)]
    for g in ring:
        q.put(g)
    ran = []
    for i in range(3 * (TIMERQ_BURST + 1) + 5):
        q.put_timed([FakeG(100 + i, True)])
        ran.append(q.get()[0])
    pos = [ran.index(g) for g in ring]
    assert pos == [TIMERQ_BURST, 2 * TIMERQ_BURST + 1, 3 * TIMERQ_BURST + 2]
