"""The scheduler on its own: a bare Sched (no M threads), its findnext and
findrunnable order, and the wakep/stopm protocol, driven from the test thread.

Go tests its scheduler's pieces on a bare p the same way (export_test.go).
The Gs are real G objects; none ever runs (no greenlet is switched to).
"""

import random
import threading

import pytest

from tests.support import G, Gstatus, RTimer, Sched, nanotime, parse_debug, rsched, rtimers

pytestmark = pytest.mark.schedorder     # exact order policy: no randomize/seed


def _sched(procs=1, served=None):
    s = Sched(procs, debug=parse_debug(""), serve_stack_reqs=(served.append if served is not None else None))
    rsched.set_debug_flags(s)           # checks, randomize, seeded off (module flags of the last runtime)
    return s


def _g(s, n, pp=None, status=Gstatus.RUNNABLE):
    gp = G(s, n, None, (), None)
    gp.pp = pp                          # None: free; else pinned to ``pp``
    gp.status = status
    return gp


# -- findnext --------------------------------------------------------------------

def test_findnext_runnext_inherits_then_ring_in_fifo_order():
    s = _sched()
    pp = s.allp[0]
    a, b, c = (_g(s, i, pp) for i in (1, 2, 3))
    pp.runq.put(a)
    pp.runq.put(b)
    pp.runq.put(c, True)                 # runnext
    now = nanotime()
    pp.slice_start = now                 # the slice has just begun
    assert rsched.findnext(pp, now, True) == (c, True)
    assert rsched.findnext(pp, now, True) == (a, False)
    assert rsched.findnext(pp, now, True) == (b, False)
    assert rsched.findnext(pp, now, True) == (None, False)


def test_findnext_slice_used_up_runnext_goes_behind():
    s = _sched()
    pp = s.allp[0]
    a, c = _g(s, 1, pp), _g(s, 3, pp)
    pp.runq.put(a)
    pp.runq.put(c, True)
    now = nanotime()
    pp.slice_start = now - 2 * rsched.TIME_SLICE
    assert rsched.findnext(pp, now, True) == (a, False)
    assert rsched.findnext(pp, now, True) == (c, False)  # it went behind the ring: a new slice
    assert pp.runq.runnext is None


@pytest.mark.parametrize("tick, check_global, want_global", [
    (0, False, True),                    # 0 % 61 == 0
    (61, False, True),
    (1, False, False),
    (60, False, False),
    (1, True, True),                     # after a yield (gosched sets check_global)
])
def test_findnext_global_queue_every_61st_tick(tick, check_global, want_global):
    s = _sched()
    pp = s.allp[0]
    local, glob = _g(s, 1, pp), _g(s, 2)
    pp.runq.put(local)
    s.globrunqputbatch([glob])
    pp.schedtick = tick
    pp.check_global = check_global
    gp, inherit = rsched.findnext(pp, nanotime(), True)
    assert (gp is glob) == want_global and inherit is False
    assert pp.check_global is False


def test_findnext_fires_due_timers_on_g0_only():
    s = _sched()
    pp = s.allp[0]
    fired = []
    t = RTimer(lambda arg, now: fired.append(arg), "t")
    now = nanotime()
    rtimers.addtimer(t, now - 1.0, pp, pp)
    pp.runq.put(_g(s, 1, pp))
    # On a goroutine's stack a due timer sends the M to g0 (a callback may spawn).
    assert rsched.findnext(pp, now) == (None, False)
    assert fired == []
    gp, _ = rsched.findnext(pp, now, True)
    assert fired == ["t"] and gp.goid == 1


def test_findnext_accounts_the_leaving_g_and_serves_stack_requests():
    served = []
    s = _sched(served=served)
    pp = s.allp[0]
    now = nanotime()
    pp.curg = _g(s, 1, pp, Gstatus.RUNNING)
    pp.curg_since = now - 0.25
    pp.stack_reqs = ["req"]
    rsched.findnext(pp, now)
    assert pp.curg is None and pp.longest_hold == pytest.approx(0.25)
    assert pp.last_sched == now
    assert served == [pp]


