"""GC pacing during gpm.run (gpm/_runtime/gcpace.py) and goroutines that
refcounting alone frees.

The gc module's state is process-wide, so the pacing tests run in a fresh
interpreter (tests.support.run_prog) and print what they found.
"""

import gc
import weakref

import pytest

import gpm

from tests.support import gcpace, run_prog

pytestmark = pytest.mark.skipif(not gcpace.applies(), reason="pacing is off on this interpreter")


def _check(src, timeout=120):
    r = run_prog(src, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


_PARKED = """
import gc, time, gpm, gpm.sync
def park(n, body):
    # n goroutines parked on a channel while body() runs, then released.
    def main():
        c = gpm.Chan()
        parked = gpm.sync.WaitGroup()
        parked.add(n)
        def waiter():
            parked.done()
            c.recv()
        for _ in range(n):
            gpm.go(waiter)
        parked.wait()
        try:
            return body()
        finally:
            c.close()
    return gpm.run(main, procs=1)
"""


def test_full_collections_wait_for_live_goroutines():
    # Spawning 20,000 parked goroutines (~9 tracked objects each) under
    # CPython's default policy runs several full collections (measured: 2);
    # paced, none: their objects are reachable from the runtime.
    out = _check(_PARKED + """
full = lambda: gc.get_stats()[2]["collections"]
def body():
    return gc.get_threshold()
before = full()
th = park(20000, body)
print(full() - before, th[2] > 10, gc.get_threshold())
""")
    assert out.split() == ["0", "True", "(700,", "10,", "10)"], out


def test_run_gives_back_the_users_gc_settings():
    out = _check(_PARKED + """
def mine(phase, info):
    pass
gc.set_threshold(500, 7, 13)
gc.callbacks.append(mine)
seen = park(5000, lambda: gc.get_threshold())
print("during", seen[2] > 13)
print("after", gc.get_threshold(), gc.callbacks == [mine])
def boom():
    gc.collect(0)
    raise ValueError("x")
try:
    park(5000, boom)
except ValueError:
    pass
print("raised", gc.get_threshold(), gc.callbacks == [mine])
gc.disable()
park(5000, lambda: gc.collect(0))
print("disabled", gc.isenabled(), gc.get_threshold())
""")
    assert "during True" in out, out
    assert "after (500, 7, 13) True" in out, out
    assert "raised (500, 7, 13) True" in out, out
    assert "disabled False (500, 7, 13)" in out, out


def test_thresholds_the_user_sets_during_a_run_are_kept():
    out = _check(_PARKED + """
def body():
    gc.set_threshold(900, 5, 5)
    gc.collect(0)                   # the pacer's callback sees the change
    return gc.get_threshold()
print(park(5000, body), gc.get_threshold())
""")
    assert out.split() == ["(900,", "5,", "5)", "(900,", "5,", "5)"], out


def test_old_cyclic_garbage_is_still_collected_during_a_run():
    # A cycle that got old (survived into generation 2) and then became
    # garbage needs a full collection: paced, one still comes, after net
    # allocations proportional to the live goroutines (here 2,000 of them).
    out = _check(_PARKED + """
import weakref
class Node:
    pass
def body():
    a, b = Node(), Node()
    a.b, b.a = b, a
    ref = weakref.ref(a)
    gc.collect(1); gc.collect(1)    # both now in the oldest generation
    del a, b
    keep = []
    for i in range(3_000_000):
        keep.append([])             # net tracked allocations: the GC's clock
        if ref() is None:
            return i
    return None
print(park(2000, body))
""")
    n = out.split()[0]
    assert n != "None", out


def test_a_goroutine_that_slept_is_freed_without_the_cyclic_gc():
    # Its reusable sleep timer points back at the G (G -> sleep_timer ->
    # its arg -> G): goexit drops the timer, so a finished
    # sleeper is freed by refcounting, not left for a full collection.
    def main():
        g = gpm.go(gpm.sleep, 0.001)
        g.join()
        return weakref.ref(g)

    enabled = gc.isenabled()
    gc.disable()
    try:
        ref = gpm.run(main, procs=1)
        assert ref() is None
    finally:
        if enabled:
            gc.enable()


def test_gcpaceoff_keeps_cpythons_thresholds():
    r = run_prog(_PARKED + "print(park(5000, gc.get_threshold))", debug="gcpaceoff=1", timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["(700,", "10,", "10)"], r.stdout


@pytest.mark.parametrize("how,budget", [("recv", 4.5), ("sleep", 5.5)])
def test_tracked_objects_per_parked_goroutine(how, budget):
    # Every tracked object of a parked goroutine is walked by each collection
    # that reaches it.  Measured per goroutine parked on a channel: 8.96
    # before (G, greenlet, Context, Sudog, 3 tuples, 2 bound methods: the
    # worker's run and gmain's goexit local, trynext's (G, bool, float) kept on
    # the parked stack), 5.98 after; sleeping: 10.2 before (a wrapper around
    # the RTimer too), 6.98 after.  Then 4.00 and 5.00: run_on handed a
    # goroutine's first run to g0 as a switch argument (gp, inherit, now),
    # which (with greenlet's args tuple) stayed referenced from the parked
    # stack of the goroutine that handed it over; it goes in P fields now.
    out = _check("""
import gc, gpm, gpm.sync
N, how = 5000, %r
def main():
    parked = gpm.sync.WaitGroup()
    parked.add(N)
    c = gpm.Chan()
    def waiter():
        parked.done()
        if how == "sleep":
            gpm.sleep(30)
        else:
            c.recv()
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(N):
        gpm.go(waiter)
    parked.wait()
    gpm.sleep(0.01)                 # the last one has parked too
    gc.collect()
    print((len(gc.get_objects()) - before) / N)
    if how == "sleep":
        import os
        os._exit(0)                 # do not wait 30 s
    c.close()
gpm.run(main, procs=1)
""" % how)
    assert float(out.split()[0]) <= budget, out


def test_a_pacer_left_by_a_cut_short_exit_is_replaced():
    # If an interrupt skipped gcpace.exit, the next run removes the stale
    # pacer (it would hold the old Sched and keep the raised threshold).
    out = _check(_PARKED + """
from gpm._runtime import gcpace
real = gcpace.exit
gcpace.exit = lambda sched: None    # the first run's exit is skipped
park(5000, lambda: None)
stale = gcpace._pacer
gcpace.exit = real
park(10, lambda: None)
print(stale is not None, gcpace._pacer is None, stale.callback in gc.callbacks, gc.get_threshold())
""")
    assert out.split() == ["True", "True", "False", "(700,", "10,", "10)"], out


def test_young_collections_keep_coming_while_old_objects_die():
    # Objects freed count CPython's allocation counter down, old ones too: while
    # goroutines start as fast as old ones finish, the count stays near zero and
    # generation 0 grows unseen (200,000 sleepers: young collections of 10,000-
    # 18,000 objects, 15-26 ms each).  With 6,000 goroutines live, sysmon's
    # young_tick collects generations 0-1 every YOUNG_PERIOD.  Measured here:
    # no collection at all during the churn before; one per sysmon round after.
    out = _check(_PARKED + """
def body():
    old = [[] for _ in range(400_000)]
    gc.collect()                    # all old now
    seen = []
    def cb(phase, info):
        if phase == "start":
            seen.append(info["generation"])
    gc.callbacks.append(cb)
    young = []
    # Churn until two collections were seen (a count bound, not a time one, so
    # a loaded machine only makes it slower), or give up after 30 s: before
    # the fix not one came.
    deadline = time.monotonic() + 30.0
    try:
        while len(seen) < 2 and time.monotonic() < deadline:
            for _ in range(10_000):
                if not old:
                    old, young = young, old
                old.pop()           # one freed object counts down...
                young.append([])    # ...what one new one counted up
    finally:
        gc.callbacks.remove(cb)
    return len(seen), seen.count(2)
print(*park(6000, body))
""")
    n, full = map(int, out.split()[:2])
    assert n >= 2, out
    assert full == 0, out


def test_finished_goroutines_that_waited_on_a_channel_need_no_collection():
    # A goroutine caches one Sudog for its channel waits (G.sudog, whose .g is
    # the G): a cycle, so every finished goroutine that ever parked on a channel
    # stayed alive until a collection reached it (a full one, with pacing, once
    # it had aged).  goexit drops the cache.  Measured with the collector off:
    # a collection then freed 30-98 of 2,000 such goroutines before, none after.
    # (A free worker may still hold the last G it handed over: not garbage.)
    out = _check("""
import gc, gpm, gpm.sync
from tests.support import G
N = 2000
def main():
    c = gpm.Chan()
    wg = gpm.sync.WaitGroup()
    wg.add(N)
    def waiter():
        c.recv()                    # parks: its G caches a Sudog
        wg.done()
    gc.disable()
    for _ in range(N):
        gpm.go(waiter)
    for _ in range(N):
        c.send(1)
    wg.wait()
    gpm.sleep(0.01)                 # the last waiter has exited too
    before = sum(type(o) is G for o in gc.get_objects())
    gc.collect()
    print(before - sum(type(o) is G for o in gc.get_objects()))    # Gs that were cyclic garbage
gpm.run(main, procs=1)
""")
    assert int(out.split()[0]) == 0, out
