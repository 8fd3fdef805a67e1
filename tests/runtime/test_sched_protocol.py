"""stopm, wakep and goready as state machines, on a Sched that is not started.

Each test drives one protocol function on the calling thread with recording
notes (``note.sleep`` returns at once and records what stopm announced at
that moment), so every branch is checked exactly and in microseconds: no M
threads, no timing.  These are the tests ``make mutants`` runs against sched's
protocol functions (docs/HACKING.md, "Mutation testing").
"""

import threading

import pytest

from tests.support import FakeG, Gstatus, P, on_m, parked_g, rsched

IDLE, RUNNING = 0, 1


class RecNote:
    """A P's note that never blocks: records each sleep (with the P's state
    at that moment) and counts wakeups."""

    def __init__(self, s, pp):
        self.s, self.pp = s, pp
        self.sleeps = []
        self.wakes = 0

    def sleep(self, timeout=None):
        s, pp = self.s, self.pp
        self.sleeps.append((timeout, pp in s.pidle, s.npidle, pp.status, pp.parked, pp.spinning))
        return False

    def wakeup(self):
        self.wakes += 1


class RecSysmon:
    thread = None

    def __init__(self):
        self.wakes = 0
        self.stuck_checks = 0

    def wake(self):
        self.wakes += 1

    def stuckwarn(self, now):
        self.stuck_checks += 1
        return []


def mksched(procs=2, background=True):
    s = rsched.Sched(procs, background=background)
    for pp in s.allp:
        pp.note = RecNote(s, pp)
    s.sysmon = RecSysmon()
    s.preexisting = frozenset(threading.enumerate())    # checkdead: no new plain thread
    return s


def make_idle(s, pp):
    s.pidle.append(pp)
    s.npidle += 1
    pp.status = IDLE


def assert_running(s, pp):
    assert pp not in s.pidle and pp.status == RUNNING and not pp.parked


# -- stopm ---------------------------------------------------------------------

@pytest.mark.parametrize("spinning, other_spinning", [(True, True), (True, False), (False, True)])
def test_stopm_announces_idle_sleeps_then_leaves(spinning, other_spinning):
    s = mksched(procs=3)
    p0, pp, p2 = s.allp
    make_idle(s, p2)                                # another P already idle
    p0.spinning = other_spinning
    s.nmspinning = other_spinning + spinning
    pp.spinning = spinning
    s.stopm(pp)
    # slept once, untimed, announced: on pidle, idle, parked, no longer spinning
    assert pp.note.sleeps == [(None, True, 2, IDLE, True, False)]
    assert_running(s, pp)
    assert s.npidle == 1 and s.pidle == [p2]
    assert s.nmspinning == int(other_spinning) and not pp.spinning   # only its own spin given up
    assert p0.spinning == other_spinning


def test_stopm_returns_at_once_when_stopping():
    s = mksched()
    pp = s.allp[1]
    s.stopping = True
    s.stopm(pp)
    assert pp.note.sleeps == [] and s.pidle == [] and s.npidle == 0
    assert_running(s, pp)


def test_stopm_returns_at_once_with_global_work():
    s = mksched()
    pp = s.allp[1]
    pp.spinning = True
    s.nmspinning = 1
    s.globrunqputbatch([FakeG(1, pinned=False)])
    s.stopm(pp)
    assert pp.note.sleeps == [] and s.pidle == [] and s.npidle == 0
    assert pp.spinning and s.nmspinning == 1       # still spinning: findrunnable takes the G
    assert_running(s, pp)


@pytest.mark.parametrize("where", ["ring", "runnext"])
def test_stopm_with_local_work_does_not_park(where):
    s = mksched()
    pp = s.allp[1]
    pp.runq.put(FakeG(1, pinned=True), next=(where == "runnext"))   # pinned: no thief sees it
    s.stopm(pp)
    assert pp.note.sleeps == []
    assert_running(s, pp)
    assert s.npidle == 0


