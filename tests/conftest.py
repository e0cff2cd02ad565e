"""Shared fixtures: backends (SQLite, PostgreSQL, MariaDB), writable engines, config files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from exporter.schema import reference_tables
from tests.support.databases import BACKENDS, ServerDatabase, create_server_database, empty_all
from tests.support.layouts import LAYOUTS, LayoutDatabase, schema_section
from tests.support.pgcluster import PgCluster

BACKEND_PARAMS = [
    pytest.param(name, marks=[getattr(pytest.mark, name)] if name != "sqlite" else [], id=name) for name in BACKENDS
]


@pytest.fixture(scope="session")
def _server_databases() -> Iterator[dict[str, ServerDatabase]]:
    created: dict[str, ServerDatabase] = {}
    yield created
    for database in created.values():
        database.drop()


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once per backend."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, _server_databases: dict[str, ServerDatabase]) -> Iterator[str]:
    """URL of an empty database with the reference schema, on the current backend."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'platform.sqlite'}"
        engine = create_engine(url)
        reference_tables().metadata.create_all(engine)
        engine.dispose()
        yield url
        return
    if backend not in _server_databases:
        server_database = create_server_database(backend)
        _server_databases[backend] = server_database
        engine = create_engine(server_database.url)
        reference_tables().metadata.create_all(engine)
        engine.dispose()
    url = _server_databases[backend].url
    engine = create_engine(url)
    empty_all(engine)
    engine.dispose()
    yield url


@pytest.fixture(params=LAYOUTS)
def layout(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once per database layout (reference, store naming, prefixed and renamed)."""
    return str(request.param)


@pytest.fixture
def layout_database(
    backend: str, tmp_path: Path, _server_databases: dict[str, ServerDatabase]
) -> Callable[[str], LayoutDatabase]:
    """A function: layout name → an empty database with the reference tables in that layout, on the current backend.

    Server databases are created once per session and layout, then emptied for each test.
    """

    def make(layout: str) -> LayoutDatabase:
        if backend == "sqlite":
            database = LayoutDatabase(
                layout, f"sqlite:///{tmp_path / f'{layout}.sqlite'}", schema_section(layout, backend)
            )
            engine = create_engine(database.url)
            database.tables.metadata.create_all(engine)
            engine.dispose()
            return database
        key = f"{backend}/{layout}"
        fresh = key not in _server_databases
        if fresh:
            _server_databases[key] = create_server_database(backend)
        server = _server_databases[key]
        database = LayoutDatabase(layout, server.url, schema_section(layout, backend, make_url(server.url).database))
        engine = create_engine(server.url)
        if fresh:
            where = database.tables.layout.database_schema
            if where is not None:
                with engine.begin() as connection:
                    if backend == "postgresql":
                        connection.execute(text(f"CREATE SCHEMA {where}"))
                    else:
                        connection.execute(text(f"CREATE DATABASE {where} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
                        server.also.append(where)
            database.tables.metadata.create_all(engine)
        else:
            empty_all(engine, database.tables)
        engine.dispose()
        return database

    return make


@pytest.fixture
def writer(database_url: str) -> Iterator[Engine]:
    """A writable engine on the test database (the exporter's own sessions are read-only)."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An empty SQLite database with the reference schema (for tests that need no other backend)."""
    url = f"sqlite:///{tmp_path / 'platform.sqlite'}"
    engine = create_engine(url)
    reference_tables().metadata.create_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def writer_sqlite(sqlite_url: str) -> Iterator[Engine]:
    """A writable engine on `sqlite_url`."""
    engine = create_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config mapping (or raw YAML text) to a file and return its path."""
    counter = iter(range(1_000_000))

    def write(content: dict[str, object] | str) -> Path:
        path = tmp_path / f"config-{next(counter)}.yml"
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A private PostgreSQL cluster (own data directory and port) that fault tests may stop and crash."""
    cluster = PgCluster()
    try:
        yield cluster
    finally:
        cluster.destroy()
