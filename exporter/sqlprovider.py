"""Providers declared in the config: one grouped query per vendor, the tenancy model applied by the exporter.

`providers.<name>.sql` holds a query that returns one row per vendor (and per value of its extra
label columns). The exporter runs it once per run, in the run's read-only session, and does the
rest: vendor values go out under every enabled platform the vendor is actively linked to; each
platform value is the sum, minimum or maximum of its active members' values, computed here from
the same rows (no second query); rows that cannot be used are dropped and counted.

The user's table and column names are used as written: the `schema:` mapping rewrites the
built-in providers' statements, not this text.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, DateTime, String, TextClause, bindparam, text

from exporter.adapter import Members, RunValues
from exporter.config import SqlProviderConfig, query_parameters
from exporter.contracts import EVERY_VENDOR, Dropped, DropReason, MetricNumber, MetricsContext, MetricValue, VendorRange
from exporter.directory import load_directory
from exporter.schemacheck import Finding, SchemaMissing, Status

if TYPE_CHECKING:
    from sqlalchemy import Column, Table
    from sqlalchemy.orm import Session

    from exporter.schema import SchemaTables

VENDOR_COLUMN = "vendor_id"
"""The column every declared query returns: the vendor a row belongs to."""

_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
"""Products with the scale and sums are exact in this context (the default one keeps 28 digits)."""

Labels = tuple[tuple[str, str], ...]
"""The extra (label, value) pairs of one row."""


def wrapped(query: str, *, vendor_range: VendorRange = EVERY_VENDOR) -> str:
    """The statement a run sends: the user's query as a subquery, restricted to the shard's vendor ids.

    A bounded `vendor_range` (a shard that exports no platform values) adds
    `q.vendor_id >= :vendor_id_low` and/or `q.vendor_id <= :vendor_id_high`, which the database can
    push into the user's query and serve from an index on its vendor column; without it every row of
    the query is read (and the rows outside the run's vendors are left out in Python).
    """
    statement = f"SELECT * FROM (\n{query}\n) AS q"
    bounds = []
    if vendor_range.lo is not None:
        bounds.append(f"q.{VENDOR_COLUMN} >= :vendor_id_low")
    if vendor_range.hi is not None:
        bounds.append(f"q.{VENDOR_COLUMN} <= :vendor_id_high")
    if bounds:
        statement += " WHERE " + " AND ".join(bounds)
    return statement


def _bound(statement: str, used: Collection[str]) -> TextClause:
    """`text(statement)` with the window bound as timestamps (every driver compares them as the schema stores them)."""
    types: dict[str, Any] = {"date_from": DateTime(), "date_to": DateTime(), "period": String()}
    clause = text(statement)
    wanted: list[BindParameter[Any]] = [bindparam(name, type_=types[name]) for name in types if name in used]
    return clause.bindparams(*wanted) if wanted else clause


def number(raw: Any) -> MetricNumber | None:
    """A database value as a number, or None when it is not one (NULL, text that is no number, NaN, ±Infinity).

    Integers and decimals stay exact; text holding a decimal number (SQLite may return one)
    becomes a Decimal; a float stays a float.
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, Decimal):
        return raw if raw.is_finite() else None
    if isinstance(raw, float):
        return raw if raw == raw and raw not in (float("inf"), float("-inf")) else None
    if isinstance(raw, (str, bytes)):
        try:
            parsed = Decimal(raw.decode("ascii") if isinstance(raw, bytes) else raw.strip())
        except (InvalidOperation, UnicodeDecodeError):
            return None
        return parsed if parsed.is_finite() else None
    return None


def scaled(value: MetricNumber, factor: Decimal | None) -> MetricNumber:
    """`value × factor` exactly (a float through its shortest decimal text); the value itself without a factor."""
    if factor is None:
        return value
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return _EXACT.multiply(exact, factor)


def label_value(raw: Any) -> str:
    """A label column's value as label text: NULL is empty, numbers in decimal, bytes as UTF-8."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, Decimal) and raw.is_finite() and raw == raw.to_integral_value():
        return str(int(raw))
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return bytes(raw).decode("utf-8", "replace")
    if isinstance(raw, datetime):
        return raw.isoformat(sep=" ")
    return str(raw)


def _default_window() -> MetricsContext:
    """The exporter's default window, [now − 30d, now] in naive UTC, for callers that give none."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return MetricsContext(date_from=now - timedelta(days=30), date_to=now, period="30d")


def _vendor_id(raw: Any) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, Decimal) and raw.is_finite() and raw == raw.to_integral_value():
        return int(raw)
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    return None


def _combine(how: str, numbers: list[MetricNumber]) -> MetricNumber:
    if how == "min":
        return min(numbers)
    if how == "max":
        return max(numbers)
    if any(isinstance(n, float) for n in numbers):
        return sum(float(n) for n in numbers)
    if all(type(n) is int for n in numbers):
        return sum(numbers)
    total = Decimal(0)
    for n in numbers:
        total = _EXACT.add(total, Decimal(n))
    return total


