"""gpm.net: TCP and unix sockets on the netpoller (Go's net package, Pythonic).

Public names: listen dial Listener Conn wait_read wait_write ClosedError Timeout
dial_tls listen_tls tls_client tls_server (TLS lives in gpm/_tls.py).

Every socket is non-blocking.  An operation tries its syscall first; on
EAGAIN the goroutine parks on the netpoller (``_runtime.netpoll.PollDesc``)
until the fd is ready, its deadline passes (``Timeout``, a ``TimeoutError``)
or the conn/listener is closed (``ClosedError``, an ``OSError``), then
retries.  A peer reset raises ``ConnectionResetError``; EOF reads ``b""``.

Plain threads may use these objects too: they block their OS thread (in
``select.poll``, rechecking close and deadlines every 50 ms) instead of
parking.  Name resolution in ``dial``/``listen`` goes through
``gpm.syscall`` (literal IP addresses skip it).

Concurrency: one goroutine may read while another writes; two goroutines
waiting to read (or to write) the same fd at once is an error
(RuntimeError), as in trio, also between a Conn and a ``wait_read`` of its
fd (both use the fd's one PollDesc).  Conn state other than the poll
descriptor is written only by ``close`` (guarded by ``_lock``).

Errors: ``read(0)`` is a ValueError (``b""`` means EOF); an error raised by
``write`` carries ``written``, the bytes sent before it (Go's n); after
close, ``fileno()`` and the deadline setters raise ClosedError.

Example::

    def main():
        ln = gpm.net.listen("tcp", "127.0.0.1:0")
        gpm.go(lambda: serve(ln))
        with gpm.net.dial("tcp", "%s:%d" % ln.addr) as c:
            c.write(b"ping")
            assert c.read_exactly(4) == b"ping"
"""

import errno
import ipaddress
import os
import socket
import stat
from typing import Any, TypeVar, Union

from ._runtime.duration import check_opt_deadline, check_timeout
from ._runtime.locks import new_lock
from ._runtime.netpoll import pollopen, ClosedError, Timeout, wait_fd, maybe_yield, _MODE_R, _MODE_W, READY
from ._runtime.clock import nanotime
from ._runtime.syscall import syscall

# A Conn's or Listener's address: (host, port) for TCP, the path for "unix"
# (None for a Conn whose peer is gone before it was made).
_Addr = Union[tuple[str, int], str]

__all__ = ["listen", "dial", "Listener", "Conn", "wait_read", "wait_write", "ClosedError", "Timeout",
           "dial_tls", "listen_tls", "tls_client", "tls_server"]

_NETWORKS = {"tcp": socket.AF_UNSPEC, "tcp4": socket.AF_INET, "tcp6": socket.AF_INET6,
             "unix": socket.AF_UNIX}
_READ_MAX = 65536
_RECV_MAX = 1 << 22     # one read returns at most 4 MiB (recv allocates n bytes up front)


def _split_hostport(address: str) -> tuple[str, int]:
    if not isinstance(address, str):
        raise TypeError(f"gpm.net: address must be a str 'host:port', got {type(address).__name__}")
    if address.startswith("["):
        end = address.find("]")
        if end < 0 or address[end + 1:end + 2] != ":":
            raise ValueError(f"gpm.net: bad address {address!r}")
        host, port = address[1:end], address[end + 2:]
    else:
        host, sep, port = address.rpartition(":")
        if not sep:
            raise ValueError(f"gpm.net: missing port in address {address!r}")
        if ":" in host:
            raise ValueError(f"gpm.net: too many colons in address {address!r} (use [host]:port)")
    try:
        p = int(port) if port else 0
    except ValueError:
        p = socket.getservbyname(port, "tcp")
    if not 0 <= p <= 65535:
        raise ValueError(f"gpm.net: invalid port in address {address!r}")
    return host, p


