"""Work-stealing fairness under load (bounded; scaled by GPM_STRESS_SCALE).

One goroutine spawns 10,000 goroutines that hash with SHA-256 (hashlib drops
the GIL for large buffers, so Ms really run in parallel).  Every goroutine
must run exactly once, and the executed counts per P must be even enough
(Jain's index >= 0.8).
"""

import hashlib
import os

import pytest

import gpm
from tests.support import jain

pytestmark = [pytest.mark.stress, pytest.mark.timeout(240)]

SCALE = float(os.environ.get("GPM_STRESS_SCALE", "1"))
N = int(10_000 * SCALE)
DATA = b"\xa5" * (64 * 1024)


def _fanout(n, burst):
    ran = [0] * n

    def work(i):
        hashlib.sha256(DATA).digest()
        ran[i] += 1

    def main():
        hs = []
        for start in range(0, n, burst):
            batch = [gpm.go(work, i) for i in range(start, min(n, start + burst))]
            if burst < n:
                for h in batch:           # wait for the burst: idle Ps must steal it
                    h.join()
            hs.extend(batch)
        for h in hs:
            h.join()
        return gpm.stats()

    return ran, main


@pytest.mark.parametrize("procs", [2, 4])
def test_one_spawner_balances(procs):
    """All at once: the ring overflows to the global queue in batches, idle Ps
    take from it and steal; every P gets a fair share."""
    ran, main = _fanout(N, N)
    st = gpm.run(main, procs=procs)
    assert ran == [1] * N, "a goroutine ran twice or never"
    executed = [p.executed for p in st.ps]
    assert sum(p.spawned for p in st.ps) == N
    assert jain(executed) >= 0.8, f"unfair: executed per P {executed}"


@pytest.mark.parametrize("procs", [2, 4])
def test_bursts_are_stolen(procs):
    """Bursts of 200 fit in the spawner's ring (no overflow), so the other Ps
    get work only by stealing half of it."""
    ran, main = _fanout(N, 200)
    st = gpm.run(main, procs=procs)
    assert ran == [1] * N
    steals = sum(p.steals for p in st.ps)
    stolen = sum(p.stolen for p in st.ps)
    executed = [p.executed for p in st.ps]
    assert steals > 0 and stolen >= steals, f"no stealing: {st}"
    assert jain(executed) >= 0.8, f"unfair: executed per P {executed}, stolen {stolen}"
