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
        """Concatenate snapshots (in the order given); nothing here is proportional to the series.

        Checksums come from each snapshot's own CRC, combined; the deflated pieces (small) are
        joined into one block per format so a gzip scrape is a handful of writes.
        """
        listed = list(snapshots)
        ordered = [s.prepared for s in listed]
        text_crc = openmetrics_crc = text_length = openmetrics_length = 0
        for prepared in ordered:
            text_crc = crc32_combine(text_crc, prepared.text_crc, prepared.text_length)
            openmetrics_crc = crc32_combine(openmetrics_crc, prepared.openmetrics_crc, prepared.openmetrics_length)
            text_length += prepared.text_length
            openmetrics_length += prepared.openmetrics_length
        return cls(
            text=tuple(piece for p in ordered for piece in p.text),
            openmetrics=tuple(piece for p in ordered for piece in p.openmetrics),
            text_deflated=(b"".join(piece for p in ordered for piece in p.text_deflated),),
            openmetrics_deflated=(b"".join(piece for p in ordered for piece in p.openmetrics_deflated),),
            text_length=text_length,
            openmetrics_length=openmetrics_length,
            text_crc=text_crc,
            openmetrics_crc=openmetrics_crc,
            expires_at=min((s.stale_at for s in listed), default=float("inf")),
        )


_POLY = 0xEDB88320
"""CRC-32 (gzip, zlib) polynomial, bit-reflected."""


def _multiply(a: int, b: int) -> int:
    """a·b modulo the CRC polynomial, both as reflected 32-bit polynomials (zlib's multmodp)."""
    m, product = 1 << 31, 0
    while a:
        if a & m:
            product ^= b
            a &= ~m
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
    return product


def _squares() -> tuple[int, ...]:
    powers = [1 << 30]  # x^1
    while len(powers) < 32:
        powers.append(_multiply(powers[-1], powers[-1]))
    return tuple(powers)


_X2N = _squares()
"""x^(2^n) modulo the polynomial, n = 0…31."""


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B), in O(log len(B)) (zlib's crc32_combine,
    which Python's zlib module does not expose)."""
    if length2 <= 0:
        return crc1
    shift, k, n = 1 << 31, 3, length2  # x^(8·length2): multiply by x^(2^k) for each set bit of n·2^3
    while n:
        if n & 1:
            shift = _multiply(_X2N[k & 31], shift)
        n >>= 1
        k += 1
    return _multiply(shift, crc1) ^ crc2


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