def _resolve(network: str, address: str, passive: bool) -> list[tuple[int, Any]]:
    """[(family, sockaddr)] for a tcp address; DNS through gpm.syscall."""
    family = _NETWORKS.get(network)
    if family is None or network == "unix":
        raise ValueError(f"gpm.net: unknown network {network!r}")
    host, port = _split_hostport(address)
    if not host:
        if passive:
            fam = socket.AF_INET6 if family == socket.AF_INET6 else socket.AF_INET
            return [(fam, ("::" if fam == socket.AF_INET6 else "0.0.0.0", port))]
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        ip = None
    if ip is not None:
        fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        if family not in (socket.AF_UNSPEC, fam):
            raise ValueError(f"gpm.net: address {address!r} is not {network}")
        return [(fam, (host, port) if fam == socket.AF_INET else (host, port, 0, 0))]
    flags = socket.AI_PASSIVE if passive else 0
    infos = syscall(socket.getaddrinfo, host, port, family, socket.SOCK_STREAM, 0, flags)
    out: list[tuple[int, Any]] = [(fam, sa) for fam, _, _, _, sa in infos if fam in (socket.AF_INET, socket.AF_INET6)]
    if not out:
        raise OSError(errno.EADDRNOTAVAIL, f"gpm.net: no address for {host!r}")
    return out


def _addr(family: int, sa: Any) -> _Addr:
    if family == socket.AF_UNIX:
        return sa if isinstance(sa, str) else (sa.decode() if sa else "")
    return (sa[0], sa[1])


def _close_once(obj: "Conn | Listener") -> bool:
    """Close a Conn's or Listener's poll descriptor (waking its goroutines with
    ClosedError) and socket, once; False if it was already closed."""
    with obj._lock:
        if obj._closed:
            return False
        obj._closed = True
    obj._pd.close()
    obj._sock.close()
    return True


