"""gpm.monkey socket item: ``socket.socket`` becomes a subclass whose blocking methods park.

How it keeps the original semantics: the C-level socket object always has timeout 0.0 (its fd is
O_NONBLOCK, as CPython itself does for any socket with a timeout), and the timeout the user set
lives in ``_gto`` (None: blocking, 0.0: non-blocking, t > 0: timeout mode), behind the original
``settimeout``/``gettimeout``/``setblocking``/``getblocking``/``timeout`` names.  Every blocking
method first tries the C call; on BlockingIOError

  * ``_gto == 0.0``: re-raise (exactly the original non-blocking behaviour);
  * inside a goroutine: park on the netpoller (``_fdwait.FdWaiter``) until ready or until
    ``now + _gto``, then retry;
  * on a plain thread (or with no runtime): block in the original ``select.poll`` on the fd,
    then retry, which is what CPython does for a timeout socket.

A timeout raises ``TimeoutError("timed out")`` as the original.  Closing the socket wakes the
goroutines parked on it with ``OSError(EBADF)`` (the fd is unregistered from the netpoller
before it is closed).  A detached fd stays O_NONBLOCK (see ``detach``): the one visible
difference from the original, for code that hands a blocking socket's fd to other code.

Module functions that build sockets through the module global ``socket`` (``socketpair``,
``fromfd``, ``create_connection``, ``create_server``, ``socket.accept``, ``dup``) return
patched sockets once ``socket.socket`` is replaced.  Host names in ``connect``/``connect_ex``
addresses are resolved in the ``gpm.syscall`` pool inside goroutines (the C call would resolve
them on the M).

Thread safety: ``_gto`` is one reference written by ``settimeout`` (an atomic store); ``_gw``
is created once by ``_fdwait.waiter_of`` and cleared by close/detach.
"""

import errno
import os
import socket as _sm
import _socket

from greenlet import getcurrent

from .._runtime.syscall import syscall
from ._fdwait import waiter_of, WorkerGreenlet as _WG, thread_wait, MODE_R, MODE_W, nanotime
from ._registry import patch_attr

__all__ = ["socket", "patch", "original_socket"]

original_socket = _sm.socket
_C = _socket.socket
_c_recv = _C.recv
_c_recv_into = _C.recv_into
_c_recvfrom = _C.recvfrom
_c_recvfrom_into = _C.recvfrom_into
_c_recvmsg = _C.recvmsg
_c_recvmsg_into = _C.recvmsg_into
_c_send = _C.send
_c_sendall = _C.sendall
_c_sendto = _C.sendto
_c_sendmsg = _C.sendmsg
_c_accept = _C._accept  # type: ignore[attr-defined]  # CPython-private, as socket.accept uses it
_c_connect = _C.connect
_c_connect_ex = _C.connect_ex
_c_settimeout = _C.settimeout
_c_gettimeout = _C.gettimeout
_c_setblocking = _C.setblocking
_c_fileno = _C.fileno
_c_getsockopt = _C.getsockopt
_orig_getaddrinfo = _sm.getaddrinfo
_orig_init = original_socket.__init__
_orig_sendfile = original_socket.sendfile
_orig_detach = original_socket.detach
_inet_pton = _socket.inet_pton

_AF_INET = _sm.AF_INET
_AF_INET6 = _sm.AF_INET6
_SOL_SOCKET = _sm.SOL_SOCKET
_SO_ERROR = _sm.SO_ERROR
_CONNECT_WAIT = (errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY)
_NS_MAX = 2 ** 63 - 1


