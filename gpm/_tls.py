"""TLS for gpm.net on ``ssl.MemoryBIO`` over the netpoller (Go's crypto/tls shape).

Public through gpm.net: dial_tls listen_tls tls_client tls_server.

A TLS conn (``TLSConn``, a ``gpm.net.Conn``) takes over a plain Conn's socket
and PollDesc and runs an ``ssl.SSLObject`` between two memory BIOs: the
ciphertext moves with the plain Conn's read/write, which park on the
netpoller and honour its deadlines, so there is no thread per connection
and a slow peer parks only the goroutine that talks to it.  The handshake
runs on the first read, write or close_write, or on ``handshake()``; an
accepted conn returns from ``accept`` before it, so a silent or bad client
never blocks ``accept``.  Its errors are the ``ssl`` module's
(``ssl.SSLCertVerificationError`` for a bad certificate) and are sticky, as
in Go: a failed handshake fails every later operation the same way.

Locks (never held across a park; all OpenSSL calls on one conn are
serialized, because an SSLObject is not safe for concurrent use):
  _hsmu   gpm.sync.Mutex: the handshake.  Held by the goroutine running it
          (which parks in the plain read/write meanwhile); everyone else
          waits on it until ``_hs_done``.  SSLContext callbacks (SNI) run
          under it, in the handshaking goroutine, and may park.
  _wmu    gpm.sync.Mutex: the send side.  Held by a write for its whole
          length (writes are atomic, as Go's), and by anyone who moves
          ciphertext from the outgoing BIO to the socket (``_flush``), so the
          records go out in the order OpenSSL made them.
  _mu     a thread lock: held only around SSLObject/BIO calls once the
          handshake is done (CPU only, no park, no user code).
  Lock order: _hsmu > _wmu > _mu.

Field guards:
  _obj _in _out _server_side   set once in __init__
  _hs_done    set True once under _mu (after the handshake, with _hsmu held);
              read racily as a fast path: a stale False goes to _hsmu
  _hserr      under _hsmu: the handshake's exception, re-raised by later calls
  _werr       under _wmu: the exception of a failed send of ciphertext (a
              record went out in part or not at all, so the stream is
              corrupt: Go makes a write timeout permanent too)
  _wclosed    under _wmu: close_notify was sent

EOF: a close_notify, or a TCP EOF without one (a "ragged" EOF, tolerated as
the stdlib's ``suppress_ragged_eofs`` does), reads ``b""``.
"""

import copy
import errno
import ssl
from typing import Any

from ._runtime.duration import check_timeout
from ._runtime.locks import new_lock
from ._runtime.clock import nanotime
from .net import Conn, Listener, ClosedError, dial, _listen, _read_size, _split_hostport, _close_once
from .sync import Mutex

__all__ = ["TLSConn", "TLSListener", "dial_tls", "listen_tls", "tls_client", "tls_server"]

_CT_READ = 1 << 18          # ciphertext read from the socket at once (up to 16 TLS records)
_PT_CHUNK = 1 << 16         # plaintext encrypted and sent per step of a write

_SSLWantRead = ssl.SSLWantReadError
_SSLZeroReturn = ssl.SSLZeroReturnError
_SSLEOF = ssl.SSLEOFError

def _check_context(context: ssl.SSLContext | None, name: str, required: bool) -> ssl.SSLContext:
    if context is None:
        if required:
            raise TypeError(f"gpm.net.{name}: context must be an ssl.SSLContext, got None")
        return ssl.create_default_context()
    if not isinstance(context, ssl.SSLContext):
        raise TypeError(f"gpm.net.{name}: context must be an ssl.SSLContext, got {type(context).__name__}")
    return context


def _check_hostname(server_hostname: str | None, name: str) -> str | None:
    if server_hostname is not None and not isinstance(server_hostname, str):
        raise TypeError(f"gpm.net.{name}: server_hostname must be a str or None, "
                        f"got {type(server_hostname).__name__}")
    return server_hostname


def _new_client_obj(context: ssl.SSLContext, server_hostname: str | None,
                    name: str) -> tuple[ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO]:
    """The client SSLObject and its BIOs; nothing happens on the wire."""
    if server_hostname is None and context.check_hostname:
        raise ValueError(f"gpm.net.{name}: server_hostname is required when context.check_hostname "
                         f"is set (Go: either ServerName or InsecureSkipVerify)")
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    return context.wrap_bio(inc, out, server_side=False, server_hostname=server_hostname), inc, out


