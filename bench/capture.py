"""The direct-SQL floor: the statements a provider run executed, replayed through the raw driver."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event


@dataclass
class Statements:
    """Statements and parameters in execution order, as the driver received them."""

    executed: list[tuple[str, Any]] = field(default_factory=list)


@contextmanager
def captured(engine: Engine) -> Iterator[Statements]:
    """Record every statement `engine` sends while the block runs."""
    statements = Statements()

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.executed.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def replay(engine: Engine, statements: Statements) -> float:
    """Seconds to execute the statements on one raw DBAPI cursor and fetch every row (the floor).

    The connection comes from the engine's pool, so it has the same session settings (read-only,
    statement timeout) as the exporter's; the transaction is rolled back as the exporter's is.
    """
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        started = time.perf_counter()
        for statement, parameters in statements.executed:
            cursor.execute(statement, parameters)
            cursor.fetchall()
        elapsed = time.perf_counter() - started
        cursor.close()
        connection.rollback()
    finally:
        connection.close()
    return elapsed
