"""The Zoom emulator's rate limits: per second and per day for each rate-limit label, and per day
for one registrant of one webinar or one user's meeting and webinar writes.

Zoom counts per account and per label (Light, Medium, Heavy; ``developers.zoom.us/docs/api/rate-limits``):
``--rate-limit N`` allows N requests a second in a label, ``--daily-limit N`` N requests a UTC day.
Per registrant, Zoom allows 3 ``POST /webinars/{webinarId}/registrants`` a day for the same person
on the same webinar; per user, 100 meeting or webinar creations and updates a day. Daily counters
start again at 00:00 UTC, or when a test calls ``POST /_emulator/new-day``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from datetime import UTC, date, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def next_midnight(moment: datetime) -> datetime:
    """00:00 UTC of the day after `moment`: when Zoom's daily limits start again."""
    day = moment.astimezone(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class RateLimiter:
    """One token bucket per rate-limit category (Light, Medium, Heavy): ``rate`` requests a second."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, category: str) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(category, (float(self.rate), now))
            tokens = min(float(self.rate), tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[category] = (tokens - 1.0 if allowed else tokens, now)
            return allowed

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


class DailyCounter:
    """How many times each key was used on the current UTC day; ``limit`` 0 means no limit."""

    def __init__(self, limit: int, clock: Clock = utc_now) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._day: date | None = None
        self._used: Counter[Hashable] = Counter()

    def take(self, key: Hashable) -> bool:
        """Count one use of `key`; False (and nothing counted) when the day's limit is reached."""
        if self.limit <= 0:
            return True
        with self._lock:
            self._roll()
            if self._used[key] >= self.limit:
                return False
            self._used[key] += 1
            return True

    def remaining(self, key: Hashable) -> int:
        with self._lock:
            self._roll()
            return max(self.limit - self._used[key], 0)

    def resets_at(self) -> datetime:
        return next_midnight(self._clock())

    def new_day(self) -> None:
        with self._lock:
            self._used.clear()

    def _roll(self) -> None:
        today = self._clock().astimezone(UTC).date()
        if today != self._day:
            self._day = today
            self._used.clear()
