"""The exporter collects from a freshly built database on every backend."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.support.builders import Rows
from tests.support.exporting import collect


def test_one_vendor_one_order_is_exported(writer: Engine, database_url: str) -> None:
    """A vendor linked to an active platform exports its order count under that platform."""
    rows = Rows(writer)
    main = rows.platform("main")
    vendor = rows.vendor("V1")
    rows.link(vendor, main)
    rows.order(vendor, 1234)
    exposition = collect(database_url)
    assert all(r.ok for r in exposition.results), exposition.results
    labels = {"category": "orders", "key": "orders.total", "platform": "main", "vendor": "V1"}
    assert exposition.value("commerce_vendor_orders", **labels) == 1
