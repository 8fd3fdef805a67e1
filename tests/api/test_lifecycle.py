"""Runtime lifecycle (issue 8): shutdown under Ctrl-C, nothing leaked across runs,
goroutines discarded at exit, gpm.go around a run's end, the background runtime."""

import gc
import os
import textwrap
import threading

import pytest

import gpm
from tests.support import current_sched, gpm_threads, run_prog, Sched


def _live_scheds():
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is Sched)


def _fds():
    return len(os.listdir("/proc/self/fd"))


def _one_run_of_everything():
    """A run using channels, timers, net, syscall, finished and parked goroutines."""
    def main():
        ch = gpm.Chan()
        gpm.go(lambda: ch.send(gpm.syscall(sum, [1, 2])))
        assert ch.recv() == 3
        gpm.after(0.001).recv()
        with gpm.net.listen("tcp", "127.0.0.1:0") as ln:
            def serve():
                c = ln.accept()
                c.write(c.read(5))
                c.close()
            server = gpm.go(serve)
            c = gpm.net.dial("tcp", f"127.0.0.1:{ln.addr[1]}")
            c.write(b"hello")
            assert c.read_exactly(5) == b"hello"
            c.close()
            # Not discarded between its write and its close (at procs > 1 it may
            # still be running when main returns): its socket would be closed
            # by GC, and pytest keeps that ResourceWarning's traceback, and so
            # the run's Sched, alive (flake: 'assert 2 <= 1', procs=4).
            server.join()
        never = gpm.Chan()
        for _ in range(20):
            gpm.go(never.recv)              # parked at exit: discarded
        gpm.sleep(0.001)
        return True
    return main


def test_hundred_runs_leak_no_runtime_thread_or_fd():
    """Bug 7: every run left its whole Sched alive (idle worker greenlets stayed
    suspended on an M thread that had exited); 100 runs left 100 Scheds."""
    main = _one_run_of_everything()
    gpm.run(main, procs=2)               # warm up imports and caches
    scheds0, fds0 = _live_scheds(), _fds()
    for i in range(100):
        assert gpm.run(main, procs=(1, 2, 4)[i % 3])
    assert _live_scheds() <= scheds0
    assert _fds() <= fds0
    assert not gpm_threads()


def test_discarded_goroutines_unwind_on_their_own_m():
    """Goroutines alive at exit are unwound (GreenletExit) on their own M thread,
    so their finally blocks run and nothing of theirs stays alive."""
    ran = []
    scheds0 = _live_scheds()

    def parked(ch):
        try:
            ch.recv()
        finally:
            ran.append(threading.current_thread().name)

    def main():
        ch = gpm.Chan()
        for _ in range(10):
            gpm.go(parked, ch)
        gpm.sleep(0.01)
        return gpm.num_goroutine()
    assert gpm.run(main, procs=2) == 11
    assert len(ran) == 10 and all(n.startswith("gpm-M") for n in ran)
    assert _live_scheds() <= scheds0


def test_goroutine_inside_syscall_at_exit_is_unwound_once_its_call_returns():
    """A goroutine inside gpm.syscall when the run ends was left suspended (its
    M skipped it: it cannot be thrown into while its call runs on a pool
    thread), so its finally never ran and its stack kept the runtime alive.
    Its M now waits (bounded) for the call to return, then unwinds it."""
    ran = []
    release = threading.Event()
    scheds0 = _live_scheds()

    def in_syscall():
        try:
            gpm.syscall(release.wait, 10)
        finally:
            ran.append(threading.current_thread().name)

    def main():
        sched = current_sched()
        discard = sched.discard

        def discard_then_release(gs):
            # The M's unwind discards its other goroutines first: the call
            # returns only once the unwind has begun, never before.
            discard(gs)
            release.set()
        sched.discard = discard_then_release
        gpm.go(in_syscall)
        gpm.go(gpm.Chan().recv)                # parked: unwound first
        while not gpm.stats().syscalls:          # it has parked in its call (procs=1)
            gpm.sleep(0.001)
        return 1

    assert gpm.run(main, procs=1) == 1
    assert ran and ran[0].startswith("gpm-M"), ran
    assert _live_scheds() <= scheds0


def test_join_of_a_goroutine_discarded_at_exit_raises_promptly():
    """Bug 11: join() of a goroutine discarded at exit blocked forever."""
    box = []

    def main():
        box.append(gpm.go(gpm.Chan().recv))          # parked forever
        box.append(gpm.go(lambda: None))             # spawned, maybe never run
        return 1
    assert gpm.run(main, procs=1) == 1
    with pytest.raises(RuntimeError, match="discarded"):
        box[0].join(timeout=10)
    assert not box[0].done()


