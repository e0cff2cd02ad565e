"""Orders: counts by status, revenue and average order value per currency, new orders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func

from exporter.contracts import MetricsContext, MetricValue, Scope
from exporter.schema import ORDER_STATUSES, KnownValues, SchemaTables
from providers._base import GroupedProvider, GroupRows, Spec, average_money, money
from providers._sql import Grouped, as_int, count_where, in_window, total

PENDING_STATUSES = frozenset({"pending", "processing"})


class OrdersSettings(BaseModel):
    """`providers.orders.settings`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    revenue_statuses: tuple[str, ...] = Field(
        default=tuple(s for s in ORDER_STATUSES if s not in {"cancelled", "refunded"}),
        description="Order statuses whose totals count as revenue.",
    )
    default_currency: str = Field(
        default="EUR",
        pattern=r"^[A-Z]{3}$",
        description="Currency of the zero revenue exported for a vendor without revenue.",
    )


class OrdersMetricsProvider(GroupedProvider):
    """The `orders` module's metrics."""

    category = "orders"
    settings_model = OrdersSettings
    CATALOG: ClassVar[Mapping[str, Spec]] = {
        "orders.total": Spec("Total Orders", "Orders received, any status.", "shopping-cart"),
        "orders.pending": Spec("Pending Orders", "Orders pending or processing.", "clock"),
        "orders.cancelled": Spec("Cancelled Orders", "Cancelled orders.", "x-circle"),
        "orders.refunded": Spec("Refunded Orders", "Refunded orders.", "rotate-ccw"),
        "orders.total_revenue": Spec(
            "Total Revenue", "Sum of order totals in revenue statuses, per currency.", "currency-euro"
        ),
        "orders.average_value": Spec(
            "Average Order Value", "Revenue divided by the number of revenue orders, per currency.", "calculator"
        ),
        "orders.new": Spec("New Orders", "Orders created in the period.", "plus-circle", windowed=True),
    }

    def __init__(self) -> None:
        self.settings = OrdersSettings()

    def configure(self, settings: OrdersSettings) -> None:
        """Apply `providers.orders.settings`."""
        self.settings = settings

    def known_values(self, t: SchemaTables) -> list[KnownValues]:
        """What happens to an `orders.status` outside the catalog (reported by check-schema)."""
        revenue = frozenset(self.settings.revenue_statuses)

        def effect(status: str | None) -> str:
            if status in revenue:
                return (
                    "counted in orders.total, orders.new and as revenue "
                    "(it is listed in providers.orders.settings.revenue_statuses)"
                )
            return (
                "counted in orders.total and orders.new only: in no status count, not as revenue "
                "(if it is revenue, list it in providers.orders.settings.revenue_statuses)"
            )

        return [KnownValues(t.orders.c.status, frozenset(ORDER_STATUSES), effect)]

    def groups(self, t: SchemaTables, context: MetricsContext) -> Mapping[str, Grouped]:
        """One query: count, cents and new orders by status and currency."""
        orders = t.orders
        return {
            "orders": Grouped(
                source=orders,
                vendor_id=orders.c.vendor_id,
                by=(orders.c.status, orders.c.currency),
                columns={
                    "n": func.count(),
                    "cents": total(orders.c.total_amount_cents),
                    "new": count_where(in_window(orders.c.created_at, context.date_from, context.date_to)),
                },
            )
        }

    def values(self, scope: Scope, rows: GroupRows, context: MetricsContext) -> list[MetricValue]:
        """Counts by status; revenue and average per currency (0 in the default currency if none)."""
        counts: dict[str, int] = defaultdict(int)
        revenue_cents: dict[str, int] = defaultdict(int)
        revenue_orders: dict[str, int] = defaultdict(int)
        new = 0
        revenue_statuses = set(self.settings.revenue_statuses)
        for row in rows["orders"]:
            n = as_int(row.n)
            counts[row.status] += n
            new += as_int(row.new)
            if row.status in revenue_statuses:
                revenue_cents[row.currency] += as_int(row.cents)
                revenue_orders[row.currency] += n
        values = [
            self.metric("orders.total", sum(counts.values()), context),
            self.metric("orders.pending", sum(counts[s] for s in PENDING_STATUSES), context),
            self.metric("orders.cancelled", counts["cancelled"], context),
            self.metric("orders.refunded", counts["refunded"], context),
            self.metric("orders.new", new, context),
        ]
        currencies = sorted(c for c, n in revenue_orders.items() if n > 0)
        if not currencies:
            values.append(self.metric("orders.total_revenue", money(0), context, unit=self.settings.default_currency))
        for currency in currencies:
            values.append(self.metric("orders.total_revenue", money(revenue_cents[currency]), context, unit=currency))
            values.append(
                self.metric(
                    "orders.average_value",
                    average_money(revenue_cents[currency], revenue_orders[currency]),
                    context,
                    unit=currency,
                )
            )
        return values
