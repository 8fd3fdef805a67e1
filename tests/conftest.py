"""Shared fixtures: every test leaves no gpm thread and no runtime behind."""

import os
import signal
import threading

import pytest

# The Ctrl-C and gpm.signal tests need SIGINT delivered.  A shell without job
# control starts background commands with SIGINT ignored, Python then installs
# no KeyboardInterrupt handler, and the SIG_IGN is inherited across exec by every
# subprocess scenario (seen: 8 failures in a backgrounded fresh-clone make test).
# Restore Python's default; a handler, unlike SIG_IGN, is reset at exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Issue 8: the suite runs with the runtime's own checkers on (G status changes,
# lock order).  Set in the environment so subprocess tests inherit them; a test
# that passes its own GPM_DEBUG replaces them (tests.support.run_prog appends).
_SUITE_DEBUG = "checks=1,lockrank=1"
os.environ["GPM_DEBUG"] = ",".join(x for x in (_SUITE_DEBUG, os.environ.get("GPM_DEBUG", "")) if x)

if os.environ.get("MUTANT_UNDER_TEST"):          # make mutants: mutmut's trampolines
    try:                                           # track calls in a ContextVar, and a call
        from mutmut.core import MutmutCallStack   # that switches greenlets (gpm runs each G
        _mm_reset = MutmutCallStack.reset.__func__  # in its own Context) ends in another one

        def _mm_reset_any(cls, token):
            try:
                _mm_reset(cls, token)
            except ValueError:
                pass
        MutmutCallStack.reset = classmethod(_mm_reset_any)
    except ImportError:
        pass

from tests.support import stop_background, current_sched  # noqa: E402  (after GPM_DEBUG: locks.py reads it at import)


def _gpm_threads():
    return [t for t in threading.enumerate() if t.name.startswith("gpm-") and t.is_alive()]


@pytest.fixture(autouse=True)
def _plain_schedule_for_policy_tests(request, monkeypatch):
    """A ``schedorder`` test asserts gpm's exact scheduling policy (an order Go's
    semantics do not promise, or wall-clock time slices), so under
    GPM_DEBUG=randomize=1 / seed=N (make test-random) it runs without them, and
    without preemption (asyncpreemptoff=1): on a loaded machine an M descheduled by
    the OS for 10 ms gets its goroutine preempted between two spawns, which reorders
    them (test_gosched_alternates_on_one_p and test_gosched_lets_global_work_in failed
    that way at load 23 on 3.13t, where preemption now works)."""
    if request.node.get_closest_marker("schedorder") is not None:
        keep = [item for item in os.environ.get("GPM_DEBUG", "").split(",")
                if item.strip().partition("=")[0].strip() not in ("randomize", "seed")]
        monkeypatch.setenv("GPM_DEBUG", ",".join(keep + ["asyncpreemptoff=1"]))
    yield


@pytest.fixture(autouse=True)
def no_leftover_runtime():
    """DESIGN.md failure rules: after gpm.run returns no runtime thread is left."""
    yield
    stop_background()
    leftovers = _gpm_threads()
    for t in leftovers:          # give exiting threads a moment to finish, bounded
        t.join(2.0)
    leftovers = _gpm_threads()
    assert not leftovers, f"runtime threads left running: {[t.name for t in leftovers]}"
    assert current_sched() is None, "a gpm runtime is still registered"


@pytest.fixture(params=[1, 2, 4], ids=lambda n: f"procs{n}")
def procs(request):
    """Run a semantics test with 1, 2 and 4 Ps."""
    return request.param
