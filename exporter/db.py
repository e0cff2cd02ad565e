"""The exporter's database handle: a bounded pool of read-only, time-limited sessions."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from exporter.dialects import Timeouts, backend_for
from exporter.errors import ConfigError, DatabaseError, FailureReason

log = logging.getLogger(__name__)


def parse_url(url: str, path: str = "database.url") -> URL:
    """A SQLAlchemy URL, or a ConfigError that names the config path."""
    try:
        return make_url(url)
    except ArgumentError as err:
        raise ConfigError(
            [(path, f"not a database URL ({err}); expected e.g. postgresql+psycopg://user@host/db")]
        ) from err


def safe_url(url: str | URL) -> str:
    """The URL with its password replaced by `***`, for logs and `check-config`."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


class Database:
    """Owns the engine; `session()` yields a read-only session whose statements time out server-side."""

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 3,
        connect_timeout: float = 5.0,
        statement_timeout: float = 30.0,
    ) -> None:
        self.url = make_url(url)
        self.backend = backend_for(self.url)
        self.timeouts = Timeouts(connect=connect_timeout, statement=statement_timeout)
        options: dict[str, Any] = {"pool_pre_ping": True, "connect_args": self.backend.connect_args(self.timeouts)}
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
        event.listen(self.engine, "connect", self._on_connect)
        event.listen(self.engine, "before_cursor_execute", self._before_statement)

    def _on_connect(self, dbapi_connection: Any, record: Any) -> None:
        self.backend.on_connect(dbapi_connection, record.info, self.timeouts)

    def _before_statement(self, conn: Any, *_: Any) -> None:
        self.backend.before_statement(conn.connection.info, self.timeouts)

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
            with Session(self.engine, autoflush=False) as session:
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

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
