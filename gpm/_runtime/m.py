"""M: the OS thread that drives one P (P_i <-> M_i for the runtime's life).

Invariants:
  * the thread is named ``gpm-M<i>`` (py-spy shows it) and is started and
    joined by api.py (the one place that builds and tears down a runtime);
  * it creates its g0 greenlet (Go's g0: the scheduler's own stack) and runs
    ``Sched.schedule`` on it; goroutine greenlets of this M are children of
    g0, so a finishing goroutine falls back into the scheduler;
  * any exception escaping the scheduler is a runtime bug: it aborts the run
    (STYLE.md section 4);
  * before the thread exits, every greenlet of this M is unwound on it
    (``Sched.unwind``): a suspended greenlet of an exited thread would keep
    the runtime alive forever.  ``pp.g0``, ``pp.curg``, ``pp.free_workers``
    are this M's alone (owner M only).
"""

import logging

from .errors import FatalError
from .g import G0Greenlet
from .locks import new_sema
from .sudog import Sudog

log = logging.getLogger("gpm")

__all__ = ["mstart"]


def mstart(sched, pp):
    # Every M but M0 (started last by api.start_threads) waits until M0 ran its first G
    # (the main G, or a background runtime's first), polling every ms: the main G stays on
    # P0, and no M runs Python while the other Ms' Thread.start() calls wait.
    p0 = sched.allp[0]
    while pp is not p0 and not p0.executed and not sched.stopping:
        pp.note.sleep(0.001)
    g0 = G0Greenlet(sched.schedule)
    g0.pp = pp
    pp.g0 = g0
    try:
        g0.switch(pp)
    except BaseException as e:          # noqa: BLE001 - feeds the abort path
        if not isinstance(e, FatalError):
            fe = FatalError(f"gpm: scheduler of M{pp.id} crashed: {e!r}")
            fe.__cause__ = e
            e = fe
        sched.crash(e)
    finally:
        # Unwind this thread's greenlets here, on their own thread: parked
        # goroutines are discarded (Go: program exit), and nothing suspended
        # is left to keep the runtime alive once the thread is gone.
        try:
            sched.unwind(pp, withdraw_chan_waits)
        except BaseException:               # noqa: BLE001 - the run is over; report, do not hide
            log.exception("gpm: unwinding the goroutines of M%d failed", pp.id)
        pp.free_workers.clear()
        pp.curg = None
        pp.g0 = None


def withdraw_chan_waits(gr):
    """Before a discarded G is unwound: withdraw the channel Sudogs on its
    parked stack, so a channel that outlives the run (a module-level one used
    by a later run) never hands a value to a goroutine that is gone, and does
    not keep this runtime alive.  A plain channel Sudog is removed from the
    channel's queues and marked as a lost select (wakers skip it: chan.claim);
    a select's shared claim is taken, so no waker can win it.  Owner M only.
    """
    seen = set()
    f = gr.gr_frame
    while f is not None:
        for v in list(f.f_locals.values()):
            if type(v) is not Sudog or id(v) in seen:
                continue
            seen.add(id(v))
            if v.isselect:
                if v.sel is not None:
                    v.sel[0].acquire(False)
                continue
            c = v.c
            lock = getattr(c, "_lock", None)
            if lock is None or not hasattr(c, "_recvq"):
                continue
            with lock:
                v.sel = _LOST_CLAIM
                v.isselect = True
                for q in (c._recvq, c._sendq):
                    try:
                        q.remove(v)
                    except ValueError:
                        pass
        f = f.f_back


# A select claim nobody can win (its lock is held forever): see withdraw_chan_waits.
_LOST_CLAIM: list = [new_sema(), None]
_LOST_CLAIM[0].acquire()
