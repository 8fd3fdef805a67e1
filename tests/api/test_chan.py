"""gpm.Chan against API.md (Channels) and Go's chan.go rules.

Ported ideas from Go's tests: sieve (test/chan/sieve1.go), fifo
(test/chan/fifo.go), closed-channel rules (test/closedchan.go), nonblocking
ops (test/chan/nonblock.go).
"""

import threading

import pytest

import gpm
from tests.support import wait_blocked, wait_until


def test_chan_cap_validation():
    with pytest.raises(ValueError):
        gpm.Chan(-1)
    with pytest.raises(TypeError):
        gpm.Chan(1.5)
    c = gpm.Chan(3)
    assert c.cap == 3 and len(c) == 0
    assert gpm.Chan().cap == 0


def test_buffered_without_runtime():
    # Non-blocking ops need no runtime at all.
    c = gpm.Chan(2)
    c.send(1)
    c.send(2)
    assert len(c) == 2
    assert c.recv() == 1
    assert c.recv_ok() == (2, True)
    c.close()
    assert c.recv_ok() == (None, False)
    assert c.recv() is None


def test_unbuffered_ping_pong(procs):
    def main():
        ping, pong = gpm.Chan(), gpm.Chan()

        def echo():
            for v in ping:
                pong.send(v * 2)
            pong.close()

        gpm.go(echo)
        out = []
        for i in range(200):
            ping.send(i)
            out.append(pong.recv())
        ping.close()
        assert pong.recv_ok() == (None, False)
        return out

    assert gpm.run(main, procs=procs) == [2 * i for i in range(200)]


def test_sieve(procs):
    # Go's concurrent prime sieve: a chain of filter goroutines.
    def generate(ch):
        i = 2
        while True:
            ch.send(i)
            i += 1

    def filt(inp, out, prime):
        for v in inp:
            if v % prime:
                out.send(v)

    def main():
        ch = gpm.Chan()
        gpm.go(generate, ch)
        primes = []
        for _ in range(40):
            p = ch.recv()
            primes.append(p)
            ch1 = gpm.Chan()
            gpm.go(filt, ch, ch1, p)
            ch = ch1
        return primes

    primes = gpm.run(main, procs=procs)
    expect = [n for n in range(2, 200) if all(n % d for d in range(2, n))][:40]
    assert primes == expect


def test_fifo_buffered_and_blocked_senders(procs):
    # Go's fifo.go: values come out in the order they went in, across the
    # buffer and the queue of blocked senders.
    def main():
        c = gpm.Chan(4)
        n = 50
        seq = gpm.Chan()       # serialises the senders' start order

        def sender(i):
            seq.send(None)     # tell main we are about to send
            c.send(i)

        # seq only says sender i is about to send; with Ps in parallel (free-threaded) sender i
        # can be stalled between seq.send and c.send while sender i+1 overtakes it, so main waits
        # until sender i's value is in: in the buffer (i < 4) or its sudog in the sendq.
        #   sender 3 (P1)         main (P0)           sender 4 (P2)
        #   seq.send -> main      seq.recv; go(4)
        #   (descheduled)         seq.recv            seq.send; c.send(4): buffer slot 3
        #   c.send(3): sendq                          -> out: [0, 1, 2, 4, 3, ...]
        for i in range(n):
            gpm.go(sender, i)
            seq.recv()
            if i < 4:
                wait_until(lambda i=i: len(c) > i, what=f"value {i} buffered", interval=0)
            else:
                wait_blocked(c._sendq, i - 3)
        return [c.recv() for _ in range(n)]

    assert gpm.run(main, procs=procs) == list(range(50))


def test_fifo_blocked_receivers(procs):
    def main():
        c = gpm.Chan()
        out = gpm.Chan(10)
        for i in range(10):
            gpm.go(lambda i=i: out.send((i, c.recv())))
            wait_blocked(c._recvq, i + 1)
        for v in range(10):
            c.send(v)
        got = sorted(out.recv() for _ in range(10))
        return got

    assert gpm.run(main, procs=procs) == [(i, i) for i in range(10)]


def test_direct_handoff_skips_buffer(procs):
    def main():
        c = gpm.Chan(3)
        res = gpm.Chan(1)
        gpm.go(lambda: res.send(c.recv()))
        wait_blocked(c._recvq)
        c.send("x")
        assert len(c) == 0             # went straight to the receiver
        return res.recv()

    assert gpm.run(main, procs=procs) == "x"


def test_full_buffer_recv_moves_sender_value_to_tail(procs):
    def main():
        c = gpm.Chan(2)
        c.send(1)
        c.send(2)
        done = gpm.Chan()
        gpm.go(lambda: (c.send(3), done.close()))
        wait_blocked(c._sendq)
        assert c.recv() == 1
        done.recv()                      # the sender completed
        assert len(c) == 2
        return [c.recv(), c.recv()]

    assert gpm.run(main, procs=procs) == [2, 3]


