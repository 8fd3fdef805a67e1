"""preempt.py: the proof that switching greenlets from a sys.monitoring
callback is safe, and the pieces of the mechanism.

The proof programs use greenlet and sys.monitoring directly (no gpm
scheduler) and run in a subprocess: if switching there were unsafe they could
crash the interpreter.  What they establish, on 3.12 and 3.13:

  * a switch made *directly* inside the callback leaves CPython's per-thread
    ``tracing`` counter raised for whatever greenlet runs next: no other
    sys.monitoring tool and no sys.settrace function sees its events (so a
    coverage run would miss lines, and the next hog could not be preempted);
  * the same switch made through ``sys.call_tracing`` (what preempt.py does)
    keeps every greenlet's events, also when two greenlets are preempted in
    turn many times, and leaves the counter balanced;
  * recursion depth, exceptions being handled, generators and ``with`` blocks
    in the preempted frame survive the switch (the api tests check the same
    through gpm: tests/api/test_preempt.py).
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.support import preempt, run_prog

needs_monitoring = pytest.mark.skipif(
    sys.version_info < (3, 12),
    reason="preemption needs sys.monitoring (CPython 3.12+); on 3.11 blockwarn only reports a hog")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HEADER = """
import json, sys, greenlet
M = sys.monitoring
PRE, OBS = 3, 2                       # preemption stand-in, observer ("coverage")
M.use_tool_id(PRE, "preempt stand-in")
M.use_tool_id(OBS, "observer")
main = greenlet.getcurrent()
lines = []
def on_line(code, line):
    lines.append((code.co_name, line))
M.register_callback(OBS, M.events.LINE, on_line)

def yield_to_main():
    main.switch("preempted")

def arm(fn):
    M.set_local_events(PRE, fn.__code__, M.events.JUMP)

def disarm(fn):
    M.set_local_events(PRE, fn.__code__, 0)
"""


def run_proof(body, timeout=30.0):
    src = HEADER + textwrap.dedent(body)
    p = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT)
    assert p.returncode == 0, f"rc={p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return json.loads(p.stdout.strip().splitlines()[-1])


OTHER_GREENLET_EVENTS = """
MODE = %r
def on_jump(code, offset, dest):
    M.set_local_events(PRE, code, 0)
    if MODE == "direct":
        main.switch("preempted")
    else:
        sys.call_tracing(yield_to_main, ())
M.register_callback(PRE, M.events.JUMP, on_jump)

def hog():
    x = 0
    for i in range(1000):
        x += i
    return x

def other():
    y = 1
    y += 1
    return y

a = greenlet.greenlet(hog)
arm(hog)
first = a.switch()
M.set_events(OBS, M.events.LINE)
greenlet.greenlet(other).switch()
seen_line = sum(1 for n, _ in lines if n == "other")
traced = []
def tracer(frame, event, arg):
    if frame.f_code.co_name == "other":
        traced.append(event)
    return tracer
