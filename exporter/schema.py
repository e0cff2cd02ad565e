"""The reference schema, mapped onto a real database's names: one SQLAlchemy `Table` per reference table.

Providers write `t.orders.c.total_amount_cents` whatever the platform calls that column: every
`Column` keeps its reference name as its `key` while its SQL `name` (and its table's name and
schema) come from the `schema:` section of the config. Keys are always reference names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import Label
from sqlalchemy.types import TypeEngine

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ORDER_STATUSES: Final = ("pending", "processing", "shipped", "delivered", "cancelled", "refunded")
"""The values `orders.status` takes in the reference schema."""

IMPORT_JOB_STATUSES: Final = ("pending", "processing", "completed", "completed_with_errors", "failed")
"""The values `marketplace_import_jobs.status` takes in the reference schema."""

Naming = Literal["reference", "store"]
"""`reference`: the names below. `store`: the platform's later naming (vendors → stores, companies → merchants)."""

SESSION_INFO_KEY: Final = "commerce_exporter.schema"
"""Where a session of the exporter keeps the run's `SchemaTables` (`Session.info`)."""

Kind = Literal["integer", "text", "label", "boolean", "datetime", "json"]
"""What a reference column holds; check-schema compares a database column's type with it.

`label`: a code or display name the directory turns into a label value; it may be stored as
text, a number or bytes (see the dirty-row rules), where `text` columns are compared in SQL.
"""


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One reference column."""

    name: str
    kind: Kind
    type: Callable[[], TypeEngine[Any]]
    """Makes the column's type (a fresh one per table: `Boolean` attaches itself to its column)."""
    nullable: bool = False
    primary_key: bool = False
    unique: bool = False
    references: str | None = None
    """`"table.column"` of the foreign key, as reference names."""
    index: bool = False
    optional: bool = False
    """Read only when the `schema:` section maps it (`schema.columns`); otherwise not part of the table."""


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One reference table: columns in order, multi-column unique constraints, named indexes."""

    name: str
    columns: tuple[ColumnSpec, ...]
    unique: tuple[tuple[str, ...], ...] = ()
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(name suffix, columns): the index is called `ix_<actual table>_<suffix>`."""

    def column(self, name: str) -> ColumnSpec | None:
        """The reference column called `name`, if any."""
        return next((c for c in self.columns if c.name == name), None)


def _id() -> ColumnSpec:
    return ColumnSpec("id", "integer", Integer, primary_key=True)


def _int(name: str, **options: Any) -> ColumnSpec:
    return ColumnSpec(name, "integer", Integer, **options)


def _big(name: str, **options: Any) -> ColumnSpec:
    return ColumnSpec(name, "integer", BigInteger, **options)


def _text(name: str, length: int | None = None, **options: Any) -> ColumnSpec:
    return ColumnSpec(name, "text", (lambda: String(length)) if length else Text, **options)


def _label(name: str, length: int, **options: Any) -> ColumnSpec:
    return ColumnSpec(name, "label", lambda: String(length), **options)


def _bool(name: str) -> ColumnSpec:
    return ColumnSpec(name, "boolean", Boolean)


def _time(name: str, **options: Any) -> ColumnSpec:
    return ColumnSpec(name, "datetime", DateTime, **options)


def _json(name: str) -> ColumnSpec:
    return ColumnSpec(name, "json", JSON, nullable=True)


def _fk(name: str, target: str, *, nullable: bool = False, index: bool = False) -> ColumnSpec:
    return ColumnSpec(name, "integer", Integer, nullable=nullable, references=target, index=index)


