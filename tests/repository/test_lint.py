"""The code base stays clean: ruff (lint + format) and mypy --strict on the packages."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_ruff_lint() -> None:
    """`ruff check` reports nothing."""
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    """Every file is formatted as `ruff format` would."""
    result = run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_checks_every_package_strictly() -> None:
    """pyproject's mypy run is strict and covers exporter/, providers/, grafana/ and bench/."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert settings["strict"] is True
    assert {"exporter", "providers", "grafana", "bench"} <= set(settings["files"])


def test_mypy_strict() -> None:
    """mypy (strict, per pyproject) finds no error in the packages it covers."""
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
