"""The exporter's database handle: a bounded pool of read-only, time-limited sessions."""

from __future__ import annotations

import logging
import re
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.engine.interfaces import ExceptionContext
from sqlalchemy.exc import ArgumentError, InvalidatePoolError, SQLAlchemyError
from sqlalchemy.orm import Session

from exporter.dialects import Timeouts, backend_for
from exporter.errors import ConfigError, DatabaseError, FailureReason
from exporter.schema import SESSION_INFO_KEY, SchemaTables, reference_tables
from exporter.watchdog import Watchdog

CANCEL_SECONDS = 1.0
"""How long stopping waits for the server to confirm the cancel of statements in progress."""

_ALARM = "commerce_exporter_alarm"
_FRESH = "commerce_exporter_fresh"

log = logging.getLogger(__name__)


def parse_url(url: str, path: str = "database.url") -> URL:
    """A SQLAlchemy URL, or a ConfigError that names the config path."""
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as err:
        # The message never repeats the URL: it may hold a password.
        raise ConfigError(
            [
                (
                    path,
                    "not a database URL (check the port and the characters to escape); expected e.g. "
                    "postgresql+psycopg://user@host:5432/db",
                )
            ]
        ) from err


_SECRET_PARAMETER = re.compile(r"pass|pwd|secret|token|credential", re.IGNORECASE)
"""Query parameters that carry a secret (psycopg `password`, `sslpassword`; PyMySQL `passwd`; any token)."""


