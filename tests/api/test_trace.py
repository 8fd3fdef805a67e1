"""schedtrace / scheddetail lines (GPM_DEBUG) and gpm.dump_goroutines()."""

import os
import re
import subprocess
import sys
import threading

import pytest

import gpm
from tests import support
from tests.support import current_sched, parse_debug, wait_until
from tests.support import trace_mod as _trace     # the sysmon hook and its text builder

SCHED_RE = re.compile(
    r"^SCHED (\d+)ms: gomaxprocs=(\d+) idleprocs=(\d+) threads=(\d+) spinningthreads=(\d+) "
    r"idlethreads=(\d+) runqueue=(\d+) \[([\d ]*)\]$")
HEADER_RE = re.compile(r"^goroutine (\d+) \[([^\]]+)\]:$", re.M)


def _gpm_thread_count():
    return sum(1 for t in threading.enumerate() if t.name.startswith("gpm-") and t.is_alive())


def _sleeper(d):
    gpm.sleep(d)


# -- SCHED lines ---------------------------------------------------------------

def test_schedtrace_line_matches_stats_procs1():
    """One P: main spawns 5 Gs without yielding: 4 in the ring, 1 in runnext (not counted)."""
    def main():
        for _ in range(5):
            gpm.go(_sleeper, 0)
        st = gpm.stats()
        line = _trace.schedtrace(current_sched())
        return st, line, _gpm_thread_count()

    st, line, nthreads = gpm.run(main, procs=1)
    m = SCHED_RE.match(line)
    assert m, line
    ms, procs, idle, threads, spinning, idlethreads, runq, locals_ = m.groups()
    assert int(procs) == 1 == st.procs
    assert int(idle) == st.idle_ps == 0
    assert int(spinning) == st.spinning_ms == 0
    assert int(idlethreads) == 0
    assert int(runq) == st.global_runq == 0
    assert [int(x) for x in locals_.split()] == [p.runq for p in st.ps] == [4]
    assert int(threads) == nthreads
    assert 0 <= int(ms) <= st.uptime * 1000 + 1000


def test_schedtrace_line_matches_stats_procs2():
    """Two Ps, the other Gs parked: numbers agree with a stats() snapshot taken around it."""
    started = []

    def parked(i):
        started.append(i)
        gpm.sleep(60)

    def main():
        for i in range(6):
            gpm.go(parked, i)
        wait_until(lambda: len(started) == 6)
        sched = current_sched()
        for _ in range(200):
            a = gpm.stats()
            line = _trace.schedtrace(sched)
            b = gpm.stats()
            def key(s):
                return (s.idle_ps, s.spinning_ms, s.global_runq, [p.runq for p in s.ps])
            if key(a) == key(b):
                return a, line, _gpm_thread_count()
            gpm.sleep(0.005)
        raise AssertionError("scheduler never quiet")

    st, line, nthreads = gpm.run(main, procs=2)
    m = SCHED_RE.match(line)
    assert m, line
    _, procs, idle, threads, spinning, idlethreads, runq, locals_ = m.groups()
    assert int(procs) == 2
    assert int(idle) == st.idle_ps
    assert int(spinning) == st.spinning_ms
    assert int(runq) == st.global_runq
    assert [int(x) for x in locals_.split()] == [p.runq for p in st.ps]
    assert int(threads) == nthreads >= 1
    assert 0 <= int(idlethreads) <= 1          # main keeps one M busy


def test_scheddetail_lines():
    def blocker():
        gpm.sleep(60)

    def main():
        g = gpm.go(blocker)
        wait_until(lambda: "sleep" in _trace.schedtrace(current_sched(), detail=True).split(f"G{g.id}:")[1])
        return g.id, _trace.schedtrace(current_sched(), detail=True)

    gid, text = gpm.run(main, procs=2)
    lines = text.splitlines()
    assert SCHED_RE.match(lines[0]), lines[0]
    plines = [l for l in lines if re.match(r"^  P\d+: status=\d ", l)]
    mlines = [l for l in lines if re.match(r"^  M\d+: p=", l)]
    assert len(plines) == 2 and len(mlines) >= 2
    assert any("name=gpm-M0" in l for l in mlines)
    assert re.search(r"^  P\d+: .*runqsize=\d+ .*timerslen=\d+", plines[0])
    assert f"  G{gid}: status=4(sleep) m=nil" in text
    assert re.search(r"^  G1: status=2\(\) m=\d", text, re.M), text


class _FakeSched:
    """Just what schedtrace reads, so the tick's cadence is tested without threads."""

    def __init__(self, period):
        self.debug = parse_debug(f"schedtrace={period}")
        self.start_time = 100.0
        self.procs = 0
        self.allp = []
        self.ms = []
        self.npidle = self.nmspinning = self.runqsize = 0
        self.allgs = {}
        self.allglock = threading.Lock()
        self.sysmon = _FakeSysmon()           # keeps the cadence (Sysmon.last_trace)


class _FakeSysmon:
    last_trace = None


