"""Deterministic synthetic data in the reference schema, bulk-loaded fast on every backend."""

from __future__ import annotations

import bisect
import itertools
import json
import logging
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, create_engine, func, inspect, select, text
from sqlalchemy.pool import NullPool

from providers.schema import (
    IMPORT_JOB_STATUSES,
    ORDER_STATUSES,
    Base,
    Company,
    ContentPage,
    Customer,
    Inventory,
    MarketplaceImportJob,
    MarketplaceProduct,
    MediaFile,
    Order,
    Platform,
    PlatformModule,
    Product,
    User,
    Vendor,
    VendorDomain,
    VendorPlatform,
    VendorUser,
)

log = logging.getLogger(__name__)

MODULES = ("tenancy", "customers", "cms", "catalog", "inventory", "orders", "marketplace")
PLATFORM_CODES = ("main", "market", "outlet", "nordic", "pro", "b2b", "kids", "home")
CHUNK = 20_000
_NAMES = ("Atelier", "Bazaar", "Corner", "Depot", "Emporium", "Forge", "Goods", "House", "Outfitters", "Supply")
_ODD_NAMES = ('Bob\'s "Best" Books', "Müller & Söhne", "Back\\slash Bikes", "Ørsted Øl", "Café Zoë")


@dataclass(frozen=True)
class DemoSize:
    """How much data to generate; other tables scale with vendors and orders."""

    platforms: int = 3
    vendors: int = 40
    orders: int = 5_000
    seed: int = 42


@dataclass
class _Ids:
    """Id ranges per vendor, so children can pick parents without queries."""

    customers: dict[int, range] = field(default_factory=dict)
    products: dict[int, range] = field(default_factory=dict)
    jobs: dict[int, list[int]] = field(default_factory=dict)
    staged: dict[int, list[int]] = field(default_factory=dict)


Row = tuple[Any, ...]


def _table(model: type[Base]) -> Table:
    return Base.metadata.tables[model.__tablename__]