def test_findnext_stopping_answers_nothing_and_requeues_a_yielding_g():
    s = _sched()
    pp = s.allp[0]
    me = _g(s, 1, pp)
    s.stopping = True
    assert rsched.findnext(pp, nanotime(), False, me) == (None, False)
    assert pp.runq.snapshot() == [me] and pp.check_global


def test_findnext_yielding_g_goes_behind_the_local_queue():
    s = _sched()
    pp = s.allp[0]
    me, other = _g(s, 1, pp), _g(s, 2, pp)
    now = nanotime()
    assert rsched.findnext(pp, now, False, me) == (me, False)    # nothing else: runs again
    pp.runq.put(other)
    assert rsched.findnext(pp, now, False, me) == (other, False)
    assert pp.runq.snapshot() == [me]


def test_findnext_yielding_g_lets_the_global_queue_go_first():
    s = _sched()
    pp = s.allp[0]
    me, glob = _g(s, 1, pp), _g(s, 2)
    pp.schedtick = 1                      # not a 61st tick
    s.globrunqputbatch([glob])
    assert rsched.findnext(pp, nanotime(), False, me) == (glob, False)
    assert pp.runq.snapshot() == [me]


def test_findnext_requeues_a_yielding_g_behind_the_ring_not_in_runnext():
    """_requeue (stopping, a due timer off g0, the global queue first): the
    yielding G goes to the ring's tail, behind what was queued, never into
    runnext, where it would run again first (mutant: ``put(gp, True)``)."""
    s = _sched()
    pp = s.allp[0]
    me, other = _g(s, 1, pp), _g(s, 2, pp)
    pp.runq.put(other)
    s.stopping = True
    assert rsched.findnext(pp, nanotime(), False, me) == (None, False)
    assert pp.runq.runnext is None and pp.runq.snapshot() == [other, me]


def test_findnext_requeue_onto_a_full_ring_moves_half_the_free_gs_to_the_global_queue():
    """_requeue's overflow: the free Gs a full ring gives up go to the global
    queue in one batch, none lost (mutants: ``sched = None``,
    ``globrunqputbatch(None)``)."""
    s = _sched()
    pp = s.allp[0]
    free = [_g(s, 10 + i) for i in range(pp.runq.cap)]
    for gp in free:
        assert pp.runq.put(gp) is None
    me = _g(s, 1, pp)
    s.stopping = True
    assert rsched.findnext(pp, nanotime(), False, me) == (None, False)
    local = pp.runq.snapshot()
    assert me in local and s.runqsize > 0
    glob = []
    while s.runqsize:
        glob.append(s.globrunqget(pp, 1))
    assert sorted(g.goid for g in local + glob if g is not me) == [g.goid for g in free]


def test_findnext_a_global_queue_emptied_meanwhile_leaves_the_yielding_g_queued_once():
    """Another P may take the global Gs between findnext's unlocked look at
    runqsize and globrunqget: the yielding G, already requeued, is not queued
    again (mutant: ``yielding = ""`` instead of None)."""
    s = _sched()
    pp = s.allp[0]
    me = _g(s, 1, pp)
    s.runqsize = 1                        # the racy read saw one
    s.globrunqget = lambda pp, maxn: None  # ... another P took it
    assert rsched.findnext(pp, nanotime(), False, me) == (me, False)
    assert pp.runq.snapshot() == []


def test_findnext_every_61st_tick_takes_one_global_g():
    """Go's findRunnable: the fairness check takes one G (globrunqget(pp, 1)),
    not a batch (mutants: maxn None / 2)."""
    s = _sched()
    pp = s.allp[0]
    gs = [_g(s, i) for i in range(1, 5)]
    s.globrunqputbatch(gs)
    pp.schedtick = 61
    assert rsched.findnext(pp, nanotime(), True) == (gs[0], False)
    assert s.runqsize == 3 and pp.runq.snapshot() == []