class Conn:
    """A connected stream socket.  Context manager; close() is idempotent."""

    __slots__ = ("_sock", "_fd", "_pd", "_family", "_lock", "_closed", "local_addr", "remote_addr")

    local_addr: _Addr
    remote_addr: _Addr | None

    def __init__(self, sock: socket.socket, _pd: Any = None) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._fd = sock.fileno()
        self._family = sock.family
        self._lock = new_lock("net")
        self._closed = False
        self.local_addr = _addr(sock.family, sock.getsockname())
        try:
            self.remote_addr = _addr(sock.family, sock.getpeername())
        except OSError:
            self.remote_addr = None
        self._pd = pollopen(sock) if _pd is None else _pd

    def fileno(self) -> int:
        """The socket's fd; ClosedError after close (the number may be reused)."""
        if self._closed:
            raise ClosedError()
        return self._fd

    def read(self, n: int = _READ_MAX) -> bytes:
        """Read up to ``n`` bytes (at most 4 MiB per call); ``b""`` at EOF.

        Parks while nothing is available.  ``n`` must be an int >= 1: a
        0-byte read would return ``b""``, which means EOF (ValueError).
        """
        n = _read_size(n)
        pd = self._pd
        recv = self._sock.recv
        parked = False
        if pd.rdrained and pd.rg is not READY and not pd.hup:
            # A recv here would only raise EAGAIN (an exception costs ~1 us;
            # ~10% of an echo round trip): park first.  pd.rdrained claims the
            # socket was seen empty and no read edge was consumed since (every
            # wait that consumes one clears it, whether or not a recv follows:
            # issue 8.1); any byte that arrived after the drain made an edge,
            # which is READY or wakes this wait.  A FIN or error that arrived
            # *before* the short read makes no new edge, but its edge set
            # pd.hup (sticky) first: then recv first, always.
            pd.prepare(_MODE_R)
            pd.wait(_MODE_R)
            parked = True
        while True:
            pd.prepare(_MODE_R)
            try:
                b = recv(n)
            except BlockingIOError:
                pd.wait(_MODE_R)
                parked = True
                continue
            except OSError:
                if pd.closing:
                    raise ClosedError() from None
                raise
            # A short read emptied the socket (TCP and unix stream recv copy
            # until the queue is empty or n is reached).  Written by the one
            # reader only (two readers of one conn are an error).
            pd.rdrained = 0 < len(b) < n
            if not parked:
                maybe_yield()
            return b

    def read_exactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes (``n`` >= 0); EOFError if the peer closes first."""
        n = _read_size(n, least=0, cap=False)
        chunks: list[bytes] = []
        got = 0
        while got < n:
            b = self.read(min(n - got, _READ_MAX))
            if not b:
                raise EOFError(f"gpm.net: EOF after {got} of {n} bytes")
            chunks.append(b)
            got += len(b)
        return b"".join(chunks)

    def write(self, data: "bytes | bytearray | memoryview") -> int:
        """Write all of ``data`` (parking while the socket buffer is full); returns len(data).

        An error after part of ``data`` went out (``Timeout`` past the write
        deadline, ``ClosedError``, ``ConnectionResetError``, ...) carries the
        number of bytes sent as its ``written`` attribute (Go's Write returns
        n with the error).
        """
        pd = self._pd
        send = self._sock.send
        view = memoryview(data).cast("B")
        total = len(view)
        off = 0
        parked = False
        try:
            while True:
                pd.prepare(_MODE_W)
                try:
                    off += send(view[off:] if off else view)
                except BlockingIOError:
                    pd.wait(_MODE_W)
                    parked = True
                    continue
                except OSError:
                    if pd.closing:
                        raise ClosedError() from None
                    raise
                if off >= total:
                    if not parked:
                        maybe_yield()
                    return total
        except OSError as e:
            e.written = off  # type: ignore[attr-defined]   # Go's n, documented above
            raise
        finally:
            view.release()

    def close_write(self) -> None:
        """Half-close: the peer reads EOF; reading here still works."""
        if self._pd.closing:
            raise ClosedError()
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            if self._pd.closing:
                raise ClosedError() from None
            raise

    def close(self) -> None:
        """Close; goroutines blocked on this conn get ClosedError.  Idempotent."""
        _close_once(self)

    def set_deadline(self, t: float | None) -> None:
        """Read and write deadline (time.monotonic() clock, or None).

        Raises TypeError/ValueError for a bad ``t`` (NaN, bool, str), ClosedError after close.
        """
        self._pd.set_deadline(2, check_opt_deadline(t, "gpm.net.Conn.set_deadline: t"))

    def set_read_deadline(self, t: float | None) -> None:
        self._pd.set_deadline(_MODE_R, check_opt_deadline(t, "gpm.net.Conn.set_read_deadline: t"))

    def set_write_deadline(self, t: float | None) -> None:
        self._pd.set_deadline(_MODE_W, check_opt_deadline(t, "gpm.net.Conn.set_write_deadline: t"))

    def __enter__(self) -> "Conn":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd={self._fd}"
        return f"<gpm.net.Conn {state} {self.local_addr!r} -> {self.remote_addr!r}>"


def _read_size(n: int, least: int = 1, cap: bool = True) -> int:
    """Validate a read size: an int >= ``least``, capped at _RECV_MAX if ``cap``."""
    if type(n) is not int:
        if isinstance(n, bool) or not hasattr(n, "__index__"):
            raise TypeError(f"gpm.net: read size n must be an int, got {type(n).__name__}")
        n = n.__index__()
    if n < least:
        raise ValueError(f"gpm.net: read size n must be >= {least}, got {n}"
                         + (" (a 0-byte read would look like EOF)" if least else ""))
    return _RECV_MAX if cap and n > _RECV_MAX else n


class Listener:
    """A listening socket.  Context manager; close() wakes a blocked accept with ClosedError."""

    __slots__ = ("_sock", "_pd", "_lock", "_closed", "_network", "_path", "addr")

    addr: _Addr

    def __init__(self, sock: socket.socket, network: str) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._lock = new_lock("net")
        self._closed = False
        self._network = network
        self.addr = _addr(sock.family, sock.getsockname())
        self._path: str | None = self.addr if network == "unix" else None  # type: ignore[assignment]
        self._pd = pollopen(sock)

    def fileno(self) -> int:
        """The socket's fd; ClosedError after close (the number may be reused)."""
        if self._closed:
            raise ClosedError()
        return self._sock.fileno()

    def accept(self) -> Conn:
        """Wait for a connection and return it as a Conn."""
        pd = self._pd
        accept = self._sock._accept  # type: ignore[attr-defined]  # (fd, addr): no socket object on EAGAIN
        family = self._sock.family
        parked = False
        while True:
            pd.prepare(_MODE_R)
            try:
                fd, _ = accept()
            except BlockingIOError:
                pd.wait(_MODE_R)
                parked = True
                continue
            except OSError as e:
                if pd.closing:
                    raise ClosedError() from None
                if e.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue
                raise
            s = socket.socket(family, socket.SOCK_STREAM, 0, fileno=fd)
            if family != socket.AF_UNIX:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                c = Conn(s)
            except BaseException:
                s.close()
                raise
            if not parked:
                maybe_yield()
            return c

    def close(self) -> None:
        """Stop listening; a goroutine blocked in accept gets ClosedError.  Idempotent."""
        if not _close_once(self):
            return
        if self._path:
            try:
                if stat.S_ISSOCK(os.stat(self._path).st_mode):
                    os.unlink(self._path)
            except OSError:
                pass

    def __enter__(self) -> "Listener":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<gpm.net.Listener {self._network} {self.addr!r}{' closed' if self._closed else ''}>"


