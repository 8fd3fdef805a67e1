"""Waking many parked goroutines at once costs O(N) (issue 8, bug 6).

close of a channel, Cond.broadcast and a WaitGroup reaching zero with N
parked goroutines on one P used to re-pack the P's whole pinned overflow for
every goroutine readied: O(N^2) (40k: 8.4 s; 250k: 580 s).  Now each wakes
through goready_list (one lock and one append per G).  The check is on the
work done, counted by ``RunQueue.repacked`` (G slots rewritten by re-packs),
not on time: spawning N free Gs re-packs about 2 slots per G, waking them
re-packs nothing.
"""

import pytest

import gpm
import gpm.sync

from tests.support import current_sched

N = 5000


def _repacked():
    return sum(pp.runq.repacked for pp in current_sched().allp)

@pytest.mark.parametrize("how", ["close", "broadcast", "waitgroup"])
def test_waking_n_parked_goroutines_is_linear(how, procs):
    def main():
        woke = gpm.sync.WaitGroup()
        woke.add(N)
        c = gpm.Chan()
        mu = gpm.sync.Mutex()
        cond = gpm.sync.Cond(mu)
        gate = gpm.sync.WaitGroup()
        gate.add(1)
        parked = [0]

        def waiter():
            if how == "close":
                c.recv()
            elif how == "broadcast":
                with mu:
                    parked[0] += 1
                    cond.wait()
            else:
                gate.wait()
            woke.done()

        for _ in range(N):
            gpm.go(waiter)
        # Wait until every waiter is parked (checked through the queues).
        while True:
            if how == "close":
                n = len(c._recvq)
            elif how == "broadcast":
                with mu:
                    n = parked[0]
            else:
                n = len(gate._waiters)
            if n == N:
                break
            gpm.gosched()
        before = _repacked()
        if how == "close":
            c.close()
        elif how == "broadcast":
            with mu:
                cond.broadcast()
        else:
            gate.done()
        woke.wait()
        return _repacked() - before

    work = gpm.run(main, procs=procs)
    # Old code: ~N^2 / 2 slots (12.5M here); now 0 at procs=1 plus a little
    # spawning noise on other Ps.
    assert work <= 2 * N, f"waking {N} goroutines re-packed {work} queue slots"
