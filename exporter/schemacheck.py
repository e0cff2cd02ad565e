"""Does the database hold what each provider reads? Reflection, comparison, the run-time guard, check-schema.

What a provider needs is derived from its statements (`schema_requirements`), never kept by
hand; the database side comes from SQLAlchemy's inspector in the configured schema.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import NoSuchTableError
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType, TypeEngine

from exporter.adapter import AdaptedProvider
from exporter.directory import load_directory
from exporter.schema import SESSION_INFO_KEY, SPECS, KnownValues, SchemaTables, columns_of, store_name

log = logging.getLogger(__name__)

RECHECK_SECONDS = 60.0
"""While a provider cannot run for lack of a table or column, its tables are reflected again at most this often."""

MERCHANT_LABELS_EMPTY = "merchant labels are empty"
"""What the directory does without the companies table (or a column its merchant join reads)."""

KIND_WORDS: Mapping[str, str] = {
    "integer": "a number",
    "text": "text",
    "label": "text, a number or bytes",
    "boolean": "true/false",
    "datetime": "a date and time",
    "json": "JSON",
}


def type_fits(kind: str, found: TypeEngine[Any], backend: str) -> bool | None:
    """Whether a column of type `found` can stand for a reference column of `kind`; None: type not recognized.

    Generous where the statements still mean the same (any integer or decimal type for a number,
    VARCHAR/TEXT/ENUM for text); strict where they would fail or mislead: PostgreSQL cannot apply
    `IS TRUE` to an integer, and a number compared with a timestamp is not a date.
    """
    if isinstance(found, NullType):
        return None
    if kind == "integer":
        # Float is not a Numeric subclass in SQLAlchemy 2.1: money held as a double still sums.
        return isinstance(found, (Integer, Numeric, Float))
    if kind == "text":
        return isinstance(found, (String, Enum))
    if kind == "label":
        return isinstance(found, (String, Enum, Integer, Numeric, LargeBinary))
    if kind == "boolean":
        return isinstance(found, Boolean) or (backend != "postgresql" and isinstance(found, Integer))
    if kind == "datetime":
        # SQLite has no date type: SQLAlchemy itself stores DateTime there as ISO text.
        return isinstance(found, (DateTime, Date)) or (backend == "sqlite" and isinstance(found, String))
    return True


class Status(StrEnum):
    """How one needed table or column compares with the database."""

    OK = "OK"
    MISSING = "MISSING"
    MISTYPED = "MISTYPED"
    REFUSED = "REFUSED"
    """A declared query the database would not prepare."""


@dataclass(frozen=True)
class Finding:
    """One needed table or column: what was looked for, what was found, and the config line that fixes it."""

    key: str
    """Reference name: `orders` (a table) or `orders.total_amount_cents` (a column)."""
    looked_for: str
    """The actual table (and column) the exporter looked for, e.g. `shop.shop_orders.placed_at`."""
    status: Status
    detail: str
    """The type found (OK), or what is wrong."""
    fix: str | None = None
    optional: str | None = None
    """Set for a column the reader can do without: what is lost while it is missing or mistyped."""

    @property
    def ok(self) -> bool:
        """Nothing to fix."""
        return self.status is Status.OK

    @property
    def blocks(self) -> bool:
        """Missing or mistyped, and the reader cannot do without it."""
        return not self.ok and self.optional is None

    def describe(self) -> str:
        """One line for a log message."""
        fix = f" (fix: {self.fix})" if self.fix else ""
        return f"{self.key}: {self.detail}{fix}"


@dataclass(frozen=True)
class Reflected:
    """One table as the database has it: its columns by actual name, or None when there is no such table."""

    columns: Mapping[str, TypeEngine[Any]] | None


def reflect(connection: Connection, tables: Iterable[Table]) -> dict[Table, Reflected]:
    """Columns and types of `tables` (each in its own schema), as the inspector reads them."""
    inspector = inspect(connection)
    found: dict[Table, Reflected] = {}
    for table in tables:
        try:
            columns = inspector.get_columns(table.name, schema=table.schema)
        except NoSuchTableError:
            found[table] = Reflected(None)
        else:
            found[table] = Reflected({column["name"]: column["type"] for column in columns})
    return found


def _qualified(table: Table) -> str:
    return f"{table.schema}.{table.name}" if table.schema else table.name


def _type_name(found: TypeEngine[Any], connection_dialect: Any) -> str:
    try:
        return str(found.compile(dialect=connection_dialect))
    except Exception:  # noqa: BLE001 - a type the dialect cannot render back: its class says enough
        return type(found).__name__.upper()


@dataclass(frozen=True)
class Needs:
    """What one reader (the directory or a provider) reads: columns, and the tables they belong to."""

    columns: tuple[Column[Any], ...]
    declared: bool = True
    """False: the provider does not say what it reads (`schema_requirements`), so it is not checked."""

    @property
    def tables(self) -> tuple[Table, ...]:
        """Every table of `columns`, first-seen order."""
        return tuple(dict.fromkeys(column.table for column in self.columns))


class _Recorder:
    """Stands in for a session: records the statements it is given and returns no rows."""

    def __init__(self, schema: SchemaTables) -> None:
        self.info = {SESSION_INFO_KEY: schema}
        self.statements: list[Any] = []

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> _NoRows:
        self.statements.append(statement)
        return _NoRows()


class _NoRows:
    def __iter__(self) -> Any:
        return iter(())

    def all(self) -> list[Any]:
        return []

    def keys(self) -> list[str]:
        return []

    def scalars(self) -> _NoRows:
        return self

    def mappings(self) -> _NoRows:
        return self

    def tuples(self) -> _NoRows:
        return self


def _directory_columns(schema: SchemaTables, *, merchant_join: bool) -> list[Column[Any]]:
    recorder = _Recorder(schema)
    load_directory(cast(Session, recorder), merchant_join=merchant_join)
    return columns_of(recorder.statements, schema)


def directory_needs(schema: SchemaTables) -> Needs:
    """What every provider run reads first (platforms, links, vendors, modules), from the directory's statements.

    Without the merchant: see `merchant_needs`.
    """
    return Needs(tuple(_directory_columns(schema, merchant_join=False)))


def merchant_needs(schema: SchemaTables) -> Needs:
    """What the directory's merchant join adds (companies, `vendors.company_id`): optional, the label is "" without it.

    Derived like `directory_needs`: the columns of the directory's statements with the join that
    are not read without it.
    """
    without = set(_directory_columns(schema, merchant_join=False))
    joined = _directory_columns(schema, merchant_join=True)
    return Needs(_in_schema_order(c for c in joined if c not in without))


def provider_needs(provider: AdaptedProvider, schema: SchemaTables) -> Needs:
    """What a provider reads, from its `schema_requirements(tables)`; undeclared when it has none.

    A provider may return columns and tables (a table alone: it must exist); columns of tables
    outside the reference schema are not checked.
    """
    declared = provider.schema_requirements(schema)
    if declared is None:
        return Needs((), declared=False)
    columns: list[Column[Any]] = []
    for item in declared:
        if isinstance(item, Table) and schema.reference_name(item) is not None:
            columns.append(item.c.id)  # a table alone: it must exist (its key column stands for it)
        elif isinstance(item, Column) and schema.key_of(item) is not None:
            columns.append(item)
    return Needs(tuple(dict.fromkeys(columns)))


def compare(needs: Needs, reflected: Mapping[Table, Reflected], schema: SchemaTables, dialect: Any) -> list[Finding]:
    """One finding per needed table that is missing, else per needed column."""
    backend = str(dialect.name)
    findings: list[Finding] = []
    for table in needs.tables:
        reference = schema.reference_name(table) or table.name
        found = reflected[table]
        if found.columns is None:
            findings.append(
                Finding(
                    reference,
                    _qualified(table),
                    Status.MISSING,
                    f"no table {_qualified(table)}",
                    f"schema.tables.{reference}: <your table>",
                )
            )
            continue
        actual = found.columns
        folded = {name.lower(): name for name in actual}
        for column in needs.columns:
            if column.table is not table:
                continue
            key = f"{reference}.{column.key}"
            looked_for = f"{_qualified(table)}.{column.name}"
            name = column.name if column.name in actual else None
            if name is None and backend in ("mysql", "mariadb"):
                name = folded.get(column.name.lower())  # MySQL column names ignore case
            if name is None:
                findings.append(
                    Finding(
                        key,
                        looked_for,
                        Status.MISSING,
                        f"table {_qualified(table)} has no column {column.name}",
                        f'schema.columns."{key}": <your column>',
                    )
                )
                continue
            spec = SPECS[reference].column(str(column.key))
            kind = spec.kind if spec is not None else "json"
            fits = type_fits(kind, actual[name], backend)
            type_name = _type_name(actual[name], dialect)
            if fits is False:
                findings.append(
                    Finding(
                        key,
                        looked_for,
                        Status.MISTYPED,
                        f"{looked_for} is {type_name}, expected {KIND_WORDS[kind]}",
                        f'schema.columns."{key}": <a column holding {KIND_WORDS[kind]}>',
                    )
                )
            else:
                note = "" if fits else " (type not recognized, not checked)"
                findings.append(Finding(key, looked_for, Status.OK, f"{type_name}{note}"))
    return findings


class SchemaMissing(Exception):
    """A provider cannot run: a table or column it reads is missing or mistyped."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        super().__init__("; ".join(finding.describe() for finding in self.findings))


