"""One duration validator for the whole package (issue 8, item 11).

Every API taking seconds or a deadline rejects bool, str and other
non-numbers with TypeError and NaN with ValueError, naming the parameter,
before any side effect; int, float, Fraction and +-inf are accepted.
Before the shared validator, Timer/after/with_timeout accepted "1" and True
while sleep rejected them.
"""

import math
from fractions import Fraction

import pytest

import gpm
from gpm import context
from tests.support import check_duration, check_deadline, check_timeout, plain_sleep, run_prog

BAD_TYPES = ["1", True, False, b"1", None, object(), [1], 1j]
NAN = float("nan")


def _bg():
    return context.background()


# (label, call with a duration value, parameter text expected in the message)
DURATION_APIS = [
    ("sleep", lambda v: gpm.sleep(v), "gpm.sleep: seconds"),
    ("after", lambda v: gpm.after(v), "gpm.after: seconds"),
    ("Timer", lambda v: gpm.Timer(v), "gpm.Timer: seconds"),
    ("after_func", lambda v: gpm.after_func(v, lambda: None), "gpm.after_func: seconds"),
    ("Ticker", lambda v: gpm.Ticker(v), "gpm.Ticker: seconds"),
    ("with_timeout", lambda v: context.with_timeout(_bg(), v), "context.with_timeout: seconds"),
    ("with_deadline", lambda v: context.with_deadline(_bg(), v), "context.with_deadline: deadline"),
]


@pytest.mark.parametrize("api", DURATION_APIS, ids=lambda a: a[0])
@pytest.mark.parametrize("bad", BAD_TYPES, ids=repr)
def test_bad_type_is_type_error_naming_the_parameter(api, bad):
    _, call, param = api
    with pytest.raises(TypeError, match=param.replace(".", r"\.")):
        call(bad)


@pytest.mark.parametrize("api", DURATION_APIS, ids=lambda a: a[0])
def test_nan_is_value_error_naming_the_parameter(api):
    _, call, param = api
    with pytest.raises(ValueError, match=param.replace(".", r"\.") + " is NaN"):
        call(NAN)


def test_validator_accepts_reals_and_inf():
    assert check_duration(1, "x") == 1.0 and type(check_duration(1, "x")) is float
    assert check_duration(0.25, "x") == 0.25
    assert check_duration(Fraction(1, 4), "x") == 0.25
    assert check_duration(math.inf, "x") == math.inf
    assert check_duration(-math.inf, "x") == -math.inf
    assert check_duration(10**400, "x") == math.inf      # beyond float range: never
    assert check_deadline(-5, "x") == -5.0
    assert check_timeout(None, "x") is None
    with pytest.raises(TypeError, match="join: timeout"):
        check_timeout(True, "join: timeout")


def test_resets_validate_without_side_effects():
    def main():
        tm = gpm.Timer(60)
        for bad in ("1", True, NAN):
            with pytest.raises((TypeError, ValueError), match=r"gpm\.Timer\.reset: seconds"):
                tm.reset(bad)
        assert tm.stop()                    # still armed: the bad resets changed nothing
        tk = gpm.Ticker(0.001)
        with pytest.raises(TypeError, match=r"gpm\.Ticker\.reset: seconds"):
            tk.reset("0.5")
        tk.c.recv()                         # still ticking at its old period
        tk.stop()
        return True

    assert gpm.run(main, procs=1)


def test_join_timeout_validated_even_when_done():
    def main():
        g = gpm.go(lambda: 7)
        assert g.join() == 7
        for bad in ("1", True):
            with pytest.raises(TypeError, match=r"Goroutine\.join: timeout"):
                g.join(bad)
        with pytest.raises(ValueError, match=r"Goroutine\.join: timeout is NaN"):
            g.join(NAN)
        return g.join(timeout=Fraction(1, 2))

    assert gpm.run(main, procs=1) == 7


def test_inf_means_never():
    def main():
        tm = gpm.Timer(math.inf)
        ctx, cancel = context.with_timeout(_bg(), math.inf)
        assert ctx.deadline() == math.inf and ctx.err() is None
        cancel()
        gpm.sleep(-math.inf)                # returns at once after a yield
        return tm.stop()

    assert gpm.run(main, procs=1)


_FAR_SLEEP_PROG = r"""
import math, os, sys, threading, gpm
started = threading.Event()

def sleeper(d):
    started.set()
    try:
        gpm.sleep(d)
    except BaseException as e:
        print(f"gpm.sleep({d!r}) raised {e!r}", flush=True)
        os._exit(1)

for d in (1e300, math.inf, 9223372036.0):
    started.clear()
    threading.Thread(target=sleeper, args=(d,), daemon=True).start()
    started.wait()
for t in threading.enumerate():
    if t is not threading.main_thread():
        t.join(0.5)          # the buggy sleep raised at once (OverflowError / EINVAL)
print("ok")
"""


def test_far_sleep_on_a_plain_thread_blocks_instead_of_raising():
    # time.sleep(1e300) raises OverflowError and time.sleep(TIMEOUT_MAX)
    # EINVAL; the validator lets such durations (and inf) through, so the
    # plain-thread path must wait them out in chunks.
    p = run_prog(_FAR_SLEEP_PROG, timeout=30)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stdout + p.stderr


def test_plain_sleep_waits_a_far_duration_in_chunks():
    now = [0.0]
    slept = []

    def fake_sleep(s):
        assert 0 <= s <= 10.0
        slept.append(s)
        now[0] += s

    plain_sleep(35.0, sleep=fake_sleep, clock=lambda: now[0], chunk=10.0)
    assert slept == [10.0, 10.0, 10.0, 5.0] and now[0] == 35.0
    plain_sleep(3.0, sleep=fake_sleep, clock=lambda: now[0], chunk=10.0)
    assert slept[-1] == 3.0

    class Enough(Exception):
        pass

    def counting_sleep(s):
        slept.append(s)
        if len(slept) > 100:
            raise Enough
    with pytest.raises(Enough):               # inf: chunk after chunk, forever
        plain_sleep(math.inf, sleep=counting_sleep, clock=lambda: now[0], chunk=10.0)
    assert set(slept[-90:]) == {10.0}
