"""Locks of the runtime and Go's ``note`` (one-shot sleep/wakeup of an M).

Lock order (acquire a lock only while every lock held has a lower rank;
``RANKS`` below is the table, checked under GPM_DEBUG=lockrank=1).  Most paths
hold one lock at a time; the nestings the checker has seen are:

    Timer/Ticker _mu (gpm._time) > bg > rt          (a Timer made off-runtime starts one)
    Timer _mu > channel locks > Sched.lock > P.runq lock
    Timer _mu > P.timers lock, Note._mu              (modtimer)
    channel locks (ascending lock id, select) > Sched.lock  (a plain thread's first wait)
    gpm.sync _mu, sema queues > Sched.lock, P.timers lock      (park; a timed wait arms a timer)
    Sched.allglock > Sched.lock, P.timers lock       (a plain thread's join, with a timeout)
    PollDesc.lock > Netpoll.lock / wlock, P.timers lock
    Sched.lock > P.runq lock                         (checkdead)
    fd table lock (netpoll._fdtab_lock) > PollDesc.lock > Netpoll.lock > P.timers lock
        and Note locks (netpoll.py)
    preempt._lock (preemption requests, monitoring arms) is the last rank: the
        monitoring callback may take it under any lock, nothing is taken under it.

  So allglock is *not* a leaf (it was documented as one): a plain thread's
  ``join`` registers the thread (Sched.lock) and arms its timeout (P.timers)
  under it.  (``modtimer`` runs with a Timer's _mu held so concurrent resets
  cannot leave a stale generation armed; it may wake a P's note but never
  readies a G.)

Rules that keep this order trivially true:
  * never switch greenlets, call user code or goready while holding a lock
    (collect what to ready, release, then ready: Go's closechan rule);
  * P.runq, P.timers and Note locks are leaves in practice: nothing is
    acquired under them.

Everything here is built on ``_thread.allocate_lock``, whose acquire/release
are atomic on every CPython build (including free-threaded ones).
"""

import _thread
import math
import os
import select as _select
import sys
import sysconfig
import time as _time

# Free-threaded builds: a blocking lock acquire spins with sched_yield() before it parks
# (Note.nap says why that matters); sysmon's timed sleeps use Note.nap there.
FT_NAP = bool(sysconfig.get_config_var("Py_GIL_DISABLED")) and not (
    getattr(sys, "_is_gil_enabled", lambda: True)())

__all__ = ["FT_NAP", "new_lock", "new_sema", "Note", "os_timeout", "RANKS", "RankedLock", "lockrank_enabled",
           "release_held"]

# -- lock ranks (Go's lockrank.go) ---------------------------------------------
#
# Every runtime mutex is made by ``new_lock(rank)``.  A thread may acquire a
# lock only while every lock it already holds has a *lower* rank (a rank in
# _MULTI may be held several times: channel locks, taken in ascending lock
# id by select).  Under GPM_DEBUG=lockrank=1 (read when this module is first
# imported, so set it in the environment before ``import gpm``) every
# acquisition is checked against this table and a violation is a fatal error
# (FatalError naming both locks, with a line on stderr); otherwise
# ``new_lock`` returns a plain ``_thread`` lock: zero cost.  A non-blocking
# acquire (a trylock) cannot deadlock and is not checked.
#
# Binary semaphores (acquired by one thread, released by another: a Sudog's
# thread semaphore, Note._sema, Sched.done, the select claim flag) are not
# mutexes and come from ``new_sema()``, unranked.
RANKS = {name: i for i, name in enumerate((
    "timer",        # gpm._time Timer/Ticker _mu (modtimer runs under it; a Timer made on a
                    #   plain thread may start the background runtime under it)
    "bg",           # api._bg_lock: starting the background runtime
    "rt",           # clock._rt_lock: the registered runtimes
    "syscallinit",  # syscall._init_lock: creating a runtime's pool
    "netpollinit",  # netpoll._init_lock: creating a runtime's Netpoll
    "context",      # gpm.context Context._mu
    "sync",         # gpm.sync objects' _mu (wait queues park under it)
    "net",          # gpm.net Conn/Listener _lock
    "chan",         # channel locks: several at once only in select, ascending lock id
    "sema",         # runtime sema.py queues (parks under it)
    "allg",         # Sched.allglock: allgs, goids, G results/joiners (join parks under it)
    "glocal",       # gpm.local's _Impl.lock
    "fdtab",        # netpoll._fdtab_lock: fd -> PollDesc table, held across a close
    "polldesc",     # netpoll PollDesc.lock (arms deadline timers, edits epoll under it)
    "sched",        # Sched.lock (a plain thread's first wait registers under its queue's lock)
    "syscallpool",  # SyscallPool.lock
    "netpoll",      # netpoll_epoll Netpoll.lock
    "netpollw",     # netpoll_epoll Netpoll.wlock (netpollbreak)
    "runq",         # P.runq.lock (checkdead reads queues under Sched.lock)
    "timers",       # P.timers_lock (a timed wait arms its timer under the queue's lock)
    "note",         # Note._mu (modtimer wakes a P under a Timer's _mu)
    "trace",        # trace._trace_lock (schedtrace cadence)
    "leaf",         # the default rank: nothing is acquired under it (but preempt)
    "preempt",      # preempt._lock: the sys.monitoring callback takes it wherever an armed event
                    #   fires, so under any lock at all (free-threaded builds arm events
                    #   globally: a CALL inside ssl.py under gpm._tls's _mu); nothing is
                    #   acquired under it
))}
_MULTI = frozenset({RANKS["chan"]})


