"""gpm's runtime: everything that touches G, P and M.  Never imported by users.

Glossary (Go's names, see docs/ARCHITECTURE.md):

  G   a goroutine: a function plus, once it first runs, the greenlet it runs on.
      Free until first run, then pinned to the M that ran it (greenlets cannot
      change threads).
  P   a logical processor: a 256-slot run queue ring plus ``runnext``, a timer
      heap, counters.  P_i is driven by M_i for the runtime's whole life, so
      "pinned to M_i" means "pinned to P_i".
  M   an OS thread running the scheduler loop on its g0 greenlet.

Files, by layer (a module imports only lower layers or its own at module level;
tests/api/test_layering.py checks it and that the import graph has no cycle):

  L0  errors.py      Deadlock, ClosedChannelError, FatalError and throw()
      locks.py       lock factory (ranked under lockrank=1) and Note (Go's one-shot sleep/wakeup)
      debugflags.py  GPM_MAXPROCS / GPM_DEBUG parsed once
      duration.py    validation of durations and timeouts
      clock.py       nanotime, getg, current_sched, and the registry of running runtimes
      gcpace.py      GC pacing during gpm.run (full collections paced by live goroutines)
      gcpace.py      GC pacing during gpm.run: full collections scale with live goroutines
  L1  g.py           G (data only), its states and wait reasons, worker greenlets
      p.py           P and its RunQueue: runqput runqputslow runqget runqgrab
      timers.py      per-P timer heaps: addtimer deltimer modtimer check_timers
      glocal.py      gpm.local: goroutine-local attributes
  L2  sched.py       Sched (Go's schedt): global run queue, idle Ps, spinning Ms,
                     schedule findnext run_on gopark goready wakep stopm checkdead
  L3  sudog.py       Sudog: one wait/wake protocol for goroutines and plain threads
      chan.py        Chan (hchan): send, recv, close, nilchan
      select.py      selectgo
      sema.py        semacquire/semrelease queues under gpm.sync
      netpoll.py     PollDesc and the fd table: the platform-free netpoller
      netpoll_epoll.py  the epoll part: netpollopen netpoll block
      syscall.py     the blocking-call pool (Ms without a P)
      preempt.py     asynchronous preemption at safe points (CPython 3.12+)
  L4  m.py           the M thread body
      sysmon.py      the monitor thread: blockwarn, retake, preemption, schedtrace
      trace.py       schedtrace lines, dump_goroutines
      stats.py       the Stats snapshot
  L5  api.py         run, go, sleep, ...: the one place that builds and tears down a runtime
"""
