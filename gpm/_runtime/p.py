"""P and its run queue (layer L1: imports only locks).

RunQueue invariants (all fields guarded by ``lock``; the lock is a leaf):
  * the local queue is, in FIFO order: the ring ``buf[head:tail]`` (mod cap),
    then ``overflow``;
  * ``overflow`` holds only pinned Gs, and is non-empty only while the ring is
    full (Go sends every overflow to the global queue; pinned Gs cannot go
    there, since no other M may run them);
  * ``nfree`` counts the free Gs in the ring; ``runnext`` is not counted;
  * ``timerq`` holds pinned Gs readied by this P's own timers, in fire
    (deadline) order; they run before the ring (a timer's G is not queued
    behind goroutines that have never run: Go readies it into runnext), but
    at most TIMERQ_BURST of them in a row while the ring holds Gs
    (``jumped`` counts them), so a timer storm cannot starve the ring;
  * only the owner P puts into ``runnext``; a thief may take a free G out of
    it (Go: other Ps may only clear it).

Who may call what: ``put``, ``get``, ``yield_get``, ``perturb``,
``put_batch`` and ``put_timed`` are the owner P's; any thread forwards readied pinned Gs home
by taking ``lock`` itself and calling ``_append`` / ``_extend`` (sched.goready,
runqput_home: one acquisition per batch), and then reads ``P.parked`` under
the same lock; ``grab`` is any P's (a thief); ``snapshot`` any thread's.
Each call takes the lock once.

Cost: every operation is O(1), or O(cap) when free Gs leave the ring
(``_take_free``: putslow, grab); the pinned overflow is never copied, so N
readies cost O(N).  ``repacked`` counts the slots re-packs rewrote (tests
bound it).

Capacity is a parameter so property tests can use 4 and hit overflow and
wrap-around in every run (tokio does the same under loom).
"""

import collections
import random

from .locks import new_lock, new_note

__all__ = ["RunQueue", "P", "RUNQ_SIZE", "TIMERQ_BURST", "Pstatus"]

RUNQ_SIZE = 256          # Go's per-P ring size (runtime2.go p.runq)
TIMERQ_BURST = 64        # timer-readied Gs run in a row before a ring G gets its turn


