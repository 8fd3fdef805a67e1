"""gpm.select against API.md and Go's select.go rules.

Ported ideas from Go's tests: select fairness (chan_test.go
TestSelectFairness), nonblocking select (test/chan/nonblock.go),
doubleselect (test/chan/doubleselect.go), select2/select3 rules.
"""

import math
import threading

import pytest

import gpm
from gpm import sync

from tests.support import wait_blocked


def test_default_when_nothing_ready():
    c = gpm.Chan()
    assert gpm.select(c.recv, gpm.default) == (1, None)
    assert gpm.select(gpm.default, (c.send, 1)) == (0, None)
    assert gpm.select(gpm.default) == (0, None)


def test_nonblocking_buffered():
    c = gpm.Chan(1)
    assert gpm.select((c.send, 7), gpm.default) == (0, None)
    assert gpm.select((c.send, 8), gpm.default) == (1, None)   # full
    assert gpm.select(c.recv_ok, gpm.default) == (0, (7, True))
    assert gpm.select(c.recv, gpm.default) == (1, None)
    c.close()
    assert gpm.select(c.recv_ok, gpm.default) == (0, (None, False))
    assert gpm.select(c.recv, gpm.default) == (0, None)


def test_send_case_on_closed_raises():
    c = gpm.Chan(1)
    c.close()
    with pytest.raises(gpm.ClosedChannelError, match="send on closed channel"):
        gpm.select((c.send, 1), gpm.default)


def test_bad_cases():
    c = gpm.Chan()
    with pytest.raises(TypeError):
        gpm.select(c.send)                 # send without a value
    with pytest.raises(TypeError):
        gpm.select((c.recv, 1))
    with pytest.raises(TypeError):
        gpm.select(lambda: 1)
    with pytest.raises(TypeError):
        gpm.select(c)
    with pytest.raises(TypeError):
        gpm.select(gpm.default, gpm.default)


def test_nilchan_cases_never_fire():
    c = gpm.Chan(1)
    c.send(5)
    for _ in range(50):
        assert gpm.select(gpm.nilchan.recv, (gpm.nilchan.send, 1), c.recv_ok, gpm.nilchan.recv_ok,
                          gpm.default) in ((2, (5, True)), (4, None))
        c.send(5) if len(c) == 0 else None
    assert gpm.select(gpm.nilchan.recv, gpm.default) == (1, None)


def test_empty_select_blocks_forever():
    with pytest.raises(gpm.Deadlock):
        gpm.run(lambda: gpm.select(), procs=1)


def test_select_only_nil_blocks_forever():
    with pytest.raises(gpm.Deadlock):
        gpm.run(lambda: gpm.select(gpm.nilchan.recv), procs=2)


def test_fairness_binomial(procs):
    # Two always-ready cases: each chosen ~50%; 6 sigma keeps flakes at ~1e-9.
    n = 4000

    def main():
        a, b = gpm.Chan(1), gpm.Chan(1)
        a.send(0)
        b.send(0)
        cnt = [0, 0]
        for _ in range(n):
            i, _v = gpm.select(a.recv, b.recv)
            cnt[i] += 1
            (a if i == 0 else b).send(0)
        return cnt

    cnt = gpm.run(main, procs=procs)
    sigma = math.sqrt(n * 0.25)
    assert abs(cnt[0] - n / 2) < 6 * sigma, cnt


def test_fairness_four_cases():
    n = 4000
    chans = [gpm.Chan(1) for _ in range(4)]
    for c in chans:
        c.send(0)
    cnt = [0] * 4
    for _ in range(n):
        i, _v = gpm.select(*[c.recv for c in chans])
        cnt[i] += 1
        chans[i].send(0)
    sigma = math.sqrt(n * 0.25 * 0.75)
    assert all(abs(k - n / 4) < 6 * sigma for k in cnt), cnt


def test_blocking_select_recv_and_send(procs):
    def main():
        a, b, c = gpm.Chan(), gpm.Chan(), gpm.Chan()
        gpm.go(lambda: b.send("hello"))
        r1 = gpm.select(a.recv, b.recv_ok)
        got = gpm.Chan(1)
        gpm.go(lambda: got.send(c.recv()))
        r2 = gpm.select(a.recv, (c.send, "out"))
        return r1, r2, got.recv()

    assert gpm.run(main, procs=procs) == ((1, ("hello", True)), (1, None), "out")


