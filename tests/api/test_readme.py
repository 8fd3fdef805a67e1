"""The README's Python code blocks run as written.

Every fenced block whose info string is ``python`` runs in a fresh
interpreter; a fragment not meant to run says so with ``python norun``.
"""

import pathlib
import re

import pytest

from tests.support import run_prog

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```\s*$", re.M | re.S)


def blocks():
    out = []
    text = README.read_text()
    for m in FENCE.finditer(text):
        info = m.group(1).split()
        if info and info[0] == "python" and "norun" not in info[1:]:
            line = text.count("\n", 0, m.start()) + 1
            out.append(pytest.param(m.group(2), id=f"README.md:{line}"))
    return out


def test_readme_has_a_runnable_example_on_its_first_screen():
    first = blocks()[0]
    assert first.id is not None and int(first.id.split(":")[1]) < 40


@pytest.mark.parametrize("src", blocks())
def test_readme_block_runs(src):
    p = run_prog(src, timeout=30)          # a block that waits for input must be marked norun
    assert p.returncode == 0, p.stdout + p.stderr
