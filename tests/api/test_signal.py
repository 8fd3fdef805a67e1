"""gpm.signal (API.md v2, Go's os/signal): real signals sent to a child process.

Each scenario runs in a subprocess with a timeout (handlers are process-global and a lost
delivery would hang).  Signals go to the child itself with os.kill(os.getpid(), ...).
"""

import os
import subprocess
import sys
import textwrap

import pytest

PRELUDE = """
import os, signal, sys, gpm, gpm.signal
"""


def run_child(code, timeout=30):
    env = dict(os.environ)
    env.pop("GPM_MAXPROCS", None)
    try:
        p = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code)], capture_output=True,
                           text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"signal scenario hung\nstdout:\n{e.stdout}\nstderr:\n{e.stderr}")
    if p.returncode != 0:
        pytest.fail(f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p.stdout.splitlines()


def test_notify_relays_a_real_signal_to_the_channel():
    out = run_child("""
def main():
    ch = gpm.Chan(1)
    gpm.signal.notify(ch, signal.SIGUSR1)
    os.kill(os.getpid(), signal.SIGUSR1)
    s = ch.recv()
    print(s is signal.SIGUSR1, type(s).__name__)
gpm.run(main, procs=2)
print("after run", signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL)
""")
    assert out == ["True Signals", "after run True"]


def test_sigint_is_relayed_not_raised_and_stop_restores_the_handler():
    out = run_child("""
def main():
    ch = gpm.Chan(1)
    gpm.signal.notify(ch, signal.SIGINT)
    os.kill(os.getpid(), signal.SIGINT)
    print("got", ch.recv().name)
    gpm.signal.stop(ch)
    print("restored", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    os.kill(os.getpid(), signal.SIGINT)
    gpm.sleep(30)                  # KeyboardInterrupt ends the run first
try:
    gpm.run(main, procs=1)
except KeyboardInterrupt:
    print("KeyboardInterrupt")
""")
    assert out == ["got SIGINT", "restored True", "KeyboardInterrupt"]


def test_delivery_to_a_full_channel_is_dropped_and_fanout_to_every_channel():
    out = run_child("""
def main():
    full = gpm.Chan(1)
    both = gpm.Chan(8)
    marker = gpm.Chan(1)
    gpm.signal.notify(full, signal.SIGUSR1)
    gpm.signal.notify(both, signal.SIGUSR1, signal.SIGUSR2)
    gpm.signal.notify(marker, signal.SIGUSR2)
    for _ in range(3):
        os.kill(os.getpid(), signal.SIGUSR1)
        # The relay handles signals in order; wait for each to reach `both` so the three
        # are separate deliveries (the kernel merges a pending signal with a new one).
        print("both", both.recv().name)
    os.kill(os.getpid(), signal.SIGUSR2)
    marker.recv()
    print("full holds", len(full), "both has", both.recv().name)
    gpm.signal.stop(full)
    print("still ours", signal.getsignal(signal.SIGUSR1) is not signal.SIG_DFL)
    gpm.signal.stop(both)
    print("restored", signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL,
          signal.getsignal(signal.SIGUSR2) is not signal.SIG_DFL)
    gpm.signal.stop(marker)
    print("restored2", signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL)
gpm.run(main, procs=2)
""")
    assert out == ["both SIGUSR1"] * 3 + ["full holds 1 both has SIGUSR2", "still ours True",
                                          "restored True True", "restored2 True"]


def test_notify_all_signals_and_bad_input():
    out = run_child("""
def check(f):
    try:
        f()
    except Exception as e:
        print(type(e).__name__, e)
check(lambda: gpm.signal.notify(gpm.Chan(1), signal.SIGUSR1))
def main():
    check(lambda: gpm.signal.notify("x", signal.SIGUSR1))
    check(lambda: gpm.signal.notify(gpm.Chan(1), signal.SIGKILL))
    check(lambda: gpm.signal.notify(gpm.Chan(1), "SIGUSR1"))
    print("untouched", signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL)
    ch = gpm.Chan(4)
    gpm.signal.notify(ch)
    os.kill(os.getpid(), signal.SIGUSR2)
    print("all", ch.recv().name)
    gpm.signal.stop(ch)
    print("restored", signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
          signal.getsignal(signal.SIGINT) is signal.default_int_handler)
gpm.run(main, procs=1)
""")
    assert out == [
        "RuntimeError gpm.signal.notify: no gpm runtime is running (call it inside gpm.run)",
        "TypeError gpm.signal.notify: ch must be a gpm.Chan, got str",
        "ValueError gpm.signal.notify: SIGKILL cannot be caught",
        "TypeError gpm.signal.notify: signums must be signal numbers, got str",
        "untouched True", "all SIGUSR2", "restored True True"]


def test_waiting_for_a_signal_is_not_a_deadlock():
    # Go: a program blocked on <-sig after signal.Notify is not "all goroutines are asleep".
    out = run_child("""
import threading
def main():
    ch = gpm.Chan(1)
    gpm.signal.notify(ch, signal.SIGTERM)
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
    return ch.recv().name
print(gpm.run(main, procs=1))
""")
    assert out == ["SIGTERM"]


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_stopping_a_background_runtime_restores_the_handlers():
    # notify from the main thread registers on the background runtime (gpm.go started it); when
    # that runtime is stopped its exit hook must run as gpm.run's does: the previous handler is
    # back, and SIGUSR1's default action (ending the process) happens again.
    out = run_child(f"""
sys.path.insert(0, {ROOT!r})
from tests.support import stop_background
ch = gpm.Chan(1)
gpm.go(lambda: None).join()
gpm.signal.notify(ch, signal.SIGUSR1)
os.kill(os.getpid(), signal.SIGUSR1)
print("got", ch.recv().name)
stop_background()
print("handler", signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL,
      signal.getsignal(signal.SIGINT) is signal.default_int_handler)
""")
    assert out == ["got SIGUSR1", "handler True True"]


def test_a_fork_child_gets_the_default_action_back():
    # A goroutine forks while SIGTERM is relayed to a channel: nothing relays in the child, so a
    # SIGTERM there must get the previous disposition (the default: the child dies of it) instead
    # of vanishing into the parent's relay pipe (the child used to live on and exit 0).
    out = run_child("""
import time
def main():
    ch = gpm.Chan(1)
    gpm.signal.notify(ch, signal.SIGTERM)
    def fork():
        pid = os.fork()
        if pid == 0:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(100):
                time.sleep(0.01)          # the handler runs between these
            os._exit(0)
        return pid
    pid = gpm.go(fork).join()
    _, status = gpm.syscall(os.waitpid, pid, 0)
    os.kill(os.getpid(), signal.SIGTERM)   # the parent still relays
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, ch.recv().name
print(gpm.run(main, procs=1))
""")
    assert out == ["(True, 'SIGTERM')"]