def test_parked_select_dequeued_from_other_channels(procs):
    # When one case fires, the select's sudogs leave every other channel:
    # a later sender on another channel must not be "received" by it.
    def main():
        a, b = gpm.Chan(), gpm.Chan()
        res = gpm.Chan(1)
        gpm.go(lambda: res.send(gpm.select(a.recv, b.recv)))
        wait_blocked(a._recvq)
        wait_blocked(b._recvq)
        a.send(1)
        r = res.recv()
        assert len(a._recvq) == 0 and len(b._recvq) == 0
        assert gpm.select((b.send, 2), gpm.default) == (1, None)   # nobody waits on b
        return r

    assert gpm.run(main, procs=procs) == (0, 1)


def test_close_wakes_select(procs):
    def main():
        a, b = gpm.Chan(), gpm.Chan()
        res = gpm.Chan(1)
        gpm.go(lambda: res.send(gpm.select(a.recv_ok, b.recv)))
        wait_blocked(b._recvq)
        a.close()
        return res.recv()

    assert gpm.run(main, procs=procs) == (0, (None, False))


def test_close_wakes_select_sender_which_raises(procs):
    def main():
        a, b = gpm.Chan(), gpm.Chan()
        res = gpm.Chan(1)

        def body():
            try:
                gpm.select((a.send, 1), b.recv)
                res.send("no error")
            except gpm.ClosedChannelError as e:
                res.send(str(e))

        gpm.go(body)
        wait_blocked(a._sendq)
        a.close()
        return res.recv()

    assert gpm.run(main, procs=procs) == "send on closed channel"


def test_same_channel_in_several_cases(procs):
    def main():
        c = gpm.Chan()
        res = gpm.Chan(1)
        gpm.go(lambda: res.send(gpm.select(c.recv, c.recv_ok, c.recv)))
        wait_blocked(c._recvq, 3)
        c.send("v")
        i, v = res.recv()
        assert len(c._recvq) == 0
        assert (i, v) in ((0, "v"), (1, ("v", True)), (2, "v"))
        # send and recv on the same channel in one select, partner elsewhere
        gpm.go(lambda: res.send(gpm.select((c.send, "s"), c.recv)))
        wait_blocked(c._recvq)
        assert c.recv() == "s"
        return res.recv()

    assert gpm.run(main, procs=procs) == (0, None)


def test_two_selects_opposite_order_no_deadlock(procs):
    # Lock order by id(): selects over the same channels in opposite case
    # order exchange values without deadlocking.
    n = 300

    def main():
        a, b = gpm.Chan(), gpm.Chan()
        wg = sync.WaitGroup()
        total = [0, 0]

        def left():
            for i in range(n):
                gpm.select((a.send, i), (b.send, i))

        def right():
            for _ in range(n):
                i, v = gpm.select(b.recv, a.recv)
                total[i] += 1

        wg.go(left)
        wg.go(right)
        wg.wait()
        return sum(total)

    assert gpm.run(main, procs=procs) == n


def test_doubleselect(procs):
    # Go's doubleselect.go: a sender selects over several channels, several
    # receivers (plain recv and select recv); every value arrives exactly once.
    n = 2000

    def main():
        chans = [gpm.Chan() for _ in range(4)]
        seen = gpm.Chan(64)
        wg = sync.WaitGroup()

        def sender():
            for i in range(n):
                gpm.select(*[(c.send, i) for c in chans])
            for c in chans:
                c.close()

        def recv_plain(c):
            for v in c:
                seen.send(v)

        def recv_select(c1, c2):
            open_ = 2
            while open_:
                i, (v, ok) = gpm.select(c1.recv_ok, c2.recv_ok)
                if not ok:
                    open_ -= 1
                    if i == 0:
                        c1 = gpm.nilchan
                    else:
                        c2 = gpm.nilchan
                    continue
                seen.send(v)

        gpm.go(sender)
        wg.go(recv_plain, chans[0])
        wg.go(recv_plain, chans[1])
        wg.go(recv_select, chans[2], chans[3])
        wg.go(recv_select, chans[0], chans[3])
        gpm.go(lambda: (wg.wait(), seen.close()))
        got = list(seen)
        return sorted(got)

    assert gpm.run(main, procs=procs) == list(range(n))


def test_select_from_plain_threads(procs):
    def main():
        a, b = gpm.Chan(), gpm.Chan()
        out = []

        def th():
            for _ in range(100):
                i, v = gpm.select(a.recv, b.recv)
                out.append(v)

        t = threading.Thread(target=th)
        t.start()
        for i in range(50):
            a.send(i)
            b.send(-i)
        gpm.syscall(t.join)
        return sorted(out)

    assert gpm.run(main, procs=procs) == sorted(list(range(50)) + [-i for i in range(50)])