def _env_lockrank():
    for item in os.environ.get("GPM_DEBUG", "").split(","):
        key, sep, val = item.strip().partition("=")
        if key.strip() == "lockrank":
            try:
                return (int(val) if sep else 1) > 0
            except ValueError:
                return False       # debugflags warns about it when a runtime starts
    return False


_lockrank = _env_lockrank()
_record = os.environ.get("GPM_LOCKRANK_RECORD")      # HACKING.md: log observed nestings
_tls = _thread._local()
_seen: set = set()


def lockrank_enabled() -> bool:
    return _lockrank


def _held():
    try:
        return _tls.held
    except AttributeError:
        h = _tls.held = []
        return h


def release_held():
    """Release every ranked lock this thread holds, newest first, and return
    their names (lockrank=1; otherwise nothing is tracked and this returns []).
    Only for a thread that dies of a FatalError (Sched.crash): what the locks
    guarded may be inconsistent, but the run is being aborted anyway."""
    held = _held()
    names = []
    while held:
        lk = held.pop()
        names.append(lk.name)
        try:
            lk._lock.release()
        except RuntimeError:        # already released behind the record's back
            pass
    return names


class RankedLock:
    """A lock that checks the rank order on every blocking acquisition (lockrank=1 only)."""

    __slots__ = ("_lock", "rank", "name")

    def __init__(self, rank, name=None):
        self._lock = _thread.allocate_lock()
        self.name = name or rank
        self.rank = RANKS[rank]

    def acquire(self, blocking=True, timeout=-1):
        held = _held()
        if blocking and held:
            _check(self, held)
        if self._lock.acquire(blocking, timeout):
            held.append(self)
            return True
        return False

    def release(self):
        self._lock.release()
        held = _held()
        for i in range(len(held) - 1, -1, -1):
            if held[i] is self:
                del held[i]
                return
        _violation(f"lock {self.name} released by a thread that does not hold it "
                   "(a semaphore must come from new_sema())", held)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

    def locked(self):
        return self._lock.locked()

    def __repr__(self):
        return f"<RankedLock {self.name} rank={self.rank} {'locked' if self.locked() else 'unlocked'}>"


def _check(lk, held):
    r = lk.rank
    for h in held:
        if h.rank > r or (h.rank == r and (h is lk or r not in _MULTI)):
            if _record is not None:
                _note_edge(h, lk, bad=True)
                continue
            what = "recursive acquisition of" if h is lk else "acquiring"
            _violation(f"lock ordering problem: {what} {lk.name} (rank {r}) while holding "
                       f"{h.name} (rank {h.rank})", held)
        elif _record is not None:
            _note_edge(h, lk, bad=False)


