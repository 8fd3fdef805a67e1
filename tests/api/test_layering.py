"""The public surface is pinned to API.md, and the runtime never imports the
public modules built on it (STYLE.md sections 1 and 5)."""

import ast
import pathlib

import gpm

ROOT = pathlib.Path(gpm.__file__).parent

API_TOP_LEVEL = {
    "run", "go", "gosched", "sleep", "syscall", "gomaxprocs", "num_goroutine", "current", "local",
    "stats", "dump_goroutines", "Goroutine", "Stats", "Deadlock", "ClosedChannelError",
    "Chan", "nilchan", "select", "default", "after", "Timer", "after_func", "Ticker",
}


def test_all_is_exactly_api_md():
    assert set(gpm.__all__) == API_TOP_LEVEL
    for name in gpm.__all__:
        assert hasattr(gpm, name), name


def test_public_submodules_exist():
    import gpm.sync, gpm.context, gpm.net, gpm.debug, gpm.signal   # noqa: F401,E401
    assert gpm.signal.__all__ == ["notify", "stop"]
    for mod in (gpm.sync, gpm.context, gpm.net, gpm.debug, gpm.signal):
        for name in getattr(mod, "__all__", []):
            assert hasattr(mod, name), f"{mod.__name__}.{name}"


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            level = node.level
            mod = node.module or ""
            if level == 0:
                yield mod
            else:
                base = list(path.relative_to(ROOT.parent).with_suffix("").parts)[:-level]
                yield ".".join(base + ([mod] if mod else []))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name


def test_runtime_does_not_import_public_modules():
    public = {"gpm.sync", "gpm.context", "gpm.net", "gpm._time", "gpm.debug", "gpm.stress", "gpm.signal"}
    bad = []
    for path in (ROOT / "_runtime").glob("*.py"):
        for mod in _imports(path):
            if mod in public or mod == "gpm":
                bad.append((path.name, mod))
    assert not bad, f"gpm._runtime imports public modules: {bad}"


def test_goroutine_handle_is_the_documented_type():
    def main():
        g = gpm.go(lambda: 7)
        assert isinstance(g, gpm.Goroutine)
        return g.id, g.join(), g.done()
    gid, res, done = gpm.run(main, procs=1)
    assert gid == 2 and res == 7 and done
