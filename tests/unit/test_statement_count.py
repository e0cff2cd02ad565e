"""The SQL statements of one collection do not grow with the number of vendors."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Engine, event

from tests.support.builders import Rows
from tests.support.exporting import make_exporter


def populate(engine: Engine, vendors: int) -> None:
    """Two platforms; every vendor has a link and a row in each per-vendor table."""
    rows = Rows(engine)
    main, second = rows.platform("main"), rows.platform("second")
    made = rows.bulk(
        "vendors",
        [
            {
                "vendor_code": f"V{i:05d}",
                "name": f"Vendor {i}",
                "is_active": True,
                "is_verified": i % 2 == 0,
                "created_at": rows.ago(days=10),
            }
            for i in range(vendors)
        ],
    )
    rows.bulk(
        "vendor_platforms",
        [{"vendor_id": v["id"], "platform_id": main["id"], "is_active": True} for v in made]
        + [{"vendor_id": v["id"], "platform_id": second["id"], "is_active": True} for v in made[::3]],
    )
    user = rows.user()
    rows.bulk(
        "vendor_users",
        [
            {
                "vendor_id": v["id"],
                "user_id": user["id"],
                "role": "staff",
                "is_active": True,
                "created_at": rows.ago(days=1),
            }
            for v in made
        ],
    )
    rows.bulk(
        "customers",
        [
            {"vendor_id": v["id"], "email": "c@example.com", "is_active": True, "created_at": rows.ago(days=1)}
            for v in made
        ],
    )
    rows.bulk(
        "orders",
        [
            {
                "vendor_id": v["id"],
                "order_number": "O1",
                "channel": "web",
                "status": "delivered",
                "currency": "EUR",
                "total_amount_cents": 100,
                "created_at": rows.ago(days=1),
            }
            for v in made
        ],
    )
    products = rows.bulk(
        "products",
        [
            {
                "vendor_id": v["id"],
                "currency": "EUR",
                "is_active": True,
                "is_featured": False,
                "created_at": rows.ago(days=1),
            }
            for v in made
        ],
    )
    rows.bulk(
        "inventory",
        [
            {
                "product_id": p["id"],
                "vendor_id": p["vendor_id"],
                "warehouse": "W",
                "bin_location": "B",
                "quantity": 3,
                "reserved_quantity": 1,
            }
            for p in products
        ],
    )
    rows.bulk(
        "marketplace_import_jobs",
        [
            {
                "vendor_id": v["id"],
                "marketplace": "m",
                "status": "completed",
                "imported_count": 1,
                "error_count": 0,
                "created_at": rows.ago(days=1),
            }
            for v in made
        ],
    )


def statements_per_provider(url: str) -> Counter[str]:
    """Run every provider twice and count the statements each one sends the second time.

    The first run of a configuration also reflects the tables the provider reads (the schema
    check, cached afterwards); what repeats every interval is the second run's statements.
    """
    exporter = make_exporter(url)
    runtime = exporter.build(exporter.load_config())
    for provider in runtime.providers:
        assert runtime.runner.run(provider).ok
    counts: Counter[str] = Counter()
    current = {"provider": ""}

    def count(*_: Any) -> None:
        counts[current["provider"]] += 1

    event.listen(runtime.database.engine, "before_cursor_execute", count)
    try:
        for provider in runtime.providers:
            current["provider"] = provider.name
            result = runtime.runner.run(provider)
            assert result.ok, result
    finally:
        runtime.database.dispose()
    return counts


@pytest.mark.parametrize("vendors", [1_000, 1_500])
def test_statement_count_is_independent_of_vendor_count(tmp_path: Any, vendors: int) -> None:
    """10 vendors and `vendors` vendors (also past the IN-list limit) issue the same statements per provider."""
    from sqlalchemy import create_engine

    from exporter.schema import reference_tables

    counts = []
    for n in (10, vendors):
        url = f"sqlite:///{tmp_path / f'v{n}.sqlite'}"
        engine = create_engine(url)
        reference_tables().metadata.create_all(engine)
        populate(engine, n)
        engine.dispose()
        counts.append(statements_per_provider(url))
    small, large = counts
    assert set(small) == {"tenancy", "customers", "cms", "catalog", "inventory", "orders", "marketplace"}
    assert small == large
    # Directory (3 statements) plus one statement per metric group serving both scopes, except
    # where a platform value is not a sum of vendor values (distinct users: one statement per scope).
    assert small["orders"] == 3 + 1
    assert small["tenancy"] == 3 + 4  # vendors (platform only), members (both, not additive: 2), domains
