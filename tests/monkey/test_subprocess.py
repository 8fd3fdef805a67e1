"""gpm.monkey subprocess item: wait/communicate/run/check_output park inside goroutines."""

from tests.monkey.patched import run_patched, lines

MINE = "gpm.monkey.patch_subprocess(); gpm.monkey.patch_time()"


def test_concurrent_children_on_one_p():
    # 20 goroutines on procs=1 each run a child that exits only once all 20 children exist
    # (they wait for a FIFO-like file count): a wait that blocked the M would keep the other
    # goroutines from ever starting their children, and the children would give up ("late").
    out = run_patched("""
        import os, subprocess, sys, tempfile, gpm
        N = 20
        d = tempfile.mkdtemp()
        child = (
            "import os, sys, time\\n"
            "d, i, n = sys.argv[1], sys.argv[2], int(sys.argv[3])\\n"
            "open(os.path.join(d, i), 'w').close()\\n"
            "t = time.monotonic() + 15\\n"
            "while len(os.listdir(d)) < n and time.monotonic() < t: time.sleep(0.01)\\n"
            "print('ok' if len(os.listdir(d)) >= n else 'late')\\n"
        )
        def run(i):
            mode = i % 4
            args = [sys.executable, "-c", child, d, str(i), str(N)]
            if mode == 0:
                return subprocess.check_output(args).strip()
            if mode == 1:
                return subprocess.run(args, capture_output=True, check=True).stdout.strip()
            if mode == 2:
                p = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.PIPE)
                return p.communicate(b"")[0].strip()
            with subprocess.Popen(args, stdout=subprocess.PIPE) as p:
                out = p.stdout.read() if False else p.communicate()[0]
                p.wait()
                return out.strip()
        def main():
            gs = [gpm.go(run, i) for i in range(N)]
            return [g.join() for g in gs]
        print("outs", sorted(set(gpm.run(main, procs=1))))
    """, patch=MINE, timeout=60)
    assert lines(out) == {"outs": "[b'ok']"}


def test_timeouts_large_io_and_plain_threads():
    out = run_patched("""
        import subprocess, sys, threading, gpm
        def main():
            r = []
            p = subprocess.Popen(["sleep", "5"])
            try:
                p.wait(0.05)
            except subprocess.TimeoutExpired as e:
                r.append(str(e))
            p.kill()
            r.append(p.wait())
            try:
                subprocess.run(["sleep", "5"], timeout=0.05)
            except subprocess.TimeoutExpired as e:
                r.append(0 < e.timeout <= 0.05)
            big = b"x" * (3 << 20)
            r.append(subprocess.run(["cat"], input=big, capture_output=True).stdout == big)
            r.append(subprocess.run([sys.executable, "-c", "import sys; sys.exit(3)"]).returncode)
            try:
                subprocess.check_output(["false"])
            except subprocess.CalledProcessError as e:
                r.append(e.returncode)
            return r
        print("goroutine", gpm.run(main, procs=1))
        res = []
        t = threading.Thread(target=lambda: res.append(subprocess.check_output(["echo", "t"])))
        t.start(); t.join()
        print("thread", res, subprocess.run(["true"]).returncode)
    """, patch=MINE)
    assert lines(out) == {"goroutine": "[\"Command '['sleep', '5']' timed out after 0.05 seconds\", -9, True, "
                                       "True, 3, 1]",
                          "thread": "[b't\\n'] 0"}


def test_popen_forks_and_waits_for_exec_in_the_syscall_pool():
    # Popen's fork/exec and its blocking wait for the child's exec run in a gpm.syscall pool
    # thread inside a goroutine (the thread that calls subprocess's fork_exec is recorded), not
    # on the M; with a preexec_fn (the interpreter runs its at-fork hooks around that fork) it
    # stays on the M.  Errors of the exec come back as the original's exceptions.
    # The spawn is recorded in both of subprocess's ways to start a child: _fork_exec and, since
    # 3.13 (posix_spawn_file_actions_addclosefrom_np made close_fds=True eligible), os.posix_spawn
    # for an executable given with a directory and no preexec_fn; 3.11/3.12 take _fork_exec for
    # all three calls here, 3.13 and 3.13t posix_spawn for the first and third.
    out = run_patched("""
        import os, subprocess, sys, threading, gpm
        seen = []
        def recording(orig):
            def spawn(*a, **kw):
                seen.append(threading.current_thread().name.rstrip("0123456789"))
                return orig(*a, **kw)
            return spawn
        subprocess._fork_exec = recording(subprocess._fork_exec)
        if hasattr(os, "posix_spawn"):
            os.posix_spawn = recording(os.posix_spawn)
        def main():
            rc = subprocess.run([sys.executable, "-c", "pass"]).returncode
            rc2 = subprocess.run([sys.executable, "-c", "pass"], preexec_fn=lambda: None).returncode
            try:
                subprocess.Popen(["/nonexistent/gpm-test-binary"])
                err = None
            except FileNotFoundError as e:
                err = type(e).__name__
            return rc, rc2, err
        print("popen", gpm.run(main, procs=1), seen)
    """, patch=MINE)
    assert lines(out) == {"popen": "(0, 0, 'FileNotFoundError') ['gpm-syscall-', 'gpm-M', 'gpm-syscall-']"}
