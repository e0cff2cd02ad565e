"""Catalog: products, active and featured products."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from sqlalchemy import and_, func

from exporter.contracts import MetricsContext, MetricValue, Scope
from exporter.schema import SchemaTables
from providers._base import GroupedProvider, GroupRows, Spec, first
from providers._sql import Grouped, count_where


class CatalogMetricsProvider(GroupedProvider):
    """The `catalog` module's metrics."""

    category = "catalog"
    CATALOG: ClassVar[Mapping[str, Spec]] = {
        "catalog.products": Spec("Products", "Products in the catalog.", "cube"),
        "catalog.products_active": Spec("Active Products", "Products that are active.", "check-circle"),
        "catalog.products_featured": Spec("Featured Products", "Active products that are featured.", "star"),
    }

    def groups(self, t: SchemaTables, context: MetricsContext) -> Mapping[str, Grouped]:
        """One query: all, active, active and featured."""
        products = t.products
        active = products.c.is_active.is_(True)
        return {
            "products": Grouped(
                source=products,
                vendor_id=products.c.vendor_id,
                columns={
                    "total": func.count(),
                    "active": count_where(active),
                    "featured": count_where(and_(active, products.c.is_featured.is_(True))),
                },
            )
        }

    def values(self, scope: Scope, rows: GroupRows, context: MetricsContext) -> list[MetricValue]:
        """The three product counts."""
        return [
            self.metric("catalog.products", first(rows, "products", "total"), context),
            self.metric("catalog.products_active", first(rows, "products", "active"), context),
            self.metric("catalog.products_featured", first(rows, "products", "featured"), context),
        ]
