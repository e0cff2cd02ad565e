"""The directory is read once per round of provider runs, and never reused by a provider that already ran with it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from tests.support.exporting import Exposition, make_exporter
from tests.support.platform_data import build_platforms


def _reads_of_links(runtime: Any, names: list[str]) -> int:
    """Runs the providers `names` in order; how many times the directory's links statement was sent."""
    seen = {"n": 0}

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen["n"] += "vendors.vendor_code" in statement

    by_name = {p.name: p for p in runtime.providers}
    event.listen(runtime.database.engine, "before_cursor_execute", count)
    try:
        for name in names:
            assert runtime.runner.run(by_name[name]).ok
    finally:
        event.remove(runtime.database.engine, "before_cursor_execute", count)
    return seen["n"]


def test_a_round_reads_the_directory_once_and_a_second_run_sees_new_vendors(sqlite_url: str) -> None:
    """Seven providers: one read. Orders again after a vendor joined: a new read, and the vendor is there."""
    rows = build_platforms(sqlite_url)
    exporter = make_exporter(sqlite_url)
    runtime = exporter.runtime = exporter.build(exporter.load_config())
    try:
        names = [p.name for p in runtime.providers]
        assert _reads_of_links(runtime, names) == 1

        vendor = rows.vendor("LATE1", name="Late vendor")
        rows.link(vendor, rows.tables["platforms"][0])
        rows.order(vendor, 4200, currency="EUR")
        rows.engine.dispose()

        assert _reads_of_links(runtime, ["orders"]) == 1  # orders ran with the old directory: it reads anew
        assert _reads_of_links(runtime, ["catalog"]) == 0  # catalog has not used the new one yet: reused
        body = exporter.scrape(openmetrics=False, gzip=False)
        samples = Exposition.parse(b"".join(body.pieces).decode(), []).samples
        late_orders = [
            value
            for (name, labels), value in samples.items()
            if name == "commerce_vendor_orders" and ("vendor", "LATE1") in labels
        ]
        assert late_orders == [1.0]
    finally:
        exporter.stop()
