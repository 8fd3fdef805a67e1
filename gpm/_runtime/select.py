"""select (placeholder until issue 3 lands)."""

__all__ = ["select", "default"]

default = object()


def select(*cases):
    raise NotImplementedError("gpm.select is not implemented yet")
