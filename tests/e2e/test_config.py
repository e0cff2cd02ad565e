"""Configuration: bad input exits 2 naming every offending path; good input prints the effective config."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from exporter.config import load_config, substitute
from exporter.errors import ConfigError
from tests.support.processes import run_cli

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("COMMERCE_")}


def check_config(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("check-config", "--config", str(path), env={**CLEAN_ENV, **(env or {})})


def test_check_config_names_every_problem(write_config: Callable[..., Path]) -> None:
    """A wrong type, an unknown key and a missing required value: exit 2, each path named on stderr."""
    path = write_config({"collection": {"interval": "soon", "concurrency": "two"}, "server": {"lisen": ":1"}})
    result = check_config(path)
    assert result.returncode == 2
    assert 'collection.interval: expected a duration like 30s, 5m, 1h30m or 30d, got "soon"' in result.stderr
    assert "collection.concurrency: expected an integer, got 'two'" in result.stderr
    assert "server.lisen: unknown key" in result.stderr
    assert "database.url: required value is missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_prints_effective_config_with_secrets_masked(write_config: Callable[..., Path]) -> None:
    """A valid config prints as YAML with defaults filled in and the password replaced by ***."""
    path = write_config({"database": {"url": "postgresql+psycopg://exporter:s3cr3t-pw@db/commerce"}})
    result = check_config(path)
    assert result.returncode == 0, result.stderr
    printed = yaml.safe_load(result.stdout)
    assert printed["database"]["url"] == "postgresql+psycopg://exporter:***@db/commerce"
    assert printed["collection"]["interval"] == "1m"
    assert "s3cr3t-pw" not in result.stdout + result.stderr


def test_environment_substitution_and_default(write_config: Callable[..., Path]) -> None:
    """${VAR} takes the environment value; ${VAR:-default} falls back; $$ is a literal dollar."""
    path = write_config(
        {
            "database": {"url": "sqlite:///${DB_FILE}"},
            "exposition": {"namespace": "${NS:-shop}"},
            "server": {"metrics_path": "/m$$"},
        }
    )
    with pytest.raises(ConfigError, match=r"server.metrics_path"):
        load_config(path, env={"DB_FILE": "x.sqlite"})
    path = write_config({"database": {"url": "sqlite:///${DB_FILE}"}, "exposition": {"namespace": "${NS:-shop}"}})
    config = load_config(path, env={"DB_FILE": "x.sqlite"})
    assert config.database.url == "sqlite:///x.sqlite"
    assert config.exposition.namespace == "shop"


def test_unset_variable_is_an_error_with_its_path(write_config: Callable[..., Path]) -> None:
    """An unset ${VAR} without default names the path and the variable."""
    path = write_config({"database": {"url": "${NOPE_URL}"}})
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert caught.value.problems == [
        ("database.url", "environment variable NOPE_URL is not set (write ${NOPE_URL:-default} for a default)")
    ]


def test_database_url_from_environment(write_config: Callable[..., Path]) -> None:
    """COMMERCE_DATABASE_URL supplies database.url when the file has none."""
    config = load_config(write_config({"collection": {"interval": "5m"}}), env={"COMMERCE_DATABASE_URL": "sqlite://"})
    assert config.database.url == "sqlite://"


def test_password_file_replaces_url_password(write_config: Callable[..., Path], tmp_path: Path) -> None:
    """database.password_file content becomes the URL's password (trimmed)."""
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    path = write_config({"database": {"url": "postgresql+psycopg://u:old@h/db", "password_file": str(secret)}})
    assert load_config(path, env={}).database_url() == "postgresql+psycopg://u:from-file@h/db"


def test_yaml_syntax_error_has_line_and_column(write_config: Callable[..., Path]) -> None:
    """Broken YAML is reported with its position, not a traceback."""
    path = write_config("database:\n  url: [unclosed\n")
    with pytest.raises(ConfigError, match=r"not valid YAML: line \d+, column \d+"):
        load_config(path, env={})


def test_pool_must_cover_concurrency(write_config: Callable[..., Path]) -> None:
    """A pool smaller than concurrency + 1 is refused with the reason."""
    path = write_config({"database": {"url": "sqlite://", "pool_size": 2}, "collection": {"concurrency": 4}})
    with pytest.raises(ConfigError, match=r"database.pool_size: must be at least collection.concurrency \+ 1 = 5"):
        load_config(path, env={})


def test_example_config_is_valid() -> None:
    """config/exporter.yml, the documented example, validates (with a URL from the environment)."""
    example = Path(__file__).parents[2] / "config" / "exporter.yml"
    config = load_config(example, env={"COMMERCE_DATABASE_URL": "sqlite://"})
    assert config.provider("inventory").settings == {"low_stock_threshold": 5}


def test_provider_settings_are_validated_with_paths(write_config: Callable[..., Path]) -> None:
    """Invalid provider settings are config errors under providers.<name>.settings."""
    path = write_config(
        {
            "database": {"url": "sqlite://"},
            "providers": {"inventory": {"settings": {"low_stock_threshold": -1, "colour": "red"}}},
        }
    )
    result = check_config(path)
    assert result.returncode == 2
    assert "providers.inventory.settings.low_stock_threshold:" in result.stderr
    assert "providers.inventory.settings.colour: unknown key" in result.stderr


@pytest.mark.parametrize(
    "text, env, expected",
    [
        ("${A:-${B}}", {"B": "from-b"}, "from-b"),
        ("${A:-${B}}", {"A": "from-a", "B": "from-b"}, "from-a"),
        ("${A:-${B:-fallback}}", {}, "fallback"),
        ("${A:-x-${B:-y}-z}/w", {}, "x-y-z/w"),
        ("$${A:-${B}}", {"B": "b"}, "${A:-b}"),
        ("${A:-}", {}, ""),
        ("${A:-$$}", {}, "$"),
        ("${not a reference} ${1}", {}, "${not a reference} ${1}"),
    ],
)
def test_nested_defaults_are_substituted(text: str, env: dict[str, str], expected: str) -> None:
    """A default may itself hold ${VAR} or ${VAR:-default}, substituted from the inside out."""
    assert substitute({"x": text}, env) == {"x": expected}


def test_a_nested_unset_variable_is_an_error_naming_it() -> None:
    """${A:-${B}} with neither set names B (the variable that had no value)."""
    with pytest.raises(ConfigError, match=r"x: environment variable B is not set"):
        substitute({"x": "${A:-${B}}"}, {})


def test_an_unclosed_reference_is_an_error() -> None:
    """`${A:-${B}` (one brace short) is refused instead of being left half-substituted."""
    with pytest.raises(ConfigError, match=r'x: "\$\{" without its closing "\}"'):
        substitute({"x": "${A:-${B}"}, {"B": "b"})
