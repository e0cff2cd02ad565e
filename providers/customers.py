"""Customers: total, active and new customers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from sqlalchemy import func

from exporter.contracts import MetricsContext, MetricValue, Scope
from exporter.schema import SchemaTables
from providers._base import GroupedProvider, GroupRows, Spec, first
from providers._sql import Grouped, count_where, in_window


class CustomersMetricsProvider(GroupedProvider):
    """The `customers` module's metrics (a core module)."""

    category = "customers"
    CATALOG: ClassVar[Mapping[str, Spec]] = {
        "customers.total": Spec("Total Customers", "Customer accounts.", "users"),
        "customers.active": Spec("Active Customers", "Customer accounts that are active.", "user-check"),
        "customers.new": Spec("New Customers", "Customers created in the period.", "user-plus", windowed=True),
    }

    def groups(self, t: SchemaTables, context: MetricsContext) -> Mapping[str, Grouped]:
        """One query: count, active, created in the window."""
        customers = t.customers
        return {
            "customers": Grouped(
                source=customers,
                vendor_id=customers.c.vendor_id,
                columns={
                    "total": func.count(),
                    "active": count_where(customers.c.is_active.is_(True)),
                    "new": count_where(in_window(customers.c.created_at, context.date_from, context.date_to)),
                },
            )
        }

    def values(self, scope: Scope, rows: GroupRows, context: MetricsContext) -> list[MetricValue]:
        """The three counts, 0 for an owner without customers."""
        return [
            self.metric("customers.total", first(rows, "customers", "total"), context),
            self.metric("customers.active", first(rows, "customers", "active"), context),
            self.metric("customers.new", first(rows, "customers", "new"), context),
        ]
