"""gpm.monkey.patch_threading: patched locks park goroutines, block plain threads (API.md v2).

Every scenario runs in a subprocess (patching is process-global) with a timeout: a goroutine
that blocks its M instead of parking shows up as a hang, which fails the test.
"""

from .patched import run_patched

PRELUDE = """
import gpm, threading, time
"""


def run_script(code, timeout=30):
    return run_patched(code, patch="gpm.monkey.patch_threading()", timeout=timeout)


def test_issue_deadlock_scenario_two_goroutines_one_p():
    # Issue 9: a goroutine parks (gpm.sleep) holding a threading.Lock; a second goroutine on the
    # same P takes the lock.  Unpatched, the second blocks the only M and the holder never wakes.
    out = run_script(PRELUDE + """
def main():
    lk = threading.Lock()
    log = gpm.Chan(10)
    held = gpm.Chan()
    def holder():
        with lk:
            held.send(None)
            log.send("holder parks")
            gpm.sleep(0.05)
            log.send("holder releases")
    def taker():
        with lk:
            log.send("taker has it")
    h = gpm.go(holder)
    held.recv()
    t = gpm.go(taker)
    h.join(); t.join()
    print([log.recv() for _ in range(3)])
gpm.run(main, procs=1)
""", timeout=30)
    assert out.strip() == "['holder parks', 'holder releases', 'taker has it']"


def test_issue_deadlock_scenario_plain_thread_taker():
    out = run_script(PRELUDE + """
def main():
    lk = threading.Lock()
    held = gpm.Chan()
    order = []
    def holder():
        with lk:
            held.send(None)
            gpm.sleep(0.05)
            order.append("holder")
    h = gpm.go(holder)
    held.recv()
    def thread_body():
        with lk:
            order.append("thread")
    th = threading.Thread(target=thread_body)
    th.start()
    h.join()
    th.join()
    print(order)
gpm.run(main, procs=1)
""", timeout=30)
    assert out.strip() == "['holder', 'thread']"


def test_goroutine_waits_on_lock_held_by_a_plain_thread_is_no_deadlock():
    # The plain thread took the lock on the C fast path (it never registers with the runtime);
    # checkdead must still count it as a possible waker instead of raising gpm.Deadlock.
    out = run_script(PRELUDE + """
lk = threading.Lock()
lk.acquire()
go_on = threading.Event()
def releaser():
    go_on.wait()
    time.sleep(0.3)          # every P is idle meanwhile; checkdead runs
    lk.release()
th = threading.Thread(target=releaser)
th.start()
def main():
    go_on.set()
    with lk:
        return "got it"
print(gpm.run(main, procs=1))
th.join()
""", timeout=30)
    assert out.strip() == "got it"


def test_rlock_owner_is_the_goroutine_not_the_thread():
    out = run_script(PRELUDE + """
def main():
    r = threading.RLock()
    a_has = gpm.Chan()
    done = gpm.Chan()
    def a():
        r.acquire(); r.acquire()
        a_has.send(None)
        done.recv()
        r.release(); r.release()
    ga = gpm.go(a)
    a_has.recv()
    # Same M (procs=1), other goroutine: not the owner.
    print("try", r.acquire(False))
    try:
        r.release()
    except RuntimeError as e:
        print("release:", e)
    print("owned", r._is_owned())
    done.send(None)
    ga.join()
    print("after", r.acquire(timeout=1), r._is_owned())
    r.release()
    try:
        r.release()
    except RuntimeError as e:
        print("release:", e)
gpm.run(main, procs=1)
""", timeout=30)
    assert out.splitlines() == [
        "try False", "release: cannot release un-acquired lock", "owned False",
        "after True True", "release: cannot release un-acquired lock"]


