"""Names are imported from the module that defines them: no ntrbot module re-exports another's."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ntrbot"
#: Where imports of ntrbot names are read from.
IMPORTERS = ("ntrbot", "tests", "bench", "scripts")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _top_level(tree: ast.Module) -> list[ast.stmt]:
    """The module's statements, with those under top-level if/try blocks."""
    out: list[ast.stmt] = []
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, ast.If | ast.Try):
            todo += [*node.body, *node.orelse, *getattr(node, "finalbody", [])]
            todo += [s for h in getattr(node, "handlers", []) for s in h.body]
    return out


def defined_names(tree: ast.Module) -> set[str]:
    """What a module defines itself: functions, classes and assigned names."""
    names: set[str] = set()
    for node in _top_level(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def _modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(encoding="utf-8"))
            for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_ntrbot_name_is_imported_from_its_own_module() -> None:
    modules = _modules()
    defined = {name: defined_names(tree) for name, tree in modules.items()}
    wrong: list[str] = []
    for folder in IMPORTERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ImportFrom) or node.level or node.module not in defined:
                    continue
                for alias in node.names:
                    if (alias.name not in defined[node.module]
                            and f"{node.module}.{alias.name}" not in modules):
                        wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name} "
                                     f"from {node.module}")
    assert not wrong, "imported from a module that only imports it:\n" + "\n".join(wrong)


def test_no_module_lists_a_foreign_name_in_all() -> None:
    wrong: list[str] = []
    for name, tree in _modules().items():
        own = defined_names(tree)
        for node in tree.body:
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.List | ast.Tuple)
                    and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)):
                listed = [e.value for e in node.value.elts
                          if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                wrong += [f"{name}: {n}" for n in listed if n not in own]
    assert not wrong, "__all__ names what the module does not define:\n" + "\n".join(wrong)
