"""Smoke test of an installed gpm wheel (run by tools/test_wheel.sh from a
temp dir, with the venv the wheel went into).

    python wheel_smoke.py SOURCE_ROOT

Checks that gpm comes from site-packages (not SOURCE_ROOT), that the version,
py.typed and license ship, runs a small program over the public API, then
every example in ./examples with small arguments.
"""

import importlib.metadata as md
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import gpm
import gpm.context
import gpm.debug
import gpm.net
import gpm.sync

ROOT = pathlib.Path(sys.argv[1]).resolve()
PKG = pathlib.Path(gpm.__file__).resolve().parent


def check_install():
    assert ROOT not in PKG.parents, f"gpm imported from the source tree: {PKG}"
    assert "site-packages" in PKG.parts, PKG
    assert md.version("gpm") == gpm.__version__, (md.version("gpm"), gpm.__version__)
    assert (PKG / "py.typed").exists(), "py.typed missing from the wheel"
    meta = md.metadata("gpm")
    assert meta["License-Expression"] == "MIT", meta["License-Expression"]
    assert any("3.13" in c for c in meta.get_all("Classifier")), "Python classifiers"
    files = {str(f) for f in md.files("gpm")}
    assert any(f.endswith("LICENSE") for f in files), "LICENSE missing"
    print(f"gpm {gpm.__version__} from {PKG}")


def program():
    def main():
        ch: gpm.Chan[int] = gpm.Chan(4)
        wg = gpm.sync.WaitGroup()
        for i in range(8):
            wg.go(ch.send, i)
        got = sorted(ch.recv() for _ in range(8))
        wg.wait()
        ctx, cancel = gpm.context.with_timeout(gpm.context.background(), 0.01)
        i, _ = gpm.select(ctx.done().recv, gpm.after(10).recv)
        cancel()
        ln = gpm.net.listen("tcp", "127.0.0.1:0")
        gpm.go(lambda: (lambda c: (c.write(c.read()), c.close()))(ln.accept()))
        c = gpm.net.dial("tcp", f"127.0.0.1:{ln.addr[1]}")
        c.write(b"ping")
        echoed = c.read_exactly(4)
        c.close()
        ln.close()
        return got, i, echoed, gpm.syscall(lambda: 6 * 7)

    got, i, echoed, answer = gpm.run(main, procs=2)
    assert got == list(range(8)) and i == 0 and echoed == b"ping" and answer == 42
    print("program: ok")


def run(args, timeout=120, **kw):
    t = time.perf_counter()
    p = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, **kw)
    if p.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    print(f"{' '.join(args)}: ok ({time.perf_counter() - t:.1f}s)")
    return p


def examples():
    ex = pathlib.Path("examples")
    seen = set()
    run([str(ex / "steal_demo.py"), "--procs", "2", "-n", "400"])
    run([str(ex / "c10k.py"), "-n", "200"])
    seen.update({"steal_demo.py", "c10k.py"})
    # echo server on a free loopback port; the client talks to it; Ctrl-C ends the server.
    srv = subprocess.Popen([sys.executable, str(ex / "echo_server.py"), "127.0.0.1:0", "--seconds", "60"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = srv.stdout.readline()
        m = re.search(r"on (127\.0\.0\.1):(\d+)", line)
        assert m, f"echo_server printed {line!r}"
        run([str(ex / "echo_client.py"), f"{m[1]}:{m[2]}", "-c", "4", "-n", "50"])
    finally:
        srv.send_signal(2)
        srv.wait(30)
    assert srv.returncode == 0, srv.stderr.read()
    seen.update({"echo_server.py", "echo_client.py"})
    for f in sorted(ex.glob("*.py")):          # every other example runs with no arguments
        if f.name not in seen:
            run([str(f)])


if __name__ == "__main__":
    os.environ.pop("PYTHONPATH", None)
    # Ctrl-C ends the echo server: it must not inherit an ignored SIGINT (a shell
    # without job control starts background commands so; SIG_IGN survives exec,
    # a handler does not).
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    check_install()
    program()
    examples()
    print("wheel smoke: ok")
