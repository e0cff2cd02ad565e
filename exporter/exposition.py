"""Scrape responses: content negotiation and assembly of prepared bytes plus live self-metrics."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.store import GZIP_HEADER, View, gzip_tail

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def wants_openmetrics(accept: str | None) -> bool:
    """OpenMetrics when the client lists it (Prometheus does); 0.0.4 text otherwise."""
    for item in (accept or "").split(","):
        parts = [p.strip() for p in item.split(";")]
        if parts[0] == "application/openmetrics-text" and not any(
            p.replace(" ", "") in ("q=0", "q=0.0") for p in parts[1:]
        ):
            return True
    return False


def wants_gzip(accept_encoding: str | None) -> bool:
    """gzip when the client accepts it with a non-zero quality."""
    for item in (accept_encoding or "").split(","):
        parts = [p.strip().lower() for p in item.split(";")]
        if parts[0] in ("gzip", "*") and not any(p.replace(" ", "") in ("q=0", "q=0.0") for p in parts[1:]):
            return True
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
