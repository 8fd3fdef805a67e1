#!/usr/bin/env bash
# make test-ft: the whole suite on a free-threaded CPython with the GIL off.
#
# Builds the interpreter once (tools/build_ft_python.sh, cached in .ft/), makes .venv-ft with
# greenlet and the test dependencies, asserts the GIL really is off, then runs pytest with
# PYTHON_GIL=0 and any extra arguments given.  When no free-threaded interpreter can be had here
# (no source served, no way to build it or to install greenlet) it says so in one line and
# exits 0, so the rest of CI still decides the result; a failing test fails it.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(tools/build_ft_python.sh .ft); rc=$?
py=$(printf '%s\n' "$out" | tail -1)
if [ $rc -eq 3 ]; then echo "test-ft skipped: $py"; exit 0; fi
[ $rc -eq 0 ] || { printf '%s\n' "$out"; echo "test-ft: building the free-threaded interpreter failed"; exit 1; }
venv=.venv-ft
skip() { echo "test-ft skipped: $1"; rm -rf "$venv"; exit 0; }
if [ ! -f "$venv/.installed" ] || [ pyproject.toml -nt "$venv/.installed" ]; then
  rm -rf "$venv"
  # Setting the venv up needs the package index; without it the suite cannot run here (skip,
  # one line), as without a source to build from.
  "$py" -m venv "$venv" || skip "could not create $venv"
  "$venv/bin/python" -m pip install -q --upgrade pip || skip "pip could not be upgraded (no package index?)"
  # greenlet 3.5.3 builds on 3.13t unmodified; later 3.5.x include a 3.14-only header there.
  case "$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" in
    3.13) greenlet="greenlet==3.5.3" ;;
    *)    greenlet="greenlet" ;;
  esac
  "$venv/bin/python" -m pip install -q "$greenlet" || skip "$greenlet could not be installed"
  "$venv/bin/python" -m pip install -q --no-deps -e . || skip "gpm could not be installed into $venv"
  "$venv/bin/python" -m pip install -q --prefer-binary pytest pytest-timeout hypothesis \
    || skip "the test dependencies could not be installed"
  # Real-peer test dependencies: best effort (a test that needs a missing one skips and says so).
  for dep in requests urllib3 redis trustme; do
    "$venv/bin/python" -m pip install -q --prefer-binary "$dep" >/dev/null 2>&1 || echo "test-ft: $dep not installable here; its tests skip"
  done
  touch "$venv/.installed"
fi
set -e
export PYTHON_GIL=0
"$venv/bin/python" - <<'PY'
import sys, greenlet, gpm
gpm.run(lambda: gpm.go(lambda: None).join())
assert not sys._is_gil_enabled(), "the GIL is enabled on the free-threaded venv"
print(f"test-ft: {sys.version.split()[0]} free-threaded, GIL off, greenlet {greenlet.__version__}")
PY
# Per-test timeout 240 s instead of pyproject's 60: 3.13t runs pure Python without the
# specializing interpreter, and its hypothesis state machines took 78-88 s each at load 23 on
# the 2 shared cores (a timeout kills the whole run: timeout_method=thread).  Still a hang guard.
exec "$venv/bin/python" -m pytest -q -o timeout=240 "$@"
