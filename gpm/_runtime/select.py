"""select (Go's selectgo): ``select(*cases) -> (index, value)`` and ``default``.

Public names: ``select`` (``gpm.select``), ``default`` (``gpm.default``).

A case is ``ch.recv``, ``ch.recv_ok``, ``(ch.send, value)`` or ``default``.
Cases on ``nilchan`` never fire; ``select()`` with no case blocks forever.

Algorithm (Go's three passes, ANCHORS.md 1.11):
  0. parse the cases; shuffle them into a random poll order (Fisher-Yates
     on the caller's P's seeded rng; ``random`` on a plain thread), so a
     choice among several ready cases is uniform;
  1. in poll order, try each case alone under its own channel's lock (a
     non-blocking op).  The first that can proceed wins.  None: return the
     ``default`` case if there is one;
  2. lock every distinct channel once, in ascending ``id()`` (the global lock
     order: two selects over the same channels can never deadlock), poll
     again in poll order (state may have changed since pass 1), and if still
     nothing, enqueue one select Sudog per case (all sharing the caller's G
     or thread semaphore and one claim ``[lock, winner]``), then park,
     releasing all the channel locks only after the G is marked waiting;
  3. after the wake, the winner is ``sel[1]`` (set by the waker that won the
     claim, see chan.py); take each other channel's lock in turn and remove
     the remaining Sudogs (a waker that lost the claim already dropped its).

Exactly-one-winner: every waker dequeues under a channel lock and must win
``claim(sg)`` (test-and-set of the claim lock) before touching the Sudog;
the select never wakes twice, and a send case is never performed unless it
was claimed.  Nothing is woken with a lock held.
"""

import itertools
import random as _random
from types import MethodType as _MethodType
from typing import Any

from greenlet import getcurrent

from .chan import Chan, _NilChan, recv_poll, send_poll, CLOSED, block_forever, _note_plain
from .errors import ClosedChannelError
from .g import WaitReason, WorkerGreenlet
from .locks import new_sema
from .sudog import Sudog
from .clock import current_sched as _current_sched

__all__ = ["select", "default"]


class _Default:
    __slots__ = ()

    def __repr__(self) -> str:
        return "gpm.default"

    def __reduce__(self) -> str:
        return "default"


default = _Default()

_RECV, _RECV_OK, _SEND = 0, 1, 2
_KINDS = {
    Chan.recv: _RECV, Chan.recv_ok: _RECV_OK, Chan.send: _SEND,
    _NilChan.recv: _RECV, _NilChan.recv_ok: _RECV_OK, _NilChan.send: _SEND,
}


class _MultiUnlock:
    """Releases several locks as one (the unlock argument of gopark/block)."""

    __slots__ = ("locks",)

    def __init__(self, locks):
        self.locks = locks

    def release(self):
        for lk in self.locks:
            lk.release()


def _bad_case(i, case):
    return TypeError(
        f"gpm.select: case {i} must be ch.recv, ch.recv_ok, (ch.send, value) or "
        f"gpm.default, got {case!r}")


_recv_f, _recv_ok_f, _send_f = Chan.recv, Chan.recv_ok, Chan.send
_nrecv_f, _nrecv_ok_f, _nsend_f = _NilChan.recv, _NilChan.recv_ok, _NilChan.send


def _parse(cases):
    """-> (list of (kind, chan, value, index), default index or -1).

    Every case is validated, even when an earlier one will fire (Go rejects
    a malformed select at compile time).  Written flat: this runs on every
    select, and each call or dict lookup here costs as much as a poll.
    """
    scases = []
    dflt = -1
    i = -1
    for case in cases:
        i += 1
        if type(case) is _MethodType:
            f = case.__func__
            if f is _recv_f:
                scases.append((_RECV, case.__self__, None, i))
                continue
            if f is _recv_ok_f:
                scases.append((_RECV_OK, case.__self__, None, i))
                continue
            if f is _nrecv_f or f is _nrecv_ok_f:
                continue                    # nil channel cases never fire
            raise _bad_case(i, case)
        if type(case) is tuple and len(case) == 2:
            f, v = case
            if type(f) is _MethodType:
                if f.__func__ is _send_f:
                    scases.append((_SEND, f.__self__, v, i))
                    continue
                if f.__func__ is _nsend_f:
                    continue
            raise _bad_case(i, case)
        if case is default:
            if dflt >= 0:
                raise TypeError("gpm.select: more than one default case")
            dflt = i
            continue
        raise _bad_case(i, case)
    return scases, dflt


def _result(kind, i, v, ok):
    if kind == _RECV:
        return i, v
    if kind == _RECV_OK:
        return i, (v, ok)
    return i, None


def _poll_locked(sc):
    """Try case ``sc`` with its channel locked.  -> None, CLOSED or (result, sg_to_wake)."""
    kind, c, v, i = sc
    if kind == _SEND:
        r = send_poll(c, v)
        if r is None:
            return None
        if r is CLOSED:
            return CLOSED
        return (i, None), (None if r is True else r)
    r = recv_poll(c)
    if r is None:
        return None
    val, ok, sg = r
    return _result(kind, i, val, ok), sg


