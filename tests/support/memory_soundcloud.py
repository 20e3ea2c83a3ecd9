"""SoundCloud as a list in memory: the `SoundCloudApi` a unit test hands to the poller or app."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ntrbot.soundcloud.errors import SoundCloudNotFound
from ntrbot.store.models import Like, Track


class MemorySoundCloud:
    """The SoundCloudApi over a list of likes (newest first, paged) and resolvable tracks."""

    def __init__(self, likes: list[Like] | None = None, page_size: int = 3,
                 tracks: dict[str, Track] | None = None) -> None:
        self.likes = likes or []
        self.page_size = page_size
        self.tracks = tracks or {}
        self.requests_made = 0
        self.fail: Exception | None = None

    async def resolve_user(self, username: str) -> int:
        self.requests_made += 1
        return 42

    async def iter_like_pages(self, user_id: int, page_size: int = 200
                              ) -> AsyncIterator[list[Like]]:
        ordered = sorted(self.likes, key=lambda lk: lk.liked_at, reverse=True)
        for i in range(0, max(len(ordered), 1), self.page_size):
            self.requests_made += 1
            if self.fail is not None and i > 0:
                raise self.fail
            yield ordered[i:i + self.page_size]

    async def resolve_track(self, url: str) -> Track:
        self.requests_made += 1
        if url not in self.tracks:
            raise SoundCloudNotFound(f"no track at {url} (HTTP 404)", status=404)
        return self.tracks[url]
