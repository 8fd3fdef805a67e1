"""sysmon: the monitor thread ``gpm-sysmon`` (Go's sysmon, an M without a P).

Every round it calls the pure step ``sysmon_tick(sched, now)``, which
  1. netpolls without blocking if goroutines wait on the netpoller, no M is
     blocked in epoll and nobody polled for NETPOLL_PERIOD (Go: 10 ms);
  2. blockwarn + retake: a running P whose ``executed`` counter has not moved
     for ``debug.blockwarn`` ms while it has a current G is stuck (a goroutine
     that never yields: a CPU loop or an unwrapped blocking call).  Once per
     stuck episode it logs a warning on logger "gpm" with that goroutine's
     stack (``sys._current_frames()`` of the P's M thread).  On every round of
     the episode it moves the P's free goroutines (never run, so not pinned)
     to the global queue and calls wakep, so another P runs them (Go's
     retake, in the only form that works with pinned greenlets: ANCHORS 7.7);
  3. preemption (Go's retake -> preemptone): a G that has held its P for the
     10 ms time slice while other work waits for that P is asked to yield at
     its next safe point (preempt.py; CPython 3.12+, unless
     GPM_DEBUG=asyncpreemptoff=1); while a G runs, sysmon sleeps no longer
     than until its slice ends (or its P's next timer), so the request is
     made on time;
and then ``gcpace.young_tick(sched, now)`` (a young collection every 8 ms while
many goroutines live: gcpace.py) and ``trace.schedtrace_tick(sched, now)``.

Back-off (ANCHORS 7.7; Go's 20 us start is unrealistic in CPython): sleep
MIN_DELAY, double after IDLE_ROUNDS rounds that did nothing, cap MAX_DELAY;
any action resets it; with schedtrace on, never sleep longer than its period.
When every P is idle (and schedtrace is off) sysmon sleeps until a P leaves
idle (``Sched.sysmon_deep``), so an idle runtime does not wake 100 times a
second.

When the run stops (``wake`` from Sched.stop), sysmon asks every running G to
yield (preemption) and exits; api.py joins the Ms and sysmon, closes the
netpoller and gives the preemption tool id back (the one teardown).

Field guards (Sysmon):
  note          Go's note: any thread wakes, sysmon sleeps on it
  thread        set once by start_sysmon
  ms_started    threading.Event, set by api.start_threads once every M's start()
                returned (sysmon starts first; the teardown joins the Ms only after it)
  seen          sysmon thread only: pid -> [executed, first_seen, warned]
  preempt       set once at init: preemption may be used in this run
  last_trace    sysmon thread only (a test calling schedtrace_tick directly
                holds trace's lock): when the last SCHED line was printed
  warnings retakes retaken_gs polls rounds
                counters written by the sysmon thread only, read racily by tests
  stuck_mark stuck_warned stuck_scan stuck_warnings
                guarded by ``sched.allglock`` (stuckwarn runs on idle Ms, not on sysmon)
"""

import logging
import sys
import threading
import traceback

from .clock import nanotime
from .errors import FatalError
from .g import Gstatus
from .locks import FT_NAP, Note
from . import gcpace
from . import preempt
from . import sched as _sched_mod
from . import trace

__all__ = ["start_sysmon", "sysmon_tick", "stuckwarn", "Sysmon", "NETPOLL_PERIOD"]

log = logging.getLogger("gpm")

_SCHED_FILE = _sched_mod.__file__

MIN_DELAY = 0.001
MAX_DELAY = 0.010
IDLE_ROUNDS = 10       # Go: 50 rounds of 20 us (1 ms) before doubling; here 10 ms
NETPOLL_PERIOD = 0.010
MIN_PREEMPT_DELAY = 0.0002 # shortest sleep towards a time slice's end