def test_stopm_sees_another_ps_free_g_but_not_a_pinned_one():
    s = mksched()
    p0, pp = s.allp
    p0.runq.put(FakeG(1, pinned=True))              # pinned to p0: nothing to steal
    s.stopm(pp)
    assert len(pp.note.sleeps) == 1
    p0.runq.put(FakeG(2, pinned=False))
    s.stopm(pp)
    assert len(pp.note.sleeps) == 1                 # a free G to steal: no sleep
    assert_running(s, pp)


@pytest.mark.parametrize("pinned", [False, True])
def test_stopm_sees_another_ps_free_runnext(pinned):
    """A G spawned into another P's runnext just before this M announced idle (the
    spawner read npidle == 0, so no wakep): stealwork's last pass can take it, so the
    recheck must not sleep.  It did (the recheck counted ring Gs only): the G waited for
    its spawner to yield or for sysmon's retake (100 ms)."""
    s = mksched()
    p0, pp = s.allp
    p0.runq.put(FakeG(1, pinned=pinned), next=True)
    s.stopm(pp)
    if pinned:
        assert len(pp.note.sleeps) == 1             # a pinned runnext stays on p0
    else:
        assert pp.note.sleeps == []
        assert_running(s, pp)


def test_stopm_ignores_its_own_free_gs_in_the_steal_recheck():
    """Its own queue is checked under its runq lock (step 3), not as a steal target."""
    s = mksched(procs=1)
    pp = s.allp[0]
    pp.runq.put(FakeG(1, pinned=False))
    assert not s._any_stealable(pp)
    s.stopm(pp)
    assert pp.note.sleeps == []
    assert_running(s, pp)


@pytest.mark.parametrize("case", ["own", "other-busy", "other-idle", "past"])
def test_stopm_sleeps_until_the_earliest_timer(case):
    s = mksched()
    p0, pp = s.allp
    now = rsched.nanotime()
    pp.timer0 = now + 50.0
    if case == "other-busy":
        p0.timer0 = now + 20.0                       # a busy P's timer: an idle M fires it
    elif case == "other-idle":
        p0.timer0 = now + 20.0
        make_idle(s, p0)                             # its own M wakes for it
    elif case == "past":
        pp.timer0 = now - 5.0
    s.stopm(pp)
    (timeout, *_), = pp.note.sleeps
    want = {"own": 50.0, "other-busy": 20.0, "other-idle": 50.0, "past": 0.0}[case]
    if case == "past":
        assert timeout == 0.0
    else:
        assert want - 1.0 < timeout <= want


def test_stopm_with_one_p_sleeps_until_its_own_timer():
    s = mksched(procs=1)
    pp = s.allp[0]
    pp.timer0 = rsched.nanotime() + 30.0
    s.stopm(pp)
    (timeout, *_), = pp.note.sleeps
    assert 29.0 < timeout <= 30.0


class _Poller:
    """A Sched.netpoller: ``block`` records its calls and returns ``ret``."""

    def __init__(self, ret):
        self.ret = ret
        self.calls = []

    def netpoll(self, timeout):
        return []

    def block(self, pp, timeout):
        self.calls.append((pp, timeout))
        return self.ret


@pytest.mark.parametrize("ret", [None, [], "parked-g"])
def test_stopm_blocks_in_the_netpoller_when_it_has_waiters(ret):
    s = mksched()
    pp = s.allp[1]
    g = parked_g(s, 7, pp)                            # netpoll readies parked (so pinned) Gs
    poller = _Poller([g] if ret == "parked-g" else ret)
    s.netpoller = poller
    s.netpoll_waiters = 1
    pp.timer0 = rsched.nanotime() + 40.0
    s.stopm(pp)
    ((who, timeout),) = poller.calls
    assert who is pp and 39.0 < timeout <= 40.0
    if ret is None:                                   # another M owns the poller: sleep on the note
        assert len(pp.note.sleeps) == 1
    else:
        assert pp.note.sleeps == []
    assert_running(s, pp)
    if ret == "parked-g":
        assert pp.runq.snapshot() == [g] and g.status == Gstatus.RUNNABLE    # readied home
    assert s.runqsize == 0


