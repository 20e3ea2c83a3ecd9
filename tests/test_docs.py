"""docs/ stays true to the code: every route documented, every module placed, deploy files sane."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from ntrbot.app import create_app
from ntrbot.irc.reasons import Reason
from ntrbot.settings import Settings, setting_names

DOCS = Path(__file__).resolve().parents[1] / "docs"
PACKAGE = Path(__file__).resolve().parents[1] / "ntrbot"


def _norm(text: str) -> str:
    """Path parameters, whatever their names or patterns, compare equal."""
    return re.sub(r"\{[^}]*\}", "{}", text)


def _routes(settings: Settings) -> set[tuple[str, str]]:
    app = create_app(settings, start_poller=False)
    out = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "*"):
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        assert path, route
        out.add((route.method, _norm(path)))
    return out


def test_api_md_documents_every_route(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(web_user="host", web_password="pw", secret_key="k" * 40)
    text = _norm((DOCS / "api.md").read_text())
    missing = [f"{method} {path}" for method, path in sorted(_routes(settings))
               if not re.search(rf"{method} {re.escape(path)}(?![\w/{{.])", text)]
    assert not missing, f"docs/api.md lacks: {missing}"


def test_api_md_names_no_route_the_code_lacks(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(web_user="host", web_password="pw", secret_key="k" * 40)
    routes = _routes(settings)
    text = _norm((DOCS / "api.md").read_text())
    named = set(re.findall(r"\b(GET|POST|PUT|PATCH|DELETE) (/[\w/{}.-]*)", text))
    assert not {r for r in named if r not in routes}


def test_architecture_md_places_every_module() -> None:
    text = (DOCS / "architecture.md").read_text()
    modules = sorted(str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*.py")
                     if p.name not in {"__init__.py", "__main__.py"})
    missing = [m for m in modules if m not in text and Path(m).name not in text]
    assert not missing, f"docs/architecture.md does not say who owns: {missing}"


def test_deploy_docs_name_real_settings_only() -> None:
    known = set(setting_names())
    for name in ("deploy.md", "ntrbot.service", "ntrbot-binary.service"):
        text = (DOCS / name).read_text()
        used = set(re.findall(r"\bNTR_[A-Z_]+[A-Z]\b", text))
        assert used, name
        assert used <= known, f"{name} names unknown settings: {sorted(used - known)}"


@pytest.mark.parametrize("unit", ["ntrbot.service", "ntrbot-binary.service"])
@pytest.mark.parametrize("line", ["ExecStart=", "EnvironmentFile=", "Restart=", "User="])
def test_systemd_unit_has(unit: str, line: str) -> None:
    assert any(x.startswith(line) for x in (DOCS / unit).read_text().splitlines())


def test_binary_unit_differs_from_the_venv_unit_only_in_what_it_runs() -> None:
    def settings(name: str) -> list[str]:
        return [x for x in (DOCS / name).read_text().splitlines()
                if x and not x.startswith(("#", "ExecStart=", "Documentation="))]
    assert settings("ntrbot-binary.service") == settings("ntrbot.service")
    assert "ExecStart=/usr/local/bin/ntrbot run" in (DOCS / "ntrbot-binary.service").read_text()


def test_readme_and_docs_images_are_made_by_the_browser_tests() -> None:
    """Every picture the README or docs/ show is a screenshot a browser test writes."""
    root = DOCS.parent
    browser_tests = "".join(p.read_text() for p in (root / "tests" / "browser").glob("*.py"))
    for doc in [root / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", doc.read_text()):
            path = (doc.parent / target).resolve()
            assert path.is_relative_to(DOCS / "screenshots"), f"{doc.name}: {target}"
            assert path.is_file(), f"{doc.name}: {target} does not exist"
            assert f'"{path.name}"' in browser_tests, f"no browser test writes {path.name}"


@pytest.mark.parametrize("where", ["ntrbot_irc_reconnects_total", "irc.reconnects_by_reason"])
def test_api_md_lists_the_reconnect_reasons_the_code_has(where: str) -> None:
    """The /metrics row and the /health text name exactly the reasons /metrics emits."""
    text = (DOCS / "api.md").read_text()
    if where.startswith("ntrbot_"):
        (row,) = [line for line in text.splitlines() if line.startswith(f"| `{where}`")]
        labels = row.split("|")[3].split(":", 1)[1]
        named = [re.sub(r"\(.*?\)", "", part).strip() for part in labels.split(",")]
    else:
        start = text.index(f"`{where}` the same by reason")
        named = re.findall(r"`([a-z_]+)`", text[start:text.index("irc.last_disconnect", start)])
    assert named == [r.value for r in Reason]