@pytest.mark.parametrize("used, inherits", [(0, True), (rsched.SEEDED_SLICE - 1, True),
                                            (rsched.SEEDED_SLICE, False)])
def test_findnext_seeded_slices_count_executions_not_time(monkeypatch, used, inherits):
    """Under GPM_DEBUG=seed a time slice is SEEDED_SLICE executions (wall time
    would make the schedule irreproducible; mutants: ``or True``, ``+``, ``<=``)."""
    s = _sched()                              # (resets the module flags)
    monkeypatch.setattr(rsched, "_seeded", True)
    pp = s.allp[0]
    a, c = _g(s, 1, pp), _g(s, 3, pp)
    pp.runq.put(a)
    pp.runq.put(c, True)
    now = nanotime()
    pp.slice_start = now                      # by the clock, the slice has just begun
    pp.slice_exec = 100
    pp.executed = 100 + used
    assert rsched.findnext(pp, now, True) == ((c, True) if inherits else (a, False))


def test_findnext_a_slice_of_exactly_time_slice_is_used_up():
    s = _sched()
    pp = s.allp[0]
    a, c = _g(s, 1, pp), _g(s, 3, pp)
    pp.runq.put(a)
    pp.runq.put(c, True)
    pp.slice_start = 0.0
    assert rsched.findnext(pp, rsched.TIME_SLICE, True) == (a, False)


@pytest.mark.parametrize("slice_left", [True, False])
def test_findnext_yield_with_a_runnext(slice_left):
    """gosched with a runnext: while the slice lasts runnext runs and
    inherits; once used up runnext goes behind the ring and the yielding G
    behind it (p.py yield_get; mutants: yield_get skipped, its ok None)."""
    s = _sched()
    pp = s.allp[0]
    me, a, c = _g(s, 1, pp), _g(s, 2, pp), _g(s, 3, pp)
    pp.runq.put(a)
    pp.runq.put(c, True)
    now = nanotime()
    pp.slice_start = now if slice_left else now - 2 * rsched.TIME_SLICE
    if slice_left:
        assert rsched.findnext(pp, now, False, me) == (c, True)
        assert pp.runq.snapshot() == [a, me]
    else:
        assert rsched.findnext(pp, now, False, me) == (a, False)
        assert pp.runq.snapshot() == [c, me]


def test_findnext_randomized_perturbs_with_the_ps_rng_and_requeues_the_yielding_g(monkeypatch):
    """GPM_DEBUG=randomize=1: the yielding G goes behind the queue (_requeue)
    and the queue is perturbed with the P's seeded rng; nothing is lost
    (mutants: ``_requeue``'s arguments, ``perturb(None)``)."""
    s = _sched()
    monkeypatch.setattr(rsched, "_randomize", True)
    pp = s.allp[0]
    me = _g(s, 1, pp)
    others = [_g(s, i, pp) for i in (2, 3, 4)]
    for gp in others:
        pp.runq.put(gp)
    pp.runq.put(_g(s, 5, pp), True)
    pp.rng = random.Random(4)
    seen = []
    gp, _ = rsched.findnext(pp, nanotime(), False, me)
    while gp is not None:
        seen.append(gp.goid)
        gp, _ = rsched.findnext(pp, nanotime(), True)
    assert sorted(seen) == [1, 2, 3, 4, 5]
    assert pp.check_global is False           # _requeue set it; the next tick cleared it


def test_a_fresh_p_counts_from_zero_and_its_seeded_slice_works_at_once(monkeypatch):
    """A P's counters start at 0 (gpm.stats, schedtrace), and its first
    schedule in a seeded run compares executions with numbers (mutants:
    ``preempted = 1``, ``slice_exec = None``)."""
    s = _sched()
    pp = s.allp[0]
    assert (pp.executed, pp.steals, pp.stolen, pp.spawned, pp.preempted, pp.schedtick) == (0,) * 6
    monkeypatch.setattr(rsched, "_seeded", True)
    gp = _g(s, 1, pp)
    pp.runq.put(gp, True)
    assert rsched.findnext(pp, nanotime(), True) == (gp, True)


