"""gpm's runtime: everything that touches G, P and M.  Never imported by users.

Glossary (Go's names, see docs/ARCHITECTURE.md):

  G   a goroutine: a function plus, once it first runs, the greenlet it runs on.
      Free until first run, then pinned to the M that ran it (greenlets cannot
      change threads).
  P   a logical processor: a 256-slot run queue ring plus ``runnext``, a timer
      heap, counters.  P_i is driven by M_i for the runtime's whole life, so
      "pinned to M_i" means "pinned to P_i".
  M   an OS thread running the scheduler loop on its g0 greenlet.

Files:

  errors.py      Deadlock, ClosedChannelError, FatalError and throw()
  debugflags.py  GPM_MAXPROCS / GPM_DEBUG parsed once
  locks.py       lock factory and Note (Go's one-shot sleep/wakeup)
  g.py           G, its states and wait reasons, worker greenlets
  p.py           P and its RunQueue: runqput runqputslow runqget runqgrab
  sched.py       Sched (Go's schedt): global run queue, idle Ps, spinning Ms,
                 schedule findrunnable execute gopark goready wakep stopm checkdead
  m.py           the M thread body
  sudog.py       Sudog: one wait/wake protocol for goroutines and plain threads
  timers.py      per-P timer heaps: addtimer deltimer modtimer check_timers
  syscall.py     the blocking-call pool (Ms without a P)
  sysmon.py      the monitor thread: blockwarn, retake, schedtrace
  stats.py       the Stats snapshot
"""
