"""The package's shape, tested: layers import only downward, the engine stays pure, nothing
imports a command, no import cycles, and every module imports.

Every import counts, inside functions and `TYPE_CHECKING` blocks too. A package's own
`__init__` importing its submodules is not a loop.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "uiserver"

# Bottom to top: a module may import modules of its own layer and of the layers below.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "uiserver.types",
        "uiserver.schema",
        "uiserver.documents",
        "uiserver.files",
        "uiserver.tracing",
        "uiserver.policy",
        "uiserver.config",
        "uiserver.datastructures",
        "uiserver.tasks",
    ),
    ("uiserver.catalog",),
    ("uiserver.engine",),
    ("uiserver.lint",),
    ("uiserver.store",),
    ("uiserver.serving",),
    ("uiserver.publishing",),
    ("uiserver.users",),
    ("uiserver.auth",),
    ("uiserver.audit",),
    ("uiserver.admin",),
    ("uiserver.service",),
    ("uiserver.http",),
    ("uiserver.commands",),
    ("uiserver.cli", "uiserver"),
)

# What the pure engine never imports: I/O, the server's edges, caches (DESIGN section 6).
ENGINE_FORBIDDEN = (
    "uiserver.store",
    "uiserver.audit",
    "uiserver.serving",
    "uiserver.http",
    "uiserver.publishing",
    "uiserver.users",
    "uiserver.admin",
    "uiserver.service",
    "uiserver.lint",
    "uiserver.auth",
    "uiserver.datastructures",
    "uiserver.commands",
    "starlette",
    "cachetools",
    "redis",
    "sqlite3",
    "jinja2",
    "uvicorn",
    "granian",
    "httpx",
    "asyncio",
    "socket",
    "os",
    "pathlib",
    "io",
    "logging",
    "time",
    "threading",
    "prometheus_client",
    "jwt",
    "yaml",
    "ruamel",
)
LINT_FORBIDDEN = (
    "uiserver.store",
    "uiserver.audit",
    "uiserver.serving",
    "uiserver.http",
    "uiserver.publishing",
    "uiserver.admin",
    "uiserver.service",
    "uiserver.users",
    "uiserver.commands",
)


def module_files() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if "assets" in parts:
            continue
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_names(name: str, path: Path) -> Iterator[str]:
    """Every module name an import statement of the file names (first- and third-party)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [base])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the first-party modules it imports (a submodule import loads its parents,
    except the packages the importer itself sits in)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for target in imported_names(name, path):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            parts = target.split(".") if target else []
            for i in range(1, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in modules and prefix != name and not name.startswith(prefix + "."):
                    edges.add(prefix)
        graph[name] = edges
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer_of(name: str) -> int:
    """The index in LAYERS of the longest prefix naming the module."""
    best, best_len = -1, -1
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    return best


def upward_imports(graph: Mapping[str, set[str]]) -> list[str]:
    return sorted(
        f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})"
        for name, targets in graph.items()
        for target in targets
        if layer_of(target) > layer_of(name)
    )


def forbidden_imports(prefix: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{name} imports {target}"
        for name, path in module_files().items()
        if within(name, (prefix,))
        for target in imported_names(name, path)
        if within(target, forbidden)
    )


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = import_graph(module_files())
    assert "uiserver.lint.files" in graph["uiserver.commands.validate"]  # the graph sees imports
    assert cycles(graph) == []


def test_every_module_has_a_layer() -> None:
    assert [name for name in module_files() if layer_of(name) < 0] == []


def test_the_layer_check_sees_an_upward_import() -> None:
    graph = {"uiserver.engine.plan": {"uiserver.store.base"}, "uiserver.store.base": set()}
    assert upward_imports(graph) == [
        "uiserver.engine.plan (layer 2) imports uiserver.store.base (layer 4)"
    ]


def test_layers_import_only_downward() -> None:
    assert upward_imports(import_graph(module_files())) == []


def test_the_engine_imports_no_io_no_edge_and_no_cache() -> None:
    assert forbidden_imports("uiserver.engine", ENGINE_FORBIDDEN) == []


def test_lint_imports_no_store_and_no_server() -> None:
    assert forbidden_imports("uiserver.lint", LINT_FORBIDDEN) == []


def test_nothing_but_the_cli_imports_a_command() -> None:
    graph = import_graph(module_files())
    assert (
        sorted(
            f"{name} imports {target}"
            for name, targets in graph.items()
            if not within(name, ("uiserver.commands", "uiserver.cli"))
            for target in targets
            if within(target, ("uiserver.commands",))
        )
        == []
    )


def test_no_root_module_beyond_the_shared_ones() -> None:
    root = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert root == [
        "catalog",
        "cli",
        "config",
        "datastructures",
        "documents",
        "files",
        "policy",
        "schema",
        "service",
        "tasks",
        "tracing",
        "types",
    ]


@pytest.mark.parametrize("name", sorted(module_files()))
def test_every_module_imports(name: str) -> None:
    importlib.import_module(name)
