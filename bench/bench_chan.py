"""Channel benchmarks: unbuffered ping-pong, buffered throughput, select.

1. rt/*   unbuffered ping-pong round trip between two tasks:
          gpm Chan(0) (procs=1) vs gevent.queue.Channel vs an asyncio
          Queue(1) pair vs queue.Queue with 2 threads (vs uvloop if it is
          installed).  Metric: us per round trip.
          Issue figures: gevent 13.4 us, uvloop 9.4, asyncio 19.6,
          threads 22.7, Go 0.46.  rt/gpm-p1-select is the same round trip
          with every send and receive a 2-case gpm.select (the data channel
          and a ``done`` channel that is closed at the end), so each side
          parks in select's pass 2 and is woken through the claim.
          rt/gpm-p1-select4: the same round trip with each receive a
          select over 4 channels (the data channel and 3 idle ones).
2. buf/*  buffered throughput, one producer and one consumer, capacity 128:
          gpm Chan(128) vs gevent.queue.Queue(128) vs asyncio.Queue(128)
          (vs queue.Queue(128) with 2 threads).  Metric: us per item.
3. sel/*  gpm only: receiving through gpm.select over 4 buffered channels vs
          a plain recv on one; the ratio column is select/recv.
"""

from __future__ import annotations

import time

import _harness as h

TIME_BUDGET = 20.0  # seconds per load loop, on top of its count bound
CAP = 128           # buffered capacity
NSEL = 4            # channels in the select


def _rt_result(elapsed: float, count: int, n: int, cpu: float | None = None) -> dict:
    r = {"us_per_rt": elapsed / count * 1e6, "round_trips": count, "truncated": count < n}
    if cpu is not None:        # process CPU time: robust to a loaded machine (before/after guards)
        r["cpu_us_per_rt"] = cpu / count * 1e6
    return r


def _buf_result(elapsed: float, count: int, n: int) -> dict:
    return {"us_per_item": elapsed / count * 1e6,
            "kitems_per_s": count / elapsed / 1e3,
            "items": count, "truncated": count < n}


# -- 1. unbuffered ping-pong -------------------------------------------------


def _rt_gpm(procs: int):
    def run(n: int) -> dict:
        gpm = h.require_gpm("run", "go", "Chan")

        def main():
            ping, pong = gpm.Chan(0), gpm.Chan(0)

            def echo():
                for v in ping:          # until ping is closed
                    pong.send(v)

            gpm.go(echo)
            deadline = h.Deadline(TIME_BUDGET)
            send, recv = ping.send, pong.recv
            i = 0
            c0, t0 = time.process_time(), time.perf_counter()
            while i < n and not deadline.expired(i):
                send(i)
                recv()
                i += 1
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            ping.close()
            return elapsed, i, cpu

        elapsed, count, cpu = gpm.run(main, procs=procs)
        return _rt_result(elapsed, count, n, cpu)
    return run


def _rt_gpm_select(procs: int):
    def run(n: int) -> dict:
        gpm = h.require_gpm("run", "go", "Chan", "select")

        def main():
            ping, pong, done = gpm.Chan(0), gpm.Chan(0), gpm.Chan(0)
            select = gpm.select

            def echo():
                while True:
                    k, v = select(ping.recv, done.recv)
                    if k:
                        return
                    select((pong.send, v), done.recv)

            gpm.go(echo)
            deadline = h.Deadline(TIME_BUDGET)
            dr, pr = done.recv, pong.recv
            i = 0
            c0, t0 = time.process_time(), time.perf_counter()
            while i < n and not deadline.expired(i):
                select((ping.send, i), dr)
                select(pr, dr)
                i += 1
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            done.close()
            return elapsed, i, cpu

        elapsed, count, cpu = gpm.run(main, procs=procs)
        return _rt_result(elapsed, count, n, cpu)
    return run


def _rt_gpm_select4(procs: int):
    """The ping-pong round trip with each receive a select over 4 channels (the
    data channel and 3 idle ones; sends plain): what select adds to a round
    trip that parks and wakes, against rt/gpm-p1."""
    def run(n: int) -> dict:
        gpm = h.require_gpm("run", "go", "Chan", "select")

        def main():
            ping, pong = gpm.Chan(0), gpm.Chan(0)
            idle = [gpm.Chan(0) for _ in range(NSEL - 1)]
            select = gpm.select

            def echo():
                cases = [ping.recv] + [c.recv for c in idle]
                send = pong.send
                while True:
                    v = select(*cases)[1]
                    if v is None:       # the stop signal
                        return
                    send(v)

            gpm.go(echo)
            deadline = h.Deadline(TIME_BUDGET)
            cases = [pong.recv] + [c.recv for c in idle]
            send = ping.send
            i = 0
            c0, t0 = time.process_time(), time.perf_counter()
            while i < n and not deadline.expired(i):
                send(i + 1)             # never None
                select(*cases)
                i += 1
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            send(None)
            return elapsed, i, cpu

        elapsed, count, cpu = gpm.run(main, procs=procs)
        return _rt_result(elapsed, count, n, cpu)
    return run


