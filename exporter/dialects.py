"""Everything that differs between PostgreSQL, MySQL/MariaDB and SQLite, in one place.

Each backend makes exporter sessions read-only and bounded by a server-side statement
timeout, and says which driver errors mean "the statement ran out of time".

Providers run in the exporter's process with the session in their hands: one can commit and
switch the session to read-write or drop its timeout. So the settings are asserted again every
time the pool hands a connection out (`reset`), in the round trip that also checks the
connection is alive: whatever a run did to its session ends with that run.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed to connect and to run one statement."""

    connect: float
    statement: float


class Backend:
    """The portable default; subclasses override what their server does differently."""

    name = "generic"

    def connect_args(self, timeouts: Timeouts) -> dict[str, Any]:
        """Driver arguments for every new connection."""
        return {}

    def on_connect(self, dbapi_connection: Any, record_info: dict[str, Any], timeouts: Timeouts) -> None:
        """Session set-up run once per new connection."""

    def reset(self, dbapi_connection: Any, record_info: dict[str, Any], timeouts: Timeouts) -> bool:
        """Assert the session settings again before a pooled connection is reused.

        True when this reached the server (so it doubles as the liveness check); the generic
        backend knows no settings and returns False, and the caller pings instead.
        """
        return False

    def before_statement(self, record_info: dict[str, Any], timeouts: Timeouts) -> None:
        """Hook before each statement (SQLite arms its interrupt deadline here)."""

    def is_timeout(self, error: BaseException) -> bool:
        """Whether a driver error means the statement timeout fired."""
        return False

    def interrupt(self, dbapi_connection: Any) -> None:
        """Break off a call in progress on another thread (the client-side watchdog); must not block."""

    def cancel(self, dbapi_connection: Any, connect: Callable[[], Any], timeout: float) -> None:
        """Ask the server to stop the statement running on `dbapi_connection` (when stopping).

        May block up to about `timeout` (it talks to the server); `connect()` opens a new
        connection with the exporter's settings, for servers that cancel through one.
        """


class PostgreSQL(Backend):
    """Read-only repeatable-read transactions and `statement_timeout`, set at connection start-up."""

    name = "postgresql"
    QUERY_CANCELED = "57014"

    def connect_args(self, timeouts: Timeouts) -> dict[str, Any]:
        statement_ms = max(1, round(timeouts.statement * 1000))
        idle_ms = max(60_000, 2 * statement_ms)
        # libpq start-up options apply before the first statement; a space inside a value is "\ ".
        options = " ".join(
            (
                f"-c statement_timeout={statement_ms}",
                "-c default_transaction_read_only=on",
                r"-c default_transaction_isolation=repeatable\ read",
                f"-c idle_in_transaction_session_timeout={idle_ms}",
            )
        )
        return {
            "connect_timeout": max(1, math.ceil(timeouts.connect)),
            "application_name": "commerce-exporter",
            "options": options,
            # A peer that vanished (host down, connection dropped by a firewall) is noticed by TCP
            # instead of after hours; a slow but alive network is the watchdog's job (interrupt()).
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": round((timeouts.connect + timeouts.statement) * 1000),
        }

    def on_connect(self, dbapi_connection: Any, record_info: dict[str, Any], timeouts: Timeouts) -> None:
        self._begin_read_only(dbapi_connection)

    @staticmethod
    def _begin_read_only(dbapi_connection: Any) -> None:
        # psycopg then opens every transaction with BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY:
        # read-only even where the session defaults do not apply (PgBouncer in transaction mode).
        from psycopg import IsolationLevel

        dbapi_connection.isolation_level = IsolationLevel.REPEATABLE_READ
        dbapi_connection.read_only = True

    def reset(self, dbapi_connection: Any, record_info: dict[str, Any], timeouts: Timeouts) -> bool:
        statement_ms = max(1, round(timeouts.statement * 1000))
        # Outside a transaction (autocommit), so they are the session's settings, not a transaction's.
        dbapi_connection.autocommit = True
        try:
            dbapi_connection.execute(
                "SET SESSION AUTHORIZATION DEFAULT; RESET ROLE; "
                "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
                f"SET statement_timeout = {statement_ms}; "
                f"SET idle_in_transaction_session_timeout = {max(60_000, 2 * statement_ms)}"
            )
        finally:
            dbapi_connection.autocommit = False
        self._begin_read_only(dbapi_connection)
        return True

    def cancel(self, dbapi_connection: Any, connect: Callable[[], Any], timeout: float) -> None:
        # A cancel request travels on a connection of its own; libpq ≥ 17 gives up after `timeout`.
        dbapi_connection.cancel_safe(timeout=timeout)

    def interrupt(self, dbapi_connection: Any) -> None:
        # Shutting the socket down wakes libpq's wait at once with "server closed the connection";
        # a cancel request would need a round trip over the very network that is not answering.
        try:
            fd = dbapi_connection.pgconn.socket
        except Exception:  # noqa: BLE001 - psycopg raises its own error once the connection is closed: nothing to do
            return
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)

    def is_timeout(self, error: BaseException) -> bool:
        return getattr(error, "sqlstate", None) == self.QUERY_CANCELED or getattr(error, "pgcode", None) == (
            self.QUERY_CANCELED
        )