REFERENCE: Final[tuple[TableSpec, ...]] = (
    TableSpec(
        "platforms",
        (
            _id(),
            _label("code", 50, unique=True),
            _label("name", 100),
            _bool("is_active"),
            _json("settings"),
            _time("created_at"),
        ),
    ),
    TableSpec(
        "platform_modules",
        (
            _id(),
            _fk("platform_id", "platforms.id"),
            _text("module_code", 50),
            _bool("is_enabled"),
            _json("config"),
            _time("enabled_at", nullable=True),
        ),
        unique=(("platform_id", "module_code"),),
    ),
    TableSpec(
        "users",
        (
            _id(),
            _text("email", 255, unique=True),
            _text("username", 100, unique=True),
            _text("role", 30),
            _bool("is_active"),
            _time("created_at"),
            _time("last_login_at", nullable=True),
        ),
    ),
    TableSpec(
        "companies",
        (
            _id(),
            # The merchant label of the company's vendors: the code when the schema maps one, else the name.
            _label("code", 50, nullable=True, optional=True),
            _label("name", 255),
            _fk("owner_user_id", "users.id", nullable=True),
            _bool("is_active"),
            _bool("is_verified"),
            _time("created_at"),
        ),
    ),
    TableSpec(
        "vendors",
        (
            _id(),
            _fk("company_id", "companies.id", nullable=True),
            _label("vendor_code", 50, unique=True),
            _text("subdomain", 100, unique=True, nullable=True),
            _label("name", 255),
            _bool("is_active"),
            _bool("is_verified"),
            _time("created_at"),
        ),
    ),
    TableSpec(
        "vendor_platforms",
        (
            _id(),
            _fk("vendor_id", "vendors.id"),
            _fk("platform_id", "platforms.id"),
            _int("tier_id", nullable=True),
            _bool("is_active"),
            _time("joined_at", nullable=True),
        ),
        unique=(("vendor_id", "platform_id"),),
        indexes=(("platform_vendor", ("platform_id", "vendor_id")),),
    ),
    TableSpec(
        "vendor_users",
        (
            _id(),
            _fk("vendor_id", "vendors.id"),
            _fk("user_id", "users.id"),
            _text("role", 30),
            _bool("is_active"),
            _time("created_at"),
        ),
        unique=(("vendor_id", "user_id"),),
    ),
    TableSpec(
        "vendor_domains",
        (
            _id(),
            _fk("vendor_id", "vendors.id", index=True),
            _text("domain", 255, unique=True),
            _bool("is_primary"),
            _bool("is_verified"),
            _bool("is_active"),
            _time("created_at"),
        ),
    ),
    TableSpec(
        "customers",
        (
            _id(),
            _fk("vendor_id", "vendors.id"),
            _text("email", 255),
            _bool("is_active"),
            _time("created_at"),
        ),
        unique=(("vendor_id", "email"),),
        indexes=(("vendor_created", ("vendor_id", "created_at")),),
    ),
    TableSpec(
        "content_pages",
        (
            _id(),
            _fk("platform_id", "platforms.id"),
            _fk("vendor_id", "vendors.id", nullable=True, index=True),
            _text("slug", 100),
            _text("title", 200),
            _bool("is_platform_page"),
            _bool("is_published"),
            _time("published_at", nullable=True),
            _time("created_at"),
        ),
        indexes=(("platform_vendor", ("platform_id", "vendor_id")),),
    ),
    TableSpec(
        "media_files",
        (
            _id(),
            _fk("vendor_id", "vendors.id", index=True),
            _text("filename", 255),
            _text("media_type", 20),
            _big("file_size"),
            _time("created_at"),
        ),
    ),
    TableSpec(
        "marketplace_import_jobs",
        (
            _id(),
            _fk("vendor_id", "vendors.id", index=True),
            _text("marketplace", 50),
            _text("source_url", nullable=True),
            _text("language", 5, nullable=True),
            _text("status", 30),
            _int("imported_count"),
            _int("error_count"),
            _time("created_at"),
            _time("started_at", nullable=True),
            _time("completed_at", nullable=True),
        ),
    ),
    TableSpec(
        "marketplace_products",
        (
            _id(),
            _fk("vendor_id", "vendors.id", index=True),
            _fk("import_job_id", "marketplace_import_jobs.id", nullable=True),
            _text("marketplace", 50),
            _text("gtin", 50, nullable=True),
            _text("sku", 100, nullable=True),
            _text("brand", 100, nullable=True),
            _int("price_cents", nullable=True),
            _text("currency", 3, nullable=True),
            _time("created_at"),
        ),
    ),
    TableSpec(
        "products",
        (
            _id(),
            _fk("vendor_id", "vendors.id", index=True),
            # Indexed because the staging-products query asks "is this marketplace product referenced?".
            _fk("marketplace_product_id", "marketplace_products.id", nullable=True, index=True),
            _text("vendor_sku", 100, nullable=True),
            _text("gtin", 50, nullable=True),
            _int("price_cents", nullable=True),
            _text("currency", 3),
            _bool("is_active"),
            _bool("is_featured"),
            _time("created_at"),
        ),
    ),
    TableSpec(
        "inventory",
        (
            _id(),
            _fk("product_id", "products.id"),
            _fk("vendor_id", "vendors.id", index=True),
            _text("warehouse", 50),
            _text("bin_location", 50),
            _int("quantity"),
            _int("reserved_quantity"),
            _time("updated_at", nullable=True),
        ),
        unique=(("product_id", "warehouse", "bin_location"),),
    ),
    TableSpec(
        "orders",
        (
            _id(),
            _fk("vendor_id", "vendors.id"),
            _fk("customer_id", "customers.id", nullable=True),
            _text("order_number", 100),
            _text("channel", 20),
            _text("status", 20),
            _text("currency", 3),
            _big("subtotal_cents", nullable=True),
            _big("tax_amount_cents", nullable=True),
            _big("shipping_amount_cents", nullable=True),
            _big("discount_amount_cents", nullable=True),
            _big("total_amount_cents"),
            _time("created_at"),
        ),
        indexes=(
            ("vendor_created", ("vendor_id", "created_at")),
            # Covers the orders group query (every column it reads, in GROUP BY order): MariaDB/MySQL
            # otherwise fetch each order row by primary key per vendor, beyond the default statement
            # timeout at millions of orders; PostgreSQL turns a spilling hash aggregate into an
            # index-only scan (measured: see docs/architecture.md, Figures behind choices in the code).
            ("vendor_status_currency", ("vendor_id", "status", "currency", "created_at", "total_amount_cents")),
        ),
    ),
)
"""Every reference table, parents before children. Timestamps are naive UTC."""

