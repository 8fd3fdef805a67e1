"""gpm.monkey dns item: name lookups run in the ``gpm.syscall`` pool inside goroutines.

``getaddrinfo``, ``gethostbyname``, ``gethostbyname_ex``, ``gethostbyaddr`` and ``getnameinfo``
of the socket module (and so ``getfqdn`` and ``create_connection``, which call them through the
module) park the calling goroutine while a pool thread does the lookup, which may read files or
ask a DNS server.  Numeric hosts with numeric ports need no lookup and call the original at
once.  On a plain thread (and on the pool's own threads) the originals run directly.
"""

import functools
import socket as _sm

from greenlet import getcurrent

from .._runtime.syscall import syscall
from ._fdwait import WorkerGreenlet as _WG
from ._registry import patch_attr
from ._socket import _numeric_host

__all__ = ["patch"]

NAMES = ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo")
_NUMERIC = _sm.NI_NUMERICHOST | _sm.NI_NUMERICSERV


def _fast_getaddrinfo(args, kwargs):
    if not args or kwargs.get("flags", 0) & _sm.AI_CANONNAME:
        return False
    host = args[0]
    port = args[1] if len(args) > 1 else kwargs.get("port")
    return (host is None or _numeric_host(host)) and (
        port is None or type(port) is int or (isinstance(port, (str, bytes)) and port.isdigit()))


def _fast_gethostbyname(args, kwargs):
    return len(args) == 1 and isinstance(args[0], str) and _numeric_host(args[0]) and ":" not in args[0]


def _fast_getnameinfo(args, kwargs):
    if len(args) != 2 or type(args[0]) is not tuple:
        return True              # the original rejects it before any lookup
    return type(args[1]) is int and args[1] & _NUMERIC == _NUMERIC


def _never(args, kwargs):
    return False


_FAST = {"getaddrinfo": _fast_getaddrinfo, "gethostbyname": _fast_gethostbyname,
         "getnameinfo": _fast_getnameinfo}


def _wrap(orig, fast):
    @functools.wraps(orig)
    def lookup(*args, **kwargs):
        try:
            if type(getcurrent()) is not _WG or fast(args, kwargs):
                return orig(*args, **kwargs)
            return syscall(orig, *args, **kwargs)
        except BaseException:
            # The traceback keeps this frame alive: do not let it keep the arguments alive too
            # (the original holds no reference to them once it raised; test_socket checks it).
            del args, kwargs
            raise
    return lookup


def patch():
    for name in NAMES:
        patch_attr(_sm, name, _wrap(getattr(_sm, name), _FAST.get(name, _never)))
