"""gpm.after / Timer / after_func / Ticker against API.md (Go 1.23 semantics).

Real-time checks are lower bounds only (STYLE.md 7).
"""

import threading
import time

import pytest

import gpm


def test_after(procs):
    def main():
        t0 = time.monotonic()
        v = gpm.after(0.01).recv()
        return t0, v, time.monotonic()

    t0, v, t1 = gpm.run(main, procs=procs)
    assert v >= t0 + 0.01 and t1 >= t0 + 0.01


def test_negative_and_zero_fire_at_once(procs):
    def main():
        a = gpm.after(-1).recv()
        b = gpm.Timer(0).c.recv()
        fired = gpm.Chan(1)
        gpm.after_func(-0.5, lambda: fired.send("f"))
        return a is not None and b is not None, fired.recv()

    assert gpm.run(main, procs=procs) == (True, "f")


def test_timer_stop(procs):
    def main():
        t = gpm.Timer(0.01)
        assert t.stop() is True
        assert t.stop() is False
        i, _ = gpm.select(t.c.recv, gpm.after(0.05).recv)
        return i

    assert gpm.run(main, procs=procs) == 1


def test_timer_stop_after_fire_drains_stale_value(procs):
    # Go 1.23: a value fired but not received is dropped by stop (which
    # then reports the timer as pending), so no stale value is received.
    def main():
        t = gpm.Timer(0.001)
        gpm.after(0.02).recv()            # t has surely fired by now
        assert t.stop() is True           # drained the unread value
        assert gpm.select(t.c.recv, gpm.default) == (1, None)
        assert t.stop() is False
        return True

    assert gpm.run(main, procs=procs)


def test_timer_reset(procs):
    def main():
        t = gpm.Timer(100)
        t0 = time.monotonic()
        assert t.reset(0.01) is True
        v = t.c.recv()
        assert v >= t0 + 0.01
        assert t.reset(0.001) is False     # fired and received: not pending
        gpm.after(0.02).recv()
        assert t.reset(100) is True        # fired, unread: drained
        assert gpm.select(t.c.recv, gpm.default) == (1, None)
        t.stop()
        return True

    assert gpm.run(main, procs=procs)


def test_after_func_and_stop(procs):
    def main():
        fired = gpm.Chan(2)
        t1 = gpm.after_func(0.005, lambda: fired.send(1))
        t2 = gpm.after_func(0.005, lambda: fired.send(2))
        assert t1.c is None
        assert t2.stop() is True
        v = fired.recv()
        gpm.after(0.02).recv()
        return v, len(fired)

    assert gpm.run(main, procs=procs) == (1, 0)


def test_ticker(procs):
    def main():
        tk = gpm.Ticker(0.005)
        t0 = time.monotonic()
        ticks = [tk.c.recv() for _ in range(4)]
        tk.stop()
        # no tick after stop
        i, _ = gpm.select(tk.c.recv, gpm.after(0.03).recv)
        return t0, ticks, i

    t0, ticks, i = gpm.run(main, procs=procs)
    assert i == 1
    assert ticks == sorted(ticks) and ticks[-1] >= t0 + 0.015


def test_ticker_drops_ticks_for_slow_reader(procs):
    def main():
        tk = gpm.Ticker(0.002)
        gpm.after(0.05).recv()        # ~25 periods pass unread
        n = 0
        while gpm.select(tk.c.recv, gpm.default)[0] == 0:
            n += 1
        tk.stop()
        return n

    assert gpm.run(main, procs=procs) <= 1


def test_ticker_reset_and_validation():
    with pytest.raises(ValueError):
        gpm.Ticker(0)
    with pytest.raises(ValueError):
        gpm.Ticker(-1)
    with pytest.raises(ValueError):
        gpm.after(float("nan"))
    with pytest.raises(TypeError):
        gpm.Timer("x")
    with pytest.raises(TypeError):
        gpm.after_func(1, 5)

    def main():
        tk = gpm.Ticker(100)
        tk.reset(0.002)
        tk.c.recv()
        with pytest.raises(ValueError):
            tk.reset(0)
        tk.stop()
        return True

    assert gpm.run(main, procs=1)


def test_timer_from_plain_thread():
    # No runtime: after() from a plain thread starts the default runtime
    # (stopped by the test fixture).
    out = []
    t = threading.Thread(target=lambda: out.append(gpm.after(0.01).recv()))
    t0 = time.monotonic()
    t.start()
    t.join(10)
    assert out and out[0] >= t0 + 0.01


def test_select_timeout_pattern(procs):
    def main():
        c = gpm.Chan()
        i, _ = gpm.select(c.recv, gpm.after(0.01).recv)
        return i

    assert gpm.run(main, procs=procs) == 1
