"""Tenancy: vendors, users, team members and domains."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from sqlalchemy import distinct, func

from exporter.contracts import MetricsContext, MetricValue, Scope
from exporter.schema import SchemaTables
from providers._base import GroupedProvider, GroupRows, Spec, first
from providers._sql import Grouped, count_where

PLATFORM_ONLY = frozenset({Scope.PLATFORM})


class TenancyMetricsProvider(GroupedProvider):
    """The `tenancy` module's metrics (a core module)."""

    category = "tenancy"
    CATALOG: ClassVar[Mapping[str, Spec]] = {
        "tenancy.vendors": Spec("Vendors", "Vendors actively linked to the platform.", "store"),
        "tenancy.vendors_active": Spec("Active Vendors", "Linked vendors that are active.", "store"),
        "tenancy.vendors_verified": Spec("Verified Vendors", "Linked vendors that are verified.", "badge-check"),
        "tenancy.users": Spec("Users", "Distinct users in active vendor teams.", "users"),
        "tenancy.team_members": Spec("Team Members", "Active vendor team memberships.", "user-group"),
        "tenancy.domains": Spec("Domains", "Active vendor domains.", "globe"),
        "tenancy.domains_verified": Spec(
            "Verified Domains", "Active vendor domains that are verified.", "shield-check"
        ),
    }

    def groups(self, t: SchemaTables, context: MetricsContext) -> Mapping[str, Grouped]:
        """Vendor flags (platform only), team memberships, domains."""
        vendors, members, domains = t.vendors, t.vendor_users, t.vendor_domains
        return {
            "vendors": Grouped(
                source=vendors,
                vendor_id=vendors.c.id,
                scopes=PLATFORM_ONLY,
                columns={
                    "vendors": func.count(),
                    "active": count_where(vendors.c.is_active.is_(True)),
                    "verified": count_where(vendors.c.is_verified.is_(True)),
                },
            ),
            "members": Grouped(
                source=members,
                vendor_id=members.c.vendor_id,
                where=(members.c.is_active.is_(True),),
                columns={"members": func.count(), "users": func.count(distinct(members.c.user_id))},
                additive=False,  # a user in two vendor teams of one platform counts once there
            ),
            "domains": Grouped(
                source=domains,
                vendor_id=domains.c.vendor_id,
                where=(domains.c.is_active.is_(True),),
                columns={"domains": func.count(), "verified": count_where(domains.c.is_verified.is_(True))},
            ),
        }

    def values(self, scope: Scope, rows: GroupRows, context: MetricsContext) -> list[MetricValue]:
        """Team and domain counts; vendor and user counts on platforms only."""
        values = []
        if scope is Scope.PLATFORM:
            values += [
                self.metric("tenancy.vendors", first(rows, "vendors", "vendors"), context),
                self.metric("tenancy.vendors_active", first(rows, "vendors", "active"), context),
                self.metric("tenancy.vendors_verified", first(rows, "vendors", "verified"), context),
                self.metric("tenancy.users", first(rows, "members", "users"), context),
            ]
        values += [
            self.metric("tenancy.team_members", first(rows, "members", "members"), context),
            self.metric("tenancy.domains", first(rows, "domains", "domains"), context),
            self.metric("tenancy.domains_verified", first(rows, "domains", "verified"), context),
        ]
        return values
