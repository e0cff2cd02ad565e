"""`check-config` refuses every configuration `serve` would refuse: exit 2, the file's path, no traceback."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import free_port, run_cli, wait_http

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("COMMERCE_")}

BAD = {
    "interval beyond timedelta": ({"collection": "{interval: 999999999d}"}, "collection.interval"),
    "interval beyond the scheduler": ({"collection": "{interval: 3650000d}"}, "collection.interval"),
    "provider interval beyond the scheduler": ({"providers": "{orders: {interval: 3650000d}}"}, "providers.orders"),
    "stale_after beyond the calendar": ({"collection": "{stale_after: 3650000d}"}, "collection.stale_after"),
    "sub-millisecond interval": ({"collection": "{interval: 0.0000001ms}"}, "collection.interval"),
    "sub-millisecond provider interval": ({"providers": "{orders: {interval: 0.5ms}}"}, "providers.orders"),
    "statement timeout beyond the servers' limit": (
        {"database_extra": "statement_timeout: 30d"},
        "database.statement_timeout",
    ),
    "metrics on /": ({"server": "{metrics_path: /}"}, "server.metrics_path"),
    "metrics on the health path": ({"server": "{metrics_path: /-/healthy}"}, "server.metrics_path"),
    "metrics on the readiness path": ({"server": "{metrics_path: /-/ready}"}, "server.metrics_path"),
    "metrics on the reload path": ({"server": "{metrics_path: /-/reload}"}, "server.metrics_path"),
    "password file not UTF-8": ({"password_file": b"\xff\xfe secret \x80"}, "database.password_file"),
    "unknown dialect": ({"url": "nosuchdb://user@host/db"}, "database.url"),
    "missing driver": ({"url": "postgresql+pg8000://user@host/db"}, "database.url"),
}
"""Configurations that passed check-config and then failed in serve (or ended in a traceback)."""


def _write(tmp_path: Path, case: dict[str, object], listen: str) -> Path:
    url = str(case.get("url", f"sqlite:///{tmp_path / 'platform.sqlite'}"))
    lines = ["database:", f"  url: '{url}'"]
    if "password_file" in case:
        secret = tmp_path / "password"
        secret.write_bytes(bytes(case["password_file"]))  # type: ignore[arg-type]
        lines.append(f"  password_file: {secret}")
    if "database_extra" in case:
        lines.append(f"  {case['database_extra']}")
    server = str(case.get("server", "{}"))
    lines.append(f"server: {server[:-1]}{', ' if server != '{}' else ''}listen: '{listen}'}}")
    for section in ("collection", "providers"):
        if section in case:
            lines.append(f"{section}: {case[section]}")
    path = tmp_path / "exporter.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _serve(path: Path, port: int) -> tuple[int | None, str]:
    """Exit code of `serve` (None if it was still serving after it became healthy) and its output."""
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter", "serve", "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=CLEAN_ENV,
    )
    try:
        with contextlib.suppress(RuntimeError):  # it exited: that is the answer
            wait_http(f"http://127.0.0.1:{port}/-/healthy", timeout=30, process=process)
        if process.poll() is None:
            process.terminate()
            output, _ = process.communicate(timeout=20)
            return None, output
        output, _ = process.communicate(timeout=20)
        return process.returncode, output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
@pytest.mark.parametrize("case, path_in_message", BAD.values(), ids=list(BAD))
def test_check_config_and_serve_both_refuse(
    case: dict[str, object], path_in_message: str, tmp_path: Path, sqlite_url: str
) -> None:
    """Both commands exit 2, name the file and the config path, and print no traceback."""
    port = free_port()
    path = _write(tmp_path, case, f"127.0.0.1:{port}")
    checked = run_cli("check-config", "--config", str(path), env=CLEAN_ENV)
    served, output = _serve(path, port)
    assert (checked.returncode, served) == (2, 2), f"check-config:\n{checked.stderr}\nserve:\n{output}"
    for text in (checked.stderr, output):
        assert f"{path}: {path_in_message}" in text, text
        assert "Traceback" not in text, text


@pytest.mark.slow
def test_a_valid_config_passes_both(tmp_path: Path, sqlite_url: str) -> None:
    """The control case: what check-config accepts, serve serves."""
    port = free_port()
    path = _write(tmp_path, {"collection": "{interval: 1h, stale_after: 365d}"}, f"127.0.0.1:{port}")
    checked = run_cli("check-config", "--config", str(path), env=CLEAN_ENV)
    served, output = _serve(path, port)
    assert checked.returncode == 0, checked.stderr
    assert served is None, output
