"""select (Go's selectgo): ``select(*cases) -> (index, value)`` and ``default``.

Public names: ``select`` (``gpm.select``), ``default`` (``gpm.default``).

A case is ``ch.recv``, ``ch.recv_ok``, ``(ch.send, value)`` or ``default``.
Cases on ``nilchan`` never fire; ``select()`` with no case blocks forever.

Algorithm (Go's passes, ANCHORS.md 1.11):
  0+1. one loop over the cases in index order checks each (a malformed one
     raises TypeError before anything is tried) and applies to it the
     lock-free test of chanrecv's / chansend's fast path (Go's failed
     non-blocking poll: same reads, same order, same proof there).  Of the
     cases that may proceed one is tried, chosen uniformly among them: Go's
     choice has that distribution (the first ready case of a uniformly random
     poll order is uniform among the ready ones), and it costs one draw from
     the caller's P's seeded rng when several look ready (``random`` on an
     unseeded plain thread), none when one does.  The try is a non-blocking
     ``chanrecv`` / ``chansend`` (chan.py: the same code as every receive and
     send; a buffered receive is written out, under the lock).  If it cannot
     proceed after all (another party got there first, or a stale select
     Sudog, which the try drops), the loop runs again.  None looks ready:
     return the ``default`` case if any;
  2. lock every distinct channel once, in ascending ``id()`` of its lock (the
     global lock order: two selects over the same channels can never
     deadlock) and ask each case ``recv_ready``/``send_ready``.  One is ready
     (state changed since pass 1, or a stale Sudog: a false positive, which
     the next pass 1 drops): unlock all and go back to pass 1.  None: enqueue
     one select Sudog per case (all sharing the caller's G or thread semaphore
     and one claim ``[sema, winner]``; a goroutine's come from its P's
     ``sudogcache``), then park, releasing the channel locks only after the
     caller is marked waiting.  A goroutine keeps the case list and lock
     order of its last all-receive select (``G.selcache``: cases equal as
     bound methods, i.e. same channels and kinds; dropped at goexit), so the
     select of a loop builds and sorts them once;
  3. after the wake, the winner is ``sel[1]`` (set by the waker that won the
     claim, see chan.py ``dequeue``); take each other channel's lock in turn
     and remove the remaining Sudogs (a waker that lost the claim already
     dropped its).  Then no waker can reach any of them (each dequeued one
     under a lock pass 3 has taken since): a goroutine's go back to its P's
     cache, cleared (Go's releaseSudog).
  The loop 1-2 ends: each round either returns, parks, or saw a change that
  another party made (or dropped stale Sudogs) since the previous pass 1.

Exactly-one-winner: every waker dequeues under a channel lock and must win
``claim(sg)`` (test-and-set of the claim semaphore) before touching the
Sudog; the select never wakes twice, and a send case is never performed
unless it was claimed.  Nothing is woken with a lock held.

State: none shared.  ``sel`` (the claim) is written by the winning waker
under the claim, read by the selecting party after its wake; the Sudogs
follow sudog.py's rules; ``P.sudogcache`` is its owner M's only (a goroutine
selects on its own P's M); ``G.selcache`` is its G's only, its lists are
read-only once made.
"""

import random as _random
from operator import attrgetter as _attrgetter, itemgetter as _itemgetter
from types import MethodType as _MethodType
from typing import Any

from greenlet import getcurrent

from .chan import Chan, _NilChan, chanrecv, chansend, block_forever
from .errors import ClosedChannelError, throw
from .g import WaitReason, WorkerGreenlet
from .locks import new_sema
from .sudog import Sudog, current_waiter, note_plain
from .sched import gopark as _gopark
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
_SUDOGCACHE_MAX = 64        # free select Sudogs kept per P


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
_chan_of, _lock_of = _itemgetter(1), _attrgetter("_lock")


def _scases(cases, order):
    """The cases that can fire, in ``order`` (of indices): (kind, chan, value,
    index).  Nil-channel cases and ``default`` are left out (cases already
    checked)."""
    out = []
    for j in order:
        case = cases[j]
        if type(case) is _MethodType:
            f = case.__func__
            if f is _recv_f:
                out.append((_RECV, case.__self__, None, j))
            elif f is _recv_ok_f:
                out.append((_RECV_OK, case.__self__, None, j))
        elif type(case) is tuple:
            f, v = case
            if f.__func__ is _send_f:
                out.append((_SEND, f.__self__, v, j))
    return out


def _result(kind, i, v, ok):
    if kind == _RECV:
        return i, v
    if kind == _RECV_OK:
        return i, (v, ok)
    return i, None


