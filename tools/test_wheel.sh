#!/usr/bin/env bash
# make test-wheel: build the sdist and wheel, install the wheel (not editable)
# into a fresh venv in a temp dir, and run the smoke program and the examples
# from there, so a file missing from the package fails.
#   usage: tools/test_wheel.sh BUILD_PYTHON VENV_PYTHON
set -euo pipefail
build_py=${1:?build python}
venv_py=${2:?python for the fresh venv}
root=$(pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpm-wheel.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$build_py" -m build --outdir "$tmp/dist" . >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
ls "$tmp/dist"
test -n "$(ls "$tmp"/dist/*.tar.gz)"
"$venv_py" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q "$tmp"/dist/*.whl
# Only the examples and the smoke program are copied: the package comes from the wheel.
mkdir "$tmp/run"
cp -r "$root/examples" "$tmp/run/examples"
cp "$root/tools/wheel_smoke.py" "$tmp/run/"
cd "$tmp/run"
env -u PYTHONPATH "$tmp/venv/bin/python" wheel_smoke.py "$root"
