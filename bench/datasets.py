"""The benchmark's data sets: cached SQLite files and scratch PostgreSQL databases."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import exporter.demo.data
import exporter.demo.load
import exporter.schema
from bench.bigdata import build_xl, ensure_database, xl_ready
from exporter.demo import DemoSize, create_demo_database
from exporter.schema import Layout, Naming, build_tables

POSTGRES_ADMIN_ENV = "COMMERCE_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Size:
    """A named data set; the other tables scale with vendors and orders (exporter/demo/data.py)."""

    name: str
    platforms: int
    vendors: int
    orders: int

    @property
    def demo(self) -> DemoSize:
        """As `exporter.demo` takes it."""
        return DemoSize(platforms=self.platforms, vendors=self.vendors, orders=self.orders)

    def describe(self) -> str:
        """`5 platforms, 10,000 vendors, 2,000,000 orders`."""
        return f"{self.platforms} platforms, {self.vendors:,} vendors, {self.orders:,} orders"


SIZES = {
    "Q": Size("Q", 3, 60, 6_000),
    "S": Size("S", 3, 100, 20_000),
    "M": Size("M", 3, 1_000, 200_000),
    "L": Size("L", 5, 10_000, 2_000_000),
    "XL": Size("XL", 5, 100_000, 20_000_000),
}
"""Q is the quick mode's (CI); M and L are the sizes of the targets; S to XL make the `--scale` curve
(XL on PostgreSQL only: its big tables are generated inside the database, `bench/bigdata.py`)."""

MARIADB_ADMIN_ENV = "COMMERCE_BENCH_MARIADB_URL"
DEFAULT_MARIADB_ADMIN = "mysql+pymysql://root@127.0.0.1:3306/"
XL_DATABASE_ENV = "COMMERCE_BENCH_XL_DATABASE"
DEFAULT_XL_DATABASE = "ce_bench_xl"
"""XL takes minutes to generate, so it lives in a database that is kept and reused while its row counts match."""


def _generator_digest() -> str:
    """Changes whenever the demo generator or the schema does, so a stale cached file is never used."""
    digest = hashlib.sha256()
    for module in (exporter.demo.data, exporter.demo.load, exporter.schema):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:12]


def _anchor() -> datetime:
    """Data is generated relative to today (UTC midnight) so windowed values are not empty."""
    return datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)


def sqlite_database(size: Size, cache: Path, naming: Naming = "reference") -> str:
    """URL of a SQLite file with `size`'s data in `naming`, built once and cached under `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    suffix = "" if naming == "reference" else f"-{naming}"
    path = cache / f"{size.name}-{size.platforms}-{size.vendors}-{size.orders}-{_generator_digest()}{suffix}.sqlite"
    if not path.exists():
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        engine = create_engine(f"sqlite:///{partial}")
        try:
            create_demo_database(engine, size.demo, anchor=_anchor(), schema=build_tables(Layout.of(naming)))
        finally:
            engine.dispose()
        partial.replace(path)
    return f"sqlite:///{path}"


@contextmanager
def postgresql_database(size: Size, naming: Naming = "reference") -> Iterator[str]:
    """A scratch database `ce_bench_<random>` with `size`'s data in `naming`; dropped on the way out."""
    admin_url = make_url(os.environ.get(POSTGRES_ADMIN_ENV, DEFAULT_POSTGRES_ADMIN))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"ce_bench_{uuid.uuid4().hex[:12]}"
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0"))
        try:
            engine = create_engine(url)
            try:
                create_demo_database(engine, size.demo, anchor=_anchor(), schema=build_tables(Layout.of(naming)))
            finally:
                engine.dispose()
            yield url
        finally:
            with admin.connect() as connection:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    finally:
        admin.dispose()


@contextmanager
def mariadb_database(size: Size) -> Iterator[str]:
    """A scratch MariaDB/MySQL database `ce_bench_<random>` with `size`'s data; dropped on the way out."""
    admin_url = make_url(os.environ.get(MARIADB_ADMIN_ENV, DEFAULT_MARIADB_ADMIN))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"ce_bench_{uuid.uuid4().hex[:12]}"
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
        try:
            engine = create_engine(url)
            try:
                create_demo_database(engine, size.demo, anchor=_anchor())
            finally:
                engine.dispose()
            yield url
        finally:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    finally:
        admin.dispose()


def xl_database(size: Size, say: Callable[[str], None]) -> str:
    """URL of the kept XL database (`COMMERCE_BENCH_XL_DATABASE`), generated first when missing or different."""
    admin_url = os.environ.get(POSTGRES_ADMIN_ENV, DEFAULT_POSTGRES_ADMIN)
    url = ensure_database(admin_url, os.environ.get(XL_DATABASE_ENV, DEFAULT_XL_DATABASE))
    if xl_ready(url, size.demo):
        say(f"{size.name}: reusing {make_url(url).database}")
        return url
    say(f"{size.name}: generating {size.describe()} in {make_url(url).database} (minutes)")
    started = time.perf_counter()
    seconds = build_xl(url, size.demo, _anchor(), say)
    say(f"{size.name}: generated in {time.perf_counter() - started:.0f} s ({seconds})")
    return url


@contextmanager
def database(backend: str, size: Size, cache: Path, naming: Naming = "reference") -> Iterator[str]:
    """A database URL with `size`'s data, tables named as `naming` says, on `backend` (sqlite, postgresql, mariadb)."""
    if backend == "sqlite":
        yield sqlite_database(size, cache, naming)
    elif backend == "postgresql":
        with postgresql_database(size, naming) as url:
            yield url
    elif backend == "mariadb" and naming == "reference":
        with mariadb_database(size) as url:
            yield url
    else:
        raise ValueError(f"backend must be sqlite, postgresql or mariadb (reference names), not {backend!r}")