def test_lock_errors_and_timeouts_as_the_original():
    out = run_script(PRELUDE + """
import _thread
def check(label, f):
    try:
        print(label, f())
    except Exception as e:
        print(label, type(e).__name__, e)
def scenario():
    lk = threading.Lock()
    check("nonblock-timeout", lambda: lk.acquire(False, 1))
    check("negative", lambda: lk.acquire(timeout=-5))
    check("huge", lambda: lk.acquire(timeout=1e100))
    check("release-unlocked", lambda: lk.release())
    check("locked", lambda: lk.locked())
    lk.acquire()
    check("locked", lambda: lk.locked())
    check("try", lambda: lk.acquire(False))
    check("timeout0", lambda: lk.acquire(True, 0))
    print("repr", repr(lk).startswith("<locked "))
def main():
    scenario()
    lk = threading.Lock()
    lk.acquire()
    ran = []
    other = gpm.go(lambda: ran.append("other goroutine ran"))
    t0 = time.monotonic()
    got = lk.acquire(timeout=0.05)
    print("timed", got, time.monotonic() - t0 >= 0.05, ran)
    other.join()
print("-- thread")
scenario()
print("-- goroutine")
gpm.run(main, procs=1)
""", timeout=30)
    thread_part, goroutine_part = out.split("-- goroutine\n")
    thread_lines = thread_part.splitlines()[1:]
    g_lines = goroutine_part.splitlines()
    assert g_lines[:len(thread_lines)] == thread_lines       # same results and messages
    assert "nonblock-timeout ValueError can't specify a timeout for a non-blocking call" in thread_lines
    assert "release-unlocked RuntimeError release unlocked lock" in thread_lines
    assert "huge OverflowError" in " ".join(thread_lines)
    assert g_lines[-1] == "timed False True ['other goroutine ran']"


def test_condition_with_user_lock_notified_from_plain_thread():
    out = run_script(PRELUDE + """
def main():
    lk = threading.Lock()
    cond = threading.Condition(lk)
    ready = []
    try:
        cond.notify()
    except RuntimeError as e:
        print("notify:", e)
    with cond:
        print("wait-timeout", cond.wait(0.01))
    def waiter(i):
        with cond:
            while not ready:
                cond.wait()
            return i
    gs = [gpm.go(waiter, i) for i in range(5)]
    blocked = gpm.Chan()
    spinner = gpm.go(lambda: [gpm.sleep(0.001) for _ in range(20)])   # the P keeps running
    def notifier():
        with cond:
            ready.append(1)
            cond.notify_all()
    th = threading.Thread(target=notifier)
    spinner.join()
    th.start()
    print(sorted(g.join() for g in gs))
    th.join()
gpm.run(main, procs=1)
""", timeout=30)
    assert out.splitlines() == ["notify: cannot notify on un-acquired lock", "wait-timeout False",
                                "[0, 1, 2, 3, 4]"]


def test_semaphores_event_barrier_in_goroutines():
    out = run_script(PRELUDE + """
def main():
    bs = threading.BoundedSemaphore(2)
    bs.acquire(); bs.acquire()
    print("sem try", bs.acquire(False), bs.acquire(timeout=0.01))
    holder_done = []
    def later():
        gpm.sleep(0.01)
        holder_done.append(1)
        bs.release()
    gpm.go(later)
    print("sem wait", bs.acquire(), holder_done)
    bs.release(); bs.release()
    try:
        bs.release()
    except ValueError as e:
        print("bounded:", e)
    ev = threading.Event()
    print("event timeout", ev.wait(0.01))
    gpm.go(lambda: (gpm.sleep(0.01), ev.set()))
    print("event", ev.wait(5))
    b = threading.Barrier(3)
    res = gpm.Chan(3)
    for _ in range(3):
        gpm.go(lambda: res.send(b.wait()))
    print("barrier", sorted(res.recv() for _ in range(3)))
    b2 = threading.Barrier(2)
    out = gpm.Chan(1)
    def broken_waiter():
        try:
            b2.wait()
        except threading.BrokenBarrierError:
            out.send("broken")
    gpm.go(broken_waiter)
    gpm.sleep(0.01)
    b2.abort()
    print("abort", out.recv(), b2.broken)
    b3 = threading.Barrier(2, timeout=0.01)
    try:
        b3.wait()
    except threading.BrokenBarrierError:
        print("barrier timeout broken", b3.broken)
gpm.run(main, procs=1)
""", timeout=30)
    assert out.splitlines() == [
        "sem try False False", "sem wait True [1]", "bounded: Semaphore released too many times",
        "event timeout False", "event True", "barrier [0, 1, 2]", "abort broken True",
        "barrier timeout broken True"]


