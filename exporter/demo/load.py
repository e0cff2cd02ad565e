"""Bulk loaders of the demo data, per backend, into any layout of the reference schema."""

from __future__ import annotations

import itertools
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, create_engine, func, inspect, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import NullPool

from exporter.demo.data import DemoData, DemoSize, Row
from exporter.schema import SchemaTables, reference_tables

log = logging.getLogger(__name__)

CHUNK = 20_000


@dataclass(frozen=True)
class Target:
    """One table as the raw loaders address it: quoted, schema-qualified, with its actual column names."""

    name: str
    """The table's actual name (for messages and file names)."""
    sql: str
    """The quoted, schema-qualified name to write in a statement."""
    columns: tuple[str, ...]
    """Quoted actual names of the columns the rows hold, in row order."""

    @classmethod
    def of(cls, table: Table, keys: Sequence[str], dialect: Dialect) -> Target:
        """`table` with the columns whose reference names are `keys`, quoted for `dialect`."""
        quote = dialect.identifier_preparer
        return cls(table.name, quote.format_table(table), tuple(quote.quote(table.c[key].name) for key in keys))

    @property
    def column_list(self) -> str:
        """`(a, b, c)` without the parentheses."""
        return ", ".join(self.columns)


def _chunks(rows: Iterable[Row], size: int = CHUNK) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _sqlite_value(value: Any) -> Any:
    # The same text SQLAlchemy's SQLite DateTime type writes, so comparisons in queries match.
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return _plain_value(value)


def _plain_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


Loader = Callable[[Any, Target, Iterable[Row]], int]


def _load_sqlite(dbapi: Any, table: Target, rows: Iterable[Row]) -> int:
    statement = f"INSERT INTO {table.sql} ({table.column_list}) VALUES ({', '.join('?' * len(table.columns))})"
    count = 0
    cursor = dbapi.cursor()
    for chunk in _chunks(rows):
        cursor.executemany(statement, [tuple(_sqlite_value(v) for v in row) for row in chunk])
        count += len(chunk)
    return count


def _load_postgresql(dbapi: Any, table: Target, rows: Iterable[Row]) -> int:
    count = 0
    with dbapi.cursor() as cursor, cursor.copy(f"COPY {table.sql} ({table.column_list}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(_plain_value(v) for v in row))
            count += 1
    return count


def _insert_mysql(dbapi: Any, table: Target, rows: Iterable[Row]) -> int:
    # PyMySQL turns executemany of INSERT … VALUES into multi-row statements.
    statement = f"INSERT INTO {table.sql} ({table.column_list}) VALUES ({', '.join(['%s'] * len(table.columns))})"
    count = 0
    cursor = dbapi.cursor()
    for chunk in _chunks(rows, 5_000):
        cursor.executemany(statement, [tuple(_plain_value(v) for v in row) for row in chunk])
        count += len(chunk)
    return count


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})
LOCAL_INFILE_REFUSED = frozenset({1148, 2068, 3948, 4166})
"""MariaDB/MySQL error codes for "LOAD DATA LOCAL is disabled" (server or client side)."""


