"""Default procs like Go 1.25: CPUs this process may use, capped by the
cgroup v2 CPU quota (rounded up, at least 1); GPM_MAXPROCS wins."""

import os
import subprocess
import sys

import pytest

import gpm
from tests.support import available_cpus, cgroup_cpu_limit, default_procs


def _cpu_max(tmp_path, text):
    p = tmp_path / "cpu.max"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("text, want", [
    ("max 100000\n", None),            # no limit
    ("200000 100000\n", 2),
    ("150000 100000\n", 2),            # 1.5 CPUs rounds up
    ("50000 100000\n", 1),             # half a CPU: at least 1
    ("1 100000\n", 1),
    ("400000 100000", 4),              # no trailing newline
    ("", None), ("garbage", None), ("x 100000", None), ("100000 0", None), ("-1 100000", None),
])
def test_cgroup_cpu_limit_parses_cpu_max(tmp_path, text, want):
    assert cgroup_cpu_limit(_cpu_max(tmp_path, text)) == want


def test_cgroup_cpu_limit_missing_file(tmp_path):
    assert cgroup_cpu_limit(str(tmp_path / "absent")) is None


def test_available_cpus_follows_the_affinity_mask():
    if hasattr(os, "process_cpu_count"):
        assert available_cpus() == os.process_cpu_count()
    else:
        assert available_cpus() == len(os.sched_getaffinity(0))


def test_quota_caps_the_default(tmp_path, monkeypatch):
    monkeypatch.delenv("GPM_MAXPROCS", raising=False)
    n = available_cpus()
    assert default_procs(_cpu_max(tmp_path, "max 100000")) == n
    assert default_procs(_cpu_max(tmp_path, "50000 100000")) == 1
    assert default_procs(_cpu_max(tmp_path, f"{(n + 8) * 100000} 100000")) == n   # a cap, never a raise
    assert default_procs(str(tmp_path / "absent")) == n


def test_gpm_maxprocs_wins_over_the_quota(tmp_path, monkeypatch):
    monkeypatch.setenv("GPM_MAXPROCS", "3")
    assert default_procs(_cpu_max(tmp_path, "100000 100000")) == 3
    monkeypatch.setenv("GPM_MAXPROCS", "0")
    with pytest.raises(ValueError, match="GPM_MAXPROCS"):
        default_procs()


_AFFINITY_PROG = r"""
import os, gpm
os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
print(gpm.run(gpm.gomaxprocs))
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_run_default_uses_the_affinity_mask():
    env = {k: v for k, v in os.environ.items() if k != "GPM_MAXPROCS"}
    p = subprocess.run([sys.executable, "-c", _AFFINITY_PROG], env=env, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "1"


def test_run_default_is_default_procs(monkeypatch):
    monkeypatch.delenv("GPM_MAXPROCS", raising=False)
    assert gpm.run(gpm.gomaxprocs) == default_procs()
