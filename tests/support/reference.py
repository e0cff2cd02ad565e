"""The metric catalog, the exposition names and the dirty-row rules re-implemented in plain Python.

This is the independent side of the provider-correctness tests: it reads `Rows.tables`
(plain dicts), never the database and never the exporter's code, and returns the samples
the exporter must expose and the values it must count as dropped. Family names are spelled
out by hand from the naming rules in the README, so a naming regression shows up here too. The rules for
dirty rows (NULL codes, odd currencies, NaN amounts, negative stock) follow docs/database.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from tests.support.exporting import LabelSet

CORE_MODULES = frozenset({"tenancy", "customers", "cms"})
REVENUE_STATUSES = frozenset({"pending", "processing", "shipped", "delivered"})
"""The catalog's statuses but cancelled and refunded; a status outside the catalog is never revenue."""

Row = Mapping[str, Any]
Tables = Mapping[str, list[dict[str, Any]]]
Expected = dict[tuple[str, LabelSet], "Number"]
Number = int | Decimal | Fraction

VENDOR, PLATFORM = "vendor", "platform"
BOTH = frozenset({VENDOR, PLATFORM})

FAMILIES: dict[str, tuple[str, frozenset[str]]] = {
    # key → (family name without `{namespace}_{scope}_`, scopes); money adds `_{currency}`.
    "tenancy.vendors": ("tenancy_vendors", frozenset({PLATFORM})),
    "tenancy.vendors_active": ("tenancy_vendors_active", frozenset({PLATFORM})),
    "tenancy.vendors_verified": ("tenancy_vendors_verified", frozenset({PLATFORM})),
    "tenancy.users": ("tenancy_users", frozenset({PLATFORM})),
    "tenancy.team_members": ("tenancy_team_members", BOTH),
    "tenancy.domains": ("tenancy_domains", BOTH),
    "tenancy.domains_verified": ("tenancy_domains_verified", BOTH),
    "customers.total": ("customers", BOTH),
    "customers.active": ("customers_active", BOTH),
    "customers.new": ("customers_new", BOTH),
    "cms.pages": ("cms_pages", BOTH),
    "cms.pages_published": ("cms_pages_published", BOTH),
    "cms.media_files": ("cms_media_files", BOTH),
    "cms.media_size": ("cms_media_size_bytes", BOTH),
    "catalog.products": ("catalog_products", BOTH),
    "catalog.products_active": ("catalog_products_active", BOTH),
    "catalog.products_featured": ("catalog_products_featured", BOTH),
    "inventory.units": ("inventory_units", BOTH),
    "inventory.units_reserved": ("inventory_units_reserved", BOTH),
    "inventory.units_available": ("inventory_units_available", BOTH),
    "inventory.out_of_stock": ("inventory_out_of_stock", BOTH),
    "inventory.low_stock": ("inventory_low_stock", BOTH),
    "orders.total": ("orders", BOTH),
    "orders.pending": ("orders_pending", BOTH),
    "orders.cancelled": ("orders_cancelled", BOTH),
    "orders.refunded": ("orders_refunded", BOTH),
    "orders.total_revenue": ("orders_total_revenue", BOTH),
    "orders.average_value": ("orders_average_value", BOTH),
    "orders.new": ("orders_new", BOTH),
    "marketplace.import_jobs": ("marketplace_import_jobs", BOTH),
    "marketplace.import_jobs_failed": ("marketplace_import_jobs_failed", BOTH),
    "marketplace.import_jobs_running": ("marketplace_import_jobs_running", BOTH),
    "marketplace.import_success_rate": ("marketplace_import_success_rate_ratio", BOTH),
    "marketplace.import_errors": ("marketplace_import_errors", BOTH),
    "marketplace.staging_products": ("marketplace_staging_products", BOTH),
}
"""Every catalog key, its exposition name and the scopes it is defined for."""

WINDOWED = frozenset({"customers.new", "orders.new"})
MONEY = frozenset({"orders.total_revenue", "orders.average_value"})
RATIOS = frozenset({"marketplace.import_success_rate"})


