"""Exposition bytes: golden text, OpenMetrics, gzip, negotiation, info metrics and help text."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from exporter.discovery import discover
from exporter.exposition import Encoded, Format, assemble, deflate, prepare, wants_gzip, wants_openmetrics
from exporter.families import Family
from exporter.store import INFO, SnapshotStore
from tests.support.builders import Rows
from tests.support.exporting import make_exporter

GOLDEN = Path(__file__).parent / "golden" / "orders_small.txt"


def small_orders_platform(engine: Engine) -> None:
    rows = Rows(engine)
    main = rows.platform("main", name='Main "Shop"')
    owner = rows.add("companies", name='Acme "Holding" \\ AG', is_active=True, is_verified=True, created_at=rows.now)
    vendor = rows.vendor("V1", name="Bob's \\ Books\nLtd", company_id=owner["id"])
    rows.link(vendor, main)
    rows.order(vendor, 1999, status="delivered", created_at=rows.ago(days=1))
    rows.order(vendor, 501, status="pending", currency="USD", created_at=rows.ago(days=45))
    rows.order(vendor, 700, status="cancelled")


def scrape(url: str, *, openmetrics: bool, use_gzip: bool = False, only: str = "orders") -> bytes:
    exporter = make_exporter(url, candidates=[c for c in discover() if c.name == only])
    exporter.collect_once()
    exporter.stop()
    body = exporter.scrape(openmetrics=openmetrics, gzip=use_gzip)
    data = b"".join(body.pieces)
    assert len(data) == body.length
    return data


def business_part(text: str) -> str:
    """Everything before the self-metrics (which hold process-dependent values)."""
    return text.split("# HELP commerce_exporter_", 1)[0]


def test_golden_text_exposition(sqlite_url: str, writer_sqlite: Engine) -> None:
    """The orders provider's text exposition for a small platform is byte-for-byte the golden file."""
    small_orders_platform(writer_sqlite)
    text = business_part(scrape(sqlite_url, openmetrics=False).decode())
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_openmetrics_shares_samples_and_ends_with_eof(sqlite_url: str, writer_sqlite: Engine) -> None:
    """OpenMetrics has the same sample lines, info families typed `info`, and ends with `# EOF`."""
    small_orders_platform(writer_sqlite)
    text = scrape(sqlite_url, openmetrics=False).decode()
    om = scrape(sqlite_url, openmetrics=True).decode()
    assert om.endswith("# EOF\n")
    assert "# TYPE commerce_vendor info\n" in om
    assert "# TYPE commerce_vendor_info gauge\n" in text

    def samples(body: str) -> list[str]:
        return [line for line in business_part(body).splitlines() if not line.startswith("#")]

    assert samples(om) == samples(text)


def test_gzip_body_decompresses_to_the_plain_body(sqlite_url: str, writer_sqlite: Engine) -> None:
    """Pre-compressed pieces plus the live tail form one valid gzip stream equal to the plain text."""
    small_orders_platform(writer_sqlite)
    for openmetrics in (False, True):
        plain = scrape(sqlite_url, openmetrics=openmetrics)
        packed = scrape(sqlite_url, openmetrics=openmetrics, use_gzip=True)
        assert business_part(gzip.decompress(packed).decode()) == business_part(plain.decode())


