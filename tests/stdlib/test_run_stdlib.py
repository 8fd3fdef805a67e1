"""make test-stdlib's verdict (tests/stdlib/run_stdlib.py): it fails only on a difference from the
baseline run that docs/STDLIB.md does not list.  The module runs are replaced by canned results
here (the real runs take ~12 minutes: make test-stdlib)."""

import importlib.util
import os

import pytest

_spec = importlib.util.spec_from_file_location(
    "run_stdlib", os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_stdlib.py"))
rs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rs)

KNOWN = "test.test_selectors.DefaultSelectorTestCase.test_select_interrupt_exc"


def _res(failures=(), errors=(), run=10):
    return {"status": "ok", "secs": 1.0, "run": run, "failures": list(failures), "errors": list(errors),
            "skipped": [], "xfail": 0, "xpass": [], "details": {}}


def test_docs_list_the_known_differences():
    known = rs.known_differences()
    assert KNOWN in known
    assert "test.test_socket.NonBlockingTCPTests.testSetBlocking" in known
    assert all(k.startswith("test.test_") for k in known)
    assert rs.recorded_version() is not None


def test_differences_ignore_baseline_failures_and_mark_listed_ones():
    base = _res(failures=["test.m.C.both"])
    patched = _res(failures=["test.m.C.both", "test.m.C.new"], errors=[KNOWN])
    assert sorted(rs.differences(base, patched, {KNOWN})) == [
        ("error", KNOWN, True), ("failure", "test.m.C.new", False)]


@pytest.mark.parametrize("patched, base, code", [
    (_res(errors=[KNOWN]), _res(), 0),                          # listed difference only
    (_res(failures=["test.m.C.x"]), _res(failures=["test.m.C.x"]), 0),   # fails in both runs
    (_res(failures=["test.m.C.new"]), _res(), 1),               # unlisted difference
    ({"status": "TIMEOUT", "secs": 1.0, "last": "test.m.C.x", "tail": ""}, _res(), 1),
    (_res(), {"status": "CRASH (exit 1)", "secs": 1.0, "last": None, "tail": ""}, 1),
])
def test_exit_status(monkeypatch, capsys, patched, base, code):
    monkeypatch.setattr(rs, "have_stdlib_tests", lambda python: True)
    monkeypatch.setattr(rs, "run_one", lambda python, module, classes, mode, *a: patched if mode == "gpm" else base)
    monkeypatch.setattr("sys.argv", ["run_stdlib.py", "--modules", "test_queue"])
    with pytest.raises(SystemExit) as e:
        rs.main()
    assert e.value.code == code
    out = capsys.readouterr().out
    assert "== test-stdlib summary" in out
    assert ("not listed there:" in out) == bool(code)