class DemoData:
    """Generates every table's rows as tuples; deterministic for a given size, seed and anchor time."""

    def __init__(self, size: DemoSize, anchor: datetime) -> None:
        self.size = size
        self.anchor = anchor.replace(microsecond=0)
        self.rng = random.Random(size.seed)
        self.ids = _Ids()
        self.vendor_links: dict[int, list[int]] = {}
        self.vendor_currency: dict[int, str] = {}

    def ago(self, max_days: float, recent_share: float = 0.25) -> datetime:
        """A timestamp before the anchor; `recent_share` of them within the last 30 days."""
        rng = self.rng
        days = rng.uniform(0, 30) if rng.random() < recent_share else rng.uniform(0, max_days)
        return self.anchor - timedelta(seconds=int(days * 86400))

    # Each method returns (table, columns, rows); rows may be a lazy iterator.

    def platforms(self) -> tuple[Table, Sequence[str], list[Row]]:
        rows = []
        for i in range(self.size.platforms):
            code = PLATFORM_CODES[i] if i < len(PLATFORM_CODES) else f"platform{i + 1}"
            active = not (self.size.platforms >= 3 and i == self.size.platforms - 1)
            settings = {"default_language": "en", "theme": "light"} if i % 2 == 0 else None
            rows.append((i + 1, code, f"{code.title()} Platform", active, settings, self.anchor - timedelta(days=900)))
        return _table(Platform), ("id", "code", "name", "is_active", "settings", "created_at"), rows

    def platform_modules(self) -> tuple[Table, Sequence[str], list[Row]]:
        rows: list[Row] = []
        next_id = itertools.count(1)
        for platform_id in range(1, self.size.platforms + 1):
            for module in MODULES:
                if platform_id == 1 and module == "inventory":
                    continue  # no row: enabled by default
                enabled = True
                if platform_id == 2 and module in ("marketplace", "customers"):
                    enabled = False  # marketplace off; customers is core and stays on
                config = {"source": "demo"} if module == "orders" else None
                enabled_at = self.anchor - timedelta(days=400) if enabled else None
                rows.append((next(next_id), platform_id, module, enabled, config, enabled_at))
        return _table(PlatformModule), ("id", "platform_id", "module_code", "is_enabled", "config", "enabled_at"), rows

    def users(self) -> tuple[Table, Sequence[str], list[Row]]:
        count = self.size.vendors * 2 + 5
        rows = []
        for i in range(1, count + 1):
            role = "admin" if i <= 5 else "vendor"
            last_login = self.ago(60) if self.rng.random() < 0.8 else None
            rows.append(
                (i, f"user{i}@example.com", f"user{i}", role, self.rng.random() < 0.95, self.ago(800), last_login)
            )
        return _table(User), ("id", "email", "username", "role", "is_active", "created_at", "last_login_at"), rows

    def companies(self) -> tuple[Table, Sequence[str], list[Row]]:
        count = (self.size.vendors + 1) // 2
        rows = [
            (
                i,
                f"Company {i}",
                5 + i if self.rng.random() < 0.9 else None,
                self.rng.random() < 0.95,
                self.rng.random() < 0.7,
                self.ago(900),
            )
            for i in range(1, count + 1)
        ]
        return _table(Company), ("id", "name", "owner_user_id", "is_active", "is_verified", "created_at"), rows

    def vendors(self) -> tuple[Table, Sequence[str], list[Row]]:
        rows = []
        companies = (self.size.vendors + 1) // 2
        for i in range(1, self.size.vendors + 1):
            name = _ODD_NAMES[(i // 7) % len(_ODD_NAMES)] + f" {i}" if i % 7 == 0 else f"{_NAMES[i % 10]} {i}"
            subdomain = f"shop{i}" if self.rng.random() < 0.8 else None
            company = (i + 1) // 2 if (i + 1) // 2 <= companies and self.rng.random() < 0.9 else None
            rows.append(
                (
                    i,
                    company,
                    f"V{i:05d}",
                    subdomain,
                    name,
                    self.rng.random() < 0.93,
                    self.rng.random() < 0.7,
                    self.ago(800),
                )
            )
            self.vendor_currency[i] = self.rng.choices(("EUR", "USD", "GBP"), (80, 15, 5))[0]
        return (
            _table(Vendor),
            ("id", "company_id", "vendor_code", "subdomain", "name", "is_active", "is_verified", "created_at"),
            rows,
        )

    def vendor_platforms(self) -> tuple[Table, Sequence[str], list[Row]]:
        rows = []
        next_id = itertools.count(1)
        for vendor_id in range(1, self.size.vendors + 1):
            platforms = [p for p in range(1, self.size.platforms + 1) if self.rng.random() < (0.8 if p == 1 else 0.3)]
            if not platforms:
                platforms = [self.rng.randint(1, self.size.platforms)]
            self.vendor_links[vendor_id] = platforms
            for platform_id in platforms:
                joined = self.ago(700) if self.rng.random() < 0.9 else None
                tier = self.rng.choice((1, 2, 3, None))
                rows.append((next(next_id), vendor_id, platform_id, tier, self.rng.random() < 0.92, joined))
        return _table(VendorPlatform), ("id", "vendor_id", "platform_id", "tier_id", "is_active", "joined_at"), rows

    def vendor_users(self) -> tuple[Table, Sequence[str], list[Row]]:
        rows = []
        next_id = itertools.count(1)
        users = self.size.vendors * 2 + 5
        for vendor_id in range(1, self.size.vendors + 1):
            members = self.rng.sample(range(1, users + 1), self.rng.randint(1, 4))
            for n, user_id in enumerate(members):
                role = "owner" if n == 0 else self.rng.choice(("manager", "staff", "viewer"))
                rows.append((next(next_id), vendor_id, user_id, role, self.rng.random() < 0.9, self.ago(600)))
        return _table(VendorUser), ("id", "vendor_id", "user_id", "role", "is_active", "created_at"), rows

    def vendor_domains(self) -> tuple[Table, Sequence[str], list[Row]]:
        rows = []
        next_id = itertools.count(1)
        for vendor_id in range(1, self.size.vendors + 1):
            for n in range(self.rng.randint(0, 2)):
                domain = f"{'www.' if n else ''}v{vendor_id}.shop.example"
                rows.append(
                    (
                        next(next_id),
                        vendor_id,
                        domain,
                        n == 0,
                        self.rng.random() < 0.6,
                        self.rng.random() < 0.9,
                        self.ago(500),
                    )
                )
        return (
            _table(VendorDomain),
            ("id", "vendor_id", "domain", "is_primary", "is_verified", "is_active", "created_at"),
            rows,
        )

    def _weights(self) -> list[float]:
        """Zipf-like vendor sizes: a few big vendors, a long tail."""
        weights = [1 / (rank + 1) ** 0.8 for rank in range(self.size.vendors)]
        self.rng.shuffle(weights)
        return weights

    def _split(self, total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
        scale = sum(weights)
        counts = [max(minimum, int(total * w / scale)) for w in weights]
        return counts

    def customers(self) -> tuple[Table, Sequence[str], Iterator[Row]]:
        total = max(self.size.vendors * 3, self.size.orders // 8)
        counts = self._split(total, self._weights(), minimum=1)
        start = 1
        for vendor_id, n in enumerate(counts, start=1):
            self.ids.customers[vendor_id] = range(start, start + n)
            start += n

        def rows() -> Iterator[Row]:
            rng = self.rng
            for vendor_id, ids in self.ids.customers.items():
                for customer_id in ids:
                    yield (
                        customer_id,
                        vendor_id,
                        f"c{customer_id}@example.com",
                        rng.random() < 0.9,
                        self.ago(700, 0.15),
                    )

        return _table(Customer), ("id", "vendor_id", "email", "is_active", "created_at"), rows()

    def content_pages(self) -> tuple[Table, Sequence[str], list[Row]]:
        rows: list[Row] = []
        next_id = itertools.count(1)
        for platform_id in range(1, self.size.platforms + 1):
            for slug in ("about", "terms", "privacy"):
                published = self.rng.random() < 0.8
                rows.append(
                    (
                        next(next_id),
                        platform_id,
                        None,
                        slug,
                        slug.title(),
                        True,
                        published,
                        self.ago(300) if published else None,
                        self.ago(900),
                    )
                )
        for vendor_id in range(1, self.size.vendors + 1):
            for n in range(self.rng.randint(0, 3)):
                platform_id = self.rng.choice(self.vendor_links[vendor_id])
                published = self.rng.random() < 0.7
                rows.append(
                    (
                        next(next_id),
                        platform_id,
                        vendor_id,
                        f"page-{n}",
                        f"Page {n}",
                        False,
                        published,
                        self.ago(300) if published else None,
                        self.ago(600),
                    )
                )
        return (
            _table(ContentPage),
            (
                "id",
                "platform_id",
                "vendor_id",
                "slug",
                "title",
                "is_platform_page",
                "is_published",
                "published_at",
                "created_at",
            ),
            rows,
        )

    def media_files(self) -> tuple[Table, Sequence[str], list[Row]]:
        rows = []
        next_id = itertools.count(1)
        for vendor_id in range(1, self.size.vendors + 1):
            for n in range(self.rng.randint(0, 6)):
                kind = self.rng.choice(("image", "image", "video", "document"))
                rows.append(
                    (
                        next(next_id),
                        vendor_id,
                        f"file{n}.{kind[:3]}",
                        kind,
                        self.rng.randint(1_000, 5_000_000),
                        self.ago(500),
                    )
                )
        return _table(MediaFile), ("id", "vendor_id", "filename", "media_type", "file_size", "created_at"), rows

    def import_jobs(self) -> tuple[Table, Sequence[str], list[Row]]:
        rows = []
        next_id = itertools.count(1)
        for vendor_id in range(1, self.size.vendors + 1):
            jobs = []
            for _ in range(self.rng.randint(0, 5)):
                job_id = next(next_id)
                status = self.rng.choices(IMPORT_JOB_STATUSES, (10, 10, 50, 15, 15))[0]
                created = self.ago(200, 0.4)
                started = created + timedelta(minutes=1) if status != "pending" else None
                finished = status in ("completed", "completed_with_errors", "failed")
                completed_at = created + timedelta(minutes=self.rng.randint(2, 90)) if finished else None
                errors = self.rng.randint(1, 40) if status in ("completed_with_errors", "failed") else 0
                imported = self.rng.randint(0, 500) if status.startswith("completed") else 0
                url = f"https://feeds.example/{vendor_id}/{job_id}.csv" if self.rng.random() < 0.8 else None
                language = self.rng.choice(("en", "de", "fr", None))
                marketplace = self.rng.choice(("amazon", "ebay", "letzshop"))
                rows.append(
                    (
                        job_id,
                        vendor_id,
                        marketplace,
                        url,
                        language,
                        status,
                        imported,
                        errors,
                        created,
                        started,
                        completed_at,
                    )
                )
                jobs.append(job_id)
            self.ids.jobs[vendor_id] = jobs
        return (
            _table(MarketplaceImportJob),
            (
                "id",
                "vendor_id",
                "marketplace",
                "source_url",
                "language",
                "status",
                "imported_count",
                "error_count",
                "created_at",
                "started_at",
                "completed_at",
            ),
            rows,
        )

    def marketplace_products(self) -> tuple[Table, Sequence[str], list[Row]]:
        rows: list[Row] = []
        next_id = itertools.count(1)
        for vendor_id in range(1, self.size.vendors + 1):
            staged = []
            jobs: list[int | None] = list(self.ids.jobs[vendor_id]) or [None]
            for job_id in jobs:
                for _ in range(self.rng.randint(0, 8)):
                    staged_id = next(next_id)
                    price = self.rng.randint(100, 20_000) if self.rng.random() < 0.9 else None
                    rows.append(
                        (
                            staged_id,
                            vendor_id,
                            job_id,
                            "amazon",
                            f"{4000000000000 + staged_id}",
                            f"SKU-{staged_id}" if self.rng.random() < 0.9 else None,
                            self.rng.choice(("Acme", "Globex", None)),
                            price,
                            "EUR" if price else None,
                            self.ago(200),
                        )
                    )
                    staged.append(staged_id)
            self.ids.staged[vendor_id] = staged
        return (
            _table(MarketplaceProduct),
            (
                "id",
                "vendor_id",
                "import_job_id",
                "marketplace",
                "gtin",
                "sku",
                "brand",
                "price_cents",
                "currency",
                "created_at",
            ),
            rows,
        )

    def products(self) -> tuple[Table, Sequence[str], Iterator[Row]]:
        total = max(self.size.vendors * 5, self.size.orders // 10)
        counts = self._split(total, self._weights(), minimum=1)
        start = 1
        for vendor_id, n in enumerate(counts, start=1):
            self.ids.products[vendor_id] = range(start, start + n)
            start += n

        def rows() -> Iterator[Row]:
            rng = self.rng
            for vendor_id, ids in self.ids.products.items():
                staged = list(self.ids.staged.get(vendor_id, ()))
                rng.shuffle(staged)
                currency = self.vendor_currency[vendor_id]
                for product_id in ids:
                    linked = staged.pop() if staged and rng.random() < 0.5 else None
                    price = rng.randint(100, 50_000) if rng.random() < 0.95 else None
                    active = rng.random() < 0.85
                    yield (
                        product_id,
                        vendor_id,
                        linked,
                        f"P-{product_id}",
                        None if rng.random() < 0.3 else f"{product_id:013d}",
                        price,
                        currency,
                        active,
                        active and rng.random() < 0.1,
                        self.ago(600),
                    )

        return (
            _table(Product),
            (
                "id",
                "vendor_id",
                "marketplace_product_id",
                "vendor_sku",
                "gtin",
                "price_cents",
                "currency",
                "is_active",
                "is_featured",
                "created_at",
            ),
            rows(),
        )

    def inventory(self) -> tuple[Table, Sequence[str], Iterator[Row]]:
        def rows() -> Iterator[Row]:
            rng = self.rng
            next_id = itertools.count(1)
            for vendor_id, ids in self.ids.products.items():
                for product_id in ids:
                    for warehouse, bin_location in (("WH1", "A-01"), ("WH2", "B-02"))[: rng.choice((0, 1, 1, 2))]:
                        quantity = rng.choice((0, 0, 2, 4, 8, 20, 60))
                        reserved = rng.randint(0, 6)  # sometimes above the quantity on hand
                        yield (
                            next(next_id),
                            product_id,
                            vendor_id,
                            warehouse,
                            bin_location,
                            quantity,
                            reserved,
                            self.ago(60) if rng.random() < 0.9 else None,
                        )

        return (
            _table(Inventory),
            (
                "id",
                "product_id",
                "vendor_id",
                "warehouse",
                "bin_location",
                "quantity",
                "reserved_quantity",
                "updated_at",
            ),
            rows(),
        )

    def orders(self) -> tuple[Table, Sequence[str], Iterator[Row]]:
        weights = self._weights()
        cumulative = list(itertools.accumulate(weights))
        top = cumulative[-1]

        def rows() -> Iterator[Row]:
            rng = self.rng
            statuses = ORDER_STATUSES
            status_cum = list(itertools.accumulate((8, 7, 15, 55, 10, 5)))
            for order_id in range(1, self.size.orders + 1):
                vendor_id = bisect.bisect_left(cumulative, rng.random() * top) + 1
                customers = self.ids.customers[vendor_id]
                customer_id = customers[int(rng.random() * len(customers))] if rng.random() < 0.9 else None
                status = statuses[bisect.bisect_left(status_cum, rng.random() * 100)]
                currency = self.vendor_currency[vendor_id] if rng.random() < 0.9 else ("USD", "EUR")[order_id % 2]
                subtotal = rng.randint(500, 60_000)
                tax = subtotal * 17 // 100
                shipping = rng.choice((0, 490, 990))
                discount = rng.choice((0, 0, 0, 500))
                total = subtotal + tax + shipping - discount
                nullable = rng.random() < 0.05
                yield (
                    order_id,
                    vendor_id,
                    customer_id,
                    f"ORD-{order_id:08d}",
                    rng.choice(("web", "app", "marketplace")),
                    status,
                    currency,
                    None if nullable else subtotal,
                    None if nullable else tax,
                    None if nullable else shipping,
                    None if nullable else discount,
                    total,
                    self.ago(365),
                )

        return (
            _table(Order),
            (
                "id",
                "vendor_id",
                "customer_id",
                "order_number",
                "channel",
                "status",
                "currency",
                "subtotal_cents",
                "tax_amount_cents",
                "shipping_amount_cents",
                "discount_amount_cents",
                "total_amount_cents",
                "created_at",
            ),
            rows(),
        )

    def tables(self) -> Iterator[tuple[Table, Sequence[str], Iterable[Row]]]:
        """Every table in dependency order (parents first)."""
        yield self.platforms()
        yield self.platform_modules()
        yield self.users()
        yield self.companies()
        yield self.vendors()
        yield self.vendor_platforms()
        yield self.vendor_users()
        yield self.vendor_domains()
        yield self.customers()
        yield self.content_pages()
        yield self.media_files()
        yield self.import_jobs()
        yield self.marketplace_products()
        yield self.products()
        yield self.inventory()
        yield self.orders()


# --- loading ----------------------------------------------------------------------------------


def _chunks(rows: Iterable[Row], size: int = CHUNK) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _sqlite_value(value: Any) -> Any:
    # The same text SQLAlchemy's SQLite DateTime type writes, so comparisons in queries match.
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return _plain_value(value)


def _plain_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


Loader = Callable[[Any, Table, Sequence[str], Iterable[Row]], int]


def _load_sqlite(dbapi: Any, table: Table, columns: Sequence[str], rows: Iterable[Row]) -> int:
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    count = 0
    cursor = dbapi.cursor()
    for chunk in _chunks(rows):
        cursor.executemany(statement, [tuple(_sqlite_value(v) for v in row) for row in chunk])
        count += len(chunk)
    return count


def _load_postgresql(dbapi: Any, table: Table, columns: Sequence[str], rows: Iterable[Row]) -> int:
    count = 0
    with dbapi.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(_plain_value(v) for v in row))
            count += 1
    return count


def _insert_mysql(dbapi: Any, table: Table, columns: Sequence[str], rows: Iterable[Row]) -> int:
    # PyMySQL turns executemany of INSERT … VALUES into multi-row statements.
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    count = 0
    cursor = dbapi.cursor()
    for chunk in _chunks(rows, 5_000):
        cursor.executemany(statement, [tuple(_plain_value(v) for v in row) for row in chunk])
        count += len(chunk)
    return count


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})
LOCAL_INFILE_REFUSED = frozenset({1148, 2068, 3948, 4166})
"""MariaDB/MySQL error codes for "LOAD DATA LOCAL is disabled" (server or client side)."""


def _tsv_field(value: Any) -> str:
    """One field as LOAD DATA's default format reads it (tab-separated, backslash escapes, \\N)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(_plain_value(value)).translate(_TSV_ESCAPES)


class _MySQLLoader:
    """`LOAD DATA LOCAL INFILE` of one temporary TSV file per table, committed per table.

    MariaDB sorts and builds the indexes of an empty table in bulk only for the first statement
    of a transaction that starts on it; one statement per table, each in its own transaction,
    loads 1M orders in 16 s where 200k-row statements take 46 s and one transaction for every
    table 38 s (multi-row INSERTs: 70 s). Falls back to INSERTs when local files are refused.
    A failed load leaves the tables loaded so far; `demo-db --replace` starts over.
    """

    def __init__(self) -> None:
        self.local_infile: bool | None = None
        """Whether client and server allow local files; found out on the first table."""

    def __call__(self, dbapi: Any, table: Table, columns: Sequence[str], rows: Iterable[Row]) -> int:
        count = 0
        with tempfile.TemporaryDirectory(prefix="commerce-demo-") as directory:
            path = os.path.join(directory, f"{table.name}.tsv")
            if self.local_infile is None:
                self.local_infile = self._allowed(dbapi, path, table, columns)
            if not self.local_infile:
                return _insert_mysql(dbapi, table, columns, rows)
            with open(path, "w", encoding="utf-8", newline="\n") as out:
                for row in rows:
                    out.write("\t".join(map(_tsv_field, row)) + "\n")
                    count += 1
            self._load_file(dbapi, path, table, columns)
        dbapi.commit()
        return count

    def _allowed(self, dbapi: Any, path: str, table: Table, columns: Sequence[str]) -> bool:
        """Load an empty file: refused means local files are off (MySQL 8's default) and INSERTs it is."""
        with open(path, "w", encoding="utf-8"):
            pass
        try:
            self._load_file(dbapi, path, table, columns)
        except Exception as err:  # PyMySQL's error classes are not importable without the extra
            if getattr(err, "args", (None,))[0] not in LOCAL_INFILE_REFUSED:
                raise
            log.info("LOAD DATA LOCAL is disabled (%s); loading with INSERT statements", err)
            return False
        return True

    @staticmethod
    def _load_file(dbapi: Any, path: str, table: Table, columns: Sequence[str]) -> None:
        cursor = dbapi.cursor()
        try:
            cursor.execute(
                f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table.name} CHARACTER SET utf8mb4 ({', '.join(columns)})"
            )
            # LOCAL turns conversion errors into warnings; demo data must load exactly or not at all.
            cursor.execute("SHOW WARNINGS LIMIT 3")
            warnings = cursor.fetchall()
            if warnings:
                raise ValueError(f"loading {table.name} produced warnings: {warnings}")
        finally:
            cursor.close()


def _pg_finish(table: Table) -> tuple[str, ...]:
    # COPY with explicit ids leaves the sequence behind; VACUUM sets the visibility map so the
    # covering indexes allow index-only scans at once, as autovacuum would do on a live database.
    return (
        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}), false)",
        f"VACUUM ANALYZE {table.name}",
    )