def test_content_negotiation() -> None:
    """OpenMetrics only when asked (and not with q=0); gzip only when accepted."""
    prometheus = (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
        "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    )
    assert wants_openmetrics(prometheus)
    assert not wants_openmetrics(None)
    assert not wants_openmetrics("text/plain")
    assert not wants_openmetrics("application/openmetrics-text;q=0")
    assert wants_gzip("gzip, deflate")
    assert wants_gzip("br;q=1.0, gzip;q=0.8")
    assert not wants_gzip("identity")
    assert not wants_gzip("gzip;q=0")
    assert not wants_gzip(None)


@pytest.mark.parametrize(
    "accept, openmetrics",
    [
        ("application/openmetrics-text;q=0.000", False),
        ("application/openmetrics-text; Q=0", False),
        ("application/openmetrics-text;version=1.0.0;q=0 , text/plain", False),
        ("application/openmetrics-text;q=0.2, text/plain;q=0.9", False),
        ("text/plain;q=0.9, application/openmetrics-text;q=0.95", True),
        ("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1", True),
        ("*/*", False),
        ("application/openmetrics-text;q=nonsense", False),
    ],
)
def test_openmetrics_needs_the_highest_non_zero_quality(accept: str, openmetrics: bool) -> None:
    """q=0 in any spelling refuses OpenMetrics, and a higher quality for text/plain wins over it."""
    assert wants_openmetrics(accept) is openmetrics


@pytest.mark.parametrize(
    "accept_encoding, gzipped",
    [
        ("gzip;q=0, *", False),
        ("gzip;q=0.000", False),
        ("GZIP;Q=0", False),
        ("*;q=0", False),
        ("*", True),
        ("identity;q=1, *;q=0.1", True),
        ("GZip", True),
        ("x-gzip", True),
    ],
)
def test_gzip_follows_the_quality_values(accept_encoding: str, gzipped: bool) -> None:
    """An explicit gzip;q=0 is a refusal that `*` does not override; `*` alone accepts gzip."""
    assert wants_gzip(accept_encoding) is gzipped


def _encoded(pieces: list[bytes]) -> Encoded:
    """Pieces packaged the way `prepare` packages a family's header and body: each deflated on its own."""
    return Encoded.of(pieces, [deflate(piece) for piece in pieces])


@settings(max_examples=100, deadline=None)
@given(
    parts=st.lists(st.lists(st.binary(max_size=2000), max_size=4), max_size=5),
    live=st.binary(max_size=500),
)
def test_joined_parts_make_one_gzip_body_equal_to_the_plain_body(parts: list[list[bytes]], live: bytes) -> None:
    """Parts joined as the store joins snapshots give a gzip body that decompresses to the plain one."""
    joined = Encoded.join(_encoded(part) for part in parts)
    plain = assemble(joined, live, Format.TEXT, gzip=False)
    packed = assemble(joined, live, Format.TEXT, gzip=True)
    expected = b"".join(piece for part in parts for piece in part) + live
    assert b"".join(plain.pieces) == expected
    assert gzip.decompress(b"".join(packed.pieces)) == expected  # verifies the trailer's CRC and length
    assert (plain.length, packed.length) == (len(expected), len(b"".join(packed.pieces)))


def test_response_headers_name_the_format_and_the_encoding() -> None:
    """The content type comes from the format; gzip bodies say so, plain ones do not."""
    plain = assemble(_encoded([b"a 1\n"]), b"# EOF\n", Format.OPENMETRICS, gzip=False)
    packed = assemble(_encoded([b"a 1\n"]), b"b 2\n", Format.TEXT, gzip=True)
    assert plain.headers["Content-Type"] == "application/openmetrics-text; version=1.0.0; charset=utf-8"
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert packed.headers["Content-Encoding"] == "gzip"


def _family(name: str, body: bytes, info: bool = False) -> Family:
    return Family(name, f"Help of {name}.", info, body, body.count(b"\n"))


def test_formats_differ_only_in_help_and_type_lines() -> None:
    """Families come out sorted by name; an info family is a `_info` gauge in text and type info in OpenMetrics."""
    prepared = prepare(
        [
            _family("ns_vendor_orders", b'ns_vendor_orders{vendor="a"} 1\n'),
            _family("ns_vendor_tier_info", b'ns_vendor_tier_info{vendor="a",value="gold"} 1\n', info=True),
            _family("ns_platform_orders", b'ns_platform_orders{platform="p"} 2\n'),
        ]
    )
    assert b"".join(prepared.formats[Format.TEXT].plain) == (
        b"# HELP ns_platform_orders Help of ns_platform_orders.\n# TYPE ns_platform_orders gauge\n"
        b'ns_platform_orders{platform="p"} 2\n'
        b"# HELP ns_vendor_orders Help of ns_vendor_orders.\n# TYPE ns_vendor_orders gauge\n"
        b'ns_vendor_orders{vendor="a"} 1\n'
        b"# HELP ns_vendor_tier_info Help of ns_vendor_tier_info.\n# TYPE ns_vendor_tier_info gauge\n"
        b'ns_vendor_tier_info{vendor="a",value="gold"} 1\n'
    )
    assert b"".join(prepared.formats[Format.OPENMETRICS].plain) == (
        b"# HELP ns_platform_orders Help of ns_platform_orders.\n# TYPE ns_platform_orders gauge\n"
        b'ns_platform_orders{platform="p"} 2\n'
        b"# HELP ns_vendor_orders Help of ns_vendor_orders.\n# TYPE ns_vendor_orders gauge\n"
        b'ns_vendor_orders{vendor="a"} 1\n'
        b"# HELP ns_vendor_tier Help of ns_vendor_tier_info.\n# TYPE ns_vendor_tier info\n"
        b'ns_vendor_tier_info{vendor="a",value="gold"} 1\n'
    )
    assert prepared.series == 3
    assert prepared.names == {"ns_platform_orders", "ns_vendor_orders", "ns_vendor_tier_info", "ns_vendor_tier"}


def test_republishing_the_same_exposition_moves_its_deadline_without_a_rebuild() -> None:
    """The info metrics, published again after every run, keep the combined view and stay served."""
    clock = [0.0]
    store = SnapshotStore(lambda: clock[0])
    info = prepare([_family("ns_vendor_info", b'ns_vendor_info{vendor="a"} 1\n', info=True)])
    store.publish(INFO, info, 10)
    view = store.view(Format.TEXT)
    clock[0] = 8.0
    store.publish(INFO, info, 10)
    assert store.view(Format.TEXT) is view
    clock[0] = 12.0  # past the first deadline, before the second
    assert store.view(Format.TEXT) is view
    clock[0] = 18.0
    assert store.view(Format.TEXT).length == 0