# Poll orders: every permutation of range(n) for small n, so one random
# number picks a uniformly random order (same distribution as Go's
# Fisher-Yates pollorder, at one rng call instead of n - 1).
_PERMS: list[Any] = [None, None] + [list(itertools.permutations(range(n))) for n in range(2, 6)]
_IDENTITY = [tuple(range(n)) for n in range(6)]


def select(*cases: Any) -> tuple[int, Any]:
    """Wait until one of ``cases`` can proceed and perform it: ``(index, value)``.

    ``value`` is the received value for ``recv``, ``(value, ok)`` for
    ``recv_ok`` and None for a send or ``default``.  Among several ready
    cases one is chosen uniformly at random.  A send case on a closed channel
    that is chosen raises ClosedChannelError.
    """
    scases, dflt = _parse(cases)
    n = len(scases)
    gr = getcurrent()
    if n == 0:
        if dflt >= 0:
            return dflt, None
        block_forever(WaitReason.SELECT_NO_CASES if not cases else WaitReason.SELECT)
    order = _IDENTITY[n] if n < len(_IDENTITY) else range(n)
    if n > 1:
        pp = getattr(gr, "pp", None)
        if pp is not None:
            rng = pp.rng
        else:
            s = _current_sched()
            rng = s.rng if s is not None and s.seed is not None else _random
        if n < len(_PERMS):
            perms = _PERMS[n]
            order = perms[int(rng.random() * len(perms))]
        else:
            for k in range(n - 1, 0, -1):          # Fisher-Yates (Go's pollorder)
                j = int(rng.random() * (k + 1))
                scases[k], scases[j] = scases[j], scases[k]

    # Pass 1: each case alone, under its own lock, in poll order.
    for j in order:
        kind, c, v, i = scases[j]
        lock = c._lock
        lock.acquire()
        if kind == _SEND:
            r = send_poll(c, v)
            lock.release()
            if r is None:
                continue
            if r is CLOSED:
                raise ClosedChannelError("send on closed channel")
            if r is not True:
                r.wake()
            if type(gr) is not WorkerGreenlet:
                _note_plain(gr)
            return i, None
        # recv_poll inlined for the common buffered case (hot path)
        buf = c._buf
        if buf and not c._sendq:
            val = buf.popleft()
            lock.release()
            if type(gr) is not WorkerGreenlet:
                _note_plain(gr)
            if kind == _RECV:
                return i, val
            return i, (val, True)
        r = recv_poll(c)
        lock.release()
        if r is None:
            continue
        val, ok, sg = r
        if sg is not None:
            sg.wake()
        if type(gr) is not WorkerGreenlet:
            _note_plain(gr)
        if kind == _RECV:
            return i, val
        return i, (val, ok)
    if dflt >= 0:
        if type(gr) is not WorkerGreenlet:
            _note_plain(gr)
        return dflt, None

    # Pass 2: all locks in ascending id order, poll again, then enqueue and park.
    scases = [scases[j] for j in order]
    chans = {id(sc[1]): sc[1] for sc in scases}
    locks = [chans[k]._lock for k in sorted(chans)]
    for lk in locks:
        lk.acquire()
    for sc in scases:
        r = _poll_locked(sc)
        if r is not None:
            for lk in locks:
                lk.release()
            return _finish(r, gr)
    sel: list[Any] = [new_sema(), None]
    sg0 = Sudog.current()
    sgs: list[Any] = []
    for kind, c, v, i in scases:
        sg = sg0 if not sgs else Sudog(sg0.g, sg0.sema)
        sg.isselect = True
        sg.sel = sel
        sg.idx = i
        sg.c = c
        if kind == _SEND:
            sg.elem = v
            q = c._sendq
        else:
            q = c._recvq
        q.append(sg)
        sgs.append((sg, q, kind))
    sg0.block(_MultiUnlock(locks), WaitReason.SELECT)

    # Pass 3: dequeue the losers, one channel lock at a time.
    winner = sel[1]
    wkind = _RECV
    for sg, q, kind in sgs:
        if sg is winner:
            wkind = kind
            continue
        lk = sg.c._lock
        lk.acquire()
        try:
            q.remove(sg)
        except ValueError:
            pass           # a waker dequeued it and lost the claim
        lk.release()
    if winner is None:
        from .errors import throw
        throw("select: woken without a winning case")
    if wkind == _SEND:
        if not winner.ok:
            raise ClosedChannelError("send on closed channel")
        return winner.idx, None
    return _result(wkind, winner.idx, winner.elem, winner.ok)


def _finish(r, gr):
    """Complete a case found ready in pass 1 or 2 (locks already released)."""
    if r is CLOSED:
        raise ClosedChannelError("send on closed channel")
    res, sg = r
    if sg is not None:
        sg.wake()
    if type(gr) is not WorkerGreenlet:
        _note_plain(gr)
    return res
