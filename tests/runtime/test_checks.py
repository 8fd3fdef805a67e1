"""GPM_DEBUG=checks=1: every G status change is checked (Go's casgstatus)."""

import textwrap

import pytest

from tests.support import FatalError, Gstatus, TRANSITIONS, casgstatus, run_prog


class _G:
    __slots__ = ("goid", "status", "sched")

    def __init__(self, status):
        self.goid = 7
        self.status = status
        self.sched = None


def test_legal_transitions_store():
    for (old, new) in TRANSITIONS:
        g = _G(old)
        casgstatus(g, old, new)
        assert g.status == new


def test_illegal_transition_names_both_states():
    g = _G(Gstatus.RUNNABLE)
    with pytest.raises(FatalError, match=r"goroutine 7: bad transition from runnable to runnable "
                                         r"\(expected from waiting\|syscall\)"):
        casgstatus(g, (Gstatus.WAITING, Gstatus.SYSCALL), Gstatus.RUNNABLE)
    assert g.status == Gstatus.RUNNABLE          # nothing stored


def test_expected_old_is_checked_even_for_a_legal_pair():
    g = _G(Gstatus.RUNNING)                      # running -> runnable is legal (gosched) ...
    with pytest.raises(FatalError, match="from running to runnable"):
        casgstatus(g, Gstatus.WAITING, Gstatus.RUNNABLE)   # ... but not as a goready


_GOREADY_RUNNING = """
import gpm
from tests.support import rsched, internal_g
def main():
    rsched.goready(internal_g(gpm.current()))     # main is running, not waiting
    return "not caught"
print(repr(gpm.run(main, procs=1)))
"""

# A timed wait whose cancel wrongly reports "still queued" after a waker won:
# the timeout readies the G a second time (the race the Sudog protocol forbids).
_DOUBLE_READY = """
import gpm, threading
from tests.support import rsched, Sudog
def main():
    lock = threading.Lock()
    sg = Sudog.current()
    due = []
    def waker():
        sg.wake()                      # the waker wins: main is runnable
        while rsched.nanotime() < due[0] + 0.1:
            pass                       # hold the P until the timeout is due
    gpm.go(waker)
    lock.acquire()
    # Taken right before the block (not before the spawn): on a loaded machine the
    # waker must not stop holding the P before the block's own timeout is due.
    due.append(rsched.nanotime() + 0.05)
    sg.block(lock, "test", 0.05, lambda sg: True)    # broken cancel: the timeout fires too
    return "not caught"
print(repr(gpm.run(main, procs=1)))
"""


@pytest.mark.parametrize("src, state", [(_GOREADY_RUNNING, "running"), (_DOUBLE_READY, "runnable")],
                         ids=["goready-running", "double-ready-after-timeout"])
def test_illegal_goready_is_fatal_under_checks(src, state):
    # _DOUBLE_READY's waker holds the P with a CPU loop on purpose: no preemption (3.12+).
    p = run_prog(src, debug="checks=1,asyncpreemptoff=1", timeout=60)
    assert p.returncode != 0, p.stdout
    assert "not caught" not in p.stdout
    assert "FatalError" in p.stderr, p.stderr
    assert f"bad transition from {state} to runnable" in p.stderr, p.stderr


def test_suite_runs_with_checks_on():
    """Step 4 of issue 8: the suite (and subprocesses it starts) have checks=1."""
    p = run_prog(textwrap.dedent("""
        import gpm
        from tests.support import rsched
        print(gpm.run(lambda: rsched._checks, procs=1))
    """))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "True"


# A fatal error raised while the crashing M holds a runtime lock it took by
# hand (goexit holds allglock across casgstatus): the M's own unwind, and
# gpm.run's teardown (discard_all), take that lock again.  Go exits the
# process on a throw; gpm.run must at least raise the FatalError promptly
# and leave the next gpm.run working, never hang.
_FATAL_HOLDING_ALLGLOCK = """
import sys, time
import gpm
from tests.support import rsched, Gstatus, FatalError
real = rsched.casgstatus
def broken(gp, old, new):
    if new == Gstatus.DEAD and gp.goid == 2:
        rsched.throw("injected: goexit of goroutine 2")
    return real(gp, old, new)
rsched.casgstatus = broken
def main():
    gpm.go(lambda: None).join()
t0 = time.monotonic()
try:
    gpm.run(main, procs=%d)
except FatalError as e:
    print("raised", round(time.monotonic() - t0, 1), e, flush=True)
rsched.casgstatus = real
print("next", gpm.run(lambda: 42, procs=1), flush=True)
"""


@pytest.mark.parametrize("procs", [1, 2])
@pytest.mark.parametrize("lockrank", [0, 1])
def test_fatal_error_while_holding_a_runtime_lock_does_not_hang(procs, lockrank):
    # lockrank=1 knows the crashed thread's locks and releases them; without it,
    # teardown waits a bounded time for each lock and goes on without it.
    p = run_prog(_FATAL_HOLDING_ALLGLOCK % procs, timeout=40, GPM_DEBUG=f"checks=1,lockrank={lockrank}")
    assert p.returncode == 0, p.stderr[-3000:]
    lines = p.stdout.splitlines()
    assert lines[0].startswith("raised") and "injected: goexit of goroutine 2" in lines[0], p.stdout
    assert float(lines[0].split()[1]) < 15.0, p.stdout      # bounded waits, not the 40 s timeout
    assert lines[-1] == "next 42", p.stdout
    if lockrank:
        assert "the crashed thread held runtime locks allg: released" in p.stderr, p.stderr
    else:
        assert "teardown goes on without it" in p.stderr, p.stderr
