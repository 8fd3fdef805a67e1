"""CPython's own stdlib tests, unpatched and inside a goroutine with gpm.monkey.patch_all().

    .venv/bin/python tests/stdlib/run_stdlib.py [--modules test_queue,...] [--timeout S]

For each module (and its chosen classes) it runs two fresh interpreters: "base" runs the tests
on the main thread without gpm; "gpm" calls ``gpm.monkey.patch_all()`` first thing, then runs the
same tests as the main goroutine of ``gpm.run(procs=2)`` (gevent runs its stdlib tests the same
way: patched, inside its loop).  It prints pass/fail/error/skip counts side by side and the id of
every test whose outcome differs, and exits non-zero if a patched run has a failure or error the
baseline does not have and docs/STDLIB.md does not list as known.

Resources as regrtest's default (no ``-u``): tests needing other hosts ("network") or marked
"cpu"/"decimal"... are skipped in both runs.  Uses the interpreter's own ``Lib/test``
(pyenv builds ship it).  A hung test dumps every thread's stack (faulthandler) and counts the
module as TIMEOUT.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

PROCS = 2
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

LOCK_CLASSES = ["LockTests", "PyRLockTests", "CRLockTests", "EventTests", "ConditionAsRLockTests",
                "ConditionTests", "SemaphoreTests", "BoundedSemaphoreTests", "BarrierTests"]

# module -> test classes to run (None: the whole module)
MODULES = {
    "test_queue": None,
    "test_selectors": None,
    "test_socket": None,
    "test_ssl": None,
    "test_subprocess": ["ProcessTestCase", "RunFuncTestCase", "ContextManagerTests"],
    "test_threading": LOCK_CLASSES,
    "test_thread": ["LockTests", "BarrierTest"],
}

# module -> test classes left out of both runs, with the reason (docs/STDLIB.md repeats them)
EXCLUDE = {
    # Needs a vsock peer: on a VM with /dev/vsock its client connects to the local CID and hangs
    # until the per-test timeout in the unpatched run as much as in the patched one.
    "test_socket": ["ThreadedVSOCKSocketStreamTest"],
}

# -- child ---------------------------------------------------------------------------------

def child(module, classes, mode, out_path, per_test_timeout):
    if mode == "gpm":
        import gpm.monkey
        gpm.monkey.patch_all()
    import faulthandler
    import unittest
    from test import support
    support.use_resources = []           # regrtest's default: no -u resources (no other hosts)
    mod = __import__(f"test.{module}", fromlist=["*"])
    loader = unittest.TestLoader()
    if classes:
        suite = unittest.TestSuite(loader.loadTestsFromTestCase(getattr(mod, c)) for c in classes
                                   if hasattr(mod, c))
    else:
        suite = loader.loadTestsFromModule(mod)
    excluded = set(EXCLUDE.get(module, ()))
    if excluded:
        def flat(t):
            if isinstance(t, unittest.TestSuite):
                for u in t:
                    yield from flat(u)
            else:
                yield t
        suite = unittest.TestSuite(t for t in flat(suite) if type(t).__name__ not in excluded)

    class Result(unittest.TextTestResult):
        def startTest(self, test):
            faulthandler.dump_traceback_later(per_test_timeout, exit=True)
            sys.stderr.write(f"RUN {test.id()}\n")
            sys.stderr.flush()
            super().startTest(test)

        def stopTest(self, test):
            faulthandler.cancel_dump_traceback_later()
            super().stopTest(test)

    def run():
        if mode == "gpm":
            # Every M is started before the first test: tests that count threads around a block
            # (threading_helper.wait_threads_exit) would otherwise see M1 appear during it.
            import threading
            import gpm
            while sum(t.name.startswith("gpm-M") for t in threading.enumerate()) < PROCS:
                gpm.sleep(0.01)
        stream = open(os.devnull, "w")
        r = unittest.TextTestRunner(stream=stream, verbosity=0, resultclass=Result).run(suite)
        return {
            "run": r.testsRun,
            "failures": sorted(t.id() for t, _ in r.failures),
            "errors": sorted(t.id() for t, _ in r.errors),
            "skipped": sorted(t.id() for t, _ in r.skipped),
            "xfail": len(r.expectedFailures),
            "xpass": sorted(t.id() for t in r.unexpectedSuccesses),
            "details": {t.id(): tb[-1500:] for t, tb in r.failures + r.errors},
        }

    if mode == "gpm":
        import gpm
        res = gpm.run(run, procs=PROCS)
    else:
        res = run()
    with open(out_path, "w") as f:
        json.dump(res, f)
    sys.stdout.flush()
    os._exit(0)          # do not wait for threads the tests left behind


# -- parent --------------------------------------------------------------------------------

def run_one(python, module, classes, mode, timeout, per_test_timeout, tmpdir):
    out_path = os.path.join(tmpdir, f"{module}-{mode}.json")
    if os.path.exists(out_path):
        os.unlink(out_path)
    cmd = [python, os.path.abspath(__file__), "--child", module, mode, out_path,
           ",".join(classes or []), str(per_test_timeout)]
    env = dict(os.environ)
    env.pop("GPM_DEBUG", None)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=tmpdir)
        stderr = p.stderr
    except subprocess.TimeoutExpired as e:
        stderr = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        p = None
    dt = time.monotonic() - t0
    if p is None or not os.path.exists(out_path):
        last = [ln for ln in stderr.splitlines() if ln.startswith("RUN ")]
        return {"status": "TIMEOUT" if p is None else f"CRASH (exit {p.returncode})",
                "last": last[-1][4:] if last else None, "tail": stderr[-3000:], "secs": dt}
    with open(out_path) as f:
        res = json.load(f)
    res["status"] = "ok"
    res["secs"] = dt
    return res


def counts(r):
    if r["status"] != "ok":
        return r["status"]
    nf, ne, ns = len(r["failures"]), len(r["errors"]), len(r["skipped"])
    passed = r["run"] - nf - ne - ns - r["xfail"] - len(r["xpass"])
    return f"{passed} pass {nf} fail {ne} err {ns} skip"


def differences(base, patched, known):
    """(kind, test id, listed) for every failure or error of the patched run that the baseline
    run does not have; ``listed``: the id is in ``known`` (docs/STDLIB.md).  Only unlisted ones
    fail the run."""
    bad_base = set(base["failures"]) | set(base["errors"])
    return [(kind, tid, tid in known)
            for kind, ids in (("failure", patched["failures"]), ("error", patched["errors"]))
            for tid in ids if tid not in bad_base]


def known_differences():
    """Test ids listed in docs/STDLIB.md (every backquoted ``test.<module>.<Class>.<method>``)."""
    path = os.path.join(ROOT, "docs", "STDLIB.md")
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        return set(re.findall(r"`(test\.[\w.]+)`", f.read()))


def recorded_version():
    """The interpreter the counts in docs/STDLIB.md were recorded on ("CPython X.Y.Z"), or None."""
    path = os.path.join(ROOT, "docs", "STDLIB.md")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        m = re.search(r"CPython (\d+)\.(\d+)\.\d+", f.read())
    return (int(m.group(1)), int(m.group(2))) if m else None


def have_stdlib_tests(python):
    """The interpreter ships its own Lib/test (pyenv and python.org builds do; Debian's needs
    the libpythonX.Y-testsuite package)."""
    p = subprocess.run([python, "-c", "import test.support, test.test_queue"], capture_output=True)
    return p.returncode == 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        module, mode, out_path, classes, ptt = sys.argv[2:7]
        child(module, [c for c in classes.split(",") if c], mode, out_path, float(ptt))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", default=",".join(MODULES), help="comma-separated test modules")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--timeout", type=float, default=900, help="seconds per module run")
    ap.add_argument("--per-test-timeout", type=float, default=120)
    ap.add_argument("--details", action="store_true", help="print tracebacks of differing tests")
    ap.add_argument("--verbose", action="store_true", help="also list the known differences")
    args = ap.parse_args()
    import tempfile
    if not have_stdlib_tests(args.python):
        print(f"test-stdlib: {args.python} has no stdlib test package (import test.support "
              f"failed); use an interpreter that ships Lib/test (pyenv, python.org builds) or "
              f"install the distribution's testsuite package", flush=True)
        sys.exit(2)
    rec = recorded_version()
    if rec is not None and sys.version_info[:2] != rec:
        print(f"note: docs/STDLIB.md's baseline was recorded on CPython {rec[0]}.{rec[1]}; this is "
              f"{sys.version.split()[0]}: a difference listed below as NEW may be specific to this "
              f"version", flush=True)
    known = known_differences()
    new_problems = []
    seen_known = set()
    rows = []
    t_all = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gpm-stdlib-") as tmpdir:
        for module in args.modules.split(","):
            classes = MODULES.get(module)
            base = run_one(args.python, module, classes, "base", args.timeout, args.per_test_timeout, tmpdir)
            patched = run_one(args.python, module, classes, "gpm", args.timeout, args.per_test_timeout, tmpdir)
            label = module + ("" if classes is None else f" ({len(classes)} classes)") + \
                ("" if module not in EXCLUDE else f" (-{len(EXCLUDE[module])} class)")
            nknown = 0
            print(f"{label:36} base: {counts(base):34} gpm: {counts(patched):34} "
                  f"({base['secs']:.0f}s / {patched['secs']:.0f}s)", flush=True)
            for mode, r in (("base", base), ("gpm", patched)):
                if r["status"] != "ok":
                    print(f"    {mode} run {r['status']}; last test started: {r.get('last')}")
                    print("    " + r["tail"].replace("\n", "\n    "))
                    new_problems.append(f"{module} ({mode} run): {r['status']}")
            if patched["status"] != "ok" or base["status"] != "ok":
                rows.append((label, counts(base), counts(patched), "-"))
                continue
            bad_base = set(base["failures"]) | set(base["errors"])
            for kind, tid, is_known in differences(base, patched, known):
                if is_known:
                    nknown += 1
                    seen_known.add(tid)
                    if not args.verbose:
                        continue
                print(f"    {'known' if is_known else 'NEW'} {kind}: {tid}")
                if args.details:
                    print("      " + patched["details"].get(tid, "").replace("\n", "\n      "))
                if not is_known:
                    new_problems.append(tid)
            for tid in sorted(set(patched["skipped"]) - set(base["skipped"])):
                print(f"    skipped only under gpm: {tid}")
            for tid in sorted(bad_base - set(patched["failures"]) - set(patched["errors"])):
                print(f"    fails only in the baseline: {tid}")
            rows.append((label, counts(base), counts(patched), str(nknown)))
    print(f"\n== test-stdlib summary ({sys.version.split()[0]}, {time.monotonic() - t_all:.0f} s)")
    print(f"{'module':36} {'base':34} {'gpm':34} known")
    for label, b, g, k in rows:
        print(f"{label:36} {b:34} {g:34} {k}")
    print(f"{len(seen_known)} known difference(s) (docs/STDLIB.md), "
          f"{len(new_problems)} not listed there" + (":" if new_problems else ""))
    for tid in new_problems:
        print(f"    {tid}")
    sys.exit(1 if new_problems else 0)


if __name__ == "__main__":
    main()