def select(*cases: Any) -> tuple[int, Any]:
    """Wait until one of ``cases`` can proceed and perform it: ``(index, value)``.

    ``value`` is the received value for ``recv``, ``(value, ok)`` for
    ``recv_ok`` and None for a send or ``default``.  Among several ready
    cases one is chosen uniformly at random.  A send case on a closed channel
    that is chosen raises ClosedChannelError.
    """
    n = len(cases)
    if n == 0:
        block_forever(WaitReason.SELECT_NO_CASES)
    scases = None
    while True:
        # Passes 0 and 1 in one loop over the cases in index order: check each
        # (all are checked before any is tried) and apply the lock-free test of
        # chanrecv's / chansend's fast path (same reads, same order, same proof
        # there).  Ready-looking cases: the first in r0, all of them in rl once
        # there are two.  Nil-channel cases never look ready.
        dflt = r0 = -1
        rl = None
        hassend = False
        i = 0
        for case in cases:
            if type(case) is _MethodType:
                f = case.__func__
                if f is _recv_f or f is _recv_ok_f:
                    c: Any = case.__self__
                    if c._buf or c._sendq or c._closed:
                        if r0 < 0:
                            r0 = i
                        elif rl is None:
                            rl = [r0, i]
                        else:
                            rl.append(i)
                elif f is not _nrecv_f and f is not _nrecv_ok_f:
                    raise _bad_case(i, case)
            elif type(case) is tuple:
                if len(case) != 2 or type(case[0]) is not _MethodType:
                    raise _bad_case(i, case)
                f = case[0].__func__
                hassend = True
                if f is _send_f:
                    c = case[0].__self__
                    if c._closed or (c._recvq if c._cap == 0 else len(c._buf) < c._cap):
                        if r0 < 0:
                            r0 = i
                        elif rl is None:
                            rl = [r0, i]
                        else:
                            rl.append(i)
                elif f is not _nsend_f:
                    raise _bad_case(i, case)
            elif case is default:
                if dflt >= 0:
                    raise TypeError("gpm.select: more than one default case")
                dflt = i
            else:
                raise _bad_case(i, case)
            i += 1

        if r0 >= 0:
            # Try one ready-looking case, chosen uniformly among them: the
            # distribution of Go's choice (the first ready case of a uniformly
            # random poll order is uniform among the ready ones), at one rng
            # call when several look ready and none when one does.  If it
            # cannot proceed after all (another party got there first, or a
            # stale select Sudog that chanrecv/chansend drops), run the loop
            # again: that round sees the change.
            if rl is None:
                j = r0
            else:
                gr = getcurrent()
                if type(gr) is WorkerGreenlet:
                    rng = gr.pp.rng
                elif (pp := getattr(gr, "pp", None)) is not None:
                    rng = pp.rng          # a scheduler greenlet (a timer callback)
                else:
                    s = _current_sched()
                    rng = s.rng if s is not None and s.seed is not None else _random
                j = rl[int(rng.random() * len(rl))]
            case = cases[j]
            if type(case) is _MethodType:
                c = case.__self__
                if c._buf and not c._sendq:
                    # chanrecv's buffered case, without the call (hot path)
                    lock = c._lock
                    lock.acquire()
                    buf = c._buf
                    if buf and not c._sendq:
                        v = buf.popleft()
                        lock.release()
                        gr = getcurrent()
                        if type(gr) is not WorkerGreenlet:
                            note_plain(gr)
                        return (j, v) if case.__func__ is _recv_f else (j, (v, True))
                    lock.release()
                r = chanrecv(c, block=False)
                if r is not None:
                    return (j, r[0]) if case.__func__ is _recv_f else (j, r)
            else:
                f, v = case
                if chansend(f.__self__, v, block=False) is None:
                    return j, None
            continue
        if dflt >= 0:
            gr = getcurrent()
            if type(gr) is not WorkerGreenlet:
                note_plain(gr)
            return dflt, None

        # Pass 2: every distinct channel's lock in ascending id order; if a
        # case became ready since pass 1, unlock and run pass 1 again, else
        # enqueue and park (the locks are released once the caller is parked).
        if scases is None:
            gr = getcurrent()
            if type(gr) is WorkerGreenlet:
                gp = gr.gp
                cache = gr.pp.sudogcache
                sema = None
                # The G's last all-receive select: its cases (bound methods
                # compare by identity of __self__ and __func__, no user code)
                # -> its scases, lock order and their unlock, the common loop's select.
                sc = gp.selcache
                if sc is not None and not hassend and sc[0] == cases:
                    scases, locks, unlock = sc[1], sc[2], sc[3]
            else:                         # before any lock: this raises on a scheduler greenlet
                gp = cache = None
                sema = current_waiter(gr).sema
            if scases is None:
                scases = _scases(cases, range(n))
                if not scases:            # only nil-channel cases
                    block_forever(WaitReason.SELECT)
                locks = list(map(_lock_of, map(_chan_of, scases)))
                if len(locks) > 1:
                    locks = list({id(lk): lk for lk in locks}.values())   # distinct
                    locks.sort(key=id)
                unlock = _MultiUnlock(locks)
                if gp is not None and not hassend:
                    gp.selcache = (cases, scases, locks, unlock)
        for lk in locks:
            lk.acquire()
        for kind, c, _v, _i in scases:    # recv_ready / send_ready, written out
            if ((c._buf or c._sendq or c._closed) if kind != _SEND
                    else (c._closed or c._recvq or len(c._buf) < c._cap)):
                break
        else:
            break                         # nothing ready: enqueue with the locks held
        for lk in locks:
            lk.release()

    # Enqueue one Sudog per case.  A goroutine takes them from its P's cache
    # (Go's acquireSudog: the P is this M's, so no lock) and gives them back
    # after pass 3, when no waker can still reach them (every waker that
    # dequeued one did so under a channel lock that pass 3 has taken since).
    sel: list[Any] = [new_sema(), None]
    sgs: list[Any] = []
    for kind, c, v, i in scases:
        if cache:
            sg = cache.pop()
            sg.g = gp
            sg.ok = True
        else:
            sg = Sudog(gp, sema)
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
    if gp is not None:
        _gopark(unlock, WaitReason.SELECT)
    else:
        sgs[0][0].block(unlock, WaitReason.SELECT)

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
        throw("select: woken without a winning case")
    widx, welem, wok = winner.idx, winner.elem, winner.ok
    if cache is not None and len(cache) < _SUDOGCACHE_MAX:
        for sg, _q, _k in sgs:            # Go's releaseSudog: keep nothing alive
            sg.g = sg.elem = sg.c = sg.sel = None
            cache.append(sg)
    if wkind == _SEND:
        if not wok:
            raise ClosedChannelError("send on closed channel")
        return widx, None
    return _result(wkind, widx, welem, wok)
