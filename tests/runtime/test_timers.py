"""Model-based tests of the per-P timer heap (add / stop / reset / fire order).

Model: a dict timer -> deadline of the active one-shot timers.  check_timers(now)
must fire exactly the active timers with deadline <= now, in deadline order
(FIFO among equal deadlines), and keep ntimers/timer0 honest.
"""

import math

from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, precondition

from tests.support import P, rtimers

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
TestTimerHeap.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)


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


def test_timers_of_a_busy_p_fire_on_an_idle_one():
    """Issue 8, bug 8: a with_timeout(0.1) made by a CPU-bound goroutine on P0
    must still wake its waiter parked on idle P1 (Go's stealWork runs other
    Ps' due timers).  It used to wake only when P0 next scheduled (2 s and
    more later).  Functional check: the waiter wakes while main, which armed
    the timer, has not yielded once; the spins are bounded by deadlines.
    """
    import time

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