def rt_gevent(n: int) -> dict:
    import gevent
    from gevent.queue import Channel

    ping, pong = Channel(), Channel()

    def echo():
        while True:
            v = ping.get()
            if v is None:
                return
            pong.put(v)

    def main():
        deadline = h.Deadline(TIME_BUDGET)
        put, get = ping.put, pong.get
        i = 0
        t0 = time.perf_counter()
        while i < n and not deadline.expired(i):
            put(i + 1)  # never None: None is the stop signal
            get()
            i += 1
        elapsed = time.perf_counter() - t0
        ping.put(None)
        return elapsed, i

    e = gevent.spawn(echo)
    elapsed, count = gevent.spawn(main).get()
    e.join()
    return _rt_result(elapsed, count, n)


async def _rt_asyncio_main(n: int):
    import asyncio

    ping, pong = asyncio.Queue(1), asyncio.Queue(1)

    async def echo():
        while True:
            v = await ping.get()
            if v is None:
                return
            await pong.put(v)

    task = asyncio.create_task(echo())
    deadline = h.Deadline(TIME_BUDGET)
    put, get = ping.put, pong.get
    i = 0
    t0 = time.perf_counter()
    while i < n and not deadline.expired(i):
        await put(i + 1)
        await get()
        i += 1
    elapsed = time.perf_counter() - t0
    await ping.put(None)
    await task
    return elapsed, i


def rt_asyncio(n: int) -> dict:
    import asyncio

    elapsed, count = asyncio.run(_rt_asyncio_main(n))
    return _rt_result(elapsed, count, n)


def rt_uvloop(n: int) -> dict:
    reason = h.have_module("uvloop")
    if reason:
        raise h.Unavailable(reason)
    import uvloop

    elapsed, count = uvloop.run(_rt_asyncio_main(n))
    return _rt_result(elapsed, count, n)


def rt_threads(n: int) -> dict:
    import queue
    import threading

    ping, pong = queue.Queue(), queue.Queue()

    def echo():
        while True:
            v = ping.get()
            if v is None:
                return
            pong.put(v)

    t = threading.Thread(target=echo, daemon=True)
    t.start()
    deadline = h.Deadline(TIME_BUDGET)
    put, get = ping.put, pong.get
    i = 0
    t0 = time.perf_counter()
    while i < n and not deadline.expired(i):
        put(i + 1)
        get()
        i += 1
    elapsed = time.perf_counter() - t0
    ping.put(None)
    t.join()
    return _rt_result(elapsed, count=i, n=n)


# -- 2. buffered throughput --------------------------------------------------


def _buf_gpm(procs: int):
    def run(n: int) -> dict:
        gpm = h.require_gpm("run", "go", "Chan")

        def main():
            ch = gpm.Chan(CAP)

            def producer(deadline):
                send = ch.send
                i = 0
                while i < n and not deadline.expired(i):
                    send(i)
                    i += 1
                ch.close()

            deadline = h.Deadline(TIME_BUDGET)
            count = 0
            t0 = time.perf_counter()
            gpm.go(producer, deadline)
            for _ in ch:
                count += 1
            return time.perf_counter() - t0, count

        elapsed, count = gpm.run(main, procs=procs)
        return _buf_result(elapsed, count, n)
    return run


def buf_gevent(n: int) -> dict:
    import gevent
    from gevent.queue import Queue

    q = Queue(CAP)

    def producer(deadline):
        put = q.put
        i = 0
        while i < n and not deadline.expired(i):
            put(i)
            i += 1
        put(None)

    def consumer():
        get = q.get
        count = 0
        while get() is not None:
            count += 1
        return count

    deadline = h.Deadline(TIME_BUDGET)
    t0 = time.perf_counter()
    p = gevent.spawn(producer, deadline)
    count = gevent.spawn(consumer).get()
    elapsed = time.perf_counter() - t0
    p.join()
    return _buf_result(elapsed, count, n)


def buf_asyncio(n: int) -> dict:
    import asyncio

    async def main():
        q = asyncio.Queue(CAP)

        async def producer(deadline):
            put = q.put
            i = 0
            while i < n and not deadline.expired(i):
                await put(i)
                i += 1
            await put(None)

        deadline = h.Deadline(TIME_BUDGET)
        t0 = time.perf_counter()
        task = asyncio.create_task(producer(deadline))
        get = q.get
        count = 0
        while await get() is not None:
            count += 1
        elapsed = time.perf_counter() - t0
        await task
        return elapsed, count

    elapsed, count = asyncio.run(main())
    return _buf_result(elapsed, count, n)


