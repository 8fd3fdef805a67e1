"""Locks of the runtime and Go's ``note`` (one-shot sleep/wakeup of an M).

Lock order (acquire left before right; never the other way round).  Most
paths hold one lock at a time; the nestings that exist are:

    Timer/Ticker _mu (gpm._time) > channel locks (ascending channel id, select)
        > select claim > Sched.lock > P.runq lock > P.timers lock
    Sched.allglock (allgs, goids, G results/joiners) is a leaf;
    the _mu locks of gpm.sync objects and contexts are leaves;
    netpoll: fd table lock > PollDesc.lock > Netpoll.lock > P.timers lock
        and Note locks (netpoll.py; Netpoll.wlock is a leaf);
    preempt._lock (preemption requests, monitoring arms) is a leaf.

  (``modtimer`` runs with a Timer's _mu held so concurrent resets cannot leave
  a stale generation armed; it may wake a P's note but never readies a G.)

Rules that keep this order trivially true:
  * never switch greenlets, call user code or goready while holding a lock
    (collect what to ready, release, then ready: Go's closechan rule);
  * P.runq and P.timers locks are leaves: nothing is acquired under them.

Everything here is built on ``_thread.allocate_lock``, whose acquire/release
are atomic on every CPython build (including free-threaded ones).
"""

import _thread

__all__ = ["new_lock", "Note", "os_timeout"]

new_lock = _thread.allocate_lock

# The longest wait an OS lock accepts (about 292 years on Linux); a longer
# one raises OverflowError.  Every OS wait of the runtime goes through
# ``os_timeout``: a far deadline (sleep(1e300)) then just means "wake up in
# 292 years and recheck", which for a sleeper that rechecks is the same.
TIMEOUT_MAX = _thread.TIMEOUT_MAX


def os_timeout(timeout):
    """Clamp a timeout in seconds (may be huge or inf) to [0, TIMEOUT_MAX]."""
    if timeout > TIMEOUT_MAX:        # also inf; NaN never reaches here (api.duration)
        return TIMEOUT_MAX
    if timeout > 0.0:
        return timeout
    return 0.0


class Note:
    """Go's note: sleep until woken, or until a timeout.

    Any thread may call ``wakeup``; only the owning M calls ``sleep``.  A
    wakeup that arrives before ``sleep`` is kept (the note is sticky), so the
    protocol "publish work, then wakeup" can never be lost against "announce
    idle, recheck for work, then sleep".  Spurious wakeups are allowed: the
    sleeper always rechecks for work.
    """

    __slots__ = ("_mu", "_sema", "_signaled", "_waiting")

    def __init__(self):
        self._mu = new_lock()        # guards _signaled and _waiting
        self._sema = new_lock()      # held while nobody has released it
        self._sema.acquire()
        self._signaled = False       # a wakeup is pending (guarded by _mu)
        self._waiting = False        # the owner is (about to be) blocked on _sema (guarded by _mu)

    def wakeup(self):
        """Wake the sleeper (any thread).  Idempotent until the next sleep."""
        with self._mu:
            if self._signaled:
                return
            self._signaled = True
            release = self._waiting
        if release:
            self._sema.release()

    def sleep(self, timeout=None) -> bool:
        """Block until woken (True) or until ``timeout`` seconds pass (False). Owner only."""
        with self._mu:
            if self._signaled:
                self._signaled = False
                return True
            self._waiting = True
        if timeout is None:
            got = self._sema.acquire()
        else:
            got = self._sema.acquire(True, os_timeout(timeout))
        with self._mu:
            self._waiting = False
            if self._signaled:
                self._signaled = False
                if not got:
                    # The waker saw _waiting and will release: consume it.
                    self._sema.acquire()
                return True
        return False