def test_plain_thread_blocked_in_join_is_told_when_the_run_ends():
    got = []

    def main():
        g = gpm.go(gpm.Chan().recv)
        started = gpm.Chan(1)

        def th():
            started.send(None)
            try:
                g.join(timeout=20)
            except BaseException as e:               # noqa: BLE001 - recorded for the assert
                got.append(e)
        t = threading.Thread(target=th)
        t.start()
        started.recv()
        return t
    t = gpm.run(main, procs=2)
    t.join(20)
    assert not t.is_alive()
    assert len(got) == 1 and isinstance(got[0], RuntimeError) and "discarded" in str(got[0])


def test_go_from_plain_thread_as_a_run_ends_is_never_lost(procs):
    """Bug 10: a goroutine handed to a dying runtime never ran and its join
    blocked forever.  Now each one runs, or gpm.go raises, or join says
    'discarded' at once."""
    handles, refused = [], []
    stop = threading.Event()
    started = threading.Event()

    def spawner():
        while not stop.is_set() and len(handles) + len(refused) < 20000:
            try:
                handles.append(gpm.go(int, 7))
            except RuntimeError as e:
                assert "stopping" in str(e)
                refused.append(e)
            started.set()

    t = threading.Thread(target=spawner)

    def main():
        t.start()
        started.wait()
        return True
    assert gpm.run(main, procs=procs)
    stop.set()
    t.join()
    outcomes = {"ran": 0, "discarded": 0}
    for h in handles:
        try:
            assert h.join(timeout=10) == 7
            outcomes["ran"] += 1
        except RuntimeError as e:
            assert "discarded" in str(e)
            outcomes["discarded"] += 1
    assert outcomes["ran"] + outcomes["discarded"] == len(handles)


def test_finished_background_goroutine_does_not_stop_the_next_run():
    """Bug 10: after gpm.go outside gpm.run, every later gpm.run failed with
    'a background runtime ... is still running'."""
    assert gpm.go(lambda: 41).join(timeout=10) == 41
    assert gpm.run(lambda: 42, procs=1) == 42
    assert gpm.run(lambda: 43, procs=2) == 43


def test_live_background_goroutines_run_beside_gpm_run():
    """The rule (README): a gpm.run starts its own runtime beside the
    background one; they talk over channels; a run waiting on a background
    goroutine is not a deadlock."""
    ch = gpm.Chan()
    bg = gpm.go(lambda: ch.recv() + 1)

    def main():
        me = gpm.current()
        ch.send(41)
        return bg.join(), me.id
    assert gpm.run(main, procs=1) == (42, 1)
    # The background runtime still works after the run.
    assert gpm.go(lambda: "still here").join(timeout=10) == "still here"


