"""gpm.local: goroutine-local attributes (``threading.local``, per goroutine).

Storage:
  * in a goroutine: ``G.locals``, a dict ``{_Impl: attribute dict}`` made on the
    G's first use of any ``local``; dropped at goexit (as a thread's
    ``threading.local`` values go when the thread ends).  Only the G itself
    reads or writes its own ``locals`` (it runs on one M at a time), except
    ``_Impl.forget`` below, which removes one key with a single ``dict.pop``
    (atomic on every CPython build, free-threaded ones included).
  * on a plain thread (or a scheduler greenlet): the C ``_thread._local`` (the
    original, never a patched ``threading.local``), one per ``local`` object.

When a ``local`` object dies, ``_Impl.forget`` (a weakref.finalize callback)
pops its entry from every goroutine that used it (``_Impl.gs``, a WeakSet of
those Gs, guarded by ``_Impl.lock``, a leaf lock), so a long-lived goroutine
does not keep the values of dropped locals.

Attribute lookup follows Python's rules for instances: a data descriptor of
the class (property with a setter, __slots__ member) wins, then the
goroutine's own dict, then other class attributes (methods bind to the local
object, so ``self.x`` inside a method reads the calling goroutine's ``x``).
"""

import weakref
from _thread import _local as _thread_local

from greenlet import getcurrent

from .locks import new_lock

__all__ = ["local"]

_getattribute = object.__getattribute__
_MISSING = object()


class _Impl:
    """Per-``local`` bookkeeping (never seen by users)."""

    __slots__ = ("args", "kwargs", "tl", "lock", "gs", "__weakref__")

    def __init__(self, args, kwargs):
        self.args = args              # set once: the constructor's arguments for __init__
        self.kwargs = kwargs
        self.tl = _thread_local()     # plain threads: tl.d is that thread's attribute dict
        self.lock = new_lock("glocal")        # guards gs (leaf lock)
        self.gs = weakref.WeakSet()   # Gs whose G.locals hold an entry for this _Impl

    def forget(self):
        """The local object died: drop its dict from every goroutine.  Any thread."""
        with self.lock:
            gs = list(self.gs)
            self.gs.clear()
        for gp in gs:
            d = gp.locals
            if d is not None:
                d.pop(self, None)


def _type_lookup(tp, name):
    for klass in tp.__mro__:
        v = klass.__dict__.get(name, _MISSING)
        if v is not _MISSING:
            return v
    return _MISSING


def _localdict(self):
    """The calling goroutine's (or thread's) attribute dict of ``self``; on the
    first access from this goroutine/thread, make it and run the subclass's
    ``__init__`` (as ``threading.local``)."""
    impl = _getattribute(self, "_gpm_local_impl")
    gp = getattr(getcurrent(), "gp", None)
    if gp is not None:
        locs = gp.locals
        if locs is not None:
            d = locs.get(impl)
            if d is not None:
                return d
        else:
            locs = gp.locals = {}
        d = locs[impl] = {}
        with impl.lock:
            impl.gs.add(gp)
    else:
        tl = impl.tl
        try:
            return tl.d
        except AttributeError:
            pass
        d = tl.d = {}
    init = type(self).__init__
    if init is not object.__init__:
        try:
            init(self, *impl.args, **impl.kwargs)
        except BaseException:
            # As threading.local: a failed __init__ leaves no dict behind, so
            # the next access runs it again.
            if gp is not None:
                gp.locals.pop(impl, None)
            else:
                del impl.tl.d
            raise
    return d


class local:
    """Goroutine-local attributes: like ``threading.local``, per goroutine.

    Each goroutine sees only the attributes it set itself (a child does not
    inherit its spawner's, unlike ``contextvars``); on a plain thread (no
    goroutine running) the attributes are per thread.  A subclass's
    ``__init__`` runs once per goroutine (or thread), on its first access,
    with the arguments given to the constructor; the constructing goroutine
    runs it at construction.  A goroutine's values are dropped when it exits,
    and every goroutine's values are dropped when the local object dies.
    Any thread.

    Example::

        class Conn(gpm.local):
            def __init__(self):
                self.buf = []            # one list per goroutine

        tls = gpm.local()
        tls.user = "ann"                 # visible only in this goroutine
    """

    __slots__ = ("_gpm_local_impl", "__weakref__")

    def __new__(cls, *args, **kwargs):
        if (args or kwargs) and cls.__init__ is object.__init__:
            raise TypeError("Initialization arguments are not supported")
        self = object.__new__(cls)
        impl = _Impl(args, kwargs)
        object.__setattr__(self, "_gpm_local_impl", impl)
        # The constructing goroutine/thread gets its dict now; type.__call__
        # runs __init__ on it right after __new__.
        gp = getattr(getcurrent(), "gp", None)
        if gp is not None:
            locs = gp.locals
            if locs is None:
                locs = gp.locals = {}
            locs[impl] = {}
            with impl.lock:
                impl.gs.add(gp)
        else:
            impl.tl.d = {}
        weakref.finalize(self, impl.forget)
        return self

    def __getattribute__(self, name):
        if name == "_gpm_local_impl" or name == "__class__":
            return _getattribute(self, name)
        d = _localdict(self)
        if name == "__dict__":
            return d
        v = d.get(name, _MISSING)
        if v is not _MISSING:
            return v
        return _getattribute(self, name)

    def __setattr__(self, name, value):
        if name == "__dict__":
            raise AttributeError(f"{type(self).__name__!r} object attribute '__dict__' is read-only")
        if name == "_gpm_local_impl":
            raise AttributeError(f"{type(self).__name__!r} object attribute {name!r} is read-only")
        d = _localdict(self)
        attr = _type_lookup(type(self), name)
        if attr is not _MISSING and hasattr(type(attr), "__set__"):
            attr.__set__(self, value)
        else:
            d[name] = value

    def __delattr__(self, name):
        if name == "__dict__" or name == "_gpm_local_impl":
            raise AttributeError(f"{type(self).__name__!r} object attribute {name!r} is read-only")
        d = _localdict(self)
        attr = _type_lookup(type(self), name)
        if attr is not _MISSING and hasattr(type(attr), "__delete__"):
            attr.__delete__(self)
            return
        try:
            del d[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}") from None
