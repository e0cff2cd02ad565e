"""The `commerce-exporter` commands as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, select

from exporter.schema import reference_tables
from tests.support.processes import promtool, run_cli


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, with `env` added to this environment."""
    return run_cli(*args, env={**os.environ, **(env or {})})


def test_collect_demo_passes_promtool(tmp_path: Path) -> None:
    """`collect --demo` exits 0 and its output has no `promtool check metrics` findings."""
    result = run("collect", "--demo", env={"COMMERCE_DEMO_DB": str(tmp_path / "demo.sqlite")})
    assert result.returncode == 0, result.stderr
    lint = promtool("check", "metrics", stdin=result.stdout.encode())
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout.decode() + lint.stderr.decode()
    assert "commerce_platform_marketplace_import_success_rate_ratio{" in result.stdout


def test_collect_openmetrics_format(tmp_path: Path) -> None:
    """`collect --format openmetrics` prints OpenMetrics ending with # EOF."""
    result = run("collect", "--demo", "--format", "openmetrics", env={"COMMERCE_DEMO_DB": str(tmp_path / "d.sqlite")})
    assert result.returncode == 0
    assert result.stdout.endswith("# EOF\n")


def test_collect_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`collect | head -n 1`: the reader leaving early is no error; no traceback, the usual exit code."""
    env = {**os.environ, "COMMERCE_DEMO_DB": str(tmp_path / "demo.sqlite")}
    command = [sys.executable, "-m", "exporter", "collect", "--demo"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as child:
        assert child.stdout is not None and child.stderr is not None
        first = child.stdout.readline()
        child.stdout.close()  # like `head -n 1` exiting after its line
        errors = child.stderr.read().decode()
        code = child.wait(timeout=120)
    assert first.startswith(b"# HELP ")
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
    assert code == 0, errors


def test_collect_exits_1_when_a_provider_fails(tmp_path: Path) -> None:
    """Without the reference tables every provider fails for lack of schema: exit 1, reasons on stderr."""
    empty = tmp_path / "empty.sqlite"
    create_engine(f"sqlite:///{empty}").connect().close()
    result = run("collect", env={"COMMERCE_DATABASE_URL": f"sqlite:///{empty}"})
    assert result.returncode == 1
    assert "provider orders failed (schema): platforms: no table platforms" in result.stderr
    assert "orders: no table orders (fix: schema.tables.orders: <your table>)" in result.stderr
    assert 'commerce_exporter_provider_up{provider="orders"} 0.0' in result.stdout


def test_demo_db_is_deterministic_and_refuses_to_overwrite(tmp_path: Path) -> None:
    """Same seed and anchor → same rows; a second run refuses without --replace (exit 2)."""
    counts = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name}.sqlite"
        result = run(
            "demo-db",
            "--url",
            url,
            "--vendors",
            "30",
            "--orders",
            "2000",
            "--seed",
            "7",
            "--anchor",
            "2026-01-01T00:00:00",
        )
        assert result.returncode == 0, result.stderr
        engine: Engine = create_engine(url)
        with engine.connect() as connection:
            counts.append(
                {
                    t.name: connection.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in reference_tables().metadata.sorted_tables
                }
            )
            counts[-1]["revenue"] = connection.execute(
                select(func.sum(reference_tables().metadata.tables["orders"].c.total_amount_cents))
            ).scalar_one()
        engine.dispose()
    assert counts[0] == counts[1]
    assert all(counts[0][t.name] > 0 for t in reference_tables().metadata.sorted_tables), counts[0]
    again = run("demo-db", "--url", f"sqlite:///{tmp_path / 'a'}.sqlite")
    assert again.returncode == 2
    assert "--replace" in again.stderr


def test_version_and_usage_errors() -> None:
    """--version prints the version; an unknown command is a usage error (exit 2)."""
    assert run("--version").stdout.startswith("commerce-exporter ")
    assert run("nonsense").returncode == 2