SPECS: Final[Mapping[str, TableSpec]] = {spec.name: spec for spec in REFERENCE}
"""Reference tables by name."""

_STORE_WORDS: Final = {"companies": "merchants", "company_id": "merchant_id"}


def store_name(reference: str) -> str:
    """A table or column name in the store naming: every "vendor" becomes "store", companies → merchants."""
    return _STORE_WORDS.get(reference, reference.replace("vendor", "store"))


@dataclass(frozen=True, slots=True)
class Layout:
    """How the reference names map onto one database: the `schema:` section as a hashable value."""

    naming: Naming = "reference"
    database_schema: str | None = None
    tables: tuple[tuple[str, str], ...] = ()
    """(reference table, actual table)."""
    columns: tuple[tuple[str, str], ...] = ()
    """("reference_table.reference_column", actual column)."""

    @classmethod
    def of(
        cls,
        naming: Naming = "reference",
        database_schema: str | None = None,
        tables: Mapping[str, str] | None = None,
        columns: Mapping[str, str] | None = None,
    ) -> Layout:
        """A layout from the config's mappings (order does not matter)."""
        return cls(
            naming, database_schema, tuple(sorted((tables or {}).items())), tuple(sorted((columns or {}).items()))
        )

    def table_name(self, table: str) -> str:
        """The actual name of reference table `table`: explicit entry, else the naming's."""
        explicit = dict(self.tables).get(table)
        if explicit is not None:
            return explicit
        return store_name(table) if self.naming == "store" else table

    def maps(self, table: str, column: str) -> bool:
        """Whether `schema.columns` has an entry for reference column `table.column`."""
        return f"{table}.{column}" in dict(self.columns)

    def column_name(self, table: str, column: str) -> str:
        """The actual name of reference column `table.column`: explicit entry, else the naming's."""
        explicit = dict(self.columns).get(f"{table}.{column}")
        if explicit is not None:
            return explicit
        return store_name(column) if self.naming == "store" else column

    def describe(self) -> str:
        """One line for logs and check-schema: naming, schema and how many explicit entries."""
        where = f"schema {self.database_schema}" if self.database_schema else "the connection's default schema"
        parts = [f"naming {self.naming}", f"tables in {where}"]
        if self.tables or self.columns:
            parts.append(f"{len(self.tables)} table and {len(self.columns)} column mapping(s)")
        return ", ".join(parts)


