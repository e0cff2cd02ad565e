"""The SQL statements of one collection do not grow with the number of vendors."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import event

from tests.support.builders import populate
from tests.support.exporting import make_exporter


def statements_per_provider(url: str) -> Counter[str]:
    """Run every provider twice and count the statements each one sends the second time.

    The first run of a configuration also reflects the tables the provider reads (the schema
    check, cached afterwards); what repeats every interval is the second run's statements.
    The directory is read once per round, by the round's first run (`(directory)` counts it).
    """
    exporter = make_exporter(url)
    runtime = exporter.build(exporter.load_config())
    for provider in runtime.providers:
        assert runtime.runner.run(provider).ok
    counts: Counter[str] = Counter()
    current = {"provider": ""}

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        directory = any(
            part in statement for part in ("FROM platforms", "FROM platform_modules", "vendors.vendor_code")
        )
        counts["(directory)" if directory else current["provider"]] += 1

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
    assert set(small) == {"tenancy", "customers", "cms", "catalog", "inventory", "orders", "marketplace", "(directory)"}
    assert small == large
    # The directory (3 statements) once for the whole round, then one statement per metric group serving
    # both scopes, except where a platform value is not a sum of vendor values (distinct users: one per scope).
    assert small["(directory)"] == 3
    assert small["orders"] == 1
    assert small["tenancy"] == 4  # vendors (platform only), members (both, not additive: 2), domains
