"""Run a scenario under gpm.monkey in a fresh interpreter (patching is process-global).

``run_patched(body)`` writes ``body`` (dedented) after a prelude that patches first thing
(``gpm.monkey.patch_all()`` unless ``patch`` says otherwise), runs it with ``sys.executable``
under a timeout and returns its stdout; a non-zero exit fails the test with the child's stderr.
Scripts report results with ``print``; helpers below are importable from the child too.
"""

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PRELUDE = """\
import gpm.monkey
{patch}
import sys
sys.path.insert(0, {root!r})
"""


def run_patched(body, *, patch="gpm.monkey.patch_all()", timeout=40, env=None, args=()):
    code = PRELUDE.format(patch=patch, root=ROOT) + textwrap.dedent(body)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                              timeout=timeout, env=full_env, cwd=ROOT)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise AssertionError(f"patched scenario hung for {timeout}s\nstdout:\n{out}\nstderr:\n{err}") from None
    if proc.returncode != 0:
        raise AssertionError(f"patched scenario failed (exit {proc.returncode})\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc.stdout


def lines(out):
    """The child's stdout as a dict of 'key value' lines (one print per result)."""
    res = {}
    for ln in out.splitlines():
        k, _, v = ln.partition(" ")
        res[k] = v
    return res
