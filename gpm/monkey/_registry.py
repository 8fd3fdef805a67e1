"""Bookkeeping of gpm.monkey: which items are patched, and the originals they replaced.

Every patch goes through ``patch_attr`` so ``get_original`` can always return what was there
before, and patching twice is a no-op.  Patching happens on the main thread before the program
starts its runtime (API.md: "meant to run first thing"); ``_mu`` still guards the tables so a
concurrent call cannot record a patched object as an original.
"""

import importlib
import threading
from typing import Any

__all__ = ["patch_attr", "get_original", "mark_patched", "is_patched", "PATCH_NAMES"]

# The items of API.md's patch_all, in the order patch_all applies them.
PATCH_NAMES = ("socket", "ssl", "select", "time", "threading", "queue", "subprocess", "dns")

_mu = threading.Lock()            # guards _originals and _patched
_originals: dict[tuple[str, str], Any] = {}   # (module name, attr) -> the original object
_patched: set[str] = set()        # item names from PATCH_NAMES that are fully patched


def patch_attr(module: Any, attr: str, new: Any, name: str | None = None) -> None:
    """Replace ``module.attr`` by ``new``, remembering the first original.  Any thread.

    ``module`` may also be a class, recorded under ``name`` (e.g. "threading.Thread").
    """
    name = name or module.__name__
    with _mu:
        if (name, attr) not in _originals:
            _originals[(name, attr)] = getattr(module, attr)
        setattr(module, attr, new)


def get_original(module_name: str, attr: str) -> Any:
    """The object ``module_name.attr`` held before gpm.monkey patched it (the current one if never patched)."""
    with _mu:
        try:
            return _originals[(module_name, attr)]
        except KeyError:
            pass
    return getattr(importlib.import_module(module_name), attr)


def mark_patched(item: str) -> None:
    with _mu:
        _patched.add(item)


def is_patched(item: str) -> bool:
    if item not in PATCH_NAMES:
        raise ValueError(f"unknown patch item {item!r}; known: {', '.join(PATCH_NAMES)}")
    with _mu:
        return item in _patched
