"""Go's TestPingPongHog, expressed with gpm only (procs=1).

A heavy and a light ping-pong pair share one P.  A woken partner goes into
runnext and inherits the time slice, so without a limit one pair would keep
the P forever; gpm demotes runnext once the 10 ms slice is used up, so both
pairs must get comparable CPU (Go's bound: within a factor of 20).
"""

import pytest

import gpm

pytestmark = [pytest.mark.stress, pytest.mark.timeout(120)]

HOG_LIMIT = 20_000      # increments per exchange (~1 ms of Python)
LIGHT_LIMIT = 100
HOG_TARGET = 40 * HOG_LIMIT


def _pair_worker(limit, counter, wake, done, enough):
    while True:
        i, _ = gpm.select(done.recv, wake.recv)
        if i == 0:
            return
        for _ in range(limit):
            counter[0] += 1
        if enough is not None and counter[0] >= HOG_TARGET and not enough.closed_once:
            enough.closed_once = True
            enough.chan.close()
        wake.send(True)


class _Once:
    def __init__(self):
        self.chan = gpm.Chan()
        self.closed_once = False


@pytest.mark.schedorder            # CPU fairness needs wall-clock slices (seed mode counts runs)
def test_ping_pong_hog():
    def main():
        done = gpm.Chan()
        hog_chan, light_chan = gpm.Chan(), gpm.Chan()
        hog, light = [0], [0]
        enough = _Once()
        ws = [gpm.go(_pair_worker, HOG_LIMIT, hog, hog_chan, done, enough) for _ in range(2)]
        ws += [gpm.go(_pair_worker, LIGHT_LIMIT, light, light_chan, done, None) for _ in range(2)]
        hog_chan.send(True)
        light_chan.send(True)
        enough.chan.recv()              # the hog pair has done its share of work
        done.close()
        hog_chan.recv()                 # absorb the token each pair has in flight
        light_chan.recv()
        for w in ws:
            w.join()
        return hog[0], light[0]

    hog, light = gpm.run(main, procs=1)
    assert light > 0, "the light pair was starved"
    assert hog / light <= 20 and light / hog <= 20, f"unfair: hog={hog} light={light}"


def test_yielding_spinner_does_not_starve_ping_pong_pair():
    rounds = 2_000

    def main():
        stop = gpm.Chan()
        spins = [0]

        def spinner():
            while True:
                i, _ = gpm.select(stop.recv, gpm.default)
                if i == 0:
                    return
                spins[0] += 1
                gpm.gosched()

        a, b = gpm.Chan(), gpm.Chan()

        def ping():
            for i in range(rounds):
                a.send(i)
                assert b.recv() == i

        def pong():
            for _ in range(rounds):
                b.send(a.recv())

        s = gpm.go(spinner)
        gpm.gosched()                    # the spinner is spinning before the pair starts
        p1, p2 = gpm.go(ping), gpm.go(pong)
        p1.join()
        p2.join()
        stop.close()
        s.join()
        return spins[0]

    spins = gpm.run(main, procs=1)
    assert spins > 0
