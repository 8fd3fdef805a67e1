"""GC pacing while ``gpm.run`` runs: full collections scale with live goroutines.

CPython's cyclic GC stops every thread for a collection, and a full
(generation 2) collection walks every tracked object.  A parked goroutine
keeps ~9 tracked objects alive (its G, greenlet, Context, Sudog or timer
objects, tuples; measured: 910,872 objects with 100,000 goroutines parked on
a channel), all reachable from ``sched.allgs`` while it lives: they can never
be cyclic garbage, so walking them finds nothing.  CPython's default policy
runs a full collection every 10 gen1 collections once the objects promoted
since the last one exceed a quarter of its survivors: spawning 200,000
sleepers triggered 17 full collections of up to 1.6 s each (measured under
load), and every goroutine waited meanwhile.

The policy here is Go's pacer (GOGC=100: the next cycle once the heap has
grown by the live heap) applied to the goroutines' share of the heap: while
a run is in progress the full-collection threshold (``gc.get_threshold()[2]``,
counted in gen1 collections) is raised by ``PER_G`` net tracked allocations
per live goroutine, about twice what a parked goroutine holds.  The count used
is the peak since the last full collection (Go fixes its goal at the end of a
cycle), so a mass exit does not trigger a full walk over the objects of the
goroutines still on their way out.  Young collections are unchanged, so
short-lived cyclic garbage is collected as before; old cyclic garbage made by
user code is collected by the next full collection, which comes after at most
``PER_G`` x peak goroutines more net allocations (and at the latest once the
run returns: the user's thresholds are back and the gen2 count has grown).

Young collections on a clock (``young_tick``, called by sysmon every round):
CPython starts a young collection when *net* tracked allocations exceed
``threshold0``, and every freed object counts down, old ones included.  While
goroutines start (allocating) as fast as others finish (freeing objects long
promoted), the count stays near zero and generation 0 grows unseen; measured
with 200,000 sleepers: young collections of 10,000-18,000 objects and
generation-1 ones of 16,000, 15-26 ms each (thread CPU), every goroutine
waiting meanwhile (the sleepers' lateness tail).  So while at least
``YOUNG_MIN_G`` goroutines live, sysmon runs ``gc.collect(1)`` once per
``YOUNG_PERIOD``: each collection walks what was allocated since the last one,
and moves it to generation 2 (where it would go after its second young
collection anyway); the full-collection threshold is raised by the number of
these forced collections, so they do not bring a full collection nearer.  It
runs on sysmon's thread, so cyclic garbage found then is finalized there (a
``__del__`` that blocks on a gpm object would block sysmon; one that blocks
in an automatic collection blocks an M).

What is touched and restored: ``gc.set_threshold`` (the user's three values
come back when ``gpm.run`` returns, however it returns) and one entry in
``gc.callbacks`` (removed on exit).  ``gc.isenabled()`` is never changed: a
user who disabled the collector keeps it disabled.  If the user sets new
thresholds while the run is in progress, pacing stops and their values are
left as they set them.  Not applied on free-threaded builds (their collector
has no generations) nor on 3.14+ (incremental full collections), and off
with ``GPM_DEBUG=gcpaceoff=1``.

Guards: every field of ``_Pacer`` but ``forced`` and ``last_young`` is written
only by the GC callback and by ``enter``/``exit`` of the one ``gpm.run`` in
progress (``sched._current`` is unique); those two only by ``young_tick`` on
sysmon's thread (one writer), and the callback reads ``forced`` racily (a
stale value moves the full-collection threshold by one forced collection).  The callback runs on whatever thread triggered the collection,
inside the collector, which runs one collection at a time: two callback
invocations never overlap (on GIL builds, the only ones this runs on; this is
CPython's guarantee for gc.callbacks, not a reliance on the GIL for our own
data: enter/exit happen before the runtime's threads start and after they
are joined).  ``len(sched.allgs)`` is read without ``allglock``: a stale count
only moves a threshold by a few gen1 collections.
"""

import gc
import sys

