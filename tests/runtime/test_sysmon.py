"""sysmon: blockwarn + retake on a real run, and the pure sysmon_tick step."""

import logging
import threading
import time

import pytest

import gpm
from tests import support
from tests.support import G, Sched, Sysmon, sysmon_tick


# Free-threaded builds (trace.SNAPSHOT) never read the stuck M's live frames: the warning
# names the goroutine's function instead.  Forced on here too so GIL builds cover it.
@pytest.mark.parametrize("snapshot", sorted({support.trace_snapshot_default(), True}))
def test_blockwarn_logs_stack_and_free_goroutines_still_run(caplog, monkeypatch, snapshot):
    monkeypatch.setattr(support.trace_mod, "SNAPSHOT", snapshot)
    n = 20
    done = [0]

    def worker():
        done[0] += 1

    def blocker():
        for _ in range(n):
            gpm.go(worker)                 # free Gs queued on this P
        time.sleep(0.3)                    # deliberate: holds the P without yielding
        return done[0]

    def main():
        return gpm.go(blocker).join()
    with caplog.at_level(logging.WARNING, logger="gpm"):
        finished_while_blocked = gpm.run(main, procs=2)
    assert finished_while_blocked == n      # they ran elsewhere while the P was stuck
    warns = [r for r in caplog.records if r.name == "gpm" and "without yielding" in r.getMessage()]
    assert len(warns) == 1                  # once per stuck episode
    msg = warns[0].getMessage()
    if snapshot:
        assert "in blocker" in msg and "stack unavailable on a free-threaded build" in msg
    else:
        assert "in blocker" in msg and "time.sleep(0.3)" in msg


def test_sysmon_thread_runs_and_exits():
    def main():
        deadline = time.monotonic() + 5      # Sched.start starts sysmon after the Ms
        while True:
            names = sorted(t.name for t in threading.enumerate() if t.name == "gpm-sysmon")
            if names or time.monotonic() > deadline:
                return names
            gpm.sleep(0.001)
    assert gpm.run(main, procs=1) == ["gpm-sysmon"]


def _fake_sched(procs=2, preempt=False):
    sched = Sched(procs)
    sm = Sysmon(sched)
    sm.preempt = preempt and sm.preempt     # blockwarn/retake tests: no preemption step
    return sched, sm


def test_sysmon_tick_detects_stuck_p_and_retakes_free_gs(caplog):
    sched, sm = _fake_sched()
    p0 = sched.allp[0]
    stuck = G(sched, 7, print, (), {})
    stuck.pp = p0
    pinned = G(sched, 8, print, (), {})
    pinned.pp = p0
    free = [G(sched, 10 + i, print, (), {}) for i in range(5)]
    p0.curg = stuck
    for g in [pinned] + free:
        p0.runq.put(g)
    limit = sched.debug.blockwarn / 1000.0
    t0 = 1000.0
    assert sysmon_tick(sched, t0, sm) == {}
    assert sysmon_tick(sched, t0 + limit / 2, sm) == {}
    with caplog.at_level(logging.WARNING, logger="gpm"):
        did = sysmon_tick(sched, t0 + limit + 0.001, sm)
    assert [(pid, goid) for pid, goid, _ in did["blockwarn"]] == [(0, 7)]
    assert did["retake"] == [(0, 5)]
    assert sched.runqsize == 5 and list(sched.runq) == free
    assert p0.runq.snapshot() == [pinned]          # pinned Gs stay home
    # Same episode: no second warning, nothing left to move.
    assert sysmon_tick(sched, t0 + 2 * limit, sm) == {}
    # The P moves on (executes something): a new episode may warn again.
    p0.executed += 1
    assert sysmon_tick(sched, t0 + 3 * limit, sm) == {}
    did = sysmon_tick(sched, t0 + 4 * limit + 0.001, sm)
    assert "blockwarn" in did
    assert sm.warnings == 2


def test_sysmon_tick_ignores_idle_ps():
    sched, sm = _fake_sched()
    for t in (0.0, 10.0, 20.0):
        assert sysmon_tick(sched, t, sm) == {}
    assert sm.warnings == 0


@pytest.mark.parametrize("flag", ["blockwarn=0"])
def test_blockwarn_off(monkeypatch, flag):
    monkeypatch.setenv("GPM_DEBUG", flag)
    sched, sm = _fake_sched(1)
    sched.allp[0].curg = G(sched, 3, print, (), {})
    assert sysmon_tick(sched, 0.0, sm) == {}
    assert sysmon_tick(sched, 100.0, sm) == {}