def test_thread_join_and_start_inside_a_goroutine_park():
    # procs=1: the joined thread waits for a goroutine on the same P; a join (or start) that
    # blocked the M would never let that goroutine run.
    out = run_script(PRELUDE + """
def main():
    ch = gpm.Chan()
    th = threading.Thread(target=ch.recv)
    th.start()
    gpm.go(ch.send, "x")
    th.join()
    print("joined", th.is_alive())
    t2 = threading.Thread(target=lambda: None)
    try:
        t2.join()
    except RuntimeError as e:
        print("join:", e)
    stay = threading.Event()
    t3 = threading.Thread(target=stay.wait)
    t3.start()
    t3.join(0.02)
    print("timeout join", t3.is_alive())
    stay.set(); t3.join()
gpm.run(main, procs=1)
""", timeout=30)
    assert out.splitlines() == ["joined False", "join: cannot join thread before it is started",
                                "timeout join True"]


def test_syscall_pool_starts_threads_without_holding_its_lock():
    # With threading patched, Thread.start waits on a patched Event and so parks the goroutine.
    # The syscall pool used to start threads holding pool.lock: a second gpm.syscall on the same
    # P then blocked the M on that lock and the run hung.
    out = run_script(PRELUDE + """
def main():
    gs = [gpm.go(gpm.syscall, time.sleep, 0.01) for _ in range(4)]
    for g in gs:
        g.join()
    print("ok")
gpm.run(main, procs=1)
""", timeout=30)
    assert out.strip() == "ok"


def test_plain_threads_without_runtime_behave_as_the_original():
    out = run_script(PRELUDE + """
import _thread, sys
assert threading.Lock is gpm.monkey._threading.Lock if hasattr(gpm.monkey, "_threading") else True
lk = threading.Lock()
r = threading.RLock()
counter = [0]
def work():
    for _ in range(2000):
        with lk:
            counter[0] += 1
        with r:
            with r:
                pass
ts = [threading.Thread(target=work) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(counter[0], gpm.monkey.is_patched("threading"),
      gpm.monkey.get_original("threading", "Lock") is
      (_thread.lock if sys.version_info >= (3, 13) else _thread.allocate_lock))   # 3.13: the type
q = threading.Condition()
with q:
    print(q.wait(0.01))
""", timeout=30)
    assert out.splitlines() == ["8000 True True", "False"]


def test_threading_local_is_per_goroutine():
    # Issue 9: five "request handlers" on one M all read the last value of a threading.local.
    out = run_script(PRELUDE + """
data = threading.local()
def main():
    step = gpm.Chan()
    def handler(i):
        data.name = f"req{i}"
        step.recv()
        return data.name
    gs = [gpm.go(handler, i) for i in range(5)]
    for _ in gs:
        step.send(None)
    print([g.join() for g in gs], threading.local is gpm.local)
gpm.run(main, procs=1)
data.name = "main thread"
th = threading.Thread(target=lambda: print("thread sees", getattr(data, "name", None)))
th.start(); th.join()
print(data.name)
""")
    assert out.splitlines() == ["['req0', 'req1', 'req2', 'req3', 'req4'] True",
                                "thread sees None", "main thread"]


def test_lock_released_by_a_raw_thread_is_no_deadlock():
    # A thread from _thread.start_new_thread is not in threading.enumerate(); checkdead must
    # still see it (test_socket's ThreadableTest starts its client threads this way).
    out = run_script(PRELUDE + """
import _thread
def main():
    ev = threading.Event()
    def body():
        time.sleep(0.3)          # every P is idle meanwhile; checkdead runs
        ev.set()
    _thread.start_new_thread(body, ())
    return ev.wait()
print(gpm.run(main, procs=1))
""")
    assert out.strip() == "True"


