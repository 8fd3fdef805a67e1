"""GPM_DEBUG=lockrank=1: every runtime lock acquisition is checked against locks.RANKS."""

import threading

import pytest

import gpm
from tests.support import FatalError, rlocks, run_prog

R = rlocks.RankedLock

if rlocks._record is not None:
    pytest.skip("GPM_LOCKRANK_RECORD logs violations instead of raising", allow_module_level=True)


def test_suite_runs_with_lockrank_on():
    assert rlocks.lockrank_enabled()
    assert type(rlocks.new_lock("sched")) is R


def test_in_order_nesting_is_allowed():
    a, b, c = R("chan"), R("sched"), R("runq")
    with a, b, c:
        pass
    a.acquire()      # released out of order too
    b.acquire()
    a.release()
    c.acquire()
    b.release()
    c.release()
    assert rlocks._held() == []


def test_inversion_is_fatal_naming_both_locks(capsys):
    outer, inner = R("sched"), R("allg")
    with outer:
        with pytest.raises(FatalError, match=r"acquiring allg \(rank \d+\) while holding sched"):
            inner.acquire()
        assert not inner.locked()                # nothing acquired
    assert "lock ordering problem" in capsys.readouterr().err


def test_same_rank_only_for_channel_locks():
    c1, c2 = R("chan"), R("chan")
    with c1, c2:                                 # select: several channel locks
        pass
    s1, s2 = R("sync"), R("sync")
    with s1:
        with pytest.raises(FatalError, match="acquiring sync .* while holding sync"):
            s2.acquire()


def test_recursive_acquisition_is_fatal():
    lk = R("sched")
    with lk:
        with pytest.raises(FatalError, match="recursive acquisition of sched"):
            lk.acquire()


def test_trylock_is_not_checked():
    outer, inner = R("runq"), R("chan")
    with outer:
        assert inner.acquire(False)              # a trylock cannot deadlock
        inner.release()


def test_held_stack_is_per_thread():
    lk = R("sched")
    out = []
    with lk:
        t = threading.Thread(target=lambda: out.append(R("allg").acquire()))
        t.start()
        t.join(10)
    assert out == [True]


def test_release_by_another_thread_is_fatal():
    lk = R("sched")
    lk.acquire()
    err = []

    def other():
        try:
            lk.release()
        except FatalError as e:
            err.append(str(e))
    t = threading.Thread(target=other)
    t.start()
    t.join(10)
    assert err and "released by a thread that does not hold it" in err[0]
    rlocks._held().remove(lk)                    # this thread's record of it


def test_plain_thread_join_with_timeout_nests_allglock_over_sched_and_timers():
    """The nesting that made 'allglock is a leaf' wrong: it must be legal in RANKS."""
    assert rlocks.RANKS["allg"] < rlocks.RANKS["sched"] < rlocks.RANKS["timers"]

    def main():
        ch = gpm.Chan()
        g = gpm.go(ch.recv)
        res = []
        t = threading.Thread(target=lambda: res.append(g.join(timeout=30)))
        t.start()
        ch.send("x")
        t.join(30)
        return res
    assert gpm.run(main, procs=2) == ["x"]


def test_lockrank_off_gives_plain_locks():
    p = run_prog("""
import _thread, os
os.environ["GPM_DEBUG"] = ""
from tests.support import rlocks as locks, rclock as clock
print(type(locks.new_lock("sched")) is _thread.LockType, type(clock._rt_lock) is _thread.LockType)
""", GPM_DEBUG="checks=1")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["True", "True"]
