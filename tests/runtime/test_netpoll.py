"""The netpoller on its own: PollDesc slots and deadline seqs, epoll edges,
netpollbreak against a blocked poller owner, fd hygiene."""

import os
import socket
import threading

from gpm._runtime.locks import Note
from gpm._runtime.netpoll import PollDesc, READY, _deadline_fire, _MODE_R, _MODE_W
from gpm._runtime.netpoll_epoll import Netpoll


class FakeSched:
    netpoll_waiters = 0


class FakeG:
    param = None


class FakeP:
    def __init__(self):
        self.note = Note()


def nfds():
    return len(os.listdir("/proc/self/fd"))


def test_ready_edge_without_waiter_sets_ready():
    pd = PollDesc(99)
    gs = []
    pd.netpollready(True, False, gs)
    assert gs == [] and pd.rg is READY and pd.wg is None
    pd.netpollready(True, True, gs)
    assert pd.rg is READY and pd.wg is READY


def test_parked_g_is_taken_once():
    pd = PollDesc(99)
    g = FakeG()
    pd.rg = g
    gs = []
    pd.netpollready(True, True, gs)
    assert gs == [g] and pd.rg is None and pd.wg is READY and g.param is READY


def test_stale_deadline_firing_is_ignored():
    pd = PollDesc(99)
    g = object()
    pd.rg = g
    old = pd.rseq
    pd.rseq += 1                      # the deadline moved: timers armed before are stale
    _deadline_fire((pd, _MODE_R, old), 0.0)
    assert pd.rg is g                 # not woken


def test_close_marks_closing_and_bumps_seqs():
    pd = PollDesc(99)
    r, w = pd.rseq, pd.wseq
    assert pd.close() is True
    assert pd.closing and pd.rseq == r + 1 and pd.wseq == w + 1
    assert pd.close() is False


def test_epoll_edges_and_break():
    before = nfds()
    sched = FakeSched()
    np = Netpoll(sched)
    a, b = socket.socketpair()
    try:
        pd = PollDesc(b.fileno())
        np.netpollopen(pd)
        np.netpoll(0)                 # initial writable edge
        assert pd.wg is READY
        pd.wg = None
        a.send(b"x")
        assert np.netpoll(0) == [] and pd.rg is READY
        # Edge-triggered: no new edge until new data arrives.
        pd.rg = None
        np.netpoll(0)
        assert pd.rg is None
        # A blocked owner is woken by wake_owner (netpollbreak).
        pp = FakeP()
        out = []
        t = threading.Thread(target=lambda: out.append(np.block(pp, 30.0)))
        t.start()
        while np.owner is not pp:     # bounded by the test timeout
            t.join(0.001)
        pp.note.wakeup()
        np.wake_owner(pp)
        t.join(10)
        assert out == [[]] and np.owner is None
        # Only one owner at a time: a second M gets None (sleeps on its note).
        np.owner = pp
        assert np.block(FakeP(), 0) is None
        np.owner = None
        np.netpollclose(pd)
        assert b.fileno() not in np.pds
    finally:
        a.close()
        b.close()
        np.close()
    assert nfds() == before


def test_wake_before_owning_is_not_lost():
    sched = FakeSched()
    np = Netpoll(sched)
    try:
        pp = FakeP()
        pp.note.wakeup()              # arrived before the M became the owner
        assert np.block(pp, None) == []
    finally:
        np.close()


def test_deadline_set_without_waiter_only_records():
    pd = PollDesc(99)
    pd.set_deadline(2, 5.0)
    assert pd.rd == 5.0 and pd.wd == 5.0 and pd.rt is None and pd.wt is None
    pd.set_deadline(_MODE_W, None)
    assert pd.wd is None and pd.rd == 5.0
