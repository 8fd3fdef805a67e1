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