__all__ = ["enter", "exit", "young_tick", "PER_G", "YOUNG_PERIOD", "YOUNG_MIN_G", "applies"]

# Net tracked allocations of headroom per live goroutine: about twice the ~9
# objects a parked goroutine keeps alive (GOGC=100 on the goroutines' share).
PER_G = 32
# Forced young collections (young_tick): at most one per YOUNG_PERIOD seconds, only
# while at least YOUNG_MIN_G goroutines live (fewer cannot make a young generation big).
YOUNG_PERIOD = 0.008
YOUNG_MIN_G = 5000


def applies() -> bool:
    """Whether pacing is used on this interpreter (GIL build, CPython 3.11-3.13)."""
    gil = getattr(sys, "_is_gil_enabled", None)
    if gil is not None and not gil():
        return False
    return sys.implementation.name == "cpython" and sys.version_info < (3, 14)


class _Pacer:
    __slots__ = ("sched", "user", "ours", "peak", "active", "forced", "forced_at_full", "last_young")

    def __init__(self, sched, user):
        self.sched = sched
        self.user = user            # the thresholds to restore (t0, t1, t2)
        self.ours = user            # the thresholds we set last
        self.peak = 0               # peak live goroutines since the last full collection
        self.active = True          # False once the user set thresholds of their own
        self.forced = 0             # young_tick's collections so far (sysmon writes)
        self.forced_at_full = 0     # ``forced`` at the last full collection (callback writes)
        self.last_young = 0.0       # when young_tick last collected (sysmon writes)

    def callback(self, phase, info):
        if not self.active:
            return
        cur = gc.get_threshold()
        if cur != self.ours:
            self.active = False     # the user set thresholds: theirs stand, no restore
            return
        live = len(self.sched.allgs)
        forced = self.forced
        if phase == "stop" and info.get("generation") == 2:
            self.peak = live        # Go: the goal is set from what a cycle left live
            self.forced_at_full = forced
        elif live > self.peak:
            self.peak = live
        t0, t1, t2 = self.user
        want = (t0, t1, t2 + PER_G * self.peak // max(t0 * t1, 1) + forced - self.forced_at_full)
        if want != cur:
            gc.set_threshold(*want)
            self.ours = want


_pacer = None


def enter(sched):
    """Start pacing for the runtime of ``gpm.run``.  Called by run before the
    runtime's threads start; a no-op where pacing does not apply.  A pacer
    still installed is a previous run's whose exit an interrupt cut short
    (only one gpm.run runs at a time): it is removed first."""
    global _pacer
    if _pacer is not None:
        exit(_pacer.sched)          # stale: its run's exit was cut short (one run at a time)
    if not applies() or sched.debug.gcpaceoff:
        return
    th = gc.get_threshold()
    if len(th) < 3 or th[0] <= 0:
        return                      # threshold 0 disables automatic collection: leave it
    p = _Pacer(sched, th[:3])
    _pacer = p
    gc.callbacks.append(p.callback)


def exit(sched):
    """Stop pacing and give the user's thresholds back.  Called by run after
    the runtime's threads were joined (any exit path).  Idempotent."""
    global _pacer
    p = _pacer
    if p is None or p.sched is not sched:
        return
    _pacer = None
    try:
        gc.callbacks.remove(p.callback)
    except ValueError:
        pass                        # the user removed it
    if p.active and gc.get_threshold() == p.ours:
        gc.set_threshold(*p.user)


def young_tick(sched, now):
    """One young collection (generations 0 and 1) if due; True if it ran.  Sysmon's
    thread, every round (see the module doc): while ``sched``'s run is paced,
    the collector is enabled and at least YOUNG_MIN_G goroutines live, at most
    one per YOUNG_PERIOD.  ``now``: sysmon's clock reading."""
    p = _pacer
    if p is None or p.sched is not sched or not p.active:
        return False
    if now - p.last_young < YOUNG_PERIOD or len(sched.allgs) < YOUNG_MIN_G or not gc.isenabled():
        return False
    p.last_young = now
    p.forced += 1               # before the collection: its callback raises threshold 2 by it
    gc.collect(1)
    return True
