"""Per-module mutation score of the last `make mutants` run (docs/HACKING.md).

Reads mutmut's result files (mutants/gpm/_runtime/*.py.meta) and counts, for
the mutant names matching the given globs (default: all), how many each
module has, how many were killed (a test failed, timed out or crashed) and
which were not.  `-v` lists the survivors.  Usage:
    .venv/bin/python tools/mutants_score.py [-v] [GLOB ...]
"""

import collections
import fnmatch
import json
import pathlib
import sys

# mutmut 3 exit codes (mutmut/stats.py): 1 and 3 a test failed, timeouts and
# signals (the mutant hung or crashed) also count as killed.
KILLED = {1, 3, 24, -24, 36, 152, 255, -9, -11}
NAMES = {0: "survived", 5: "no tests", 33: "no tests", None: "not checked"}


def main(argv):
    verbose = "-v" in argv
    globs = [a for a in argv if a != "-v"] or ["*"]
    root = pathlib.Path("mutants/gpm/_runtime")
    rows = collections.OrderedDict()
    others = collections.defaultdict(list)
    for meta in sorted(root.glob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        for name, code in sorted(codes.items()):
            if not any(fnmatch.fnmatchcase(name, g) for g in globs):
                continue
            mod = name.split(".")[2]
            r = rows.setdefault(mod, [0, 0])
            r[0] += 1
            if code in KILLED:
                r[1] += 1
            else:
                others[mod].append((NAMES.get(code, f"exit {code}"), name))
    tot = [0, 0]
    print(f"{'module':10} {'mutants':>8} {'killed':>7} {'score':>6}")
    for mod, (n, k) in rows.items():
        tot[0] += n
        tot[1] += k
        print(f"{mod:10} {n:8} {k:7} {100 * k / n:5.1f}%")
        if verbose:
            for why, name in others[mod]:
                print(f"    {why:12} {name}")
    if tot[0]:
        print(f"{'all':10} {tot[0]:8} {tot[1]:7} {100 * tot[1] / tot[0]:5.1f}%")


if __name__ == "__main__":
    main(sys.argv[1:])
