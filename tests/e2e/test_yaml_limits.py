"""Hostile YAML: alias bombs, huge files, deep nesting and duplicate keys are refused with exit 2, not loaded."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from exporter.config import load_config
from exporter.errors import ConfigError
from exporter.webconfig import load_web_config
from exporter.yamlload import MAX_BYTES, MAX_DEPTH, MAX_NODES

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("COMMERCE_")}
MEMORY_CAP = 1024 * 1024 * 1024
"""Address-space cap of the child process: a bomb that expands fails the test instead of the machine."""


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The "billion laughs" document: each list holds `width` aliases of the previous one."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def check_config_capped(path: Path) -> subprocess.CompletedProcess[str]:
    """`check-config` in a child limited to 1 GiB of address space and 60 s."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    return subprocess.run(
        [sys.executable, "-m", "exporter", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=CLEAN_ENV,
        preexec_fn=cap,
        check=False,
    )


def test_alias_bomb_is_refused_by_check_config(write_config: Callable[..., Path]) -> None:
    """The 400-byte alias bomb exits 2 with a message about aliases, without expanding it."""
    path = write_config("database: {url: 'sqlite:///x.sqlite'}\nproviders:\n  orders:\n    settings:\n      x: *a8\n")
    path.write_text(alias_bomb() + path.read_text())
    assert len(path.read_bytes()) < 600
    result = check_config_capped(path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"{path}: " in result.stderr
    assert f"expands to more than {MAX_NODES:,} values" in result.stderr
    assert "Traceback" not in result.stderr


def test_alias_bomb_in_an_unused_key_is_refused_too(write_config: Callable[..., Path]) -> None:
    """Expansion is counted while the document is read, before any key is looked at."""
    path = write_config(alias_bomb() + "b: [*a8, *a8]\n")
    with pytest.raises(ConfigError, match="expands to more than"):
        load_config(path, env={})


def test_web_config_alias_bomb_is_refused(tmp_path: Path) -> None:
    """The web config file goes through the same bounded reader."""
    path = tmp_path / "web.yml"
    path.write_text(alias_bomb() + "basic_auth_users: *a8\n")
    with pytest.raises(ConfigError, match="expands to more than"):
        load_web_config(path)


def test_a_few_aliases_and_merge_keys_still_work(write_config: Callable[..., Path]) -> None:
    """Ordinary anchors (a shared settings block, a `<<` merge) are not mistaken for a bomb."""
    path = write_config(
        "database: {url: 'sqlite:///x.sqlite'}\n"
        "providers:\n"
        "  orders: &slow {interval: 5m, stale_after: 20m}\n"
        "  inventory:\n"
        "    <<: *slow\n"
        "    interval: 10m\n"
        "  catalog: *slow\n"
    )
    config = load_config(path, env={})
    assert config.providers["catalog"].interval == config.providers["orders"].interval
    assert config.providers["inventory"].interval is not None
    assert config.providers["inventory"].interval.total_seconds() == 600
    assert config.providers["inventory"].stale_after == config.providers["orders"].stale_after


def test_a_huge_config_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    """A file beyond the size limit exits 2 at once with the limit in the message."""
    path = tmp_path / "huge.yml"
    line = "# " + "x" * 1000 + "\n"
    with path.open("w") as out:
        out.write("database: {url: 'sqlite:///x.sqlite'}\n")
        for _ in range(4 * 1024):  # 4 MB
            out.write(line)
    result = check_config_capped(path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"{path}: the file is larger than {MAX_BYTES // 1024} KiB" in result.stderr


def test_deep_nesting_is_refused(write_config: Callable[..., Path]) -> None:
    """Lists nested beyond the depth limit are refused with the line where the limit was passed."""
    path = write_config("database: {url: 'sqlite:///x.sqlite'}\nx: " + "[" * 200 + "]" * 200 + "\n")
    with pytest.raises(ConfigError, match=f"nested more than {MAX_DEPTH} levels deep"):
        load_config(path, env={})


def test_duplicate_keys_are_refused_with_both_lines(write_config: Callable[..., Path]) -> None:
    """A key written twice in one mapping is an error naming both lines, not "last one wins"."""
    path = write_config(
        "database:\n  url: 'sqlite:///a.sqlite'\ncollection:\n  interval: 30s\n  period: 7d\n  interval: 5m\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert 'line 6, column 3: duplicate key "interval" (first written on line 4)' in str(caught.value)


def test_duplicate_keys_in_the_web_config_are_refused(tmp_path: Path) -> None:
    """Two entries for one user in `basic_auth_users` are refused (the toolkit refuses them too)."""
    hashed = "$2y$10$" + "a" * 53
    path = tmp_path / "web.yml"
    path.write_text(f"basic_auth_users:\n  alice: '{hashed}'\n  alice: '{hashed}'\n")
    with pytest.raises(ConfigError, match='duplicate key "alice"'):
        load_web_config(path)


def test_the_shipped_example_config_is_within_every_limit() -> None:
    """config/exporter.yml loads under the limits."""
    example = Path(__file__).resolve().parents[2] / "config" / "exporter.yml"
    assert load_config(example, env={"COMMERCE_DATABASE_URL": "sqlite:///x.sqlite"}) is not None


WITHOUT_LIBYAML = """
import sys
sys.modules["yaml.cyaml"] = None  # as if PyYAML had been built without libyaml
from exporter.yamlload import BoundedLoader, LimitExceeded, load_yaml
assert "CParser" not in [cls.__name__ for cls in BoundedLoader.__mro__]
for text in (sys.argv[1], "a: 1\\nb: 2\\na: 3\\n"):
    try:
        load_yaml(text)
    except LimitExceeded as err:
        print(err.problem)
print(load_yaml("x: &x [1, 2]\\ny: *x\\n"))
"""


def test_the_limits_hold_without_libyaml() -> None:
    """With a PyYAML built without libyaml the pure-Python parser feeds the same counting composer."""
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_LIBYAML, alias_bomb()], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"the document expands to more than {MAX_NODES:,} values")
    assert lines[1] == 'duplicate key "a" (first written on line 1)'
    assert lines[2] == "{'x': [1, 2], 'y': [1, 2]}"