def test_closed_channel_rules(procs):
    def main():
        c = gpm.Chan(2)
        c.send(1)
        c.close()
        with pytest.raises(gpm.ClosedChannelError, match="send on closed channel"):
            c.send(2)
        with pytest.raises(gpm.ClosedChannelError, match="close of closed channel"):
            c.close()
        assert c.recv_ok() == (1, True)      # drained first
        assert c.recv_ok() == (None, False)
        assert c.recv() is None
        assert list(c) == []
        return True

    assert gpm.run(main, procs=procs)


def test_close_wakes_all_receivers_and_senders(procs):
    def main():
        r, s = gpm.Chan(), gpm.Chan()
        results = gpm.Chan(10)

        def receiver():
            results.send(("r", r.recv_ok()))

        def sender():
            try:
                s.send(1)
                results.send(("s", "sent"))
            except gpm.ClosedChannelError as e:
                results.send(("s", str(e)))

        for _ in range(3):
            gpm.go(receiver)
            gpm.go(sender)
        wait_blocked(r._recvq, 3)
        wait_blocked(s._sendq, 3)
        r.close()
        s.close()
        got = sorted((results.recv() for _ in range(6)), key=repr)
        return got

    got = gpm.run(main, procs=procs)
    assert got.count(("r", (None, False))) == 3
    assert got.count(("s", "send on closed channel")) == 3


def test_recv_ok_value_none_is_ok_true():
    c = gpm.Chan(1)
    c.send(None)
    assert c.recv_ok() == (None, True)


def test_iteration_until_closed(procs):
    def main():
        c = gpm.Chan(5)

        def prod():
            for i in range(100):
                c.send(i)
            c.close()

        gpm.go(prod)
        return sum(c)

    assert gpm.run(main, procs=procs) == sum(range(100))


def test_nilchan():
    with pytest.raises(gpm.ClosedChannelError, match="close of nil channel"):
        gpm.nilchan.close()
    assert len(gpm.nilchan) == 0 and gpm.nilchan.cap == 0

    def main():
        blocked = gpm.go(lambda: gpm.nilchan.recv())
        blocked2 = gpm.go(lambda: gpm.nilchan.send(1))
        for _ in range(20):
            gpm.gosched()
        return blocked.done() or blocked2.done()

    assert gpm.run(main, procs=1) is False


def test_nilchan_alone_is_deadlock():
    with pytest.raises(gpm.Deadlock):
        gpm.run(lambda: gpm.nilchan.recv(), procs=1)


def test_unbuffered_recv_deadlock():
    with pytest.raises(gpm.Deadlock):
        gpm.run(lambda: gpm.Chan().recv(), procs=2)


def test_mixed_threads_and_goroutines(procs):
    # Plain threads feed goroutines through a channel and wait on a WaitGroup;
    # goroutines answer through another channel the threads block on.
    from gpm import sync

    nthreads, per = 3, 200

    def main():
        work, results = gpm.Chan(8), gpm.Chan()
        wg = sync.WaitGroup()
        wg.add(nthreads)
        sums = []

        def producer(k):
            for i in range(per):
                work.send(k * per + i)
            wg.done()

        def collector():
            total = 0
            for _ in range(nthreads * per):
                total += results.recv()       # blocks the OS thread
            sums.append(total)

        ths = [threading.Thread(target=producer, args=(k,)) for k in range(nthreads)]
        col = threading.Thread(target=collector)
        for t in ths + [col]:
            t.start()

        def worker():
            for v in work:
                results.send(v)

        workers = sync.WaitGroup()
        for _ in range(4):
            workers.go(worker)
        wg.wait()                       # a goroutine waits for threads
        work.close()
        workers.wait()
        gpm.syscall(col.join)
        for t in ths:
            gpm.syscall(t.join)
        return sums[0]

    assert gpm.run(main, procs=procs) == sum(range(nthreads * per))


def test_thread_blocks_on_goroutine_send():
    def main():
        c = gpm.Chan()
        got = []
        t = threading.Thread(target=lambda: got.append(c.recv_ok()))
        t.start()
        wait_blocked(c._recvq)
        c.send(42)
        gpm.syscall(t.join)
        return got

    assert gpm.run(main, procs=2) == [(42, True)]


def test_plain_threads_only_no_runtime():
    c = gpm.Chan()
    out = []
    t = threading.Thread(target=lambda: out.extend(c))
    t.start()
    for i in range(100):
        c.send(i)
    c.close()
    t.join(10)
    assert out == list(range(100))


def test_send_and_recv_ok_take_no_extra_positional_argument():
    """Chan.send and Chan.recv_ok are chansend/chanrecv themselves; their
    ``block`` parameter is keyword-only, so a stray positional argument is
    still a TypeError (not a silent non-blocking op), and nothing is sent."""
    c = gpm.Chan(1)
    with pytest.raises(TypeError):
        c.send(1, 2)
    with pytest.raises(TypeError):
        c.recv_ok(False)
    assert len(c) == 0
