"""Per-P timer heaps (Go 1.14+): addtimer deltimer modtimer check_timers.

A timer lives on the P that first armed it (``t.pp``), for life; firing it
only calls ``t.f(t.arg, now)``, which must not block (it readies a G, does a
non-blocking channel send or spawns a goroutine), so any M may fire any P's
timers.

Invariants (all guarded by ``pp.timers_lock``, a leaf lock):
  * ``pp.timers`` is a binary heap of entries ``(when, tie, t, seq)``; an entry
    is live iff ``t.active and t.seq == seq`` (lazy deletion, as Go's netpoll
    drops stale deadline timers by sequence number); ``tie`` keeps FIFO order
    among equal deadlines;
  * ``pp.ntimers`` counts active timers (checkdead reads it);
  * ``pp.timer0`` is <= the earliest live deadline (stale entries may make it
    earlier, which costs one early wakeup, never a late one); the owner M reads
    it without the lock as a hint: a stale read is either an early check (takes
    the lock and finds nothing) or a late one, and every writer that moves it
    earlier from another thread also wakes the P's M (``note.wakeup``);
  * dead entries are compacted away when they exceed a quarter of the heap.
"""

import heapq
import math

from greenlet import getcurrent

__all__ = ["RTimer", "addtimer", "deltimer", "modtimer", "check_timers", "run_timers"]

_INF = math.inf


class RTimer:
    """A runtime timer: at ``when`` call ``f(arg, now)``; repeat every ``period`` if > 0."""

    __slots__ = ("when", "period", "f", "arg", "seq", "pp", "active")

    def __init__(self, f, arg=None, period=0.0):
        self.f = f
        self.arg = arg
        self.period = period
        self.when = 0.0
        self.seq = 0          # bumped on every (re)arm and stop: older heap entries are stale
        self.pp = None        # home P, set on first arm
        self.active = False   # armed and not yet fired/stopped


def _push(pp, t, when):
    """Requires pp.timers_lock held."""
    t.seq += 1
    t.when = when
    pp.timer_tie += 1
    heapq.heappush(pp.timers, (when, pp.timer_tie, t, t.seq))
    if when < pp.timer0:
        pp.timer0 = when
        return True
    return False


def addtimer(t, when, pp, waker_pp=None):
    """Arm ``t`` (not active) at ``when`` on ``pp``.  Any thread.

    ``waker_pp`` is the caller's own P, or None on a plain thread: if the new
    deadline is the earliest and the caller is not ``pp``'s own M, the M is
    woken so that its sleep is shortened.
    """
    modtimer(t, when, t.period, pp, waker_pp)


def modtimer(t, when, period, pp=None, waker_pp=None) -> bool:
    """(Re)arm ``t`` at ``when``; returns whether it was active.  Any thread."""
    if t.pp is None:
        t.pp = pp
    pp = t.pp
    with pp.timers_lock:
        was = t.active
        if was:
            pp.timers_dead += 1
        else:
            pp.ntimers += 1
            t.active = True
        t.period = period
        earliest = _push(pp, t, when)
    if earliest and waker_pp is not pp:
        pp.wake()
    return was


def deltimer(t) -> bool:
    """Stop ``t``; True if this call stopped an active timer.  Any thread."""
    pp = t.pp
    if pp is None:
        return False
    with pp.timers_lock:
        if not t.active:
            return False
        t.active = False
        t.seq += 1
        pp.ntimers -= 1
        pp.timers_dead += 1
        if pp.timers_dead > 64 and pp.timers_dead * 4 > len(pp.timers):
            _compact(pp)
        return True


def _compact(pp):
    """Drop stale entries.  Requires pp.timers_lock held."""
    live = [e for e in pp.timers if e[2].active and e[2].seq == e[3]]
    heapq.heapify(live)
    pp.timers[:] = live
    pp.timers_dead = 0
    pp.timer0 = live[0][0] if live else _INF


def check_timers(pp, now) -> float:
    """Fire ``pp``'s due timers; return the next deadline (inf if none).  Any M.

    Entries are popped under the lock; the callbacks run after it is
    released (never call out with a lock held).
    """
    return _fire_due(pp, now)[1]


def run_timers(pp, now) -> int:
    """Fire ``pp``'s due timers; return how many fired.  Any M (steal_timers
    runs a busy P's timers from an idle M, as Go's stealWork)."""
    return _fire_due(pp, now)[0]


def _fire_due(pp, now):
    fire = []
    with pp.timers_lock:
        h = pp.timers
        while h and h[0][0] <= now:
            when, _, t, seq = heapq.heappop(h)
            if seq != t.seq or not t.active:
                pp.timers_dead -= 1
                continue
            if t.period > 0:
                # Next tick after now; ticks a slow reader missed are dropped (Go).
                # Float floor can land on now itself (1.0 // 0.1 == 9.0): then
                # one more period, or the re-armed timer fires twice right here.
                nxt = when + t.period * (1 + int((now - when) // t.period))
                if nxt <= now:
                    nxt += t.period
                _push(pp, t, nxt)
            else:
                t.active = False
                pp.ntimers -= 1
            fire.append(t)
        nxt = h[0][0] if h else _INF
        pp.timer0 = nxt
    if not fire:
        return 0, nxt
    if getattr(getcurrent(), "pp", None) is not pp:
        for t in fire:              # another P's M: goready forwards each to the ring tail
            t.f(t.arg, now)
        return len(fire), nxt
    # On the owner M, Gs readied by these callbacks go to the P's timerq in
    # fire (deadline) order, as one batch, ahead of the ring (p.py
    # RunQueue.get, bounded by TIMERQ_BURST): at the ring's tail they waited
    # behind every goroutine that had never run (up to a ring of them, with
    # more refilled from the global queue); one by one, each would take
    # runnext and push the previous one back, so the last fired would run
    # first.
    batch = pp.readybatch = []
    try:
        for t in fire:
            t.f(t.arg, now)
    finally:
        pp.readybatch = None
        if batch:
            pp.put_ready(batch)
    return len(fire), nxt
