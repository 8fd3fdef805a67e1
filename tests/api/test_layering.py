"""The public surface is pinned to API.md, and the runtime never imports the
public modules built on it (STYLE.md sections 1 and 5)."""

import ast
import pathlib
import sys

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


# -- runtime layers (issue 12) -------------------------------------------------
#
# Every module of gpm/_runtime has a layer.  At module level a module imports
# only modules of a lower layer, or of its own layer (the cycle test keeps a
# layer's modules in a partial order).  A function-level import is counted too:
# the whole import graph (module and function level) must have no cycle, and a
# function-level import of a *higher* layer is allowed only when listed in
# DEFERRED with the reason.
LAYERS = {
    # L0: no runtime state of their own beyond constants and the registry
    "errors": 0, "locks": 0, "debugflags": 0, "clock": 0, "duration": 0, "gcpace": 0,
    # L1: data structures (G is data only; P and its run queue; timer heaps; gpm.local)
    "g": 1, "p": 1, "timers": 1, "glocal": 1,
    # L2: the scheduler
    "sched": 2,
    # L3: what parks and readies goroutines through the scheduler
    "sudog": 3, "chan": 3, "select": 3, "sema": 3, "netpoll": 3, "netpoll_epoll": 3,
    "syscall": 3, "preempt": 3,
    # L4: threads and observers built on the above
    "sysmon": 4, "trace": 4, "stats": 4, "m": 4,
    # L5: the one place that builds and tears down a runtime
    "api": 5,
}

# (importer, imported): why the import must stay inside a function.
DEFERRED: dict[tuple[str, str], str] = {
}
# Violations being removed by issue 12 (the list only shrinks).
_NOT_YET: set[tuple[str, str]] = set()


def _runtime_imports():
    """{module: [(imported module, at_module_level)]} for gpm/_runtime's own modules."""
    out = {}
    for path in sorted((ROOT / "_runtime").glob("*.py")):
        name = path.stem
        if name == "__init__":
            continue
        tree = ast.parse(path.read_text())
        deps = []

        def visit(node, top, deps=deps):
            for child in ast.iter_child_nodes(node):
                inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                if isinstance(child, ast.ImportFrom) and child.level == 1:
                    if child.module:
                        deps.append((child.module.split(".")[0], top))
                    else:
                        deps.extend((a.name, top) for a in child.names)
                elif isinstance(child, ast.ImportFrom) and (child.module or "").startswith("gpm._runtime."):
                    deps.append((child.module.split(".")[2], top))
                visit(child, inner, deps)
        visit(tree, True)
        out[name] = deps
    return out


def test_every_runtime_module_has_a_layer():
    mods = set(_runtime_imports())
    assert mods == set(LAYERS), (f"unranked: {sorted(mods - set(LAYERS))}, "
                                 f"gone: {sorted(set(LAYERS) - mods)}")


def test_runtime_modules_import_only_lower_layers():
    bad = []
    for mod, deps in _runtime_imports().items():
        for dep, top in deps:
            if LAYERS[dep] <= LAYERS[mod] or (not top and (mod, dep) in DEFERRED):
                continue
            if (mod, dep) in _NOT_YET:
                continue
            bad.append(f"{mod} (L{LAYERS[mod]}) imports {dep} (L{LAYERS[dep]})"
                       f"{'' if top else ' in a function'}")
    assert not bad, "imports against the layers:\n  " + "\n  ".join(sorted(set(bad)))


def _find_cycle(graph):
    """A cycle of ``graph`` ({node: set(nodes)}) as a list, or None."""
    state = {}
    stack = []

    def dfs(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = dfs(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = dfs(n)
            if c:
                return c
    return None


def test_runtime_import_graph_has_no_cycle():
    graph = {mod: {dep for dep, _top in deps if dep != mod and (mod, dep) not in _NOT_YET}
             for mod, deps in _runtime_imports().items()}
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle (module or function level): " + " -> ".join(cycle)


def test_cycle_finder_finds_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_layer_rule_rejects_an_upward_import(tmp_path, monkeypatch):
    # The rule itself can fail: a fake tree where g (L1) imports sched (L2).
    fake = tmp_path / "gpm"
    (fake / "_runtime").mkdir(parents=True)
    for name in LAYERS:
        (fake / "_runtime" / f"{name}.py").write_text("")
    (fake / "_runtime" / "g.py").write_text("from .sched import gopark\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake)
    try:
        test_runtime_modules_import_only_lower_layers()
    except AssertionError as e:
        assert "g (L1) imports sched (L2)" in str(e)
    else:
        raise AssertionError("an upward import passed the layering test")