def safe_url(url: str | URL) -> str:
    """The URL with its password, and any query parameter that looks like one, as `***` (for logs, `check-config`)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "<unparsable URL>"
    hidden = {
        name: "***" if isinstance(value, str) else tuple("***" for _ in value)
        for name, value in parsed.query.items()
        if _SECRET_PARAMETER.search(name)
    }
    if not hidden:
        return parsed.render_as_string(hide_password=True)
    # Query values are percent-encoded when rendered; show the mask as the user-info one reads.
    return parsed.update_query_dict(hidden).render_as_string(hide_password=True).replace("=%2A%2A%2A", "=***")


class Database:
    """Owns the engine; `session()` yields a read-only session whose statements time out server-side.

    Every session carries `schema` (the mapped reference tables) in `Session.info`, where
    `exporter.schema.tables(db)` finds it.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 3,
        connect_timeout: float = 5.0,
        statement_timeout: float = 30.0,
        schema: SchemaTables | None = None,
    ) -> None:
        self.url = make_url(url)
        self.schema = schema or reference_tables()
        self.backend = backend_for(self.url)
        self.timeouts = Timeouts(connect=connect_timeout, statement=statement_timeout)
        self.call_limit = statement_timeout + connect_timeout
        """Client-side bound of one statement: the server's time plus the network's."""
        self.watchdog = Watchdog(self.backend.interrupt)
        # Pre-ping is done in `_on_checkout` instead of SQLAlchemy's pool_pre_ping, so that the
        # ping is bounded by the watchdog too.
        options: dict[str, Any] = {"connect_args": self.backend.connect_args(self.timeouts)}
        if not (self.backend.name == "sqlite" and self.url.database in (None, "", ":memory:")):
            options |= {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": connect_timeout + statement_timeout}
        try:
            self.engine: Engine = create_engine(self.url, **options)
        except ImportError as err:
            raise ConfigError(
                [
                    (
                        "database.url",
                        f"the driver for {safe_url(self.url)} is not installed ({err}); "
                        "install commerce-exporter[postgres] or commerce-exporter[mysql]",
                    )
                ]
            ) from err
        except ArgumentError as err:
            raise ConfigError([("database.url", f"cannot use {safe_url(self.url)}: {err}")]) from err
        event.listen(self.engine, "do_connect", self._connect)
        event.listen(self.engine, "connect", self._on_connect)
        event.listen(self.engine, "checkout", self._on_checkout)
        event.listen(self.engine, "before_cursor_execute", self._before_statement)
        event.listen(self.engine, "after_cursor_execute", self._after_statement)
        event.listen(self.engine, "handle_error", self._on_error)

    def _connect(self, dialect: Any, record: Any, cargs: Any, cparams: Any) -> Any:
        """Connect as SQLAlchemy would, but close a failed attempt's socket now, not at the next GC."""
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as err:
            # psycopg raises a timed-out attempt's error from a frame that still holds the
            # half-open connection, and the error's traceback references that frame: a cycle only
            # the garbage collector breaks. Until it does, the socket stays open beyond pool_size.
            traceback.clear_frames(err.__traceback__)
            raise

    def _on_connect(self, dbapi_connection: Any, record: Any) -> None:
        self.backend.on_connect(dbapi_connection, record.info, self.timeouts)
        record.info[_FRESH] = True

    def _on_checkout(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        """Before a pooled connection is reused: make its session read-only and time-limited again.

        Whatever the previous run did to the session (a provider may commit and switch it to
        read-write) ends there. The same round trip is the liveness check: a dead connection
        makes the pool reconnect. Cost: one round trip per provider run, not per statement.
        """
        if record.info.pop(_FRESH, False):
            return
        with self.watchdog.watch(dbapi_connection, self.timeouts.connect):
            try:
                if not self.backend.reset(dbapi_connection, record.info, self.timeouts):
                    self.engine.dialect.do_ping(dbapi_connection)
            except Exception as err:  # any driver error: the pooled connections are unusable
                raise InvalidatePoolError(f"pooled connection failed its reset: {type(err).__name__}") from err

    def _before_statement(self, conn: Any, *_: Any) -> None:
        self.backend.before_statement(conn.connection.info, self.timeouts)
        conn.info[_ALARM] = self.watchdog.arm(conn.connection.dbapi_connection, self.call_limit)

    def _after_statement(self, conn: Any, *_: Any) -> None:
        alarm = conn.info.pop(_ALARM, None)
        if alarm is not None:
            self.watchdog.disarm(alarm)

    def _on_error(self, context: ExceptionContext) -> None:
        connection = context.connection
        alarm = connection.info.pop(_ALARM, None) if connection is not None and not connection.invalidated else None
        if alarm is not None and self.watchdog.disarm(alarm):
            context.is_disconnect = True  # its socket was shut down: the pool must not reuse it
            raise DatabaseError(
                f"no answer from the database within {alarm.limit:g}s "
                "(client-side limit: statement_timeout + connect_timeout)",
                FailureReason.TIMEOUT,
            ) from context.original_exception

    @property
    def display_url(self) -> str:
        """The URL without its password."""
        return safe_url(self.url)

    def translate(self, error: BaseException) -> DatabaseError:
        """A driver/SQLAlchemy error as a DatabaseError with a reason (timeout or error)."""
        original = getattr(error, "orig", None) or error
        reason = FailureReason.TIMEOUT if self.backend.is_timeout(original) else FailureReason.ERROR
        first_line = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
        return DatabaseError(f"{type(original).__name__}: {first_line}", reason)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One read-only transaction; always rolled back, never committed."""
        try:
            with Session(self.engine, autoflush=False, info={SESSION_INFO_KEY: self.schema}) as session:
                try:
                    yield session
                finally:
                    session.rollback()
        except SQLAlchemyError as err:
            raise self.translate(err) from err

    def ping(self) -> None:
        """`SELECT 1` through the pool; DatabaseError when the server cannot be reached."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                connection.rollback()
        except SQLAlchemyError as err:
            raise self.translate(err) from err

    def interrupt(self, cancel_within: float = CANCEL_SECONDS) -> int:
        """Stop every database call in progress (when stopping); returns how many.

        The server is asked to cancel each statement first (otherwise it would run on to its
        timeout after the exporter has gone), for at most `cancel_within` seconds in all; then
        the calls are broken off on this side.
        """
        targets = self.watchdog.armed_targets()
        if targets and cancel_within > 0:
            cancellers = [
                threading.Thread(target=self._cancel, args=(target, cancel_within), name="db-cancel", daemon=True)
                for target in targets
            ]
            deadline = time.monotonic() + cancel_within
            for thread in cancellers:
                thread.start()
            for thread in cancellers:
                thread.join(max(0.0, deadline - time.monotonic()))
        return self.watchdog.interrupt_all()

    def _cancel(self, dbapi_connection: Any, timeout: float) -> None:
        try:
            self.backend.cancel(dbapi_connection, self._connect_directly, timeout)
        except Exception as err:  # noqa: BLE001 - the client-side interrupt that follows ends the call anyway
            log.info("could not cancel a statement on the server: %s: %s", type(err).__name__, err)

    def _connect_directly(self) -> Any:
        """A DBAPI connection outside the pool, with the exporter's connect arguments (for a cancel)."""
        dialect = self.engine.dialect
        cargs, cparams = dialect.create_connect_args(self.url)
        return dialect.loaded_dbapi.connect(*cargs, **{**cparams, **self.backend.connect_args(self.timeouts)})

    def dispose(self) -> None:
        """Close every pooled connection and interrupt calls still in progress."""
        self.watchdog.interrupt_all()
        self.engine.dispose()
        self.watchdog.close()
