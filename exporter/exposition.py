"""Scrape responses: content negotiation and assembly of prepared bytes plus live self-metrics."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.store import GZIP_HEADER, View, gzip_tail

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


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


@dataclass(frozen=True)
class Body:
    """A response body as pieces to write in order, and what the headers must say about it."""

    pieces: tuple[bytes, ...]
    length: int
    content_type: str
    gzip: bool


def assemble(view: View, live: bytes, *, openmetrics: bool, gzip: bool) -> Body:
    """Prepared snapshot bytes followed by the live self-metrics (which end with `# EOF` in OpenMetrics)."""
    content_type = OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE
    if not gzip:
        pieces = (*(view.openmetrics if openmetrics else view.text), live)
    else:
        deflated = view.openmetrics_deflated if openmetrics else view.text_deflated
        crc = view.openmetrics_crc if openmetrics else view.text_crc
        length = view.openmetrics_length if openmetrics else view.text_length
        final, trailer = gzip_tail(live, crc, length)
        pieces = (GZIP_HEADER, *deflated, final, trailer)
    return Body(pieces, sum(map(len, pieces)), content_type, gzip)
