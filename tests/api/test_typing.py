"""Typing support at run time: py.typed ships, the generic classes can be
subscripted as the annotations in examples/typed_pipeline.py do, and
gpm.__version__ is the installed distribution's version (one source)."""

import importlib.metadata
import pathlib

import gpm
from gpm import sync


def test_py_typed_marker_is_in_the_package():
    assert (pathlib.Path(gpm.__file__).parent / "py.typed").is_file()


def test_generic_chan_and_goroutine_subscript_at_run_time():
    ch = gpm.Chan[int](2)
    ch.send(1)
    assert type(ch) is gpm.Chan and ch.recv() == 1
    assert gpm.Goroutine[int] is not None

    def main():
        wg = sync.WaitGroup()
        g = wg.go(lambda: 7)
        wg.wait()
        return g.join()

    assert gpm.run(main, procs=1) == 7


def test_version_single_source():
    assert gpm.__version__ == importlib.metadata.version("gpm")
    assert "__version__" not in gpm.__all__     # API.md's list stays as it is
