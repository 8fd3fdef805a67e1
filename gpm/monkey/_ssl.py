"""gpm.monkey ssl item: ``SSLContext.wrap_socket`` returns sockets whose TLS I/O parks.

``SSLSocket`` here is the original ``ssl.SSLSocket`` on top of the patched socket
(``gpm.monkey._socket.socket``): the C-level socket has timeout 0, so ``_ssl`` never waits
itself and raises ``SSLWantReadError``/``SSLWantWriteError`` instead; the methods that call the
SSL object (``read``, ``write``, ``send``, ``do_handshake``, ``unwrap``) wait for the fd in the
direction OpenSSL asked for (a goroutine parks on the netpoller, a plain thread blocks in poll)
until the user's timeout, then retry.  With timeout 0.0 the Want errors reach the caller, as
with the original non-blocking SSLSocket.  Timeouts raise ``TimeoutError`` with ``_ssl``'s
messages ("The read operation timed out", ...).  Everything else (SNI callbacks, getpeercert,
ALPN, sessions, certificate errors) is the original code.
"""

import ssl as _ssl

from greenlet import getcurrent

from ._fdwait import WorkerGreenlet as _WG, thread_wait, MODE_R, MODE_W, nanotime
from ._registry import patch_attr
from ._socket import socket as _gsocket

__all__ = ["SSLSocket", "patch"]

_OrigSSLSocket = _ssl.SSLSocket
_WantRead = _ssl.SSLWantReadError
_WantWrite = _ssl.SSLWantWriteError
_SSLError = _ssl.SSLError
_SSL_ERROR_EOF = _ssl.SSL_ERROR_EOF

_READ_MSG = "The read operation timed out"
_WRITE_MSG = "The write operation timed out"
_HANDSHAKE_MSG = "The handshake operation timed out"


class SSLSocket(_OrigSSLSocket, _gsocket):
    """ssl.SSLSocket whose blocking TLS operations park inside goroutines."""

    def _sslcall(self, fn, args, tmsg, timeout=False):
        """Call ``fn(*args)`` of the SSL object, waiting as OpenSSL asks until the timeout."""
        t = self._gto if timeout is False else timeout
        try:
            return fn(*args)
        except _WantRead:
            if t == 0.0:
                raise
            mode = MODE_R
        except _WantWrite:
            if t == 0.0:
                raise
            mode = MODE_W
        deadline = None if t is None else nanotime() + t
        goroutine = type(getcurrent()) is _WG
        while True:
            if goroutine:
                w = self._waiter()
                mu = w.mu[mode]
                mu.lock()
                try:
                    w.park(mode, deadline, tmsg)
                finally:
                    mu.unlock()
            elif not thread_wait(self.fileno(), mode, deadline):
                raise TimeoutError(tmsg)
            try:
                return fn(*args)
            except _WantRead:
                mode = MODE_R
            except _WantWrite:
                mode = MODE_W

    def read(self, len=1024, buffer=None):
        self._checkClosed()
        sslobj = self._sslobj
        if sslobj is None:
            raise ValueError("Read on closed or unwrapped SSL socket.")
        try:
            if buffer is not None:
                return self._sslcall(sslobj.read, (len, buffer), _READ_MSG)
            return self._sslcall(sslobj.read, (len,), _READ_MSG)
        except _SSLError as x:
            if x.args[0] == _SSL_ERROR_EOF and self.suppress_ragged_eofs:
                return 0 if buffer is not None else b""
            raise

    def write(self, data):
        self._checkClosed()
        sslobj = self._sslobj
        if sslobj is None:
            raise ValueError("Write on closed or unwrapped SSL socket.")
        return self._sslcall(sslobj.write, (data,), _WRITE_MSG)

    def send(self, data, flags=0):
        self._checkClosed()
        sslobj = self._sslobj
        if sslobj is None:
            return _gsocket.send(self, data, flags)
        if flags != 0:
            raise ValueError("non-zero flags not allowed in calls to send() on %s" % self.__class__)
        return self._sslcall(sslobj.write, (data,), _WRITE_MSG)

    def do_handshake(self, block=False):
        self._check_connected()
        t = self._gto
        if t == 0.0 and block:
            t = None
        self._sslcall(self._sslobj.do_handshake, (), _HANDSHAKE_MSG, t)

    def unwrap(self):
        sslobj = self._sslobj
        if not sslobj:
            raise ValueError("No SSL wrapper around " + str(self))
        s = self._sslcall(sslobj.shutdown, (), _READ_MSG)
        self._sslobj = None
        return s


SSLSocket.__doc__ = _OrigSSLSocket.__doc__
SSLSocket.__module__ = "ssl"


def patch():
    # ssl.SSLSocket itself stays: SSLSocket._create calls super(ssl.SSLSocket, self).__init__,
    # which must skip the original class's raising __init__.  isinstance(s, ssl.SSLSocket) holds.
    patch_attr(_ssl.SSLContext, "sslsocket_class", SSLSocket, name="ssl.SSLContext")