@pytest.mark.parametrize("netpoll, waiters", [(True, 0), (False, 1)])
def test_stopm_skips_the_netpoller_without_waiters_or_poller(netpoll, waiters):
    s = mksched()
    pp = s.allp[1]
    poller = _Poller([])
    s.netpoller = poller if netpoll else None
    s.netpoll_waiters = waiters
    s.stopm(pp)
    assert poller.calls == [] and len(pp.note.sleeps) == 1


def test_stopm_of_the_last_m_reports_the_deadlock():
    s = mksched(procs=1, background=False)
    pp = s.allp[0]
    s.stopm(pp)
    assert pp.note.sleeps == []
    assert isinstance(s.panic_exc, rsched.Deadlock) and s.stopping
    assert str(s.panic_exc) == "all goroutines are asleep - deadlock!"     # Go's text
    assert_running(s, pp)


def test_stopm_with_a_timer_pending_is_no_deadlock():
    s = mksched(procs=1, background=False)
    pp = s.allp[0]
    pp.timer0 = rsched.nanotime() + 10.0             # (ntimers left 0: checkdead must not run)
    s.stopm(pp)
    assert s.panic_exc is None and len(pp.note.sleeps) == 1


def test_stopm_with_a_live_foreign_thread_rechecks_periodically():
    s = mksched(procs=1, background=False)
    pp = s.allp[0]
    s.foreign[threading.get_ident()] = threading.current_thread()
    s.stopm(pp)
    assert s.panic_exc is None
    assert [x[0] for x in pp.note.sleeps] == [rsched.FOREIGN_RECHECK]
    assert s.sysmon.stuck_checks == 1                # names goroutines stuck on patched locks


def test_stopm_of_a_background_runtime_never_calls_checkdead():
    s = mksched(procs=1, background=True)
    pp = s.allp[0]
    s.stopm(pp)
    assert s.panic_exc is None and [x[0] for x in pp.note.sleeps] == [None]


@pytest.mark.parametrize("deep", [True, False])
def test_leaving_idle_wakes_a_deep_sleeping_sysmon(deep):
    s = mksched()
    pp = s.allp[1]
    s.sysmon_deep = deep
    s.stopm(pp)
    assert s.sysmon.wakes == int(deep) and not s.sysmon_deep


def test_leave_idle_after_wakep_took_the_p():
    s = mksched()
    pp = s.allp[1]
    make_idle(s, pp)
    s.wakep()                                        # takes pp off pidle
    s._leave_idle(pp)                                # must not remove it twice
    assert s.pidle == [] and s.npidle == 0 and pp.status == RUNNING


# -- wakep ---------------------------------------------------------------------

@pytest.mark.parametrize("deep", [True, False])
def test_wakep_takes_an_idle_p_as_a_spinner(deep):
    s = mksched(procs=3)
    p0, p1, p2 = s.allp
    make_idle(s, p1)
    make_idle(s, p2)
    s.sysmon_deep = deep
    s.wakep()
    assert s.pidle == [p1] and s.npidle == 1        # the last idle P (Go's pidleget: any)
    assert p2.status == RUNNING and p2.spinning and s.nmspinning == 1
    assert p2.note.wakes == 1 and p1.note.wakes == 0 and p0.note.wakes == 0
    assert p1.status == IDLE and not p1.spinning
    assert s.sysmon.wakes == int(deep) and not s.sysmon_deep


@pytest.mark.parametrize("why", ["spinning", "no-idle-p", "stopping"])
def test_wakep_does_nothing(why):
    s = mksched()
    pp = s.allp[1]
    if why != "no-idle-p":
        make_idle(s, pp)
    if why == "spinning":
        s.allp[0].spinning = True
        s.nmspinning = 1
    if why == "stopping":
        s.stopping = True
    s.sysmon_deep = True
    s.wakep()
    assert pp.note.wakes == 0 and s.sysmon.wakes == 0 and s.sysmon_deep
    assert s.nmspinning == (1 if why == "spinning" else 0) and not pp.spinning
    if why != "no-idle-p":
        assert s.pidle == [pp] and s.npidle == 1 and pp.status == IDLE


