"""Everything that differs between PostgreSQL, MySQL/MariaDB and SQLite, in one place.

Each backend makes exporter sessions read-only and bounded by a server-side statement
timeout, and says which driver errors mean "the statement ran out of time".
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import sqlite3
import time
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

    def before_statement(self, record_info: dict[str, Any], timeouts: Timeouts) -> None:
        """Hook before each statement (SQLite arms its interrupt deadline here)."""

    def is_timeout(self, error: BaseException) -> bool:
        """Whether a driver error means the statement timeout fired."""
        return False

    def interrupt(self, dbapi_connection: Any) -> None:
        """Break off a call in progress on another thread (the client-side watchdog); must not block."""


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
            if "mariadb" in version.lower():
                cursor.execute(f"SET SESSION max_statement_time = {timeouts.statement:.3f}")
            else:
                cursor.execute(f"SET SESSION max_execution_time = {max(1, round(timeouts.statement * 1000))}")
            # Like PostgreSQL: every provider run reads one consistent snapshot, and cannot write.
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        finally:
            cursor.close()

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
    costs about 7 % on the largest statement (the orders groups at 10,000 vendors: 0.29 s
    instead of 0.27 s) and nothing on the other backends, which validate text on insert.
    """
    return data.decode("utf-8", "surrogateescape")


class SQLite(Backend):
    """`PRAGMA query_only` and an interrupt through the progress handler."""

    name = "sqlite"
    PROGRESS_STEPS = 10_000

    def connect_args(self, timeouts: Timeouts) -> dict[str, Any]:
        return {"timeout": timeouts.connect, "check_same_thread": False}

    def on_connect(self, dbapi_connection: Any, record_info: dict[str, Any], timeouts: Timeouts) -> None:
        deadline = record_info["deadline"] = _Deadline()
        dbapi_connection.execute("PRAGMA query_only = ON")
        dbapi_connection.text_factory = _text
        dbapi_connection.set_progress_handler(deadline.expired, self.PROGRESS_STEPS)

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
