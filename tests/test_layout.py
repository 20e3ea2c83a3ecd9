"""The package's seams: no import cycles, the domain imports no web framework, one route list."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ntrbot"
#: The folders, each one part of the domain, and which others each may import. The modules
#: at the top of the package (settings, clock, events, text, stats) are below every folder;
#: app.py, the composition root, is above them all.
FOLDERS: dict[str, set[str]] = {
    "store": set(),                                  # the data: SQLite, schema, models
    "irc": {"store"},                                # speaks IRC; commands read shows
    "soundcloud": {"store"},                         # SoundCloud in: client, poller, HTTP
    "announcing": {"store", "irc", "soundcloud"},    # the message, the announcer, outputs
    "http": {"store", "irc", "soundcloud", "announcing"},  # every route
    "tools": {"store", "irc", "soundcloud", "announcing", "http"},  # the command line
}
#: What imports no web framework: every folder but http/ and tools/, and the top-level
#: modules but the ones that run or name the web app.
WEB = {"http", "tools"}
TOP_WEB = {"app", "keys", "serve"}
#: Top-level modules above the folders: the composition root, what runs or names the web
#: app, the metrics exporter (it reads every part), `python -m ntrbot`.
ABOVE = TOP_WEB | {"metrics", "__main__"}
#: Imports allowed across the rules, each for a reason.
EXCEPTIONS = {
    # settings are checked at start: NTR_ANNOUNCE_FORMAT is rendered once (lazy import)
    ("ntrbot.config_checks", "ntrbot.announcing.template"),
}
#: A domain module that uses aiohttp's client side, not its web framework.
WEB_EXCEPTIONS = {"ntrbot.soundcloud.tls": {"aiohttp", "aiohttp.connector"}}


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


def group(module: str) -> str:
    """The folder a module is in (`store`, `irc` ...), or "" for a top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (PACKAGE / parts[-1]).is_dir() else ""


def test_every_module_is_in_a_known_folder() -> None:
    folders = {p.parent.name for p in PACKAGE.glob("*/__init__.py")} - {"web"}
    assert folders == set(FOLDERS)


def test_folders_import_only_the_folders_below_them() -> None:
    wrong = []
    for module, imports in graph().items():
        here = group(module)
        if not here:
            continue
        for other in imports:
            there = group(other)
            if there and there != here and there not in FOLDERS[here] \
                    and (module, other) not in EXCEPTIONS:
                wrong.append(f"{module} imports {other}")
    assert wrong == []


def test_top_level_modules_import_no_folder_but_through_app() -> None:
    """The top-level modules are the base every folder stands on: they import no folder
    (but the ones `ABOVE`: app.py composes them all)."""
    wrong = [f"{module} imports {other}" for module, imports in graph().items()
             if not group(module) and module.rpartition(".")[2] not in ABOVE | {"ntrbot"}
             for other in imports if group(other) and (module, other) not in EXCEPTIONS]
    assert wrong == []


def _domain_files() -> list[Path]:
    files = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        if group(name) in WEB or (not group(name) and name.rpartition(".")[2] in TOP_WEB):
            continue
        files.append(path)
    return files


@pytest.mark.parametrize("path", _domain_files(), ids=lambda p: module_name(p))
def test_the_domain_imports_no_web_framework(path: Path) -> None:
    web = {i for i in runtime_imports(path)
           if i == "aiohttp" or i.startswith(("aiohttp.", "ntrbot.http"))}
    web -= WEB_EXCEPTIONS.get(module_name(path), set())
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


def _all_imports(path: Path) -> set[str]:
    """Every module `path` names in an import, type-only ones included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_app_keys_are_made_only_in_keys_py() -> None:
    made = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "keys.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and (
                    (isinstance(node.func, ast.Attribute) and node.func.attr == "AppKey")
                    or (isinstance(node.func, ast.Name) and node.func.id == "AppKey")):
                made.append(f"{module_name(path)}:{node.lineno}")
    assert made == []


def test_keys_py_imports_no_http_module_not_even_for_types() -> None:
    http = {m for m in _all_imports(PACKAGE / "keys.py")
            if m == "ntrbot.http" or m.startswith("ntrbot.http.")}
    assert http == set()


def test_the_wheel_lists_every_package() -> None:
    """pyproject's explicit package list names every package folder (a missed one installs
    without it: a fresh venv's `ntrbot demo` failed with ModuleNotFoundError)."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"][
        "setuptools"]["packages"])
    folders = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert folders - listed == set()