def test_p_wake_also_wakes_an_m_blocked_in_the_netpoller():
    """P.wake: the note, then the poller owner (an idle M may sleep in epoll,
    not on its note; mutant: the poller never asked)."""
    s = _sched()
    pp = s.allp[0]
    woken = []

    class Poller:
        def wake_owner(self, p):
            woken.append(p)

    s.netpoller = Poller()
    pp.wake()
    assert woken == [pp]


# -- findrunnable: local, global, netpoll, steal ------------------------------------

class _FakePoller:
    def __init__(self, gs):
        self.gs = gs
        self.polls = 0

    def netpoll(self, timeout):
        assert timeout == 0.0
        self.polls += 1
        gs, self.gs = self.gs, []
        return gs


def test_findrunnable_order_global_netpoll_steal():
    s = _sched(procs=2)
    p0, p1 = s.allp
    glob = _g(s, 1)
    polled = _g(s, 2, p0, Gstatus.WAITING)
    stealable = _g(s, 3)
    s.globrunqputbatch([glob])
    s.netpoller = _FakePoller([polled])
    s.netpoll_waiters = 1
    p1.runq.put(stealable)
    assert s.findrunnable(p0) == (glob, False)
    assert s.netpoller.polls == 0                # the global queue came first
    gp, _ = s.findrunnable(p0)
    assert gp is polled and polled.status == Gstatus.RUNNABLE
    s.netpoll_waiters = 0
    assert s.findrunnable(p0) == (stealable, False)
    assert p0.steals == 1 and p0.stolen == 1
    assert p0.spinning and s.nmspinning == 1     # a thief spins until it runs what it found
    s.resetspinning(p0)
    assert not p0.spinning and s.nmspinning == 0


def test_findrunnable_steals_half_of_a_victims_free_gs():
    s = _sched(procs=2)
    p0, p1 = s.allp
    gs = [_g(s, i) for i in range(1, 8)]
    for gp in gs:
        p1.runq.put(gp)
    p1.runq.put(_g(s, 99, p1))                   # pinned: never stolen
    gp, _ = s.findrunnable(p0)
    taken = [gp] + p0.runq.snapshot()
    assert [g.goid for g in taken] == [1, 2, 3, 4]            # 7 - 7 // 2, oldest first
    assert [g.goid for g in p1.runq.snapshot()] == [5, 6, 7, 99]


class _Idle(Exception):
    """Raised by a stubbed stopm: findrunnable found nothing and would idle."""


def _no_idle(s):
    def stopm(pp):
        raise _Idle
    s.stopm = stopm


def test_findrunnable_serves_stack_requests_for_its_p():
    served = []
    s = _sched(served=served)
    pp = s.allp[0]
    gp = _g(s, 1, pp)
    pp.runq.put(gp)
    pp.stack_reqs = ["req"]
    assert s.findrunnable(pp) == (gp, False)
    assert served == [pp]


def test_findrunnable_runnext_inherits_the_slice():
    """A G readied into runnext while the M went to findrunnable runs first
    and inherits (Go's runqget from findRunnable; mutants: ``get(False)``/``get(None)``)."""
    s = _sched()
    pp = s.allp[0]
    a, c = _g(s, 1, pp), _g(s, 3, pp)
    pp.runq.put(a)
    pp.runq.put(c, True)
    assert s.findrunnable(pp) == (c, True)
    assert s.findrunnable(pp) == (a, False)


def test_findrunnable_takes_a_batch_from_the_global_queue():
    """globrunqget(pp, 0): min(n, n/procs + 1, cap/2) Gs, the rest into the local queue
    (mutant: maxn 1, one G only)."""
    s = _sched()
    pp = s.allp[0]
    gs = [_g(s, i) for i in range(1, 6)]
    s.globrunqputbatch(gs)
    assert s.findrunnable(pp) == (gs[0], False)
    assert pp.runq.snapshot() == gs[1:] and s.runqsize == 0