# -- goready -------------------------------------------------------------------

@pytest.mark.parametrize("parked", [True, False])
def test_goready_from_another_thread_queues_at_the_tail(parked):
    s = mksched()
    p0, pp = s.allp
    first = parked_g(s, 1, pp)
    pp.runq.put(first)
    nxt = FakeG(9, pinned=True)
    pp.runq.put(nxt, next=True)
    pp.parked = parked
    gp = parked_g(s, 2, pp)
    rsched.goready(gp)
    assert gp.status == Gstatus.RUNNABLE
    assert pp.runq.snapshot() == [nxt, first, gp]   # runnext untouched, gp at the tail
    assert pp.note.wakes == int(parked) and p0.note.wakes == 0


def test_goready_on_the_home_m_takes_runnext():
    s = mksched()
    p0, pp = s.allp
    old = parked_g(s, 1, pp)
    gp = parked_g(s, 2, pp)
    on_m(pp, rsched.goready, old)
    on_m(pp, rsched.goready, gp)
    assert pp.runq.runnext is gp and pp.runq.snapshot() == [gp, old]   # the old one goes behind
    assert gp.status == old.status == Gstatus.RUNNABLE
    assert pp.note.wakes == 0 and s.runqsize == 0


def test_goready_on_the_home_m_firing_timers_collects_in_order():
    s = mksched()
    pp = s.allp[1]
    pp.readybatch = batch = []
    gs = [parked_g(s, i, pp) for i in (1, 2)]
    for gp in gs:
        on_m(pp, rsched.goready, gp)
    assert batch == gs and pp.runq.snapshot() == []
    assert all(gp.status == Gstatus.RUNNABLE for gp in gs)


def test_goready_on_the_home_m_with_a_full_ring_spills_free_gs_global_and_wakes():
    s = mksched()
    p0, pp = s.allp
    make_idle(s, p0)
    cap = pp.runq.cap
    for i in range(cap):
        pp.runq.put(FakeG(100 + i, pinned=False))
    pp.runq.put(FakeG(99, pinned=False), next=True)
    gp = parked_g(s, 1, pp)
    on_m(pp, rsched.goready, gp)
    assert pp.runq.runnext is gp
    assert s.runqsize == cap // 2 + 1 == len(s.runq)     # half the ring + the old runnext
    assert p0.status == RUNNING and p0.spinning and p0.note.wakes == 1   # wakep


def test_goready_list_queues_each_home_in_order_and_wakes_parked_ps():
    s = mksched()
    p0, p1 = s.allp
    p1.parked = True
    gs = [parked_g(s, i, (p0, p1)[i % 2]) for i in range(6)]
    rsched.goready_list(gs)
    assert all(gp.status == Gstatus.RUNNABLE for gp in gs)
    assert p0.runq.snapshot() == gs[0::2] and p1.runq.snapshot() == gs[1::2]
    assert p0.runq.runnext is None and p1.runq.runnext is None
    assert p1.note.wakes == 1 and p0.note.wakes == 0


@pytest.mark.parametrize("n", [2, 3])
def test_goready_list_on_the_home_m_does_not_take_runnext(n):
    s = mksched()
    pp = s.allp[0]
    gs = [parked_g(s, i, pp) for i in range(n)]
    on_m(pp, rsched.goready_list, gs)
    assert pp.runq.runnext is None and pp.runq.snapshot() == gs


@pytest.mark.parametrize("home", [True, False])
def test_goready_list_of_one_is_goready(home):
    s = mksched()
    pp = s.allp[1]
    pp.parked = True
    gp = parked_g(s, 1, pp)
    if home:
        on_m(pp, rsched.goready_list, [gp])
        assert pp.runq.runnext is gp and pp.note.wakes == 0
    else:
        rsched.goready_list([gp])
        assert pp.runq.runnext is None and pp.runq.snapshot() == [gp] and pp.note.wakes == 1
    assert gp.status == Gstatus.RUNNABLE


