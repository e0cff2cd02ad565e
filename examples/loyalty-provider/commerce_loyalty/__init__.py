"""Repeat-customer metrics: a third-party provider that implements the provider protocol only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ColumnElement, case, func, select
from sqlalchemy.orm import Session

from exporter.contracts import MetricsContext, MetricValue
from exporter.schema import SchemaTables, tables


class LoyaltyMetricsProvider:
    """Customers with two or more orders, per vendor and per platform.

    Only the required protocol is implemented, so the exporter calls it once per vendor and
    once per platform. A provider meant for large platforms should also implement
    `get_metrics_bulk(db, vendor_ids, platform_ids, context)`: every vendor and platform of a
    run from one call (grouped queries), as the built-in providers do.

    The tables come from `exporter.schema.tables(db)`: the platform's own names (the config's
    `schema:` section), addressed by reference names, so this code runs unchanged on a
    database in the store naming or with renamed columns.
    """

    @property
    def metrics_category(self) -> str:
        return "loyalty"

    def schema_requirements(self, t: SchemaTables) -> list[Column[Any]]:
        """What this provider reads, so `check-schema` checks it and a run without them fails with reason schema."""
        return [
            t.orders.c.vendor_id,
            t.orders.c.customer_id,
            t.vendor_platforms.c.vendor_id,
            t.vendor_platforms.c.platform_id,
            t.vendor_platforms.c.is_active,
        ]

    def _values(self, db: Session, orders_of: ColumnElement[bool]) -> list[MetricValue]:
        orders = tables(db).orders
        per_customer = (
            select(orders.c.customer_id, func.count().label("orders"))
            .where(orders_of, orders.c.customer_id.is_not(None))
            .group_by(orders.c.vendor_id, orders.c.customer_id)
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
        return self._values(db, tables(db).orders.c.vendor_id == vendor_id)

    def get_platform_metrics(
        self, db: Session, platform_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        t = tables(db)
        links = t.vendor_platforms
        linked = select(links.c.vendor_id).where(links.c.platform_id == platform_id, links.c.is_active.is_(True))
        return self._values(db, t.orders.c.vendor_id.in_(linked))
