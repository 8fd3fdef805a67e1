"""gpm.debug: install_dump_signal and goroutine_profile (folded stacks)."""

import os
import re
import signal
import threading

import pytest

import gpm
import gpm.debug
from tests.support import wait_until

FOLDED_RE = re.compile(r"^(\S.*) (\d+)$")


def _profile_leaf():
    gpm.sleep(60)


def _profile_sleeper():
    _profile_leaf()


def _profile_joiner(h):
    h.join()


def test_goroutine_profile_folded(tmp_path):
    started = []

    def sleeper():
        started.append(1)
        _profile_sleeper()

    def main():
        sl = [gpm.go(sleeper) for _ in range(4)]
        for _ in range(2):
            gpm.go(_profile_joiner, sl[0])
        wait_until(lambda: len(started) == 4
                  and all(gpm.dump_goroutines().count("goroutine join") >= 2 for _ in [0]))
        alive = gpm.num_goroutine()
        path = tmp_path / "g.folded"
        n = gpm.debug.goroutine_profile(str(path))
        return alive, n, path.read_text()

    alive, n, text = gpm.run(main, procs=2)
    assert n == alive == 7
    lines = text.splitlines()
    total = 0
    for line in lines:
        m = FOLDED_RE.match(line)
        assert m, line
        frames = m.group(1).split(";")
        assert all(frames), line
        assert frames[0].startswith("[") and frames[0].endswith("]"), line    # state root
        for fr in frames[1:]:
            assert re.match(r"^\S.* \(.+:\d+\)$", fr) or fr.startswith("<"), fr
        total += int(m.group(2))
    assert total == alive
    sleep_line = [l for l in lines if l.startswith("[sleep];")]
    assert len(sleep_line) == 1, lines
    frames = sleep_line[0].rsplit(" ", 1)[0].split(";")
    assert [f.split(" (")[0] for f in frames[-2:]] == ["_profile_sleeper", "_profile_leaf"]  # root first
    assert sleep_line[0].endswith(" 4")
    join_line = [l for l in lines if l.startswith("[goroutine join];")]
    assert len(join_line) == 1 and join_line[0].endswith(" 2")
    assert "_profile_joiner" in join_line[0]
    assert any(l.startswith("[running];") for l in lines)       # main, which wrote the profile


def test_goroutine_profile_to_file_object_and_no_runtime(tmp_path):
    import io
    buf = io.StringIO()
    assert gpm.debug.goroutine_profile(buf) == 0
    assert buf.getvalue() == ""

    def main():
        b = io.StringIO()
        return gpm.debug.goroutine_profile(b, by_state=False), b.getvalue()

    n, text = gpm.run(main, procs=1)
    assert n == 1
    assert not text.startswith("[")
    assert FOLDED_RE.match(text.strip())


class _Sink:
    """A file object that records what the signal handler writes."""

    def __init__(self):
        self.parts = []
        self.written = threading.Event()

    def write(self, s):
        self.parts.append(s)
        self.written.set()

    def flush(self):
        pass


def _dump_target(started):
    started.append(1)
    gpm.sleep(60)


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs SIGUSR1")
def test_install_dump_signal_prints_dump_and_keeps_running():
    sink = _Sink()
    started = []

    def main():
        for _ in range(2):
            gpm.go(_dump_target, started)
        wait_until(lambda: len(started) == 2)
        os.kill(os.getpid(), signal.SIGUSR1)       # handled on the main thread, inside gpm.run
        wait_until(sink.written.is_set)
        return "still running"

    old = gpm.debug.install_dump_signal(signal.SIGUSR1, file=sink)
    try:
        assert gpm.run(main, procs=2) == "still running"
    finally:
        signal.signal(signal.SIGUSR1, old)
    text = "".join(sink.parts)
    assert text.startswith("gpm: SIGUSR1 received\n")
    assert "goroutine 1 [" in text
    assert text.count("in _dump_target") == 2
    assert "[sleep, " in text


def test_install_dump_signal_rejects_bad_signal():
    with pytest.raises(ValueError):
        gpm.debug.install_dump_signal(10_000)
