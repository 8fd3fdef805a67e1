"""Model-based tests of the per-P timer heap (add / stop / reset / fire order).

Model: a dict timer -> deadline of the active one-shot timers.  check_timers(now)
must fire exactly the active timers with deadline <= now, in deadline order
(FIFO among equal deadlines), and keep ntimers/timer0 honest.
"""

import math

from hypothesis import settings, strategies as st
import pytest
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, precondition

from tests.support import P, examples, rtimers, run_prog

times = st.integers(min_value=0, max_value=50).map(float)


class TimerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.pp = P(None, 0)
        self.now = 0.0
        self.fired = []
        self.model = {}          # RTimer -> deadline
        self.armed_order = {}    # RTimer -> arm sequence (ties fire in arm order)
        self.seq = 0
        self.timers = []

    def _fire(self, arg, now):
        self.fired.append(arg)

    @rule(dt=times)
    def add(self, dt):
        t = rtimers.RTimer(self._fire, None)
        t.arg = t
        self.timers.append(t)
        rtimers.addtimer(t, self.now + dt, self.pp, self.pp)
        self.model[t] = self.now + dt
        self.seq += 1
        self.armed_order[t] = self.seq

    @precondition(lambda self: self.timers)
    @rule(i=st.integers(min_value=0, max_value=10 ** 6))
    def stop(self, i):
        t = self.timers[i % len(self.timers)]
        assert rtimers.deltimer(t) == (t in self.model)
        self.model.pop(t, None)

    @precondition(lambda self: self.timers)
    @rule(i=st.integers(min_value=0, max_value=10 ** 6), dt=times)
    def reset(self, i, dt):
        t = self.timers[i % len(self.timers)]
        was = rtimers.modtimer(t, self.now + dt, 0.0, self.pp, self.pp)
        assert was == (t in self.model)
        self.model[t] = self.now + dt
        self.seq += 1
        self.armed_order[t] = self.seq

    @rule(dt=times)
    def advance(self, dt):
        self.now += dt
        due = sorted((w, self.armed_order[t], t) for t, w in self.model.items() if w <= self.now)
        self.fired.clear()
        nxt = rtimers.check_timers(self.pp, self.now)
        assert self.fired == [t for _, _, t in due], "wrong timers fired, or wrong order"
        for _, _, t in due:
            del self.model[t]
        rest = min(self.model.values(), default=math.inf)
        assert nxt <= rest

    @invariant()
    def counts(self):
        assert self.pp.ntimers == len(self.model)
        assert self.pp.timer0 <= min(self.model.values(), default=math.inf)


TestTimerHeap = TimerMachine.TestCase
TestTimerHeap.settings = settings(max_examples=examples(200), stateful_step_count=50, deadline=None)
TestTimerHeap.pytestmark = [pytest.mark.timeout(300)]    # ~18 s alone; over 60 s at load 16 on 2 cores


def test_periodic_timer_drops_missed_ticks():
    pp = P(None, 0)
    fires = []
    t = rtimers.RTimer(lambda arg, now: fires.append(now), None)
    rtimers.modtimer(t, 1.0, 1.0, pp, pp)
    rtimers.check_timers(pp, 1.0)
    rtimers.check_timers(pp, 5.5)            # ticks at 2, 3, 4, 5 missed: one fire
    assert fires == [1.0, 5.5]
    assert t.when == 6.0
    assert rtimers.deltimer(t) and pp.ntimers == 0


def test_compaction_keeps_live_timers():
    pp = P(None, 0)
    ts = [rtimers.RTimer(lambda a, n: None) for _ in range(400)]
    for i, t in enumerate(ts):
        rtimers.addtimer(t, float(i), pp, pp)
    for t in ts[:300]:
        assert rtimers.deltimer(t)
    assert len(pp.timers) < 400, "dead entries were never compacted"
    assert pp.ntimers == 100
    assert pp.timer0 <= 300.0                 # a stale, early hint is allowed
    assert rtimers.check_timers(pp, 299.5) == 300.0
    assert pp.timer0 == 300.0


