"""Repeat-customer metrics: a third-party provider that implements only the seed protocol."""

from __future__ import annotations

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from exporter.contracts import MetricsContext, MetricValue
from providers.schema import Order, VendorPlatform


class LoyaltyMetricsProvider:
    """Customers with two or more orders, per vendor and per platform.

    Only the seed protocol is implemented, so the exporter calls it once per vendor. A
    provider meant for large platforms should also implement `get_vendor_metrics_bulk`
    (one grouped query for every vendor), as the built-in providers do.
    """

    @property
    def metrics_category(self) -> str:
        return "loyalty"

    def _values(self, db: Session, orders_of: ColumnElement[bool]) -> list[MetricValue]:
        per_customer = (
            select(Order.customer_id, func.count().label("orders"))
            .where(orders_of, Order.customer_id.is_not(None))
            .group_by(Order.vendor_id, Order.customer_id)
            .subquery()
        )
        buyers, repeat = db.execute(
            select(func.count(), func.coalesce(func.sum(case((per_customer.c.orders >= 2, 1), else_=0)), 0))
        ).one()
        values = [
            MetricValue(
                key="loyalty.repeat_customers",
                value=int(repeat),
                label="Repeat Customers",
                category="loyalty",
                description="Customers with two or more orders.",
            ),
        ]
        if buyers:
            values.append(
                MetricValue(
                    key="loyalty.repeat_rate",
                    value=100 * int(repeat) / int(buyers),
                    label="Repeat Rate",
                    category="loyalty",
                    unit="%",
                    description="Share of buying customers who came back.",
                )
            )
        return values

    def get_vendor_metrics(
        self, db: Session, vendor_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        return self._values(db, Order.vendor_id == vendor_id)

    def get_platform_metrics(
        self, db: Session, platform_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        linked = select(VendorPlatform.vendor_id).where(
            VendorPlatform.platform_id == platform_id, VendorPlatform.is_active.is_(True)
        )
        return self._values(db, Order.vendor_id.in_(linked))
