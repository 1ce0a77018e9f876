"""The package's import graph: every module imports in a fresh interpreter, nothing below the CLI
imports valsuite.cli, and there is no import circle (static, read from the AST, lazy imports included)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "valsuite"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """valsuite modules this file imports anywhere (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found |= {name for name in names if name in known}
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(path, known) - {name} for name, path in mods.items()}


def test_graph_reads_imports():
    edges = graph()
    assert "valsuite.options.job" in edges["valsuite.cli.main_cli"]
    assert "valsuite.parity.statistics" in edges["valsuite.parity.run"]


def test_nothing_below_the_cli_imports_it():
    bad = {m: sorted(t for t in targets if t.startswith("valsuite.cli")) for m, targets in graph().items()
           if not m.startswith("valsuite.cli") and m != "valsuite.__main__"}
    assert {m: t for m, t in bad.items() if t} == {}


def test_the_product_never_imports_the_tools():
    for name, path in modules().items():
        tree = ast.parse(path.read_text(), str(path))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        assert not [n for n in names if n == "tools" or n.startswith("tools.")], name


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle, ignoring a package's own __init__ re-exporting its submodules."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if target.startswith(node + "."):
                continue   # a package __init__ importing its own submodule is no circle
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if not state.get(target):
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if not state.get(node):
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_circles():
    edges = graph()
    # importing valsuite.a.b runs valsuite.a's __init__ first: treat that as an edge too
    for name in list(edges):
        for target in list(edges[name]):
            parent = target.rpartition(".")[0]
            if parent in edges and parent != name and not name.startswith(parent + "."):
                edges[name].add(parent)
    assert _cycle(edges) is None, " -> ".join(_cycle(edges))


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_every_module_imports_in_a_fresh_interpreter():
    names = sorted(m for m in modules() if m != "valsuite.__main__")
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\nprint('ok')"
    result = subprocess.run([sys.executable, "-c", code, *names], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