@pytest.mark.parametrize("poller, waiters", [(True, 0), (False, 1)])
def test_findrunnable_polls_only_with_a_poller_and_waiters(poller, waiters):
    """No netpoll(0) syscall without fd waiters, and none without a poller
    (mutant: ``or``: a poll per idle pass, or None.netpoll)."""
    s = _sched()
    pp = s.allp[0]
    fake = _FakePoller([])
    s.netpoller = fake if poller else None
    s.netpoll_waiters = waiters
    _no_idle(s)
    with pytest.raises(_Idle):
        s.findrunnable(pp)
    assert fake.polls == 0


@pytest.mark.parametrize("procs, npidle, nmspinning, steals", [
    (4, 0, 1, True),                     # 2 < 4
    (4, 0, 2, False),                    # 4 < 4: half the busy Ps already spin
    (4, 1, 1, True),                     # 2 < 3
    (4, 2, 1, False),                    # 2 < 2
])
def test_findrunnable_spins_to_steal_only_while_spinners_are_under_half_the_busy_ps(
        procs, npidle, nmspinning, steals):
    """Go's findRunnable: a non-spinning M steals only if 2 * nmspinning <
    procs - npidle (mutants: 3 *, <=, procs + npidle)."""
    s = _sched(procs=procs)
    p0 = s.allp[0]
    free = _g(s, 1)
    s.allp[1].runq.put(free)
    s.npidle, s.nmspinning = npidle, nmspinning
    _no_idle(s)
    if steals:
        assert s.findrunnable(p0) == (free, False)
        assert p0.spinning and s.nmspinning == nmspinning + 1
    else:
        with pytest.raises(_Idle):
            s.findrunnable(p0)
        assert not p0.spinning and s.allp[1].runq.snapshot() == [free]


def test_findrunnable_fires_another_ps_due_timers_before_idling():
    """Issue 8 bug 8: an idle M runs the due timers of a P whose goroutine
    never yields, also with two Ps (mutant: ``procs > 2``)."""
    s = _sched(procs=2)
    p0, p1 = s.allp
    fired = []
    rtimers.addtimer(RTimer(lambda arg, now: fired.append(arg), "p1's"), nanotime() - 1.0, p1, p1)
    _no_idle(s)
    with pytest.raises(_Idle):
        s.findrunnable(p0)
    assert fired == ["p1's"]


def test_findrunnable_fires_a_timer_due_exactly_now(monkeypatch):
    """Due means ``when <= now`` (Go's checkTimers), in findrunnable as in
    findnext (mutants: ``<``; findrunnable's would go idle with a due timer)."""
    s = _sched()
    pp = s.allp[0]
    t_now = nanotime()
    monkeypatch.setattr(rsched, "nanotime", lambda: t_now)
    gp = _g(s, 1, pp)
    rtimers.addtimer(RTimer(lambda arg, now: pp.runq.put(arg), gp), t_now, pp, pp)
    _no_idle(s)
    assert s.findrunnable(pp) == (gp, False)


def test_findnext_fires_a_timer_due_exactly_now():
    s = _sched()
    pp = s.allp[0]
    fired = []
    now = nanotime()
    rtimers.addtimer(RTimer(lambda arg, now: fired.append(arg), "t"), now, pp, pp)
    assert rsched.findnext(pp, now, True) == (None, False)
    assert fired == ["t"]


def test_findnext_with_a_due_timer_off_g0_requeues_the_yielding_g():
    """A due timer sends a gosched to g0 (the callbacks run there) with the
    yielding G back on the local queue (mutants: _requeue's arguments)."""
    s = _sched()
    pp = s.allp[0]
    me = _g(s, 1, pp)
    rtimers.addtimer(RTimer(lambda arg, now: None, None), nanotime() - 1.0, pp, pp)
    assert rsched.findnext(pp, nanotime(), False, me) == (None, False)
    assert pp.runq.snapshot() == [me] and pp.check_global


# -- wakep / stopm ---------------------------------------------------------------

