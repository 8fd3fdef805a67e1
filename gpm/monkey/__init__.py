"""gpm.monkey: ordinary Python libraries cooperate inside goroutines (API.md v2).

The rule for every patched name: inside a goroutine a blocking call parks the goroutine, never its
M; on a plain thread, or with no runtime running, it behaves exactly as the original.  Patch first
thing in the program, before importing the libraries it should help: objects made before patching
keep their original behaviour.

Each item lives in its own module ``gpm.monkey._<item>`` defining ``patch()``, which installs its
replacements through ``_registry.patch_attr``.  ``patch_<item>()`` here imports that module lazily,
calls ``patch()`` once and records the item as patched (idempotent).
"""

import importlib

from ._registry import PATCH_NAMES, get_original as get_original, is_patched as is_patched, mark_patched

__all__ = ["patch_all", "is_patched", "get_original"] + [f"patch_{n}" for n in PATCH_NAMES]


def _patch(item: str) -> None:
    if is_patched(item):
        return
    importlib.import_module(f"gpm.monkey._{item}").patch()
    mark_patched(item)


def patch_socket() -> None:
    """Patch the socket module (blocking methods park on the netpoller inside goroutines)."""
    _patch("socket")


def patch_ssl() -> None:
    """Patch ssl so handshake/read/write/unwrap park on patched sockets."""
    _patch("ssl")


def patch_select() -> None:
    """Patch select.select/poll/epoll and selectors to park on the netpoller."""
    _patch("select")


def patch_time() -> None:
    """Patch time.sleep to park on a timer inside goroutines."""
    _patch("time")


def patch_threading() -> None:
    """Patch threading's locks, conditions, semaphores, events, barriers and local."""
    _patch("threading")


def patch_queue() -> None:
    """Patch queue.Queue, LifoQueue, PriorityQueue and SimpleQueue."""
    _patch("queue")


def patch_subprocess() -> None:
    """Patch subprocess so Popen.wait, communicate, run and check_output park."""
    _patch("subprocess")


def patch_dns() -> None:
    """Run name lookups (getaddrinfo, gethostbyname, getnameinfo) in the gpm.syscall pool inside goroutines."""
    _patch("dns")


def patch_all(*, socket: bool = True, ssl: bool = True, select: bool = True, time: bool = True,
              threading: bool = True, queue: bool = True, subprocess: bool = True, dns: bool = True) -> None:
    """Apply every selected patch, in a fixed order.  Idempotent."""
    chosen = dict(socket=socket, ssl=ssl, select=select, time=time, threading=threading,
                  queue=queue, subprocess=subprocess, dns=dns)
    for item in PATCH_NAMES:
        if chosen[item]:
            _patch(item)