class RunQueue:
    __slots__ = ("lock", "buf", "head", "tail", "cap", "runnext", "overflow", "nfree", "repacked",
                 "timerq", "jumped")

    def __init__(self, capacity=RUNQ_SIZE):
        self.lock = new_lock("runq")
        self.cap = capacity
        self.buf = [None] * capacity
        self.head = 0                 # index of the oldest G (monotonic; slot = head % cap)
        self.tail = 0                 # index one past the newest G
        self.runnext = None           # G to run next, inheriting the time slice
        self.overflow = collections.deque()   # pinned Gs beyond a full ring
        self.nfree = 0                # free Gs in the ring (a thief's hint)
        self.repacked = 0             # Gs rewritten by ring re-packs (a test's operation count)
        self.timerq = collections.deque()     # pinned Gs readied by this P's timers (put_timed)
        self.jumped = 0               # timerq Gs run in a row since the last ring G

    def __len__(self):
        """Gs in timerq, the ring and overflow (runnext not counted, as Go's schedtrace)."""
        return self.tail - self.head + len(self.overflow) + len(self.timerq)

    def empty(self) -> bool:
        """runqempty: no G in runnext, timerq, ring or overflow (racy unless lock held)."""
        return self.runnext is None and self.tail == self.head and not self.timerq

    def put(self, gp, next=False):
        """runqput: put ``gp`` on the queue; with ``next``, into runnext.

        Returns None, or a list of free Gs that overflowed and must go to the
        global queue in one batch (the caller does that; no lock nesting).
        """
        # acquire/release rather than ``with``: half the cost on this hot path;
        # nothing between them can raise.
        lock = self.lock
        lock.acquire()
        if next:
            old = self.runnext
            self.runnext = gp
            if old is None:
                lock.release()
                return None
            gp = old
        tail = self.tail
        if tail - self.head < self.cap and not self.overflow:
            self.buf[tail % self.cap] = gp
            self.tail = tail + 1
            if gp.pp is None:
                self.nfree += 1
            lock.release()
            return None
        try:
            return self._putslow(gp)
        finally:
            lock.release()

    def _putslow(self, gp):
        """runqputslow: the ring is full.  Requires lock held.

        Moves up to half a ring of free Gs, oldest first, plus ``gp`` if it is
        free, into a batch for the global queue (Go moves half + the new G;
        only free Gs may move).  Pinned Gs keep their order; a pinned ``gp``
        goes to the tail.  O(1) when the ring holds no free G (then nothing
        is re-packed: readying N pinned Gs on one P costs O(N), not O(N^2)),
        else O(cap) and at least one free G leaves the ring.
        """
        batch = self._take_free((self.tail - self.head) // 2) if self.nfree else []
        if gp.pp is None:
            batch.append(gp)
        else:
            self._append(gp)
        return batch

    def _take_free(self, want):
        """Remove up to ``want`` free Gs from the ring, oldest first; return them.

        Requires lock.  The ring is re-packed from slot 0 (kept Gs in order),
        then refilled from the head of ``overflow`` so that overflow is still
        non-empty only while the ring is full.  Touches at most ``cap`` Gs:
        the overflow is never copied.
        """
        cap = self.cap
        buf = self.buf
        taken = []
        kept = []
        for i in range(self.head, self.tail):
            j = i % cap
            g = buf[j]
            buf[j] = None
            if g.pp is None and len(taken) < want:
                taken.append(g)
            else:
                kept.append(g)
        ov = self.overflow
        room = cap - len(kept)
        while ov and room:
            kept.append(ov.popleft())     # pinned, so nfree is unchanged
            room -= 1
        n = len(kept)
        buf[:n] = kept
        self.head = 0
        self.tail = n
        self.nfree -= len(taken)
        self.repacked += n
        return taken

    def _append(self, gp):
        """Append at the logical tail (ring, else overflow). Requires lock."""
        if self.tail - self.head < self.cap and not self.overflow:
            self.buf[self.tail % self.cap] = gp
            self.tail += 1
            if gp.pp is None:
                self.nfree += 1
        else:
            if gp.pp is None:
                raise AssertionError("free G sent to a P's overflow")
            self.overflow.append(gp)

    def _extend(self, gs):
        """Append pinned ``gs`` in order at the logical tail.  Requires lock.

        Any thread (goready_list forwards a batch of readied Gs home with one
        lock acquisition).  O(len(gs)).
        """
        cap = self.cap
        buf = self.buf
        tail = self.tail
        room = 0 if self.overflow else cap - (tail - self.head)
        k = min(room, len(gs))
        for i in range(k):
            buf[(tail + i) % cap] = gs[i]
        self.tail = tail + k
        if k < len(gs):
            self.overflow.extend(gs[k:] if k else gs)

    def put_batch(self, gs):
        """runqputbatch: append ``gs`` in order; returns free Gs that did not fit (for global)."""
        spill = []
        with self.lock:
            for gp in gs:
                if self.tail - self.head < self.cap and not self.overflow:
                    self.buf[self.tail % self.cap] = gp
                    self.tail += 1
                    if gp.pp is None:
                        self.nfree += 1
                elif gp.pp is None:
                    spill.append(gp)
                else:
                    self.overflow.append(gp)
        return spill

    def put_timed(self, gs):
        """Pinned Gs readied by this P's own timers, in fire order, into ``timerq``.  Owner only."""
        lock = self.lock
        lock.acquire()
        self.timerq.extend(gs)
        lock.release()

    def get(self, runnext_ok=True):
        """runqget: (gp, inherit) or (None, False).  Owner only.

        runnext first (inherits the time slice) unless ``runnext_ok`` is False
        (the slice is used up): then runnext moves to the ring tail and the
        next G runs, so a ping-pong pair cannot starve the rest of the P.
        The next G is timerq's head, unless TIMERQ_BURST timerq Gs ran in a
        row and the ring holds Gs: then the ring head.
        """
        lock = self.lock
        lock.acquire()
        nxt = self.runnext
        head = self.head
        if nxt is not None and (runnext_ok or (self.tail == head and not self.timerq)):
            self.runnext = None
            lock.release()
            return nxt, True
        tq = self.timerq
        if tq and (self.jumped < TIMERQ_BURST or self.tail == head):
            gp = tq.popleft()
            self.jumped += 1
            if nxt is not None and (nxt.pp is not None or self.tail - head < self.cap):
                self.runnext = None       # slice used up: runnext goes behind, as below
                self._append(nxt)
            lock.release()
            return gp, False
        self.jumped = 0
        if self.tail == head:
            lock.release()
            return None, False
        cap = self.cap
        buf = self.buf
        i = head % cap
        gp = buf[i]
        buf[i] = None
        self.head = head + 1
        if gp.pp is None:
            self.nfree -= 1
        if self.overflow:
            buf[self.tail % cap] = self.overflow.popleft()
            self.tail += 1
        if nxt is not None and (nxt.pp is not None or self.tail - self.head < cap):
            # Slice used up: runnext goes behind the queue (a free G
            # cannot join the pinned overflow, so then it keeps its slot).
            self.runnext = None
            self._append(nxt)
        lock.release()
        return gp, False

    def perturb(self, rng):
        """GPM_DEBUG=randomize=1: shuffle what runs next, within Go's semantics.  Owner only.

        With probability 1/2 runnext is skipped (moved to the ring tail, as when
        its slice is used up), then the ring head is swapped with a random ring
        entry (FIFO perturbed).  Nothing is lost or duplicated; the pinned
        overflow keeps its order behind the ring; ``nfree`` is unchanged.
        """
        lock = self.lock
        lock.acquire()
        head = self.head
        nxt = self.runnext
        if nxt is not None and rng.random() < 0.5 and (
                nxt.pp is not None or (self.tail - head < self.cap and not self.overflow)):
            self.runnext = None
            self._append(nxt)
        n = self.tail - head
        if n > 1:
            cap = self.cap
            buf = self.buf
            i = head % cap
            j = (head + int(rng.random() * n)) % cap
            buf[i], buf[j] = buf[j], buf[i]
        lock.release()

    def yield_get(self, gp, runnext_ok):
        """put(gp) at the tail, then get(), under one lock (gosched's fast path).

        Returns (next, inherit), or None when the ring has no room for ``gp``
        or timerq holds Gs (the caller falls back to put + get).  Owner only.
        """
        lock = self.lock
        lock.acquire()
        tail = self.tail
        head = self.head
        cap = self.cap
        if tail - head >= cap or self.overflow or self.timerq:
            lock.release()
            return None
        buf = self.buf
        nxt = self.runnext
        if nxt is not None and runnext_ok:
            buf[tail % cap] = gp
            self.tail = tail + 1
            self.runnext = None
            lock.release()
            return nxt, True
        if nxt is not None:
            # Slice used up: runnext goes behind; gp behind it.
            self.runnext = None
            if nxt.pp is None:
                self.nfree += 1
            buf[tail % cap] = nxt
            tail += 1
            if tail - head >= cap:
                self.tail = tail
                lock.release()
                return None
        if tail == head:        # nothing else queued: gp runs again
            lock.release()
            return gp, False
        i = head % cap
        first = buf[i]
        buf[i] = None
        self.head = head + 1
        if first.pp is None:
            self.nfree -= 1
        buf[tail % cap] = gp
        self.tail = tail + 1
        lock.release()
        return first, False

    def grab(self, steal_runnext=False):
        """runqgrab: take half (rounded up) of the free Gs in the ring, oldest first.

        Any P (a thief).  Pinned Gs stay, in order.  If the ring has no free G
        and ``steal_runnext``, a free runnext is taken instead.  Returns a list.
        """
        with self.lock:
            n = self.nfree
            if n == 0:
                gp = self.runnext
                if steal_runnext and gp is not None and gp.pp is None:
                    self.runnext = None
                    return [gp]
                return []
            return self._take_free(n - n // 2)

    def snapshot(self):
        """All queued Gs: runnext, timerq, then the ring and overflow oldest first (for dumps and tests)."""
        with self.lock:
            gs = [self.runnext] if self.runnext is not None else []
            gs.extend(self.timerq)
            gs.extend(self.buf[i % self.cap] for i in range(self.head, self.tail))
            gs.extend(self.overflow)
            return gs


class Pstatus:
    IDLE = 0
    RUNNING = 1
    NAMES = {0: "idle", 1: "running"}


class P:
    """A logical processor.

    Field guards:
      runq                      its own lock (see RunQueue)
      timers ...                see timers.py (P.timers_lock)
      parked                    runq.lock: the M is about to sleep / sleeping on ``note``
      status                    Sched.lock (idle while in Sched.pidle)
      curg schedtick slice_start slice_exec check_global counters readybatch handoff*
      g0 free_workers last_sched curg_since longest_hold
                                owner M only; read racily by stats/sysmon/trace
      sudogcache                owner M only (select.py takes and returns Sudogs there)
      id sched rng note         set once at init (note: any thread wakes, the owner M sleeps)
      preempt_req               preempt._lock (a pending preemption request, preempt.py)
    """

    __slots__ = (
        "id", "sched", "runq", "note", "parked", "status", "curg", "g0",
        "schedtick", "slice_start", "slice_exec", "check_global", "rng", "free_workers",
        "timers", "timers_lock", "timer0", "ntimers", "timer_tie", "timers_dead",
        "executed", "steals", "stolen", "spawned",
        "last_sched", "curg_since", "longest_hold", "spinning",
        "preempt_req", "preempted", "readybatch", "stack_reqs", "sudogcache",
        "handoff", "handoff_inherit", "handoff_now",
    )

    def __init__(self, sched, pid, seed=None):
        self.id = pid
        self.sched = sched
        self.runq = RunQueue()
        self.note = new_note()        # the M sleeps here when idle (locks.new_note)
        self.parked = False           # guarded by runq.lock
        self.status = Pstatus.RUNNING
        self.curg = None              # G running now (owner writes)
        self.g0 = None                # the M's scheduler greenlet
        self.schedtick = 0            # incremented on every non-inherited execute
        self.slice_start = 0.0        # when the current time slice began
        self.slice_exec = 0           # ``executed`` when it began (seeded slices: sched._seeded)
        self.check_global = False     # a G yielded: look at the global queue next tick
        self.rng = random.Random(seed)
        self.free_workers = []        # finished worker greenlets for reuse (owner only)
        # timers: see timers.py
        self.timers = []
        self.timers_lock = new_lock("timers")
        self.timer0 = float("inf")
        self.ntimers = 0
        self.timer_tie = 0
        self.timers_dead = 0
        # counters (owner only)
        self.executed = 0             # Gs switched to (every execute)
        self.steals = 0               # successful steal operations by this P
        self.stolen = 0               # Gs this P took by stealing
        self.spawned = 0              # go() calls made on this P
        self.last_sched = 0.0         # monotonic time of the last schedule
        self.curg_since = 0.0         # when curg started its current run
        self.longest_hold = 0.0       # longest single run of a G on this P (seconds)
        self.spinning = False         # the M is spinning (guarded by Sched.lock)
        self.preempt_req = None       # pending preemption request (guarded by preempt._lock)
        self.stack_reqs = []          # pending stack-snapshot requests (trace.py; guarded by trace._stack_lock,
                                      # read racily by the owner M as a hint)
        self.preempted = 0            # Gs preempted on this P (owner only)
        self.readybatch = None        # owner M only: a list while it fires its own timers
                                      # (goready collects there; timers.py readies it in order)
        self.sudogcache = []          # owner M only: free select Sudogs (Go's pp.sudogcache, select.py)
        self.handoff = None           # owner M only: a free G a goroutine's stack hands to g0's
        self.handoff_inherit = False  # schedule to start on a new worker (sched.run_on), its
        self.handoff_now = 0          # inherit flag and clock reading

    def runqput_next(self, gp):
        """Readied ``gp`` (pinned here) into runnext; free Gs a full ring spills go
        global.  Owner M only (goready on the G's home M: Go's locality rule)."""
        batch = self.runq.put(gp, True)
        if batch:
            sched = self.sched
            sched.globrunqputbatch(batch)
            sched.wakep()

    def put_ready(self, gs):
        """Gs pinned to this P that its own timers readied, in fire order.  Owner M
        only (timers.py): into timerq, ahead of the ring (RunQueue.get)."""
        self.runq.put_timed(gs)

    def wake(self):
        """Wake this P's M if it sleeps (on its note, or in the netpoller).  Any thread.

        Note first, then the poller check: netpoll_epoll.py explains why this
        order never loses a wake against an M that is becoming the poller owner.
        """
        self.note.wakeup()
        np = getattr(self.sched, "netpoller", None)
        if np is not None:
            np.wake_owner(self)

    def __repr__(self):
        return f"<P{self.id} {Pstatus.NAMES[self.status]} runq={len(self.runq)}>"
