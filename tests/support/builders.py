"""Row builders for tests: insert reference-schema rows with defaults, and remember them.

Every inserted row is also kept as a plain dict in `Rows.tables[table]`, so a test can compute
the value it expects with plain Python over exactly the rows it inserted.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, MetaData, Table, insert, update

from exporter.schema import SchemaTables, reference_tables

NOW = datetime(2026, 6, 15, 12, 0, 0)
"""A fixed 'now' for tests; pass it to the exporter's clock so windows are exact."""


class Rows:
    """Inserts rows table by table with explicit ids and sensible defaults.

    Tables and columns are named by their reference names; `schema` says what they are called
    in the database (default: the reference names). `metadata` replaces the tables altogether
    with others of the same names (the relaxed tables of the dirty-row tests). `absent` names
    tables (`companies`) and columns (`vendors.company_id`) the database lacks: their rows and
    values are remembered in `tables`, for the expectations, but never inserted.
    """

    def __init__(
        self,
        engine: Engine,
        now: datetime = NOW,
        schema: SchemaTables | None = None,
        *,
        metadata: MetaData | None = None,
        absent: Collection[str] = (),
    ) -> None:
        self.engine = engine
        self.now = now
        self.schema = schema or reference_tables()
        self.metadata = metadata
        self.absent = frozenset(absent)
        self.tables: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._ids: dict[str, itertools.count[int]] = defaultdict(lambda: itertools.count(1))

    def table(self, name: str) -> Table:
        """The table rows named `name` go to."""
        return self.metadata.tables[name] if self.metadata is not None else self.schema.table(name)

    def add(self, table: str, **values: Any) -> dict[str, Any]:
        """Insert one row into `table`; returns it (with its id)."""
        row = {"id": next(self._ids[table]), **values}
        if table not in self.absent:
            with self.engine.begin() as connection:
                connection.execute(insert(self.table(table)), [self._present(table, row)])
        self.tables[table].append(row)
        return row

    def _present(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        """`row` without the columns the database lacks."""
        if not self.absent:
            return row
        return {column: value for column, value in row.items() if f"{table}.{column}" not in self.absent}

    def update(self, table: str, row: dict[str, Any], **values: Any) -> dict[str, Any]:
        """Change columns of one inserted row, in the database and in `tables`; returns the row."""
        target = self.table(table)
        with self.engine.begin() as connection:
            connection.execute(update(target).where(target.c.id == row["id"]).values(**values))
        row.update(values)
        return row

    def bulk(self, table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Insert many rows in one statement (ids assigned here); returns them."""
        stored = [{"id": next(self._ids[table]), **row} for row in rows]
        if table not in self.absent:
            with self.engine.begin() as connection:
                connection.execute(insert(self.table(table)), [self._present(table, row) for row in stored])
        self.tables[table].extend(stored)
        return stored

    def ago(self, **delta: float) -> datetime:
        """`now - timedelta(**delta)`."""
        return self.now - timedelta(**delta)

    # --- one helper per table, defaults for every NOT NULL column ---------------------------

    def platform(self, code: str, *, name: str | None = None, active: bool = True, **extra: Any) -> dict[str, Any]:
        return self.add(
            "platforms", code=code, name=name or code.title(), is_active=active, created_at=self.ago(days=500), **extra
        )

    def module(self, platform: dict[str, Any], code: str, enabled: bool) -> dict[str, Any]:
        return self.add("platform_modules", platform_id=platform["id"], module_code=code, is_enabled=enabled)

    def user(self, **extra: Any) -> dict[str, Any]:
        n = len(self.tables["users"]) + 1
        values = {
            "email": f"u{n}@example.com",
            "username": f"u{n}",
            "role": "vendor",
            "is_active": True,
            "created_at": self.ago(days=300),
        } | extra
        return self.add("users", **values)

    def vendor(
        self, code: str, *, name: str | None = None, active: bool = True, verified: bool = False, **extra: Any
    ) -> dict[str, Any]:
        return self.add(
            "vendors",
            vendor_code=code,
            name=name or f"Vendor {code}",
            is_active=active,
            is_verified=verified,
            created_at=self.ago(days=400),
            **extra,
        )

    def link(self, vendor: dict[str, Any], platform: dict[str, Any], *, active: bool = True) -> dict[str, Any]:
        return self.add("vendor_platforms", vendor_id=vendor["id"], platform_id=platform["id"], is_active=active)

    def member(self, vendor: dict[str, Any], user: dict[str, Any], *, active: bool = True) -> dict[str, Any]:
        return self.add(
            "vendor_users",
            vendor_id=vendor["id"],
            user_id=user["id"],
            role="staff",
            is_active=active,
            created_at=self.ago(days=100),
        )

    def domain(
        self, vendor: dict[str, Any], domain: str, *, verified: bool = False, active: bool = True, primary: bool = False
    ) -> dict[str, Any]:
        return self.add(
            "vendor_domains",
            vendor_id=vendor["id"],
            domain=domain,
            is_primary=primary,
            is_verified=verified,
            is_active=active,
            created_at=self.ago(days=100),
        )

    def customer(
        self, vendor: dict[str, Any], *, active: bool = True, created_at: datetime | None = None
    ) -> dict[str, Any]:
        n = len(self.tables["customers"]) + 1
        return self.add(
            "customers",
            vendor_id=vendor["id"],
            email=f"c{n}@example.com",
            is_active=active,
            created_at=created_at or self.ago(days=100),
        )

    def page(
        self, platform: dict[str, Any], vendor: dict[str, Any] | None, *, published: bool = True, **extra: Any
    ) -> dict[str, Any]:
        n = len(self.tables["content_pages"]) + 1
        return self.add(
            "content_pages",
            platform_id=platform["id"],
            vendor_id=vendor["id"] if vendor else None,
            slug=f"page-{n}",
            title=f"Page {n}",
            is_platform_page=vendor is None,
            is_published=published,
            created_at=self.ago(days=50),
            **extra,
        )

    def media(self, vendor: dict[str, Any], size: int, **extra: Any) -> dict[str, Any]:
        n = len(self.tables["media_files"]) + 1
        return self.add(
            "media_files",
            vendor_id=vendor["id"],
            filename=f"f{n}.png",
            media_type="image",
            file_size=size,
            created_at=self.ago(days=10),
            **extra,
        )

    def job(
        self, vendor: dict[str, Any], status: str, *, errors: int = 0, imported: int = 0, **extra: Any
    ) -> dict[str, Any]:
        return self.add(
            "marketplace_import_jobs",
            vendor_id=vendor["id"],
            marketplace="amazon",
            status=status,
            imported_count=imported,
            error_count=errors,
            created_at=self.ago(days=5),
            **extra,
        )

    def staged(self, vendor: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return self.add(
            "marketplace_products", vendor_id=vendor["id"], marketplace="amazon", created_at=self.ago(days=5), **extra
        )

    def product(
        self,
        vendor: dict[str, Any],
        *,
        active: bool = True,
        featured: bool = False,
        staged: dict[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self.add(
            "products",
            vendor_id=vendor["id"],
            marketplace_product_id=staged["id"] if staged else None,
            currency="EUR",
            is_active=active,
            is_featured=featured,
            created_at=self.ago(days=30),
            **extra,
        )

    def stock(
        self,
        product: dict[str, Any],
        quantity: int,
        reserved: int = 0,
        *,
        warehouse: str = "WH1",
        bin_location: str | None = None,
    ) -> dict[str, Any]:
        n = len(self.tables["inventory"]) + 1
        return self.add(
            "inventory",
            product_id=product["id"],
            vendor_id=product["vendor_id"],
            warehouse=warehouse,
            bin_location=bin_location or f"B{n}",
            quantity=quantity,
            reserved_quantity=reserved,
        )

    def order(
        self,
        vendor: dict[str, Any],
        total_cents: int,
        *,
        status: str = "delivered",
        currency: str = "EUR",
        created_at: datetime | None = None,
        channel: str = "web",
        **extra: Any,
    ) -> dict[str, Any]:
        n = len(self.tables["orders"]) + 1
        return self.add(
            "orders",
            vendor_id=vendor["id"],
            order_number=f"O{n}",
            channel=channel,
            status=status,
            currency=currency,
            total_amount_cents=total_cents,
            created_at=created_at or self.ago(days=40),
            **extra,
        )


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
