"""Config fuzzing: whatever the file holds, `check-config` exits 0 or exits 2 naming a path — never
a traceback. The same for web config files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.cli import main
from exporter.errors import ConfigError
from exporter.webconfig import load_web_config
from tests.support.processes import run_cli

SECTIONS: dict[str, list[str]] = {
    "database": ["url", "password_file", "pool_size", "connect_timeout", "statement_timeout"],
    "server": ["listen", "metrics_path", "web_config_file", "reload_endpoint", "max_connections"],
    "collection": ["interval", "period", "stale_after", "concurrency", "shard"],
    "exposition": ["namespace", "vendor_series"],
    "providers": ["orders", "tenancy", "Orders", "nope"],
    "platforms": ["p1", "p 2"],
}
PROVIDER_KEYS = ["enabled", "interval", "stale_after", "factory", "settings", "keys"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "30s",
            "0s",
            "-5s",
            "1h30m",
            "99999999999999999999d",
            "1e400s",
            "0/1",
            "3/2",
            "${NOPE}",
            "${HOME:-x}",
            "$$",
            "sqlite://",
            "sqlite:///:memory:",
            "postgresql+psycopg://u:p@h/db",
            "mysql+pymysql://",
            "127.0.0.1:0",
            "[::1]:9814",
            "/metrics",
            "metrics",
            "orders",
            "tests.nothing:factory",
            "30d",
            "7",
            "NaN",
        ]
    ),
)
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)


@st.composite
def configs(draw: st.DrawFn) -> Any:
    """Mostly the right shape with wrong values; sometimes anything at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(trees)
    config: dict[Any, Any] = {}
    for section in draw(st.lists(st.sampled_from([*SECTIONS, "bogus"]), max_size=4, unique=True)):
        keys = SECTIONS.get(section, ["x"])
        if section == "providers":
            value: Any = {
                draw(st.sampled_from(keys)): draw(
                    st.one_of(trees, st.dictionaries(st.sampled_from(PROVIDER_KEYS), trees, max_size=3))
                )
                for _ in range(draw(st.integers(0, 2)))
            }
        else:
            value = draw(st.one_of(trees, st.dictionaries(st.sampled_from([*keys, "typo"]), trees, max_size=4)))
        config[section] = value
    return config


PROBLEM = re.compile(r"^\S.*: .+$")
"""Every line after the heading: `<file>: <path>: <message>` (or `<file>: <message>`)."""


def _check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["check-config", "--config", str(path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=configs())
def test_check_config_exits_0_or_2_with_paths(config: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Any YAML tree: exit 0 with the effective config, or exit 2 with one `file: path: message` per problem."""
    path = tmp_path / "fuzz.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    code, out, err = _check(path, capsys)
    assert code in (0, 2), (code, out, err)
    if code == 2:
        lines = err.strip().split("\n")  # not splitlines(): it also splits on \x1c-\x1e inside a key
        assert lines[0] == "configuration error:" or lines[0].startswith("configuration error")
        assert lines[1:], err
        assert all(PROBLEM.match(line) for line in lines[1:]), err
        assert "Traceback" not in err
    else:
        assert yaml.safe_load(out.split("\n# providers:")[0]) is not None


NASTY = {
    "not utf-8": b'database:\n  url: "\xff\xfe"\n',
    "binary": bytes(range(256)),
    "top-level list": b"- a\n- b\n",
    "top-level scalar": b"42\n",
    "deeply nested list": b"database: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "deeply nested mapping": b"database: " + b"{a: " * 2000 + b"1" + b"}" * 2000 + b"\n",
    "huge duration": b"collection:\n  interval: 99999999999999999999d\n",
    "huge window": b"collection:\n  period: 9999999999999999d\n",
    "window before year 1": b"collection:\n  period: 1000000d\n",
    "nan duration": b"collection:\n  interval: .nan\n",
    "unhashable key": b"? [a]\n: 1\n",
    "tab indentation": b"database:\n\turl: x\n",
    "unknown tag": b"database: !!python/object:os.system {}\n",
    "duplicate keys": b"database:\n  pool_size: 2\n  pool_size: many\n",
    "missing environment variable": b"database:\n  url: ${COMMERCE_FUZZ_UNSET}\n",
}


@pytest.mark.parametrize("content", NASTY.values(), ids=list(NASTY))
def test_the_real_command_never_shows_a_traceback(content: bytes, tmp_path: Path) -> None:
    """The installed entry point on hostile files: exit 0 or 2, a path in the message, no traceback."""
    path = tmp_path / "nasty.yml"
    path.write_bytes(content)
    result = run_cli("check-config", "--config", str(path))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 2), result.stderr
    if result.returncode == 2:
        assert f"{path}: " in result.stderr


def test_a_missing_or_unreadable_config_is_exit_2(tmp_path: Path) -> None:
    """A path that does not exist or is a directory: exit 2 with the reason."""
    for path in (tmp_path / "missing.yml", tmp_path):
        result = run_cli("check-config", "--config", str(path))
        assert result.returncode == 2 and "cannot read the config file" in result.stderr, result.stderr


web_trees = st.one_of(
    trees,
    st.fixed_dictionaries(
        {},
        optional={
            "tls_server_config": st.one_of(
                trees,
                st.dictionaries(
                    st.sampled_from(
                        [
                            "cert_file",
                            "key_file",
                            "client_auth_type",
                            "client_ca_file",
                            "cipher_suites",
                            "curve_preferences",
                            "min_version",
                            "max_version",
                            "prefer_server_cipher_suites",
                            "bogus",
                        ]
                    ),
                    trees,
                    max_size=4,
                ),
            ),
            "http_server_config": st.one_of(
                trees,
                st.fixed_dictionaries(
                    {},
                    optional={
                        "headers": st.dictionaries(
                            st.sampled_from(["X-Frame-Options", "Server", "Content-Security-Policy"]), trees, max_size=2
                        ),
                        "http2": trees,
                    },
                ),
            ),
            "basic_auth_users": st.one_of(
                trees, st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), trees, max_size=3)
            ),
        },
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(web=web_trees)
def test_web_config_is_loaded_or_refused_with_paths(web: Any, tmp_path: Path) -> None:
    """Any web config tree loads or raises ConfigError whose problems all carry a message."""
    path = tmp_path / "web.yml"
    path.write_text(yaml.safe_dump(web, allow_unicode=True))
    try:
        load_web_config(path)
    except ConfigError as err:
        assert err.problems and all(isinstance(p, str) and m for p, m in err.problems), err.problems
        assert err.source == str(path)
