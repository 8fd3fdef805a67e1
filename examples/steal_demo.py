"""Work stealing, made visible.

One goroutine spawns thousands of goroutines that each hash 1 MiB with
SHA-256 (hashlib releases the GIL for large buffers, so several Ms really
hash in parallel).  The new goroutines land on the spawner's P.  By default
they come in bursts of 128 that fit in the spawner's 256-slot ring, and the
spawner waits for each burst: the other Ps get work only by stealing half of
its queue.  With ``--burst 0`` all are spawned at once: the ring overflows
and half of it moves to the global queue in batches of 129, which idle Ps
take from (Go's runqputslow).  Run with GPM_DEBUG=schedtrace=200 to watch
the queues, Go-style:

    GPM_DEBUG=schedtrace=200 python examples/steal_demo.py --procs 2 -n 4000

At the end it prints, per P, how many goroutines it executed, how many it
obtained by stealing and in how many steal operations, plus Jain's fairness
index of the executed counts (1.0 = perfectly even).
"""

import argparse
import hashlib
import os
import time

import gpm

DATA = b"\x5a" * (1 << 20)


def jain(xs):
    s = sum(xs)
    return s * s / (len(xs) * sum(x * x for x in xs)) if s else 1.0


def main(n, burst):
    done = gpm.Chan(n)
    ran = [0] * n

    def work(i):
        hashlib.sha256(DATA).digest()
        ran[i] += 1
        done.send(i)

    burst = burst or n
    for start in range(0, n, burst):
        count = min(burst, n - start)
        for i in range(start, start + count):
            gpm.go(work, i)
        for _ in range(count):
            done.recv()
    assert all(r == 1 for r in ran), "a goroutine ran twice or never"
    return gpm.stats()


def report(st, elapsed, n):
    print(f"\n{n} goroutines x sha256(1 MiB) on {st.procs} Ps in {elapsed:.2f}s "
          f"({n / elapsed:.0f} goroutines/s)")
    print(f"{'P':>3} {'executed':>9} {'share':>6} {'stolen':>7} {'steals':>7} {'spawned':>8}")
    total = sum(p.executed for p in st.ps) or 1
    for p in st.ps:
        print(f"{p.id:>3} {p.executed:>9} {p.executed / total:>6.1%} {p.stolen:>7} {p.steals:>7} {p.spawned:>8}")
    print(f"Jain's fairness index over executed: {jain([p.executed for p in st.ps]):.3f} "
          f"(1.0 = even, {1 / st.procs:.2f} = one P did everything)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", type=int, default=max(2, os.cpu_count() or 2))
    ap.add_argument("-n", type=int, default=4000, help="goroutines to spawn")
    ap.add_argument("--burst", type=int, default=128,
                    help="spawn in bursts of this size, waiting for each (0: all at once)")
    args = ap.parse_args()
    t = time.perf_counter()
    st = gpm.run(main, args.n, args.burst, procs=args.procs)
    report(st, time.perf_counter() - t, args.n)
