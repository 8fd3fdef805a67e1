"""gpm.monkey.patch_queue: Queue, LifoQueue, PriorityQueue, SimpleQueue park goroutines (API.md v2).

Scenarios run in subprocesses with timeouts: a goroutine that blocked its M would hang them.
"""

from .patched import run_patched

PRELUDE = """
import gpm, queue, threading, time
"""


def run_script(code, timeout=30, patch="gpm.monkey.patch_queue()"):
    return run_patched(PRELUDE + code, patch=patch, timeout=timeout)


def test_bounded_queue_between_goroutines_on_one_p():
    out = run_script("""
def main():
    q = queue.Queue(1)
    def producer():
        for i in range(100):
            q.put(i)
        q.put(None)
    gpm.go(producer)
    got = []
    while (x := q.get()) is not None:
        got.append(x)
        q.task_done()
    q.task_done()
    q.join()
    print(got == list(range(100)))
gpm.run(main, procs=1)
""")
    assert out.strip() == "True"


def test_timeouts_and_errors_as_the_original():
    out = run_script("""
def scenario():
    q = queue.Queue(1)
    for f in (lambda: q.get(timeout=0.01), lambda: q.get(False), q.get_nowait):
        try:
            f()
        except queue.Empty:
            print("Empty")
    q.put(1)
    try:
        q.put(2, timeout=0.01)
    except queue.Full:
        print("Full")
    try:
        q.put(2, timeout=-1)
    except ValueError as e:
        print("ValueError", e)
    try:
        q.task_done(); q.task_done()
    except ValueError as e:
        print("ValueError", e)
    lq = queue.LifoQueue()
    pq = queue.PriorityQueue()
    for i in (3, 1, 2):
        lq.put(i); pq.put(i)
    print([lq.get() for _ in range(3)], [pq.get() for _ in range(3)])
    s = queue.SimpleQueue()
    try:
        s.get(timeout=0.01)
    except queue.Empty:
        print("Empty")
    try:
        s.get(timeout=-1)
    except ValueError as e:
        print("ValueError", e)
    s.put(5); print(s.qsize(), s.get_nowait(), s.empty())
print("-- thread")
scenario()
print("-- goroutine")
gpm.run(scenario, procs=1)
""")
    thread_part, g_part = out.split("-- goroutine\n")
    assert thread_part.splitlines()[1:] == g_part.splitlines()
    assert g_part.splitlines() == [
        "Empty", "Empty", "Empty", "Full", "ValueError 'timeout' must be a non-negative number",
        "ValueError task_done() called too many times", "[2, 1, 3] [1, 2, 3]", "Empty",
        "ValueError 'timeout' must be a non-negative number", "1 5 True"]


def test_simple_queue_parks_a_goroutine_fed_by_another():
    out = run_script("""
def main():
    s = queue.SimpleQueue()
    ran = []
    def feeder():
        ran.append("feeder")
        gpm.sleep(0.01)
        s.put("item")
    gpm.go(feeder)
    print(s.get(timeout=5), ran)
gpm.run(main, procs=1)
""")
    assert out.strip() == "item ['feeder']"


def test_mixed_4_threads_feed_100_goroutines_100k_items_exact():
    # One patched queue.Queue shared by plain producer threads and consumer goroutines.
    out = run_script("""
N, PRODUCERS, CONSUMERS = 100_000, 4, 100
q = queue.Queue(maxsize=1000)
def produce(k):
    for i in range(k, N, PRODUCERS):
        q.put(i)
def main():
    def consume():
        seen = []
        while (x := q.get()) is not None:
            seen.append(x)
        return seen
    gs = [gpm.go(consume) for _ in range(CONSUMERS)]
    ts = [threading.Thread(target=produce, args=(k,)) for k in range(PRODUCERS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for _ in range(CONSUMERS):
        q.put(None)
    seen = [x for g in gs for x in g.join()]
    # Which consumers get items is scheduling policy, not API: on an idle machine one goroutine
    # can drain every item without ever finding the queue empty.  Exactness is the contract.
    print(len(seen), len(set(seen)), sum(seen) == N * (N - 1) // 2)
gpm.run(main, procs=2)
""", timeout=150, patch="gpm.monkey.patch_queue(); gpm.monkey.patch_threading()")
    assert out.strip() == "100000 100000 True"


def test_fast_path_keeps_subclass_hooks_and_wakes_waiters():
    # Queue.put/get inline the original's no-wait path for classes that keep Queue's container
    # hooks.  A subclass's own _put/_get/_qsize must still be called (and LifoQueue/PriorityQueue
    # keep their order); a fast get must wake a putter parked on a full queue and a fast put a
    # parked getter; the mutex/queue idiom (with q.mutex: q.queue.clear()) keeps working.
    out = run_script("""
class Twice(queue.Queue):
    def _put(self, item):
        self.queue.append(item * 2)
class Rev(queue.Queue):
    def _get(self):
        return self.queue.pop()
class NegLifo(queue.LifoQueue):
    def _put(self, item):
        self.queue.append(-item)
def main():
    t = Twice(); t.put(1); t.put(2)
    r = Rev(); r.put(1); r.put(2)
    lifo = queue.LifoQueue(); lifo.put(1); lifo.put(2)
    pq = queue.PriorityQueue(); pq.put(2); pq.put(1)
    print("hooks", [t.get(), t.get()], [r.get(), r.get()], [lifo.get(), lifo.get()],
          [pq.get(), pq.get()], t.unfinished_tasks, queue.Queue._gpm_fast, Twice._gpm_fast)
    nl = NegLifo(); nl.put(1); nl.put(2)
    print("lifo", [nl.get(), nl.get()], queue.LifoQueue._gpm_fast, queue.PriorityQueue._gpm_fast,
          NegLifo._gpm_fast)
    full = queue.Queue(1)
    full.put("a")
    done = gpm.Chan(1)
    g = gpm.go(lambda: (full.put("b"), done.send("put")))
    for _ in range(1000):            # until the putter parks (queue full); any schedule order
        if full.not_full._waiters:
            break
        gpm.gosched()
    parked = len(full.not_full._waiters)
    first = full.get()               # fast get: notifies not_full
    print("putter", parked, first, done.recv(), full.get())
    empty = queue.Queue()
    g = gpm.go(empty.get)
    for _ in range(1000):            # until the getter parks (queue empty)
        if empty.not_empty._waiters:
            break
        gpm.gosched()
    parked = len(empty.not_empty._waiters)
    empty.put("x")                   # fast put: notifies not_empty
    print("getter", parked, g.join())
    c = queue.Queue(); c.put(1); c.put(2)
    with c.mutex:
        c.queue.clear()
    print("clear", c.empty(), c.get_nowait() if not c.empty() else "empty")
gpm.run(main, procs=1)
""")
    assert out.splitlines() == ["hooks [2, 4] [2, 1] [2, 1] [1, 2] 2 True False",
                                "lifo [-2, -1] True True False",
                                "putter 1 a put b", "getter 1 x", "clear True empty"]