def test_timers_of_a_busy_p_fire_on_an_idle_one(monkeypatch):
    """Issue 8, bug 8: a with_timeout(0.1) made by a CPU-bound goroutine on P0
    must still wake its waiter parked on idle P1 (Go's stealWork runs other
    Ps' due timers).  It used to wake only when P0 next scheduled (2 s and
    more later).  Functional check: the waiter wakes while main, which armed
    the timer, has not yielded once; the spins are bounded by deadlines.

    Preemption off: main must hold P0 for the whole test.  Where preemption
    works (3.12+, 3.13t) a P1 that the loaded machine woke more than a time
    slice (10 ms) late found main preempted and the waiter already run on P0
    ({'p': 0, 'woke': True}: 2 of 5 targeted runs on 3.13t at load 3), and
    P0 then ran its own timers, which is not what this test is about.  (On
    3.13t M1 itself comes late: a Thread.start() made while another thread
    runs Python returns after 160-290 ms there, 0.3 ms on 3.13 with the GIL,
    measured without gpm; M1 then steals the waiter, 90-350 ms after main
    spawned it.)
    """
    import os
    import time

    monkeypatch.setenv("GPM_DEBUG", os.environ.get("GPM_DEBUG", "") + ",asyncpreemptoff=1")

    import gpm
    import gpm.context
    from tests.support import getg

    def main():
        box = gpm.Chan(1)
        state = {}

        def waiter():
            state["p"] = getg().pp.id
            ctx = box.recv()
            ctx.done().recv()
            state["woke"] = True

        gpm.go(waiter)
        end = time.monotonic() + 20
        while "p" not in state and time.monotonic() < end:
            pass          # main holds P0, so P1 steals the waiter
        ctx, cancel = gpm.context.with_timeout(gpm.context.background(), 0.1)
        box.send(ctx)     # the timer lives on P0, the waiter parks on P1
        end = time.monotonic() + 20
        while "woke" not in state and time.monotonic() < end:
            pass          # CPU-bound: P0 never runs its own timers
        cancel()
        return state

    state = gpm.run(main, procs=2)
    assert state.get("p") == 1
    assert state.get("woke"), "the timer of a busy P never fired"


def test_two_ms_firing_one_p_claim_each_due_timer_once():
    """The claim protocol on a bare heap: the owner's check_timers and an idle
    M's steal (run_timers) race over the same due timers; each timer is popped
    and disarmed under the P's timers lock, so every callback runs exactly once
    whichever M fires it."""
    import threading

    pp = P(None, 0)
    fired = []
    ts = []
    for i in range(2000):
        t = rtimers.RTimer(lambda arg, now: fired.append(arg), i)
        rtimers.addtimer(t, float(i % 50), pp, pp)
        ts.append(t)
    go = threading.Barrier(2)

    def fire(f):
        go.wait()
        for now in range(50):
            f(pp, float(now))

    th = threading.Thread(target=fire, args=(rtimers.run_timers,))
    th.start()
    fire(rtimers.check_timers)
    th.join()
    assert sorted(fired) == list(range(2000))
    assert pp.ntimers == 0 and pp.timer0 == math.inf


def test_sleep_timer_fired_by_another_m_at_once_wakes_the_sleeper(monkeypatch):
    """Bug: gpm.sleep armed its timer and only then parked (RUNNING -> WAITING).
    Since idle Ms fire busy Ps' timers (steal_timers), another M could fire a
    short sleep's timer in between: goready on a RUNNING goroutine, a fatal
    casgstatus error under checks=1 (seen in test_stress_tool on 3.11/3.12).
    Deterministic replay: the moment sleep's timer is armed, a plain thread
    (another M) fires the sleeper's P's timers due by the sleep's deadline and
    is joined before the sleeper goes on.  The sleep must arm only once parked.
    """
    import threading

    import gpm
    from tests.support import rapi as api

    real = api.modtimer
    steals = []

    def modtimer_then_steal(t, when, period, pp=None, waker_pp=None):
        was = real(t, when, period, pp, waker_pp)
        if t.f is api._sleep_fire:
            th = threading.Thread(target=lambda: steals.append(rtimers.run_timers(t.pp, when)))
            th.start()
            th.join()
        return was

    monkeypatch.setattr(api, "modtimer", modtimer_then_steal)

    def main():
        for _ in range(3):
            gpm.sleep(0.001)
        return "woke"

    # procs=1: the thread is the only other M (at procs=2 P1's M may steal the
    # timer first, which is correct but would make the count below racy).
    assert gpm.run(main, procs=1) == "woke"
    assert steals == [1, 1, 1]


