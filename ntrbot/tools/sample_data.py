"""Invented sample shows for `ntrbot demo`: a previous and a current week of liked tracks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from ntrbot.store.models import Like, Track
from ntrbot.weeks import ShowClock

# (id, title, artist, uploader slug, duration in seconds, license). Every name is made up.
_PREVIOUS: list[tuple[int, str, str, str, int, str]] = [
    (1402338817, "Sodium Lamps Over Route 9", "Velvet Culvert", "velvetculvert", 287,
     "all-rights-reserved"),
    (1398810244, "Basement Tapes Vol. 3 (side B)", "Marrow & Static", "marrowandstatic", 1312,
     "cc-by-nc"),
    (1405120963, "Gutter Hymn", "The Rat Kings", "theratkings", 203, "all-rights-reserved"),
    (1377265512, "Tunnel Echoes (Dub Mix)", "Kassia Vane", "kassiavane", 355, "cc-by"),
    (1409987731, "Overflow", "Drainwave", "drainwave-music", 241, "all-rights-reserved"),
    (1391456620, "Münster Nights", "Lena Østergaard", "lena-ostergaard", 318, "cc-by-sa"),
    (1410044119, "Pipe Organ for Lost Umbrellas", "Municipal Choir of Nobody",
     "municipalchoir", 426, "cc-by-nc-nd"),
    (1384402075, "Cheap Neon", "Pale Arcade", "palearcade", 196, "all-rights-reserved"),
    (1407731348, "Grate Expectations", "Sewer Sirens", "sewersirens", 264, "no-rights-reserved"),
    (1396620887, "After Hours at the Laundromat", "DJ Soft Cycle", "djsoftcycle", 3605,
     "all-rights-reserved"),
    (1411209956, "Wet Cardboard Sunrise", "Fernwood Telephone", "fernwoodtelephone", 232,
     "cc-by"),
    (1388877410, "Manhole Cover Waltz", "Orchestre Souterrain", "orchestresouterrain", 301,
     "cc-by-nc-sa"),
]

_CURRENT: list[tuple[int, str, str, str, int, str]] = [
    (1415530021, "Rattle the Grates", "The Rat Kings", "theratkings", 188,
     "all-rights-reserved"),
    (1413302790, "Lowtide Signal", "Kassia Vane", "kassiavane", 342, "cc-by"),
    (1416671148, "Nachtkanal (Night Drain)", "Kōhei Minase", "kohei-minase", 274, "cc-by-nc"),
    (1412098465, "Slow Leak", "Moss Engine", "mossengine", 419, "all-rights-reserved"),
    (1417003356, "Fluorescent Lullaby for Night Shift Workers and Insomniac Rodents",
     "Pale Arcade", "palearcade", 251, "cc-by-sa"),
    (1414418832, "Concrete Garden", "Drainwave", "drainwave-music", 227, "all-rights-reserved"),
    (1418150774, "Storm Drain Serenade", "Velvet Culvert", "velvetculvert", 296, "cc-by"),
    (1410876603, "Bits & Pieces", "Marrow & Static", "marrowandstatic", 168,
     "no-rights-reserved"),
    (1418902219, "Subway Ghosts (Live at the Sump)", "Sewer Sirens", "sewersirens", 512,
     "all-rights-reserved"),
    (1419377460, "Rust Belt Radio", "Fernwood Telephone", "fernwoodtelephone", 239,
     "cc-by-nc-nd"),
    (1419988105, "Last Train to Nowhere Junction", "Orchestre Souterrain",
     "orchestresouterrain", 377, "cc-by"),
]


def _slug(text: str) -> str:
    out = "".join(c.lower() if c.isascii() and c.isalnum() else "-" for c in text)
    return "-".join(p for p in out.split("-") if p) or "track"


def _track(row: tuple[int, str, str, str, int, str]) -> Track:
    track_id, title, artist, uploader, seconds, license_ = row
    return Track(id=track_id, title=title, artist=artist,
                 permalink_url=f"https://soundcloud.com/{uploader}/{_slug(title)}",
                 artwork_url=None, duration_ms=seconds * 1000, license=license_)


def sample_tracks() -> tuple[list[Track], list[Track]]:
    """(previous show's tracks, current show's tracks), in like order."""
    return [_track(r) for r in _PREVIOUS], [_track(r) for r in _CURRENT]


Week = tuple[datetime, datetime]
Entry = tuple[int, datetime, str]  # (track_id, liked_at, source), as Database stores it
PREVIOUS_EPISODE = 412  # the sample shows are episodes 412 and 413


def sample_playlists(clock: ShowClock, now: datetime
                     ) -> tuple[list[Track], dict[Week, list[Entry]]]:
    """Tracks and {(week_start, week_end): [(track_id, liked_at, "like"), ...]} for the week
    containing `now` and the week before, in the shape `Database.save_playlists` takes.

    The previous week's likes are spread over its first hours (the live show); the
    current week's are spread between its start and `now`, so none lies in the future.
    """
    previous, current = sample_tracks()
    week = clock.week_of(now)
    before = clock.previous_week(week[0])
    gap = timedelta(minutes=21)
    old = [(t.id, before[0] + timedelta(minutes=3) + i * gap, "like")
           for i, t in enumerate(previous)]
    span = max(now - week[0], timedelta(seconds=len(current) + 1))
    step = span / (len(current) + 1)
    new = [(t.id, week[0] + step * (i + 1), "like") for i, t in enumerate(current)]
    return previous + current, {before: old, week: new}


class SampleSoundCloud:
    """Stands in for `SoundCloudClient` in the demo: the sample likes, no network.

    The poller and the playlist editor use it exactly as they use SoundCloud, so the demo's
    data goes in through the real poll path and "Refresh now" works offline.
    """

    USER_ID = 1_000_000_001

    def __init__(self, clock: ShowClock, now: Callable[[], datetime]) -> None:
        self._clock, self._now = clock, now
        self.requests_made = 0

    def likes(self) -> list[Like]:
        """Every sample like, newest first (as api-v2 pages them)."""
        tracks, playlists = sample_playlists(self._clock, self._now())
        by_id = {t.id: t for t in tracks}
        likes = [Like(by_id[tid], at) for items in playlists.values() for tid, at, _ in items]
        return sorted(likes, key=lambda lk: lk.liked_at, reverse=True)

    async def resolve_user(self, username: str) -> int:
        self.requests_made += 1
        return self.USER_ID

    async def iter_like_pages(self, user_id: int,
                              page_size: int = 200) -> AsyncIterator[list[Like]]:
        likes = self.likes()
        for start in range(0, len(likes), page_size):
            self.requests_made += 1
            yield likes[start:start + page_size]

    async def resolve_track(self, url: str) -> Track:
        """A sample track by its permalink URL; anything else is "not found"."""
        from ntrbot.soundcloud.errors import SoundCloudNotFound

        self.requests_made += 1
        wanted = url.strip().rstrip("/").split("?")[0]
        for track in (*sample_tracks()[0], *sample_tracks()[1]):
            if track.permalink_url == wanted:
                return track
        raise SoundCloudNotFound("the demo knows only its sample tracks (HTTP 404)", status=404)
