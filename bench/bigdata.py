"""The XL data set on PostgreSQL: small tables from the demo generator, the four big ones set-based in SQL.

Generating 20,000,000 orders row by row in Python and copying them in takes far longer than the
database needs to produce them itself, so customers, products, inventory and orders come from
`INSERT … SELECT … generate_series` with the same shapes as `exporter/demo/data.py`: the same
per-vendor Zipf-like weights (drawn in Python, one row per vendor in a helper table), the same status,
currency, amount and timestamp distributions. Marketplace links of products are left out (NULL).
The database is kept (`scale_xl` by default) and reused while its row counts match.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from exporter.demo import create_demo_database
from exporter.demo.data import DemoData, DemoSize, Row
from exporter.schema import reference_tables

BIG_TABLES = ("customers", "products", "inventory", "orders")


class _SmallTables(DemoData):
    """The demo generator without the rows of the four big tables (their per-vendor shares are kept)."""

    def __init__(self, size: DemoSize, anchor: datetime) -> None:
        super().__init__(size, anchor)
        self.shares: dict[str, tuple[list[int], list[float]]] = {}

    def customers(self) -> tuple[str, Sequence[str], Iterator[Row]]:
        total = max(self.size.vendors * 3, self.size.orders // 8)
        self.shares["customers"] = (self._split(total, self._weights(), minimum=1), [])
        return "customers", ("id",), iter(())

    def products(self) -> tuple[str, Sequence[str], Iterator[Row]]:
        total = max(self.size.vendors * 5, self.size.orders // 10)
        self.shares["products"] = (self._split(total, self._weights(), minimum=1), [])
        return "products", ("id",), iter(())

    def inventory(self) -> tuple[str, Sequence[str], Iterator[Row]]:
        return "inventory", ("id",), iter(())

    def orders(self) -> tuple[str, Sequence[str], Iterator[Row]]:
        self.shares["orders"] = ([], list(itertools.accumulate(self._weights())))
        return "orders", ("id",), iter(())


def _ago(max_days: int, recent: float) -> str:
    """SQL for `DemoData.ago`: a timestamp before :anchor, `recent` of them within 30 days."""
    return (
        f"(CAST(:anchor AS timestamp) - make_interval(secs => floor("
        f"CASE WHEN random() < {recent} THEN random() * 30 ELSE random() * {max_days} END * 86400)))"
    )


_STATEMENTS = (
    (
        "customers",
        "INSERT INTO customers (id, vendor_id, email, is_active, created_at) "
        "SELECT w.c_start + g - 1, w.vendor_id, 'c' || (w.c_start + g - 1) || '@example.com', random() < 0.9, "
        + _ago(700, 0.15)
        + " FROM bench_weights w CROSS JOIN LATERAL generate_series(1, w.c_n) g",
    ),
    (
        "products",
        "INSERT INTO products (id, vendor_id, marketplace_product_id, vendor_sku, gtin, price_cents, currency, "
        "is_active, is_featured, created_at) "
        "SELECT id, vendor_id, NULL, 'P-' || id, CASE WHEN random() < 0.3 THEN NULL ELSE lpad(id::text, 13, '0') END, "
        "CASE WHEN random() < 0.95 THEN 100 + floor(random() * 49901)::int END, currency, active, "
        "active AND random() < 0.1, created_at FROM ("
        "SELECT w.p_start + g - 1 AS id, w.vendor_id, w.currency, random() < 0.85 AS active, "
        + _ago(600, 0.25)
        + " AS created_at FROM bench_weights w CROSS JOIN LATERAL generate_series(1, w.p_n) g) p",
    ),
    (
        "inventory",
        "INSERT INTO inventory (id, product_id, vendor_id, warehouse, bin_location, quantity, reserved_quantity, "
        "updated_at) "
        "SELECT row_number() OVER (), p.id, p.vendor_id, 'WH' || k, CASE k WHEN 1 THEN 'A-01' ELSE 'B-02' END, "
        "(ARRAY[0, 0, 2, 4, 8, 20, 60])[1 + floor(random() * 7)::int], floor(random() * 7)::int, "
        "CASE WHEN random() < 0.9 THEN " + _ago(60, 0.25) + " END "
        "FROM products p CROSS JOIN LATERAL generate_series(1, (ARRAY[0, 1, 1, 2])[1 + p.id % 4]) k",
    ),
    (
        "orders",
        "INSERT INTO orders (id, vendor_id, customer_id, order_number, channel, status, currency, subtotal_cents, "
        "tax_amount_cents, shipping_amount_cents, discount_amount_cents, total_amount_cents, created_at) "
        "SELECT g, w.vendor_id, "
        "CASE WHEN r_customer < 0.9 THEN w.c_start + floor(r_customer / 0.9 * w.c_n)::bigint END, "
        "'ORD-' || lpad(g::text, 8, '0'), (ARRAY['web', 'app', 'marketplace'])[1 + floor(random() * 3)::int], "
        "CASE WHEN r_status < 8 THEN 'pending' WHEN r_status < 15 THEN 'processing' WHEN r_status < 30 THEN 'shipped' "
        "WHEN r_status < 85 THEN 'delivered' WHEN r_status < 95 THEN 'cancelled' ELSE 'refunded' END, "
        "CASE WHEN random() < 0.9 THEN w.currency WHEN g % 2 = 0 THEN 'USD' ELSE 'EUR' END, "
        "CASE WHEN nullable THEN NULL ELSE subtotal END, CASE WHEN nullable THEN NULL ELSE subtotal * 17 / 100 END, "
        "CASE WHEN nullable THEN NULL ELSE shipping END, CASE WHEN nullable THEN NULL ELSE discount END, "
        "subtotal + subtotal * 17 / 100 + shipping - discount, created_at "
        "FROM (SELECT g, width_bucket(random() * c.top, c.a) + 1 AS vendor_id, random() AS r_customer, "
        "random() * 100 AS r_status, 500 + floor(random() * 59501)::bigint AS subtotal, "
        "(ARRAY[0, 490, 990])[1 + floor(random() * 3)::int] AS shipping, "
        "(ARRAY[0, 0, 0, 500])[1 + floor(random() * 4)::int] AS discount, random() < 0.05 AS nullable, "
        + _ago(365, 0.25)
        + " AS created_at FROM generate_series(1, :orders) g, "
        "(SELECT array_agg(cum ORDER BY vendor_id) AS a, max(cum) AS top FROM bench_weights) c) o "
        "JOIN bench_weights w ON w.vendor_id = o.vendor_id",
    ),
)


def _weights_rows(data: _SmallTables) -> Iterator[tuple[Any, ...]]:
    customers = data.shares["customers"][0]
    products = data.shares["products"][0]
    cumulative = data.shares["orders"][1]
    c_start = p_start = 1
    for index, (c_n, p_n, cum) in enumerate(zip(customers, products, cumulative, strict=True)):
        vendor_id = index + 1
        yield (vendor_id, c_start, c_n, p_start, p_n, data.vendor_currency[vendor_id], cum)
        c_start += c_n
        p_start += p_n


def build_xl(url: str, size: DemoSize, anchor: datetime, say: Callable[[str], None]) -> dict[str, float]:
    """Fill the (existing, empty) database at `url`; seconds per step."""
    engine = create_engine(url)
    schema = reference_tables()
    seconds: dict[str, float] = {}
    try:
        started = time.perf_counter()
        data = _SmallTables(size, anchor)
        create_demo_database(engine, size, anchor=anchor, schema=schema, data=data, replace=True)
        seconds["small tables (Python generator, COPY)"] = time.perf_counter() - started
        say(f"small tables loaded in {seconds['small tables (Python generator, COPY)']:.0f} s")
        deferred = [index for name in BIG_TABLES for index in schema.table(name).indexes]
        with engine.begin() as connection:
            for index in deferred:
                index.drop(connection)
        raw = engine.raw_connection()
        try:
            dbapi: Any = raw.driver_connection
            with dbapi.cursor() as cursor:
                cursor.execute("SET session_replication_role = replica")  # no per-row foreign-key triggers
                cursor.execute("DROP TABLE IF EXISTS bench_weights")
                cursor.execute(
                    "CREATE UNLOGGED TABLE bench_weights (vendor_id int PRIMARY KEY, c_start bigint, c_n int, "
                    "p_start bigint, p_n int, currency text, cum float8)"
                )
                with cursor.copy("COPY bench_weights FROM STDIN") as copy:
                    for row in _weights_rows(data):
                        copy.write_row(row)
                cursor.execute("ANALYZE bench_weights")
            raw.commit()
            for name, statement in _STATEMENTS:
                started = time.perf_counter()
                with dbapi.cursor() as cursor:
                    sql = statement.replace("%", "%%").replace(":anchor", "%(anchor)s").replace(":orders", "%(orders)s")
                    cursor.execute(sql, {"anchor": anchor, "orders": size.orders})
                    rows = cursor.rowcount
                raw.commit()
                seconds[name] = time.perf_counter() - started
                say(f"{name}: {rows:,} rows in {seconds[name]:.0f} s")
            with dbapi.cursor() as cursor:
                cursor.execute("DROP TABLE bench_weights")
            raw.commit()
        finally:
            raw.close()
        started = time.perf_counter()
        with engine.begin() as connection:
            for index in deferred:
                index.create(connection)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for name in BIG_TABLES:
                connection.execute(text(f"VACUUM ANALYZE {name}"))
        seconds["indexes, VACUUM ANALYZE"] = time.perf_counter() - started
        say(f"indexes and statistics in {seconds['indexes, VACUUM ANALYZE']:.0f} s")
    finally:
        engine.dispose()
    return seconds


def xl_ready(url: str, size: DemoSize) -> bool:
    """Whether `url` already holds the data set (same vendor and order counts)."""
    engine = create_engine(url)
    t = reference_tables()
    try:
        with engine.connect() as connection:
            vendors = connection.execute(select(func.count()).select_from(t.vendors)).scalar_one()
            orders = connection.execute(select(func.max(t.orders.c.id))).scalar_one()
        return bool(vendors == size.vendors and orders == size.orders)
    except Exception:  # no such database or tables yet
        return False
    finally:
        engine.dispose()


def ensure_database(admin_url: str, name: str) -> str:
    """URL of database `name` on the server of `admin_url`, created when missing."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if exists is None:
                connection.execute(text(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0"))
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)
