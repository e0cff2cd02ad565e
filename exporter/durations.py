"""Durations as written in the config and the CLI: `30s`, `5m`, `1h30m`, `30d`."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")


def parse_duration(text: str) -> timedelta:
    """`"1h30m"` → `timedelta(hours=1, minutes=30)`; ValueError names the accepted form."""
    cleaned = text.strip()
    if not _WHOLE.fullmatch(cleaned):
        raise ValueError(f'expected a duration like 30s, 5m, 1h30m or 30d, got "{text}"')
    seconds = sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(cleaned))
    if seconds <= 0:
        raise ValueError(f'expected a positive duration, got "{text}"')
    if seconds < 0.001:  # timedelta keeps microseconds, the exporter's clocks and schedules milliseconds
        raise ValueError(f'expected at least 1ms, got "{text}"')
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f'"{text}" is longer than any duration this exporter can use') from None


def format_duration(delta: timedelta) -> str:
    """The shortest exact spelling: `timedelta(minutes=5)` → `"5m"`."""
    seconds = delta.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{round(seconds * 1000)}ms"
