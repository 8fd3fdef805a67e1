"""gpm.syscall (placeholder until issue 4 lands): runs fn inline."""

__all__ = ["syscall"]


def syscall(fn, *args, **kwargs):
    return fn(*args, **kwargs)
