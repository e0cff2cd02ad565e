"""Orders: counts by status, revenue and average order value per currency, new orders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, func
from sqlalchemy.orm import Session

from exporter.contracts import Dropped, DropReason, MetricsContext, MetricValue, Scope
from exporter.schema import ORDER_STATUSES, KnownValues, SchemaTables, tables
from providers._base import (
    Cents,
    Fetched,
    GroupedProvider,
    GroupRows,
    Output,
    Spec,
    add_cents,
    average_money,
    currency_code,
    money,
)
from providers._sql import Grouped, as_exact, as_int, count_where, finite, in_window, is_finite, total

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
        self.configure(OrdersSettings())

    def configure(self, settings: OrdersSettings) -> None:
        """Apply `providers.orders.settings`."""
        self.settings = settings
        self._revenue_statuses = frozenset(settings.revenue_statuses)

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
        """One query: count, amounts and new orders by status and currency."""
        return {"orders": self._orders(t, context, finite_only=False)}

    def _orders(self, t: SchemaTables, context: MetricsContext, *, finite_only: bool) -> Grouped:
        """The orders group; `finite_only` leaves NaN and ±Infinity totals out of sum and count.

        SUM and COUNT skip NULL totals by themselves. NaN and ±Infinity (PostgreSQL NUMERIC and
        float columns, SQLite REAL) make the whole group's SUM NaN or infinite instead; testing
        every row for them makes the largest statement of a run markedly slower (measured: see
        docs/architecture.md, Figures behind choices in the code), so the plain
        statement runs and `repair` refetches with the test only the owners whose sum it spoiled.
        """
        orders = t.orders
        amount = orders.c.total_amount_cents
        if finite_only:
            usable = finite(amount)
            priced, cents = count_where(usable), total(case((usable, amount)))
        else:
            priced, cents = func.count(amount), total(amount)
        return Grouped(
            source=orders,
            vendor_id=orders.c.vendor_id,
            by=(orders.c.status, orders.c.currency),
            columns={
                "n": func.count(),
                "priced": priced,
                "cents": cents,
                "new": count_where(in_window(orders.c.created_at, context.date_from, context.date_to)),
            },
        )

    def repair(self, db: Session, scope: Scope, fetched: Fetched, context: MetricsContext) -> None:
        """Owners with a NaN or infinite total: their groups again, without those totals (one statement)."""
        found = fetched.get("orders")
        if not found:
            return
        spoiled = [owner for owner, rows in found.items() if not all(is_finite(row.cents) for row in rows)]
        if spoiled:
            again = self._orders(tables(db), context, finite_only=True).fetch(db, scope, spoiled)
            for owner in spoiled:
                found[owner] = again.get(owner, [])

    def values(self, scope: Scope, rows: GroupRows, context: MetricsContext) -> Output:
        """Counts by status; revenue and average per currency (0 in the default currency if none).

        Every order counts in `orders.total` (and pending, cancelled, refunded, new by its status),
        whatever its currency or amount; a status outside the catalog counts there only. Revenue
        orders whose currency is not a code, or whose total is not a number, are left out of
        revenue and average and counted as dropped; currency codes are trimmed and upper-cased.
        """
        counts: dict[str, int] = defaultdict(int)
        revenue_cents: dict[str, Cents] = defaultdict(int)
        revenue_orders: dict[str, int] = defaultdict(int)
        new = no_currency = no_amount = 0
        revenue_statuses = self._revenue_statuses
        for row in rows["orders"]:
            n = as_int(row.n)
            counts[row.status] += n
            new += as_int(row.new)
            if row.status not in revenue_statuses:
                continue
            currency = currency_code(row.currency)
            if currency is None:
                no_currency += n
                continue
            priced = as_int(row.priced)
            cents = as_exact(row.cents)
            if isinstance(cents, Decimal) and not cents.is_finite():  # finite floats whose sum overflowed
                priced, cents = 0, 0
            no_amount += n - priced
            if priced:
                revenue_cents[currency] = add_cents(revenue_cents[currency], cents)
                revenue_orders[currency] += priced
        values: list[MetricValue | Dropped] = [
            self.metric("orders.total", sum(counts.values()), context),
            self.metric("orders.pending", sum(counts[s] for s in PENDING_STATUSES), context),
            self.metric("orders.cancelled", counts["cancelled"], context),
            self.metric("orders.refunded", counts["refunded"], context),
            self.metric("orders.new", new, context),
        ]
        currencies = sorted(revenue_orders)
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
        if no_currency:
            values.append(Dropped("orders.total_revenue", DropReason.CURRENCY, no_currency))
        if no_amount:
            values.append(Dropped("orders.total_revenue", DropReason.AMOUNT, no_amount))
        return values
