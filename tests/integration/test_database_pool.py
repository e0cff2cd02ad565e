"""The connection pool: bounded in size, and pre-ping replaces connections the server dropped."""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest
from sqlalchemy import create_engine, text

from exporter.db import Database
from exporter.errors import DatabaseError
from tests.conftest import BACKEND_PARAMS

SERVER_BACKENDS = [param for param in BACKEND_PARAMS if param.id != "sqlite"]

SERVER_ID = {"postgresql": "SELECT pg_backend_pid()", "mariadb": "SELECT CONNECTION_ID()"}
KILL = {"postgresql": "SELECT pg_terminate_backend({id})", "mariadb": "KILL CONNECTION {id}"}
READ_ONLY = {"postgresql": "SHOW transaction_read_only", "mariadb": "SELECT @@session.tx_read_only"}


def test_pool_never_opens_more_than_pool_size_connections(database_url: str) -> None:
    """With pool_size=2 and both connections busy, a third session waits, then fails instead of connecting."""
    database = Database(database_url, pool_size=2, connect_timeout=0.2, statement_timeout=0.3)
    try:
        with ExitStack() as busy:
            for _ in range(2):
                session = busy.enter_context(database.session())
                session.execute(text("SELECT 1"))
            assert database.engine.pool.checkedout() == 2  # type: ignore[attr-defined]
            started = time.monotonic()
            with pytest.raises(DatabaseError), database.session() as third:
                third.execute(text("SELECT 1"))
            assert time.monotonic() - started >= 0.4  # it waited for a free connection (pool_timeout)
        assert database.engine.pool.checkedin() == 2  # type: ignore[attr-defined]
    finally:
        database.dispose()


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_pre_ping_replaces_a_connection_the_server_killed(database_url: str, backend: str) -> None:
    """After the server kills the pooled connection, the next session gets a fresh one that is read-only again."""
    database = Database(database_url, pool_size=1)
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with database.session() as session:
            first = session.execute(text(SERVER_ID[backend])).scalar_one()
        with admin.connect() as connection:
            connection.execute(text(KILL[backend].format(id=int(first))))
        time.sleep(0.2)  # let the server finish closing the socket
        with database.session() as session:
            second = session.execute(text(SERVER_ID[backend])).scalar_one()
            read_only = session.execute(text(READ_ONLY[backend])).scalar_one()
        assert second != first
        assert str(read_only).lower() in ("on", "1")
    finally:
        database.dispose()
        admin.dispose()
