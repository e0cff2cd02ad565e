"""config/make-self-signed-tls.sh makes the certificates the shipped web config examples name, and they work."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from exporter.webconfig import load_web_config
from tests.support.databases import unavailable
from tests.support.processes import ExporterProcess, PrometheusServer, promtool
from tests.support.webclient import request, tls_context, wait_for

CONFIG = Path(__file__).resolve().parents[2] / "config"
SCRIPT = "make-self-signed-tls.sh"
EXAMPLES = sorted(path.name for path in CONFIG.glob("web-config*.yml"))
PASSWORD = "change-me"
"""The password of the examples' placeholder hash (their comments say so)."""


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of config/ with the examples and the script, as in a fresh checkout."""
    if shutil.which("openssl") is None:
        unavailable("openssl (apt-get install openssl)")
    directory = tmp_path / "config"
    directory.mkdir()
    for name in [*EXAMPLES, SCRIPT]:
        shutil.copy2(CONFIG / name, directory / name)
    return directory


def _make(directory: Path, *names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(directory / SCRIPT), *names], capture_output=True, text=True, timeout=60, check=False
    )


def _tls_files(example: Path) -> list[str]:
    tls = yaml.safe_load(example.read_text()).get("tls_server_config") or {}
    return [tls[key] for key in ("cert_file", "key_file", "client_ca_file") if key in tls]


@pytest.mark.prometheus
def test_one_command_makes_every_shipped_example_pass_promtool(config_dir: Path) -> None:
    """As shipped, the TLS examples name missing files; after the script every example passes promtool."""
    assert any(_tls_files(config_dir / name) for name in EXAMPLES)
    for name in EXAMPLES:
        missing = [f for f in _tls_files(config_dir / name) if not (config_dir / f).exists()]
        assert (promtool("check", "web-config", str(config_dir / name)).returncode == 0) == (not missing), name
    made = _make(config_dir)
    assert made.returncode == 0, made.stderr
    for name in EXAMPLES:
        result = promtool("check", "web-config", str(config_dir / name))
        assert result.returncode == 0, name + result.stdout.decode() + result.stderr.decode()
        load_web_config(config_dir / name)
    for key in (config_dir / "tls").glob("*.key"):
        assert key.stat().st_mode & 0o077 == 0, f"{key.name} is readable by others"


def test_a_second_run_changes_nothing(config_dir: Path) -> None:
    """Existing certificates are never overwritten: the second run fails and says how to start over."""
    assert _make(config_dir).returncode == 0
    before = {path.name: path.read_bytes() for path in (config_dir / "tls").iterdir()}
    again = _make(config_dir)
    assert again.returncode == 1
    assert "exists, nothing changed" in again.stderr and "delete" in again.stderr
    assert {path.name: path.read_bytes() for path in (config_dir / "tls").iterdir()} == before


def test_the_server_certificate_names_localhost_loopback_and_the_given_names(config_dir: Path) -> None:
    """server.crt is valid for localhost, 127.0.0.1, ::1 and every DNS name or IP address given."""
    assert _make(config_dir, "exporter.example.org", "10.1.2.3", "fd00::7").returncode == 0
    text = subprocess.run(
        ["openssl", "x509", "-in", str(config_dir / "tls" / "server.crt"), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in ("DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"):
        assert name in text
    for name in ("DNS:exporter.example.org", "IP Address:10.1.2.3", "IP Address:FD00:0:0:0:0:0:0:7"):
        assert name in text


@pytest.mark.prometheus
def test_prometheus_scrapes_the_examples_with_the_made_certificates(config_dir: Path, tmp_path: Path) -> None:
    """Prometheus scrapes web-config.yml (TLS + basic auth) and web-config-mtls.yml (client certificate)."""
    assert _make(config_dir).returncode == 0
    tls = config_dir / "tls"
    exporters = {
        name: ExporterProcess(
            tmp_path,
            args=["--demo", "--web-config", str(config_dir / f"{name}.yml")],
            env={"COMMERCE_DEMO_DB": str(tmp_path / f"{name}.sqlite")},
        )
        for name in ("web-config", "web-config-mtls")
    }
    prometheus = None
    try:
        server_ca = tls_context(tls / "server.crt")
        scraper = tls_context(tls / "server.crt", (tls / "scraper.crt", tls / "scraper.key"))
        wait_for(exporters["web-config"].port, context=server_ca, auth=("prometheus", PASSWORD))
        wait_for(exporters["web-config-mtls"].port, context=scraper)
        with pytest.raises(OSError):  # no client certificate: the handshake is refused
            request(exporters["web-config-mtls"].port, context=server_ca)
        prometheus = PrometheusServer(
            tmp_path,
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "tls",
                        "scheme": "https",
                        "tls_config": {"ca_file": str(tls / "server.crt")},
                        "basic_auth": {"username": "prometheus", "password": PASSWORD},
                        "static_configs": [{"targets": [f"localhost:{exporters['web-config'].port}"]}],
                    },
                    {
                        "job_name": "mtls",
                        "scheme": "https",
                        "tls_config": {
                            "ca_file": str(tls / "server.crt"),
                            "cert_file": str(tls / "scraper.crt"),
                            "key_file": str(tls / "scraper.key"),
                        },
                        "static_configs": [{"targets": [f"localhost:{exporters['web-config-mtls'].port}"]}],
                    },
                ],
            },
        )
        assert prometheus.wait_for('up{job="tls"} == 1')
        assert prometheus.wait_for('up{job="mtls"} == 1')
        assert prometheus.wait_for('commerce_vendor_orders{job="mtls"}')
    finally:
        if prometheus is not None:
            prometheus.stop()
        for exporter in exporters.values():
            exporter.stop()
