"""SoundCloud api-v2 JSON into ntrbot's models: tracks, likes, a likes page, timestamps."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

from ntrbot.soundcloud.errors import SoundCloudError
from ntrbot.store.models import Like, Track
from ntrbot.text import clean

log = logging.getLogger(__name__)

UNKNOWN_TITLE = "(untitled)"
UNKNOWN_ARTIST = "(unknown artist)"


def as_id(value: Any) -> int | None:
    """A positive SoundCloud id (an int or a digit string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value) or None
    return None


def _http_url(value: Any) -> str | None:
    if isinstance(value, str) and value.strip().startswith(("https://", "http://")):
        return value.strip()
    return None


def _text(value: Any) -> str | None:
    """A text field, through the one cleaner (no control or bidi characters), or None."""
    return (clean(value) or None) if isinstance(value, str) else None


def parse_time(value: Any) -> datetime:
    """An api-v2 timestamp (ISO-8601 or `2026/03/14 01:00:00 +0000`) as an aware UTC datetime."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("missing timestamp")
    text = value.strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = datetime.strptime(text, "%Y/%m/%d %H:%M:%S %z")
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def parse_track(obj: Any) -> Track:
    """Track from an api-v2 track object; SoundCloudError when it has no id or permalink_url."""
    if not isinstance(obj, dict):
        raise SoundCloudError("no track object")
    track_id = as_id(obj.get("id"))
    if track_id is None:
        raise SoundCloudError("track has no valid id")
    permalink = _http_url(obj.get("permalink_url"))
    if permalink is None:
        raise SoundCloudError(f"track {track_id} has no permalink_url")
    user = obj.get("user")
    if not isinstance(user, dict):
        user = {}
    publisher = obj.get("publisher_metadata")
    artist = _text(publisher.get("artist")) if isinstance(publisher, dict) else None
    duration = obj.get("duration")
    if (isinstance(duration, bool) or not isinstance(duration, int | float)
            or not math.isfinite(duration) or duration < 0):
        duration = None
    return Track(
        id=track_id,
        title=_text(obj.get("title")) or UNKNOWN_TITLE,
        artist=artist or _text(user.get("username")) or UNKNOWN_ARTIST,
        permalink_url=permalink,
        artwork_url=_http_url(obj.get("artwork_url")) or _http_url(user.get("avatar_url")),
        duration_ms=None if duration is None else int(duration),
        license=_text(obj.get("license")),
    )


def parse_like(item: Any) -> Like:
    """Like from a track_likes collection item; SoundCloudError when it cannot be used."""
    if not isinstance(item, dict):
        raise SoundCloudError("like item is not an object")
    track = parse_track(item.get("track"))
    try:
        liked_at = parse_time(item.get("created_at"))
    except ValueError:
        raise SoundCloudError(f"like of track {track.id} has no valid created_at") from None
    return Like(track=track, liked_at=liked_at)


def parse_likes_page(data: Any, page_no: int) -> tuple[list[Like], str | None]:
    """The usable likes of a track_likes page (others skipped, one warning each), next_href."""
    if not isinstance(data, dict) or not isinstance(data.get("collection"), list):
        raise SoundCloudError(f"likes page {page_no}: the answer has no collection list")
    next_href = data.get("next_href")
    if next_href is not None and not isinstance(next_href, str):
        raise SoundCloudError(f"likes page {page_no}: next_href is not a string")
    likes: list[Like] = []
    for index, item in enumerate(data["collection"]):
        if not isinstance(item, dict):
            raise SoundCloudError(f"likes page {page_no}: item {index} is not an object")
        try:
            likes.append(parse_like(item))
        except SoundCloudError as exc:
            log.warning("SoundCloud likes page %d: skipping item %d: %s", page_no, index, exc)
    return likes, (next_href or None)