_SLEEPERS_SRC = """
import sys
import gpm, gpm.sync
sys.setswitchinterval(1e-5)          # frequent GIL handoffs widen the arm-then-park window
def main():
    wg = gpm.sync.WaitGroup()
    def sleeper(i):
        for k in range(4):
            gpm.sleep(0.0001 * ((i + k) % 3))
        wg.done()
    for b in range(40):              # bursts: Ms keep going idle and stealing timers
        for i in range(50):
            wg.add(1)
            gpm.go(sleeper, i)
        gpm.sleep(0.0005)
    wg.wait()
    return "ok"
print(gpm.run(main, procs=PROCS))
"""


@pytest.mark.parametrize("procs", [2, 4])
def test_many_short_sleepers_never_ready_a_running_goroutine(procs):
    """Stress replay of the same bug (2000 short sleepers in bursts, checks=1,
    in a subprocess): before the fix 4 of 6 runs died with 'bad transition
    from running to runnable'.  Three runs per procs value."""
    for _ in range(3):
        p = run_prog(_SLEEPERS_SRC.replace("PROCS", str(procs)), debug="checks=1", timeout=60)
        assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-2000:]


# -- exact cases for make mutants (docs/HACKING.md) ---------------------------

class _RecNote:
    def __init__(self):
        self.wakes = 0

    def wakeup(self):
        self.wakes += 1


def _recp():
    pp = P(None, 0)
    pp.note = _RecNote()
    return pp


def test_arming_the_earliest_timer_wakes_the_ps_m_unless_it_is_the_caller():
    pp = _recp()
    other = _recp()
    t1, t2, t3, t4 = (rtimers.RTimer(lambda a, n: None) for _ in range(4))
    rtimers.addtimer(t1, 10.0, pp, pp)            # the owner's own M: no wake
    assert pp.note.wakes == 0 and pp.timer0 == 10.0
    rtimers.addtimer(t2, 5.0, pp, None)           # a plain thread, earliest: wake
    assert pp.note.wakes == 1 and pp.timer0 == 5.0
    rtimers.addtimer(t3, 7.0, pp, other)          # another P's M, not earliest: no wake
    assert pp.note.wakes == 1
    rtimers.addtimer(t4, 1.0, pp, other)          # another P's M, earliest: wake
    assert pp.note.wakes == 2 and pp.timer0 == 1.0 and other.note.wakes == 0
    t5 = rtimers.RTimer(lambda a, n: None)
    rtimers.addtimer(t5, 1.0, pp, None)           # equal to the earliest: the M wakes then anyway
    assert pp.note.wakes == 2
    assert t4.pp is pp and pp.ntimers == 5


def test_a_timer_stays_on_its_first_p():
    p0, p1 = _recp(), _recp()
    t = rtimers.RTimer(lambda a, n: None)
    assert rtimers.deltimer(t) is False           # never armed
    rtimers.addtimer(t, 3.0, p0, p0)
    assert rtimers.modtimer(t, 4.0, 2.0, p1, p1) is True
    assert t.pp is p0 and t.period == 2.0 and t.when == 4.0
    assert p0.ntimers == 1 and p1.ntimers == 0 and p0.timers_dead == 1
    assert p1.timers == [] and p0.note.wakes == 0
    rtimers.modtimer(t, 5.0, 2.0, p0, p0)
    assert p0.timers_dead == 2 and p0.ntimers == 1


