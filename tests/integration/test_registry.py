"""Provider discovery: entry points, config factories, and providers that cannot load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine

from exporter.config import parse_config
from exporter.contracts import (
    BulkMetricsProvider,
    MetricsContext,
    MetricsProviderProtocol,
    MetricValue,
)
from exporter.discovery import Candidate, discover, instantiate, load_providers
from exporter.errors import ConfigError
from tests.support.builders import Rows
from tests.support.exporting import collect
from tests.support.layouts import LayoutDatabase

ROOT = Path(__file__).parents[2]
BUILT_IN = {"tenancy", "customers", "cms", "catalog", "inventory", "orders", "marketplace"}


class Echo:
    """A minimal third-party provider (the required protocol only)."""

    metrics_category = "echo"

    def get_vendor_metrics(self, db: Any, vendor_id: int, context: MetricsContext | None = None) -> list[MetricValue]:
        return [MetricValue(key="echo.vendor_id", value=vendor_id, label="Vendor id", category="echo")]

    def get_platform_metrics(
        self, db: Any, platform_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        return []


def test_built_in_providers_register_through_entry_points() -> None:
    """The seven built-ins are found in the entry-point group, satisfy the protocol, run through the combined call."""
    found = {c.name: instantiate(c) for c in discover()}
    assert set(found) >= BUILT_IN
    for name in BUILT_IN:
        provider = found[name]
        assert isinstance(provider.impl, MetricsProviderProtocol)
        assert isinstance(provider.impl, BulkMetricsProvider)
        assert provider.calls == "get_metrics_bulk"
        assert provider.category == name


def test_broken_provider_is_skipped_and_counted(sqlite_url: str, writer_sqlite: Engine) -> None:
    """A provider whose import fails is logged, counted and skipped; the others still run."""

    def broken() -> Any:
        raise ImportError("No module named 'acme_missing'")

    rows = Rows(writer_sqlite)
    rows.link(rows.vendor("V1"), rows.platform("main"))
    exposition = collect(sqlite_url, candidates=[*discover(), Candidate("acme", "test", broken)])
    assert exposition.value("commerce_exporter_provider_load_failures_total", provider="acme") == 1
    assert {r.provider for r in exposition.results} == BUILT_IN
    assert (
        exposition.value(
            "commerce_platform_tenancy_vendors", category="tenancy", key="tenancy.vendors", platform="main"
        )
        == 1
    )


def test_object_without_the_protocol_is_refused() -> None:
    """A factory returning something that is not a provider fails with a message saying what is missing."""
    failures = load_providers(
        parse_config({"database": {"url": "sqlite://"}}, env={}), [Candidate("odd", "test", lambda: object)]
    ).failures
    assert [f.name for f in failures] == ["odd"]
    assert "does not implement MetricsProviderProtocol" in failures[0].message


def test_config_factory_adds_a_provider(sqlite_url: str, writer_sqlite: Engine) -> None:
    """`providers.<name>.factory: "module:attribute"` loads a provider that has no entry point."""
    rows = Rows(writer_sqlite)
    vendor = rows.vendor("V7")
    rows.link(vendor, rows.platform("main"))
    exposition = collect(
        sqlite_url, candidates=[], providers={"echo": {"factory": "tests.integration.test_registry:Echo"}}
    )
    labels = {"category": "echo", "key": "echo.vendor_id", "platform": "main", "vendor": "V7"}
    assert exposition.value("commerce_vendor_echo_vendor_id", **labels) == vendor["id"]


def test_unknown_provider_in_config_is_a_config_error() -> None:
    """Configuring a provider that does not exist names it and lists the known ones."""
    config = parse_config({"database": {"url": "sqlite://"}, "providers": {"ordres": {"interval": "1m"}}}, env={})
    with pytest.raises(ConfigError) as caught:
        load_providers(config)
    ((path, message),) = caught.value.problems
    assert path == "providers.ordres"
    assert "no such provider" in message and "orders" in message


def test_disabled_provider_is_not_loaded() -> None:
    """`providers.<name>.enabled: false` leaves it out entirely."""
    config = parse_config({"database": {"url": "sqlite://"}, "providers": {"cms": {"enabled": False}}}, env={})
    assert {p.name for p in load_providers(config).providers} == BUILT_IN - {"cms"}


def test_installed_example_package_is_discovered(tmp_path: Path, sqlite_url: str, writer_sqlite: Engine) -> None:
    """examples/loyalty-provider, pip-installed, registers through the entry point and exports its values."""
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(ROOT / "examples" / "loyalty-provider"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    rows = Rows(writer_sqlite)
    main = rows.platform("main")
    vendor = rows.vendor("V1")
    rows.link(vendor, main)
    loyal, once = rows.customer(vendor), rows.customer(vendor)
    for customer, orders in ((loyal, 3), (once, 1)):
        for _ in range(orders):
            rows.order(vendor, 100, customer_id=customer["id"])
    rows.order(vendor, 100)  # no customer: not a buyer
    env = {**os.environ, "PYTHONPATH": str(target), "COMMERCE_DATABASE_URL": sqlite_url}
    listed = subprocess.run(
        [sys.executable, "-m", "exporter", "providers"], capture_output=True, text=True, env=env, timeout=60, check=True
    ).stdout
    assert any(line.startswith("loyalty\t") and "commerce-loyalty 0.1.0" in line for line in listed.splitlines())
    out = subprocess.run(
        [sys.executable, "-m", "exporter", "collect"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    buyers = {c["id"] for c in rows.tables["customers"]}
    orders_per_buyer = [sum(1 for o in rows.tables["orders"] if o.get("customer_id") == b) for b in buyers]
    repeat = sum(1 for n in orders_per_buyer if n >= 2)
    labels = 'category="loyalty",key="loyalty.repeat_customers",platform="main",vendor="V1"'
    assert f"commerce_vendor_loyalty_repeat_customers{{{labels}}} {repeat}\n" in out.stdout
    rate = 'category="loyalty",key="loyalty.repeat_rate",platform="main",vendor="V1"'
    assert f"commerce_vendor_loyalty_repeat_rate_ratio{{{rate}}} {repeat / len(buyers)!r}\n" in out.stdout


def test_example_provider_reads_the_mapped_tables(
    monkeypatch: pytest.MonkeyPatch, layout_database: Any, backend: str
) -> None:
    """examples/loyalty-provider gets its tables from exporter.schema.tables(db): it runs unchanged on a store-naming
    database whose customer column is renamed, and fails with reason schema when the mapping lacks that column."""
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "loyalty-provider"))
    database = layout_database("store")
    renamed = {"naming": "store", "columns": {"orders.customer_id": "buyer_id"}}
    layout = LayoutDatabase("store", database.url, renamed)
    engine = create_engine(database.url)
    with engine.begin() as connection:  # the store layout's tables, but orders under the renamed layout
        database.tables.orders.drop(connection)
        layout.tables.orders.create(connection)
    try:
        _check_loyalty_on(database.url, Rows(engine, schema=layout.tables), renamed)
    finally:
        with engine.begin() as connection:  # the session's store database is shared: put its orders back
            layout.tables.orders.drop(connection)
            database.tables.orders.create(connection)
        engine.dispose()


def _check_loyalty_on(url: str, rows: Rows, renamed: dict[str, Any]) -> None:
    main = rows.platform("main")
    vendor = rows.vendor("V1")
    rows.link(vendor, main)
    loyal, once = rows.customer(vendor), rows.customer(vendor)
    for customer, count in ((loyal, 3), (once, 1)):
        for _ in range(count):
            rows.order(vendor, 100, customer_id=customer["id"])
    rows.order(vendor, 100)
    loyalty = {"loyalty": {"factory": "commerce_loyalty:LoyaltyMetricsProvider"}}
    exposition = collect(url, schema=renamed, providers=loyalty)
    labels = {"category": "loyalty", "key": "loyalty.repeat_customers", "platform": "main"}
    assert exposition.value("commerce_vendor_loyalty_repeat_customers", **labels, vendor="V1") == 1
    assert exposition.value("commerce_platform_loyalty_repeat_customers", **labels) == 1
    rate = {**labels, "key": "loyalty.repeat_rate"}
    assert exposition.value("commerce_vendor_loyalty_repeat_rate_ratio", **rate, vendor="V1") == 0.5
    unmapped = collect(url, schema={"naming": "store"}, providers=loyalty)
    assert {r.provider: r.reason for r in unmapped.results if not r.ok} == {"loyalty": "schema"}