def category(key: str) -> str:
    """The module a key belongs to (`orders.total` → `orders`)."""
    return key.split(".", 1)[0]


def exact_decimal(q: Fraction) -> Decimal:
    """`q` as an exact decimal when its expansion terminates, else the shortest text of the nearest float64.

    Terminating means the reduced denominator is 2^a·5^b; then q = q·10^k / 10^k with k = max(a, b).
    """
    rest, twos, fives = q.denominator, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        return Decimal(repr(float(q)))
    k = max(twos, fives)
    return Decimal(f"{q.numerator * 10**k // q.denominator}E-{k}")


def amount_fraction(value: Any) -> Fraction | None:
    """An order total as an exact fraction of cents; None for NULL, NaN and ±Infinity."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, Decimal) and not value.is_finite():
        return None
    return Fraction(value)


def currency(value: Any) -> str | None:
    """A currency code the way the docs state it: trimmed, upper-cased, three ASCII letters; else None."""
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    if len(code) != 3 or not all("A" <= c <= "Z" for c in code):
        return None
    return code


def label(value: Any) -> str | None:
    """A code or name as label text the way the docs state it, or None when it cannot be one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value == "":
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


MISSING_CODE, DUPLICATE_CODE = "missing_code", "duplicate_code"
CURRENCY, AMOUNT, NEGATIVE_STOCK = "currency", "amount", "negative_stock"


@dataclass(frozen=True)
class Window:
    """[now − period, now], both ends inclusive."""

    start: datetime
    end: datetime

    @classmethod
    def ending(cls, now: datetime, period: timedelta = timedelta(days=30)) -> Window:
        return cls(now - period, now)

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment <= self.end