def _check_conn(conn: object, name: str) -> None:
    if not isinstance(conn, Conn) or isinstance(conn, TLSConn):
        raise TypeError(f"gpm.net.{name}: conn must be a plain gpm.net.Conn, got {type(conn).__name__}")
    if conn._closed or conn._pd.closing:      # closed itself, or through a TLS conn over it
        raise ClosedError()


class TLSConn(Conn):
    """A TLS connection: a gpm.net.Conn plus handshake(), cipher(), version(),
    getpeercert(), selected_alpn_protocol().  Made by dial_tls, listen_tls's
    accept, tls_client and tls_server."""

    __slots__ = ("_obj", "_in", "_out", "_server_side", "_mu", "_wmu", "_hsmu", "_hs_done",
                 "_hserr", "_werr", "_wclosed")

    def __init__(self, conn: Conn, obj: ssl.SSLObject, inc: ssl.MemoryBIO, out: ssl.MemoryBIO,
                 server_side: bool) -> None:
        # Take over the plain conn's socket and PollDesc (Go's tls.Client(conn)
        # wraps; the plain conn must not be used directly afterwards).
        self._sock = conn._sock
        self._fd = conn._fd
        self._pd = conn._pd
        self._family = conn._family
        self.local_addr = conn.local_addr
        self.remote_addr = conn.remote_addr
        self._lock = new_lock()
        self._closed = False
        self._obj = obj
        self._in = inc
        self._out = out
        self._server_side = server_side
        self._mu = new_lock()
        self._wmu = Mutex()
        self._hsmu = Mutex()
        self._hs_done = False
        self._hserr: BaseException | None = None
        self._werr: BaseException | None = None
        self._wclosed = False

    # -- handshake ------------------------------------------------------

    def handshake(self) -> None:
        """Run the TLS handshake now if it has not run (the conn's deadlines apply).

        Raises the ssl module's errors (ssl.SSLCertVerificationError for a
        bad certificate), Timeout or ClosedError; a failed handshake fails
        every later call the same way.
        """
        if self._hs_done:
            return
        hsmu = self._hsmu
        hsmu.lock()
        try:
            if self._hs_done:
                return  # type: ignore[unreachable]   # set by another caller while this one waited for _hsmu
            if self._hserr is not None:
                raise self._hserr
            try:
                self._handshake()
            except BaseException as e:
                if isinstance(e, Exception):
                    self._hserr = e
                raise
            self._mu.acquire()
            self._hs_done = True
            self._mu.release()
        finally:
            hsmu.unlock()

    def _handshake(self) -> None:
        """Requires _hsmu held (so nobody else touches the SSLObject)."""
        obj = self._obj
        while True:
            try:
                obj.do_handshake()
                break
            except _SSLWantRead:
                self._flush()
                self._feed(Conn.read(self, _CT_READ))
            except ssl.SSLError:
                try:                          # tell the peer why (the alert), best effort
                    self._flush()
                except OSError:
                    pass
                raise
        self._flush()                         # the last flight (client Finished, tickets)

    def _feed(self, ct: bytes) -> None:
        """Give ciphertext (b"": the peer's EOF) to the SSLObject."""
        mu = self._mu
        mu.acquire()
        try:
            if ct:
                self._in.write(ct)
            else:
                self._in.write_eof()
        finally:
            mu.release()

    # -- sending ciphertext ------------------------------------------------

    def _flush(self) -> None:
        """Send everything in the outgoing BIO, in order (the handshake's flights)."""
        self._wmu.lock()
        try:
            self._flush_locked()
        finally:
            self._wunlock()

    def _flush_nowait(self) -> None:
        """Send what a read left in the outgoing BIO (a KeyUpdate response, an
        alert), unless _wmu is held: its holder sends it in ``_wunlock``.

        A reader must not wait for _wmu: a writer holds it while parked on a
        full socket, and when both peers do that, only their readers (which
        drain the buffers) can get them going again.  A send error is kept in
        _werr (every later write raises it), not raised to the reader.
        """
        if self._wmu.try_lock():
            try:
                self._flush_locked()
            except OSError:
                pass
            finally:
                self._wunlock()

    def _wunlock(self) -> None:
        """Release _wmu; then send what a reader queued meanwhile.

        No output is stranded: a reader queues (under _mu) before its
        try_lock, so if its try_lock failed, the holder's release comes after
        the queueing and the recheck below, made after the release, sees it
        (or the next holder does).
        """
        wmu, mu, out = self._wmu, self._mu, self._out
        while True:
            wmu.unlock()
            mu.acquire()
            pending = out.pending
            mu.release()
            if not pending or self._werr is not None or not wmu.try_lock():
                return
            try:
                self._flush_locked()
            except OSError:
                pass                      # kept in _werr: the next write raises it

    def _flush_locked(self) -> None:
        """Requires _wmu held."""
        mu, out = self._mu, self._out
        while True:
            mu.acquire()
            try:
                data = out.read()
            finally:
                mu.release()
            if not data:
                return
            try:
                Conn.write(self, data)
            except OSError as e:
                self._werr = e            # a record went out in part, or not at all: corrupt
                raise

    # -- the Conn API ------------------------------------------------------

    def read(self, n: int = 65536) -> bytes:
        """Read up to ``n`` bytes of plaintext; ``b""`` at EOF (close_notify or TCP EOF)."""
        n = _read_size(n)
        if not self._hs_done:
            self.handshake()
        mu, obj, out = self._mu, self._obj, self._out
        while True:
            chunks = []
            got = 0
            mu.acquire()
            try:
                # Decrypt what the BIO holds, up to n (one SSL_read returns one record).
                while got < n:
                    try:
                        b = obj.read(n - got)
                    except _SSLWantRead:
                        break
                    except (_SSLZeroReturn, _SSLEOF):
                        b = b""
                    if not b:
                        # EOF: the peer's close_notify (b"" or SSLZeroReturnError) or
                        # a TCP EOF without one (SSLEOFError).  b"" now (unless data
                        # came first) and on every later read.
                        if not got:
                            chunks.append(b"")
                        break
                    chunks.append(b)
                    got += len(b)
                pending = out.pending
            finally:
                mu.release()
            if pending:
                self._flush_nowait()       # e.g. a TLS 1.3 KeyUpdate response
            if chunks:
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            self._feed(Conn.read(self, _CT_READ))

    def write(self, data: "bytes | bytearray | memoryview") -> int:
        """Encrypt and send all of ``data``; returns len(data).

        As Conn.write, an error carries ``written`` (plaintext bytes whose
        records were sent whole); after an error in mid-record (a write
        timeout) every later write fails the same way (Go).
        """
        view = memoryview(data).cast("B")
        try:
            if not self._hs_done:
                self.handshake()
            total = len(view)
            wmu = self._wmu
            wmu.lock()
            try:
                if self._werr is not None:
                    e = copy.copy(self._werr)
                    e.written = 0  # type: ignore[attr-defined]
                    raise e
                if self._wclosed:
                    raise BrokenPipeError(errno.EPIPE, "tls: protocol is shutdown (close_write)")
                mu, obj = self._mu, self._obj
                off = 0
                try:
                    while off < total:
                        chunk = view[off:off + _PT_CHUNK]
                        mu.acquire()
                        try:
                            obj.write(chunk)
                        finally:
                            mu.release()
                            chunk.release()
                        self._flush_locked()
                        off += min(_PT_CHUNK, total - off)
                except OSError as e:
                    e.written = off  # type: ignore[attr-defined]  # _flush_locked made a send failure permanent
                    raise
                return total
            finally:
                self._wunlock()
        finally:
            view.release()

    def close_write(self) -> None:
        """Send close_notify (TLS's half-close; the peer reads EOF).  Reading still works.

        Runs the handshake first if it has not run.  The TCP connection
        stays open both ways (Go's tls.Conn.CloseWrite).
        """
        if self._pd.closing:
            raise ClosedError()
        if not self._hs_done:
            self.handshake()
        wmu = self._wmu
        wmu.lock()
        try:
            if self._wclosed:
                return
            self._unwrap()
            self._wclosed = True
            self._flush_locked()
        finally:
            self._wunlock()

    def _unwrap(self) -> None:
        """Queue close_notify in the outgoing BIO."""
        mu = self._mu
        mu.acquire()
        try:
            self._obj.unwrap()
        except _SSLWantRead:
            pass                            # sent; the peer's close_notify is not awaited
        finally:
            mu.release()

    def close(self) -> None:
        """Send close_notify if it can go out at once, then close.  Idempotent.

        Never parks: goroutines blocked on the conn get ClosedError.
        """
        if self._closed:
            return
        if self._hs_done and self._wmu.try_lock():
            try:
                if not self._wclosed and self._werr is None:
                    self._unwrap()
                    self._wclosed = True
                    mu = self._mu
                    mu.acquire()
                    try:
                        data = self._out.read()
                    finally:
                        mu.release()
                    try:
                        self._sock.send(data)   # non-blocking: a full buffer just drops it
                    except OSError:
                        pass
            except ssl.SSLError:
                pass
            finally:
                self._wmu.unlock()
        _close_once(self)

    # -- TLS state ---------------------------------------------------------

    def cipher(self) -> tuple[str, str, int] | None:
        """(name, protocol, secret bits) of the negotiated cipher, None before the handshake."""
        return self._obj.cipher()

    def version(self) -> str | None:
        """The negotiated protocol ("TLSv1.3", ...), None before the handshake."""
        return self._obj.version()

    def getpeercert(self, binary_form: bool = False) -> Any:
        """The peer's certificate (ssl.SSLSocket.getpeercert); ValueError before the handshake."""
        return self._obj.getpeercert(binary_form)

    def selected_alpn_protocol(self) -> str | None:
        return self._obj.selected_alpn_protocol()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd={self._fd}"
        side = "server" if self._server_side else "client"
        return f"<gpm.net.TLSConn {side} {state} {self.local_addr!r} -> {self.remote_addr!r}>"