def test_schedtrace_tick_cadence(capsys):
    s = _FakeSched(50)
    assert _trace.schedtrace_tick(s, 100.0) is not None          # first tick prints at once
    assert _trace.schedtrace_tick(s, 100.030) is None
    assert _trace.schedtrace_tick(s, 100.049) is None
    t = _trace.schedtrace_tick(s, 100.051)
    assert t.startswith("SCHED 51ms: gomaxprocs=0 ")
    assert _trace.schedtrace_tick(s, 100.080) is None
    assert _trace.schedtrace_tick(s, 100.101) is not None        # cadence kept (50 ms grid)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(SCHED_RE.match(l) for l in err), err


def test_schedtrace_tick_off_by_default(capsys):
    s = _FakeSched(0)
    assert _trace.schedtrace_tick(s, 1.0) is None
    assert capsys.readouterr().err == ""


def test_gpm_debug_unknown_key_warns(caplog):
    with caplog.at_level("WARNING", logger="gpm"):
        flags = parse_debug("schedtrace=10,bogus=1,scheddetail=x")
    assert flags.schedtrace == 10 and flags.scheddetail == 0
    text = caplog.text
    assert "unknown key 'bogus'" in text
    assert "scheddetail" in text


_TRACE_PROG = r"""
import gpm
def main():
    gpm.sleep(0.5)
gpm.run(main, procs=2)
"""