class Sysmon:
    def __init__(self, sched):
        self.sched = sched
        self.note = Note()
        self.thread = None
        self.ms_started = threading.Event()
        self.seen = {}
        self.warnings = 0
        self.retakes = 0
        self.retaken_gs = 0
        self.polls = 0
        self.rounds = 0
        self.last_trace = None
        self.preempt = preempt.available(sched)
        self.stuck_mark = None      # (P executed counters, since): the idle episode stuckwarn watches
        self.stuck_warned = set()   # (goid, waitsince) already named by stuckwarn this episode
        self.stuck_scan = 0.0       # when stuckwarn last scanned allgs
        self.stuck_warnings = 0

    def wake(self):
        self.note.wakeup()

    def stuckwarn(self, now):
        """``stuckwarn(self.sched, now, self)``: the idle M's call (sched cannot import this module)."""
        return stuckwarn(self.sched, now, self)

    def loop(self):
        sched = self.sched
        try:
            delay = MIN_DELAY
            idle = 0
            while not sched.stopping:
                now = nanotime()
                self.rounds += 1
                did = sysmon_tick(sched, now, self)
                gcpace.young_tick(sched, now)   # young collections on a clock (gcpace.py)
                trace.schedtrace_tick(sched, now, self)
                if did:
                    idle = 0
                    delay = MIN_DELAY
                else:
                    idle += 1
                    if idle > IDLE_ROUNDS:
                        delay = min(delay * 2, MAX_DELAY)
                st = sched.debug.schedtrace
                if st <= 0 and self.deep_sleep_ok(sched):
                    # Every P is idle: nothing to watch.  Sleep until a P
                    # leaves idle (Sched._leave_idle / wakep wake us), so an
                    # idle runtime sleeps instead of polling (Go's sysmon does
                    # the same).  A P blocked in epoll is idle too.
                    self.note.sleep(None)
                    idle = 0
                    delay = MIN_DELAY
                    continue
                d = delay if st <= 0 else min(delay, st / 1000.0)
                if self.preempt:
                    d = min(d, max(MIN_PREEMPT_DELAY, preempt.next_check(sched, now) - now))
                if FT_NAP:
                    self.note.nap(d)        # locks.Note.nap: no sched_yield spin (<= 10 ms)
                else:
                    self.note.sleep(d)
        except BaseException as e:            # noqa: BLE001 - feeds the abort path
            fe = FatalError(f"gpm: sysmon crashed: {e!r}")
            fe.__cause__ = e
            sched.crash(fe)
        finally:
            if self.preempt:
                preempt.preempt_all(sched)     # a G that never yields would keep its M from exiting

    @staticmethod
    def deep_sleep_ok(sched):
        """Announce a deep sleep if every P is idle (under Sched.lock, so a P
        leaving idle either sees the flag and wakes us, or we see it busy)."""
        with sched.lock:
            if sched.npidle == sched.procs and not sched.stopping:
                sched.sysmon_deep = True
                return True
            return False


def start_sysmon(sched, sm=None):
    """Start the sysmon thread (api.start_threads, before the Ms); ``sm`` defaults to a
    new Sysmon."""
    if sm is None:
        sm = Sysmon(sched)
    sched.sysmon = sm
    sm.thread = threading.Thread(target=sm.loop, name="gpm-sysmon", daemon=True)
    sm.thread.start()
    return sm


def sysmon_tick(sched, now, sm=None):
    """One sysmon round at time ``now``; returns what it did (a dict, empty if nothing).

    Keys: "netpoll" (Gs readied), "blockwarn" (list of (P id, goroutine id,
    held seconds) warned this round), "retake" (list of (P id, Gs moved)),
    "preempt" (P ids whose G was asked to yield this round).
    ``sm`` holds the per-P memory (defaults to ``sched.sysmon``).
    """
    if sm is None:
        sm = sched.sysmon
    did = {}
    # 1. netpoll if nobody has for NETPOLL_PERIOD.
    np = sched.netpoller
    if np is not None and sched.netpoll_waiters and np.owner is None \
            and now - np.lastpoll > NETPOLL_PERIOD:
        gs = np.netpoll(0.0)
        sm.polls += 1
        if gs:
            _sched_mod.goready_list(gs)
            did["netpoll"] = len(gs)
    # 2. preemption requests (before blockwarn: a G preempted in time is not warned about).
    if getattr(sm, "preempt", False):
        made = preempt.preempt_tick(sched, now)
        if made:
            did["preempt"] = made
    # 3. blockwarn and retake.
    limit = sched.debug.blockwarn / 1000.0
    if limit <= 0:
        return did
    seen = sm.seen
    for pp in sched.allp:
        gp = pp.curg
        ex = pp.executed
        st = seen.get(pp.id)
        if gp is None or st is None or st[0] != ex:
            seen[pp.id] = [ex, now, False]
            continue
        held = now - st[1]
        if held < limit:
            continue
        if not st[2]:
            st[2] = True
            sm.warnings += 1
            _warn(sched, pp, gp, held)
            did.setdefault("blockwarn", []).append((pp.id, gp.goid, held))
        moved = _retake(sched, pp)
        if moved:
            sm.retakes += 1
            sm.retaken_gs += moved
            did.setdefault("retake", []).append((pp.id, moved))
    return did


def _warn(sched, pp, gp, held):
    stack = "(stack unavailable)"
    if trace.SNAPSHOT:
        # Free-threaded: the stuck G's frames belong to a running thread and
        # reading them can crash (trace.py's module doc); name its function.
        code = getattr(gp.fn, "__code__", None)
        where = (f'\n  File "{code.co_filename}", line {code.co_firstlineno}, in {code.co_name}'
                 if code is not None else "")
        return _log_warn(sched, pp, gp, held,
                         "  (stack unavailable on a free-threaded build; the goroutine runs)" + where + "\n")
    try:
        t = sched.ms[pp.id]
        frame = sys._current_frames().get(t.ident)
        if frame is not None:
            entries = traceback.extract_stack(frame)
            # Drop the worker greenlet's base frames (Sched.gmain and below):
            # the goroutine's own stack starts after them.
            for i in range(len(entries) - 1, -1, -1):
                if entries[i].name == "gmain" and entries[i].filename == _SCHED_FILE:
                    entries = entries[i + 1:]
                    break
            stack = "".join(traceback.format_list(entries))
    except (IndexError, AttributeError):
        pass
    finally:
        frame = None
    _log_warn(sched, pp, gp, held, stack)


