"""The reference tables as a real platform's database may hold them: for tests with dirty rows.

Same table and column names as the reference schema, but nothing beyond the primary key is
NOT NULL or UNIQUE, money is NUMERIC (or a float), currencies and statuses may be longer than
the catalog's codes, and a test may give a code column another type (an integer or binary code).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Column, Double, Engine, LargeBinary, MetaData, Numeric, String, Table, create_engine
from sqlalchemy.types import TypeEngine

from exporter.schema import reference_tables
from tests.support.databases import ServerDatabase, create_server_database, empty_all

WIDER = {"orders.currency": String(20), "orders.status": String(40), "marketplace_import_jobs.status": String(40)}
"""Room for padded currencies (` EUR `) and statuses outside the catalog."""


@dataclass(frozen=True)
class Variant:
    """How the relaxed tables differ from the reference ones."""

    name: str
    money: TypeEngine[object] = field(default_factory=lambda: Numeric(20, 4))
    """The type of `orders.total_amount_cents`."""
    types: Mapping[str, TypeEngine[object]] = field(default_factory=dict)
    """`"table.column"` → type, for columns that differ beyond money."""
    absent: frozenset[str] = frozenset()
    """Tables (`companies`) and columns (`vendors.company_id`) the database does not have."""


NUMERIC = Variant("numeric")
"""Money as NUMERIC(20, 4): fractions of a cent, and NaN/Infinity on PostgreSQL."""
FLOAT = Variant("float", money=Double())
"""Money as a double precision float."""
INTEGER_CODES = Variant(
    "integer-codes", types={"vendors.vendor_code": Numeric(12, 0), "platforms.code": Numeric(12, 0)}
)
"""Numeric code columns (a platform that numbers its vendors)."""
BINARY_CODES = Variant(
    "binary-codes",
    types={
        "vendors.vendor_code": LargeBinary(),
        "vendors.name": LargeBinary(),
        "platforms.code": LargeBinary(),
        "platforms.name": LargeBinary(),
    },
)
"""Binary code and name columns (BYTEA, BLOB): bytes that are UTF-8 or not."""


def relaxed_metadata(variant: Variant) -> MetaData:
    """The reference tables without every constraint but the primary key, with the variant's types and absences."""
    metadata = MetaData()
    for table in reference_tables().sorted_tables:
        if table.name in variant.absent:
            continue
        columns = []
        for column in table.columns:
            name = f"{table.name}.{column.name}"
            if name in variant.absent:
                continue
            kind = variant.money if name == "orders.total_amount_cents" else variant.types.get(name, WIDER.get(name))
            columns.append(
                Column(
                    column.name,
                    kind if kind is not None else column.type,
                    primary_key=column.primary_key,
                    autoincrement=False,
                    nullable=not column.primary_key,
                )
            )
        Table(table.name, metadata, *columns)
    return metadata


@dataclass
class RelaxedDatabases:
    """One scratch database per backend and variant, created on first use, emptied before each use."""

    created: dict[tuple[str, str], ServerDatabase] = field(default_factory=dict)

    @contextmanager
    def use(self, backend: str, variant: Variant, tmp_path: Path) -> Iterator[tuple[str, Engine, MetaData]]:
        """(url, writable engine, metadata) of an empty relaxed database."""
        metadata = relaxed_metadata(variant)
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / f'relaxed-{variant.name}.sqlite'}"
        else:
            key = (backend, variant.name)
            if key not in self.created:
                self.created[key] = create_server_database(backend)
                engine = create_engine(self.created[key].url)
                metadata.create_all(engine)
                engine.dispose()
            url = self.created[key].url
        engine = create_engine(url)
        try:
            if backend == "sqlite":
                metadata.create_all(engine)
            else:
                empty_all(engine, metadata)
            yield url, engine, metadata
        finally:
            engine.dispose()

    def drop(self) -> None:
        for database in self.created.values():
            database.drop()