def _tsv_field(value: Any) -> str:
    """One field as LOAD DATA's default format reads it (tab-separated, backslash escapes, \\N)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(_plain_value(value)).translate(_TSV_ESCAPES)


class _MySQLLoader:
    """`LOAD DATA LOCAL INFILE` of one temporary TSV file per table, committed per table.

    MariaDB sorts and builds the indexes of an empty table in bulk only for the first statement
    of a transaction that starts on it, so one statement per table, each in its own transaction,
    is the fastest of the ways tried (measured: see docs/architecture.md, Figures behind choices in the code).
    Falls back to INSERTs when local files are refused.
    A failed load leaves the tables loaded so far; `demo-db --replace` starts over.
    """

    def __init__(self) -> None:
        self.local_infile: bool | None = None
        """Whether client and server allow local files; found out on the first table."""

    def __call__(self, dbapi: Any, table: Target, rows: Iterable[Row]) -> int:
        count = 0
        with tempfile.TemporaryDirectory(prefix="commerce-demo-") as directory:
            path = os.path.join(directory, "rows.tsv")
            if self.local_infile is None:
                self.local_infile = self._allowed(dbapi, path, table)
            if not self.local_infile:
                return _insert_mysql(dbapi, table, rows)
            with open(path, "w", encoding="utf-8", newline="\n") as out:
                for row in rows:
                    out.write("\t".join(map(_tsv_field, row)) + "\n")
                    count += 1
            self._load_file(dbapi, path, table)
        dbapi.commit()
        return count

    def _allowed(self, dbapi: Any, path: str, table: Target) -> bool:
        """Load an empty file: refused means local files are off (MySQL 8's default) and INSERTs it is."""
        with open(path, "w", encoding="utf-8"):
            pass
        try:
            self._load_file(dbapi, path, table)
        except Exception as err:  # PyMySQL's error classes are not importable without the extra
            if getattr(err, "args", (None,))[0] not in LOCAL_INFILE_REFUSED:
                raise
            log.info("LOAD DATA LOCAL is disabled (%s); loading with INSERT statements", err)
            return False
        return True

    @staticmethod
    def _load_file(dbapi: Any, path: str, table: Target) -> None:
        cursor = dbapi.cursor()
        try:
            cursor.execute(
                f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table.sql} CHARACTER SET utf8mb4 ({table.column_list})"
            )
            # LOCAL turns conversion errors into warnings; demo data must load exactly or not at all.
            cursor.execute("SHOW WARNINGS LIMIT 3")
            warnings = cursor.fetchall()
            if warnings:
                raise ValueError(f"loading {table.name} produced warnings: {warnings}")
        finally:
            cursor.close()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _pg_finish(table: Table, quoted: str, id_column: str) -> tuple[str, ...]:
    # COPY with explicit ids leaves the sequence behind; VACUUM sets the visibility map so the
    # covering indexes allow index-only scans at once, as autovacuum would do on a live database.
    return (
        f"SELECT setval(pg_get_serial_sequence({_literal(quoted)}, {_literal(table.c.id.name)}), "
        f"(SELECT COALESCE(MAX({id_column}), 0) + 1 FROM {quoted}), false)",
        f"VACUUM ANALYZE {quoted}",
    )


@dataclass(frozen=True)
class _Bulk:
    """How one backend takes demo data fast."""

    loader: Callable[[], Loader]
    """A fresh loader for each database (the MySQL one remembers whether local files are allowed)."""
    setup: tuple[str, ...] = ()
    """Session statements before loading."""
    defer_indexes: bool = False
    """Drop the secondary indexes before loading and build them after: PostgreSQL and SQLite build
    an index from sorted data faster than they maintain it row by row. MariaDB already builds
    them sorted when loading into an empty table (see `_MySQLLoader`), so deferring is slower
    there, and it cannot drop an index a foreign key uses (measured: see docs/architecture.md,
    Figures behind choices in the code)."""
    finish: Callable[[Table, str, str], tuple[str, ...]] = lambda table, quoted, id_column: (f"ANALYZE {quoted}",)
    """Statements per table (the table, its quoted name, its quoted id column) after loading, outside a transaction."""
    connect_args: dict[str, Any] = field(default_factory=dict)
    """Driver arguments of the loading connection (PyMySQL must be allowed to send local files)."""
    create_schema: str | None = None
    """How to create `schema.database_schema` when it does not exist ({} is its quoted name)."""


_BULK: dict[str, _Bulk] = {
    "sqlite": _Bulk(lambda: _load_sqlite, setup=("PRAGMA synchronous = OFF",), defer_indexes=True),
    "postgresql": _Bulk(
        lambda: _load_postgresql, defer_indexes=True, finish=_pg_finish, create_schema="CREATE SCHEMA IF NOT EXISTS {}"
    ),
    "mysql": _Bulk(
        _MySQLLoader,
        setup=("SET SESSION foreign_key_checks = 0, SESSION unique_checks = 0",),
        finish=lambda table, quoted, id_column: (f"ANALYZE TABLE {quoted}",),
        connect_args={"local_infile": True},
        create_schema="CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4",
    ),
}
_BULK["mariadb"] = _BULK["mysql"]


