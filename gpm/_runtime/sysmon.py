"""sysmon: placeholder until the monitor thread lands (issue 4)."""

__all__ = ["start_sysmon"]


def start_sysmon(sched):
    sched.sysmon = None
