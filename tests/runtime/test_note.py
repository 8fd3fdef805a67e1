"""locks.Note and locks.FdNote (the eventfd note idle Ms sleep on in free-threaded builds).

FdNote exists because a blocking lock acquire on 3.13t first spins with up to 40
sched_yield() calls (CPython's PyMutex): an M woken during that spin saw the wakeup
only when its yield returned, 100-350 ms late on the loaded 2-core machine.  That
latency is not asserted here (no timing in tests); the contract is, on both notes.
"""

import os
import sys
import threading

import pytest

import gpm
from tests.support import FdNote, Note, getg, new_note, nfds

NOTES = [Note, FdNote] if hasattr(os, "eventfd") else [Note]


@pytest.fixture(params=NOTES, ids=lambda c: c.__name__)
def note(request):
    n = request.param()
    yield n
    n.close()


def test_a_wakeup_before_sleep_is_kept(note):
    note.wakeup()
    note.wakeup()                                  # idempotent until the next sleep
    assert note.sleep(30) is True                  # sticky: returns at once
    assert note.sleep(0) is False                  # consumed: one wakeup, one return


def test_sleep_times_out(note):
    assert note.sleep(0.001) is False
    assert note.sleep(0) is False


def test_a_wakeup_from_another_thread_ends_the_sleep(note):
    got = []
    t = threading.Thread(target=lambda: got.append(note.sleep(30)))
    t.start()
    note.wakeup()                                  # before or during the sleep: both count
    t.join(10)
    assert got == [True]


def test_many_wakeups_never_leave_a_busy_note(note):
    """Kicks that outlive their flag (a wakeup whose flag the sleeper already took) cost
    at most one early False, never a note that keeps returning at once."""
    for _ in range(50):
        note.wakeup()
        assert note.sleep(5) is True
    assert note.sleep(0.001) is False
    assert note.sleep(0.001) is False


@pytest.mark.skipif(not hasattr(os, "eventfd"), reason="no os.eventfd")
def test_fdnote_close_releases_its_fd_and_a_late_wakeup_is_harmless():
    before = nfds()
    n = FdNote()
    assert nfds() == before + 1
    n.close()
    n.close()                                      # idempotent
    assert nfds() == before
    n.wakeup()                                     # after close: only the flag
    assert n.sleep(0) is True


def test_new_note_picks_the_fd_note_exactly_on_free_threaded_builds():
    ft = not getattr(sys, "_is_gil_enabled", lambda: True)()
    n = new_note()
    try:
        assert type(n) is (FdNote if ft and hasattr(os, "eventfd") else Note)
    finally:
        n.close()


@pytest.mark.parametrize("procs", [1, 2, 4])
def test_a_run_closes_its_ms_notes(procs):
    before = nfds()
    assert gpm.run(lambda: type(getg().pp.note).__name__, procs=procs) in ("Note", "FdNote")
    assert nfds() == before