REFERENCE_LAYOUT: Final = Layout()

MAX_IDENTIFIER = 63
"""PostgreSQL truncates longer names (MySQL allows 64): refuse them rather than look for a truncated table."""


def _identifier_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"expected a table or column name, got {value!r}"
    if value != value.strip() or not value.isprintable():
        return f"expected a name without surrounding spaces or control characters, got {value!r}"
    if len(value) > MAX_IDENTIFIER:
        return f"names are at most {MAX_IDENTIFIER} characters, got {len(value)}"
    return None


def layout_problems(
    naming: str, database_schema: Any, tables: Mapping[Any, Any], columns: Mapping[Any, Any], prefix: str = "schema"
) -> list[tuple[str, str]]:
    """Every problem of a `schema:` section as (config path, message); empty when it is usable."""
    problems: list[tuple[str, str]] = []
    known = ", ".join(SPECS)
    if database_schema is not None:
        problem = _identifier_problem(database_schema)
        if problem:
            problems.append((f"{prefix}.database_schema", problem))
    for table, actual in tables.items():
        path = f"{prefix}.tables.{table}"
        if table not in SPECS:
            problems.append((path, f"not a reference table; keys are reference names: {known}"))
            continue
        problem = _identifier_problem(actual)
        if problem:
            problems.append((path, problem))
    for key, actual in columns.items():
        path = f'{prefix}.columns."{key}"'
        table, dot, column = str(key).partition(".")
        spec = SPECS.get(table)
        if not dot or not column:
            problems.append((path, 'expected "reference_table.reference_column", e.g. "vendors.vendor_code"'))
        elif spec is None:
            problems.append((path, f"{table} is not a reference table; keys are reference names: {known}"))
        elif spec.column(column) is None:
            names = ", ".join(c.name for c in spec.columns)
            problems.append((path, f"{table} has no reference column {column} (its columns: {names})"))
        else:
            problem = _identifier_problem(actual)
            if problem:
                problems.append((path, problem))
    if problems:
        return problems
    layout = Layout.of(naming, database_schema, tables, columns)  # type: ignore[arg-type]
    owners: dict[str, str] = {}
    for spec in REFERENCE:
        actual = layout.table_name(spec.name)
        if actual in owners:
            problems.append(
                (
                    f"{prefix}.tables.{spec.name}",
                    f"{actual} is already the table of {owners[actual]}; each needs its own",
                )
            )
        owners[actual] = spec.name
        seen: dict[str, str] = {}
        for column_spec in spec.columns:
            if column_spec.optional and not layout.maps(spec.name, column_spec.name):
                continue
            name = layout.column_name(spec.name, column_spec.name)
            if name in seen:
                problems.append(
                    (
                        f'{prefix}.columns."{spec.name}.{column_spec.name}"',
                        f"{spec.name}.{seen[name]} is already read from column {name}; each needs its own",
                    )
                )
            seen[name] = column_spec.name
    return problems


