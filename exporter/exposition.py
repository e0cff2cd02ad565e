"""Exposition bytes: families → one encoded value per format, joined across providers, assembled per scrape.

This is the only module that knows how the text format and OpenMetrics differ (HELP/TYPE lines
and the content type; sample lines are shared) and how a gzip body is put together.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from exporter.families import Family
from exporter.naming import escape_help_openmetrics, escape_help_text


class Format(Enum):
    """An exposition format; its value is the content type of a response in it."""

    TEXT = "text/plain; version=0.0.4; charset=utf-8"
    OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"

    @property
    def content_type(self) -> str:
        return self.value


DEFLATE_LEVEL = 1
"""Fast compression: exposition text is repetitive enough that level 1 is close to the default's ratio."""

GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
"""gzip member header: deflate, no name, mtime 0, unknown OS (RFC 1952)."""


def deflate(data: bytes) -> bytes:
    """Raw deflate ending on a byte boundary without a final block, so pieces concatenate."""
    compressor = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


@dataclass(frozen=True, slots=True)
class Encoded:
    """One format's bytes, ready to be copied into responses.

    `deflated` is `plain` compressed in sync-flushed pieces that concatenate into one deflate
    stream; `crc` (CRC-32) and `length` are those of `plain`, so a gzip trailer never needs a
    pass over the body.
    """

    plain: tuple[bytes, ...]
    deflated: tuple[bytes, ...]
    crc: int
    length: int

    @classmethod
    def of(cls, plain: Sequence[bytes], deflated: Sequence[bytes]) -> Encoded:
        """`plain` and its deflated pieces, with their checksum and length computed."""
        crc = length = 0
        for piece in plain:
            crc = zlib.crc32(piece, crc)
            length += len(piece)
        return cls(tuple(plain), tuple(deflated), crc, length)

    @classmethod
    def join(cls, parts: Iterable[Encoded]) -> Encoded:
        """The parts one after the other; the checksum is combined, the deflated pieces joined into one."""
        plain: list[bytes] = []
        deflated: list[bytes] = []
        crc = length = 0
        for part in parts:
            plain += part.plain
            deflated += part.deflated
            crc = crc32_combine(crc, part.crc, part.length)
            length += part.length
        # One block: a gzip scrape is then a handful of writes, not one per family.
        return cls(tuple(plain), (b"".join(deflated),), crc, length)


Formats = Mapping[Format, Encoded]
"""Every format's bytes of the same exposition."""


@dataclass(frozen=True)
class Prepared:
    """The exposition of one provider run (or of the info metrics), in every format."""

    formats: Formats
    series: int
    names: frozenset[str]
    """Family names it exports, in either format."""


def _header(fmt: Format, family: Family) -> bytes:
    """The HELP and TYPE lines of a family: the only exposition text in which the formats differ."""
    if fmt is Format.TEXT:
        return f"# HELP {family.name} {escape_help_text(family.help)}\n# TYPE {family.name} gauge\n".encode()
    name, kind = (family.name.removesuffix("_info"), "info") if family.info else (family.name, "gauge")
    return f"# HELP {name} {escape_help_openmetrics(family.help)}\n# TYPE {name} {kind}\n".encode()


def prepare(families: Iterable[Family]) -> Prepared:
    """Families sorted by name, in every format; each body is deflated once and shared by all formats."""
    ordered = sorted(families, key=lambda f: f.name)
    bodies = [deflate(family.body) for family in ordered]
    formats = {}
    for fmt in Format:
        plain: list[bytes] = []
        deflated: list[bytes] = []
        for family, body_deflated in zip(ordered, bodies, strict=True):
            header = _header(fmt, family)
            plain += (header, family.body)
            deflated += (deflate(header), body_deflated)
        formats[fmt] = Encoded.of(plain, deflated)
    return Prepared(
        formats,
        series=sum(family.series for family in ordered),
        names=frozenset(name for family in ordered for name in family.names),
    )


