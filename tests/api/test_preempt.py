"""Preemption (issue 11): a goroutine that never yields no longer starves the
goroutines of its P, on CPython 3.12+ (sys.monitoring).

Every program runs in a subprocess with a timeout: a hog that is not
preempted never returns.  Latency bounds are the issue's (0.05 s sleep + 30 ms),
generous against the ~5-15 ms measured on the 2-core CI under load.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from tests import support

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 12),
    reason="preemption needs sys.monitoring (CPython 3.12+); on 3.11 blockwarn only reports a hog")


def run_prog(src, debug=None, timeout=30.0):
    """Run ``src`` in a fresh interpreter (the suite's GPM_DEBUG checks stay on);
    return (json of its last stdout line, stderr)."""
    p = support.run_prog(textwrap.dedent(src), debug=debug, timeout=timeout)
    assert p.returncode == 0, f"rc={p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return json.loads(p.stdout.strip().splitlines()[-1]), p.stderr


SLEEPER = """
    import json, sys, time
    import gpm

    def hog():
        x = 0
        while True:
            x += 1

    def main():
        gpm.go(hog)
        lates = []
        for _ in range(20):
            t0 = time.monotonic()
            gpm.sleep(0.05)
            lates.append(time.monotonic() - t0 - 0.05)
            print("slept", flush=True)
        st = gpm.stats()
        return lates, st.ps[0].preempted, time.monotonic()

    lates, preempted, t_main = gpm.run(main, procs=1)
    print(json.dumps({"lates": lates, "preempted": preempted, "exit_lag": time.monotonic() - t_main}))
"""


def test_hog_does_not_starve_a_sleeper_on_its_p():
    # The bound is the issue's: each sleep within 0.05 s + 30 ms (measured
    # worst 6-16 ms at load 9).  Under the full suite on this shared 2-core VM
    # (load 10+) the OS sometimes stalls the process for 50-100 ms, so a run
    # may have one sleep over 30 ms (never over 150 ms), and up to three runs
    # are made; a missing preemption fails all of them (the first sleep would
    # never return: see the next test).
    runs = []
    for _ in range(3):
        out, _ = run_prog(SLEEPER)
        lates = out["lates"]
        assert len(lates) == 20
        assert out["preempted"] >= 20            # at least one preemption per sleep
        assert out["exit_lag"] < 2.0             # the run ends when main returns
        runs.append([round(x * 1000, 1) for x in lates])
        if sum(x > 0.030 for x in lates) <= 1 and max(lates) <= 0.150:
            return
    pytest.fail(f"sleeps returned more than 30 ms late in every run: {runs} (ms)")


def test_asyncpreemptoff_shows_the_starvation():
    # Same program with preemption off: the first sleep never returns while
    # the hog runs, so the program cannot finish.
    with pytest.raises(subprocess.TimeoutExpired) as ei:
        run_prog(SLEEPER, debug="asyncpreemptoff=1,blockwarn=0", timeout=3.0)
    out = ei.value.stdout or b""
    if isinstance(out, bytes):
        out = out.decode()
    assert "slept" not in out


def test_ping_pong_pair_keeps_a_quarter_of_its_rate_beside_a_hog():
    # Go's TestPingPongHog with a hog that never yields.  The pair and the
    # hog share the only P; round trips in a fixed time, with and without
    # the hog, in the same run.  The pair gets about one slice in two or
    # three (~30-40%); an OS stall of sysmon on this shared VM can halve
    # that in one run, so up to three runs are made.
    outs = []
    for _ in range(3):
        out, _ = run_prog(PINGPONG)
        assert out["alone"] > 100
        assert out["progress"] > 0 and out["preempted"] > 0, out
        outs.append(out)
        if out["beside"] >= 0.25 * out["alone"]:
            return
    pytest.fail(f"the pair kept less than 25% of its round trips in every run: {outs}")


PINGPONG = """
        import json, time
        import gpm

        PERIOD = 0.3
        stop = False

        def hog():
            x = 0
            while not stop:
                x += 1
            return x

        def pair():
            a, b = gpm.Chan(), gpm.Chan()
            def pong():
                for v in a:
                    b.send(v)
            gpm.go(pong)
            n = 0
            end = time.monotonic() + PERIOD
            while time.monotonic() < end:
                a.send(n)
                b.recv()
                n += 1
            a.close()
            return n

        def main():
            global stop
            alone = pair()
            h = gpm.go(hog)
            gpm.sleep(0.02)                 # the hog is running
            beside = pair()
            stop = True
            progress = h.join()
            return alone, beside, progress, gpm.stats().ps[0].preempted

        alone, beside, progress, preempted = gpm.run(main, procs=1)
        print(json.dumps(dict(alone=alone, beside=beside, progress=progress, preempted=preempted)))
    """


RESUME = """
    import json, sys, time, traceback
    import gpm

    N = 2_000_000         # 100-400 ms of work per hog: 10+ slices (300_000 was ~15 ms on 3.13, too close to one 10 ms slice)

    def spin(n):
        x = 0
        i = 0
        while i < n:
            x += i
            i += 1
        return x

    EXPECT = N * (N - 1) // 2

    def h_finally(log):
        try:
            return spin(N)
        finally:
            log.append("finally")

    class CM:
        def __init__(self, log):
            self.log = log
        def __enter__(self):
            self.log.append("enter")
            return self
        def __exit__(self, *exc):
            self.log.append(("exit", exc[0]))
            return False

    def h_with(log):
        with CM(log):
            return spin(N)

    def gen(n):
        i = 0
        while i < n:
            yield i
            i += 1

    def h_generator(log):
        total = 0
        for v in gen(N):
            total += v
        return total + sum(gen(0))

    def rec(depth, log):
        if depth == 0:
            log.append(len(traceback.extract_stack()))
            return spin(N)
        return rec(depth - 1, log)

    def h_recursion(log):
        return rec(500, log)

    def boom(n):
        spin(n)
        raise ValueError("after resumption")

    def h_raise_after(log):
        try:
            boom(N)
        except ValueError as e:
            # (function, line offset from its def): -c source has no text
            firsts = {"h_raise_after": h_raise_after.__code__.co_firstlineno,
                      "boom": boom.__code__.co_firstlineno}
            log.extend([f.name, f.lineno - firsts[f.name]]
                       for f in traceback.extract_tb(e.__traceback__))
        return EXPECT

    def h_exception_in_flight(log):
        try:
            raise KeyError("in flight")
        except KeyError:
            r = spin(N)                     # preempted while handling it
            log.append(repr(sys.exc_info()[1]))
            try:
                raise                         # re-raise the one being handled
            except KeyError as e:
                log.append([f.name for f in traceback.extract_tb(e.__traceback__)])
            return r

    def main():
        results = {}
        for h in (h_finally, h_with, h_generator, h_recursion, h_raise_after, h_exception_in_flight):
            log = []
            before = gpm.stats().ps[0].preempted
            g = gpm.go(h, log)
            while not g.done():
                gpm.sleep(0.003)           # wants the P back often
                try:
                    raise RuntimeError("main's own")   # exceptions of another G meanwhile
                except RuntimeError:
                    pass
            results[h.__name__] = dict(result=g.join(), log=log,
                                       preempted=gpm.stats().ps[0].preempted - before)
        return results

    print(json.dumps(gpm.run(main, procs=1)))
"""


def test_preempted_frames_resume_correctly():
    out, _ = run_prog(RESUME)
    expect = 2_000_000 * 1_999_999 // 2
    for name, r in out.items():
        assert r["preempted"] >= 1, f"{name} was never preempted: {r}"
        assert r["result"] == expect, name
    assert out["h_finally"]["log"] == ["finally"]
    assert out["h_with"]["log"] == ["enter", ["exit", None]]
    assert out["h_recursion"]["log"][0] > 500
    # the call in h_raise_after is 2 lines below its def, the raise in boom too
    assert out["h_raise_after"]["log"] == [["h_raise_after", 2], ["boom", 2]]
    assert out["h_exception_in_flight"]["log"] == ["KeyError('in flight')", ["h_exception_in_flight"]]


def test_goroutines_of_waitgroup_and_group_are_preempted():
    out, _ = run_prog("""
        import json
        import gpm
        import gpm.sync

        def spin():
            x = 0
            for i in range(2_000_000):
                x += i
            return x

        def main():
            wg = gpm.sync.WaitGroup()
            wg.go(spin)
            g = gpm.sync.Group()
            g.go(spin)
            for _ in range(10):
                gpm.sleep(0.005)
            wg.wait()
            g.wait()
            return gpm.stats().ps[0].preempted

        print(json.dumps(gpm.run(main, procs=1)))
    """)
    assert out >= 2


def test_stats_schedtrace_and_dump_show_preemption():
    out, err = run_prog("""
        import json
        import gpm

        def hog():
            x = 0
            while True:
                x += 1

        def main():
            gpm.go(hog)
            for _ in range(10):
                gpm.sleep(0.01)
            # main runs only while the hog is preempted: it is runnable now.
            return gpm.dump_goroutines(), gpm.stats().as_dict()["ps"][0]["preempted"]

        dump, n = gpm.run(main, procs=1)
        print(json.dumps(dict(dump=dump, n=n)))
    """, debug="schedtrace=15,scheddetail=1")
    assert out["n"] >= 10
    assert "goroutine 2 [runnable (preempted)" in out["dump"], out["dump"]
    assert "in hog" in out["dump"]
    assert "gpm/_runtime" not in out["dump"]
    counts = [int(line.split("preempted=")[1].split()[0])
              for line in err.splitlines() if line.startswith("  P0:")]
    assert counts and max(counts) >= 1, err
    assert "G2: status=1(preempted)" in err or "G2: status=2()" in err


def test_no_free_tool_id_turns_preemption_off_politely():
    out, err = run_prog("""
        import json, sys, time
        import gpm
        sys.monitoring.use_tool_id(3, "other tool")
        sys.monitoring.use_tool_id(4, "another tool")

        def hog():
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                pass

        def main():
            gpm.go(hog)
            t0 = time.monotonic()
            gpm.sleep(0.01)
            return time.monotonic() - t0, gpm.stats().ps[0].preempted

        late, n = gpm.run(main, procs=1)
        late2, n2 = gpm.run(main, procs=1)
        print(json.dumps(dict(late=late, n=n + n2)))
    """, debug="blockwarn=100")
    assert out["n"] == 0
    assert out["late"] > 0.2                 # starved, as without preemption
    assert err.count("preemption is off") == 1, err
    assert "has held P0" in err              # blockwarn still reports the hog


def test_goroutine_in_one_c_call_is_reported_by_blockwarn():
    out, err = run_prog("""
        import json, time
        import gpm

        def stuck():
            time.sleep(0.4)                   # one C call: no safe point inside
            x = 0
            for i in range(200_000):          # then Python again: preemptible
                x += i
            return x

        def main():
            g = gpm.go(stuck)
            t0 = time.monotonic()
            gpm.sleep(0.01)
            late = time.monotonic() - t0
            return late, g.join()

        late, x = gpm.run(main, procs=1)
        print(json.dumps(dict(late=late, x=x)))
    """, debug="blockwarn=100")
    assert out["late"] > 0.3                 # could not be preempted inside the call
    assert out["x"] == 200_000 * 199_999 // 2
    assert "goroutine 2 has held P0" in err
    assert "A preemption request is pending" in err
    if support.trace_snapshot_default():     # free-threaded: the live stack is never read there
        assert "stack unavailable on a free-threaded build" in err and "in stuck" in err
    else:
        assert 'line 6, in stuck' in err     # with its stack (the time.sleep line)


def test_coexists_with_another_monitoring_tool():
    # A coverage-like tool (LINE events on its own id) keeps seeing the lines
    # of other goroutines while a hog is preempted, and preemption works.
    out, _ = run_prog("""
        import json, sys
        import gpm
        M = sys.monitoring
        M.use_tool_id(M.COVERAGE_ID, "fake coverage")
        lines = set()
        def on_line(code, line):
            if code.co_name == "sleeper":
                lines.add(line)
        M.register_callback(M.COVERAGE_ID, M.events.LINE, on_line)
        M.set_events(M.COVERAGE_ID, M.events.LINE)

        def hog():
            x = 0
            while True:
                x += 1

        def sleeper():
            gpm.sleep(0.02)
            a = 1
            b = a + 1
            return b

        def main():
            gpm.go(hog)
            gpm.sleep(0.02)                 # the hog was preempted
            n0 = len(lines)
            r = sleeper()
            return r, len(lines) - n0, gpm.stats().ps[0].preempted

        r, seen, n = gpm.run(main, procs=1)
        M.set_events(M.COVERAGE_ID, 0)
        print(json.dumps(dict(r=r, seen=seen, n=n, tool=M.get_tool(4))))
    """)
    assert out["r"] == 2
    assert out["seen"] >= 4, out             # every line of sleeper, after a preemption
    assert out["n"] >= 2
    assert out["tool"] is None               # gpm gave its tool id back when the run ended
