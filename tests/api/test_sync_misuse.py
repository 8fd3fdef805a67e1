"""gpm.sync misuse: bad input raises before any side effect and the object
stays usable (issue 8: bugs 4 and 9, Once.do(None), Group's ctx)."""

import pytest

import gpm
from gpm import context, sync
from tests.support import run_prog

_WG_PROG = r"""
from gpm import sync
wg = sync.WaitGroup()
for bad in ("x", 1.5, True, None):
    try:
        wg.add(bad)
    except TypeError as e:
        assert "WaitGroup.add: n" in str(e), e
    else:
        raise SystemExit(f"add({bad!r}) accepted")
wg.add(2)          # blocked forever on the leaked lock before the fix
wg.done()
wg.done()
wg.wait()
print("ok")
"""


def test_waitgroup_add_rejects_non_int_and_stays_usable():
    # Before the fix add('x') raised TypeError while holding the internal
    # lock (every later call hung) and add(1.5) was accepted.  A hang is
    # possible, so in a subprocess.
    p = run_prog(_WG_PROG, timeout=30)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stdout + p.stderr


def test_once_do_non_callable_does_not_use_up_the_once():
    o = sync.Once()
    with pytest.raises(TypeError, match="Once.do: fn"):
        o.do(None)
    calls = []
    o.do(lambda: calls.append(1))
    assert calls == [1]


def test_group_bad_limit_attaches_no_child_to_ctx():
    parent, cancel = context.with_cancel(context.background())
    with pytest.raises(ValueError, match="limit"):
        sync.Group(parent, limit=0)
    assert not parent._children        # no orphan child context left attached
    cancel()


def _wait_woken(done):
    """True if ``done`` gets a value within 10 s (a lost signal: False)."""
    i, _ = gpm.select(done.recv, gpm.after(10).recv)
    return i == 0


def _spawn_parked_waiter(cond, locker):
    """Spawn a goroutine parked in cond.wait(); returns its done channel.

    Once we get ``locker`` back after the waiter took it, the waiter holds
    its ticket (taken before it unlocked), so a later signal is its own.
    """
    done = gpm.Chan(1)
    holding = gpm.Chan()

    def waiter():
        locker.lock()
        holding.send(1)
        cond.wait()
        locker.unlock()
        done.send(1)

    gpm.go(waiter)
    holding.recv()
    locker.lock()
    locker.unlock()
    return done


def test_cond_wait_without_lock_keeps_next_signal(procs):
    # Bug 9: wait() without the lock took ticket 0 before unlock raised;
    # a later waiter got ticket 1 and signal() notified the orphan 0.
    def main():
        m = sync.Mutex()
        cond = sync.Cond(m)
        with pytest.raises(RuntimeError, match="Cond.wait"):
            cond.wait()
        done = _spawn_parked_waiter(cond, m)
        with m:
            cond.signal()
        return _wait_woken(done)

    assert gpm.run(main, procs=procs)


class _DelegatingLocker:
    """A locker Cond cannot inspect; ``hook`` runs inside the next unlock."""

    def __init__(self):
        self.m = sync.Mutex()
        self.hook = None

    def lock(self):
        self.m.lock()

    def unlock(self):
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        self.m.unlock()                # raises RuntimeError when not locked


def test_cond_wait_unlock_failure_withdraws_newest_ticket():
    def main():
        lk = _DelegatingLocker()
        cond = sync.Cond(lk)
        with pytest.raises(RuntimeError):
            cond.wait()                # the unlock fails: ticket 0 given back
        done = _spawn_parked_waiter(cond, lk)
        with lk.m:
            cond.signal()
        return _wait_woken(done)

    assert gpm.run(main, procs=1)


@pytest.mark.parametrize("signal_inside", [False, True], ids=["skipped", "passed_on"])
def test_cond_wait_unlock_failure_withdraws_middle_ticket(signal_inside):
    # The failing caller holds ticket 0 while a real waiter takes ticket 1
    # (inside the failing unlock).  Withdrawn, ticket 0 is skipped by the
    # next signal; if a signal already went to it, it is passed on to 1.
    def main():
        lk = _DelegatingLocker()
        cond = sync.Cond(lk)
        box = {}

        def hook():
            box["done"] = _spawn_parked_waiter(cond, lk)
            if signal_inside:
                cond.signal()          # goes to ticket 0, the failing caller's

        lk.hook = hook
        with pytest.raises(RuntimeError):
            cond.wait()
        if not signal_inside:
            cond.signal()
        return _wait_woken(box["done"])

    assert gpm.run(main, procs=1)