def _wait_for(cond, what, limit=10.0):
    deadline = nanotime() + limit
    ev = threading.Event()
    while not cond():
        assert nanotime() < deadline, f"never: {what}"
        ev.wait(0.001)


def test_wakep_takes_an_idle_p_as_the_one_spinner():
    s = _sched(procs=2)
    p0, p1 = s.allp
    s.wakep()                                    # no idle P: nothing
    assert s.nmspinning == 0
    with s.lock:
        for pp in (p0, p1):
            pp.status = 0
            s.pidle.append(pp)
            s.npidle += 1
    s.wakep()
    assert s.nmspinning == 1 and s.npidle == 1
    woken = [pp for pp in (p0, p1) if pp.spinning]
    assert len(woken) == 1 and woken[0].status == 1 and woken[0] not in s.pidle
    assert woken[0].note.sleep(0)                # its M was woken
    s.wakep()                                    # someone spins already: nobody else
    assert s.nmspinning == 1 and s.npidle == 1


def _stopm_returns(s, pp):
    """stopm(pp) on a helper thread; fails (instead of hanging) if it parks."""
    th = threading.Thread(target=s.stopm, args=(pp,), name="test-stopm", daemon=True)
    th.start()
    th.join(10)
    if th.is_alive():
        s.stopping = True
        pp.wake()
        th.join(10)
        raise AssertionError("stopm parked although work was there")


def test_stopm_returns_at_once_when_the_global_queue_has_work():
    s = _sched(procs=2)
    p0 = s.allp[0]
    s.globrunqputbatch([_g(s, 1)])
    _stopm_returns(s, p0)
    assert p0.status == 1 and s.npidle == 0 and not p0.parked


def test_stopm_rechecks_after_announcing_idle():
    # A free G that another P holds (a steal target) keeps the M from parking.
    s = _sched(procs=2)
    p0, p1 = s.allp
    p1.runq.put(_g(s, 1))
    _stopm_returns(s, p0)
    assert p0.status == 1 and p0 not in s.pidle and s.npidle == 0 and not p0.parked


@pytest.mark.timeout(30)
@pytest.mark.parametrize("how", ["goready", "wakep"])
def test_stopm_parks_until_goready_or_wakep(how):
    s = _sched(procs=2)
    p0 = s.allp[0]
    done = threading.Event()

    def m0():
        s.stopm(p0)
        done.set()
    th = threading.Thread(target=m0, name="test-m0", daemon=True)
    th.start()
    try:
        _wait_for(lambda: p0.parked, "P0's M parked")
        assert p0.status == 0 and p0 in s.pidle and s.npidle == 1
        assert not done.is_set()
        if how == "goready":
            gp = _g(s, 1, p0, Gstatus.WAITING)
            rsched.goready(gp)                   # forwarded home; parked -> note woken
        else:
            s.wakep()
        assert done.wait(10), "stopm did not return after " + how
        assert p0.status == 1 and p0 not in s.pidle and s.npidle == 0 and not p0.parked
        if how == "goready":
            assert p0.runq.snapshot() == [gp] and gp.status == Gstatus.RUNNABLE
        else:
            assert p0.spinning and s.nmspinning == 1
    finally:
        s.stopping = True
        p0.wake()
        th.join(10)


@pytest.mark.parametrize("procs", [2, 4])
def test_the_main_g_runs_on_p0_after_every_m_started(procs):
    """api.start_threads starts M0 last and the other Ms wait (m.mstart) until M0 ran its
    first G.  Before, M0 started first and ran the main G at once; on 3.13t the
    Thread.start() of each later M then took 160-290 ms (a start() made beside a thread
    running Python; 0.3 ms with the GIL), so the first P ran nearly all of a fan-out
    alone.  Here the first thing main sees: it is on P0 and every M thread is alive."""
    import gpm
    from tests.support import getg

    def main():
        gp = getg()
        return gp.pp.id, [t.is_alive() for t in gp.sched.ms]

    for _ in range(5):
        assert gpm.run(main, procs=procs) == (0, [True] * procs)
