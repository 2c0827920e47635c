"""The arrows of docs/ARCHITECTURE.md, read from the source (AST), so that a deferred import cannot hide.

- Under ``observe/``, only ``observe/cli/`` imports a face (``exporters``, ``tui``, ``dashboards``).
- Only ``observe/engine/`` imports docker (and its HTTP library).
- The faces never import the engine boundary or the composition root: they read the core through
  their own ``coreview`` Protocols.
- Nothing imports ``tui.app`` but the TUI's entry point.
- No module of the product is much over 400 lines.
- No import cycle among modules (imports under ``if TYPE_CHECKING:`` excepted: they never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("observe", "exporters", "tui", "dashboards")
FACES = ("exporters", "tui", "dashboards")
DOCKER = ("docker", "requests", "urllib3")
MAX_LINES = 450  # "about 400": a module past this wants splitting by concern


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted (``from a import b`` gives ``a.b`` when that is a module)
    line: int
    runtime: bool  # False under ``if TYPE_CHECKING:``


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


MODULES = {module_name(p) for p in source_files()}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path) -> Iterator[Import]:
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))

    def walk(node: ast.AST, runtime: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.body:
                    yield from walk_one(sub, False)
                for sub in child.orelse:
                    yield from walk_one(sub, runtime)
                continue
            yield from walk_one(child, runtime)

    def walk_one(node: ast.AST, runtime: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno, runtime)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield Import(name, sub if sub in MODULES else base, node.lineno, runtime)
        else:
            yield from walk(node, runtime)

    yield from walk(tree, True)


ALL_IMPORTS = [imp for p in source_files() for imp in imports_of(p)]


def top(target: str) -> str:
    return target.split(".")[0]


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_reader_sees_the_tree() -> None:
    # Guards the rules below against passing on an empty or misread tree.
    assert {"observe.cli", "observe.engine.client", "observe.logs.normalise", "exporters", "tui.app"} <= MODULES
    assert any(i.module == "observe.engine.client" and i.target == "docker" for i in ALL_IMPORTS)
    assert any(i.module == "observe.cli.tui" and within(i.target, "tui") for i in ALL_IMPORTS)


def test_only_the_cli_imports_a_face() -> None:
    bad = [i for i in ALL_IMPORTS if within(i.module, "observe") and not within(i.module, "observe.cli")
           and top(i.target) in FACES]
    assert not bad, "core modules importing a face: " + ", ".join(f"{i.module}:{i.line} -> {i.target}" for i in bad)


def test_only_the_engine_package_imports_docker() -> None:
    bad = [i for i in ALL_IMPORTS if top(i.target) in DOCKER and not within(i.module, "observe.engine")]
    assert not bad, "docker imported outside observe/engine/: " + ", ".join(f"{i.module}:{i.line}" for i in bad)


@pytest.mark.parametrize("face", FACES)
def test_faces_read_the_core_through_their_seams(face: str) -> None:
    bad = [i for i in ALL_IMPORTS if within(i.module, face)
           and (within(i.target, "observe.engine") or within(i.target, "observe.core")
                or within(i.target, "observe.cli"))]
    assert not bad, f"{face} reaching around the core: " + ", ".join(f"{i.module}:{i.line} -> {i.target}" for i in bad)


def test_only_the_entry_point_imports_the_tui_app() -> None:
    bad = [i for i in ALL_IMPORTS if i.target == "tui.app" and i.module != "observe.cli.tui"]
    assert not bad, "tui.app imported by: " + ", ".join(f"{i.module}:{i.line}" for i in bad)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, ()):
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    edges: dict[str, set[str]] = {}
    for i in ALL_IMPORTS:
        if i.runtime and i.target in MODULES and i.target != i.module:
            edges.setdefault(i.module, set()).add(i.target)
    assert not _cycles(edges), f"import cycles: {_cycles(edges)}"


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_is_a_house_of_its_own() -> None:
    long = {module_name(p): n for p in source_files() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
