"""Channels (placeholder until issue 3 lands)."""

__all__ = ["Chan", "nilchan"]


class Chan:
    def __init__(self, cap=0):
        raise NotImplementedError("gpm.Chan is not implemented yet")


nilchan = None
