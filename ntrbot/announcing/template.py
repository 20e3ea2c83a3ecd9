"""The announce template (`NTR_ANNOUNCE_FORMAT`): rendering one track, and checking it once."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime
from typing import Any

from ntrbot.store.models import Show, ShowTrack, Track

# `{permalink_url}` (with a conversion or format spec) and the separator before it.
_URL_FIELD = re.compile(r"\s*(?:[-\u2013\u2014|:\u00b7]\s*)?"
                        r"\{permalink_url(?:![rsa])?(?::[^{}]*)?\}")
# A width or precision above this is refused: a line is at most 512 bytes anyway, and
# `{position:0999999999}` would build a gigabyte string before anything could cut it.
MAX_SPEC_NUMBER = 512


class FormatFailed(ValueError):
    """The template cannot render this track; the message says why in one line."""


def _values(show: Show, st: ShowTrack) -> dict[str, Any]:
    t = st.track
    return {
        "position": st.position, "title": t.title, "artist": t.artist,
        "permalink_url": t.permalink_url, "artwork_url": t.artwork_url or "",
        "duration_ms": t.duration_ms if t.duration_ms is not None else "",
        "license": t.license or "", "liked_at": st.liked_at.isoformat(), "id": t.id,
        "episode": show.episode if show.episode is not None else "", "show_id": show.id,
    }


def render(template: str, show: Show, st: ShowTrack) -> str:
    """The template filled in for one track, not yet cleaned. A track without a URL drops
    `{permalink_url}` with the separator before it (" - "). Any failure is FormatFailed."""
    if not st.track.permalink_url:
        template = _URL_FIELD.sub("", template)
    try:
        return template.format_map(_values(show, st))
    except Exception as exc:  # a format spec can raise anything format() raises
        raise FormatFailed(f"cannot render: {type(exc).__name__}: {exc}"[:200]) from None


def _samples() -> list[tuple[Show, ShowTrack]]:
    """A SoundCloud track with every field, and a manual one with none of the optional ones."""
    when = datetime(2024, 1, 3, 22, 0, tzinfo=UTC)
    full = Track(2**40 + 1, "Sample Song", "Sample Artist", "https://soundcloud.com/a/b",
                 "https://i1.sndcdn.com/artworks-x-large.jpg", 215000, "all-rights-reserved")
    bare = Track(-1, "Manual Song", "Manual Artist", "")
    return [(Show(1, when, when, 42), ShowTrack(999, full, when)),
            (Show(2**40, when, when, None), ShowTrack(1, bare, when))]


def problem(template: str, fields: frozenset[str]) -> str | None:
    """Why the template cannot work (one line), or None: unknown fields, nested fields, a
    width over MAX_SPEC_NUMBER, or a failure to render a sample track."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"bad template ({exc})"
    for _, name, spec, _ in parsed:
        if name is None:
            continue
        if name not in fields:
            return f"unknown field {{{name}}}; known: " + ", ".join(sorted(fields))
        if "{" in (spec or ""):
            return f"no fields inside the format of {{{name}}}"
        if any(int(n) > MAX_SPEC_NUMBER for n in re.findall(r"\d+", spec or "")):
            return f"the format of {{{name}}} allows numbers up to {MAX_SPEC_NUMBER}"
    for show, st in _samples():
        try:
            render(template, show, st)
        except FormatFailed as exc:
            return f"{exc} (on a sample track)"
    return None
