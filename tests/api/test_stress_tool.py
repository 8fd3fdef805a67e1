"""python -m gpm.stress: every goroutine runs exactly once, the report adds up."""

import json
import os
import subprocess
import sys

import pytest

from gpm import stress


def _check(res, n, procs):
    assert res["executed_once"], res
    assert res["goroutines"] == n == res["ran_once"]
    assert res["never_ran"] == 0 and res["ran_more_than_once"] == 0
    per_p = res["per_p"]
    assert [p["p"] for p in per_p] == list(range(procs))
    assert sum(p["goroutines"] for p in per_p) == n
    assert abs(sum(p["share"] for p in per_p) - 1.0) < 1e-9
    assert 1.0 / procs - 1e-9 <= res["jain_index"] <= 1.0 + 1e-9
    w = res["wait_ms"]
    assert 0.0 <= w["p50"] <= w["p99"] <= w["max"]
    for p in per_p:
        assert p["executed"] >= p["goroutines"]          # every G run there was executed there
        assert p["runq_max"] >= 0 and 0 <= p["steals"] <= p["stolen"]   # a steal takes >= 1 G
    assert sum(p["spawned"] for p in per_p) >= n


@pytest.mark.parametrize("work,spawn", [
    ("hash", "one"), ("cpu", "all"), ("sleep", "bursty"), ("cpu", "one"),
])
def test_run_stress_exactly_once(work, spawn):
    n = 400
    res = stress.run_stress(2, n, work, spawn, hash_bytes=16384, cpu_iters=200, sleep_ms=0.5,
                            burst=64, gap_ms=1.0)
    _check(res, n, 2)
    assert res["config"]["work"] == work and res["config"]["spawn"] == spawn


def test_run_stress_pingpong():
    res = stress.run_stress(2, 40, "pingpong", "all", rounds=20)
    _check(res, 40, 2)


def test_run_stress_one_proc_is_trivially_fair():
    res = stress.run_stress(1, 100, "cpu", "one", cpu_iters=10)
    _check(res, 100, 1)
    assert res["jain_index"] == 1.0
    assert res["per_p"][0]["goroutines"] == 100 and res["per_p"][0]["stolen"] == 0


def test_progress_callback_reaches_total():
    seen = []
    stress.run_stress(2, 200, "sleep", "one", sleep_ms=0.2, progress=lambda d, t, e: seen.append((d, t)))
    assert seen and seen[-1] == (200, 200)
    assert all(0 <= d <= t for d, t in seen)


def test_jain_index():
    assert stress.jain_index([5, 5, 5, 5]) == 1.0
    assert stress.jain_index([10, 0]) == 0.5
    assert abs(stress.jain_index([3, 1]) - 16 / 20) < 1e-12
    assert stress.jain_index([]) == 1.0


def _run_tool(*args, env=None):
    e = dict(os.environ)
    e.pop("GPM_DEBUG", None)
    if env:
        e.update(env)
    return subprocess.run([sys.executable, "-m", "gpm.stress", *args], capture_output=True,
                          text=True, timeout=60, env=e)


def test_cli_json_every_goroutine_once():
    p = _run_tool("--procs", "2", "-n", "500", "--work", "hash", "--hash-bytes", "8192", "--json")
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    _check(res, 500, 2)
    assert "progress [" in p.stderr and "500/500 100%" in p.stderr     # bar on stderr, not stdout


def test_cli_table_and_schedtrace():
    p = _run_tool("--procs", "2", "--goroutines", "300", "--work", "cpu", "--cpu-iters", "100",
                  "--spawn", "bursty", env={"GPM_DEBUG": "schedtrace=20"})
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "Jain's fairness index:" in out
    assert "runnable->running wait: max" in out and "p99" in out
    assert "every goroutine ran exactly once (300/300)" in out
    header = [l for l in out.splitlines() if l.split()[:2] == ["P", "goroutines"]]
    assert header and "stolen" in header[0] and "steals" in header[0] and "runq max" in header[0]
    rows = [l for l in out.splitlines() if l.strip()[:1].isdigit() and "%" in l]
    assert len(rows) == 2


def test_cli_rejects_bad_args():
    p = _run_tool("--procs", "0")
    assert p.returncode == 2 and "--procs" in p.stderr
    p = _run_tool("--work", "nope")
    assert p.returncode == 2