def tls_client(conn: Conn, context: ssl.SSLContext | None = None,
               server_hostname: str | None = None) -> TLSConn:
    """Wrap a plain Conn as the client side of TLS (Go's tls.Client).

    ``context`` defaults to ``ssl.create_default_context()``, which checks the
    certificate against ``server_hostname`` (required then).  The handshake
    runs on first use or on ``handshake()``.
    """
    context = _check_context(context, "tls_client", False)
    server_hostname = _check_hostname(server_hostname, "tls_client")
    _check_conn(conn, "tls_client")
    obj, inc, out = _new_client_obj(context, server_hostname, "tls_client")
    return TLSConn(conn, obj, inc, out, False)


def tls_server(conn: Conn, context: ssl.SSLContext) -> TLSConn:
    """Wrap a plain Conn as the server side of TLS (Go's tls.Server)."""
    context = _check_context(context, "tls_server", True)
    _check_conn(conn, "tls_server")
    return _server_conn(conn, context)


def _server_conn(conn: Conn, context: ssl.SSLContext) -> TLSConn:
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    return TLSConn(conn, context.wrap_bio(inc, out, server_side=True), inc, out, True)


def dial_tls(network: str, address: str, context: ssl.SSLContext | None = None,
             server_hostname: str | None = None, timeout: float | None = None) -> TLSConn:
    """Dial, then run the TLS client handshake (Go's tls.Dial / DialWithDialer).

    ``timeout`` bounds dial and handshake together.  ``server_hostname``
    defaults to the host part of ``address`` (for "unix" it must be given
    when the context checks host names).
    """
    context = _check_context(context, "dial_tls", False)
    server_hostname = _check_hostname(server_hostname, "dial_tls")
    timeout = check_timeout(timeout, "gpm.net.dial_tls: timeout")
    if server_hostname is None and network != "unix":
        server_hostname = _split_hostport(address)[0] or None
    # Make the SSLObject first: a bad context/hostname fails before any connect.
    obj, inc, out = _new_client_obj(context, server_hostname, "dial_tls")
    deadline = None if timeout is None else nanotime() + timeout
    conn = dial(network, address, timeout=timeout)
    try:
        c = TLSConn(conn, obj, inc, out, False)
        if deadline is not None:
            c.set_deadline(deadline)
        c.handshake()
        if deadline is not None:
            c.set_deadline(None)
        return c
    except BaseException:
        conn.close()
        raise


class TLSListener(Listener):
    """A Listener whose accept returns TLS server conns (handshake deferred)."""

    __slots__ = ("_ctx",)       # set once by listen_tls
    _ctx: ssl.SSLContext

    def accept(self) -> TLSConn:
        """Accept a connection and return it as a TLS server Conn at once;
        the handshake runs on its first read or write (or handshake())."""
        c = Listener.accept(self)
        try:
            return _server_conn(c, self._ctx)
        except BaseException:
            c.close()
            raise

    def __repr__(self) -> str:
        return "<gpm.net.TLSListener" + Listener.__repr__(self)[len("<gpm.net.Listener"):]




def listen_tls(network: str, address: str, context: ssl.SSLContext, backlog: int = 4096) -> "TLSListener":
    """Listen like gpm.net.listen; ``accept()`` returns TLS server conns."""
    context = _check_context(context, "listen_tls", True)
    ln = _listen(network, address, backlog, TLSListener)
    ln._ctx = context
    return ln
