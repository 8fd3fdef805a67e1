"""Test certificates: trustme when it is installed, else the same subset of its API made with the
openssl command line (trustme needs `cryptography`, which has no build for every interpreter the
suite runs on, e.g. the free-threaded 3.13t of `make test-ft`).

Used subset: ``CA()``, ``ca.issue_cert(*names).configure_cert(ctx)``, ``ca.configure_trust(ctx)``,
``ca.cert_pem.write_to_path(path)``.  Every file lives in a private temporary folder.
"""

import ipaddress
import os
import shutil
import subprocess
import tempfile

import pytest


class _Blob:
    def __init__(self, data):
        self._data = data

    def bytes(self):
        return self._data

    def write_to_path(self, path):
        with open(path, "wb") as f:
            f.write(self._data)


class _LeafCert:
    def __init__(self, cert_path, key_path):
        self._cert, self._key = cert_path, key_path

    def configure_cert(self, ctx):
        ctx.load_cert_chain(self._cert, self._key)


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {r.stderr.decode(errors='replace')}")


class OpenSSLCA:
    """A throwaway CA (EC P-256 keys, 1 day) made with the openssl command line."""

    def __init__(self):
        self._dir = tempfile.mkdtemp(prefix="gpm-test-ca-")
        self._n = 0
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
                 "-subj", "/O=gpm tests/CN=gpm test CA",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self._dir)
        with open(os.path.join(self._dir, "ca.pem"), "rb") as f:
            self.cert_pem = _Blob(f.read())

    def configure_trust(self, ctx):
        ctx.load_verify_locations(cadata=self.cert_pem.bytes().decode())

    def issue_cert(self, *names):
        if not names:
            raise ValueError("issue_cert: names must not be empty")
        sans = []
        for n in names:
            try:
                ipaddress.ip_address(n)
                sans.append(f"IP:{n}")
            except ValueError:
                sans.append(f"DNS:{n}")
        self._n += 1
        leaf = f"leaf{self._n}"
        ext = os.path.join(self._dir, f"{leaf}.ext")
        with open(ext, "w") as f:
            f.write(f"subjectAltName={','.join(sans)}\nbasicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth,clientAuth\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", f"{leaf}.key", "-out", f"{leaf}.csr", "-subj", f"/O=gpm tests/CN={names[0]}",
                 cwd=self._dir)
        _openssl("x509", "-req", "-in", f"{leaf}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", f"{leaf}.pem", cwd=self._dir)
        return _LeafCert(os.path.join(self._dir, f"{leaf}.pem"), os.path.join(self._dir, f"{leaf}.key"))


def CA():
    """trustme.CA() if trustme imports, else an OpenSSLCA; skips the test when neither is available."""
    try:
        import trustme
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither trustme nor the openssl command line is available for test certificates")
        return OpenSSLCA()
    return trustme.CA()
