"""The package's modules import each other without circles, read from the source with ``ast``.

Every import counts: at module level, inside functions (deferred imports still tie the modules
together for a reader), and under ``TYPE_CHECKING``. ``from lookout.x import name`` is an edge
to ``lookout.x.name`` when that is a module, else to ``lookout.x``; the parent packages Python
imports on the way are not edges (every module would otherwise depend on ``lookout``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` under ``root``."""
    found = {}
    for path in (root / package).rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Each module -> the package's modules it imports."""
    modules = module_files(root, package)

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets: set[str] = set()
        here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    prefix = here[: len(here) - node.level + 1]
                    base = ".".join([*prefix, base] if base else prefix)
                names = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            else:
                continue
            for name in names:
                target = known(name) if name.split(".")[0] == package else None
                if target is not None and target != module:
                    targets.add(target)
        graph[module] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_no_module_of_lookout_imports_itself_through_others() -> None:
    graph = import_graph(SRC, "lookout")
    assert len(graph) > 100
    for module in ("core", "alerts", "config", "supervise", "lifecycle", "settings_table"):
        assert f"lookout.{module}" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_settings_know_nothing_of_alert_rules_or_the_lookout_class() -> None:
    graph = import_graph(SRC, "lookout")
    for module in ("lookout.config", "lookout.settings_table", "lookout.config_values"):
        assert {"lookout.alerts", "lookout.core"}.isdisjoint(reachable(graph, module)), module
    for module in ("lookout.alerts", "lookout.supervise", "lookout.lifecycle"):
        assert "lookout.core" not in reachable(graph, module), module


def test_the_check_finds_a_circle_through_a_deferred_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from .b import thing\n")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    pass\n"
        "def later():\n    from .. import a\n"
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert graph["pkg.sub"] == {"pkg.sub.b"}
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.a"]
    (package / "sub" / "b.py").write_text("thing = 1\n")
    assert find_cycle(import_graph(tmp_path, "pkg")) is None


@pytest.mark.parametrize("module", ["lookout.alerts", "lookout.supervise", "lookout.lifecycle"])
def test_the_parts_import_on_their_own(module: str) -> None:
    """Each imports in a fresh interpreter without the Lookout class being loaded first."""
    import subprocess
    import sys

    script = f"import {module}"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