def test_sysmon_sleeps_while_every_p_is_idle():
    """An idle runtime sleeps: sysmon does not poll every 10 ms while all Ps
    are idle (Go's sysmon deep sleep), and wakes when a P has work again."""
    import time as _time

    def main():
        sm = support.internal_g(gpm.current()).sched.sysmon
        gpm.sleep(0.05)                    # let the back-off settle
        before = sm.rounds
        t = _time.monotonic()
        gpm.sleep(0.5)                     # every P idle, one timer pending
        idle_rounds = sm.rounds - before
        elapsed = _time.monotonic() - t
        busy_before = sm.rounds
        x = 0
        t2 = _time.monotonic()
        while _time.monotonic() - t2 < 0.1:   # hold the P: sysmon must watch again
            x += 1
        return idle_rounds, elapsed, sm.rounds - busy_before

    idle_rounds, elapsed, busy_rounds = gpm.run(main, procs=2)
    assert elapsed >= 0.5
    assert idle_rounds <= 5, f"sysmon polled {idle_rounds} times while every P was idle"
    assert busy_rounds >= 1, "sysmon did not wake when a P became busy"


@pytest.mark.skipif(not support.preempt.SUPPORTED, reason="preemption needs CPython 3.12+")
def test_sysmon_tick_requests_preemption_past_the_slice_and_drops_stale_requests():
    sched, sm = _fake_sched(preempt=True)
    p0 = sched.allp[0]
    hog = G(sched, 7, print, (), {})
    hog.pp = p0
    waiting = G(sched, 8, print, (), {})
    waiting.pp = p0
    t0 = 1000.0
    p0.curg, p0.curg_since = hog, t0
    try:
        assert "preempt" not in sysmon_tick(sched, t0 + 0.02, sm)      # nobody waits
        p0.runq.put(waiting)
        assert "preempt" not in sysmon_tick(sched, t0 + 0.005, sm)     # within the slice
        assert sysmon_tick(sched, t0 + 0.011, sm)["preempt"] == [0]
        req = p0.preempt_req
        assert req.gp is hog and req.tick == p0.executed
        assert "preempt" not in sysmon_tick(sched, t0 + 0.012, sm)     # one request at a time
        p0.executed += 1                     # the hog left the P: the request is stale
        p0.curg = None
        sysmon_tick(sched, t0 + 0.013, sm)
        assert p0.preempt_req is None
    finally:
        support.preempt.release()


def test_retake_keeps_moved_gs_visible_to_checkdead():
    # sysmon's retake takes the free Gs of a stuck P and puts them on the global queue; if
    # the stuck G finishes meanwhile and the last M goes idle, checkdead runs while the Gs
    # are in sysmon's hands.  It must not see "dead" then: it said so (a false Deadlock on
    # 3.13t) before retake held Sched.lock across the move.  The window is forced open: once
    # the stuck P's queue is empty, checkdead runs on another thread (as the idle M would).
    from gpm._runtime import sysmon as rsysmon
    sched, _ = _fake_sched(2)
    sched.preexisting = frozenset(threading.enumerate())
    sched.owner_ident = threading.get_ident()
    p0 = sched.allp[0]
    sched.npidle = sched.procs                     # every P idle: the stuck G just finished
    verdicts, checker = [], []

    class WindowRunQueue(support.RunQueue):
        def grab(self, steal_runnext=False):
            got = super().grab(steal_runnext)
            if not got and not checker:            # the queue is empty, the Gs in transit
                t = threading.Thread(target=lambda: verdicts.append(sched.checkdead()))
                checker.append(t)
                sched.preexisting = frozenset(threading.enumerate()) | {t}   # not a foreign thread
                t.start()
                t.join(0.5)                        # without the fix it answers at once
                verdicts.append("waited" if t.is_alive() else "answered")
            return got
    p0.runq = WindowRunQueue()
    free = [G(sched, 10 + i, print, (), {}) for i in range(3)]
    for g in free:
        p0.runq.put(g)
    sched.wakep = lambda: None                     # no Ms to wake in a fake Sched
    assert rsysmon._retake(sched, p0) == 3
    checker[0].join(5)
    assert list(sched.runq) == free
    assert verdicts == ["waited", "alive"], verdicts
