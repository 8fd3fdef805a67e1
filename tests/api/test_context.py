"""gpm.context against API.md and Go's context package rules."""

import time

import pytest

import gpm
from gpm import context


def test_background():
    bg = context.background()
    assert bg.err() is None and bg.deadline() is None and bg.value("k") is None
    assert bg.done() is gpm.nilchan
    assert gpm.select(bg.done().recv, gpm.default) == (1, None)


def test_cancel_propagates_to_descendants():
    root, cancel_root = context.with_cancel(context.background())
    child, cancel_child = context.with_cancel(root)
    val = context.with_value(child, "k", 1)
    grand, _ = context.with_cancel(val)
    other, cancel_other = context.with_cancel(context.background())
    assert grand.err() is None
    cancel_root()
    for ctx in (root, child, val, grand):
        assert isinstance(ctx.err(), context.Canceled)
        assert ctx.done().recv_ok() == (None, False)
    assert other.err() is None
    cancel_root()      # idempotent
    cancel_child()
    cancel_other()
    assert str(other.err()) == "context canceled"


def test_child_cancel_does_not_cancel_parent():
    root, cancel_root = context.with_cancel(context.background())
    child, cancel_child = context.with_cancel(root)
    cancel_child()
    assert root.err() is None and child.err() is not None
    assert not root._children           # detached from the parent
    cancel_root()


def test_child_of_cancelled_parent_is_cancelled():
    root, cancel = context.with_cancel(context.background())
    cancel()
    child, _ = context.with_cancel(root)
    assert isinstance(child.err(), context.Canceled)


def test_values():
    a = context.with_value(context.background(), "a", 1)
    b = context.with_value(a, "b", 2)
    c, cancel = context.with_cancel(b)
    d = context.with_value(c, "a", 3)
    assert (d.value("a"), d.value("b"), d.value("zz")) == (3, 2, None)
    assert (c.value("a"), a.value("b")) == (1, None)
    cancel()


def test_timeout_fires(procs):
    def main():
        t0 = time.monotonic()
        ctx, cancel = context.with_timeout(context.background(), 0.02)
        assert ctx.deadline() == pytest.approx(t0 + 0.02, abs=0.01)
        i, _ = gpm.select(ctx.done().recv, gpm.after(10).recv)
        cancel()
        return i, ctx.err(), time.monotonic() - t0

    i, err, dt = gpm.run(main, procs=procs)
    assert i == 0
    assert isinstance(err, context.DeadlineExceeded) and isinstance(err, TimeoutError)
    assert str(err) == "context deadline exceeded"
    assert dt >= 0.02


def test_deadline_in_past_and_parent_deadline_wins():
    ctx, cancel = context.with_deadline(context.background(), time.monotonic() - 1)
    assert isinstance(ctx.err(), context.DeadlineExceeded)
    cancel()
    parent, pc = context.with_timeout(context.background(), 100)
    child, cc = context.with_timeout(parent, 1000)
    assert child.deadline() == parent.deadline()
    cc()
    pc()
    assert isinstance(parent.err(), context.Canceled)


def test_cancel_before_deadline_stops_timer(procs):
    def main():
        ctx, cancel = context.with_timeout(context.background(), 100)
        cancel()
        assert isinstance(ctx.err(), context.Canceled)
        # no pending timer keeps the runtime alive: a block now is a deadlock
        return True

    assert gpm.run(main, procs=procs)


def test_timeout_parent_cancels_children(procs):
    def main():
        parent, pc = context.with_timeout(context.background(), 0.01)
        kids = [context.with_cancel(parent)[0] for _ in range(5)]
        done = gpm.Chan(5)
        for k in kids:
            gpm.go(lambda k=k: done.send(k.done().recv_ok()))
        res = [done.recv() for _ in range(5)]
        pc()
        return res, [type(k.err()) for k in kids]

    res, errs = gpm.run(main, procs=procs)
    assert res == [(None, False)] * 5
    assert errs == [context.DeadlineExceeded] * 5


def test_validation():
    with pytest.raises(TypeError):
        context.with_cancel(None)
    with pytest.raises(ValueError):
        context.with_timeout(context.background(), float("nan"))
    with pytest.raises(TypeError):
        context.with_deadline(context.background(), "soon")
