"""Fixtures for the gpm.monkey real-peer tests."""

import os
import shutil
import socket
import subprocess
import time

import pytest


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_server(tmp_path):
    """A real redis-server on a free loopback port, in a temp dir; yields the port, then stops it.

    Skipped when the binary is missing (.ci/run installs the Debian package redis-server).
    """
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does it)")
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path), "--save", "",
         "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes", "--logfile",
         os.path.join(tmp_path, "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (tmp_path / "redis.log").read_text() if (tmp_path / "redis.log").exists() else ""
                pytest.fail(f"redis-server did not start on port {port}: {log[-2000:]}")
            time.sleep(0.05)    # polling a starting server process, not synchronizing goroutines
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