class Reference:
    """Expected values of every catalog key from plain rows."""

    def __init__(
        self,
        tables: Tables,
        window: Window,
        *,
        period: str = "30d",
        low_stock: int = 5,
        namespace: str = "commerce",
    ) -> None:
        self.t = tables
        self.window = window
        self.period = period
        self.low_stock = low_stock
        self.namespace = namespace

    # --- who is exported ------------------------------------------------------------------

    def platforms(self) -> list[Row]:
        """Exported platforms: platforms.is_active."""
        return [p for p in self.t["platforms"] if p["is_active"]]

    def members(self, platform_id: int) -> set[int]:
        """P's active members: vendors with an active vendor_platforms row for P."""
        return {
            link["vendor_id"]
            for link in self.t["vendor_platforms"]
            if link["platform_id"] == platform_id and link["is_active"]
        }

    def enabled(self, platform_id: int, module: str) -> bool:
        """A platform_modules row decides, except for core modules; no row → enabled."""
        for row in self.t["platform_modules"]:
            if row["platform_id"] == platform_id and row["module_code"] == module:
                return bool(row["is_enabled"]) or module in CORE_MODULES
        return True

    def vendor(self, vendor_id: int) -> Row:
        return next(v for v in self.t["vendors"] if v["id"] == vendor_id)

    def merchant(self, vendor: Row) -> str:
        """The owning company's code (when the rows have one), else its name, else its id; "" without one."""
        company = next((c for c in self.t["companies"] if c["id"] == vendor.get("company_id")), None)
        if company is None:
            return ""
        return label(company.get("code")) or label(company.get("name")) or str(company["id"])

    def labels(self, kind: str) -> dict[int, tuple[str | None, str, str | None]]:
        """Exported platforms or linked vendors: id → (label or None, display name, why no label).

        Vendors are those with an active link to an exported platform; among owners whose codes
        read the same, the lowest id keeps it; a name that is not a label shows the code.
        """
        if kind == PLATFORM:
            rows = {p["id"]: (p.get("code"), p.get("name")) for p in self.platforms()}
        else:
            exported = {p["id"] for p in self.platforms()}
            linked = {
                link["vendor_id"]
                for link in self.t["vendor_platforms"]
                if link["is_active"] and link["platform_id"] in exported
            }
            rows = {v["id"]: (v.get("vendor_code"), v.get("name")) for v in self.t["vendors"] if v["id"] in linked}
        out: dict[int, tuple[str | None, str, str | None]] = {}
        seen: set[str] = set()
        for owner_id in sorted(rows):
            code, name = rows[owner_id]
            text = label(code)
            if text is None:
                out[owner_id] = (None, "", MISSING_CODE)
            elif text in seen:
                out[owner_id] = (None, "", DUPLICATE_CODE)
            else:
                seen.add(text)
                out[owner_id] = (text, label(name) or text, None)
        return out

    def _of(self, table: str, vendors: set[int]) -> list[Row]:
        return [row for row in self.t[table] if row["vendor_id"] in vendors]

    def values(self, scope: str, owner: Row) -> dict[str, Any]:
        """key → value (money keys: currency → amount) of one vendor or one platform."""
        vendors = {owner["id"]} if scope == VENDOR else self.members(owner["id"])
        out: dict[str, Any] = {}
        if scope == PLATFORM:
            linked = [v for v in self.t["vendors"] if v["id"] in vendors]
            out["tenancy.vendors"] = len(linked)
            out["tenancy.vendors_active"] = sum(1 for v in linked if v["is_active"])
            out["tenancy.vendors_verified"] = sum(1 for v in linked if v["is_verified"])
        team = [m for m in self._of("vendor_users", vendors) if m["is_active"]]
        if scope == PLATFORM:
            out["tenancy.users"] = len({m["user_id"] for m in team})
        out["tenancy.team_members"] = len(team)
        domains = [d for d in self._of("vendor_domains", vendors) if d["is_active"]]
        out["tenancy.domains"] = len(domains)
        out["tenancy.domains_verified"] = sum(1 for d in domains if d["is_verified"])

        customers = self._of("customers", vendors)
        out["customers.total"] = len(customers)
        out["customers.active"] = sum(1 for c in customers if c["is_active"])
        out["customers.new"] = sum(1 for c in customers if c["created_at"] in self.window)

        if scope == VENDOR:
            pages = [p for p in self.t["content_pages"] if p.get("vendor_id") == owner["id"]]
        else:
            pages = [
                p
                for p in self.t["content_pages"]
                if p["platform_id"] == owner["id"] and (p.get("vendor_id") is None or p["vendor_id"] in vendors)
            ]
        out["cms.pages"] = len(pages)
        out["cms.pages_published"] = sum(1 for p in pages if p["is_published"])
        media = self._of("media_files", vendors)
        out["cms.media_files"] = len(media)
        out["cms.media_size"] = sum(m["file_size"] for m in media)

        products = self._of("products", vendors)
        out["catalog.products"] = len(products)
        out["catalog.products_active"] = sum(1 for p in products if p["is_active"])
        out["catalog.products_featured"] = sum(1 for p in products if p["is_active"] and p["is_featured"])

        stock = self._of("inventory", vendors)
        out["inventory.units"] = sum(on_hand(s) for s in stock)
        out["inventory.units_reserved"] = sum(reserved(s) for s in stock)
        out["inventory.units_available"] = sum(available(s) for s in stock)
        availability = {
            p["id"]: sum(available(s) for s in self.t["inventory"] if s["product_id"] == p["id"])
            for p in products
            if p["is_active"]
        }
        out["inventory.out_of_stock"] = sum(1 for a in availability.values() if a == 0)
        out["inventory.low_stock"] = sum(1 for a in availability.values() if 0 < a <= self.low_stock)

        orders = self._of("orders", vendors)
        out["orders.total"] = len(orders)
        out["orders.pending"] = sum(1 for o in orders if o["status"] in ("pending", "processing"))
        out["orders.cancelled"] = sum(1 for o in orders if o["status"] == "cancelled")
        out["orders.refunded"] = sum(1 for o in orders if o["status"] == "refunded")
        out["orders.new"] = sum(1 for o in orders if o["created_at"] in self.window)
        cents: dict[str, Fraction] = defaultdict(Fraction)
        counts: dict[str, int] = defaultdict(int)
        for order in orders:
            code, amount = currency(order.get("currency")), amount_fraction(order.get("total_amount_cents"))
            if order.get("status") in REVENUE_STATUSES and code is not None and amount is not None:
                cents[code] += amount
                counts[code] += 1
        out["orders.total_revenue"] = {c: exact_decimal(cents[c] / 100) for c in counts} or {"EUR": Decimal(0)}
        out["orders.average_value"] = {c: exact_decimal(cents[c] / counts[c] / 100) for c in counts}

        jobs = self._of("marketplace_import_jobs", vendors)
        completed = sum(1 for j in jobs if j["status"] in ("completed", "completed_with_errors"))
        failed = sum(1 for j in jobs if j["status"] == "failed")
        out["marketplace.import_jobs"] = len(jobs)
        out["marketplace.import_jobs_failed"] = failed
        out["marketplace.import_jobs_running"] = sum(1 for j in jobs if j["status"] in ("pending", "processing"))
        if completed + failed:
            out["marketplace.import_success_rate"] = Fraction(completed, completed + failed)
        out["marketplace.import_errors"] = sum(j["error_count"] for j in jobs)
        referenced = {p.get("marketplace_product_id") for p in self.t["products"]}
        out["marketplace.staging_products"] = sum(
            1 for m in self._of("marketplace_products", vendors) if m["id"] not in referenced
        )
        return out

    # --- samples --------------------------------------------------------------------------

    def _samples(
        self, scope: str, values: Mapping[str, Any], owner_labels: Mapping[str, str]
    ) -> Iterable[tuple[str, LabelSet, Number]]:
        for key, value in values.items():
            base, scopes = FAMILIES[key]
            assert scope in scopes, (key, scope)
            labels = {"category": category(key), "key": key, **owner_labels}
            if key in WINDOWED:
                labels["period"] = self.period
            name = f"{self.namespace}_{scope}_{base}"
            if key in MONEY:
                for currency, amount in value.items():
                    yield f"{name}_{currency.lower()}", frozenset(labels.items()), amount
            else:
                yield name, frozenset(labels.items()), value

    def expected(self) -> Expected:
        """Every business and info sample the exporter must expose, and nothing else."""
        out: Expected = {}
        platforms, vendors = self.labels(PLATFORM), self.labels(VENDOR)
        for platform in self.platforms():
            code, platform_name, _ = platforms[platform["id"]]
            if code is None:
                continue
            out[(f"{self.namespace}_platform_info", frozenset({"platform": code, "name": platform_name}.items()))] = 1
            members = [v for v in sorted(self.members(platform["id"])) if vendors[v][0] is not None]
            for vendor_id in members:
                vendor_code, vendor_name, _ = vendors[vendor_id]
                vendor = self.vendor(vendor_id)
                labels = {
                    "platform": code,
                    "vendor": vendor_code,
                    "name": vendor_name,
                    "merchant": self.merchant(vendor),
                    "active": "true" if vendor.get("is_active") else "false",
                    "verified": "true" if vendor.get("is_verified") else "false",
                }
                out[(f"{self.namespace}_vendor_info", frozenset(labels.items()))] = 1
            platform_values = self.values(PLATFORM, platform)
            for name, labels, value in self._samples(PLATFORM, platform_values, {"platform": code}):
                if self.enabled(platform["id"], dict(labels)["category"]):
                    out[(name, labels)] = value
            for vendor_id in members:
                owner = {"platform": code, "vendor": str(vendors[vendor_id][0])}
                for name, labels, value in self._samples(VENDOR, self.values(VENDOR, self.vendor(vendor_id)), owner):
                    if self.enabled(platform["id"], dict(labels)["category"]):
                        out[(name, labels)] = value
        return out

    def dropped(self) -> dict[tuple[str, str], int]:
        """(provider, reason) → values the exporter must count as dropped in one collection.

        A vendor's values are computed once per provider run; those of a vendor (platform)
        without a label count once each, as do those of a labelled vendor whose platforms under
        the provider all lack one. Rows left out of a value count once per vendor and platform
        whose value left them out, labelled or not.
        """
        counts: dict[tuple[str, str], int] = defaultdict(int)
        platforms, vendors = self.labels(PLATFORM), self.labels(VENDOR)
        for module in sorted({category(key) for key in FAMILIES}):
            plan = [p for p in sorted(self.platforms(), key=lambda p: p["id"]) if self.enabled(p["id"], module)]
            for platform in plan:
                for reason, n in self.left_out(module, self.members(platform["id"])).items():
                    counts[(module, reason)] += n
                problem = platforms[platform["id"]][2]
                if problem is not None:
                    counts[(module, problem)] += self._count(self.values(PLATFORM, platform), module)
            computed = sorted({v for p in plan for v in self.members(p["id"])})
            for vendor_id in computed:
                for reason, n in self.left_out(module, {vendor_id}).items():
                    counts[(module, reason)] += n
                problem = vendors[vendor_id][2]
                if problem is None:
                    hosts = [p for p in plan if vendor_id in self.members(p["id"])]
                    if all(platforms[p["id"]][0] is None for p in hosts):
                        problem = platforms[hosts[0]["id"]][2]
                if problem is not None:
                    counts[(module, problem)] += self._count(self.values(VENDOR, self.vendor(vendor_id)), module)
        return {key: n for key, n in counts.items() if n}

    def left_out(self, module: str, vendors: set[int]) -> dict[str, int]:
        """Rows of `vendors` that the value of a vendor or platform leaves out, by reason."""
        out: dict[str, int] = defaultdict(int)
        if module == "orders":
            for order in self._of("orders", vendors):
                if order.get("status") not in REVENUE_STATUSES:
                    continue
                if currency(order.get("currency")) is None:
                    out[CURRENCY] += 1
                elif amount_fraction(order.get("total_amount_cents")) is None:
                    out[AMOUNT] += 1
        if module == "inventory":
            for row in self._of("inventory", vendors):
                if (row.get("quantity") or 0) < 0 or (row.get("reserved_quantity") or 0) < 0:
                    out[NEGATIVE_STOCK] += 1
        return out

    @staticmethod
    def _count(values: Mapping[str, Any], module: str) -> int:
        """Number of values of one module (a money key has one per currency)."""
        return sum(len(v) if key in MONEY else 1 for key, v in values.items() if category(key) == module)


