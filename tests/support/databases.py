"""Test databases on the three backends: created per test session, emptied per test, dropped at the end."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Engine, MetaData, create_engine, delete, text
from sqlalchemy.engine import make_url

from exporter.schema import SchemaTables, reference_tables

BACKENDS = ("sqlite", "postgresql", "mariadb")

ADMIN_URLS = {
    "postgresql": os.environ.get("COMMERCE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    "mariadb": os.environ.get("COMMERCE_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/"),
}
"""Administrative connections used to create and drop the per-session databases."""


def in_ci() -> bool:
    """CI=true turns "service not available → skip" into a failure."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str) -> None:
    """Skip locally, fail in CI: a missing service must never pass silently there."""
    if in_ci():
        pytest.fail(f"{what} is not available, and CI=true forbids skipping", pytrace=False)
    pytest.skip(f"{what} is not available")


@dataclass
class ServerDatabase:
    """A scratch database on a real server, owned by this test session."""

    backend: str
    url: str
    admin: Engine
    also: list[str] = field(default_factory=list)
    """MySQL databases next to it that tests created (a layout whose tables live in another database)."""

    def drop(self) -> None:
        name = make_url(self.url).database
        with self.admin.connect() as connection:
            if self.backend == "postgresql":
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :n AND pid <> pg_backend_pid()"
                    ),
                    {"n": name},
                )
            for database in (name, *self.also):
                connection.execute(text(f"DROP DATABASE IF EXISTS {database}"))
        self.admin.dispose()


def create_server_database(backend: str) -> ServerDatabase:
    """CREATE DATABASE ce_test_<random> on the backend's server; skips (or fails in CI) if unreachable."""
    admin_url = make_url(ADMIN_URLS[backend])
    admin = create_engine(
        admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True, connect_args={"connect_timeout": 5}
    )
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as err:  # any driver error means the server cannot be used
        admin.dispose()
        unavailable(f"{backend} at {admin_url.render_as_string(hide_password=True)} ({type(err).__name__})")
    name = f"ce_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        if backend == "postgresql":
            connection.execute(text(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0"))
        else:
            connection.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    return ServerDatabase(backend, url, admin)


def empty_all(engine: Engine, schema: SchemaTables | MetaData | None = None) -> None:
    """Delete every row of every reference table (under `schema`'s names, or `schema`'s own tables), children first."""
    with engine.begin() as connection:
        for table in reversed((schema or reference_tables()).sorted_tables):
            connection.execute(delete(table))