class SchemaGuard:
    """Checks before each provider run that its tables and columns exist; the provider sends no SQL otherwise.

    Reflection is cached. A provider that could run keeps using the cache until the next reload
    (a new guard) or until one of its runs fails with a database error (`invalidate`: a column
    may have been dropped). While a provider cannot run, its tables are reflected again before
    a run once the cache is `RECHECK_SECONDS` old, so a migration that adds the column is picked
    up without a restart.
    """

    def __init__(self, schema: SchemaTables, monotonic: Callable[[], float], recheck: float = RECHECK_SECONDS) -> None:
        self.schema = schema
        self._monotonic = monotonic
        self._recheck = recheck
        self._lock = threading.Lock()
        self._cache: dict[Table, tuple[Reflected, float]] = {}
        self._needs: dict[str, Needs] = {}
        self._failing: set[str] = set()
        self._directory: Needs | None = None
        self._merchant: Needs | None = None
        self._merchant_problems: tuple[Finding, ...] | None = None
        """Why the directory reads no merchant (empty: it does); None before the first check."""

    def needs(self, name: str, provider: AdaptedProvider) -> Needs:
        """The directory's and the provider's columns (computed once per provider)."""
        with self._lock:
            found = self._needs.get(name)
            if found is None:
                if self._directory is None:
                    self._directory = directory_needs(self.schema)
                own = self._own_needs(name, provider)
                found = Needs(tuple(dict.fromkeys(self._directory.columns + own.columns)))
                self._needs[name] = found
            return found

    def _own_needs(self, name: str, provider: AdaptedProvider) -> Needs:
        try:
            return provider_needs(provider, self.schema)
        except Exception as err:  # noqa: BLE001 - a third-party declaration may be broken: run it unchecked
            log.warning("provider %s: schema_requirements failed (%s); its own columns are not checked", name, err)
            return Needs((), declared=False)

    def problems(self, name: str, provider: AdaptedProvider, db: Session) -> list[Finding]:
        """What stops `provider` from running (empty: it can run); reflects what is not cached yet."""
        needs = self.needs(name, provider)
        with self._lock:
            now = self._monotonic()
            stale = [
                table
                for table in needs.tables
                if table not in self._cache or (name in self._failing and now - self._cache[table][1] >= self._recheck)
            ]
            if stale:
                for table, fresh in reflect(db.connection(), stale).items():
                    self._cache[table] = (fresh, now)
            current = {table: self._cache[table][0] for table in needs.tables}
            problems = [f for f in compare(needs, current, self.schema, db.get_bind().dialect) if not f.ok]
            if problems:
                self._failing.add(name)
            else:
                self._failing.discard(name)
            return problems

    def merchant_join(self, db: Session) -> bool:
        """Whether the directory can read each vendor's merchant (`merchant_needs` are in place).

        The merchant is optional data: without the companies table, or with a column of the join
        missing or mistyped, the directory reads no merchant and every provider still runs. One
        warning says so, with what is missing and the fix, when that state begins or what is
        missing changes; one info line when the merchant is back. Cached like the providers'
        tables: while the join cannot be read, its tables are reflected again before a run once
        their reflection is `RECHECK_SECONDS` old, so a migration that adds them is picked up.
        """
        with self._lock:
            if self._merchant is None:
                self._merchant = merchant_needs(self.schema)
            needs = self._merchant
            now = self._monotonic()
            stale = [
                table
                for table in needs.tables
                if table not in self._cache
                or (bool(self._merchant_problems) and now - self._cache[table][1] >= self._recheck)
            ]
            if stale:
                for table, fresh in reflect(db.connection(), stale).items():
                    self._cache[table] = (fresh, now)
            current = {table: self._cache[table][0] for table in needs.tables}
            problems = tuple(f for f in compare(needs, current, self.schema, db.get_bind().dialect) if not f.ok)
            if problems != self._merchant_problems:
                if problems:
                    log.warning(
                        "%s (every provider still runs): %s",
                        MERCHANT_LABELS_EMPTY,
                        "; ".join(finding.describe() for finding in problems),
                    )
                elif self._merchant_problems:
                    log.info("merchant labels are read again: the companies table and its columns are in place")
                self._merchant_problems = problems
            return not problems

    def invalidate(self) -> None:
        """Forget every reflection: the next runs look at the database again."""
        with self._lock:
            self._cache.clear()


