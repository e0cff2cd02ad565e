"""Time, passed in so tests can move it: wall time for timestamps, monotonic time for intervals."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What the exporter asks of time."""

    def wall(self) -> float:
        """Unix time in seconds."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...


class SystemClock:
    """The real clock."""

    def wall(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


def utc_naive(clock: Clock) -> datetime:
    """Now as a naive UTC datetime, the way the reference schema stores timestamps."""
    return datetime.fromtimestamp(clock.wall(), UTC).replace(tzinfo=None)
