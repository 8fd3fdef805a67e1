"""M: the OS thread that drives one P (P_i <-> M_i for the runtime's life).

The thread is named ``gpm-M<i>`` so py-spy shows it.  It creates its g0
greenlet (Go's g0: the scheduler's own stack) and runs ``Sched.schedule`` on
it; goroutine greenlets of this M are children of g0, so a finishing
goroutine falls back into the scheduler.  Any exception escaping the
scheduler is a runtime bug: it aborts the run (STYLE.md section 4).
"""

import logging

from .g import G0Greenlet

log = logging.getLogger("gpm")

__all__ = ["mstart"]


def mstart(sched, pp):
    g0 = G0Greenlet(sched.schedule)
    g0.pp = pp
    pp.g0 = g0
    try:
        g0.switch(pp)
    except BaseException as e:          # noqa: BLE001 - feeds the abort path
        from .errors import FatalError
        if not isinstance(e, FatalError):
            fe = FatalError(f"gpm: scheduler of M{pp.id} crashed: {e!r}")
            fe.__cause__ = e
            e = fe
        sched.finish(exc=e)
    finally:
        # Unwind this thread's greenlets here, on their own thread: parked
        # goroutines are discarded (Go: program exit), and nothing suspended
        # is left to keep the runtime alive once the thread is gone.
        try:
            sched.unwind(pp)
        except BaseException:               # noqa: BLE001 - the run is over; report, do not hide
            log.exception("gpm: unwinding the goroutines of M%d failed", pp.id)
        pp.free_workers.clear()
        pp.curg = None
        pp.g0 = None