def test_second_ctrl_c_during_shutdown_still_releases_the_runtime():
    """Bug 5: a second KeyboardInterrupt while gpm.run joined its threads
    skipped the release, and every later gpm.run said 'a runtime is already running'."""
    src = textwrap.dedent("""
        import _thread, signal, sys, threading, time
        import gpm

        ev = threading.Event()
        main_id = threading.main_thread().ident

        def in_join():
            f = sys._current_frames().get(main_id)
            while f is not None:
                if f.f_code.co_name == "join_threads":
                    return True
                f = f.f_back
            return False

        def second_ctrl_c():
            for _ in range(3000):          # bounded: 30 s
                if in_join():
                    signal.pthread_kill(main_id, signal.SIGINT)
                    return
                time.sleep(0.01)           # polling an observation, not synchronization

        def main():
            threading.Thread(target=second_ctrl_c, daemon=True).start()
            _thread.interrupt_main()       # first Ctrl-C
            ev.wait(30)                    # the goroutine blocks its M: join_threads waits

        try:
            gpm.run(main, procs=1)
        except KeyboardInterrupt:
            print("interrupted")
        ev.set()
        print(gpm.run(lambda: 42, procs=1))
    """)
    r = run_prog(src, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["interrupted", "42"]


_shared = gpm.Chan()


def test_channel_reused_by_a_later_run_skips_receivers_discarded_at_exit():
    """A receiver discarded at the end of one run stayed in the queue of a
    channel that outlives the run: the next run's send handed its value to the
    dead goroutine, and the next receiver waited forever (Deadlock)."""
    scheds0 = _live_scheds()

    def first():
        gpm.go(_shared.recv)
        gpm.go(lambda: gpm.select(_shared.recv, gpm.after(60).recv))
        gpm.sleep(0.01)
    gpm.run(first, procs=1)

    def second():
        gpm.go(_shared.send, 5)
        gpm.go(_shared.send, 6)
        return sorted([_shared.recv(), _shared.recv()])
    assert gpm.run(second, procs=2) == [5, 6]
    assert _live_scheds() <= scheds0    # the first run's Sched is not kept by the channel


CTRL_C_INSIDE_THREAD_START = textwrap.dedent('''
    import signal, threading, time, gpm
    real_start = threading.Thread.start

    class InterruptingEvent(threading.Event):
        def wait(self, timeout=None):
            # The thread exists and runs; Ctrl-C lands in start()'s wait for it.
            signal.raise_signal(signal.SIGINT)
            return super().wait(timeout)

    def start(self):
        if self.name == "gpm-M1":
            self._started = InterruptingEvent()
            boot = self._bootstrap

            def slow_bootstrap():
                time.sleep(0.3)       # a loaded machine: the new thread runs late
                boot()
            self._bootstrap = slow_bootstrap
        return real_start(self)
    threading.Thread.start = start
    try:
        gpm.run(lambda: gpm.sleep(5), procs=2)
        print("no interrupt")
    except KeyboardInterrupt:
        print("interrupted")
    threading.Thread.start = real_start
    # enumerate() includes threads still starting (not is_alive() yet).
    left = [t.name for t in threading.enumerate() if t.name.startswith("gpm-")]
    print("left", left)
    assert gpm.run(lambda: 7) == 7
''')


def test_ctrl_c_inside_thread_start_leaves_no_runtime_thread():
    """Issue 10 bug 4: a Ctrl-C landing in Thread.start() of an M (its thread already running)
    left that M running after gpm.run raised.  Sched.start holds SIGINT until all its threads
    started, then delivers it: gpm.run raises KeyboardInterrupt with every thread joined."""
    r = run_prog(CTRL_C_INSIDE_THREAD_START, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "interrupted" in r.stdout and "left []" in r.stdout, (r.stdout, r.stderr[-2000:])


SYSMON_FIRST_JOINS_STARTED_MS = textwrap.dedent('''
    import threading, time, gpm
    real_start, real_join = threading.Thread.start, threading.Thread.join
    order, returned, early = [], set(), []

    def start(self):
        if self.name.startswith("gpm-"):
            order.append(self.name)
        r = real_start(self)
        if self.name.startswith("gpm-M"):
            time.sleep(0.05)          # widen the window: the quick run ends meanwhile
        returned.add(self)
        return r

    def join(self, timeout=None):
        if self.name.startswith("gpm-M"):     # the teardown (api.join_threads) joins them
            early.append(self not in returned)
        return real_join(self, timeout)
    threading.Thread.start, threading.Thread.join = start, join
    for _ in range(3):
        gpm.run(lambda: None, procs=3)
    print("order", order[:4], "early", early)
    # sysmon first; M0 last (the other Ms wait until it ran the main G: api.start_threads)
    assert order[:4] == ["gpm-sysmon", "gpm-M1", "gpm-M2", "gpm-M0"], order
    assert early and not any(early), early
''')


def test_sysmon_starts_first_and_joins_only_started_ms():
    """Issue 10 bug 2: sysmon, when a quick run ended, joined an M whose ident was set but
    whose start() had not returned (RuntimeError: cannot join thread before it is started).
    The teardown (api.join_threads; sysmon no longer joins anything) joins the Ms only
    once every M's start() returned.
    Sysmon's thread starts first (it watches the Ps from the first G on: on 3.13t the main
    thread's Thread.start() of the next M waited 60-280 ms while M0 ran a CPU loop, so no
    preemption could happen meanwhile) and joins the Ms only after every start() returned."""
    r = run_prog(SYSMON_FIRST_JOINS_STARTED_MS, timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr[-3000:])


def test_goroutine_closing_its_conn_while_unwound_at_exit(caplog, procs):
    """A goroutine parked in Conn.read when its run ends is unwound; its ``with
    conn:`` closes the conn, and close evicted the reader still registered on the
    PollDesc -- itself: goready of a running G ('casgstatus: bad transition from
    running to runnable', logged) and the conn's fd leaked (flake in the
    randomize loop)."""
    from tests.support import wait_io, nfds
    closed = []

    def main():
        ln = gpm.net.listen("tcp", "127.0.0.1:0")
        c = gpm.net.dial("tcp", f"127.0.0.1:{ln.addr[1]}")
        s = ln.accept()
        ln.close()

        def reader():
            with s:
                try:
                    s.read()
                finally:
                    closed.append("finally")
        h = gpm.go(reader)
        wait_io(h)
        c.close()
        return "done"
    before = nfds()
    with caplog.at_level("WARNING", logger="gpm"):
        assert gpm.run(main, procs=procs) == "done"
    assert closed == ["finally"]
    assert not [r for r in caplog.records if "discarded" in r.getMessage()], caplog.text
    assert nfds() == before
