"""gpm.monkey time item: time.sleep parks inside goroutines, blocks plain threads as before."""

from tests.monkey.patched import run_patched, lines


def test_sleep_parks_the_goroutine_not_its_m():
    # procs=1: a goroutine in time.sleep(30) must leave the only M to the others; if it blocked
    # the M, main could not finish before the child's 20 s timeout.
    out = run_patched("""
        import time, gpm
        def main():
            gpm.go(time.sleep, 30)
            ch = gpm.Chan()
            def other():
                t0 = time.monotonic()
                time.sleep(0.05)
                ch.send(time.monotonic() - t0)
            gpm.go(other)
            print("slept", ch.recv() >= 0.05)
        gpm.run(main, procs=1)
    """, patch="gpm.monkey.patch_time()", timeout=20)
    assert lines(out) == {"slept": "True"}


def test_sleep_zero_yields():
    out = run_patched("""
        import time, gpm
        def main():
            flag = []
            gpm.go(flag.append, 1)
            n = 0
            while not flag:          # spins forever unless time.sleep(0) yields the only P
                time.sleep(0)
                n += 1
            print("yields", n >= 1)
        gpm.run(main, procs=1)
    """, patch="gpm.monkey.patch_time()", timeout=20)
    assert lines(out) == {"yields": "True"}


def test_errors_match_the_original_inside_goroutines():
    out = run_patched("""
        import time, gpm
        orig = gpm.monkey.get_original("time", "sleep")
        assert time.sleep is not orig and gpm.monkey.is_patched("time")
        bad = [-1, -0.5, float("nan"), float("inf"), "x", None, 10**30, 1j]
        def errs(fn):
            out = []
            for v in bad:
                try:
                    fn(v)
                    out.append(None)
                except Exception as e:
                    out.append((type(e).__name__, str(e)))
            return out
        expected = errs(orig)
        def main():
            return errs(time.sleep)
        got = gpm.run(main, procs=1)
        print("same", got == expected)
        print("got", got)
    """, patch="gpm.monkey.patch_time()")
    assert lines(out)["same"] == "True", out


def test_plain_threads_and_no_runtime_keep_the_original():
    out = run_patched("""
        import threading, time, gpm
        t0 = time.monotonic(); time.sleep(0.02)
        print("noruntime", time.monotonic() - t0 >= 0.02)
        res = []
        def main():
            def th():
                t0 = time.monotonic(); time.sleep(0.05); res.append(time.monotonic() - t0)
            t = threading.Thread(target=th); t.start()
            t.join()
        gpm.run(main, procs=1)
        print("thread", res[0] >= 0.05)
        try:
            time.sleep(-1)
        except ValueError as e:
            print("err", e)
    """, patch="gpm.monkey.patch_time()")
    assert lines(out) == {"noruntime": "True", "thread": "True", "err": "sleep length must be non-negative"}
