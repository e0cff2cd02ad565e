"""The three database layouts the correctness suite runs on: reference names, store naming, prefixed and renamed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exporter.schema import SPECS, Layout, SchemaTables, build_tables

LAYOUTS = ("reference", "store", "prefixed")

RENAMED_COLUMNS = {
    "orders.created_at": "placed_at",
    "orders.total_amount_cents": "grand_total_cents",
    "orders.status": "order_status",  # a GROUP BY key: rows must still read `status`
    "vendors.vendor_code": "code",  # read by the directory
    "platforms.code": "slug",
    "vendor_platforms.is_active": "active",
    "marketplace_import_jobs.status": "state",
    "customers.created_at": "signed_up_at",
    "inventory.reserved_quantity": "reserved",
    "media_files.file_size": "bytes",
}
"""Columns the prefixed layout renames: the issue's two, and one read by every other kind of statement."""

SHOP_SCHEMA = "shop"
"""Where the prefixed layout keeps its tables on PostgreSQL (a MySQL database gets a `_shop` suffix instead)."""


def schema_section(layout: str, backend: str, database: str | None = None) -> dict[str, Any]:
    """The config's `schema:` section of `layout` on `backend` (`database`: the MySQL database the URL names)."""
    if layout == "reference":
        return {}
    if layout == "store":
        return {"naming": "store"}
    where = {"postgresql": SHOP_SCHEMA, "mariadb": f"{database}_shop"}.get(backend)
    return {
        "database_schema": where,
        "tables": {name: f"shop_{name}" for name in SPECS},
        "columns": dict(RENAMED_COLUMNS),
    }


@dataclass(frozen=True)
class LayoutDatabase:
    """A database holding the reference tables in one layout, and the config section that says so."""

    layout: str
    url: str
    section: dict[str, Any]

    @property
    def tables(self) -> SchemaTables:
        """The mapped tables (what the exporter builds from `section`)."""
        return build_tables(
            Layout.of(
                self.section.get("naming", "reference"),
                self.section.get("database_schema"),
                self.section.get("tables"),
                self.section.get("columns"),
            )
        )
