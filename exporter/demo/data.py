"""Deterministic synthetic platform data: rows of every reference table, by reference names."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from exporter.schema import IMPORT_JOB_STATUSES, ORDER_STATUSES

MODULES = ("tenancy", "customers", "cms", "catalog", "inventory", "orders", "marketplace")
PLATFORM_CODES = ("main", "market", "outlet", "nordic", "pro", "b2b", "kids", "home")
_NAMES = ("Atelier", "Bazaar", "Corner", "Depot", "Emporium", "Forge", "Goods", "House", "Outfitters", "Supply")
_ODD_NAMES = ('Bob\'s "Best" Books', "Müller & Söhne", "Back\\slash Bikes", "Ørsted Øl", "Café Zoë")


_COMPANY_SIZES = (3, 1, 2, 4, 2)
"""How many consecutive vendors each company owns, in turn: merchants of one to four vendors."""


def _owners(vendors: int) -> dict[int, int]:
    """Vendor id → the id of the company that owns it (before one in ten is left without one)."""
    owners: dict[int, int] = {}
    company, left = 1, _COMPANY_SIZES[0]
    for vendor_id in range(1, vendors + 1):
        if left == 0:
            company += 1
            left = _COMPANY_SIZES[(company - 1) % len(_COMPANY_SIZES)]
        owners[vendor_id] = company
        left -= 1
    return owners


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

    def platforms(self) -> tuple[str, Sequence[str], list[Row]]:
        rows = []
        for i in range(self.size.platforms):
            code = PLATFORM_CODES[i] if i < len(PLATFORM_CODES) else f"platform{i + 1}"
            active = not (self.size.platforms >= 3 and i == self.size.platforms - 1)
            settings = {"default_language": "en", "theme": "light"} if i % 2 == 0 else None
            rows.append((i + 1, code, f"{code.title()} Platform", active, settings, self.anchor - timedelta(days=900)))
        return "platforms", ("id", "code", "name", "is_active", "settings", "created_at"), rows

    def platform_modules(self) -> tuple[str, Sequence[str], list[Row]]:
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
        return "platform_modules", ("id", "platform_id", "module_code", "is_enabled", "config", "enabled_at"), rows

    def users(self) -> tuple[str, Sequence[str], list[Row]]:
        count = self.size.vendors * 2 + 5
        rows = []
        for i in range(1, count + 1):
            role = "admin" if i <= 5 else "vendor"
            last_login = self.ago(60) if self.rng.random() < 0.8 else None
            rows.append(
                (i, f"user{i}@example.com", f"user{i}", role, self.rng.random() < 0.95, self.ago(800), last_login)
            )
        return "users", ("id", "email", "username", "role", "is_active", "created_at", "last_login_at"), rows

    def companies(self) -> tuple[str, Sequence[str], list[Row]]:
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
        return "companies", ("id", "name", "owner_user_id", "is_active", "is_verified", "created_at"), rows

    def vendors(self) -> tuple[str, Sequence[str], list[Row]]:
        rows = []
        companies = (self.size.vendors + 1) // 2
        owners = _owners(self.size.vendors)
        for i in range(1, self.size.vendors + 1):
            name = _ODD_NAMES[(i // 7) % len(_ODD_NAMES)] + f" {i}" if i % 7 == 0 else f"{_NAMES[i % 10]} {i}"
            subdomain = f"shop{i}" if self.rng.random() < 0.8 else None
            company = owners[i] if owners[i] <= companies and self.rng.random() < 0.9 else None
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
            "vendors",
            ("id", "company_id", "vendor_code", "subdomain", "name", "is_active", "is_verified", "created_at"),
            rows,
        )

    def vendor_platforms(self) -> tuple[str, Sequence[str], list[Row]]:
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
        return "vendor_platforms", ("id", "vendor_id", "platform_id", "tier_id", "is_active", "joined_at"), rows

    def vendor_users(self) -> tuple[str, Sequence[str], list[Row]]:
        rows = []
        next_id = itertools.count(1)
        users = self.size.vendors * 2 + 5
        for vendor_id in range(1, self.size.vendors + 1):
            members = self.rng.sample(range(1, users + 1), self.rng.randint(1, 4))
            for n, user_id in enumerate(members):
                role = "owner" if n == 0 else self.rng.choice(("manager", "staff", "viewer"))
                rows.append((next(next_id), vendor_id, user_id, role, self.rng.random() < 0.9, self.ago(600)))
        return "vendor_users", ("id", "vendor_id", "user_id", "role", "is_active", "created_at"), rows

    def vendor_domains(self) -> tuple[str, Sequence[str], list[Row]]:
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
            "vendor_domains",
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

    def customers(self) -> tuple[str, Sequence[str], Iterator[Row]]:
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

        return "customers", ("id", "vendor_id", "email", "is_active", "created_at"), rows()

    def content_pages(self) -> tuple[str, Sequence[str], list[Row]]:
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
            "content_pages",
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

    def media_files(self) -> tuple[str, Sequence[str], list[Row]]:
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
        return "media_files", ("id", "vendor_id", "filename", "media_type", "file_size", "created_at"), rows

    def import_jobs(self) -> tuple[str, Sequence[str], list[Row]]:
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
            "marketplace_import_jobs",
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

    def marketplace_products(self) -> tuple[str, Sequence[str], list[Row]]:
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
            "marketplace_products",
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

    def products(self) -> tuple[str, Sequence[str], Iterator[Row]]:
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
            "products",
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

    def inventory(self) -> tuple[str, Sequence[str], Iterator[Row]]:
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
            "inventory",
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

    def orders(self) -> tuple[str, Sequence[str], Iterator[Row]]:
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
            "orders",
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

    def tables(self) -> Iterator[tuple[str, Sequence[str], Iterable[Row]]]:
        """(reference table, reference columns, rows) of every table, parents first."""
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