class MySQL(Backend):
    """MariaDB `max_statement_time` or MySQL `max_execution_time`; read-only repeatable-read transactions."""

    name = "mysql"
    MARIADB_STATEMENT_TIMEOUT = 1969
    MYSQL_QUERY_TIMEOUT = 3024
    CLIENT_LOST_DURING_QUERY = 2013

    def connect_args(self, timeouts: Timeouts) -> dict[str, Any]:
        # The client-side read timeout only catches a server that stopped answering at all;
        # the server-side limit (set in on_connect) is the one that normally fires.
        return {
            "connect_timeout": max(1, math.ceil(timeouts.connect)),
            "read_timeout": math.ceil(timeouts.statement) + 10,
            "write_timeout": math.ceil(timeouts.statement) + 10,
        }

    def on_connect(self, dbapi_connection: Any, record_info: dict[str, Any], timeouts: Timeouts) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT VERSION()")
            version = str(cursor.fetchone()[0])
            # MySQL 8 knows only transaction_*, MariaDB before 11.1 only tx_*: ask which this server has.
            cursor.execute(
                "SHOW SESSION VARIABLES WHERE Variable_name IN "
                "('transaction_read_only', 'tx_read_only', 'transaction_isolation', 'tx_isolation')"
            )
            names = {str(row[0]) for row in cursor.fetchall()}
            read_only = "transaction_read_only" if "transaction_read_only" in names else "tx_read_only"
            isolation = "transaction_isolation" if "transaction_isolation" in names else "tx_isolation"
            if "mariadb" in version.lower():
                timeout = f"max_statement_time = {timeouts.statement:.3f}"
            else:
                timeout = f"max_execution_time = {max(1, round(timeouts.statement * 1000))}"
            # Like PostgreSQL: every provider run reads one consistent snapshot, and cannot write.
            record_info[self._RESET] = (
                f"SET SESSION {timeout}, SESSION {read_only} = 1, SESSION {isolation} = 'REPEATABLE-READ', "
                "SESSION autocommit = 0"
            )
            cursor.execute(record_info[self._RESET])
        finally:
            cursor.close()

    _RESET = "commerce_exporter_reset"

    def reset(self, dbapi_connection: Any, record_info: dict[str, Any], timeouts: Timeouts) -> bool:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(record_info[self._RESET])
        finally:
            cursor.close()
        return True

    def cancel(self, dbapi_connection: Any, connect: Callable[[], Any], timeout: float) -> None:
        # Any account may KILL QUERY its own threads; the new connection has the usual connect timeout.
        thread_id = dbapi_connection.thread_id()
        killer = connect()
        try:
            with killer.cursor() as cursor:
                cursor.execute(f"KILL QUERY {int(thread_id)}")
        finally:
            killer.close()

    def is_timeout(self, error: BaseException) -> bool:
        args = getattr(error, "args", ())
        code = args[0] if args else None
        if code in (self.MARIADB_STATEMENT_TIMEOUT, self.MYSQL_QUERY_TIMEOUT):
            return True
        return code == self.CLIENT_LOST_DURING_QUERY and "timed out" in str(error)


class _Deadline:
    """Monotonic deadline of the statement running on one SQLite connection."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at = math.inf

    def expired(self) -> int:
        # The progress handler aborts the statement ("interrupted") when it returns non-zero.
        return 1 if time.monotonic() > self.at else 0


def _text(data: bytes) -> str:
    """SQLite TEXT as str; invalid UTF-8 (SQLite stores any bytes) becomes lone surrogates.

    The default decoding raises on such a value, which would fail every statement that reads
    it: the directory, and so every provider. Lone surrogates are not text, so a code or name
    holding them is handled as not text (docs/database.md, "Dirty rows"). Decoding in Python
    costs a few percent on the largest statement and nothing on the other backends, which
    validate text on insert (measured: see docs/architecture.md, Figures behind choices in the code).
    """
    return data.decode("utf-8", "surrogateescape")


class SQLite(Backend):
    """`PRAGMA query_only` and an interrupt through the progress handler."""

    name = "sqlite"
    PROGRESS_STEPS = 10_000

    def connect_args(self, timeouts: Timeouts) -> dict[str, Any]:
        return {"timeout": timeouts.connect, "check_same_thread": False}

    def on_connect(self, dbapi_connection: Any, record_info: dict[str, Any], timeouts: Timeouts) -> None:
        record_info["deadline"] = _Deadline()
        self.reset(dbapi_connection, record_info, timeouts)

    def reset(self, dbapi_connection: Any, record_info: dict[str, Any], timeouts: Timeouts) -> bool:
        dbapi_connection.execute("PRAGMA query_only = ON")
        dbapi_connection.text_factory = _text
        dbapi_connection.set_progress_handler(record_info["deadline"].expired, self.PROGRESS_STEPS)
        return True

    def before_statement(self, record_info: dict[str, Any], timeouts: Timeouts) -> None:
        deadline = record_info.get("deadline")
        if deadline is not None:
            deadline.at = time.monotonic() + timeouts.statement

    def is_timeout(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.OperationalError) and "interrupted" in str(error)

    def interrupt(self, dbapi_connection: Any) -> None:
        dbapi_connection.interrupt()


def backend_for(url: URL) -> Backend:
    """The backend of a SQLAlchemy URL (`postgresql+psycopg://…`, `mariadb+pymysql://…`, `sqlite:///…`)."""
    name = url.get_backend_name()
    if name == "postgresql":
        return PostgreSQL()
    if name in ("mysql", "mariadb"):
        return MySQL()
    if name == "sqlite":
        return SQLite()
    return Backend()
