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
    from gpm._runtime import api

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