def test_schedtrace_env_prints_from_sysmon():
    """End to end: GPM_DEBUG=schedtrace=50 makes sysmon print SCHED lines to stderr."""
    env = dict(os.environ, GPM_DEBUG="schedtrace=50,scheddetail=1")
    p = subprocess.run([sys.executable, "-c", _TRACE_PROG], env=env, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    sched_lines = [l for l in p.stderr.splitlines() if l.startswith("SCHED")]
    assert len(sched_lines) >= 4, p.stderr
    for l in sched_lines:
        m = SCHED_RE.match(l)
        assert m, l
        assert m.group(2) == "2" and len(m.group(8).split()) == 2
    assert "  G1: status=" in p.stderr and "  P1: status=" in p.stderr
    stamps = [int(SCHED_RE.match(l).group(1)) for l in sched_lines]
    assert stamps == sorted(stamps)


# -- goroutine dumps -------------------------------------------------------------

def _sleepy_leaf():
    gpm.sleep(60)


def _sleepy_outer():
    _sleepy_leaf()


def _joiner(h):
    h.join()


def _never_started():
    pass


# The snapshot path (every M reports its own greenlets' stacks) is what a free-threaded
# build uses; it is forced on here too so GIL builds cover it.  The direct read of other
# threads' frames is only safe with a GIL, so it is tested only there.
@pytest.mark.parametrize("snapshot", sorted({_trace.SNAPSHOT, True}))
def test_dump_shows_parked_goroutines_with_stacks(monkeypatch, snapshot):
    monkeypatch.setattr(_trace, "SNAPSHOT", snapshot)

    def main():
        sleepers = [gpm.go(_sleepy_outer) for _ in range(3)]
        j = gpm.go(_joiner, sleepers[0])
        def started(g):
            dump = gpm.dump_goroutines()
            head = f"goroutine {g.id} ["
            return head in dump and "(not started)" not in dump.split(head)[1].split("\n\n")[0]
        wait_until(lambda: all(started(g) for g in sleepers + [j]))
        return [g.id for g in sleepers], j.id, gpm.dump_goroutines()

    def main1():
        late = gpm.go(_never_started)            # in runnext: created, not run yet (one P)
        return late.id, gpm.dump_goroutines()

    sids, jid, text = gpm.run(main, procs=2)
    lid, text1 = gpm.run(main1, procs=1)
    blocks = {int(b.split()[1]): b for b in text.split("\n\n") if b.startswith("goroutine ")}
    assert HEADER_RE.search(text)
    assert text.index("goroutine 1 [") < text.index(f"goroutine {sids[0]} [")   # caller first
    assert re.match(r"goroutine 1 \[running, \d+ms, P\d\]:", blocks[1])
    assert "<locals>.main\n" in blocks[1]
    for gid in sids:
        b = blocks[gid]
        assert re.match(rf"goroutine {gid} \[sleep, \d+(ms|\.\d+s), P\d\]:", b), b
        assert b.index("in _sleepy_leaf") < b.index("in _sleepy_outer")          # innermost first
        assert "gpm.sleep(60)" in b                                             # source line
        assert "created by test_dump_shows_parked_goroutines_with_stacks.<locals>.main" in b
        assert "in goroutine 1" in b
        assert "gpm/_runtime" not in b                                           # runtime frames hidden
    assert re.match(rf"goroutine {jid} \[goroutine join, ", blocks[jid])
    assert "in _joiner" in blocks[jid] and "h.join()" in blocks[jid]
    blocks = {int(b.split()[1]): b for b in text1.split("\n\n") if b.startswith("goroutine ")}
    assert re.match(rf"goroutine {lid} \[runnable", blocks[lid])
    assert "(not started)" in blocks[lid] and "in _never_started" in blocks[lid]


@pytest.mark.parametrize("snapshot", sorted({_trace.SNAPSHOT, True}))
def test_dump_running_goroutine_on_other_thread(monkeypatch, snapshot):
    """A goroutine running on an M shows its live stack (read from the M's thread) with a GIL;
    on the snapshot path (free-threaded) it is "stack unavailable": its M never reaches a
    scheduling point to report it, and its frames are never read from another thread."""
    monkeypatch.setattr(_trace, "SNAPSHOT", snapshot)
    monkeypatch.setattr(_trace, "SNAPSHOT_WAIT", 0.2)
    import hashlib
    started = threading.Event()
    stop = threading.Event()
    out = []
    buf = b"x" * 65536

    def busy_hashing_goroutine():
        started.set()
        while not stop.is_set():
            hashlib.sha256(buf).digest()

    def dumper():
        try:
            assert started.wait(10)
            for _ in range(1 if snapshot else 100):  # the M may be between two lines: retry
                text = gpm.dump_goroutines()
                if ".busy_hashing_goroutine\n" in text:
                    break
            out.append(text)
        finally:
            stop.set()

    def main():
        gpm.go(busy_hashing_goroutine).join()

    t = threading.Thread(target=dumper)
    t.start()
    try:
        gpm.run(main, procs=2)
    finally:
        stop.set()
        t.join(10)
    text = out[0]
    m = re.search(r"goroutine (\d+) \[running, \d+m?s, P\d\]:\n(.*?)(\n\n|$)", text, re.S)
    assert m, text
    if snapshot:
        assert "(goroutine running on other thread; stack unavailable)" in m.group(2)
        assert ".busy_hashing_goroutine\n" not in m.group(2)
    else:
        assert ".busy_hashing_goroutine\n" in m.group(2)
    assert "goroutine 1 [goroutine join" in text


DUMP_BESIDE_PINGPONG = '''
import threading, gpm, gpm.debug, gpm.sync, io
def main():
    def pinger(a, b, n):
        for i in range(n):
            a.send(i); b.recv()
    def ponger(a, b, n):
        for i in range(n):
            a.recv(); b.send(i)
    wg = gpm.sync.WaitGroup()
    for _ in range(8):
        a, b = gpm.Chan(), gpm.Chan()
        wg.go(pinger, a, b, 3000); wg.go(ponger, a, b, 3000)
    stop = threading.Event()
    count = [0]
    def dumper():
        while not stop.is_set() and count[0] < 20000:
            text = gpm.dump_goroutines() if count[0] % 2 else ""
            if not count[0] % 2:
                gpm.debug.goroutine_profile(io.StringIO())
            count[0] += 1
    ths = [threading.Thread(target=dumper) for _ in range(2)]
    for t in ths: t.start()
    def gdumper():                     # a goroutine dumping too (it serves its own P meanwhile)
        for _ in range(20):
            gpm.dump_goroutines()
            gpm.sleep(0.001)
    gpm.go(gdumper)
    wg.wait(); stop.set()
    for t in ths: t.join()
    return count[0]
for _ in range(4):
    assert gpm.run(main, procs=2) > 0
print("ok")
'''


@pytest.mark.timeout(300)
def test_dump_beside_running_ms_never_crashes():
    """Issue 10 bug 1: on 3.13t reading other Ms' greenlet frames while they resume them
    segfaulted (PyFrame_GetCode) in 3 of 4 runs of this program; the snapshot path reads
    only the caller's own greenlets and lets each M report its own."""
    r = support.run_prog(DUMP_BESIDE_PINGPONG, debug="blockwarn=0", timeout=240)
    assert r.returncode == 0 and "ok" in r.stdout, (r.returncode, r.stderr[-3000:])


def test_dump_without_runtime_is_empty():
    assert gpm.dump_goroutines() == ""


def test_duration_format():
    f = _trace._fmt_dur
    assert f(0.0123) == "12ms"
    assert f(2.5) == "2.50s"
    assert f(61) == "1 minute"
    assert f(185) == "3 minutes"


def test_gpm_debug_v2_keys():
    flags = parse_debug("seed=42,randomize=1,checks=1,lockrank=1,asyncpreemptoff=1")
    assert (flags.seed, flags.randomize, flags.checks, flags.lockrank, flags.asyncpreemptoff) == (42, 1, 1, 1, 1)
    off = parse_debug("")
    assert (off.seed, off.randomize, off.checks, off.lockrank, off.asyncpreemptoff) == (None, 0, 0, 0, 0)
    assert parse_debug("seed=0").seed == 0          # 0 is a seed, not "unset"
    assert parse_debug("checks").checks == 1        # a bare key means 1, as before


def test_gpm_debug_bad_seed_warns(caplog):
    with caplog.at_level("WARNING", logger="gpm"):
        flags = parse_debug("seed=-3,randomize=1")
    assert flags.seed is None and flags.randomize == 1
    assert "seed" in caplog.text
