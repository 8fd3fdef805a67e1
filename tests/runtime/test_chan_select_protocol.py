"""chan.py and select.py protocol properties that mutation testing found unchecked.

Fast and in-process (``make mutants`` runs this file against chan.py and
select.py); each test names the mutants it kills in docs/HACKING.md's terms.
"""

import random
import threading

import pytest

import gpm
from tests.support import Sudog, current_sched, getg, rchan, rlocks, rselect, run_prog, wait_blocked, wait_parked
from gpm._runtime.g import WaitReason


class _Fixed(random.Random):
    """An rng whose ``random()`` is always ``x`` (0.0: the first poll order, 0.999: the last)."""

    def __init__(self, x):
        super().__init__(0)
        self.x = x

    def random(self):
        return self.x


def _three_ready():
    chans = [gpm.Chan(1) for _ in range(3)]
    for c in chans:
        c.send(0)
    return chans


def _refill(chans):
    for c in chans:
        if not len(c):
            c.send(0)


# -- a plain thread that completes a channel op is recorded for checkdead -------

def _ops():
    """(name, prep in the main goroutine, the plain thread's only channel op)."""
    def peer(c):
        h = gpm.go(c.recv)
        wait_blocked(c._recvq)
        return h

    def recv1(c):
        assert c.recv() == 1

    def recv_ok1(c):
        assert c.recv_ok() == (1, True)

    def select_default(c):
        assert gpm.select(c.recv, gpm.default) == (1, None)

    def select_ready(c):
        assert gpm.select(c.recv, gpm.default) == (0, 1)

    return [
        ("recv_buffered", lambda c: c.send(1), recv1),          # Chan.recv's inline buffered case
        ("send_buffered", None, lambda c: c.send(1)),           # chansend's inline buffered case
        ("recv_ok", lambda c: c.send(1), recv_ok1),             # chanrecv's end
        ("close", None, lambda c: c.close()),
        ("select_default", None, select_default),               # nothing ready: default
        ("select_ready", lambda c: c.send(1), select_ready),
        ("send_to_a_waiting_receiver", peer, lambda c: c.send(1)),  # send_poll's hand-over
    ]


@pytest.mark.parametrize("name,prep,op", _ops(), ids=[o[0] for o in _ops()])
def test_a_plain_thread_that_used_a_channel_is_recorded_for_checkdead(name, prep, op):
    """API.md: a live plain thread that used a channel may still wake a
    goroutine, so checkdead must know it (Sched.foreign).  Each completed op,
    fast paths included, records the thread, even when it is the thread's
    only gpm call (mutants: ``type(gr) is _Worker`` in Chan.recv, close,
    chansend, chanrecv, select's default branch)."""
    def main():
        s = current_sched()
        c = gpm.Chan(1)
        errors = []
        h = prep(c) if prep is not None else None

        def body():
            try:
                op(c)
            except BaseException as e:          # pragma: no cover - reported below
                errors.append(e)

        th = threading.Thread(target=body)
        th.start()
        th.join()                                # blocks this M briefly (procs=1: nothing else to run)
        if name == "send_to_a_waiting_receiver":
            assert h.join() == 1
        return errors, th.ident in s.foreign

    errors, recorded = gpm.run(main, procs=1)
    assert not errors and recorded


# -- wait reasons of the blocking forms ---------------------------------------

def _blockers():
    return [
        ("send", lambda a, b: a.send(1), WaitReason.CHAN_SEND),
        ("recv", lambda a, b: a.recv(), WaitReason.CHAN_RECEIVE),
        ("nil send", lambda a, b: gpm.nilchan.send(1), WaitReason.CHAN_SEND_NIL),
        ("nil recv", lambda a, b: gpm.nilchan.recv(), WaitReason.CHAN_RECEIVE_NIL),
        ("nil recv_ok", lambda a, b: gpm.nilchan.recv_ok(), WaitReason.CHAN_RECEIVE_NIL),
        ("nil next", lambda a, b: next(iter(gpm.nilchan)), WaitReason.CHAN_RECEIVE_NIL),
        ("select()", lambda a, b: gpm.select(), WaitReason.SELECT_NO_CASES),
        ("select nil", lambda a, b: gpm.select(gpm.nilchan.recv, (gpm.nilchan.send, 1)), WaitReason.SELECT),
        ("select", lambda a, b: gpm.select(a.recv, (b.send, 1)), WaitReason.SELECT),
    ]


