"""schedtrace/scheddetail lines and goroutine dumps (placeholder; issue 5)."""

__all__ = ["schedtrace_tick", "dump_goroutines"]


def schedtrace_tick(sched, now):
    """Called by sysmon every round; prints a SCHED line when one is due."""


def dump_goroutines(sched=None) -> str:
    """Text of every goroutine (placeholder)."""
    return ""