@dataclass(frozen=True)
class _Bulk:
    """How one backend takes demo data fast."""

    loader: Callable[[], Loader]
    """A fresh loader for each database (the MySQL one remembers whether local files are allowed)."""
    setup: tuple[str, ...] = ()
    """Session statements before loading."""
    defer_indexes: bool = False
    """Drop the secondary indexes before loading and build them after: PostgreSQL and SQLite build
    an index from sorted data several times faster than they maintain it row by row (COPY of 2M
    orders: 22 s with the indexes in place, 10 s with them built afterwards). MariaDB already
    builds them sorted when loading into an empty table (see `_MySQLLoader`; deferring measured
    34 s against 28 s), and it cannot drop an index a foreign key uses."""
    finish: Callable[[Table], tuple[str, ...]] = lambda table: (f"ANALYZE {table.name}",)
    """Statements per table after loading (outside a transaction)."""
    connect_args: dict[str, Any] = field(default_factory=dict)
    """Driver arguments of the loading connection (PyMySQL must be allowed to send local files)."""


_BULK: dict[str, _Bulk] = {
    "sqlite": _Bulk(lambda: _load_sqlite, setup=("PRAGMA synchronous = OFF",), defer_indexes=True),
    "postgresql": _Bulk(lambda: _load_postgresql, defer_indexes=True, finish=_pg_finish),
    "mysql": _Bulk(
        _MySQLLoader,
        setup=("SET SESSION foreign_key_checks = 0, SESSION unique_checks = 0",),
        finish=lambda table: (f"ANALYZE TABLE {table.name}",),
        connect_args={"local_infile": True},
    ),
}
_BULK["mariadb"] = _BULK["mysql"]