def _parse_timeout(sock, value):
    """settimeout's argument as CPython stores it (rounded up to ns); its errors for bad input."""
    if value is None:
        return None
    tp = type(value)
    if tp is float or tp is int:
        if 0 <= value < 1e9:
            if tp is int:
                return float(value)
            ns = -int(-value * 1e9 // 1)          # ceil, as _PyTime_ROUND_TIMEOUT
            return ns / 1e9
    # Anything else (negative, NaN, huge, odd types): let the C code validate on this socket
    # and read back what it stored; only valid exotic values (bool, int subclasses) get here
    # without raising.  The C timeout is then set back to 0.0.
    try:
        _c_settimeout(sock, value)
        return _c_gettimeout(sock)
    finally:
        if _c_fileno(sock) != -1:
            _c_settimeout(sock, 0.0)


_MSG_DONTWAIT = getattr(_sm, "MSG_DONTWAIT", 0)


def _dontwait(args, i, kwargs=None):
    """The call's flags (positional ``i`` or keyword) ask for MSG_DONTWAIT: never wait then."""
    if len(args) > i:
        flags = args[i]
    elif kwargs:
        flags = kwargs.get("flags", 0)
    else:
        return False
    return isinstance(flags, int) and bool(flags & _MSG_DONTWAIT)


def _materialize(args, idxs):
    """Iterables among the buffer/ancdata arguments become tuples: a retry must see them again."""
    for i in idxs:
        if len(args) > i and not isinstance(args[i], (list, tuple)):
            try:
                it = iter(args[i])
            except TypeError:
                return args            # the C call raises the original's TypeError
            args = args[:i] + (tuple(it),) + args[i + 1:]
    return args


def _numeric_host(host):
    if not isinstance(host, str):
        return not isinstance(host, bytes)       # let the C code reject odd types
    try:
        _inet_pton(_AF_INET, host)
        return True
    except OSError:
        pass
    if ":" in host:
        try:
            _inet_pton(_AF_INET6, host.partition("%")[0])
            return True
        except OSError:
            pass
    return False


class socket(original_socket):
    """socket.socket whose blocking calls park inside goroutines (see the module docstring)."""

    __slots__ = ("_gto", "_gw")

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        _orig_init(self, family, type, proto, fileno)
        t = _c_gettimeout(self)
        self._gto = t
        self._gw = None
        if t != 0.0:
            _c_settimeout(self, 0.0)

    # -- timeout semantics (the user's view) ---------------------------------------------------

    @property
    def timeout(self):
        return self._gto

    def gettimeout(self):
        return self._gto

    def settimeout(self, value):
        t = _parse_timeout(self, value)
        _c_settimeout(self, 0.0)     # the fd stays O_NONBLOCK; raises OSError for a bad fd, as the original
        self._gto = t

    def setblocking(self, flag):
        if type(flag) is not bool and type(flag) is not int:
            _c_setblocking(self, flag)          # validates like the original (TypeError ...)
        _c_settimeout(self, 0.0)
        self._gto = None if flag else 0.0

    def getblocking(self):
        return self._gto != 0.0

    # -- waiting ---------------------------------------------------------------------------------

    def _waiter(self):
        return self._gw or waiter_of(self)

    def _block(self, mode, fn, args):
        """fn raised BlockingIOError on a blocking or timeout socket: wait and retry."""
        t = self._gto
        deadline = None if t is None else nanotime() + t
        if type(getcurrent()) is _WG:
            return self._waiter().run(mode, deadline, fn, (self,) + args)
        fd = _c_fileno(self)
        while True:
            if not thread_wait(fd, mode, deadline):
                raise TimeoutError("timed out")
            try:
                return fn(self, *args)
            except BlockingIOError:
                pass

    def _wait(self, mode, deadline):
        """Wait once for readiness (any thread); TimeoutError past ``deadline``."""
        if type(getcurrent()) is _WG:
            w = self._waiter()
            mu = w.mu[mode]
            mu.lock()
            try:
                w.park(mode, deadline)
            finally:
                mu.unlock()
        elif not thread_wait(_c_fileno(self), mode, deadline):
            raise TimeoutError("timed out")

    # -- receiving -------------------------------------------------------------------------------

    def recv(self, *args):
        try:
            return _c_recv(self, *args)
        except BlockingIOError:
            if self._gto == 0.0 or _dontwait(args, 1):
                raise
        return self._block(MODE_R, _c_recv, args)

    def recv_into(self, *args, **kwargs):
        try:
            return _c_recv_into(self, *args, **kwargs)
        except BlockingIOError:
            if self._gto == 0.0 or _dontwait(args, 2, kwargs):
                raise
        return self._block(MODE_R, lambda s: _c_recv_into(s, *args, **kwargs), ())

    def recvfrom(self, *args):
        try:
            return _c_recvfrom(self, *args)
        except BlockingIOError:
            if self._gto == 0.0 or _dontwait(args, 1):
                raise
        return self._block(MODE_R, _c_recvfrom, args)

    def recvfrom_into(self, *args, **kwargs):
        try:
            return _c_recvfrom_into(self, *args, **kwargs)
        except BlockingIOError:
            if self._gto == 0.0 or _dontwait(args, 2, kwargs):
                raise
        return self._block(MODE_R, lambda s: _c_recvfrom_into(s, *args, **kwargs), ())

    def recvmsg(self, *args):
        try:
            return _c_recvmsg(self, *args)
        except BlockingIOError:
            if self._gto == 0.0 or _dontwait(args, 2):
                raise
        return self._block(MODE_R, _c_recvmsg, args)

    def recvmsg_into(self, *args):
        args = _materialize(args, (0,))
        try:
            return _c_recvmsg_into(self, *args)
        except BlockingIOError:
            if self._gto == 0.0 or _dontwait(args, 2):
                raise
        return self._block(MODE_R, _c_recvmsg_into, args)

    def _accept(self):
        try:
            return _c_accept(self)
        except BlockingIOError:
            if self._gto == 0.0:
                raise
        return self._block(MODE_R, _c_accept, ())

    # -- sending ---------------------------------------------------------------------------------

    def send(self, *args):
        try:
            return _c_send(self, *args)
        except BlockingIOError:
            if self._gto == 0.0 or _dontwait(args, 1):
                raise
        return self._block(MODE_W, _c_send, args)

    def sendto(self, *args):
        try:
            return _c_sendto(self, *args)
        except BlockingIOError:
            if self._gto == 0.0 or (len(args) == 3 and _dontwait(args, 1)):
                raise
        return self._block(MODE_W, _c_sendto, args)

    def sendmsg(self, *args):
        args = _materialize(args, (0, 1))
        try:
            return _c_sendmsg(self, *args)
        except BlockingIOError:
            if self._gto == 0.0 or _dontwait(args, 2):
                raise
        return self._block(MODE_W, _c_sendmsg, args)

    def sendall(self, data, flags=0):
        t = self._gto
        if t == 0.0 or (isinstance(flags, int) and flags & _MSG_DONTWAIT):
            return _c_sendall(self, data, flags)
        try:
            sent = _c_send(self, data, flags)      # validates data and flags as the original
        except BlockingIOError:
            sent = 0
        with memoryview(data) as view, view.cast("B") as bv:
            total = len(bv)
            if sent >= total:
                return None
            deadline = None if t is None else nanotime() + t
            while sent < total:
                try:
                    sent += _c_send(self, bv[sent:], flags)
                except BlockingIOError:
                    self._wait(MODE_W, deadline)
        return None

    def sendfile(self, file, offset=0, count=None):
        if type(getcurrent()) is not _WG:
            return _orig_sendfile(self, file, offset, count)
        try:
            return self._gsendfile(file, offset, count)
        except _sm._GiveupOnSendfile:
            return self._sendfile_use_send(file, offset, count)

    def _gsendfile(self, file, offset, count):
        """socket._sendfile_use_sendfile with the selector wait replaced by a park."""
        self._check_sendfile_params(file, offset, count)
        sockno = self.fileno()
        try:
            fileno = file.fileno()
            fsize = os.fstat(fileno).st_size
        except (AttributeError, OSError) as err:   # io.UnsupportedOperation is an OSError
            raise _sm._GiveupOnSendfile(err)
        if not fsize:
            return 0
        blocksize = min(count or fsize, 2 ** 30)
        t = self._gto
        if t == 0:
            raise ValueError("non-blocking sockets are not supported")
        deadline = None if t is None else nanotime() + t
        total_sent = 0
        try:
            while True:
                if count:
                    blocksize = count - total_sent
                    if blocksize <= 0:
                        break
                try:
                    sent = os.sendfile(sockno, fileno, offset, blocksize)
                except BlockingIOError:
                    self._wait(MODE_W, deadline)
                    continue
                except OSError as err:
                    if total_sent == 0:
                        raise _sm._GiveupOnSendfile(err)
                    raise err from None
                if sent == 0:
                    break
                offset += sent
                total_sent += sent
            return total_sent
        finally:
            if total_sent > 0 and hasattr(file, "seek"):
                file.seek(offset)

    # -- connecting ------------------------------------------------------------------------------

    def _resolve(self, address):
        """Resolve a host name of an INET address in the syscall pool (goroutines only)."""
        if (type(address) is tuple and len(address) >= 2 and self.family in (_AF_INET, _AF_INET6)
                and type(getcurrent()) is _WG and not _numeric_host(address[0])):
            infos = syscall(_orig_getaddrinfo, address[0], address[1], self.family, self.type, self.proto)
            if infos:
                return infos[0][4]
        return address

    def _connect(self, address):
        """0 or an errno, as connect_ex; waits as the timeout says.  None: the wait timed out."""
        t = self._gto
        if t == 0.0:
            return _c_connect_ex(self, address)
        address = self._resolve(address)
        err = _c_connect_ex(self, address)
        if err not in _CONNECT_WAIT:
            return err
        deadline = None if t is None else nanotime() + t
        while True:
            try:
                self._wait(MODE_W, deadline)
            except TimeoutError:
                return None
            if err == errno.EAGAIN:                # a unix socket with a full backlog: retry
                err = _c_connect_ex(self, address)
                if err == errno.EAGAIN:
                    continue
                return err
            return _c_getsockopt(self, _SOL_SOCKET, _SO_ERROR)

    def connect(self, address):
        if self._gto == 0.0:
            return _c_connect(self, address)
        err = self._connect(address)
        if err is None:
            raise TimeoutError("timed out")
        if err:
            raise OSError(err, os.strerror(err))

    def connect_ex(self, address):
        err = self._connect(address)
        return errno.EWOULDBLOCK if err is None else err

    # -- closing ---------------------------------------------------------------------------------

    def _drop_waiter(self):
        w = self._gw
        if w is not None:
            self._gw = None
            w.close()

    def _real_close(self, _ss=_C):
        self._drop_waiter()
        _ss.close(self)

    def detach(self):
        # The fd stays O_NONBLOCK (as a detached timeout socket's does): ssl's _create wraps
        # the fd in its new socket *before* detaching the old one, so restoring the blocking
        # flag here would make the new socket's fd blocking under its feet.
        self._drop_waiter()
        return _orig_detach(self)


def patch():
    patch_attr(_sm, "socket", socket)