@dataclass(frozen=True, eq=False)
class SchemaTables:
    """The reference tables of one layout, as SQLAlchemy Core tables (attribute = reference name)."""

    layout: Layout
    metadata: MetaData
    platforms: Table
    platform_modules: Table
    users: Table
    companies: Table
    vendors: Table
    vendor_platforms: Table
    vendor_users: Table
    vendor_domains: Table
    customers: Table
    content_pages: Table
    media_files: Table
    marketplace_import_jobs: Table
    marketplace_products: Table
    products: Table
    inventory: Table
    orders: Table
    _reference: dict[Table, str] = field(default_factory=dict, repr=False)

    def table(self, reference: str) -> Table:
        """The table of reference table `reference`."""
        table: Table = getattr(self, reference)
        return table

    @property
    def sorted_tables(self) -> list[Table]:
        """Every table, parents before children (create in this order, delete in reverse)."""
        return [self.table(spec.name) for spec in REFERENCE]

    def reference_name(self, table: Table) -> str | None:
        """The reference name of one of these tables (None for any other table)."""
        return self._reference.get(table)

    def key_of(self, column: Column[Any]) -> str | None:
        """`"reference_table.reference_column"` of one of these tables' columns (None for any other)."""
        table = self._reference.get(column.table) if isinstance(column.table, Table) else None
        return f"{table}.{column.key}" if table is not None else None


@lru_cache(maxsize=32)
def build_tables(layout: Layout = REFERENCE_LAYOUT) -> SchemaTables:
    """The reference tables under `layout`'s names; the same objects for the same layout.

    Reusing the objects matters: SQLAlchemy caches compiled statements per table object, so a
    reload with an unchanged `schema:` section does not compile every statement again.
    """
    metadata = MetaData()
    built: dict[str, Table] = {}
    for spec in REFERENCE:
        columns = []
        present = [c for c in spec.columns if not c.optional or layout.maps(spec.name, c.name)]
        for column in present:
            constraints = []
            if column.references is not None:
                parent, parent_column = column.references.split(".")
                constraints.append(ForeignKey(built[parent].c[parent_column]))
            columns.append(
                Column(
                    layout.column_name(spec.name, column.name),
                    column.type(),
                    *constraints,
                    key=column.name,
                    primary_key=column.primary_key,
                    nullable=column.nullable,
                    unique=column.unique or None,
                )
            )
        table = Table(
            layout.table_name(spec.name),
            metadata,
            *columns,
            schema=layout.database_schema,
            info={"reference": spec.name},
        )
        for group in spec.unique:
            table.append_constraint(UniqueConstraint(*(table.c[name] for name in group)))
        for column in present:
            if column.index:
                actual = table.c[column.name]
                Index(f"ix_{table.name}_{actual.name}", actual)
        for suffix, names in spec.indexes:
            Index(f"ix_{table.name}_{suffix}", *(table.c[name] for name in names))
        built[spec.name] = table
    reference = {table: name for name, table in built.items()}
    return SchemaTables(layout, metadata, **built, _reference=reference)


def reference_tables() -> SchemaTables:
    """The tables under their reference names, in the connection's default schema."""
    return build_tables(REFERENCE_LAYOUT)


def tables(db: Session) -> SchemaTables:
    """The mapped reference tables of the run `db` belongs to: the public API for providers.

    The exporter's sessions carry the `schema:` section of the running config; a session made
    elsewhere (a test, a script) gets the reference names.
    """
    found = db.info.get(SESSION_INFO_KEY)
    return found if isinstance(found, SchemaTables) else reference_tables()


@dataclass(frozen=True)
class KnownValues:
    """A column whose values a provider interprets, like a status: check-schema counts the others.

    `effect(value)` says in one phrase what the provider does with a value outside `known`
    (for example "counted in orders.total and orders.new only").
    """

    column: Column[Any]
    known: frozenset[str]
    effect: Callable[[str | None], str]


def by_key(*columns: Column[Any]) -> list[Label[Any]]:
    """Columns labelled with their reference names, so result rows read `row.code` under every mapping."""
    return [column.label(column.key) for column in columns]


def columns_of(elements: Iterable[Any], schema: SchemaTables) -> list[Column[Any]]:
    """Every column of `schema`'s tables that a statement (or any SQL expression) reads, in first-seen order.

    Walks the whole expression tree, subqueries, CTEs and EXISTS included, so what a provider
    needs is derived from the statements it sends rather than kept by hand.
    """
    found: dict[Column[Any], None] = {}
    for element in elements:
        for node in visitors.iterate(element):
            if isinstance(node, Column) and schema.key_of(node) is not None:
                found.setdefault(node)
    return list(found)