def test_deadlock_of_patched_locks_alone_raises_deadlock():
    # No plain thread is left that could release anything: a lock-order inversion of two
    # goroutines, a goroutine re-taking a Lock it holds, and a Condition.wait nobody notifies
    # (it parks on a patched waiter Lock) are each reported as gpm.Deadlock instead of hanging.
    out = run_script(PRELUDE + """
def inversion():
    a, b = threading.Lock(), threading.Lock()
    ch1, ch2 = gpm.Chan(1), gpm.Chan(1)     # each holds its first lock before taking the other
    def one():
        with a:
            ch1.send(1); ch2.recv()
            with b:
                pass
    def two():
        with b:
            ch2.send(1); ch1.recv()
            with a:
                pass
    g1, g2 = gpm.go(one), gpm.go(two)
    g1.join(); g2.join()
def twice():
    lk = threading.Lock()
    lk.acquire()
    lk.acquire()
def cond():
    c = threading.Condition()
    with c:
        c.wait()
for name, fn in (("inversion", inversion), ("twice", twice), ("cond", cond)):
    for procs in (1, 2):
        try:
            gpm.run(fn, procs=procs)
            print(name, procs, "returned")
        except gpm.Deadlock:
            print(name, procs, "Deadlock")
""", timeout=40)
    assert out.splitlines() == [f"{n} {p} Deadlock" for n in ("inversion", "twice", "cond") for p in (1, 2)]


def test_lock_inversion_beside_a_live_plain_thread_is_named_by_a_warning():
    # A live plain thread (that never touched gpm) could release a patched Lock, so a lock-order
    # inversion of two goroutines is no provable gpm.Deadlock while it lives.  Instead of a silent
    # hang, sysmon's stuck warning names both goroutines, the lock each waits on (the RLock with
    # its owner) and the thread that keeps the run alive, within the blockwarn interval.  The
    # warning itself lets the bystander finish; then the run raises gpm.Deadlock.
    out = run_script(PRELUDE + """
import logging, sys
from gpm.monkey import get_original
release = get_original("threading", "Event")()
seen = []
class Seen(logging.Handler):
    def emit(self, rec):
        seen.append(rec.getMessage())
        release.set()
logging.getLogger("gpm").addHandler(Seen())
def main():
    a, b = threading.Lock(), threading.RLock()
    ch1, ch2 = gpm.Chan(1), gpm.Chan(1)
    def one():
        with a:
            ch1.send(1); ch2.recv()
            with b:
                pass
    def two():
        with b:
            ch2.send(1); ch1.recv()
            with a:
                pass
    g1, g2 = gpm.go(one), gpm.go(two)
    g1.join(); g2.join()
for procs in (1, 2):
    seen.clear()
    release.clear()
    bystander = threading.Thread(target=release.wait, name="bystander")
    bystander.start()
    try:
        gpm.run(main, procs=procs)
        print(procs, "returned")
    except gpm.Deadlock:
        print(procs, "Deadlock")
    bystander.join()
    msg = seen[0]
    print(procs, len(seen), "'bystander'" in msg.splitlines()[0])
    ids = [ln.split()[1] for ln in msg.splitlines() if ln.startswith("goroutine ")]
    waits = [ln.split(" object")[0].strip() for ln in msg.splitlines() if ln.startswith("  waits on ")]
    print(procs, ids, waits, "owner=goroutine-3" in msg)
""", timeout=40)
    lock, rlock = "waits on <locked gpm.monkey._threading.Lock", "waits on <locked gpm.monkey._threading.RLock"
    assert out.splitlines() == [
        "1 Deadlock", "1 1 True", f"1 ['2', '3'] ['{rlock}', '{lock}'] True",
        "2 Deadlock", "2 1 True", f"2 ['2', '3'] ['{rlock}', '{lock}'] True"]