# --- check-schema -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueCount:
    """One value found in a status column that the provider does not know."""

    value: str | None
    rows: int
    effect: str


@dataclass(frozen=True)
class ValuesReport:
    """Unknown values of one status column."""

    key: str
    looked_for: str
    unknown: tuple[ValueCount, ...]


@dataclass
class Section:
    """The findings of one reader (the directory or a provider)."""

    title: str
    findings: list[Finding] = field(default_factory=list)
    declared: bool = True
    note: str | None = None
    """Why the reader cannot run at all (it failed to load); replaces the findings."""
    remark: str | None = None
    """Something to know that does not stop the reader."""
    values: list[ValuesReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing missing or mistyped that the reader cannot do without."""
        return self.note is None and not any(f.blocks for f in self.findings)

    @property
    def lost(self) -> list[str]:
        """What is lost for the optional columns that are missing or mistyped (e.g. "merchant labels are empty")."""
        return list(dict.fromkeys(f.optional for f in self.findings if f.optional is not None and not f.ok))


@dataclass
class SchemaReport:
    """check-schema's result: the directory, every enabled provider, and hints about the layout."""

    where: str
    directory: Section
    providers: dict[str, Section]
    hints: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> list[str]:
        """Providers that cannot run (all of them when the directory cannot be read)."""
        if not self.directory.ok:
            return sorted(self.providers)
        return sorted(name for name, section in self.providers.items() if not section.ok)

    def render(self) -> str:
        """The report as printed: per reader and per key, OK or what is wrong and the fix."""
        lines = [self.where, ""]
        sections = (self.directory, *(self.providers[name] for name in sorted(self.providers)))
        width = max((len(f.key) for section in sections for f in section.findings), default=0)
        for section in sections:
            lines += _render_section(section, width)
        lines += [f"hint: {hint}" for hint in self.hints]
        blocked = self.blocked
        runnable = len(self.providers) - len(blocked)
        lines.append(f"{runnable} of {len(self.providers)} enabled provider(s) can run.")
        if blocked:
            lines.append(f"Cannot run: {', '.join(blocked)}.")
        return "\n".join(lines) + "\n"


def _render_section(section: Section, width: int) -> list[str]:
    if section.note is not None:
        return [f"{section.title}: {section.note}", ""]
    if not section.declared:
        state = "not checked (it does not declare schema_requirements; see docs/database.md)"
    else:
        state = "OK" if section.ok else "CANNOT RUN"
        if section.lost:
            state += f" ({', '.join(section.lost)})"
    lines = [f"{section.title}: {state}"]
    if section.remark:
        lines.append(f"  note: {section.remark}")
    for finding in section.findings:
        where = finding.looked_for if finding.status is Status.MISSING else f"{finding.looked_for} {finding.detail}"
        if finding.ok:
            optional = " (optional)" if finding.optional is not None else ""
            lines.append(f"  OK        {finding.key:<{width}}  {where}{optional}")
        elif finding.optional is not None:
            lines.append(f"  OPTIONAL  {finding.key:<{width}}  {finding.detail}: {finding.optional}")
            lines.append(f"  {'':<9} {'':<{width}}  fix: {finding.fix}")
        else:
            lines.append(f"  {finding.status.value:<9} {finding.key:<{width}}  {finding.detail}")
            lines.append(f"  {'':<9} {'':<{width}}  fix: {finding.fix}")
    for values in section.values:
        if not values.unknown:
            lines.append(f"  values    {values.key}: every value is known")
            continue
        total = sum(v.rows for v in values.unknown)
        lines.append(
            f"  values    {values.key}: {len(values.unknown)} value(s) outside the catalog in {total:,} row(s)"
        )
        shown = values.unknown[:20]
        label_width = max(len(_show(v.value)) for v in shown)
        for value in shown:
            lines.append(f"  {'':<9} {_show(value.value):<{label_width}} {value.rows:>12,} row(s): {value.effect}")
        if len(values.unknown) > len(shown):
            lines.append(f"  {'':<9} … and {len(values.unknown) - len(shown)} more value(s)")
    lines.append("")
    return lines


def _show(value: str | None) -> str:
    return "NULL" if value is None else repr(value)


def unknown_values(db: Session, check: KnownValues) -> list[tuple[str | None, int]]:
    """(value, rows) of every value of `check.column` outside `check.known`, most rows first."""
    column = check.column
    counted = db.execute(select(column.label("value"), func.count().label("n")).group_by(column)).all()
    unknown = [(row.value, int(row.n)) for row in counted if row.value not in check.known]
    return sorted(unknown, key=lambda item: (-item[1], str(item[0])))


def _hints(schema: SchemaTables, connection: Connection, missing: Sequence[Table]) -> list[str]:
    """Layout-wide advice when tables are missing: another naming or another schema holds them."""
    if not missing:
        return []
    inspector = inspect(connection)
    where = schema.layout.database_schema
    if where is not None and where not in inspector.get_schema_names():
        return [f'there is no schema "{where}" here; fix: schema.database_schema: <the schema that holds the tables>']
    present = set(inspector.get_table_names(schema=where)) | set(inspector.get_view_names(schema=where))
    hints = []
    other = "store" if schema.layout.naming == "reference" else "reference"
    references = [schema.reference_name(t) or t.name for t in missing]
    renamed = [r for r in references if (store_name(r) if other == "store" else r) in present]
    if renamed and len(renamed) == len(references):
        hints.append(f"the missing tables exist under the {other} naming; fix: schema.naming: {other}")
    elif not present:
        hints.append(
            f"the schema {where or '(the connection default)'} has no tables at all; "
            "fix: schema.database_schema: <the schema that holds the tables>"
        )
    return hints


def _in_schema_order(columns: Iterable[Column[Any]]) -> tuple[Column[Any], ...]:
    """Reference table order, then column order: the report reads like the schema."""
    order = {spec.name: i for i, spec in enumerate(SPECS.values())}

    def rank(column: Column[Any]) -> tuple[int, int]:
        table = column.table
        return order.get(str(table.info.get("reference", "")), 99), list(table.columns).index(column)

    return tuple(sorted(columns, key=rank))


def check_schema(
    db: Session,
    schema: SchemaTables,
    providers: Mapping[str, AdaptedProvider],
    *,
    where: str,
    failed: Mapping[str, str] | None = None,
) -> SchemaReport:
    """Compare what the directory and every provider read with the database; count unknown status values.

    `providers` are the enabled providers by name; `failed` those that could not be loaded (name → why).
    """
    connection = db.connection()
    dialect = connection.dialect
    directory = directory_needs(schema)
    merchant = merchant_needs(schema)
    remarks: dict[str, str] = {}
    needs: dict[str, Needs] = {}
    for name, provider in providers.items():
        try:
            needs[name] = provider_needs(provider, schema)
        except Exception as err:  # noqa: BLE001 - a third-party declaration may be broken: report it, run it unchecked
            needs[name] = Needs((), declared=False)
            remarks[name] = f"schema_requirements raised {type(err).__name__}: {err}"
    # A provider's section lists what it reads besides the directory's columns (checked once, above it).
    needs = {
        name: Needs(_in_schema_order(c for c in own.columns if c not in directory.columns), own.declared)
        for name, own in needs.items()
    }
    required = dict.fromkeys(directory.tables + tuple(t for n in needs.values() for t in n.tables))
    reflected = reflect(connection, dict.fromkeys((*required, *merchant.tables)))
    # What only the merchant join reads: `vendors` is required all the same, `vendors.company_id` is not.
    optional = {schema.key_of(c) for c in merchant.columns} | {
        schema.reference_name(t) or t.name for t in merchant.tables if t not in directory.tables
    }
    directory = Needs(_in_schema_order(directory.columns + merchant.columns))
    directory_section = Section(
        "directory (read by every provider run)",
        [
            replace(f, optional=MERCHANT_LABELS_EMPTY) if f.key in optional else f
            for f in compare(directory, reflected, schema, dialect)
        ],
    )
    sections: dict[str, Section] = {}
    for name, provider in providers.items():
        section = Section(f"provider {name}", compare(needs[name], reflected, schema, dialect), needs[name].declared)
        section.remark = remarks.get(name)
        prepared = provider.check_query(db)
        if prepared is not None:
            section.findings += prepared
        present = {f.key for f in section.findings + directory_section.findings if f.ok}
        for check in provider.known_values(schema):
            key = schema.key_of(check.column)
            if key in present:
                found = unknown_values(db, check)
                counts = tuple(ValueCount(value, rows, check.effect(value)) for value, rows in found)
                table = check.column.table
                section.values.append(ValuesReport(key or "", f"{_qualified(table)}.{check.column.name}", counts))
        sections[name] = section
    for name, why in (failed or {}).items():
        sections[name] = Section(f"provider {name}", note=f"CANNOT RUN: it failed to load: {why}")
    missing = [t for t, r in reflected.items() if r.columns is None and t in required]  # not only the optional ones
    return SchemaReport(where, directory_section, sections, _hints(schema, connection, missing))
