"""The netpoller on its own: PollDesc slots and stale deadline timers, the fd
table (one PollDesc per fd), epoll edges, netpollbreak against a blocked
poller owner, fd hygiene."""

import os
import socket
import threading
import time

from tests.support import internal_g, netpoll, Netpoll, Note

PollDesc, READY, _MODE_R, _MODE_W = netpoll.PollDesc, netpoll.READY, netpoll._MODE_R, netpoll._MODE_W
_deadline_fire = netpoll._deadline_fire


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
    old = object()                    # a timer that is no longer the slot's armed one
    pd.rt = object()
    _deadline_fire((pd, _MODE_R, old), 0.0)
    assert pd.rg is g                 # not woken
    pd.rt = None                      # deleted (the G was woken meanwhile): also stale
    _deadline_fire((pd, _MODE_R, old), 0.0)
    assert pd.rg is g


def test_close_marks_closing_and_is_idempotent():
    pd = PollDesc(99)
    assert pd.close() is True
    assert pd.closing
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


def test_fd_table_one_polldesc_per_fd():
    """pollopen enters a socket's PollDesc; wait_fd's acquire shares it, or makes
    a foreign one that the last release closes and removes."""
    fdtab = netpoll._fdtab
    a, b = socket.socketpair()
    try:
        pd = netpoll.pollopen(a)
        assert fdtab[a.fileno()] is pd
        assert netpoll._fdacquire(a.fileno()) is pd          # shared, not a second one
        netpoll._fdrelease(pd)
        assert fdtab[a.fileno()] is pd and not pd.closing    # an owned PollDesc stays
        f1 = netpoll._fdacquire(b.fileno())
        f2 = netpoll._fdacquire(b.fileno())
        assert f1 is f2 and f1.refs == 2 and f1.foreign
        netpoll._fdrelease(f1)
        assert fdtab[b.fileno()] is f1 and not f1.closing
        netpoll._fdrelease(f2)
        assert b.fileno() not in fdtab and f1.closing        # the last user closed it
        pd.close()
        assert a.fileno() not in fdtab
    finally:
        a.close()
        b.close()


def test_fd_table_replaces_a_stale_entry():
    """A socket closed behind gpm's back leaves a stale PollDesc; the next user
    of that fd number replaces it (and wakes nobody by mistake)."""
    fdtab = netpoll._fdtab
    a = socket.socket()
    fd = a.fileno()
    old = netpoll.pollopen(a)
    a.close()                                  # no pd.close(): stale now
    f = netpoll._fdacquire(fd)
    try:
        assert f is not old and old.closing and fdtab[fd] is f
    finally:
        netpoll._fdrelease(f)
    assert fd not in fdtab
    s = socket.socket()
    try:
        pd1 = netpoll.pollopen(s)
        s2 = socket.socket()                   # pollopen of a new fd never disturbs another
        try:
            pd2 = netpoll.pollopen(s2)
            assert fdtab[s.fileno()] is pd1 and fdtab[s2.fileno()] is pd2
            pd2.close()
        finally:
            s2.close()
        pd1.close()
    finally:
        s.close()


def test_netpollopen_never_drops_another_registration():
    sched = FakeSched()
    np = Netpoll(sched)
    a, b = socket.socketpair()
    try:
        pd = PollDesc(b.fileno())
        np.netpollopen(pd)
        np.netpollopen(pd)                     # idempotent
        other = PollDesc(b.fileno())
        np.netpollclose(other)                 # not the registered one: no effect
        assert np.pds[b.fileno()] is pd
        np.netpoll(0)                          # initial writable edge
        a.send(b"x")
        np.netpoll(0)
        assert pd.rg is READY                  # still registered and dispatched
    finally:
        np.netpollclose(pd)
        a.close()
        b.close()
        np.close()


def test_set_deadline_after_close_raises():
    pd = PollDesc(99)
    pd.close()
    try:
        pd.set_deadline(2, 1.0)
    except netpoll.ClosedError:
        pass
    else:
        raise AssertionError("set_deadline after close succeeded")


def test_a_directly_made_polldesc_is_shared_by_wait_fd():
    """A PollDesc made directly (as gpm.monkey's FdWaiter does) enters the fd
    table when it registers, so wait_fd on that fd shares it instead of
    registering the fd a second time and later dropping its registration."""
    import gpm
    import gpm.net as net

    def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        fd = b.fileno()
        pd = PollDesc(fd)
        try:
            h = gpm.go(pd.wait, _MODE_R)
            while internal_g(h).status != 4:  # parked in IO wait (bounded by the test timeout)
                gpm.sleep(0.001)
            assert netpoll._fdtab[b.fileno()] is pd
            net.wait_write(b, time.monotonic() + 10)   # shares pd's writer slot
            assert netpoll._fdtab[b.fileno()] is pd and pd.np is not None
            a.send(b"x")
            assert h.join() is True           # the reader still gets its edge
        finally:
            pd.close()
            a.close()
            b.close()
        assert fd not in netpoll._fdtab
    gpm.run(main, procs=1)
