"""py-spy sees gpm's named M threads and the goroutine running on each (API.md)."""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

PROG = textwrap.dedent("""
    import hashlib, gpm
    buf = b"x" * (1 << 20)

    def spin_hash_goroutine():
        print("ready", flush=True)
        while True:
            hashlib.sha256(buf).digest()

    def main():
        gpm.go(gpm.sleep, 3600)
        gpm.go(spin_hash_goroutine).join()

    gpm.run(main, procs=2)
""")


def _py_spy():
    exe = os.path.join(os.path.dirname(sys.executable), "py-spy")
    if os.path.exists(exe):
        return exe
    return shutil.which("py-spy")


def test_py_spy_dump_shows_m_threads_and_running_goroutine(tmp_path):
    spy = _py_spy()
    if spy is None:
        pytest.skip("py-spy is not installed (pip install py-spy)")
    prog = tmp_path / "spy_target.py"
    prog.write_text(PROG)
    with subprocess.Popen([sys.executable, str(prog)], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True) as proc:
        try:
            assert proc.stdout.readline().strip() == "ready"
            dump = subprocess.run([spy, "dump", "--pid", str(proc.pid)], capture_output=True,
                                  text=True, timeout=30)
        finally:
            proc.kill()
            proc.wait(10)
    if dump.returncode != 0:
        msg = (dump.stderr + dump.stdout).lower()
        if "permission" in msg or "ptrace" in msg or "operation not permitted" in msg:
            pytest.skip(f"py-spy cannot attach (ptrace not permitted here): {dump.stderr.strip()}")
        pytest.fail(f"py-spy dump failed: {dump.stderr}")
    out = dump.stdout
    out = out[out.index("\nThread "):]          # the threads, not the process header
    assert '"gpm-M0"' in out and '"gpm-M1"' in out, out
    assert "spin_hash_goroutine (spy_target.py:" in out, out
    # The running goroutine's chain ends at the worker greenlet's first frame.
    block = out.split("spin_hash_goroutine", 1)[1].split("Thread ", 1)[0]
    assert "gmain" in block, out
