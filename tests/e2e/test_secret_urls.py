"""Passwords given as URL query parameters are masked like the one in the user-info part, everywhere a URL is shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exporter.db import safe_url
from tests.support.faultkit import wait_until
from tests.support.processes import ExporterProcess, free_port, run_cli

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("COMMERCE_")}
SECRETS = ("Query-Pa55-1f2e", "Ssl-Pa55-3d4c", "Userinfo-Pa55-5b6a", "Token-7788")


def _url(port: int) -> str:
    return (
        f"postgresql+psycopg://reader:{SECRETS[2]}@127.0.0.1:{port}/shop"
        f"?password={SECRETS[0]}&sslpassword={SECRETS[1]}&application_name=shop-exporter&auth_token={SECRETS[3]}"
    )


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql+psycopg://u@h/db?password=x1", "postgresql+psycopg://u@h/db?password=***"),
        ("mysql+pymysql://u@h/db?passwd=x2&charset=utf8mb4", "mysql+pymysql://u@h/db?charset=utf8mb4&passwd=***"),
        ("postgresql+psycopg://u:x3@h/db?sslmode=require", "postgresql+psycopg://u:***@h/db?sslmode=require"),
        (
            "postgresql+psycopg://u@h/db?PASSWORD=x4&password=x5",
            "postgresql+psycopg://u@h/db?PASSWORD=***&password=***",
        ),
        ("postgresql+psycopg://u@h/db?api_secret=x6&Token=x7", "postgresql+psycopg://u@h/db?Token=***&api_secret=***"),
    ],
)
def test_safe_url_masks_query_passwords(url: str, shown: str) -> None:
    """Parameters whose name says password, secret or token are shown as ***; the others as written."""
    assert safe_url(url) == shown


def test_check_config_masks_query_passwords(tmp_path: Path) -> None:
    """check-config prints the URL with every password masked and the harmless parameters kept."""
    path = tmp_path / "exporter.yml"
    path.write_text(f"database:\n  url: '{_url(free_port())}'\n")
    result = run_cli("check-config", "--config", str(path), env=CLEAN_ENV)
    assert result.returncode == 0, result.stderr
    assert "application_name=shop-exporter" in result.stdout
    assert "password=***" in result.stdout and "sslpassword=***" in result.stdout
    assert [s for s in SECRETS if s in result.stdout + result.stderr] == []


def test_an_unparsable_url_is_not_repeated_in_the_error(tmp_path: Path) -> None:
    """A URL that does not parse is refused without echoing it (it may hold a password)."""
    path = tmp_path / "exporter.yml"
    path.write_text(f"database:\n  url: 'postgresql+psycopg://reader:{SECRETS[2]}@host:notaport/db'\n")
    result = run_cli("check-config", "--config", str(path), env=CLEAN_ENV)
    assert result.returncode == 2
    assert "database.url:" in result.stderr
    assert SECRETS[2] not in result.stderr


def test_the_unreachable_database_warning_masks_query_passwords(tmp_path: Path) -> None:
    """The "database … unreachable" warning of a running exporter shows no password from the query string."""
    exporter = ExporterProcess(tmp_path, config={"database": {"url": _url(free_port()), "connect_timeout": "1s"}})
    try:
        exporter.wait_healthy()
        wait_until(lambda: "unreachable" in exporter.log(), message="the unreachable warning")
        log = exporter.log()
    finally:
        exporter.stop()
    assert "password=***" in log
    assert [s for s in SECRETS if s in log] == []
