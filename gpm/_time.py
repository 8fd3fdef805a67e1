"""Time: after, Timer, after_func, Ticker (placeholder until issue 3 lands)."""

__all__ = ["after", "Timer", "after_func", "Ticker"]


def after(seconds):
    raise NotImplementedError


class Timer:
    def __init__(self, seconds):
        raise NotImplementedError


def after_func(seconds, fn):
    raise NotImplementedError


class Ticker:
    def __init__(self, seconds):
        raise NotImplementedError
