"""The base of the built-in providers: catalog entries + grouped queries → both scopes, in bulk."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, Inexact
from fractions import Fraction
from functools import lru_cache
from typing import Any, ClassVar

from sqlalchemy import Column
from sqlalchemy.orm import Session

from exporter.contracts import EVERY_VENDOR, Dropped, MetricScalar, MetricsContext, MetricValue, Scope
from exporter.durations import parse_duration
from exporter.schema import SchemaTables, columns_of, tables
from providers._sql import Grouped, as_int

CENT = Decimal("0.01")
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
"""Additions and exponent shifts in this context are exact (the default context keeps 28 digits)."""


@dataclass(frozen=True, slots=True)
class Spec:
    """A catalog entry: how one key is labelled, described and measured."""

    label: str
    description: str
    icon: str | None = None
    unit: str | None = None
    windowed: bool = False


Cents = int | Decimal
"""An amount in cents, exactly: an int, or a Decimal where the database holds fractions of a cent."""


def add_cents(a: Cents, b: Cents) -> Cents:
    """`a + b` exactly (a Decimal sum in the default context would keep only 28 digits)."""
    if type(a) is int and type(b) is int:
        return a + b
    return _EXACT.add(Decimal(a), Decimal(b))


def money(cents: Cents) -> Decimal:
    """Cents as an exact decimal amount with at least two decimals (never a float: no drift).

    Whole cents read `12.30`; fractions of a cent keep their digits (`12.305`), without
    trailing zeros beyond the cent, so every backend writes the same amount the same way.
    """
    if type(cents) is int:
        return Decimal(cents).scaleb(-2, _EXACT)
    return _two_decimals(Decimal(cents).scaleb(-2, _EXACT))


def average_money(cents: Cents, count: int) -> Decimal:
    """Mean amount per item, exact (not rounded to the cent), so average × count = total.

    The quotient is written exactly whenever it has a finite decimal expansion (the count's
    prime factors are 2 and 5 once reduced: 10.005 or 0.0009765625). When it has none (10/3),
    no decimal is exact: the value is the shortest decimal that reads back as the float64 nearest
    the exact quotient, which is what Prometheus stores (at most 17 significant digits).
    """
    numerator = Decimal(cents)
    digits = len(numerator.as_tuple().digits)
    # A terminating quotient n / (100 × count) = n / (2^a 5^b) has at most digits(n) + max(a, b) + 1
    # significant digits, and max(a, b) ≤ log2(count) + 2 < 3.33 × digits(count) + 2: with this
    # precision, Inexact means "does not terminate", never "too long".
    exact = Context(prec=digits + 4 * len(str(count)) + 4, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[Inexact])
    try:
        quotient = exact.divide(numerator, Decimal(count) * 100)
    except Inexact:
        try:
            quotient = Decimal(repr(float(Fraction(numerator) / (count * 100))))
        except OverflowError:  # beyond float64: the renderer drops it as non-finite, like any such number
            quotient = Context(prec=40).divide(numerator, Decimal(count) * 100)
    return _two_decimals(quotient)


def _two_decimals(amount: Decimal) -> Decimal:
    """`amount` without trailing zeros past the cent, and with at least two decimals (`10.00`)."""
    if not amount.is_finite() or abs(amount.adjusted()) > 40:
        return amount  # far outside money: the renderer writes it through float64 anyway
    reduced = amount.normalize(_EXACT)
    whole_cents = reduced.quantize(CENT, context=_EXACT)
    return whole_cents if whole_cents == reduced else reduced


def currency_code(raw: object) -> str | None:
    """An ISO 4217-shaped currency code from a database value (`eur`, ` EUR ` → `EUR`), or None.

    None for NULL, non-text values, and text that is not three ASCII letters once trimmed
    (blank, `EURO`, `€`): such amounts cannot be named in a metric, so they are not exported.
    """
    return _currency_code(raw) if isinstance(raw, str) else None


@lru_cache(maxsize=1024)
def _currency_code(raw: str) -> str | None:
    code = raw.strip().upper()
    return code if len(code) == 3 and code.isascii() and code.isalpha() else None


def default_context(now: datetime | None = None, period: str = "30d") -> MetricsContext:
    """The window the exporter would use: [now − period, now] in naive UTC."""
    end = now or datetime.now(UTC).replace(tzinfo=None)
    return MetricsContext(date_from=end - parse_duration(period), date_to=end, period=period)


_FIELDS = tuple(f.name for f in fields(MetricValue))
if _FIELDS[:2] != ("key", "value"):  # `metric` passes these two by position, the others from a template
    raise TypeError(f"MetricValue must declare key and value first, not {_FIELDS[:2]}")

Template = tuple[Any, ...]
"""The fields of a `MetricValue` after `key` and `value`, in the order the dataclass declares them."""

_from_template: Callable[..., MetricValue] = MetricValue
"""`MetricValue` called with key, value and a template (whose types were checked when `_template` made it)."""

Output = Sequence[MetricValue | Dropped]
"""The values of one owner, with counts of what the data made the provider leave out."""

Fetched = dict[str, dict[int, list[Any]]]
"""Rows of every group, by group name and owner id, as one run fetched them."""

GroupRows = Mapping[str, list[Any]]
"""Rows of every group for one owner (vendor or platform), by group name."""


def first(rows: GroupRows, group: str, column: str) -> int:
    """An aggregate of a group without extra keys: one row, or none when the owner has no rows."""
    found = rows[group]
    return as_int(getattr(found[0], column)) if found else 0


class GroupedProvider:
    """Implements the provider protocol and every bulk extension from `groups()` and `values()`.

    A subclass declares its catalog (`CATALOG`), its grouped queries (`groups`) and how a
    vendor's or a platform's rows become values (`values`). Every run issues one statement
    per group and scope, however many vendors or platforms are asked for.
    """

    category: ClassVar[str]
    CATALOG: ClassVar[Mapping[str, Spec]]
    _templates: ClassVar[dict[str, dict[str | tuple[str, str], Template]]] = {}
    """`_template` by period, then by key (or (key, unit) when a unit is given); one per class, as the catalog.

    Bounded: periods come from the config, units are the catalog's or currency codes (three letters).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._templates = {}

    @property
    def metrics_category(self) -> str:
        """Category and module code, e.g. `orders`."""
        return self.category

    @property
    def metric_keys(self) -> list[str]:
        """Every key this provider can export (for `commerce-exporter providers`)."""
        return list(self.CATALOG)

    def groups(self, t: SchemaTables, context: MetricsContext) -> Mapping[str, Grouped]:
        """The grouped queries over the run's tables `t`, by name.

        `Grouped` restricts its vendor-scope statements to the shard's `context.vendor_range` by
        itself (on its `vendor_id` column). A source that is itself a grouped subquery may apply
        `within(column, context.vendor_range)` inside it too: the range passed here is bounded
        only when the statements serve the vendor scope alone, never when platform values
        (which count every vendor) are computed from the same source.
        """
        raise NotImplementedError

    def values(self, scope: Scope, rows: GroupRows, context: MetricsContext) -> Output:
        """The values of one vendor or one platform from its rows in each group (and what was left out)."""
        raise NotImplementedError

    def metric(self, key: str, value: MetricScalar, context: MetricsContext, *, unit: str | None = None) -> MetricValue:
        """A `MetricValue` for `key`, labelled from the catalog."""
        try:
            tail = self._templates[context.period][key if unit is None else (key, unit)]
        except KeyError:
            tail = self._template(key, unit, context.period)
        return _from_template(key, value, *tail)

    def _template(self, key: str, unit: str | None, period: str) -> Template:
        """The fields of `key`'s values after `key` and `value`, in declaration order (cached).

        `metric` runs for every value of every vendor, where binding the fields by keyword would
        cost about as much again as building the value. So they are set by keyword here, once per
        key, unit and period, and `metric` passes them on in the order the dataclass declares them:
        a swapped field cannot slip through, and no keyword is bound per value.
        """
        spec = self.CATALOG[key]
        template = MetricValue(
            key=key,
            value=None,
            label=spec.label,
            category=self.category,
            icon=spec.icon,
            description=spec.description,
            unit=unit or spec.unit,
            period=period if spec.windowed else None,
        )
        made = tuple(getattr(template, name) for name in _FIELDS[2:])
        self._templates.setdefault(period, {})[key if unit is None else (key, unit)] = made
        return made

    def schema_requirements(self, t: SchemaTables) -> list[Column[Any]]:
        """Every column the provider's statements read, found by walking them (every scope and path)."""
        statements: list[Any] = []
        for group in self.groups(t, default_context()).values():
            statements += [group.statement(scope, [0], t) for scope in sorted(group.scopes)]
            if group.combinable:
                statements.append(group.both([0], [0], t))
        return columns_of(statements, t)

    def repair(self, db: Session, scope: Scope, fetched: Fetched, context: MetricsContext) -> None:
        """Refetch, in place, the rows of owners that the grouped statements could not compute.

        None by default. A provider overrides it where a rare dirty row would otherwise need a
        costlier statement for every row of every run (orders: a NaN total poisons a SUM).
        """

    def _by_owner(
        self,
        scope: Scope,
        fetched: Fetched,
        owners: Collection[int],
        context: MetricsContext,
    ) -> dict[int, Output]:
        return {
            owner: self.values(scope, {name: rows.get(owner, []) for name, rows in fetched.items()}, context)
            for owner in owners
        }

    def _bulk(self, db: Session, scope: Scope, owners: Collection[int], context: MetricsContext) -> dict[int, Output]:
        shard = context.vendor_range if scope is Scope.VENDOR else EVERY_VENDOR
        shaped = context if shard is context.vendor_range else replace(context, vendor_range=shard)
        groups = {name: group for name, group in self.groups(tables(db), shaped).items() if scope in group.scopes}
        fetched = {name: group.fetch(db, scope, owners, shard) for name, group in groups.items()}
        self.repair(db, scope, fetched, context)
        return self._by_owner(scope, fetched, owners, context)

    def get_metrics_bulk(
        self, db: Session, vendor_ids: Collection[int], platform_ids: Collection[int], context: MetricsContext
    ) -> tuple[dict[int, Output], dict[int, Output]]:
        """Vendor and platform values of one run; additive groups scan their table once for both."""
        vendor_rows: Fetched = {}
        platform_rows: Fetched = {}
        # Statements that also serve platform values read every vendor's rows: no range inside sources.
        shaped = replace(context, vendor_range=EVERY_VENDOR) if platform_ids else context
        for name, group in self.groups(tables(db), shaped).items():
            vendors = bool(vendor_ids) and Scope.VENDOR in group.scopes
            platforms = bool(platform_ids) and Scope.PLATFORM in group.scopes
            if vendors and platforms and group.combinable:
                vendor_rows[name], platform_rows[name] = group.fetch_both(
                    db, vendor_ids, platform_ids, context.vendor_range
                )
                continue
            if vendors:
                vendor_rows[name] = group.fetch(db, Scope.VENDOR, vendor_ids, context.vendor_range)
            if platforms:
                platform_rows[name] = group.fetch(db, Scope.PLATFORM, platform_ids)
        self.repair(db, Scope.VENDOR, vendor_rows, context)
        self.repair(db, Scope.PLATFORM, platform_rows, context)
        return (
            self._by_owner(Scope.VENDOR, vendor_rows, vendor_ids, context),
            self._by_owner(Scope.PLATFORM, platform_rows, platform_ids, context),
        )

    def get_vendor_metrics_bulk(
        self, db: Session, vendor_ids: Collection[int], context: MetricsContext
    ) -> dict[int, Output]:
        """Values of every vendor in `vendor_ids`, one statement per vendor-scope group."""
        return self._bulk(db, Scope.VENDOR, vendor_ids, context)

    def get_platform_metrics_bulk(
        self, db: Session, platform_ids: Collection[int], context: MetricsContext
    ) -> dict[int, Output]:
        """Values of every platform in `platform_ids`, one statement per platform-scope group."""
        return self._bulk(db, Scope.PLATFORM, platform_ids, context)

    def get_vendor_metrics(
        self, db: Session, vendor_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        """One vendor (its `MetricValue`s only: callers outside the exporter know nothing of `Dropped`)."""
        return _values_only(self._bulk(db, Scope.VENDOR, [vendor_id], context or default_context())[vendor_id])

    def get_platform_metrics(
        self, db: Session, platform_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        """One platform (its `MetricValue`s only)."""
        return _values_only(self._bulk(db, Scope.PLATFORM, [platform_id], context or default_context())[platform_id])


def _values_only(output: Output) -> list[MetricValue]:
    """`output` without its `Dropped` records."""
    return [value for value in output if isinstance(value, MetricValue)]