def test_stale_entries_are_counted_and_dropped_when_popped():
    pp = _recp()
    fired = []
    t = rtimers.RTimer(lambda a, n: fired.append(n))
    rtimers.addtimer(t, 1.0, pp, pp)
    rtimers.modtimer(t, 2.0, 0.0, pp, pp)         # the 1.0 entry is stale now
    u = rtimers.RTimer(lambda a, n: fired.append(-n))
    rtimers.addtimer(u, 1.5, pp, pp)
    assert rtimers.deltimer(u) is True and rtimers.deltimer(u) is False
    assert pp.timers_dead == 2 and len(pp.timers) == 3 and pp.ntimers == 1
    assert rtimers.run_timers(pp, 1.9) == 0       # only stale entries were due
    assert pp.timers_dead == 0 and len(pp.timers) == 1 and pp.timer0 == 2.0
    assert rtimers.check_timers(pp, 2.0) == math.inf
    assert fired == [2.0] and pp.ntimers == 0 and not t.active
    assert rtimers.deltimer(t) is False           # fired: nothing to stop


@pytest.mark.parametrize("n, compact_at", [(100, 65), (400, 101)])
def test_compaction_starts_past_64_dead_and_a_quarter_of_the_heap(n, compact_at):
    pp = _recp()
    ts = [rtimers.RTimer(lambda a, n: None) for _ in range(n)]
    for i, t in enumerate(ts):
        rtimers.addtimer(t, float(i), pp, pp)
    for t in ts[:compact_at - 1]:
        rtimers.deltimer(t)
    assert len(pp.timers) == n and pp.timers_dead == compact_at - 1
    rtimers.deltimer(ts[compact_at - 1])
    assert len(pp.timers) == n - compact_at and pp.timers_dead == 0
    assert pp.timer0 == float(compact_at) and pp.ntimers == n - compact_at
    assert sorted(pp.timers)[0][2] is ts[compact_at]


def test_compacting_every_live_timer_away_leaves_no_deadline():
    pp = _recp()
    ts = [rtimers.RTimer(lambda a, n: None) for _ in range(65)]   # the 65th stop compacts
    for i, t in enumerate(ts):
        rtimers.addtimer(t, float(i), pp, pp)
    for t in ts:
        rtimers.deltimer(t)
    assert pp.timers == [] and pp.timer0 == math.inf and pp.ntimers == 0


def test_a_periodic_timer_on_time_rearms_one_period_later():
    pp = _recp()
    fires = []
    t = rtimers.RTimer(lambda a, n: fires.append(n), None, 0.5)
    rtimers.addtimer(t, 1.0, pp, pp)
    assert rtimers.check_timers(pp, 1.0) == 1.5
    assert rtimers.check_timers(pp, 1.6) == 2.0
    assert fires == [1.0, 1.6] and t.active and pp.ntimers == 1


def _parked(s, pp, goid):
    from tests.support import parked_g
    return parked_g(s, goid, pp)


def _on_m(pp, fn, *args):
    from tests.support import on_m
    return on_m(pp, fn, *args)


@pytest.mark.parametrize("where", ["owner", "other-m"])
def test_timers_ready_their_gs_in_deadline_order(where):
    """On the owner M the readied Gs are collected (P.readybatch) and queued
    in fire order, none in runnext; from another M each goes to the tail."""
    from tests.support import rsched
    s = rsched.Sched(1)
    pp = s.allp[0]
    gs = [_parked(s, pp, i) for i in range(3)]
    seen = []
    for i, gp in enumerate(gs):
        t = rtimers.RTimer(lambda gp, now: (seen.append((pp.readybatch is not None, now)), rsched.goready(gp)), gp)
        rtimers.addtimer(t, float(i + 1), pp, pp)
    if where == "owner":
        assert _on_m(pp, rtimers.run_timers, pp, 5.0) == 3
        assert seen == [(True, 5.0)] * 3
    else:
        assert rtimers.run_timers(pp, 5.0) == 3
        assert seen == [(False, 5.0)] * 3
    assert pp.readybatch is None
    assert pp.runq.runnext is None and pp.runq.snapshot() == gs


