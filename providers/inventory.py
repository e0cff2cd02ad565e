"""Inventory: stock units, reservations, availability, out-of-stock and low-stock products."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, case, or_, select

from exporter.contracts import Dropped, DropReason, MetricsContext, MetricValue, Scope
from exporter.schema import SchemaTables
from providers._base import GroupedProvider, GroupRows, Output, Spec, first
from providers._sql import Grouped, count_where, positive_part, total, within


class InventorySettings(BaseModel):
    """`providers.inventory.settings`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low_stock_threshold: int = Field(
        default=5, ge=0, description="An active product with 0 < available units ≤ this is low on stock."
    )


class InventoryMetricsProvider(GroupedProvider):
    """The `inventory` module's metrics."""

    category = "inventory"
    settings_model = InventorySettings
    CATALOG: ClassVar[Mapping[str, Spec]] = {
        "inventory.units": Spec("Units in Stock", "Units on hand over all warehouses and bins.", "archive"),
        "inventory.units_reserved": Spec("Reserved Units", "Units reserved for orders.", "lock-closed"),
        "inventory.units_available": Spec(
            "Available Units", "Units on hand minus reservations, never below 0 per bin.", "check"
        ),
        "inventory.out_of_stock": Spec("Out of Stock", "Active products with no available unit.", "exclamation"),
        "inventory.low_stock": Spec(
            "Low Stock", "Active products with available units above 0 and at most the threshold.", "trending-down"
        ),
    }

    def __init__(self) -> None:
        self.settings = InventorySettings()

    def configure(self, settings: InventorySettings) -> None:
        """Apply `providers.inventory.settings`."""
        self.settings = settings

    def groups(self, t: SchemaTables, context: MetricsContext) -> Mapping[str, Grouped]:
        """Unit sums over inventory rows; stock states over active products' availability."""
        inventory, products = t.inventory, t.products
        # A negative quantity (oversold, back-ordered) or reservation counts as 0: no bin holds
        # fewer than no units, and one bin's debt must not hide another bin's units.
        on_hand, reserved = positive_part(inventory.c.quantity), positive_part(inventory.c.reserved_quantity)
        free = case((on_hand > reserved, on_hand - reserved), else_=0)
        # Availability per active product; a product without inventory rows has 0.
        availability = (
            select(
                products.c.id.label("product_id"),
                products.c.vendor_id.label("vendor_id"),
                total(free).label("available"),
            )
            .select_from(products.outerjoin(inventory, inventory.c.product_id == products.c.id))
            # A shard reads only its vendors' products (the range is bounded only when the
            # statements serve the vendor scope alone, see `GroupedProvider.groups`).
            .where(products.c.is_active.is_(True), *within(products.c.vendor_id, context.vendor_range))
            .group_by(products.c.id, products.c.vendor_id)
            .subquery("availability")
        )
        available = availability.c.available
        return {
            "units": Grouped(
                source=inventory,
                vendor_id=inventory.c.vendor_id,
                columns={
                    "units": total(on_hand),
                    "reserved": total(reserved),
                    "available": total(free),
                    "negative": count_where(or_(inventory.c.quantity < 0, inventory.c.reserved_quantity < 0)),
                },
            ),
            "stock": Grouped(
                source=availability,
                vendor_id=availability.c.vendor_id,
                columns={
                    "out": count_where(available == 0),
                    "low": count_where(and_(available > 0, available <= self.settings.low_stock_threshold)),
                },
            ),
        }

    def values(self, scope: Scope, rows: GroupRows, context: MetricsContext) -> Output:
        """Unit sums and stock-state counts; rows with negative numbers are counted as dropped."""
        values: list[MetricValue | Dropped] = [
            self.metric("inventory.units", first(rows, "units", "units"), context),
            self.metric("inventory.units_reserved", first(rows, "units", "reserved"), context),
            self.metric("inventory.units_available", first(rows, "units", "available"), context),
            self.metric("inventory.out_of_stock", first(rows, "stock", "out"), context),
            self.metric("inventory.low_stock", first(rows, "stock", "low"), context),
        ]
        negative = first(rows, "units", "negative")
        if negative:
            values.append(Dropped("inventory.units", DropReason.NEGATIVE_STOCK, negative))
        return values
