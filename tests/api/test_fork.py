"""os.fork() inside gpm (issue 8, bug 12).  Each scenario runs in a fresh
interpreter; every fork child is waited for with a bound and killed if hung."""

import textwrap

import pytest

from tests.support import run_prog

PRELUDE = textwrap.dedent("""
    import os, signal, sys, threading, time
    import gpm

    def wait_child(pid, limit=20.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:      # bounded poll of the child's status
            p, st = os.waitpid(pid, os.WNOHANG)
            if p:
                return os.waitstatus_to_exitcode(st)
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return "hung"
""")


def _run(body):
    r = run_prog(PRELUDE + textwrap.dedent(body), timeout=90)
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.parametrize("where", ["main", "other"])
def test_fork_child_starts_a_new_run_and_exits_when_its_goroutine_returns(where):
    """Before: from a goroutine other than main the child hung forever; in any
    child gpm.run raised (the parent's runtime seemed to be running)."""
    r = _run(f"""
        def forker():
            pid = os.fork()
            if pid == 0:
                print("child run", gpm.run(lambda: 42, procs=2), flush=True)
                print("child go", gpm.go(lambda: 7).join(timeout=10), flush=True)
                return "done"                    # the child exits here, status 0
            return wait_child(pid)

        def main():
            if {where!r} == "main":
                return forker()
            return gpm.go(forker).join()
        print("parent", gpm.run(main, procs=2), flush=True)
        print("parent again", gpm.run(lambda: 1, procs=1), flush=True)
    """)
    lines = r.stdout.splitlines()
    assert lines[:2] == ["child run 42", "child go 7"], r.stdout + r.stderr
    assert lines[2:] == ["parent 0", "parent again 1"], r.stdout + r.stderr


def test_fork_child_exit_status_and_atexit():
    """The child ends as a Python program does: atexit runs, buffered output is
    flushed, status 1 with a traceback when the forking goroutine raised."""
    r = _run("""
        import atexit

        def forker(fail):
            pid = os.fork()
            if pid == 0:
                atexit.register(print, "child atexit")
                print("child buffered")          # no flush: exit must flush it
                if fail:
                    raise ValueError("child failed")
                return None
            return wait_child(pid)

        def main():
            return gpm.go(forker, False).join(), gpm.go(forker, True).join()
        print("parent", gpm.run(main, procs=2), flush=True)
    """)
    assert r.stdout.count("child buffered") == 2 and r.stdout.count("child atexit") == 2
    assert "parent (0, 1)" in r.stdout
    assert "ValueError: child failed" in r.stderr


def test_forking_goroutine_is_plain_code_in_the_child():
    """In the child the forking goroutine is plain code on a plain thread: it
    uses the child's own (background) runtime through channels and join."""
    r = _run("""
        def forker():
            pid = os.fork()
            if pid == 0:
                ch = gpm.Chan()
                gpm.go(ch.send, 3)
                print("child", gpm.current(), ch.recv(), flush=True)
                return None
            return wait_child(pid)

        def main():
            return gpm.go(forker).join()
        print("parent", gpm.run(main, procs=2), flush=True)
    """)
    assert "child None 3" in r.stdout and "parent 0" in r.stdout, r.stdout + r.stderr


def test_fork_from_a_plain_thread_during_a_run():
    """Before: the child's gpm.run said 'a runtime is already running'."""
    r = _run("""
        out = []

        def th():
            pid = os.fork()
            if pid == 0:
                print("child run", gpm.run(lambda: 5, procs=1), flush=True)
                os._exit(0)
            out.append(wait_child(pid))

        def main():
            t = threading.Thread(target=th)
            t.start()
            gpm.syscall(t.join)
            return out
        print("parent", gpm.run(main, procs=2), flush=True)
    """)
    assert "child run 5" in r.stdout and "parent [0]" in r.stdout, r.stdout + r.stderr