def test_one_timer_readying_on_the_owner_m_goes_ahead_of_the_ring_behind_runnext():
    """A lone timer-readied G goes to timerq: ahead of the ring, and it does
    not push the current runnext out to the ring's tail."""
    from tests.support import rsched, FakeG
    s = rsched.Sched(1)
    pp = s.allp[0]
    q = pp.runq
    gp = _parked(s, pp, 1)
    ring = [FakeG(10 + i, pinned=False) for i in range(3)]
    for g in ring:
        q.put(g)
    nxt = FakeG(9, pinned=False)
    q.put(nxt, next=True)
    rtimers.addtimer(rtimers.RTimer(lambda gp, now: rsched.goready(gp), gp), 1.0, pp, pp)
    assert _on_m(pp, rtimers.check_timers, pp, 2.0) == math.inf
    assert pp.readybatch is None and q.runnext is nxt
    assert q.snapshot() == [nxt, gp] + ring
    assert [q.get()[0] for _ in range(5)] == [nxt, gp] + ring


def test_a_failing_timer_callback_on_the_owner_m_still_queues_the_readied_gs():
    from tests.support import rsched
    s = rsched.Sched(1)
    pp = s.allp[0]
    gs = [_parked(s, pp, i) for i in range(2)]
    for i, gp in enumerate(gs):
        rtimers.addtimer(rtimers.RTimer(lambda gp, now: rsched.goready(gp), gp), float(i), pp, pp)

    def boom(arg, now):
        raise RuntimeError("callback failed")
    rtimers.addtimer(rtimers.RTimer(boom), 5.0, pp, pp)
    with pytest.raises(RuntimeError):
        _on_m(pp, rtimers.run_timers, pp, 9.0)
    assert pp.readybatch is None and pp.runq.snapshot() == gs


def test_compaction_drops_the_stale_entry_of_a_rearmed_timer():
    pp = _recp()
    ts = [rtimers.RTimer(lambda a, n: None) for _ in range(100)]
    for i, t in enumerate(ts):
        rtimers.addtimer(t, float(i), pp, pp)
    rtimers.modtimer(ts[99], 200.0, 0.0, pp, pp)   # its 99.0 entry is stale (1 dead)
    for t in ts[:64]:
        rtimers.deltimer(t)                          # 65 dead: compacted
    assert pp.timers_dead == 0
    assert sorted(e[0] for e in pp.timers) == [float(i) for i in range(64, 99)] + [200.0]


def test_a_stopped_then_rearmed_timer_never_fires_at_an_old_deadline():
    """Every arm and stop gives the timer a new sequence number, so none of its
    old heap entries can match it again (mutants: stop setting seq to 1 or
    decrementing it revived the 20.0 entry)."""
    pp = _recp()
    fired = []
    t = rtimers.RTimer(lambda a, n: fired.append(n))
    rtimers.addtimer(t, 10.0, pp, pp)
    rtimers.modtimer(t, 20.0, 0.0, pp, pp)
    assert rtimers.deltimer(t)
    rtimers.modtimer(t, 30.0, 0.0, pp, pp)
    assert rtimers.check_timers(pp, 25.0) == 30.0 and fired == []
    assert rtimers.check_timers(pp, 30.0) == math.inf and fired == [30.0]


def test_a_late_periodic_timer_fires_once_even_when_float_floor_lands_on_now():
    """1.0 // 0.1 == 9.0 in floats, so 'the next tick after now' came out as
    0.1 * 10 == 1.0 == now: the re-armed timer was due again and fired twice
    in one check (a tick a slow reader missed was delivered, not dropped)."""
    pp = _recp()
    fires = []
    t = rtimers.RTimer(lambda a, n: fires.append(n), None, 0.1)
    rtimers.addtimer(t, 0.0, pp, pp)
    nxt = rtimers.check_timers(pp, 1.0)
    assert fires == [1.0]
    assert 1.0 < nxt == t.when <= 1.1 + 1e-9
