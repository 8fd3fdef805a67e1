"""A typed pipeline: generator -> squarers -> summer, with a deadline.

    python examples/typed_pipeline.py [-n N] [--workers W]

Checked by ``make lint`` (mypy --strict): ``Chan[int]`` makes ``recv()``
an ``int | None`` (None once closed), iteration yields ``int``,
``Goroutine[int].join()`` returns ``int``, ``select`` gives ``(index, value)``.
"""

import argparse

import gpm
from gpm import context, sync


def generate(n: int, out: gpm.Chan[int]) -> None:
    for i in range(1, n + 1):
        out.send(i)
    out.close()


def square(src: gpm.Chan[int], dst: gpm.Chan[int]) -> None:
    for v in src:                      # v: int, until src is closed and drained
        dst.send(v * v)


def total(src: gpm.Chan[int]) -> int:
    return sum(src)


def main(n: int, workers: int) -> int:
    nums: gpm.Chan[int] = gpm.Chan(16)
    squares: gpm.Chan[int] = gpm.Chan(16)
    gpm.go(generate, n, nums)
    wg = sync.WaitGroup()
    for _ in range(workers):
        wg.go(square, nums, squares)
    summer: gpm.Goroutine[int] = gpm.go(total, squares)
    wg.wait()
    squares.close()

    ctx, cancel = context.with_timeout(context.background(), 10.0)
    done: gpm.Chan[int] = gpm.Chan(1)
    gpm.go(lambda: done.send(summer.join()))
    i, value = gpm.select(done.recv, ctx.done().recv)
    cancel()
    if i == 1:
        raise TimeoutError(f"pipeline: {ctx.err()}")
    result: int = value
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=4)
    a = ap.parse_args()
    got = gpm.run(main, a.n, a.workers, procs=2)
    want = sum(i * i for i in range(1, a.n + 1))
    assert got == want, (got, want)
    print(f"sum of squares 1..{a.n} = {got} ({a.workers} workers)")
