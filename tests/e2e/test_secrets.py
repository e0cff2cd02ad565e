"""Secrets (the database password, basic-auth passwords and hashes) never appear in logs, `/`,
`/metrics` or `check-config` output, whatever succeeds or fails along the way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from tests.support.faultkit import drop, fault_config, populate, wait_until
from tests.support.pgcluster import PgCluster
from tests.support.processes import free_port, run_cli
from tests.support.webclient import basic, request

pytestmark = pytest.mark.postgresql

DB_PASSWORD = "Db-Pa55word-7f3c9e"
OTHER_DB_PASSWORD = "Other-Pa55-c0ffee"
WEB_PASSWORD = "Web-Pa55word-19ab77"
WRONG_GUESS = "Wrong-Guess-55aa01"
WEB_HASH = bcrypt.hashpw(WEB_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
SECRETS = {
    "database password": DB_PASSWORD,
    "second database password": OTHER_DB_PASSWORD,
    "basic-auth password": WEB_PASSWORD,
    "a wrong guess": WRONG_GUESS,
    "bcrypt hash": WEB_HASH,
    "bcrypt hash body": WEB_HASH[7:],
    "Authorization header": basic("prometheus", WEB_PASSWORD).split()[1],
}


def _leaks(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


@pytest.fixture(scope="module")
def reader(pg_cluster: PgCluster) -> str:
    """A login role that needs its password (the cluster trusts only `postgres`)."""
    pg_cluster.start()
    name = f"reader_{os.getpid()}"
    pg_cluster.create_role(name, DB_PASSWORD)
    return name


@pytest.fixture
def database(pg_cluster: PgCluster) -> Iterator[str]:
    platform = populate(pg_cluster)
    yield platform.database
    drop(pg_cluster, platform.database)


def _check_config(tmp_path: Path, config: dict[str, Any] | str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"check-{time.monotonic_ns()}.yml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    return run_cli("--log-level", "debug", "check-config", "--config", str(path))


def test_check_config_masks_every_secret(pg_cluster: PgCluster, reader: str, database: str, tmp_path: Path) -> None:
    """Valid and invalid configs, with the password in the URL, in a file or in the web config: no secret printed."""
    url = pg_cluster.url(database, user=reader, password=DB_PASSWORD)
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  prometheus: {WEB_HASH}\n")
    broken_web = tmp_path / "broken-web.yml"
    broken_web.write_text(f"basic_auth_users:\n  prometheus: {WEB_HASH[:-3]}\n  other: [{WEB_HASH}]\n")
    password_file = tmp_path / "password"
    password_file.write_text(DB_PASSWORD + "\n")
    outputs = [
        _check_config(tmp_path, {"database": {"url": url}, "server": {"web_config_file": str(web)}}),
        _check_config(
            tmp_path, {"database": {"url": pg_cluster.url(database, user=reader), "password_file": str(password_file)}}
        ),
        _check_config(tmp_path, {"database": {"url": url}, "server": {"web_config_file": str(broken_web)}}),
        _check_config(tmp_path, {"database": {"url": url, "pool_size": "many"}}),
        _check_config(tmp_path, {"database": {"url": url, "passwd": DB_PASSWORD}}),
        _check_config(tmp_path, {"database": {"url": url.replace("127.0.0.1:", "127.0.0.1:port")}}),
        _check_config(tmp_path, f"database:\n  url: {url}\n  - broken yaml {DB_PASSWORD}\n"),
    ]
    assert [o.returncode for o in outputs] == [0, 0, 2, 2, 2, 2, 2]
    assert "***" in outputs[0].stdout and "basic auth: 1 user(s)" in outputs[0].stdout
    for output in outputs:
        assert not _leaks(output.stdout + output.stderr), (output.stdout, output.stderr)


@pytest.mark.parametrize("mode", ["url", "environment", "password_file"])
def test_a_running_exporter_never_shows_a_secret(
    pg_cluster: PgCluster, reader: str, database: str, tmp_path: Path, mode: str
) -> None:
    """Start, scrape, fail logins, break the password, reload bad and good configs: no secret anywhere."""
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  prometheus: {WEB_HASH}\n")
    env = dict(os.environ)
    database_section: dict[str, Any] = {}
    if mode == "url":
        url = pg_cluster.url(database, user=reader, password=DB_PASSWORD)
    elif mode == "environment":
        url = pg_cluster.url(database, user=reader, password="${EXPORTER_DB_PASSWORD}")
        env["EXPORTER_DB_PASSWORD"] = DB_PASSWORD
    else:
        url = pg_cluster.url(database, user=reader)
        (tmp_path / "password").write_text(DB_PASSWORD)
        database_section["password_file"] = str(tmp_path / "password")
    port = free_port()
    config = fault_config(
        url,
        database=database_section,
        server={"listen": f"127.0.0.1:{port}", "web_config_file": str(web), "reload_endpoint": True},
    )
    config_path = tmp_path / "exporter.yml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = tmp_path / "exporter.log"
    seen: list[str] = []
    auth = ("prometheus", WEB_PASSWORD)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "exporter", "--log-level", "debug", "serve", "--config", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            wait_until(lambda: request(port, "/-/ready", auth=auth).status == 200, message="ready")
            for path in ("/", "/metrics", "/-/ready", "/-/healthy"):
                seen.append(request(port, path, auth=auth).body.decode())
            for wrong in (("prometheus", WRONG_GUESS), ("nobody", WEB_PASSWORD), ("prometheus", "")):
                assert request(port, "/metrics", auth=wrong).status == 401
            seen.append(request(port, "/metrics", headers={"Authorization": "Basic " + WRONG_GUESS}).body.decode())

            # The database password changes under the exporter: authentication fails on reconnect.
            with pg_cluster.admin() as connection:
                connection.execute(f"ALTER ROLE {reader} PASSWORD '{OTHER_DB_PASSWORD}'")
            pg_cluster.terminate()
            wait_until(
                lambda: b"commerce_exporter_database_up 0.0" in request(port, "/metrics", auth=auth).body,
                message="database_up 0 after the password changed",
            )
            # A reload with a broken config that holds the new password, then a good one.
            broken = dict(config, database={**config["database"], "pool_size": "lots"})
            broken["database"]["url"] = pg_cluster.url(database, user=reader, password=OTHER_DB_PASSWORD)
            config_path.write_text(yaml.safe_dump(broken))
            assert request(port, "/-/reload", method="POST", auth=auth).status == 500
            process.send_signal(signal.SIGHUP)
            time.sleep(0.5)
            seen.append(request(port, "/metrics", auth=auth).body.decode())
            seen.append(request(port, "/", auth=auth).body.decode())
        finally:
            with pg_cluster.admin() as connection:
                connection.execute(f"ALTER ROLE {reader} PASSWORD '{DB_PASSWORD}'")
            process.send_signal(signal.SIGTERM)
            process.wait(15)
    text = log_path.read_text(errors="replace")
    assert "password authentication failed" in text, "the test must have caused the failure it checks"
    assert "configuration reload failed" in text
    assert not _leaks(text), _leaks(text)
    for body in seen:
        assert not _leaks(body), _leaks(body)
