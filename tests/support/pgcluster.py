"""A PostgreSQL cluster owned by the tests: its own data directory and port, so it can be stopped,
restarted and crashed without touching the machine's shared server.

`initdb` and `pg_ctl` come from the newest /usr/lib/postgresql/*/bin (or COMMERCE_TEST_PG_BIN).
PostgreSQL refuses to run as root, so under root they run as the `postgres` OS user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import create_engine

from exporter.schema import reference_tables
from tests.support.databases import unavailable
from tests.support.processes import free_port

APPLICATION_NAME = "commerce-exporter"
"""The exporter's sessions announce themselves with this application_name (exporter/dialects.py)."""


def _bin_dir() -> Path | None:
    configured = os.environ.get("COMMERCE_TEST_PG_BIN")
    if configured:
        return Path(configured)
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    return candidates[-1].parent if candidates else None


class PgCluster:
    """initdb once, then start/stop/crash at will; `destroy()` stops it and removes every file."""

    def __init__(self) -> None:
        bin_dir = _bin_dir()
        if bin_dir is None or not (bin_dir / "initdb").exists():
            unavailable("PostgreSQL server binaries (initdb, pg_ctl) for a private test cluster")
        assert bin_dir is not None
        self.bin = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="ce-pgcluster-"))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "--auth-local=trust",
            "--auth-host=trust",
        )
        # postgres (the test's admin) is trusted; every other role needs its password, so a
        # wrong or leaked password is a real authentication failure.
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 16MB\n"
                "max_connections = 60\nlog_min_messages = warning\n"
            )
        self.start()

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self._as_user, str(self.bin / tool), *args], capture_output=True, text=True, timeout=120, check=False
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    # --- lifecycle ------------------------------------------------------------------------

    def running(self) -> bool:
        return self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        if not self.running():
            self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log_path), "-w", "-t", "60")

    def stop(self, mode: str = "fast") -> None:
        """`fast` disconnects clients cleanly; `immediate` is a crash (no shutdown checkpoint)."""
        if self.running():
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60")

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    # --- databases and sessions -----------------------------------------------------------

    def url(
        self,
        database: str = "postgres",
        *,
        port: int | None = None,
        user: str = "postgres",
        password: str | None = None,
    ) -> str:
        auth = f"{user}:{password}" if password is not None else user
        return f"postgresql+psycopg://{auth}@127.0.0.1:{port or self.port}/{database}"

    def admin(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit connection as postgres, straight to the cluster (never through a proxy)."""
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True, connect_timeout=5
        )

    def create_database(self) -> str:
        """A new database with the reference schema; returns its name."""
        name = f"ce_fault_{uuid.uuid4().hex[:10]}"
        with self.admin() as connection:
            connection.execute(f"CREATE DATABASE {name}")
        engine = create_engine(self.url(name))
        reference_tables().metadata.create_all(engine)
        engine.dispose()
        return name

    def create_role(self, name: str, password: str) -> None:
        """A login role with a password, allowed to read everything (pg_read_all_data)."""
        with self.admin() as connection:
            connection.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
            connection.execute(f"GRANT pg_read_all_data TO {name}")

    def sessions(self, application_name: str = APPLICATION_NAME) -> int:
        """Server-side sessions (backends) the exporter currently holds."""
        with self.admin() as connection:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application_name,)
            ).fetchone()
        assert row is not None
        return int(str(row[0]))

    def terminate(self, application_name: str = APPLICATION_NAME) -> int:
        """Kill the exporter's backends (as an administrator or the OOM killer would); returns how many."""
        with self.admin() as connection:
            rows = connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                (application_name,),
            ).fetchall()
        return len(rows)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
