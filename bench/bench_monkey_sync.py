"""gpm.monkey threading/queue: the cost of patching on plain threads, and goroutine throughput.

Comparisons (every variant in a fresh process, interleaved rounds, medians):

1. Plain-thread cost of patching (code that never runs in a goroutine, no runtime): a
   ``threading.Lock`` acquire()/release() pair, the same with ``with``, an ``RLock`` pair, and a
   ``queue.Queue`` put+get, each unpatched ("original") vs after ``gpm.monkey.patch_all()``
   ("gpm-patched"), in CPU time of the thread (thread_time: wall time on the shared machine
   varies several-fold between runs).  Target (issue 9): at most 1.5x the original.
2. Goroutine side: items through a patched ``queue.Queue(100)`` from one producer to one
   consumer, and a ``threading.Lock`` taken by 4 tasks that yield while holding it; gpm
   (procs 1 and 2) vs gevent after ``gevent.monkey.patch_all()``.
"""

from __future__ import annotations

import time

import _harness as h

TIME_BUDGET = 20.0


def _plain(patched: bool, what: str):
    def run(n: int) -> dict:
        if patched:
            h.require_gpm("monkey")
            import gpm.monkey
            gpm.monkey.patch_all()
        import queue
        import threading
        dl = h.Deadline(TIME_BUDGET)
        if what in ("lock", "rlock"):
            lk = threading.Lock() if what == "lock" else threading.RLock()
            acquire, release = lk.acquire, lk.release
            i = 0
            t0 = time.thread_time()
            while i < n and not dl.expired(i):
                acquire()
                release()
                i += 1
        elif what == "with":
            lk = threading.Lock()
            i = 0
            t0 = time.thread_time()
            while i < n and not dl.expired(i):
                with lk:
                    pass
                i += 1
        else:
            q = queue.Queue()
            put, get = q.put, q.get
            i = 0
            t0 = time.thread_time()
            while i < n and not dl.expired(i):
                put(i)
                get()
                i += 1
        dt = time.thread_time() - t0
        return {"ns_per_op": dt / i * 1e9, "ops": i, "note": type(threading.Lock()).__module__}
    return run


def _gpm_side(procs: int, what: str):
    def run(n: int) -> dict:
        h.require_gpm("monkey", "run", "go", "gosched")
        import gpm.monkey
        gpm.monkey.patch_all()
        import gpm
        import queue
        import threading
        return _side(what, n, gpm.run, lambda main: gpm.run(main, procs=procs), gpm.go,
                     lambda g: g.join(), gpm.gosched, queue, threading)
    return run


def _gevent_side(what: str):
    def run(n: int) -> dict:
        from gevent import monkey
        monkey.patch_all()
        import gevent
        import queue
        import threading
        return _side(what, n, None, lambda main: main(), gevent.spawn, lambda g: g.get(),
                     lambda: gevent.sleep(0), queue, threading)
    return run


def _side(what, n, _unused, run, spawn, join, yield_, queue, threading):
    dl = h.Deadline(TIME_BUDGET)
    if what == "queue":
        def main():
            q = queue.Queue(100)

            def producer():
                i = 0
                while i < n and not dl.expired(i):
                    q.put(i)
                    i += 1
                q.put(None)
                return i

            def consumer():
                c = 0
                while q.get() is not None:
                    c += 1
                return c
            t0 = time.perf_counter()
            p = spawn(producer)
            c = spawn(consumer)
            sent, got = join(p), join(c)
            assert sent == got, (sent, got)
            return time.perf_counter() - t0, got
    else:
        tasks = 4

        def main():
            lk = threading.Lock()
            per = n // tasks

            def worker():
                i = 0
                while i < per and not dl.expired(i):
                    with lk:
                        yield_()          # the others find it held and must wait
                    i += 1
                return i
            t0 = time.perf_counter()
            gs = [spawn(worker) for _ in range(tasks)]
            total = sum(join(g) for g in gs)
            return time.perf_counter() - t0, total
    dt, ops = run(main)
    return {"us_per_op": dt / ops * 1e6, "ops": ops}


VARIANTS = {}
for _what in ("lock", "with", "rlock", "queue"):
    VARIANTS[f"{_what}/original"] = _plain(False, _what)
    VARIANTS[f"{_what}/gpm-patched"] = _plain(True, _what)
for _what in ("queue", "lock"):
    VARIANTS[f"g{_what}/gpm-p1"] = _gpm_side(1, _what)
    VARIANTS[f"g{_what}/gpm-p2"] = _gpm_side(2, _what)
    VARIANTS[f"g{_what}/gevent"] = _gevent_side(_what)


def comparisons(n: int) -> list[h.Comparison]:
    titles = {"lock": "plain thread, no runtime: Lock acquire()+release()",
              "with": "plain thread, no runtime: with Lock",
              "rlock": "plain thread, no runtime: RLock acquire()+release()",
              "queue": "plain thread, no runtime: queue.Queue put+get"}
    out = []
    for what, title in titles.items():
        out.append(h.Comparison(
            title=title, script="bench_monkey_sync.py",
            variants=[f"{what}/original", f"{what}/gpm-patched"],
            n=n if what != "queue" else n // 10,
            columns=[h.Column("ns_per_op", "CPU ns/op", "{:.0f}")],
            reference=f"{what}/original",
            published={f"{what}/gpm-patched": "target <= 1.5x"}))
    out.append(h.Comparison(
        title="goroutines: queue.Queue(100), 1 producer -> 1 consumer (patched)",
        script="bench_monkey_sync.py",
        variants=["gqueue/gpm-p1", "gqueue/gpm-p2", "gqueue/gevent"], n=n // 20,
        columns=[h.Column("us_per_op", "us/item", "{:.2f}")], reference="gqueue/gevent"))
    out.append(h.Comparison(
        title="goroutines: threading.Lock, 4 tasks yield while holding it (patched)",
        script="bench_monkey_sync.py",
        variants=["glock/gpm-p1", "glock/gpm-p2", "glock/gevent"], n=n // 20,
        columns=[h.Column("us_per_op", "us/acquire", "{:.2f}")], reference="glock/gevent"))
    return out


def main(argv=None):
    args = h.driver_args(__doc__.splitlines()[0], default_n=1_000_000, quick_n=200_000, argv=argv)
    h.run_comparisons(comparisons(args.n), args.rounds)


if __name__ == "__main__":
    h.script_main(VARIANTS, main)