def test_rlock_shared_by_plain_threads_and_goroutines():
    # The patched RLock is the original C RLock for plain threads plus a goroutine layer: a
    # goroutine waits (parked) for a plain thread to free it, with and without a timeout; a
    # plain thread blocks while a goroutine owns it; recursion on both sides; Condition on it.
    out = run_script(PRELUDE + """
from gpm.monkey import get_original
OrigEvent = get_original("threading", "Event")
def main():
    r = threading.RLock()
    held, go_on = OrigEvent(), OrigEvent()
    def holder():
        with r:
            with r:
                held.set()
                go_on.wait()
    t = threading.Thread(target=holder)
    t.start()
    held.wait()
    print("repr", "owner=%d count=2" % t.ident in repr(r), r.locked())
    print("timeout", r.acquire(timeout=0.05), r.acquire(False))
    got = gpm.Chan(1)
    def taker():
        with r:
            got.send(repr(r).split(" object ")[1].split(" at")[0])
    g = gpm.go(taker)
    while not r._waiters:        # the taker parked, waiting for the thread to free the C RLock
        gpm.sleep(0.001)
    go_on.set()
    print("taker", got.recv())
    g.join()
    t.join()
    # Counting: 2 plain threads and 6 goroutines, recursive holds that park while held.
    n = [0]
    def work(k, park):
        for _ in range(k):
            with r:
                with r:
                    v = n[0]
                    if park:
                        gpm.gosched()
                    n[0] = v + 1
    ths = [threading.Thread(target=work, args=(300, False)) for _ in range(2)]
    for th in ths:
        th.start()
    gs = [gpm.go(work, 300, True) for _ in range(6)]
    for g in gs:
        g.join()
    for th in ths:
        th.join()
    print("count", n[0], r.locked())
    # Condition over the RLock: a goroutine waits, a plain thread notifies (and back).
    c = threading.Condition(r)
    state = []
    def notifier():
        with c:
            state.append("t")
            c.notify()
            from tests.support import wait_until
            wait_until(lambda: r._waiters, limit=20.0,     # the notified goroutine parked,
                       what="the goroutine waiting for the RLock")   # waiting for this thread's hold
            c.wait_for(lambda: "g" in state)   # its wait frees the RLock: must wake that goroutine
    with c:
        th = threading.Thread(target=notifier)
        th.start()
        print("wait", c.wait_for(lambda: "t" in state), r._is_owned())
        state.append("g")
        c.notify()
    th.join()
    print("end", r.locked(), r._is_owned())
for procs in (1, 2):
    gpm.run(main, procs=procs)
""", timeout=60)
    assert out.splitlines() == [
        "repr True True", "timeout False False", "taker owner=goroutine-2 count=1",
        "count 2400 False", "wait True True", "end False False"] * 2


def test_rlock_inversion_beside_live_plain_threads_raises_deadlock():
    # Only its owner may release an RLock, so goroutines parked in a cycle of RLock owners (and
    # a goroutine joining one of them), or on an RLock whose owner exited holding it, are stuck
    # whatever any plain thread does: gpm.Deadlock,
    # with a bystander from before the run and one started inside it both alive.  The control:
    # an RLock owner parked on a channel a plain thread may still send on is no deadlock (the
    # stuck warning lets that thread send; the run then returns).
    out = run_script(PRELUDE + """
import logging
from gpm.monkey import get_original
OrigEvent = get_original("threading", "Event")
release = OrigEvent()
class Seen(logging.Handler):
    def emit(self, rec):
        release.set()
logging.getLogger("gpm").addHandler(Seen())
before = threading.Thread(target=OrigEvent().wait, daemon=True, name="before")
before.start()
def inversion():
    inside = threading.Thread(target=OrigEvent().wait, daemon=True, name="inside")
    inside.start()
    a, b = threading.RLock(), threading.RLock()
    ch1, ch2 = gpm.Chan(1), gpm.Chan(1)
    def one():
        with a:
            ch1.send(1); ch2.recv()
            with b:
                pass
    def two():
        with b:
            ch2.send(1); ch1.recv()
            with a:
                pass
    g1, g2 = gpm.go(one), gpm.go(two)
    g1.join(); g2.join()
def control():
    r = threading.RLock()
    ch = gpm.Chan()
    def sender():
        release.wait()
        ch.send("go")
    t = threading.Thread(target=sender)
    t.start()
    took = gpm.Chan(1)
    def owner():
        with r:
            took.send(1)
            return ch.recv()
    g = gpm.go(owner)
    took.recv()
    with r:
        pass
    t.join()
    return g.join()
def exited():
    r = threading.RLock()
    gpm.go(r.acquire).join()       # its owner exits holding it
    r.acquire()
for procs in (1, 2):
    for fn in (inversion, exited):
        try:
            gpm.run(fn, procs=procs)
            print(procs, "returned")
        except gpm.Deadlock:
            print(procs, "Deadlock")
    release.clear()
    print(procs, gpm.run(control, procs=procs))
""", timeout=60)
    assert out.splitlines() == ["1 Deadlock", "1 Deadlock", "1 go", "2 Deadlock", "2 Deadlock", "2 go"]
