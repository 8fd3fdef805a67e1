"""Per-module mutation score of the last `make mutants` run (docs/HACKING.md).

Reads mutmut's result files (mutants/gpm/_runtime/*.py.meta) and counts, for
the mutant names matching the given globs (default: all), per module: the
mutants, those checked, killed (a test failed or crashed), timed out (a test
hung: counted as killed, but under heavy load an equivalent mutant can time
out too, so they are listed) and the score = (killed + timeout) / checked.
`-v` lists every mutant not killed.  Usage:
    .venv/bin/python tools/mutants_score.py [-v] [GLOB ...]
"""

import collections
import fnmatch
import json
import pathlib
import sys

# mutmut 3 exit codes (mutmut/stats.py): 1 and 3 a test failed, timeouts and
# signals (the mutant hung or crashed) also count as killed.
KILLED = {1, 3, -9, -11}
TIMEOUT = {24, -24, 36, 152, 255}
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
            r = rows.setdefault(mod, [0, 0, 0, 0])      # mutants, checked, killed, timeout
            r[0] += 1
            if code is not None:
                r[1] += 1
            if code in KILLED:
                r[2] += 1
            elif code in TIMEOUT:
                r[3] += 1
                others[mod].append(("timeout", name))
            elif code is not None:
                others[mod].append((NAMES.get(code, f"exit {code}"), name))
    tot = [0, 0, 0, 0]
    print(f"{'module':8} {'mutants':>7} {'checked':>7} {'killed':>6} {'timeout':>7} {'score':>6}")
    for mod, r in list(rows.items()) + [("all", None)]:
        if r is None:
            r = tot
        else:
            tot = [a + b for a, b in zip(tot, r, strict=True)]
        n, c, k, t = r
        score = f"{100 * (k + t) / c:5.1f}%" if c else "    -"
        print(f"{mod:8} {n:7} {c:7} {k:6} {t:7} {score}")
        if verbose and mod in others:
            for why, name in others[mod]:
                print(f"    {why:12} {name}")

if __name__ == "__main__":
    main(sys.argv[1:])
