"""Goroutine context (API.md v2): contextvars per goroutine, gpm.local."""

import contextvars
import gc
import threading
import weakref

import pytest

import gpm

var = contextvars.ContextVar("var", default="unset")


# -- contextvars ---------------------------------------------------------------

def test_set_does_not_leak_into_a_goroutine_reusing_the_worker(procs):
    """Bug 13: a later goroutine run on the same worker greenlet saw the earlier one's set."""
    def setter(i):
        var.set(f"set by {i}")

    def main():
        seen = []
        for i in range(20):
            gpm.go(setter, i).join()
            seen.append(gpm.go(var.get).join())
        return seen
    assert gpm.run(main, procs=procs) == ["unset"] * 20


def test_child_sees_spawner_values_and_never_leaks_back(procs):
    def child():
        before = var.get()
        var.set("child")
        return before, var.get()

    def main():
        var.set("main")
        got = gpm.go(child).join()
        return got, var.get()
    assert gpm.run(main, procs=procs) == (("main", "child"), "main")


def test_copy_is_taken_at_go():
    """The child gets the spawner's values as they were at gpm.go, not later ones."""
    def main():
        var.set("at go")
        gate = gpm.Chan()
        g = gpm.go(lambda: (gate.recv(), var.get())[1])
        var.set("after go")
        gate.send(None)
        return g.join()
    assert gpm.run(main, procs=1) == "at go"


def test_main_gets_a_copy_of_the_callers_context():
    token = var.set("caller")
    try:
        def main():
            before = var.get()
            var.set("main")
            return before
        assert gpm.run(main, procs=1) == "caller"
        assert var.get() == "caller"
    finally:
        var.reset(token)


def test_parked_goroutines_keep_their_own_values(procs):
    """Interleaved on one P: each goroutine sees only its own set after every switch."""
    def worker(i, ch_in, ch_out):
        var.set(i)
        for _ in range(5):
            ch_in.recv()
            ch_out.send(var.get() == i)

    def main():
        chans = [(gpm.Chan(), gpm.Chan()) for _ in range(4)]
        for i, (a, b) in enumerate(chans):
            gpm.go(worker, i, a, b)
        ok = True
        for _ in range(5):
            for a, b in chans:
                a.send(None)
                ok = b.recv() and ok
        return ok and var.get() == "unset"
    assert gpm.run(main, procs=procs)


def test_syscall_runs_fn_in_a_copy_of_the_goroutines_context():
    def fn():
        before = var.get()
        var.set("in syscall")
        return before, threading.current_thread().name

    def main():
        var.set("goroutine")
        (before, name) = gpm.syscall(fn)
        return before, name.startswith("gpm-syscall-"), var.get()
    assert gpm.run(main, procs=1) == ("goroutine", True, "goroutine")


def test_go_from_plain_thread_copies_that_threads_context():
    def main():
        box = []

        def th():
            var.set("thread")
            box.append(gpm.go(var.get))
        t = threading.Thread(target=th)
        t.start()
        t.join()
        return box[0].join(), var.get()
    assert gpm.run(main, procs=2) == ("thread", "unset")


# -- gpm.local ---------------------------------------------------------------------

def test_local_is_per_goroutine(procs):
    loc = gpm.local()

    def child():
        had = hasattr(loc, "x")
        loc.x = "child"
        return had, loc.x

    def main():
        loc.x = "main"
        got = [gpm.go(child).join() for _ in range(10)]
        return got, loc.x
    got, mine = gpm.run(main, procs=procs)
    assert got == [(False, "child")] * 10
    assert mine == "main"


def test_local_interleaved_goroutines_on_one_p():
    loc = gpm.local()

    def worker(i, ch):
        loc.v = i
        gpm.gosched()
        gpm.gosched()
        ch.send(loc.v == i)

    def main():
        ch = gpm.Chan(8)
        for i in range(8):
            gpm.go(worker, i, ch)
        return [ch.recv() for _ in range(8)]
    assert gpm.run(main, procs=1) == [True] * 8


def test_local_on_plain_threads_is_per_thread():
    loc = gpm.local()
    loc.x = "main thread"
    box = []

    def th():
        box.append(hasattr(loc, "x"))
        loc.x = "other"
        box.append(loc.x)
    t = threading.Thread(target=th)
    t.start()
    t.join()
    assert box == [False, "other"]
    assert loc.x == "main thread"


def test_local_subclass_init_runs_once_per_goroutine_with_the_arguments():
    calls = []

    class Conn(gpm.local):
        def __init__(self, size, *, tag):
            calls.append((gpm.current().id if gpm.current() else 0, size, tag))
            self.buf = [None] * size

        def fill(self, v):
            self.buf[0] = v
            return self.buf

        @property
        def first(self):
            return self.buf[0]

    def child(c):
        c.fill("c")
        c.fill("c2")
        return c.first, len(c.buf)

    def main():
        c = Conn(3, tag="t")
        c.fill("m")
        got = gpm.go(child, c).join()
        return got, c.first
    got, mine = gpm.run(main, procs=1)
    assert got == ("c2", 3)
    assert mine == "m"
    assert [(s, t) for _, s, t in calls] == [(3, "t"), (3, "t")]
    assert calls[0][0] == 1 and calls[1][0] != 1


def test_local_without_init_rejects_arguments():
    with pytest.raises(TypeError, match="Initialization arguments are not supported"):
        gpm.local(1)


def test_local_dict_delattr_and_missing_attribute():
    def main():
        loc = gpm.local()
        loc.a = 1
        d = loc.__dict__
        del loc.a
        with pytest.raises(AttributeError, match="'a'"):
            loc.a  # noqa: B018  (the attribute read is the test)
        with pytest.raises(AttributeError):
            del loc.a
        with pytest.raises(AttributeError, match="read-only"):
            loc.__dict__ = {}
        return d
    assert gpm.run(main, procs=1) == {}


def test_local_values_are_dropped_when_the_goroutine_exits():
    class Val:
        pass
    loc = gpm.local()

    def child():
        v = Val()
        loc.v = v
        return weakref.ref(v)

    def main():
        return gpm.go(child).join()
    ref = gpm.run(main, procs=1)
    gc.collect()
    assert ref() is None


def test_dead_local_is_forgotten_by_a_live_goroutine():
    class Val:
        pass

    def main():
        loc = gpm.local()
        v = Val()
        loc.v = v
        ref = weakref.ref(v)
        del v, loc
        gc.collect()
        return ref() is None
    assert gpm.run(main, procs=1) is True


def test_local_failed_init_runs_again_on_next_access():
    n = []

    class Flaky(gpm.local):
        def __init__(self):
            n.append(1)
            if len(n) == 2:
                raise ValueError("first access in the child fails")
            self.ok = True

    def child(f):
        with pytest.raises(ValueError):
            f.ok  # noqa: B018  (the attribute read is the test)
        return f.ok

    def main():
        f = Flaky()
        return gpm.go(child, f).join()
    assert gpm.run(main, procs=1) is True
    assert len(n) == 3


def test_after_func_runs_in_the_callers_context_at_after_func(procs):
    """after_func's goroutine saw the firing scheduler's context, not its caller's."""
    def main():
        got = gpm.Chan(2)
        var.set("at after_func")
        t = gpm.after_func(0.001, lambda: (got.send(var.get()), var.set("inside")))
        var.set("later")
        first = got.recv()
        t.reset(0.001)                    # fires again: a fresh copy, not the first firing's
        return first, got.recv(), var.get()
    assert gpm.run(main, procs=procs) == ("at after_func", "at after_func", "later")