def on_hand(row: Row) -> int:
    """Units of an inventory row; NULL and negative quantities are 0."""
    return max(0, row.get("quantity") or 0)


def reserved(row: Row) -> int:
    """Reserved units of an inventory row; NULL and negative reservations are 0."""
    return max(0, row.get("reserved_quantity") or 0)


def available(row: Row) -> int:
    """Units on hand minus reservations, never below 0."""
    return max(0, on_hand(row) - reserved(row))


def business_samples(
    samples: Mapping[tuple[str, LabelSet], float], namespace: str = "commerce"
) -> dict[tuple[str, LabelSet], float]:
    """The exposition without the exporter's own metrics (`*_exporter_*`, `process_*`, `python_*`)."""
    return {
        (name, labels): value
        for (name, labels), value in samples.items()
        if name.startswith(f"{namespace}_") and not name.startswith(f"{namespace}_exporter_")
    }


def mismatches(expected: Expected, actual: Mapping[tuple[str, LabelSet], float]) -> list[str]:
    """Human-readable differences; ratios are compared to 1e-12, everything else exactly."""
    problems = []
    for series in sorted(expected.keys() - actual.keys(), key=repr):
        problems.append(f"missing {series[0]}{dict(series[1])} (expected {expected[series]})")
    for series in sorted(actual.keys() - expected.keys(), key=repr):
        problems.append(f"unexpected {series[0]}{dict(series[1])} = {actual[series]}")
    for series in sorted(expected.keys() & actual.keys(), key=repr):
        want, got = expected[series], actual[series]
        same = abs(got - float(want)) <= 1e-12 * abs(float(want)) if isinstance(want, Fraction) else got == float(want)
        if not same:
            problems.append(f"{series[0]}{dict(series[1])}: expected {want}, got {got}")
    return problems
