"""Shared fixtures: every test leaves no gpm thread and no runtime behind."""

import threading

import pytest

from gpm._runtime import sched as _sched


def _gpm_threads():
    return [t for t in threading.enumerate() if t.name.startswith("gpm-") and t.is_alive()]


@pytest.fixture(autouse=True)
def no_leftover_runtime():
    """DESIGN.md failure rules: after gpm.run returns no runtime thread is left."""
    yield
    _sched.stop_background()
    leftovers = _gpm_threads()
    for t in leftovers:          # give exiting threads a moment to finish, bounded
        t.join(2.0)
    leftovers = _gpm_threads()
    assert not leftovers, f"runtime threads left running: {[t.name for t in leftovers]}"
    assert _sched.current_sched() is None, "a gpm runtime is still registered"


@pytest.fixture(params=[1, 2, 4], ids=lambda n: f"procs{n}")
def procs(request):
    """Run a semantics test with 1, 2 and 4 Ps."""
    return request.param