class DemoDatabaseNotEmpty(Exception):
    """`demo-db` refuses to touch a database that already has platform data."""


def existing_rows(engine: Engine, schema: SchemaTables | None = None) -> int:
    """Rows in the layout's tables that already exist (0 for an empty or new database)."""
    schema = schema or reference_tables()
    inspector = inspect(engine)
    where = schema.layout.database_schema
    if where is not None and where not in inspector.get_schema_names():
        return 0
    present = set(inspector.get_table_names(schema=where))
    with engine.connect() as connection:
        return sum(
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in schema.sorted_tables
            if table.name in present
        )


def create_demo_database(
    engine: Engine,
    size: DemoSize,
    *,
    anchor: datetime,
    schema: SchemaTables | None = None,
    replace: bool = False,
    progress: Callable[[str, int, float], None] | None = None,
    data: DemoData | None = None,
) -> dict[str, int]:
    """Create the reference tables under `schema`'s names (default: the reference names) and fill them.

    Returns rows per actual table name. Refuses (DemoDatabaseNotEmpty) when those tables already
    hold rows, unless `replace`, which drops and recreates them: demo data must never land in a
    real platform database. Creates `schema.database_schema` (PostgreSQL schema, MySQL database)
    when it does not exist. `data` replaces the generator (the benchmark's largest data set
    generates its biggest tables inside the database instead of row by row in Python).
    """
    schema = schema or reference_tables()
    backend = engine.url.get_backend_name()
    bulk = _BULK.get(backend)
    if bulk is None:
        raise ValueError(f"demo data can be loaded into sqlite, postgresql, mysql or mariadb, not {backend}")
    where = schema.layout.database_schema
    if where is not None and bulk.create_schema is not None:
        with engine.begin() as connection:
            connection.execute(text(bulk.create_schema.format(engine.dialect.identifier_preparer.quote_schema(where))))
    if existing_rows(engine, schema) and not replace:
        raise DemoDatabaseNotEmpty(
            "the database already has rows in the reference tables; pass --replace to drop and recreate them"
        )
    metadata = schema.metadata
    metadata.drop_all(engine)
    metadata.create_all(engine)
    deferred = [index for table in schema.sorted_tables for index in table.indexes] if bulk.defer_indexes else []
    with engine.begin() as connection:
        for index in deferred:
            index.drop(connection)
    data = data if data is not None else DemoData(size, anchor)
    load = bulk.loader()
    counts: dict[str, int] = {}
    loading = create_engine(engine.url, connect_args=bulk.connect_args, poolclass=NullPool)
    raw = loading.raw_connection()
    try:
        dbapi: Any = raw.driver_connection
        cursor = dbapi.cursor()
        for statement in bulk.setup:
            cursor.execute(statement)
        cursor.close()
        for reference, keys, rows in data.tables():
            target = Target.of(schema.table(reference), keys, engine.dialect)
            started = time.perf_counter()
            counts[target.name] = load(dbapi, target, rows)
            if progress is not None:
                progress(target.name, counts[target.name], time.perf_counter() - started)
        raw.commit()
    finally:
        raw.close()
        loading.dispose()
    started = time.perf_counter()
    with engine.begin() as connection:
        for index in deferred:
            index.create(connection)
    quote = engine.dialect.identifier_preparer
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in schema.sorted_tables:
            for statement in bulk.finish(table, quote.format_table(table), quote.quote(table.c.id.name)):
                connection.execute(text(statement))
    if progress is not None:
        progress("(indexes, statistics)", sum(counts.values()), time.perf_counter() - started)
    return counts