def listen(network: str, address: str, backlog: int = 4096) -> Listener:
    """Listen on ``address`` ("host:port", "[::1]:0", or a path for "unix")."""
    return _listen(network, address, backlog, Listener)


_L = TypeVar("_L", bound="Listener")


def _listen(network: str, address: str, backlog: int, cls: type[_L]) -> _L:
    if network == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(address)
            s.listen(backlog)
            return cls(s, network)
        except BaseException:
            s.close()
            raise
    last: OSError | None = None
    for fam, sa in _resolve(network, address, True):
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6 and network == "tcp6":
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind(sa)
            s.listen(backlog)
            return cls(s, network)
        except BaseException as e:
            s.close()
            if not isinstance(e, OSError):
                raise
            last = e
    raise last  # type: ignore[misc]   # not None: _resolve returns at least one address


def dial(network: str, address: str, timeout: float | None = None) -> Conn:
    """Connect to ``address``; parks on the poller while connecting.

    ``timeout`` (seconds, None: no limit) bounds resolution and connect
    together; Timeout on expiry.  NaN, bool or str raise as for deadlines.
    """
    timeout = check_timeout(timeout, "gpm.net.dial: timeout")
    deadline = None if timeout is None else nanotime() + timeout
    targets: list[tuple[int, Any]]
    if network == "unix":
        targets = [(socket.AF_UNIX, address)]
    else:
        targets = _resolve(network, address, False)
    last: OSError | None = None
    for fam, sa in targets:
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            return _connect(s, fam, sa, deadline)
        except BaseException as e:
            s.close()
            if not isinstance(e, OSError) or isinstance(e, Timeout):
                raise
            last = e
    raise last  # type: ignore[misc]   # not None: targets is never empty


def _connect(s: socket.socket, fam: int, sa: Any, deadline: float | None) -> Conn:
    s.setblocking(False)
    if fam != socket.AF_UNIX:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pd = pollopen(s)                  # the Conn's own: one PollDesc per fd
    try:
        err = s.connect_ex(sa)
        if err in (errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY):
            pd.set_deadline(_MODE_W, deadline)
            while True:
                pd.prepare(_MODE_W)
                pd.wait(_MODE_W)
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err != 0 or _connected(s):
                    break
            pd.set_deadline(_MODE_W, None)
        if err not in (0, errno.EISCONN):
            raise OSError(err, f"dial {_addr(fam, sa)!r}: {os.strerror(err)}")
        return Conn(s, pd)
    except BaseException:
        pd.close()
        raise


def _connected(s: socket.socket) -> bool:
    try:
        s.getpeername()
        return True
    except OSError:
        return False


def wait_read(fd: "int | Any", deadline: float | None = None) -> None:
    """Park until the non-blocking ``fd`` is readable (or ``deadline`` passes: Timeout)."""
    wait_fd(_fileno(fd), _MODE_R, check_opt_deadline(deadline, "gpm.net.wait_read: deadline"))


def wait_write(fd: "int | Any", deadline: float | None = None) -> None:
    """Park until the non-blocking ``fd`` is writable (or ``deadline`` passes: Timeout)."""
    wait_fd(_fileno(fd), _MODE_W, check_opt_deadline(deadline, "gpm.net.wait_write: deadline"))


def _fileno(fd: Any) -> int:
    return fd if isinstance(fd, int) else fd.fileno()


# TLS (gpm/_tls.py) builds on the names above, so it is imported last.
from ._tls import dial_tls, listen_tls, tls_client, tls_server  # noqa: E402
