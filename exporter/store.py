"""The latest prepared exposition of every provider, swapped atomically, expired when stale."""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from exporter.render import Prepared

GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
"""gzip member header: deflate, no name, mtime 0, unknown OS (RFC 1952)."""

INFO = "__info__"
"""Store slot of the platform/vendor info metrics (not a provider)."""


@dataclass(frozen=True)
class Snapshot:
    """One provider's last good exposition and until when it may be served."""

    prepared: Prepared
    published_at: float
    stale_at: float


@dataclass(frozen=True)
class View:
    """Everything a scrape copies, in order, with lengths and checksums precomputed."""

    text: tuple[bytes, ...]
    openmetrics: tuple[bytes, ...]
    text_deflated: tuple[bytes, ...]
    openmetrics_deflated: tuple[bytes, ...]
    text_length: int
    openmetrics_length: int
    text_crc: int
    openmetrics_crc: int
    expires_at: float

    @classmethod
    def build(cls, snapshots: Iterable[Snapshot]) -> View:
        """Concatenate snapshots (in the order given); checksums run once here, not per scrape."""
        ordered = list(snapshots)
        text = tuple(piece for s in ordered for piece in s.prepared.text)
        openmetrics = tuple(piece for s in ordered for piece in s.prepared.openmetrics)
        return cls(
            text=text,
            openmetrics=openmetrics,
            text_deflated=tuple(piece for s in ordered for piece in s.prepared.text_deflated),
            openmetrics_deflated=tuple(piece for s in ordered for piece in s.prepared.openmetrics_deflated),
            text_length=sum(map(len, text)),
            openmetrics_length=sum(map(len, openmetrics)),
            text_crc=_crc(text),
            openmetrics_crc=_crc(openmetrics),
            expires_at=min((s.stale_at for s in ordered), default=float("inf")),
        )


def _crc(pieces: Iterable[bytes]) -> int:
    crc = 0
    for piece in pieces:
        crc = zlib.crc32(piece, crc)
    return crc


def gzip_tail(tail: bytes, prefix_crc: int, prefix_length: int) -> tuple[bytes, bytes]:
    """The last deflate block (`tail` compressed, final) and the gzip trailer of the whole body."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    final = compressor.compress(tail) + compressor.flush(zlib.Z_FINISH)
    crc = zlib.crc32(tail, prefix_crc)
    trailer = struct.pack("<II", crc & 0xFFFFFFFF, (prefix_length + len(tail)) & 0xFFFFFFFF)
    return final, trailer


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
        self._view: View | None = None

    def publish(self, name: str, prepared: Prepared, stale_after: float) -> None:
        """Replace `name`'s snapshot; it is served until `stale_after` seconds from now."""
        now = self._clock()
        with self._lock:
            self._snapshots[name] = Snapshot(prepared, now, now + stale_after)
            self._view = None
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

    def view(self) -> View:
        """The combined exposition; info metrics first, then providers by name."""
        with self._lock:
            return self._current(self._clock())

    def _current(self, now: float) -> View:
        self._expire(now)
        if self._view is None:
            order = sorted(self._snapshots, key=lambda n: (n != INFO, n))
            self._view = View.build(self._snapshots[n] for n in order)
        return self._view

    def _expire(self, now: float) -> None:
        stale = [name for name, snapshot in self._snapshots.items() if snapshot.stale_at <= now]
        for name in stale:
            del self._snapshots[name]
        if stale:
            self._view = None
