"""`commerce-exporter` commands: serve, collect, check-config, check-schema, demo-db, providers."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from exporter import __version__
from exporter.app import Exporter
from exporter.config import Config, load_config
from exporter.db import Database
from exporter.discovery import discover, instantiate, load_providers
from exporter.errors import ConfigError, DatabaseError, ProviderLoadError
from exporter.schema import REFERENCE_LAYOUT, Layout, build_tables
from exporter.schemacheck import check_schema

log = logging.getLogger("exporter")

EXIT_OK, EXIT_RUNTIME, EXIT_USAGE = 0, 1, 2
DEMO_DB_ENV = "COMMERCE_DEMO_DB"
STOP_SECONDS = 5.0
"""How long SIGTERM waits for provider runs in progress before the process exits anyway."""
DEMO_MAX_AGE = 24 * 3600
"""The demo database is rebuilt once a day so its windowed values (new orders…) stay alive."""


def demo_database_path(layout: Layout = REFERENCE_LAYOUT) -> Path:
    """Where `--demo` keeps its SQLite file (override with COMMERCE_DEMO_DB); one file per `schema:` layout."""
    configured = os.environ.get(DEMO_DB_ENV)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = Path(configured) if configured else cache / "commerce-exporter" / "demo.sqlite"
    if layout == REFERENCE_LAYOUT:
        return path
    digest = hashlib.sha256(repr(layout).encode()).hexdigest()[:10]
    return path.with_name(f"{path.stem}-{digest}{path.suffix}")


def ensure_demo_database(path: Path | None = None, layout: Layout = REFERENCE_LAYOUT) -> str:
    """Create (or refresh, when a day old) the small demo database in `layout`; returns its URL."""
    from sqlalchemy import create_engine

    from exporter.demo import DemoSize, create_demo_database

    path = path or demo_database_path(layout)
    fresh = path.exists() and time.time() - path.stat().st_mtime < DEMO_MAX_AGE
    if not fresh:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        engine = create_engine(f"sqlite:///{partial}")
        try:
            create_demo_database(
                engine, DemoSize(), anchor=datetime.now(UTC).replace(tzinfo=None), schema=build_tables(layout)
            )
        finally:
            engine.dispose()
        partial.replace(path)
        log.info("demo database created at %s", path)
    return f"sqlite:///{path}"


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # APScheduler logs every job start and end at INFO; only its warnings matter here.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _config_loader(args: argparse.Namespace) -> Callable[[], Config]:
    """A function that reads the config as the command line says (called again on every reload).

    With `--demo` the demo database is built in the layout the config's `schema:` section
    describes (naming, renamed tables and columns), so a mapping can be tried without a platform.
    """
    overrides: dict[str, dict[str, Any]] = {}
    server: dict[str, Any] = {}
    if getattr(args, "listen", None):
        server["listen"] = args.listen
    if getattr(args, "web_config", None):
        server["web_config_file"] = args.web_config
    if server:
        overrides["server"] = server
    if not getattr(args, "demo", False):
        return lambda: load_config(args.config, overrides=overrides)

    # The demo database is SQLite: one schema per file, so `schema.database_schema` does not apply to it.
    demo_overrides = {**overrides, "schema": {"database_schema": None}}

    def load_with_demo() -> Config:
        provisional = load_config(args.config, overrides={**demo_overrides, "database": {"url": "sqlite://"}})
        url = ensure_demo_database(layout=provisional.schema_.layout)
        return load_config(args.config, overrides={**demo_overrides, "database": {"url": url, "password_file": None}})

    return load_with_demo


def _print_config_error(err: ConfigError, config_file: str | None = None) -> int:
    if err.source is None and config_file is not None:
        err = ConfigError(err.problems, config_file)  # found while building from the file (driver, password file)
    print(f"configuration error:\n{err}", file=sys.stderr)
    return EXIT_USAGE


# --- commands ---------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from exporter.http import HttpServer

    exporter = Exporter(_config_loader(args))
    try:
        exporter.start()
    except ConfigError as err:
        return _print_config_error(err, args.config)
    assert exporter.runtime is not None
    server = exporter.runtime.config.server

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        http = HttpServer(exporter, server)
        await http.start()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        # Reloading reads files and pings the database: on a worker thread, never on the event loop.
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, exporter.reload))
        log.info("listening on %s (%s), metrics at %s", server.listen, exporter.web.describe(), server.metrics_path)
        await stop.wait()
        log.info("stopping")
        await http.stop()

    try:
        asyncio.run(run())
    except OSError as err:
        log.error("cannot listen on %s: %s", server.listen, err.strerror or err)
        exporter.stop()
        return EXIT_RUNTIME
    if not exporter.stop(wait=True, timeout=STOP_SECONDS):
        # A provider thread is stuck in a call the watchdog could not break (a connect in
        # progress); nothing it holds needs saving, and SIGTERM must end the process promptly.
        log.warning("exiting with a provider run still in progress")
        logging.shutdown()
        os._exit(EXIT_OK)
    log.info("stopped")
    return EXIT_OK


def cmd_collect(args: argparse.Namespace) -> int:
    exporter = Exporter(_config_loader(args))
    try:
        results = exporter.collect_once()
    except ConfigError as err:
        return _print_config_error(err, args.config)
    finally:
        exporter.stop()
    body = exporter.scrape(openmetrics=args.format == "openmetrics", gzip=False)
    out = sys.stdout.buffer
    try:
        for piece in body.pieces:
            out.write(piece)
        out.flush()
    except BrokenPipeError:
        # The reader left early (`collect | head`): not a failure of the collection. Point stdout
        # at /dev/null so the interpreter's own flush at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    failed = [r for r in results if not r.ok]
    for result in failed:
        print(f"provider {result.provider} failed ({result.reason}): {result.error}", file=sys.stderr)
    return EXIT_RUNTIME if failed else EXIT_OK


def cmd_check_config(args: argparse.Namespace) -> int:
    loader = _config_loader(args)
    try:
        config = loader()
        # What `serve` builds before it starts, without connecting or scheduling: web config, database
        # engine (dialect and driver), providers, the schedule. A config this accepts, serve accepts.
        runtime = Exporter(loader).build(config)
    except ConfigError as err:
        return _print_config_error(err, args.config)
    runtime.database.dispose()
    if runtime.failures:
        problems = [f"providers.{f.name}: {f.message}" for f in runtime.failures]
        print("configuration error:\n" + "\n".join(problems), file=sys.stderr)
        return EXIT_USAGE
    yaml.safe_dump(config.masked(), sys.stdout, sort_keys=False, allow_unicode=True)
    print(f"# providers: {', '.join(p.name for p in runtime.providers) or 'none'}")
    print(f"# web: {runtime.web.describe()}")
    return EXIT_OK


def cmd_check_schema(args: argparse.Namespace) -> int:
    try:
        config = _config_loader(args)()
        url = config.database_url()
        loaded = load_providers(config)
        schema = config.schema_.mapped_tables
        database = Database(
            url,
            pool_size=config.database.pool_size,
            connect_timeout=config.database.connect_timeout.total_seconds(),
            statement_timeout=config.database.statement_timeout.total_seconds(),
            schema=schema,
        )
    except ConfigError as err:
        return _print_config_error(err)
    where = f"{database.display_url} ({schema.layout.describe()})"
    try:
        with database.session() as db:
            report = check_schema(
                db,
                schema,
                {p.name: p.provider for p in loaded.providers},
                where=where,
                failed={f.name: f.message for f in loaded.failures},
            )
    except DatabaseError as err:
        print(f"check-schema: cannot read {database.display_url}: {err}", file=sys.stderr)
        return EXIT_RUNTIME
    finally:
        database.dispose()
    sys.stdout.write(report.render())
    return EXIT_RUNTIME if report.blocked else EXIT_OK


def cmd_demo_db(args: argparse.Namespace) -> int:
    from sqlalchemy import create_engine

    from exporter.db import safe_url
    from exporter.demo import DemoDatabaseNotEmpty, DemoSize, create_demo_database

    layout = REFERENCE_LAYOUT
    if args.config:
        try:
            layout = load_config(args.config, overrides={"database": {"url": args.url}}).schema_.layout
        except ConfigError as err:
            return _print_config_error(err)
    if args.naming:
        layout = dataclasses.replace(layout, naming=args.naming)
    size = DemoSize(platforms=args.platforms, vendors=args.vendors, orders=args.orders, seed=args.seed)
    anchor = (
        datetime.fromisoformat(args.anchor) if args.anchor else datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    )
    engine = create_engine(args.url)

    def progress(table: str, rows: int, seconds: float) -> None:
        print(f"{table:<24} {rows:>10,} rows {seconds:8.2f}s", file=sys.stderr)

    started = time.perf_counter()
    try:
        counts = create_demo_database(
            engine, size, anchor=anchor, schema=build_tables(layout), replace=args.replace, progress=progress
        )
    except DemoDatabaseNotEmpty as err:
        print(f"demo-db: {safe_url(args.url)}: {err}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        engine.dispose()
    total = sum(counts.values())
    print(f"{total:,} rows into {safe_url(args.url)} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return EXIT_OK


def cmd_providers(args: argparse.Namespace) -> int:
    for candidate in discover():
        try:
            provider = instantiate(candidate)
        except ProviderLoadError as err:
            print(f"{candidate.name}\tFAILED\t{candidate.origin}\t{err}")
            continue
        print(f"{candidate.name}\t{provider.calls}\t{candidate.origin}\t{', '.join(provider.metric_keys)}")
    return EXIT_OK


# --- parsing ----------------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="commerce-exporter", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="collect on a schedule and serve /metrics")
    serve.add_argument("--config", help="YAML config file (default: built-in defaults + environment)")
    serve.add_argument("--listen", help="HOST:PORT, overrides server.listen")
    serve.add_argument("--demo", action="store_true", help="use (and create) the SQLite demo database")
    serve.add_argument("--web-config", help="TLS/basic-auth web config file, overrides server.web_config_file")
    serve.set_defaults(handler=cmd_serve)

    collect = commands.add_parser("collect", help="run every provider once and print the exposition")
    collect.add_argument("--config")
    collect.add_argument("--demo", action="store_true")
    collect.add_argument("--format", choices=("text", "openmetrics"), default="text")
    collect.set_defaults(handler=cmd_collect)

    check = commands.add_parser("check-config", help="validate the config and print the effective one")
    check.add_argument("--config")
    check.add_argument("--web-config", help="also validate this web config (default: server.web_config_file)")
    check.add_argument("--demo", action="store_true", help=argparse.SUPPRESS)
    check.set_defaults(handler=cmd_check_config)

    checks = commands.add_parser(
        "check-schema", help="compare the tables and columns every enabled provider reads with the database"
    )
    checks.add_argument("--config")
    checks.add_argument("--demo", action="store_true", help=argparse.SUPPRESS)
    checks.set_defaults(handler=cmd_check_schema)

    demo = commands.add_parser("demo-db", help="create deterministic demo data in any layout of the reference schema")
    demo.add_argument("--url", required=True, help="SQLAlchemy URL of the target database")
    demo.add_argument(
        "--naming", choices=("reference", "store"), help="table and column naming (default: reference, or --config's)"
    )
    demo.add_argument("--config", help="build the layout of this config's schema: section (tables, columns, schema)")
    demo.add_argument("--platforms", type=_positive, default=3)
    demo.add_argument("--vendors", type=_positive, default=40)
    demo.add_argument("--orders", type=_positive, default=5_000)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--anchor", help="'now' of the generated timestamps (ISO, UTC); default: now")
    demo.add_argument("--replace", action="store_true", help="drop and recreate the layout's tables that have rows")
    demo.set_defaults(handler=cmd_demo_db)

    providers = commands.add_parser("providers", help="list discovered providers and their keys")
    providers.set_defaults(handler=cmd_providers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and `python -m exporter`."""
    args = build_parser().parse_args(argv)
    _configure_logging(args.log_level)
    result: int = args.handler(args)
    return result