@pytest.mark.parametrize("what,fn,reason", _blockers(), ids=[b[0] for b in _blockers()])
def test_blocked_forms_park_with_their_wait_reason(what, fn, reason):
    """Goroutine dumps and checkdead's EXTERNAL_WAITS read ``waitreason``
    (mutants: ``block_forever(None)``, ``sg.block(lock, None)``)."""
    def main():
        a, b = gpm.Chan(), gpm.Chan()
        h = gpm.go(fn, a, b)
        wait_parked(h, reason)
        return h.done()

    assert gpm.run(main, procs=1) is False


def test_a_plain_thread_blocks_forever_on_the_nil_channel():
    """block_forever on a plain thread parks it on its semaphore (mutant:
    ``sg.block(None, ...)``, which raised AttributeError in the thread)."""
    src = (
        "import threading, gpm\n"
        "err = []\n"
        "def body():\n"
        "    try:\n"
        "        gpm.nilchan.recv()\n"
        "    except BaseException as e:\n"
        "        err.append(e)\n"
        "t = threading.Thread(target=body, daemon=True)\n"
        "t.start()\n"
        "t.join(0.5)\n"
        "print(t.is_alive(), err)\n"
    )
    r = run_prog(src, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True []"


# -- select's random choice comes from the right rng ----------------------------

@pytest.mark.parametrize("x,want", [(0.0, 0), (0.999, 2)])
def test_a_goroutines_select_draws_its_poll_order_from_its_ps_rng(x, want):
    """Go's per-P fastrand: a goroutine's select uses ``pp.rng`` (seeded runs
    reproduce; mutants: ``getattr(None/gr, 'XXppXX')``, ``gr = None``)."""
    def main():
        pp = getg().pp
        keep = pp.rng
        pp.rng = _Fixed(x)
        try:
            chans = _three_ready()
            got = set()
            for _ in range(20):
                got.add(gpm.select(*[c.recv for c in chans])[0])
                _refill(chans)
            return got
        finally:
            pp.rng = keep

    assert gpm.run(main, procs=1) == {want}


@pytest.mark.parametrize("seeded", [True, False])
def test_a_plain_threads_select_uses_the_runtime_rng_only_when_seeded(monkeypatch, seeded):
    """A plain thread's select draws from ``Sched.rng`` in a seeded run, else
    from ``random`` (mutants: ``s = None``, ``... and False``, ``seed is None``)."""
    def main():
        s = current_sched()
        monkeypatch.setattr(s, "seed", 3 if seeded else None)
        monkeypatch.setattr(s, "rng", _Fixed(0.0))
        monkeypatch.setattr(rselect, "_random", _Fixed(0.999))
        chans = _three_ready()
        got = set()

        def body():
            for _ in range(20):
                got.add(gpm.select(*[c.recv for c in chans])[0])
                _refill(chans)

        th = threading.Thread(target=body)
        th.start()
        th.join()
        return got

    assert gpm.run(main, procs=1) == ({0} if seeded else {2})


# -- six cases ---------------------------------------------------------------------

def test_select_over_six_ready_cases():
    random.seed(2)
    chans = [gpm.Chan(1) for _ in range(6)]
    seen = set()
    for _ in range(200):
        _refill(chans)
        i, v = gpm.select(*[c.recv for c in chans])
        assert v == 0
        seen.add(i)
    assert seen == set(range(6))


# -- pass 2 ------------------------------------------------------------------------

_MADE_READY = ["recv: a value buffered", "recv: a sender waits", "recv: closed",
               "send: room in the buffer", "send: a receiver waits", "send: closed"]


@pytest.mark.parametrize("how", _MADE_READY)
def test_a_case_made_ready_between_pass_one_and_two_is_taken(monkeypatch, how):
    """A channel that becomes ready after pass 1 looked at it is seen by pass
    2 (under the channel locks), which goes back to pass 1 and performs the
    case instead of parking: each of recv_ready's and send_ready's three
    conditions (mutants: ``break`` -> ``return``, a send case asked the
    receive condition, ``or`` -> ``and`` in either).  The other party is
    simulated at the step between the passes (``_scases``, once)."""
    real_scases = rselect._scases
    kind = how.split(":")[0]
    c = gpm.Chan(1 if "buffer" in how else 0)
    if how == "send: room in the buffer":
        c.send("old")                               # full: the send case waits
    peer = _waiter()
    done = []

    def scases(cases, order):
        if not done:
            done.append(1)
            if how == "recv: a value buffered":
                c.send("new")
            elif how == "recv: a sender waits":
                peer.elem = "new"
                c._sendq.append(peer)
            elif how == "send: room in the buffer":
                assert c.recv() == "old"
            elif how == "send: a receiver waits":
                c._recvq.append(peer)
            else:
                c.close()
        return real_scases(cases, order)

    monkeypatch.setattr(rselect, "_scases", scases)
    other = gpm.Chan()
    case = c.recv_ok if kind == "recv" else (c.send, "mine")

    def main():
        try:
            return gpm.select(other.recv, case)
        except gpm.ClosedChannelError as e:
            return str(e)

    got = gpm.run(main, procs=1)
    assert done
    want = {"recv: a value buffered": (1, ("new", True)), "recv: a sender waits": (1, ("new", True)),
            "recv: closed": (1, (None, False)), "send: room in the buffer": (1, None),
            "send: a receiver waits": (1, None), "send: closed": "send on closed channel"}[how]
    assert got == want
    if how == "send: room in the buffer":
        assert c.recv() == "mine"
    if how == "send: a receiver waits":
        assert peer.elem == "mine" and peer.sema.acquire(False)
    if how == "recv: a sender waits":
        assert peer.sema.acquire(False)
    assert not c._recvq and not c._sendq and not other._recvq


def test_pass_one_never_blocks_on_a_send_case_that_only_looked_ready():
    """Pass 1's chansend is non-blocking: an unbuffered channel whose only
    queued receiver is a select that already fired elsewhere looks ready to
    the lock-free pre-check, the send finds nobody, and select goes on to
    wait on all its cases (mutants: ``chansend(c, v)`` / ``block=True``,
    which parked the goroutine in that one send)."""
    def main():
        c, d = gpm.Chan(), gpm.Chan()
        c._recvq.append(_lost(_select_sudog()))
        h = gpm.go(gpm.select, (c.send, 1), d.recv)
        wait_blocked(d._recvq)
        d.send("d")
        return h.join()

    assert gpm.run(main, procs=1) == (1, "d")


def test_a_plain_thread_select_with_one_blocking_case():
    """(mutant: the plain thread blocks on ``sgs[1]``: IndexError with one case)"""
    c = gpm.Chan()
    out = []
    th = threading.Thread(target=lambda: out.append(gpm.select(c.recv)))
    th.start()
    wait_blocked(c._recvq)
    c.send("v")
    th.join(10)
    assert out == [(0, "v")]


def test_a_goroutines_select_sudogs_come_from_and_go_back_to_its_ps_cache():
    """Go's acquireSudog/releaseSudog: a goroutine's second parked select
    reuses the first one's Sudog, cleared (mutant: ``cache = None``)."""
    def main():
        seen = []
        for _ in range(2):
            c = gpm.Chan()
            h = gpm.go(gpm.select, c.recv)
            wait_blocked(c._recvq)
            seen.append(c._recvq[0])
            c.send(1)
            assert h.join() == (0, 1)
        return seen

    first, second = gpm.run(main, procs=1)
    assert first is second
    assert first.g is None and first.elem is None and first.c is None and first.sel is None


@pytest.mark.parametrize("n", [3, 4])
def test_a_parked_select_reports_the_case_that_fired(n):
    """Each case of a parked select has its own Sudog carrying its index
    (mutant: ``sg0 if sgs else Sudog(...)``, which shares one Sudog among the
    cases after the first)."""
    def main():
        out = []
        for k in range(n):
            for _ in range(6):                         # several poll orders per fired case
                chans = [gpm.Chan() for _ in range(n)]
                h = gpm.go(gpm.select, *[c.recv for c in chans])
                wait_blocked(chans[k]._recvq)
                chans[k].send(k)
                out.append((k, h.join()))
        return out

    for k, got in gpm.run(main, procs=1):
        assert got == (k, k)


# -- messages --------------------------------------------------------------------

def test_close_errors_say_which_close():
    c = gpm.Chan()
    c.close()
    with pytest.raises(gpm.ClosedChannelError, match=r"^close of closed channel$"):
        c.close()
    with pytest.raises(gpm.ClosedChannelError, match=r"^close of nil channel$"):
        gpm.nilchan.close()


@pytest.mark.parametrize("i,bad", [(1, 42), (1, gpm.Chan().close), (1, (print, 1))])
def test_a_bad_select_case_is_named_with_its_index_and_value(i, bad):
    ch = gpm.Chan()
    with pytest.raises(TypeError) as ei:
        gpm.select(ch.recv, bad)
    assert str(ei.value) == (f"gpm.select: case {i} must be ch.recv, ch.recv_ok, (ch.send, value) "
                             f"or gpm.default, got {bad!r}")


def test_two_defaults_message():
    with pytest.raises(TypeError, match=r"^gpm.select: more than one default case$"):
        gpm.select(gpm.default, gpm.default)


def test_chan_repr():
    c = gpm.Chan(2)
    c.send(1)
    assert repr(c) == f"<gpm.Chan cap=2 len=1 at {id(c):#x}>"
    c.close()
    assert repr(c) == f"<gpm.Chan cap=2 len=1 closed at {id(c):#x}>"
    assert repr(gpm.nilchan) == "gpm.nilchan"
    assert repr(gpm.default) == "gpm.default"
    assert bool(gpm.Chan()) is True


def test_default_pickles_as_itself():
    import pickle
    assert pickle.loads(pickle.dumps(gpm.default)) is gpm.default


# -- non-blocking sends ------------------------------------------------------------

@pytest.mark.parametrize("cap", [0, 1])
def test_a_non_blocking_send_on_a_closed_channel_raises_even_when_full(cap):
    """Closed is checked before "would block" (Go's chansend): a closed
    unbuffered channel without receivers, or a closed full one, raises from
    select's pass 1 instead of looking not ready (mutant: the lock-free fast
    path taken when closed)."""
    c = gpm.Chan(cap)
    for _ in range(cap):
        c.send("x")
    c.close()
    with pytest.raises(gpm.ClosedChannelError, match=r"^send on closed channel$"):
        gpm.select((c.send, 1), gpm.default)
    with pytest.raises(gpm.ClosedChannelError):
        rchan.chansend(c, 1, block=False)


def test_chansend_non_blocking_says_false_when_it_would_block():
    """chansend(block=False): None once sent, False when it would block, on
    the lock-free fast path (unbuffered, no receiver; full buffer) and on the
    locked path (only a lost select receiver queued)."""
    assert rchan.chansend(gpm.Chan(), 1, block=False) is False
    full = gpm.Chan(1)
    assert rchan.chansend(full, 1, block=False) is None
    assert rchan.chansend(full, 2, block=False) is False
    c = gpm.Chan()
    c._recvq.append(_lost(_select_sudog()))
    assert rchan.chansend(c, 1, block=False) is False
    assert not c._recvq                       # the lost Sudog was dropped


def _select_sudog():
    sg = _waiter()
    sg.isselect = True
    sg.sel = [rlocks.new_sema(), None]
    return sg


def _waiter():
    """A plain thread's Sudog as current_waiter makes it (its semaphore held)."""
    sg = Sudog(None, rlocks.new_sema())
    sg.sema.acquire()
    return sg


def _lost(sg):
    sg.sel[0].acquire()
    return sg


def test_a_send_skips_lost_select_receivers_to_a_live_one():
    """Go's waitq.dequeue goes on past a select that fired elsewhere: the
    value goes to the next live receiver, not to the buffer or a wait
    (mutant: ``dequeue(None)`` after the first lost one)."""
    c = gpm.Chan(1)
    lost, live = _lost(_select_sudog()), _waiter()
    c._recvq.extend([lost, live])
    c.send("v")
    assert live.elem == "v" and live.sema.acquire(False)    # handed over and woken
    assert lost.elem is None and not c._recvq and len(c) == 0


def test_a_receive_skips_lost_select_senders_to_a_live_one():
    """Same for a receive (mutants: ``sg = None`` / ``dequeue(None)`` after a lost claim)."""
    c = gpm.Chan()
    lost, live = _lost(_select_sudog()), _waiter()
    lost.elem, live.elem = "stale", "w"
    c._sendq.extend([lost, live])
    assert c.recv_ok() == ("w", True)
    assert live.sema.acquire(False) and not c._sendq


# -- a blocked sender woken by close ------------------------------------------------

def test_a_blocked_sender_woken_by_close_raises():
    def main():
        c, res = gpm.Chan(), gpm.Chan(1)

        def body():
            try:
                c.send(1)
                res.send("no error")
            except gpm.ClosedChannelError as e:
                res.send(str(e))

        gpm.go(body)
        wait_blocked(c._sendq)
        c.close()
        return res.recv()

    assert gpm.run(main, procs=1) == "send on closed channel"


# -- the waits of goroutines discarded at exit are withdrawn -------------------------

@pytest.mark.parametrize("side", ["recv", "send"])
def test_a_discarded_goroutines_wait_leaves_a_channel_that_outlives_the_run(side):
    """withdraw_chan_waits finds the channel through ``sg.c``: a channel used
    by a later run must not hold the Sudog of a goroutine that is gone
    (mutants: park_on without the channel)."""
    c = gpm.Chan()

    def main():
        gpm.go(c.recv if side == "recv" else (lambda: c.send(1)))
        wait_blocked(c._recvq if side == "recv" else c._sendq)

    gpm.run(main, procs=1)
    assert not c._recvq and not c._sendq
    assert gpm.select(c.recv, (c.send, 2), gpm.default) == (2, None)


# -- Chan's argument checks -----------------------------------------------------------

def test_chan_cap_errors_name_the_parameter_and_the_value():
    with pytest.raises(TypeError) as ei:
        gpm.Chan(1.5)
    assert str(ei.value) == "gpm.Chan: cap must be an int, got float"
    with pytest.raises(ValueError) as ei:
        gpm.Chan(-2)
    assert str(ei.value) == "gpm.Chan: cap must be >= 0, got -2"


def test_a_ps_sudog_cache_never_grows_past_its_cap():
    """Go's releaseSudog bound: Sudogs of a select that returns go back only
    while the cache is under _SUDOGCACHE_MAX (mutant: ``<=``, one set more)."""
    cap = rselect._SUDOGCACHE_MAX

    def main():
        cache = getg().pp.sudogcache
        cache.clear()
        c = gpm.Chan()
        h = gpm.go(gpm.select, c.recv)             # parks on new Sudogs: the cache is empty
        wait_blocked(c._recvq)
        cache.extend(Sudog(None, None) for _ in range(cap))   # filled meanwhile by others
        c.send(1)
        assert h.join() == (0, 1)
        n = len(cache)
        cache.clear()
        return n

    assert gpm.run(main, procs=1) == cap


# -- the ready-case fast path and G.selcache ----------------------------------------

def _yield_until(cond):
    """Let the other goroutines (procs=1) run until ``cond()``; at most 100 yields."""
    for _ in range(100):
        if cond():
            return
        gpm.gosched()
    assert cond()


def test_four_ready_cases_are_chosen_uniformly_by_a_goroutine():
    """Each of 4 ready receive cases wins ~1/4 of 4,000 selects: chi-square
    with 3 degrees of freedom below 16.27 (p = 0.001), on a fixed-seed P rng,
    so it cannot flake.  A select that always took the first (or last)
    ready-looking case gives chi-square 12,000."""
    def main():
        getg().pp.rng = random.Random(2026)
        chans = [gpm.Chan(1) for _ in range(4)]
        cases = [c.recv for c in chans]
        wins = [0] * 4
        for _ in range(4000):
            _refill(chans)
            wins[gpm.select(*cases)[0]] += 1
        return wins

    wins = gpm.run(main, procs=1)
    chi2 = sum((w - 1000) ** 2 / 1000 for w in wins)
    assert chi2 < 16.27, wins


def test_only_the_ready_cases_are_candidates():
    """Ready cases 1 and 3 of 4 (a buffered value, a closed channel): each
    wins, the idle ones never; a closed channel's recv_ok is (None, False)."""
    def main():
        getg().pp.rng = random.Random(7)
        chans = [gpm.Chan(1) for _ in range(4)]
        chans[3].close()
        got = {}
        for _ in range(200):
            if not len(chans[1]):
                chans[1].send("v")
            i, v = gpm.select(chans[0].recv, chans[1].recv, chans[2].recv, chans[3].recv_ok)
            got[i] = v
        return got

    assert gpm.run(main, procs=1) == {1: "v", 3: (None, False)}


def test_send_case_fast_path_and_closed_send_case():
    def main():
        a, b, c = gpm.Chan(1), gpm.Chan(0), gpm.Chan(1)
        assert gpm.select(b.recv, (a.send, 5), c.recv) == (1, None)
        assert a.recv() == 5
        c.close()
        b.close()
        # the only ready cases: a send on a closed channel and recv on closed b
        hit = set()
        for _ in range(100):
            try:
                hit.add(gpm.select((c.send, 1), b.recv)[0])
            except gpm.ClosedChannelError:
                hit.add("raised")
        return hit

    assert gpm.run(main, procs=1) == {1, "raised"}


def test_a_stale_select_sudog_makes_a_case_look_ready_then_the_select_goes_on():
    """A select Sudog that lost its claim, still queued on c: c.recv looks
    ready, the receive drops the Sudog and finds nothing, and the select runs
    its checks again and takes the default case (not a false receive)."""
    def main():
        c, d = gpm.Chan(0), gpm.Chan(0)
        gpm.go(gpm.select, (c.send, 1), (d.send, 2))
        _yield_until(lambda: c._sendq and d._sendq)
        assert d.recv() == 2        # wins the claim; the G has not run its pass 3 yet
        assert len(c._sendq) == 1
        r = gpm.select(c.recv, gpm.default)
        return r, len(c._sendq)

    assert gpm.run(main, procs=1) == ((1, None), 0)


def test_selcache_misses_when_the_cases_change():
    """The same G selects over (a, b) then (a, c): the second parks on c (not
    on b from the cached lock order and Sudog list) and c's sender wakes it."""
    def main():
        a, b, c = gpm.Chan(0), gpm.Chan(0), gpm.Chan(0)
        out = gpm.Chan(2)

        def selector():
            out.send(gpm.select(a.recv, b.recv))
            out.send(gpm.select(a.recv, c.recv))

        gpm.go(selector)
        _yield_until(lambda: b._recvq)
        b.send("b")
        _yield_until(lambda: c._recvq)       # the second select parked on c
        assert not b._recvq
        c.send("c")
        return out.recv(), out.recv(), len(b._recvq), len(c._recvq)

    assert gpm.run(main, procs=1) == ((1, "b"), (1, "c"), 0, 0)


def test_a_finished_goroutine_keeps_no_channel_of_its_last_select():
    """goexit drops G.selcache: the channels of a finished goroutine's last
    (parked) select are freed by refcounting while its handle lives."""
    import weakref

    def main():
        a, b = gpm.Chan(0), gpm.Chan(0)
        refs = [weakref.ref(a), weakref.ref(b)]
        h = gpm.go(gpm.select, a.recv, b.recv)
        aq = a._recvq
        _yield_until(lambda: aq)
        a.send(1)
        h.join()
        del a, b
        return [r() is None for r in refs], h

    alive, _h = gpm.run(main, procs=1)
    assert alive == [True, True]
