"""The latest prepared exposition of every provider, swapped atomically, expired when stale."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from exporter.exposition import Encoded, Format, Formats, Prepared, join

INFO = "__info__"
"""Store slot of the platform/vendor info metrics (not a provider)."""


@dataclass(frozen=True)
class Snapshot:
    """One provider's last good exposition and until when it may be served."""

    prepared: Prepared
    published_at: float
    stale_at: float


class SnapshotStore:
    """Provider name → latest `Snapshot`; `view()` is what a scrape serves.

    Publishing replaces a provider's snapshot in one assignment under a lock; the combined
    view is rebuilt once per change (or expiry) and then shared by every scrape.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.publishing = threading.Lock()
        """Held from `names_taken` to `publish` so two providers never claim one family name."""
        self._snapshots: dict[str, Snapshot] = {}
        self._view: Formats | None = None

    def publish(self, name: str, prepared: Prepared, stale_after: float) -> None:
        """Replace `name`'s snapshot; it is served until `stale_after` seconds from now."""
        now = self._clock()
        with self._lock:
            previous = self._snapshots.get(name)
            self._snapshots[name] = Snapshot(prepared, now, now + stale_after)
            if previous is None or previous.prepared is not prepared:
                self._view = None  # the same bytes again (info metrics after every run) only move the deadline
            # Build here, on the provider's thread, so the next scrape only copies bytes.
            self._current(now)

    def remove(self, name: str) -> None:
        """Forget a provider (it was removed from the config)."""
        with self._lock:
            if self._snapshots.pop(name, None) is not None:
                self._view = None

    def names_taken(self, by_other_than: str) -> frozenset[str]:
        """Family names currently exported by every snapshot but `by_other_than`'s."""
        with self._lock:
            self._expire(self._clock())
            return frozenset(n for key, s in self._snapshots.items() if key != by_other_than for n in s.prepared.names)

    def series(self, name: str) -> int:
        """Series `name` currently exports (0 once its snapshot expired)."""
        with self._lock:
            self._expire(self._clock())
            snapshot = self._snapshots.get(name)
            return snapshot.prepared.series if snapshot else 0

    def has(self, name: str) -> bool:
        """Whether `name` has a live snapshot."""
        with self._lock:
            self._expire(self._clock())
            return name in self._snapshots

    def view(self, fmt: Format) -> Encoded:
        """The combined exposition in `fmt`: info metrics first, then providers by name."""
        with self._lock:
            return self._current(self._clock())[fmt]

    def _current(self, now: float) -> Formats:
        self._expire(now)
        if self._view is None:
            order = sorted(self._snapshots, key=lambda n: (n != INFO, n))
            self._view = join([self._snapshots[n].prepared for n in order])
        return self._view

    def _expire(self, now: float) -> None:
        stale = [name for name, snapshot in self._snapshots.items() if snapshot.stale_at <= now]
        for name in stale:
            del self._snapshots[name]
        if stale:
            self._view = None