def _log_warn(sched, pp, gp, held, stack):
    pending = (" A preemption request is pending: it is inside a C call or library code "
               "with no safe point." if pp.preempt_req is not None else "")
    log.warning("gpm: goroutine %d has held P%d for %.0f ms without yielding "
                "(GPM_DEBUG blockwarn=%d ms); its free goroutines are moved to other Ps.%s\n"
                "goroutine %d [running]:\n%s",
                gp.goid, pp.id, held * 1000.0, sched.debug.blockwarn, pending, gp.goid, stack)


def stuckwarn(sched, now, sm=None):
    """Name the goroutines stuck on patched threading locks (blockwarn for an idle runtime).

    Called by an idle M each time checkdead answers "foreign": every P idle, no timer, no netpoll
    waiter, no call in gpm.syscall, but a live plain thread could still wake a goroutine, so it
    is no provable gpm.Deadlock (API.md: never a false positive) and the run waits.  When that
    idle episode (no P executed a goroutine since it began) has lasted ``debug.blockwarn`` ms,
    each goroutine parked on a patched lock (WaitReason.THREADING_LOCK) for as long is named
    once on logger "gpm": its id, the lock (``gp.waiting.c``), its stack, and the plain threads
    that keep the run alive.  A lock-order inversion among goroutines then says why it hangs
    instead of hanging silently.  Returns the goroutine ids warned about (an empty list if
    none).  Any thread; requires no runtime lock held.
    """
    if sm is None:
        sm = sched.sysmon
    limit = sched.debug.blockwarn / 1000.0
    if sm is None or limit <= 0:
        return []
    mark = tuple(pp.executed for pp in sched.allp)
    with sched.allglock:
        if sm.stuck_mark is None or sm.stuck_mark[0] != mark:
            sm.stuck_mark = (mark, now)       # a goroutine ran since: a new episode
            sm.stuck_warned = set()
        if now - sm.stuck_mark[1] < limit or now - sm.stuck_scan < limit:
            return []
        sm.stuck_scan = now                   # one scan of allgs per interval, whichever M asks
        stuck = [gp for gp in sched.allgs.values()
                 if gp.status == Gstatus.WAITING and gp.waitreason in _sched_mod.EXTERNAL_WAITS
                 and now - gp.waitsince >= limit
                 and (gp.goid, gp.waitsince) not in sm.stuck_warned]
        for gp in stuck:
            sm.stuck_warned.add((gp.goid, gp.waitsince))
        if stuck:
            sm.stuck_warnings += 1
    if not stuck:
        return []
    stuck.sort(key=lambda g: g.goid)
    ids = {gp.goid for gp in stuck}
    recs = {r.goid: r for r in trace.goroutine_stacks(sched) if r.goid in ids}
    parts = []
    for gp in stuck:
        sg = gp.waiting
        what = f"  waits on {sg.c!r}" if sg is not None and sg.c is not None else "  waits on a patched lock"
        r = recs.get(gp.goid)
        text = trace.format_record(r) if r is not None else f"goroutine {gp.goid} [{gp.waitreason}]:"
        head, _, rest = text.partition("\n")
        parts.append(head + "\n" + what + ("\n" + rest if rest else ""))
    threads = ", ".join(repr(th.name) for th in sched.plain_threads()) or "(a thread not yet running)"
    log.warning("gpm: no goroutine has run for %.0f ms and %d wait on patched threading locks "
                "(GPM_DEBUG blockwarn=%d ms); a deadlock unless a plain thread releases one, so "
                "no gpm.Deadlock while these live: %s\n%s",
                (now - sm.stuck_mark[1]) * 1000.0, len(stuck), sched.debug.blockwarn, threads,
                "\n\n".join(parts))
    return sorted(ids)


def _retake(sched, pp):
    """Move all free Gs of a stuck P to the global queue and wake an idle P.

    Under Sched.lock from the first grab until the Gs are on the global queue (Sched.lock >
    P.runq lock, the checkdead nesting): sysmon holds no P, so Gs in its hands are in no
    queue, and the stuck G may finish meanwhile, its P go idle and the last idle M run
    checkdead, which then saw nothing runnable: a false Deadlock (test_fairness's
    bursts test at procs=4 on 3.13t).  checkdead takes Sched.lock, so it now sees them."""
    moved = []
    q = pp.runq
    with sched.lock:
        while True:
            got = q.grab(steal_runnext=True)
            if not got:
                break
            moved.extend(got)
        if moved:
            sched.runq.extend(moved)          # globrunqputbatch, with Sched.lock held
            sched.runqsize += len(moved)
    if moved:
        sched.wakep()
    return len(moved)
