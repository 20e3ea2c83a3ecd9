"""Show-week arithmetic: where a week starts and ends, DST-correct, and the live window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class ShowClock:
    """The weekly schedule: show starts on `day` (Mon=0) at `hour` local time in `tz`."""

    day: int
    hour: int
    tz: ZoneInfo
    length: timedelta = timedelta(hours=5)

    def _start_on(self, d: date) -> datetime:
        return datetime.combine(d, time(self.hour), tzinfo=self.tz)

    def week_of(self, t: datetime) -> tuple[datetime, datetime]:
        """The [start, end) show week containing aware time `t`, in the show's zone."""
        local = t.astimezone(self.tz)
        d = local.date() - timedelta(days=(local.weekday() - self.day) % 7)
        start = self._start_on(d)
        if start > t:
            d -= timedelta(days=7)
            start = self._start_on(d)
        return start, self._start_on(d + timedelta(days=7))

    def previous_week(self, week_start: datetime) -> tuple[datetime, datetime]:
        """The week before the one starting at `week_start`."""
        d = week_start.astimezone(self.tz).date() - timedelta(days=7)
        return self._start_on(d), week_start

    def live_window(self, t: datetime) -> tuple[datetime, datetime]:
        """Start and end (UTC) of the live window of the week containing `t`."""
        start = self.week_of(t)[0].astimezone(UTC)
        return start, start + self.length

    def is_live(self, t: datetime) -> bool:
        start, end = self.live_window(t)
        return start <= t < end

    def next_live_start(self, t: datetime) -> datetime:
        """The next show start strictly after `t` (UTC)."""
        return self.week_of(t)[1].astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