class DemoDatabaseNotEmpty(Exception):
    """`demo-db` refuses to touch a database that already has platform data."""


def existing_rows(engine: Engine) -> int:
    """Rows in reference tables that already exist (0 for an empty or new database)."""
    present = set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        return sum(
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
            if table.name in present
        )


def create_demo_database(
    engine: Engine,
    size: DemoSize,
    *,
    anchor: datetime,
    replace: bool = False,
    progress: Callable[[str, int, float], None] | None = None,
) -> dict[str, int]:
    """Create the reference schema and fill it; returns rows per table.

    Refuses (DemoDatabaseNotEmpty) when reference tables already hold rows, unless `replace`,
    which drops and recreates them: demo data must never land in a real platform database.
    """
    if existing_rows(engine) and not replace:
        raise DemoDatabaseNotEmpty(
            "the database already has rows in the reference tables; pass --replace to drop and recreate them"
        )
    backend = engine.url.get_backend_name()
    bulk = _BULK.get(backend)
    if bulk is None:
        raise ValueError(f"demo data can be loaded into sqlite, postgresql, mysql or mariadb, not {backend}")
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    deferred = [index for table in Base.metadata.sorted_tables for index in table.indexes] if bulk.defer_indexes else []
    with engine.begin() as connection:
        for index in deferred:
            index.drop(connection)
    data = DemoData(size, anchor)
    load = bulk.loader()
    counts: dict[str, int] = {}
    loading = create_engine(engine.url, connect_args=bulk.connect_args, poolclass=NullPool)
    raw = loading.raw_connection()
    try:
        dbapi: Any = raw.driver_connection
        cursor = dbapi.cursor()
        for statement in bulk.setup:
            cursor.execute(statement)
        cursor.close()
        for table, columns, rows in data.tables():
            started = time.perf_counter()
            counts[table.name] = load(dbapi, table, columns, rows)
            if progress is not None:
                progress(table.name, counts[table.name], time.perf_counter() - started)
        raw.commit()
    finally:
        raw.close()
        loading.dispose()
    started = time.perf_counter()
    with engine.begin() as connection:
        for index in deferred:
            index.create(connection)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in Base.metadata.sorted_tables:
            for statement in bulk.finish(table):
                connection.execute(text(statement))
    if progress is not None:
        progress("(indexes, statistics)", sum(counts.values()), time.perf_counter() - started)
    return counts