def buf_threads(n: int) -> dict:
    import queue
    import threading

    q = queue.Queue(CAP)

    def producer(deadline):
        put = q.put
        i = 0
        while i < n and not deadline.expired(i):
            put(i)
            i += 1
        put(None)

    deadline = h.Deadline(TIME_BUDGET)
    t0 = time.perf_counter()
    t = threading.Thread(target=producer, args=(deadline,), daemon=True)
    t.start()
    get = q.get
    count = 0
    while get() is not None:
        count += 1
    elapsed = time.perf_counter() - t0
    t.join()
    return _buf_result(elapsed, count, n)


# -- 3. select vs recv (gpm only) --------------------------------------------


def _sel_gpm(nchan: int):
    """Consume n items from `nchan` buffered channels.

    With nchan == 1 the consumer uses plain ``recv``; otherwise it uses
    ``gpm.select`` over all the channels, which the producer fills round-robin.
    A ``None`` sent after the last item tells the consumer to stop.
    """
    def run(n: int) -> dict:
        gpm = h.require_gpm("run", "go", "Chan", *(["select"] if nchan > 1 else []))

        def main():
            chans = [gpm.Chan(CAP) for _ in range(nchan)]

            def producer(deadline):
                sends = [c.send for c in chans]
                i = 0
                while i < n and not deadline.expired(i):
                    sends[i % nchan](i)
                    i += 1
                sends[i % nchan](None)

            deadline = h.Deadline(TIME_BUDGET)
            count = 0
            c0, t0 = time.process_time(), time.perf_counter()
            gpm.go(producer, deadline)
            if nchan == 1:
                recv = chans[0].recv
                while recv() is not None:
                    count += 1
            else:
                select = gpm.select
                cases = [c.recv for c in chans]
                while select(*cases)[1] is not None:
                    count += 1
            return time.perf_counter() - t0, count, time.process_time() - c0

        elapsed, count, cpu = gpm.run(main, procs=1)
        # Items left in other channels when the stop signal won the select
        # are simply not counted; the rate uses the count actually received.
        return {"us_per_op": elapsed / count * 1e6, "cpu_us_per_op": cpu / count * 1e6,
                "items": count}
    return run


VARIANTS = {
    "rt/gpm-p1": _rt_gpm(1),
    "rt/gpm-p1-select": _rt_gpm_select(1),
    "rt/gpm-p1-select4": _rt_gpm_select4(1),
    "rt/gevent": rt_gevent,
    "rt/asyncio": rt_asyncio,
    "rt/threads": rt_threads,
    "rt/uvloop": rt_uvloop,
    "buf/gpm-p1": _buf_gpm(1),
    "buf/gpm-p2": _buf_gpm(2),
    "buf/gevent": buf_gevent,
    "buf/asyncio": buf_asyncio,
    "buf/threads": buf_threads,
    "sel/gpm-recv": _sel_gpm(1),
    "sel/gpm-select4": _sel_gpm(NSEL),
}


# -- driver -----------------------------------------------------------------


def _names(prefix: str) -> list[str]:
    return [v for v in VARIANTS if v.startswith(prefix + "/")]


def comparisons(quick: bool, n: int | None = None) -> list[h.Comparison]:
    def size(default: int, small: int) -> int:
        return n if n is not None else (small if quick else default)

    return [
        h.Comparison(
            title="unbuffered ping-pong round trip",
            script="bench_chan.py", variants=_names("rt"),
            n=size(100_000, 20_000),
            columns=[h.Column("us_per_rt", "us/round trip")],
            reference="rt/gevent",
            published={"rt/gevent": "13.4 us", "rt/uvloop": "9.4 us",
                       "rt/asyncio": "19.6 us", "rt/threads": "22.7 us",
                       "rt/gpm-p1": "Go 0.46 us"},
        ),
        h.Comparison(
            title=f"buffered throughput, cap {CAP}, 1 producer 1 consumer",
            script="bench_chan.py", variants=_names("buf"),
            n=size(1_000_000, 200_000),
            columns=[h.Column("us_per_item", "us/item", "{:.3f}"),
                     h.Column("kitems_per_s", "k items/s", "{:.0f}")],
            reference="buf/gevent",
        ),
        h.Comparison(
            title=f"gpm.select over {NSEL} channels vs plain recv (cap {CAP})",
            script="bench_chan.py", variants=_names("sel"),
            n=size(200_000, 50_000),
            columns=[h.Column("us_per_op", "us/op", "{:.3f}")],
            reference="sel/gpm-recv",
        ),
    ]


def main(argv=None):
    args = h.driver_args(__doc__.splitlines()[0], default_n=0, quick_n=0, argv=argv)
    h.run_comparisons(comparisons(args.quick, args.n or None), args.rounds)


if __name__ == "__main__":
    h.script_main(VARIANTS, main)
