"""Stats (layer L4): a best-effort snapshot of the scheduler's counters (gpm.stats()).

Per-P counters are written by their owner M without a lock and read here
without one (tokio's stats.rs does the same): each value is a single
reference read, so the snapshot is consistent per field, not across fields.
"""

import dataclasses
from typing import Any

from .clock import current_sched, nanotime

__all__ = ["PStats", "Stats", "snapshot"]


@dataclasses.dataclass(frozen=True)
class PStats:
    id: int
    status: str
    runq: int                 # Gs in the local queue (runnext not counted, as schedtrace)
    runnext: bool
    executed: int             # Gs switched to on this P
    steals: int               # successful steal operations by this P
    stolen: int               # Gs this P obtained by stealing
    spawned: int              # go() calls made on this P
    schedtick: int
    timers: int               # active timers on this P
    since_schedule: float     # seconds since this P last entered the scheduler
    longest_hold: float       # longest single run of one G on this P (seconds)
    preempted: int = 0        # goroutines preempted on this P (asynchronous preemption, preempt.py)


@dataclasses.dataclass(frozen=True)
class Stats:
    procs: int
    ps: tuple[PStats, ...]    # PStats per P
    global_runq: int
    ms: int                   # M threads (scheduler threads; sysmon and syscall threads not counted)
    idle_ps: int
    spinning_ms: int
    goroutines: int
    context_switches: int     # sum of executed over Ps
    syscalls: int             # goroutines now inside gpm.syscall
    uptime: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def snapshot(sched: Any = None) -> Stats:
    """A best-effort snapshot of the running runtime's counters (``gpm.stats()``).

    Raises RuntimeError when no runtime is running.
    """
    sched = sched or current_sched()
    if sched is None:
        raise RuntimeError("gpm.stats: no runtime is running")
    now = nanotime()
    ps = []
    for pp in sched.allp:
        ps.append(PStats(
            id=pp.id, status="idle" if pp.status == 0 else "running",
            runq=len(pp.runq), runnext=pp.runq.runnext is not None,
            executed=pp.executed, steals=pp.steals, stolen=pp.stolen, spawned=pp.spawned,
            schedtick=pp.schedtick, timers=pp.ntimers,
            since_schedule=max(0.0, now - pp.last_sched) if pp.last_sched else 0.0,
            longest_hold=pp.longest_hold, preempted=pp.preempted,
        ))
    return Stats(
        procs=sched.procs, ps=tuple(ps), global_runq=sched.runqsize, ms=len(sched.ms),
        idle_ps=sched.npidle, spinning_ms=sched.nmspinning, goroutines=len(sched.allgs),
        context_switches=sum(p.executed for p in ps), syscalls=sched.nsyscall,
        uptime=now - sched.start_time,
    )
