"""Bounded channel stress (marked stress; scale with GPM_STRESS_SCALE)."""

import os
import threading

import pytest

import gpm
from gpm import sync

pytestmark = pytest.mark.stress
SCALE = float(os.environ.get("GPM_STRESS_SCALE", "1"))


@pytest.mark.parametrize("cap", [0, 16])
def test_many_producers_consumers(cap):
    nprod, ncons, per = 16, 8, int(500 * SCALE)

    def main():
        c = gpm.Chan(cap)
        sums = gpm.Chan(ncons)
        pw = sync.WaitGroup()

        def prod(k):
            for i in range(per):
                c.send(k * per + i)

        def cons():
            s = n = 0
            for v in c:
                s += v
                n += 1
            sums.send((s, n))

        for k in range(nprod):
            pw.go(prod, k)
        for _ in range(ncons):
            gpm.go(cons)
        pw.wait()
        c.close()
        res = [sums.recv() for _ in range(ncons)]
        return sum(s for s, _ in res), sum(n for _, n in res)

    total = nprod * per
    assert gpm.run(main, procs=4) == (total * (total - 1) // 2, total)


def test_select_fan_in_fan_out_with_threads():
    # Goroutines and plain threads select over several channels at once.
    n = int(1000 * SCALE)

    def main():
        ins = [gpm.Chan(c) for c in (0, 1, 4)]
        out = gpm.Chan(8)
        wg = sync.WaitGroup()

        def sender(base):
            for i in range(n):
                gpm.select(*[(c.send, base + i) for c in ins])

        def router():
            live = list(ins)
            while any(c is not gpm.nilchan for c in live):
                i, (v, ok) = gpm.select(*[c.recv_ok for c in live])
                if not ok:
                    live[i] = gpm.nilchan
                    continue
                out.send(v)

        def thread_sender():
            for i in range(n):
                gpm.select(*[(c.send, 10 * n + i) for c in ins])

        for b in (0, n):
            wg.go(sender, b)
        th = threading.Thread(target=thread_sender)
        th.start()
        rw = sync.WaitGroup()
        for _ in range(3):
            rw.go(router)

        def closer():
            wg.wait()
            gpm.syscall(th.join)
            for c in ins:
                c.close()
            rw.wait()
            out.close()

        gpm.go(closer)
        return sorted(out)

    expect = sorted(list(range(2 * n)) + [10 * n + i for i in range(n)])
    assert gpm.run(main, procs=4) == expect


def test_mutex_semaphore_contention():
    n = int(300 * SCALE)

    def main():
        m = sync.Mutex()
        sem = sync.Semaphore(3)
        box = [0, 0, 0]
        wg = sync.WaitGroup()

        def work(k):
            for _ in range(n):
                with sem:
                    with m:
                        box[0] += 1
                        box[1] += 1
                        box[2] = max(box[2], box[1])
                        box[1] -= 1
                if k % 3 == 0:
                    gpm.gosched()

        for k in range(12):
            wg.go(work, k)
        wg.wait()
        return box[0]

    assert gpm.run(main, procs=4) == 12 * n
