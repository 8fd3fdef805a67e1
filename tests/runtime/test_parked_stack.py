"""What a parked goroutine's worker greenlet keeps: its saved C stack.

greenlet saves the C stack of a suspended greenlet (from its start to the
switch) on the heap and copies it back at every resume, so each C frame
between the worker's start and the park point costs memory per parked
goroutine and time per switch (issue 8: a million parked goroutines).
"""

from greenlet import greenlet, getcurrent

import gpm
import gpm.sync

from tests.support import internal_g


def _raw_saved():
    """The saved C stack of a bare greenlet that switched back from its function."""
    me = getcurrent()
    g = greenlet(lambda: me.switch())
    g.switch()
    return g._stack_saved


def test_a_parked_goroutine_keeps_no_extra_c_frame():
    # Everything between the worker's start and the park (Sched.gmain, the
    # goroutine's function, chanrecv, gopark, run_on) runs in the one C frame
    # greenlet starts, as in a bare greenlet: CPython 3.11+ runs a Python
    # callee of an explicit-argument call in the caller's C frame.  gmain
    # called fn(*args), which recursed into a new C frame.  Measured (x86-64,
    # 3.11): bare greenlet 1416 bytes; parked goroutine 1992 before, 1624
    # after, with or without positional arguments.
    def main():
        c = gpm.Chan()
        parked = gpm.sync.WaitGroup()
        parked.add(3)

        def waiter(*_):
            parked.done()
            c.recv()

        hs = [gpm.go(waiter), gpm.go(waiter, 1), gpm.go(waiter, 1, 2)]
        parked.wait()
        gpm.sleep(0.001)                 # each has parked and been switched away from
        saved = [internal_g(h).gr._stack_saved for h in hs]
        c.close()
        for h in hs:
            h.join()
        return saved

    raw = _raw_saved()
    saved = gpm.run(main, procs=1)
    assert all(raw < s < raw + 300 for s in saved), (raw, saved)