sys.settrace(tracer)
greenlet.greenlet(other).switch()
sys.settrace(None)
result = a.switch()
lines.clear()
other()
after = sum(1 for n, _ in lines if n == "other")
print(json.dumps(dict(first=first, seen_line=seen_line, traced=len(traced), result=result, after=after)))
"""


@pytest.mark.skipif(not (3, 12) <= sys.version_info < (3, 14),
                    reason="documents CPython 3.12/3.13 behaviour (the reason for call_tracing)")
def test_direct_switch_in_callback_hides_other_greenlets_events():
    out = run_proof(OTHER_GREENLET_EVENTS % "direct")
    assert out["first"] == "preempted" and out["result"] == 499500
    assert out["seen_line"] == 0 and out["traced"] == 0      # the hazard
    assert out["after"] == 3                                   # gone once the hog resumed


@needs_monitoring
def test_switch_through_call_tracing_keeps_other_greenlets_events():
    out = run_proof(OTHER_GREENLET_EVENTS % "call_tracing")
    assert out["first"] == "preempted" and out["result"] == 499500
    assert out["seen_line"] == 3                     # y = 1, y += 1, return y
    assert out["traced"] >= 4                        # call, lines, return
    assert out["after"] == 3


@needs_monitoring
def test_two_greenlets_preempted_in_turn_stay_preemptible():
    # Each greenlet is suspended inside its own callback while the other runs;
    # with call_tracing both keep getting their events, 50 times each.
    out = run_proof("""
        counts = {}
        def on_jump(code, offset, dest):
            counts[code.co_name] = counts.get(code.co_name, 0) + 1
            sys.call_tracing(yield_to_main, ())
        M.register_callback(PRE, M.events.JUMP, on_jump)

        def hog_a():
            x = 0
            for i in range(50):
                x += i
            return x

        def hog_b():
            x = 0
            for i in range(50):
                x -= i
            return x

        arm(hog_a); arm(hog_b)
        ga, gb = greenlet.greenlet(hog_a), greenlet.greenlet(hog_b)
        ra = ga.switch(); rb = gb.switch()
        while ra == "preempted" or rb == "preempted":
            if ra == "preempted":
                ra = ga.switch()
            if rb == "preempted":
                rb = gb.switch()
        disarm(hog_a); disarm(hog_b)
        M.set_events(OBS, M.events.LINE)
        def probe():
            return 1
        probe()
        print(json.dumps(dict(ra=ra, rb=rb, counts=counts,
                              probe=sum(1 for n, _ in lines if n == "probe"))))
    """)
    assert out["ra"] == 1225 and out["rb"] == -1225
    assert out["counts"] == {"hog_a": 50, "hog_b": 50}
    assert out["probe"] == 1


@needs_monitoring
def test_recursion_exceptions_generators_with_survive_the_switch():
    out = run_proof("""
        import traceback
        def on_jump(code, offset, dest):
            M.set_local_events(PRE, code, 0)
            sys.call_tracing(yield_to_main, ())
        M.register_callback(PRE, M.events.JUMP, on_jump)
        log = []

        class CM:
            def __enter__(self):
                log.append("enter")
            def __exit__(self, *exc):
                log.append("exit")

        def gen():
            for i in range(3):          # preempted inside the generator's frame
                yield i

        def loop():
            x = 0
            for i in range(100):
                x += i
            return x

        def rec(d):
            if d == 0:
                try:
                    raise KeyError("handled")
                except KeyError:
                    with CM():
                        r = loop() + sum(gen())
                    log.append(repr(sys.exc_info()[1]))
                    log.append(len(traceback.extract_stack()))
                    return r
            return rec(d - 1)

        def deep(d):                     # the other greenlet: nearly the whole limit
            return 0 if d == 0 else deep(d - 1) + 1

        arm(loop); arm(gen)
        g = greenlet.greenlet(lambda: rec(500))
        r = g.switch()
        n = 0
        while r == "preempted":
            n += 1
            try:
                raise ValueError("main's own")
            except ValueError:
                pass
            other_depth = greenlet.greenlet(deep).switch(sys.getrecursionlimit() - 100)
            arm(loop); arm(gen)
            r = g.switch()
        print(json.dumps(dict(r=r, n=n, log=log, other_depth=other_depth)))
    """)
    assert out["r"] == 4950 + 3
    assert out["n"] >= 2                               # preempted in loop and in gen
    assert out["log"][:2] == ["enter", "exit"]
    assert out["log"][2] == "KeyError('handled')"      # the handled exception survived
    assert out["log"][3] > 500
    assert out["other_depth"] > 800


def test_is_user_file():
    import os as _os
    assert preempt.is_user_file(__file__)
    assert not preempt.is_user_file(preempt.__file__)            # gpm itself
    assert not preempt.is_user_file(_os.__file__)                # the standard library
    assert not preempt.is_user_file(pytest.__file__)             # site-packages
    assert not preempt.is_user_file("<frozen importlib._bootstrap>")
    assert preempt.is_user_file("<string>")


@needs_monitoring
def test_global_mode_preempts_too():
    # The free-threaded build's mechanism (global events, narrowed on the
    # hog's thread), exercised on this build.  Up to three runs, as the
    # latency test in tests/api/test_preempt.py.
    for _ in range(3):
        out = run_proof(GLOBAL_MODE)
        assert out["n"] >= 10
        if out["late"] < 0.030:
            return
    pytest.fail(f"a sleep returned more than 30 ms late in every run: {out}")


GLOBAL_MODE = ("""
        import time
        M.free_tool_id(PRE); M.free_tool_id(OBS)
        import gpm
        from tests.support import preempt
        preempt.MODE = "global"

        def lib_loop(n):                 # stands for library code: not a safe point
            x = 0
            for i in range(n):
                x += i
            return x
        preempt.is_user_file(lib_loop.__code__.co_filename)
        preempt._user_cache["<lib>"] = False
        lib_loop.__code__ = lib_loop.__code__.replace(co_filename="<lib>")

        def hog():
            x = 0
            while True:
                x += lib_loop(1000)

        def main():
            gpm.go(hog)
            lates = []
            for _ in range(10):
                t0 = time.monotonic()
                gpm.sleep(0.02)
                lates.append(time.monotonic() - t0 - 0.02)
            return max(lates), gpm.stats().ps[0].preempted

        late, n = gpm.run(main, procs=1)
        print(json.dumps(dict(late=late, n=n)))
    """)


@needs_monitoring
def test_global_arm_answered_under_a_runtime_leaf_lock():
    # A global arm fires wherever code runs, also where gpm holds a leaf lock around library
    # code (gpm._tls holds its _mu around ssl.py's SSLObject calls); the callback then takes
    # preempt._lock under it.  That nesting must be legal: under lockrank=1 it was a fatal
    # "acquiring leaf@preempt.py while holding leaf@_tls.py" (test_net_tls at procs=2 hung on
    # 3.13t, where every arm is global).
    src = textwrap.dedent("""
        import json, time
        import gpm
        from tests.support import preempt, rlocks
        preempt.MODE = "global"
        mu = rlocks.new_lock()                     # a leaf, as gpm._tls's _mu

        def work(n):
            x = 0
            for i in range(n):
                x += i
            return x

        def locked_lib(n):                         # stands for gpm._tls calling ssl.py
            mu.acquire()
            try:
                return work(n)
            finally:
                mu.release()
        preempt._user_cache["<lib>"] = False       # neither is a safe point
        for f in (work, locked_lib):
            f.__code__ = f.__code__.replace(co_filename="<lib>")

        def hog():
            x = 0
            while True:
                x += locked_lib(2000)

        def main():
            gpm.go(hog)
            for _ in range(10):
                gpm.sleep(0.02)
            return gpm.stats().ps[0].preempted

        print(json.dumps(dict(n=gpm.run(main, procs=1))))
    """)
    p = run_prog(src, timeout=50)   # it hung without the fix (30 s timed out at load 23)
    assert p.returncode == 0, f"rc={p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    assert "lock ordering problem" not in p.stderr, p.stderr
    assert json.loads(p.stdout.strip().splitlines()[-1])["n"] >= 10