def _note_edge(h, lk, bad):
    key = (h.name, lk.name)
    if key in _seen:
        return
    _seen.add(key)
    import traceback
    stack = "".join(traceback.format_stack(sys._getframe(3), limit=6)).replace("\n", "\n    ")
    line = f"{'BAD' if bad else 'ok'} {h.name} > {lk.name} pid={os.getpid()}\n    {stack}\n"
    fd = os.open(_record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _violation(msg, held):
    from .errors import FatalError
    chain = " > ".join(f"{h.name}({h.rank})" for h in held) or "nothing"
    print(f"gpm: fatal error: {msg}; held: {chain}", file=sys.stderr, flush=True)
    raise FatalError("gpm: fatal error: " + msg)


def new_lock(rank="leaf"):
    """A runtime mutex of ``rank`` (a key of RANKS); a plain lock unless lockrank=1.

    The default rank "leaf" is for locks under which nothing is acquired; such
    a lock is named in reports by where it was made."""
    if _lockrank:
        name = None
        if rank == "leaf":
            f = sys._getframe(1)
            name = f"leaf@{os.path.basename(f.f_code.co_filename)}:{f.f_lineno}"
        return RankedLock(rank, name)
    return _thread.allocate_lock()


new_sema = _thread.allocate_lock

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
        self._mu = new_lock("note")  # guards _signaled and _waiting
        self._sema = new_sema()      # held while nobody has released it
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

    def nap(self, timeout) -> bool:
        """Sleep ``timeout`` seconds, or less if a wakeup was pending (True, consumed); a
        wakeup during the nap is seen at its end.  Owner only.  No lock is blocked on: on a
        free-threaded build a blocking acquire first spins with up to 40 sched_yield()
        calls (CPython's PyMutex), and on a loaded machine each yield may cede the CPU for
        a whole slice: a 2 ms timed acquire beside a thread running Python took up to
        496 ms there (492 ms of it runnable on the run queue, load 12, 3.13.15t; 13-30 ms
        with the GIL on the same interpreter).  sysmon naps on such builds (FT_NAP)."""
        if self._take():
            return True
        _time.sleep(os_timeout(timeout))
        return self._take()

    def _take(self):
        """Consume a pending wakeup (True) or report none (False).  Owner only."""
        with self._mu:
            if self._signaled:
                self._signaled = False
                return True
        return False

    def close(self):
        """Nothing to release (FdNote's counterpart).  Any thread."""


class FdNote(Note):
    """A Note whose sleeper blocks in ``poll`` on an eventfd instead of on a lock (free-threaded
    builds, ``new_note``).

    Why: a blocking acquire of a held lock first spins with up to 40 sched_yield() calls
    there (CPython's PyMutex, Note.nap), so an M woken while still spinning saw the wakeup
    only when its current yield returned; on the loaded 2-core machine an idle P woken by
    wakep came 100-350 ms late and the spawning P ran nearly everything itself
    (tests/stress/test_fairness.py: executed per P [9619, 1294, 1076, 1277]).  ``poll`` and
    eventfd reads are plain system calls: no spin.

    Same contract as Note: sticky wakeup, spurious wakeups allowed.  ``_signaled`` (guarded
    by ``_mu``) is the state; the eventfd is only the kick that ends the poll: wakeup sets
    ``_signaled`` and writes the fd under ``_mu`` (so a close cannot slip in between and the
    write never lands on a reused fd number); the sleeper drains the fd after every poll, so
    a stale kick costs at most one early return, never a busy loop.
    """

    __slots__ = ("_fd", "_poll")

    def __init__(self):
        super().__init__()
        self._fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._poll = _select.poll()          # the owner's alone
        self._poll.register(self._fd, _select.POLLIN)

    def wakeup(self):
        """Wake the sleeper (any thread).  Idempotent until the next sleep."""
        with self._mu:
            if self._signaled:
                return
            self._signaled = True
            if self._fd >= 0:
                os.eventfd_write(self._fd, 1)

    def sleep(self, timeout=None) -> bool:
        """Block until woken (True) or until ``timeout`` seconds pass (False). Owner only."""
        with self._mu:
            if self._signaled:
                self._signaled = False
                return True
            fd = self._fd
        if fd >= 0:
            if timeout is None:
                ms = None
            else:
                ms = min(math.ceil(max(timeout, 0.0) * 1000.0), 2**31 - 1)
            try:
                if self._poll.poll(ms):
                    os.eventfd_read(fd)
            except (BlockingIOError, InterruptedError):
                pass
        return self._take()

    def close(self):
        """Close the eventfd (after the owner M exited; a later wakeup only sets the flag).
        Any thread; idempotent."""
        with self._mu:
            fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self):
        fd = getattr(self, "_fd", -1)
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


def new_note():
    """The Note an M sleeps on: FdNote on free-threaded builds (where os.eventfd exists),
    else Note (a lock-based sleep is cheaper where acquire does not spin)."""
    if FT_NAP and hasattr(os, "eventfd"):
        return FdNote()
    return Note()
