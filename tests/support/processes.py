"""Real processes for tests: the exporter CLI and a Prometheus server, each on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.support.databases import unavailable


def run_cli(*args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`commerce-exporter <args>` in a child process, as a user runs it; `env` replaces the environment."""
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ if env is None else env),
        check=False,
    )


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(
    url: str, *, timeout: float = 30.0, ok: Sequence[int] = (200,), process: subprocess.Popen[Any] | None = None
) -> None:
    """Poll `url` until it answers with one of `ok`; fail with the process output if it died."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} while waiting for {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status in ok:
                    return
                last = response.status
        except urllib.error.HTTPError as err:
            if err.code in ok:
                return
            last = err.code
        except OSError as err:
            last = err
        time.sleep(0.1)
    raise TimeoutError(f"{url} not answering {list(ok)} after {timeout}s (last: {last})")


class ExporterProcess:
    """`commerce-exporter serve` in a subprocess; stderr goes to a log file the test can read."""

    def __init__(
        self,
        tmp: Path,
        *,
        config: Mapping[str, Any] | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.log_path = tmp / f"exporter-{self.port}.log"
        self.config_path: Path | None = None
        command = [sys.executable, "-m", "exporter", "serve", "--listen", f"127.0.0.1:{self.port}", *args]
        if config is not None:
            self.config_path = tmp / f"exporter-{self.port}.yml"
            self.config_path.write_text(yaml.safe_dump(dict(config)))
            command += ["--config", str(self.config_path)]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 30.0) -> ExporterProcess:
        wait_http(f"{self.url}/-/healthy", timeout=timeout, process=self.process)
        return self

    def wait_ready(self, timeout: float = 60.0) -> ExporterProcess:
        wait_http(f"{self.url}/-/ready", timeout=timeout, process=self.process)
        return self

    def get(
        self, path: str = "/metrics", headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(f"{self.url}{path}", headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def prometheus_binaries() -> tuple[str, str]:
    """Paths of `prometheus` and `promtool`; skips (fails in CI) when they are missing."""
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not prometheus or not promtool:
        unavailable("prometheus/promtool (apt-get install prometheus)")
    assert prometheus and promtool
    return prometheus, promtool


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run promtool; the caller asserts on the return code and output."""
    _, binary = prometheus_binaries()
    return subprocess.run([binary, *args], input=stdin, capture_output=True, timeout=120, check=False)


class PrometheusServer:
    """A real Prometheus on a free loopback port with its own data directory."""

    def __init__(
        self, tmp: Path, config: Mapping[str, Any], *, rule_files: Sequence[Path] = (), history: str | None = None
    ) -> None:
        """`history`: OpenMetrics text with timestamps, loaded as TSDB blocks before the server starts."""
        binary, _ = prometheus_binaries()
        self.port = free_port()
        self.dir = tmp / f"prometheus-{self.port}"
        self.dir.mkdir()
        if history is not None:
            source = self.dir / "history.om"
            source.write_text(history, encoding="utf-8")
            (self.dir / "data").mkdir()
            result = promtool(
                "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(source), str(self.dir / "data")
            )
            if result.returncode != 0:
                raise RuntimeError(f"promtool could not load the history: {result.stderr.decode(errors='replace')}")
        settings = dict(config)
        if rule_files:
            settings["rule_files"] = [str(p) for p in rule_files]
        self.config_path = self.dir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(settings))
        self.log_path = self.dir / "prometheus.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        wait_http(f"{self.url}/-/ready", timeout=60, process=self.process)

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; returns `data`, raises on an API error."""
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=30) as response:
            payload = json.load(response)
        if payload.get("status") != "success":
            raise RuntimeError(f"Prometheus API error for {path}: {payload}")
        return payload["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the result vector."""
        data = self.api("query", query=expr)
        return list(data["result"])

    def wait_for(self, expr: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Poll until `expr` returns at least one series."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result:
                return result
            time.sleep(0.5)
        raise TimeoutError(f"no series for {expr!r} after {timeout}s; log:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
