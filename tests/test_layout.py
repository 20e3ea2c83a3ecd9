"""The package's seams: no import cycles, the domain imports no web framework, one route list."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ntrbot"
# The domain: what an announce, a poll or an IRC command is, with no HTTP in it.
DOMAIN = ("announce", "announcer", "backup", "config", "db", "db_announcements", "events",
          "legacy", "manual", "metrics", "models", "poller", "schema", "services", "setlist",
          "soundcloud", "stats", "tracking", "webhooks", "weeks", "irc")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_imports(path: Path) -> set[str]:
    """Every module `path` imports when it runs (lazy imports included, type-only not)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking_only(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - child.level + 1]
                    mod = ".".join(base + ([child.module] if child.module else []))
                else:
                    mod = child.module or ""
                found.add(mod)
                found.update(f"{mod}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    packages = {m for m, p in modules.items() if p.name == "__init__.py"}
    return {m: {i for i in runtime_imports(p) if i in modules and i not in packages and i != m}
            for m, p in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back() -> None:
    assert cycles(graph()) == []


@pytest.mark.parametrize("name", DOMAIN)
def test_the_domain_imports_no_web_framework(name: str) -> None:
    paths = sorted((PACKAGE / name).rglob("*.py")) if (PACKAGE / name).is_dir() \
        else [PACKAGE / f"{name}.py"]
    for path in paths:
        web = {i for i in runtime_imports(path)
               if i == "aiohttp" or i.startswith(("aiohttp.", "ntrbot.http"))}
        assert not web, f"{module_name(path)} imports {sorted(web)}"


def test_routes_are_listed_in_one_module() -> None:
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name != "routes.py":
            assert "router.add_" not in text and "RouteTableDef" not in text, path


def test_test_modules_share_helpers_only_through_tests_support() -> None:
    tests = PACKAGE.parent / "tests"
    for path in tests.rglob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                last = node.module.rpartition(".")[2]
                assert not (node.module.startswith("tests.") and (
                    last.startswith("test_") or last == "conftest")), (
                    f"{path.relative_to(tests)} imports {node.module}: move it to tests/support")
