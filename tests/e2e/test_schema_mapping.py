"""The `schema:` section: reference keys, the store naming, explicit entries, errors with their path."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from exporter.config import parse_config
from exporter.errors import ConfigError
from exporter.schema import SPECS, Layout, build_tables, reference_tables, tables
from tests.support.processes import run_cli

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("COMMERCE_")}


def mapped(**schema: object) -> dict[str, str]:
    """Every reference table and column → its actual name, under this `schema:` section."""
    config = parse_config({"database": {"url": "postgresql+psycopg://db/x"}, "schema": schema}, env={})
    t = config.schema_.mapped_tables
    names = {}
    for spec in SPECS.values():
        table = t.table(spec.name)
        names[spec.name] = f"{table.schema}.{table.name}" if table.schema else table.name
        for column in spec.columns:
            if column.name in table.c:  # an optional column is there only when mapped
                names[f"{spec.name}.{column.name}"] = table.c[column.name].name
    return names


def test_reference_naming_keeps_every_name() -> None:
    """Without a schema section every table and column is called by its reference name."""
    names = mapped()
    assert all(actual == key.split(".")[-1] for key, actual in names.items())


def test_store_naming_renames_the_tenancy_model() -> None:
    """Store naming: vendor → store in every table and column name, companies → merchants, company_id → merchant_id."""
    names = mapped(naming="store")
    renamed = {key: actual for key, actual in names.items() if actual != key.split(".")[-1]}
    assert renamed == {
        "companies": "merchants",
        "vendors": "stores",
        "vendors.company_id": "merchant_id",
        "vendors.vendor_code": "store_code",
        "vendor_platforms": "store_platforms",
        "vendor_platforms.vendor_id": "store_id",
        "vendor_users": "store_users",
        "vendor_users.vendor_id": "store_id",
        "vendor_domains": "store_domains",
        "vendor_domains.vendor_id": "store_id",
        "customers.vendor_id": "store_id",
        "content_pages.vendor_id": "store_id",
        "media_files.vendor_id": "store_id",
        "marketplace_import_jobs.vendor_id": "store_id",
        "marketplace_products.vendor_id": "store_id",
        "products.vendor_id": "store_id",
        "products.vendor_sku": "store_sku",
        "inventory.vendor_id": "store_id",
        "orders.vendor_id": "store_id",
    }


def test_explicit_entries_win_over_the_naming() -> None:
    """`tables` and `columns` override the naming; database_schema qualifies every table."""
    names = mapped(
        naming="store",
        database_schema="shop",
        tables={"vendors": "shop_stores"},
        columns={"vendors.vendor_code": "code", "orders.created_at": "placed_at"},
    )
    assert names["vendors"] == "shop.shop_stores"
    assert names["vendors.vendor_code"] == "code"
    assert names["vendors.company_id"] == "merchant_id"
    assert names["orders"] == "shop.orders"
    assert names["orders.created_at"] == "placed_at"
    assert names["orders.vendor_id"] == "store_id"


def test_columns_keep_their_reference_key() -> None:
    """Provider code addresses a renamed column by its reference name; the SQL uses the actual one."""
    t = build_tables(Layout.of("store", columns={"orders.total_amount_cents": "grand_total_cents"}))
    sql = str(select(t.orders.c.total_amount_cents).where(t.orders.c.vendor_id == 1))
    assert "orders.grand_total_cents" in sql and "orders.store_id" in sql
    assert "total_amount_cents" not in sql.replace("grand_total_cents", "")


def test_same_layout_gives_the_same_table_objects() -> None:
    """A reload with an unchanged section reuses the tables (and SQLAlchemy's compiled statements)."""
    assert build_tables(Layout.of("store", tables={"orders": "o"})) is build_tables(
        Layout.of("store", tables={"orders": "o"})
    )


def test_sessions_without_a_schema_get_the_reference_tables() -> None:
    """`tables(db)` of a session the exporter did not make falls back to the reference names."""
    with Session() as db:
        assert tables(db) is reference_tables()


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"tables": {"vendor": "stores"}}, ("schema.tables.vendor", "not a reference table; keys are reference names")),
        ({"columns": {"orders.total": "x"}}, ('schema.columns."orders.total"', "orders has no reference column total")),
        ({"columns": {"order.status": "x"}}, ('schema.columns."order.status"', "order is not a reference table")),
        ({"columns": {"status": "x"}}, ('schema.columns."status"', 'expected "reference_table.reference_column"')),
        ({"columns": {"orders.status": ""}}, ('schema.columns."orders.status"', "expected a table or column name")),
        ({"tables": {"orders": " orders"}}, ("schema.tables.orders", "expected a name without surrounding spaces")),
        (
            {"columns": {"orders.currency": "status"}},
            ('schema.columns."orders.currency"', "orders.status is already read from column status"),
        ),
        (
            {"tables": {"vendors": "orders"}},
            ("schema.tables.orders", "orders is already the table of vendors; each needs its own"),
        ),
        ({"naming": "merchant"}, ("schema.naming", "expected 'reference' or 'store', got 'merchant'")),
        ({"schema": "x"}, ("schema.schema", "unknown key")),
        ({"database_schema": "shop"}, ("schema.database_schema", "SQLite keeps one schema per file")),
    ],
)
def test_bad_sections_name_their_path(section: dict[str, object], problem: tuple[str, str]) -> None:
    """Every unusable entry is a config error naming its path and saying what is expected."""
    with pytest.raises(ConfigError) as caught:
        parse_config({"database": {"url": "sqlite:///x.sqlite"}, "schema": section}, env={})
    paths = {path: message for path, message in caught.value.problems}
    assert problem[0] in paths, caught.value.problems
    assert problem[1] in paths[problem[0]]


def test_check_config_prints_the_schema_section_and_exits_2_on_errors(write_config: Callable[..., Path]) -> None:
    """check-config shows the effective `schema:` section; an unknown reference key exits 2 with its path."""
    good = write_config({"database": {"url": "sqlite:///x.sqlite"}, "schema": {"naming": "store"}})
    result = run_cli("check-config", "--config", str(good), env=CLEAN_ENV)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["schema"] == {
        "naming": "store",
        "database_schema": None,
        "tables": {},
        "columns": {},
    }
    bad = write_config({"database": {"url": "sqlite:///x.sqlite"}, "schema": {"tables": {"stores": "stores"}}})
    result = run_cli("check-config", "--config", str(bad), env=CLEAN_ENV)
    assert result.returncode == 2
    assert "schema.tables.stores: not a reference table" in result.stderr
