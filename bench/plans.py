"""`python -m bench.plans URL [--shard i/n] [--analyze]`: the plan of every statement a shard's run sends.

Captures the statements of one run of every provider (as `collection.shard` i/n), then asks the
database for each plan: `EXPLAIN (ANALYZE, BUFFERS)` on PostgreSQL with `--analyze`, `ANALYZE` on
MariaDB/MySQL, `EXPLAIN QUERY PLAN` on SQLite. The evidence behind docs/scaling.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import providers._sql
from bench.capture import captured
from bench.collection import exporter_runtime


def _explain(backend: str, cursor: Any, statement: str, parameters: Any, analyze: bool) -> list[str]:
    if backend == "postgresql":
        cursor.execute(("EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN ") + statement, parameters)
    elif backend == "sqlite":
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        return [" ".join(str(part) for part in row[1:]) for row in cursor.fetchall()]
    else:
        cursor.execute(("ANALYZE " if analyze else "EXPLAIN ") + statement, parameters)
        columns = [d[0] for d in cursor.description]
        return ["  ".join(f"{c}={v}" for c, v in zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return [str(row[0]) for row in cursor.fetchall()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plans", description=__doc__)
    parser.add_argument("url", help="database URL")
    parser.add_argument("--shard", default="0/1", help="collection.shard of the run (default 0/1)")
    parser.add_argument("--analyze", action="store_true", help="execute the statements (actual rows, time)")
    parser.add_argument("--provider", action="append", help="only these providers (repeatable)")
    parser.add_argument("--brief", action="store_true", help="the plans only, not the statements")
    parser.add_argument(
        "--no-in-list", action="store_true", help="no IN (...) list of vendors, as above 1,000 (the range alone)"
    )
    args = parser.parse_args(argv)
    if args.no_in_list:
        providers._sql.IN_LIST_LIMIT = 0
    with exporter_runtime(args.url, shard=args.shard) as runtime:
        engine = runtime.database.engine
        backend = engine.url.get_backend_name()
        for provider in runtime.providers:
            if args.provider and provider.name not in args.provider:
                continue
            with captured(engine) as statements, runtime.database.session() as db:
                runtime.runner.compute(provider, db)
            raw: Any = engine.raw_connection()
            try:
                cursor = raw.cursor()
                for statement, parameters in statements.executed:
                    if "GROUP BY" not in statement:
                        continue  # the directory's statements
                    print(f"== {provider.name} (shard {args.shard}) ==")
                    if not args.brief:
                        print(f"{statement}\n-- parameters: {parameters}")
                    print("\n".join(_explain(backend, cursor, statement, parameters, args.analyze)), end="\n\n")
            finally:
                raw.rollback()
                raw.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
