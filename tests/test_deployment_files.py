"""Dockerfile, docker-compose.yml and Grafana provisioning fit together (checked without a Docker engine)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from exporter.config import ServerConfig
from tests.databases import unavailable

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
PROVISIONING = ROOT / "grafana" / "provisioning"


def _final_stage(dockerfile: str) -> list[str]:
    """Instructions of the last stage, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    last_from = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return lines[last_from:]


def _mounts(service: str) -> dict[str, str]:
    """Bind mounts of a compose service: container path → host path (relative to the repository)."""
    mounts = {}
    for volume in COMPOSE["services"][service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[target] = source
    return mounts


def test_image_runs_as_a_non_root_user() -> None:
    """The final stage switches to a numeric non-root user before the entry point."""
    users = [line.split()[1] for line in _final_stage(DOCKERFILE) if line.upper().startswith("USER ")]
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0") and user.isdigit()


def test_dependencies_are_installed_before_the_source_is_copied() -> None:
    """pip installs the dependencies from pyproject.toml alone; the packages are copied afterwards; no `COPY . .`."""
    lines = [line.strip() for line in re.sub(r"\\\n\s*", " ", DOCKERFILE).splitlines()]
    install = next(i for i, line in enumerate(lines) if "pip install -r requirements.txt" in line)
    copy_source = next(i for i, line in enumerate(lines) if line.startswith("COPY exporter"))
    assert install < copy_source
    assert not any(re.match(r"COPY\s+\.\s+\.", line) for line in lines)


def test_image_declares_port_healthcheck_and_config_volume() -> None:
    """EXPOSE is the exporter's default port, HEALTHCHECK probes /-/healthy on it, config is a VOLUME."""
    stage = _final_stage(DOCKERFILE)
    port = ServerConfig().port
    assert f"EXPOSE {port}" in stage
    (healthcheck,) = [line for line in stage if line.startswith("HEALTHCHECK")]
    assert f"127.0.0.1:{port}/-/healthy" in healthcheck
    assert any(line.startswith("VOLUME") and "/etc/commerce-exporter" in line for line in stage)


def test_image_starts_in_demo_mode_by_default() -> None:
    """`docker run IMAGE` serves the demo data; any other command replaces it."""
    stage = _final_stage(DOCKERFILE)
    assert 'ENTRYPOINT ["commerce-exporter"]' in stage
    assert 'CMD ["serve", "--demo"]' in stage


def test_dockerignore_sends_only_what_the_image_needs() -> None:
    """The build context is pyproject.toml, README.md and the two packages (no .venv, no .git)."""
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"
    assert {"!pyproject.toml", "!README.md", "!exporter/", "!providers/"} <= set(lines)


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
