"""The README's settings table is the one the code knows."""

from __future__ import annotations

from pathlib import Path

from scripts.settings_table import table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_settings_table_matches_code() -> None:
    text = README.read_text()
    start = text.index("<!-- settings-table:start -->\n") + len("<!-- settings-table:start -->\n")
    end = text.index("<!-- settings-table:end -->")
    assert text[start:end].strip() == table().strip(), (
        "README settings table is stale: run `python scripts/settings_table.py`")