def _finder(keys: Sequence[str]) -> Callable[[str], int | None]:
    """Position of a column in a result: by its exact name, else by its only case-insensitive match.

    PostgreSQL folds unquoted aliases to lower case (`AS N` returns `n`); MariaDB and SQLite keep them.
    """
    exact = {key: i for i, key in enumerate(keys)}
    folded: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        folded[key.lower()].append(i)

    def find(column: str) -> int | None:
        if column in exact:
            return exact[column]
        candidates = folded.get(column.lower(), [])
        return candidates[0] if len(candidates) == 1 else None

    return find


@dataclass(frozen=True)
class _Columns:
    """Where the declared columns are in the result: vendor, labels, values."""

    vendor: int
    labels: tuple[int, ...]
    values: tuple[int, ...]


class SqlProvider:
    """A provider declared as `providers.<name>.sql`."""

    def __init__(self, name: str, spec: SqlProviderConfig) -> None:
        self.name = name
        self.spec = spec
        self.category = spec.category or name
        self.query = spec.query.strip().rstrip(";").strip()
        self.used = frozenset(query_parameters(self.query))
        self.statement = _bound(wrapped(self.query), self.used)
        self.probe = _bound(f"{wrapped(self.query)} WHERE 1 = 0", self.used)
        self.factors = tuple(value.factor for value in spec.values)
        self.metric_keys = [value.key for value in spec.values]
        # Positions of the values that have a platform value (`platform` other than `none`).
        self.rolled = [i for i, value in enumerate(spec.values) if value.platform != "none"]

    @property
    def metrics_category(self) -> str:
        """The category label (`sql.category`, default the provider's name)."""
        return self.category

    def schema_requirements(self, tables: SchemaTables) -> Iterable[Column[Any] | Table]:
        """Nothing of the reference schema: the query names the database's own tables (check-schema prepares it)."""
        return ()

    # --- running --------------------------------------------------------------------------

    def _params(self, context: MetricsContext) -> dict[str, Any]:
        values = {"date_from": context.date_from, "date_to": context.date_to, "period": context.period}
        return {name: value for name, value in values.items() if name in self.used}

    def _locate(self, keys: Sequence[str]) -> _Columns:
        """Positions of the declared columns in the result; SchemaMissing names each one it lacks."""
        find = _finder(keys)
        missing = [finding for finding in self._column_findings(keys, find) if not finding.ok]
        if missing:
            raise SchemaMissing(missing)
        at: dict[str, int] = {}
        for column in (VENDOR_COLUMN, *self.spec.labels, *(value.column for value in self.spec.values)):
            position = find(column)
            assert position is not None  # every missing column was reported above
            at[column] = position
        return _Columns(
            vendor=at[VENDOR_COLUMN],
            labels=tuple(at[label] for label in self.spec.labels),
            values=tuple(at[value.column] for value in self.spec.values),
        )

    def _column_findings(self, keys: Sequence[str], find: Callable[[str], int | None]) -> list[Finding]:
        at = f"providers.{self.name}.sql"
        returned = ", ".join(keys) or "no columns"
        wanted = [(VENDOR_COLUMN, VENDOR_COLUMN, f"{at}.query: SELECT <your vendor id column> AS {VENDOR_COLUMN}, …")]
        wanted += [
            (f"label {label}", label, f"{at}.labels[{i}]: <a column the query returns>")
            for i, label in enumerate(self.spec.labels)
        ]
        wanted += [
            (f"{value.key} ({value.column})", value.column, f"{at}.values[{i}].column: <a column the query returns>")
            for i, value in enumerate(self.spec.values)
        ]
        findings = []
        for key, column, fix in wanted:
            if find(column) is None:
                detail = f"the query returns no column {column} (it returns {returned})"
                findings.append(Finding(key, f"column {column} of the query", Status.MISSING, detail, fix))
            else:
                findings.append(Finding(key, f"column {column} of the query", Status.OK, "returned"))
        return findings

    def compute_run(
        self,
        db: Session,
        vendor_ids: Collection[int],
        platform_ids: Collection[int],
        context: MetricsContext,
        members: Members | None,
    ) -> RunValues:
        """One statement; vendor values of `vendor_ids`, platform values rolled up over `members`."""
        if members is None:
            members = load_directory(db).members
        restricted = context.vendor_range.bounded and not (platform_ids and self.rolled)
        if restricted:
            # A vendor-only shard reads its own vendors' rows only; a run with platform values needs
            # every member's rows, so it is never restricted.
            bounds = context.vendor_range
            params = self._params(context)
            if bounds.lo is not None:
                params["vendor_id_low"] = bounds.lo
            if bounds.hi is not None:
                params["vendor_id_high"] = bounds.hi
            result = db.execute(_bound(wrapped(self.query, vendor_range=bounds), self.used), params)
        else:
            result = db.execute(self.statement, self._params(context))
        at = self._locate(list(result.keys()))
        rows = result.all()
        known = {vendor for ids in members.values() for vendor in ids}
        dropped: Counter[tuple[str, DropReason]] = Counter()
        by_vendor: dict[int, dict[Labels, list[MetricNumber | None]]] = defaultdict(dict)
        specs = self.spec.values
        label_names = self.spec.labels
        factors = self.factors
        for row in rows:
            vendor = _vendor_id(row[at.vendor])
            if vendor is None or vendor not in known:
                dropped[("", DropReason.UNKNOWN_VENDOR)] += 1
                continue
            labels = tuple(zip(label_names, (label_value(row[i]) for i in at.labels), strict=True))
            own = by_vendor[vendor]
            if labels in own:
                dropped[("", DropReason.DUPLICATE)] += 1
                continue
            numbers: list[MetricNumber | None] = []
            for spec, index, factor in zip(specs, at.values, factors, strict=True):
                found = number(row[index])
                if found is None:
                    dropped[(spec.key, DropReason.NOT_NUMERIC)] += 1
                    numbers.append(None)
                else:
                    numbers.append(scaled(found, factor))
            own[labels] = numbers
        templates = [
            (
                spec.key,
                spec.label or spec.key,
                spec.description,
                spec.unit,
                context.period if spec.windowed else None,
            )
            for spec in specs
        ]
        vendors: dict[int, list[Any]] = {}
        for vendor in vendor_ids:
            mine = by_vendor.get(vendor)
            if mine:
                vendors[vendor] = self._values(mine, templates)
        platforms: dict[int, list[Any]] = {}
        rolled = self.rolled
        for platform in platform_ids if rolled else ():
            gathered: dict[Labels, list[list[MetricNumber]]] = {}
            for vendor in members.get(platform, ()):
                for labels, numbers in by_vendor.get(vendor, {}).items():
                    slots = gathered.get(labels)
                    if slots is None:
                        slots = gathered[labels] = [[] for _ in specs]
                    for i in rolled:
                        if numbers[i] is not None:
                            slots[i].append(numbers[i])  # type: ignore[arg-type]
            combined = {
                labels: [_combine(specs[i].platform, slots[i]) if slots[i] else None for i in range(len(specs))]
                for labels, slots in gathered.items()
            }
            values = self._values(combined, templates)
            if values:
                platforms[platform] = values
        return RunValues(
            vendors, platforms, [Dropped(key, reason, count) for (key, reason), count in sorted(dropped.items())]
        )

    def _values(
        self,
        by_labels: Mapping[Labels, Sequence[MetricNumber | None]],
        templates: Sequence[tuple[str, str, str | None, str | None, str | None]],
    ) -> list[Any]:
        """MetricValues of one owner, label sets in order, each value column in declaration order."""
        out: list[Any] = []
        category = self.category
        for labels in sorted(by_labels):
            for numbers_at, (key, label, description, unit, period) in enumerate(templates):
                value = by_labels[labels][numbers_at]
                if value is None:
                    continue
                out.append(
                    MetricValue(
                        key=key,
                        value=value,
                        label=label,
                        category=category,
                        description=description,
                        unit=unit,
                        period=period,
                        labels=labels,
                    )
                )
        return out

    # --- the provider protocol, for callers outside a run ----------------------------------

    def get_metrics_bulk(
        self, db: Session, vendor_ids: Collection[int], platform_ids: Collection[int], context: MetricsContext
    ) -> tuple[Mapping[int, list[Any]], Mapping[int, list[Any]]]:
        """(values per vendor, values per platform); reads the active links itself."""
        found = self.compute_run(db, vendor_ids, platform_ids, context, None)
        return found.vendors, found.platforms

    def get_vendor_metrics(
        self, db: Session, vendor_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        """One vendor's values."""
        return self.get_metrics_bulk(db, [vendor_id], [], context or _default_window())[0].get(vendor_id, [])

    def get_platform_metrics(
        self, db: Session, platform_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        """One platform's values."""
        return self.get_metrics_bulk(db, [], [platform_id], context or _default_window())[1].get(platform_id, [])

    # --- check-schema ---------------------------------------------------------------------

    def check_query(self, db: Session) -> list[Finding]:
        """Prepare the statement against the database (it runs with a condition no row meets) and check its columns."""
        context = MetricsContext(date_from=datetime(2000, 1, 1), date_to=datetime(2000, 1, 2), period="1d")
        where = f"providers.{self.name}.sql.query"
        savepoint = db.begin_nested() if db.get_bind().dialect.name == "postgresql" else None
        try:
            result = db.execute(self.probe, self._params(context))
            keys = list(result.keys())
            result.close()
        except Exception as err:  # noqa: BLE001 - whatever the database says about the query is the finding
            if savepoint is not None:
                savepoint.rollback()
            original = getattr(err, "orig", None) or err
            message = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
            fix = f"{where}: correct it; it names your database's own tables and columns (no schema: mapping applies)"
            return [Finding("query", where, Status.REFUSED, f"the database refused it: {message}", fix)]
        if savepoint is not None:
            savepoint.commit()
        prepared = Finding("query", where, Status.OK, f"prepared; returns {', '.join(keys)}")
        return [prepared, *self._column_findings(keys, _finder(keys))]