@pytest.mark.parametrize("home", [True, False])
def test_runqput_home_of_one_runnable_g(home):
    s = mksched()
    pp = s.allp[1]
    gp = parked_g(s, 1, pp)
    gp.status = Gstatus.RUNNABLE
    if home:
        on_m(pp, rsched.runqput_home, [gp])
        assert pp.runq.runnext is gp
    else:
        rsched.runqput_home([gp])
        assert pp.runq.runnext is None and pp.runq.snapshot() == [gp]


def test_a_p_built_for_tests_is_a_real_p():
    assert isinstance(mksched().allp[0], P)


@pytest.mark.parametrize("checks", [True, False])
def test_goready_marks_runnable_with_and_without_checks(monkeypatch, checks):
    """Both status paths: casgstatus under GPM_DEBUG=checks=1, a plain store otherwise."""
    monkeypatch.setattr(rsched, "_checks", checks)
    s = mksched()
    pp = s.allp[1]
    one = parked_g(s, 1, pp)
    rsched.goready(one)
    many = [parked_g(s, i, pp) for i in (2, 3)]
    rsched.goready_list(many)
    assert [g.status for g in [one] + many] == [Gstatus.RUNNABLE] * 3
    assert pp.runq.snapshot() == [one] + many


# -- checkdead beside a background runtime ----------------------------------------

def _with_background(procs_idle):
    """A gpm.run-kind Sched (one idle P) and a registered background Sched with no live G
    whose Ps are idle (``procs_idle``) or one of them running."""
    from tests.support import rclock
    s = mksched(procs=1, background=False)
    make_idle(s, s.allp[0])
    bg = mksched(procs=2, background=True)
    for pp in bg.allp[:2 if procs_idle else 1]:
        make_idle(bg, pp)
    rclock.register(bg, True)
    return s, bg


@pytest.mark.parametrize("bg_idle", [True, False])
def test_checkdead_counts_a_running_background_p(bg_idle):
    """A background G that exits has left its allgs before it wakes its joiners (goexit),
    on a P that is not idle yet: a gpm.run whose main joined it is not dead then.  With
    allgs the only test, checkdead said "dead" in that window (5 of 300 runs of
    test_live_background_goroutines_run_beside_gpm_run's scenario on 3.13t; 0 of 300 now)."""
    from tests.support import rclock
    s, bg = _with_background(bg_idle)
    try:
        assert s.checkdead() == ("dead" if bg_idle else "foreign")
    finally:
        rclock.release(bg)


def test_checkdead_reads_the_background_runtime_before_its_own_queues(monkeypatch):
    """The read order that closes the window: if the background P is seen idle, its wake
    into this runtime's queues came before, and the queue checks after see it.  Simulated:
    the background P goes idle right after background_busy looked (it ran the wake first),
    so the G it readied sits in this runtime's queue: checkdead must see it."""
    from tests.support import rclock
    s, bg = _with_background(False)
    real = rsched.background_busy

    def busy_then_wake(sched):
        r = real(sched)
        s.allp[0].runq.put(FakeG(1, pinned=True))   # the exiting G's wake landed
        make_idle(bg, bg.allp[1])                   # then its P went idle
        return r

    monkeypatch.setattr(rsched, "background_busy", busy_then_wake)
    try:
        assert s.checkdead() != "dead"
    finally:
        rclock.release(bg)


def test_checkdead_sees_a_g_made_runnable_but_not_queued_yet():
    """goready (and newproc) set the status, then queue the G, under no lock checkdead
    holds: checkdead that read the empty queues before the append and the RUNNABLE status
    after it said "dead" (a false Deadlock on 3.13t: a plain thread released a patched
    threading.Lock a goroutine waited on).  A RUNNABLE G in allgs means: look again."""
    from tests.support import G
    s = mksched(procs=1, background=False)
    make_idle(s, s.allp[0])
    gp = G(s, 7, lambda: None, (), None)
    s.allgs[7] = gp
    gp.status = Gstatus.WAITING
    assert s.checkdead() == "dead"
    gp.status = Gstatus.RUNNABLE                   # a readier's first step; its append comes next
    assert s.checkdead() == "foreign"
