"""docker-compose.yml and Grafana provisioning fit together (the image itself: tests/e2e/test_image.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from exporter.config import ServerConfig
from tests.support.databases import unavailable

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PROVISIONING = ROOT / "grafana" / "provisioning"


def _mounts(service: str) -> dict[str, str]:
    """Bind mounts of a compose service: container path → host path (relative to the repository)."""
    mounts = {}
    for volume in COMPOSE["services"][service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[target] = source
    return mounts


def test_compose_runs_exporter_prometheus_and_grafana() -> None:
    """The compose file defines the three services, the exporter built here and on demo data."""
    services = COMPOSE["services"]
    assert set(services) == {"exporter", "prometheus", "grafana"}
    assert services["exporter"]["build"] == "."
    assert services["exporter"]["command"] == ["serve", "--demo"]


def test_compose_bind_mounts_exist() -> None:
    """Every host path the compose file mounts exists in the repository."""
    for service in COMPOSE["services"]:
        for source in _mounts(service).values():
            assert (ROOT / source).exists(), f"{service}: {source} does not exist"


def test_prometheus_in_compose_scrapes_the_exporter_service_with_the_rules() -> None:
    """The mounted Prometheus config targets the exporter service's port and its rule files resolve there."""
    mounts = _mounts("prometheus")
    host_dir = ROOT / mounts["/etc/prometheus"]
    config = yaml.safe_load((host_dir / "prometheus.yml").read_text())
    targets = [t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert f"exporter:{ServerConfig().port}" in targets
    for pattern in config["rule_files"]:
        assert list(host_dir.glob(pattern)), pattern
    assert "--config.file=/etc/prometheus/prometheus.yml" in COMPOSE["services"]["prometheus"]["command"]


def test_grafana_provisioning_points_at_the_mounted_dashboards_and_prometheus() -> None:
    """The dashboard provider reads where compose mounts the dashboards; the datasource is compose's Prometheus."""
    mounts = _mounts("grafana")
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    providers: dict[str, Any] = yaml.safe_load((PROVISIONING / "dashboards" / "commerce-exporter.yml").read_text())
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert mounts[provider["options"]["path"]] == "./grafana/dashboards"
    sources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"


def test_compose_file_passes_docker_compose_config() -> None:
    """`docker compose config` (or docker-compose v1) validates the file against the compose schema."""
    if shutil.which("docker-compose"):
        command = ["docker-compose"]
    elif (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0
    ):
        command = ["docker", "compose"]
    else:
        unavailable("docker-compose or the docker compose plugin (apt-get install docker-compose)")
    result = subprocess.run(
        [*command, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
