#!/usr/bin/env bash
# Build a free-threaded CPython (--disable-gil) from Debian's source package, once.
#
# Usage: tools/build_ft_python.sh [DEST]      (default DEST: .ft, ignored by git)
# Prints the interpreter's path on its last line; exit 3 (and one line saying why) when no source
# for a free-threaded-capable CPython (3.13+) is served or it cannot be built here, so callers
# can skip rather than fail.
#
# No system apt file is touched: a private sources file names the deb-src entry of Debian's
# development suite with the mirror this machine's own apt sources already use, and apt's lists
# and cache live under DEST.
set -euo pipefail
dest=$(realpath -m "${1:-.ft}")
prefix="$dest/python"
if compgen -G "$prefix/bin/python3.1[3-9]t" >/dev/null; then
  ls "$prefix"/bin/python3.1[3-9]t | head -1
  exit 0
fi
mkdir -p "$dest/apt/parts" "$dest/apt/lists/partial" "$dest/apt/cache/archives/partial" "$dest/src"

mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  mirror=$(awk '/^URIs:/{print $2; exit}' "$f"); [ -n "$mirror" ] && break
done
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1=="deb"{for(i=2;i<=NF;i++) if ($i ~ /:\/\//) {print $i; exit}}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "free-threaded build: no Debian mirror in this machine's apt sources"; exit 3; }
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
printf 'Types: deb-src\nURIs: %s\nSuites: sid\nComponents: main\nSigned-By: %s\n' "$mirror" "$keyring" \
  > "$dest/apt/parts/dev-suite.sources"
apt_opts=(-q -o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$dest/apt/parts"
          -o "Dir::State::Lists=$dest/apt/lists" -o "Dir::Cache=$dest/apt/cache")
apt-get "${apt_opts[@]}" update >/dev/null 2>&1 || { echo "free-threaded build: apt-get update of the source index failed"; exit 3; }

# Newest first; the index may list versions the mirror no longer (or not yet) serves.
cd "$dest/src"
got=""
for pkg in python3.14 python3.13; do
  for ver in $(apt-cache "${apt_opts[@]}" showsrc "$pkg" 2>/dev/null | awk '/^Version:/{print $2}' | sort -rV); do
    if apt-get "${apt_opts[@]}" source --download-only "$pkg=$ver" >/dev/null 2>&1; then got="$pkg $ver"; break 2; fi
  done
done
[ -n "$got" ] || { echo "free-threaded build: no python3.13/3.14 source is served by the mirror today"; exit 3; }
set -- $got
upver=${2%-*}
tarball=$(ls "${1}_${upver}".orig.tar.* | head -1)
rm -rf "Python-$upver" && tar xf "$tarball"
cd "Python-$upver"
# A machine that cannot build it (no compiler, missing headers) skips too, naming the step and
# its log; what it then runs (the suite) decides pass or fail.
log="$dest/build.log"
./configure -q --disable-gil --prefix="$prefix" >"$log" 2>&1 \
  || { echo "free-threaded build: configure of $1 $2 failed (see $log)"; exit 3; }
make -s -j"$(nproc)" >>"$log" 2>&1 || { echo "free-threaded build: make of $1 $2 failed (see $log)"; exit 3; }
make -s altinstall >>"$log" 2>&1 || { echo "free-threaded build: make altinstall failed (see $log)"; exit 3; }
py=$(ls "$prefix"/bin/python3.1[3-9]t | head -1)
"$py" -c 'import sys, ssl; assert not sys._is_gil_enabled(), "GIL is enabled"' \
  || { echo "free-threaded build: built interpreter is not free-threaded or lacks ssl"; exit 3; }
echo "$py"
