"""Deadlines beyond what an OS wait accepts (issue 8, bug 3).

threading.TIMEOUT_MAX is about 9.2e9 s here; a timer further away used to
become an idle P's sleep timeout and crash its M with OverflowError
("timestamp out of range for platform time_t").  ``inf`` always worked and
must keep working.
"""

import math
import threading
import time

import pytest

import gpm
import gpm.context

FAR = [1e10, 1e300, math.inf]


@pytest.mark.parametrize("far", FAR, ids=["1e10", "1e300", "inf"])
def test_far_timers_do_not_crash_an_idle_p(far, procs):
    def main():
        t = gpm.Timer(far)
        tk = gpm.Ticker(far)
        c = gpm.after(far)
        ctx, cancel = gpm.context.with_timeout(gpm.context.background(), far)
        sleeper = gpm.go(gpm.sleep, far)             # parks forever on its own P
        got = gpm.Chan()
        gpm.go(lambda: got.send(gpm.select(c.recv, ctx.done().recv, got.recv)))
        # Every P goes idle with a far timer as its earliest deadline while
        # main waits in a syscall; then the runtime must still work.
        gpm.syscall(time.sleep, 0.05)
        r = gpm.go(lambda: 42).join(far)
        got.send("stop")
        assert t.stop() and not sleeper.done()
        tk.stop()
        cancel()
        return r, got.recv()

    assert gpm.run(main, procs=procs) == (42, (2, "stop"))


@pytest.mark.parametrize("far", FAR, ids=["1e10", "1e300", "inf"])
def test_far_join_timeout_from_a_plain_thread(far):
    def main():
        ready = gpm.Chan()
        out = gpm.Chan(1)
        g = gpm.go(ready.recv)
        th = threading.Thread(target=lambda: out.send(g.join(far)))
        th.start()
        gpm.syscall(time.sleep, 0.02)   # the thread is (most likely) in join by now
        ready.send("v")
        return out.recv()

    assert gpm.run(main, procs=1) == "v"
