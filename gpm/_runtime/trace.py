"""schedtrace/scheddetail lines and goroutine dumps (placeholder; issue 5)."""

__all__ = ["schedtrace_tick"]


def schedtrace_tick(sched, now):
    """Called by sysmon every round; prints a SCHED line when one is due."""
