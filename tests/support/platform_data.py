"""A small multi-platform data set for sharding and cardinality tests: odd vendor codes, partial data."""

from __future__ import annotations

from sqlalchemy import create_engine

from tests.support.builders import Rows

VENDOR_CODES = [f"V{n:02d}" for n in range(1, 25)] + ['Q"uote', "back\\slash", "Ünïcode-7", "new\nline"]
"""Codes whose CRC-32 spreads over every shard, including codes that need escaping."""


def build_platforms(url: str) -> Rows:
    """Three platforms (one inactive), 28 vendors on one or two platforms (some links inactive), some orders.

    Only some vendors have orders, in two currencies, and only some have finished import jobs,
    so vendors differ in which series they export (revenue per currency, import success rate).
    """
    engine = create_engine(url)
    rows = Rows(engine)
    main, market, closed = rows.platform("main"), rows.platform("market"), rows.platform("closed", active=False)
    for n, code in enumerate(VENDOR_CODES):
        vendor = rows.vendor(code, name=f"Vendor {code}", verified=n % 3 == 0)
        rows.link(vendor, main, active=n % 9 != 4)
        if n % 2 == 0:
            rows.link(vendor, market)
        if n % 5 == 0:
            rows.link(vendor, closed)
        if n % 4 == 0:
            rows.order(vendor, 1000 + n, currency="EUR")
            rows.order(vendor, 2000 + n, currency="USD" if n % 8 == 0 else "EUR", status="pending")
        if n % 6 == 0:
            rows.job(vendor, "completed" if n % 12 == 0 else "failed", errors=n % 7)
        if n % 7 == 0:
            rows.customer(vendor)
    engine.dispose()
    return rows