def join(expositions: Sequence[Prepared]) -> dict[Format, Encoded]:
    """Expositions one after the other, per format, without a pass over their plain bytes."""
    return {fmt: Encoded.join(p.formats[fmt] for p in expositions) for fmt in Format}


# --- scrape responses -------------------------------------------------------------------------


@dataclass(frozen=True)
class Body:
    """A response body as pieces to write in order, and the headers that describe it."""

    pieces: tuple[bytes, ...]
    length: int
    content_type: str
    gzip: bool

    @property
    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": self.content_type, "Vary": "Accept, Accept-Encoding", "Cache-Control": "no-store"}
        if self.gzip:
            headers["Content-Encoding"] = "gzip"
        return headers


def assemble(encoded: Encoded, live: bytes, fmt: Format, *, gzip: bool) -> Body:
    """Prepared bytes followed by the live self-metrics (which end with `# EOF` in OpenMetrics)."""
    if gzip:
        final, trailer = gzip_tail(live, encoded.crc, encoded.length)
        pieces = (GZIP_HEADER, *encoded.deflated, final, trailer)
    else:
        pieces = (*encoded.plain, live)
    return Body(pieces, sum(map(len, pieces)), fmt.content_type, gzip)


def gzip_tail(tail: bytes, prefix_crc: int, prefix_length: int) -> tuple[bytes, bytes]:
    """The last deflate block (`tail` compressed, final) and the gzip trailer of the whole body."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    final = compressor.compress(tail) + compressor.flush(zlib.Z_FINISH)
    crc = zlib.crc32(tail, prefix_crc)
    trailer = struct.pack("<II", crc & 0xFFFFFFFF, (prefix_length + len(tail)) & 0xFFFFFFFF)
    return final, trailer


# --- CRC-32 of a concatenation ----------------------------------------------------------------
# Python's zlib does not expose crc32_combine. Without it, every publish would run zlib.crc32
# over the whole exposition in every format (the whole body, on every provider run, under the
# store's lock). Measured: see docs/architecture.md, Figures behind choices in the code.

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
    """CRC-32 of A+B from crc(A), crc(B) and len(B), in O(log len(B)) (as zlib's crc32_combine)."""
    if length2 <= 0:
        return crc1
    shift, k, n = 1 << 31, 3, length2  # x^(8·length2): multiply by x^(2^k) for each set bit of n·2^3
    while n:
        if n & 1:
            shift = _multiply(_X2N[k & 31], shift)
        n >>= 1
        k += 1
    return _multiply(shift, crc1) ^ crc2


# --- content negotiation ----------------------------------------------------------------------


def _qualities(header: str | None) -> dict[str, float]:
    """`Accept`-style header → {lower-case value: highest quality given}; an unreadable q counts as 0."""
    found: dict[str, float] = {}
    for item in (header or "").split(","):
        value, *parameters = (part.strip() for part in item.split(";"))
        if not value:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, given = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(given.strip())
                except ValueError:
                    quality = 0.0
                if not 0.0 <= quality <= 1.0:  # also NaN
                    quality = 0.0
        value = value.lower()
        found[value] = max(found.get(value, 0.0), quality)
    return found


def wants_openmetrics(accept: str | None) -> bool:
    """OpenMetrics when the client names it with a quality above 0 and at least that of text/plain.

    Wildcards never select OpenMetrics (a browser's `*/*` gets the text format); they do count
    for text/plain when it is not named.
    """
    qualities = _qualities(accept)
    openmetrics = qualities.get("application/openmetrics-text", 0.0)
    text = next((qualities[k] for k in ("text/plain", "text/*", "*/*") if k in qualities), 0.0)
    return openmetrics > 0 and openmetrics >= text


def wants_gzip(accept_encoding: str | None) -> bool:
    """gzip when accepted with a quality above 0; `*` counts only when gzip is not named (RFC 9110)."""
    qualities = _qualities(accept_encoding)
    for name in ("gzip", "x-gzip", "*"):
        if name in qualities:
            return qualities[name] > 0
    return False
