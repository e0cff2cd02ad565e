"""The Dockerfile built into an image for real (podman, a Debian base) and run as the image's own user."""

from __future__ import annotations

import re
import shutil
import sqlite3
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import ServerConfig
from tests.support.container import (
    BUILD_SCRIPT,
    ROOT,
    Image,
    ImageRun,
    Runtime,
    build_image,
    mounted,
    podman,
    require_tools,
)

pytestmark = [pytest.mark.image, pytest.mark.slow, pytest.mark.timeout(900)]

TAG = "localhost/commerce-exporter:ci"
"""One tag for every run on a machine: a new build replaces the previous one, its layers stay cached."""
CONTEXT = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "exporter", "providers")
"""What a checkout needs for the build (the rest of it is left out by .dockerignore)."""
_PACKAGES = ("exporter", "providers")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    require_tools()
    return build_image(ROOT, TAG, tmp_path_factory.mktemp("image"))


@pytest.fixture(scope="module")
def root(image: Image) -> Iterator[Path]:
    """The image's root file system (a container created from it, never started)."""
    with mounted(image.id) as path:
        yield path


@pytest.fixture(scope="module")
def port(image: Image) -> int:
    (exposed,) = image.config["ExposedPorts"]
    number, _, protocol = exposed.partition("/")
    assert protocol == "tcp"
    return int(number)


def _start(image: Image, root: Path, port: int, log: Path) -> ImageRun:
    """The image's entry point with its own command, once /-/ready answers on the exposed port."""
    run = ImageRun(Runtime.of(image, root), log)
    try:
        run.fetch(f"http://127.0.0.1:{port}/-/ready", wait=120)
    except BaseException:
        run.kill()
        raise
    return run


@pytest.fixture(scope="module")
def exporter(image: Image, root: Path, port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageRun]:
    run = _start(image, root, port, tmp_path_factory.mktemp("run") / "exporter.log")
    yield run
    run.kill()


def test_the_exporter_runs_as_the_images_non_root_user(image: Image, exporter: ImageRun) -> None:
    """The process has the image's USER, not root, for real, effective, saved and file-system IDs."""
    assert image.config["User"], "the image sets no USER, so it would run as root"
    status = exporter.status()
    assert exporter.runtime.uid != 0 and exporter.runtime.gid != 0
    assert status["Uid"].split() == [str(exporter.runtime.uid)] * 4
    assert status["Gid"].split() == [str(exporter.runtime.gid)] * 4
    assert status["Groups"].split() == [str(exporter.runtime.gid)]
    assert status["NSpid"].split()[-1] == "1", "not PID 1 of its own PID namespace, as in a container"


def test_the_default_command_serves_vendor_metrics_of_the_demo_data(
    image: Image, root: Path, port: int, exporter: ImageRun
) -> None:
    """ENTRYPOINT + CMD serve the demo data on the exposed port: one info series per active vendor link."""
    assert port == ServerConfig().port
    text = exporter.fetch(f"http://127.0.0.1:{port}/metrics").decode()
    samples = [sample for family in text_string_to_metric_families(text) for sample in family.samples]

    demo_db = root / exporter.runtime.environment["COMMERCE_DEMO_DB"].lstrip("/")
    assert demo_db.stat().st_uid == exporter.runtime.uid, "the demo database was not written by the image's user"
    with sqlite3.connect(f"file:{demo_db}?mode=ro", uri=True) as db:
        links = set(
            db.execute(
                "SELECT p.code, v.vendor_code FROM vendor_platforms l"
                " JOIN vendors v ON v.id = l.vendor_id JOIN platforms p ON p.id = l.platform_id"
                " WHERE l.is_active AND p.is_active"
            )
        )
    assert links
    info = {(s.labels["platform"], s.labels["vendor"]) for s in samples if s.name == "commerce_vendor_info"}
    assert info == links
    orders = {(s.labels["platform"], s.labels["vendor"]) for s in samples if s.name == "commerce_vendor_orders"}
    assert orders == links

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    up = {s.labels["provider"]: s.value for s in samples if s.name == "commerce_exporter_provider_up"}
    assert up == dict.fromkeys(declared["commerce_exporter.providers"], 1.0), "a built-in provider failed in the image"
    assert any(s.name == "process_resident_memory_bytes" for s in samples)


def test_the_healthcheck_passes_while_the_exporter_serves_and_fails_without_it(
    image: Image, exporter: ImageRun
) -> None:
    """The image's HEALTHCHECK, run as an engine runs it, exits 0 next to the exporter and 1 where none listens."""
    test = image.inspect["Healthcheck"]["Test"]
    argv = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
    healthy = exporter.exec(argv)
    assert healthy.returncode == 0, healthy.stderr
    nobody = exporter.runtime.run_offline(argv)
    assert nobody.returncode != 0, "the health check passes even with no exporter"


def test_the_stop_signal_ends_the_exporter_at_once_with_status_0(
    image: Image, root: Path, port: int, tmp_path: Path
) -> None:
    """STOPSIGNAL, sent to the exporter as PID 1 of its namespace, ends it cleanly within seconds."""
    run = _start(image, root, port, tmp_path / "exporter.log")
    try:
        assert run.stop(timeout=15) == 0, run.log()
    finally:
        run.kill()


def test_a_killed_run_leaves_no_process_behind(image: Image, root: Path, port: int, tmp_path: Path) -> None:
    """The harness's kill ends the image's process too (it outlived unshare before: setuid clears PDEATHSIG)."""
    run = _start(image, root, port, tmp_path / "exporter.log")
    run.kill()
    assert not Path(f"/proc/{run.pid}").exists(), f"PID {run.pid} still runs after kill()"


def test_the_image_holds_the_venv_and_nothing_of_the_build_machine(image: Image, root: Path) -> None:
    """No pip configuration, mount point or build directory of the build lands in the image; no setuptools."""
    assert sorted(path.name for path in (root / "opt").iterdir()) == ["venv"]
    for leftover in ("etc/pip.conf", "etc/xdg/pip", "root/.config/pip", "src", "opt/venv/pip.conf"):
        assert not (root / leftover).exists(), leftover
    (site,) = (root / "opt" / "venv" / "lib").glob("python3*/site-packages")
    assert (site / "exporter").is_dir() and (site / "providers").is_dir()
    assert not list(site.glob("setuptools*")), "setuptools is only needed to build"
    (volume,) = image.config["Volumes"]
    stat = (root / volume.lstrip("/")).stat()
    runtime = Runtime.of(image, root)
    assert (stat.st_uid, stat.st_gid) == (runtime.uid, runtime.gid), f"{volume} is not the image user's"


def test_the_build_context_is_the_package_sources_only(image: Image) -> None:
    """.dockerignore sends pyproject.toml, README.md and the two packages' sources, nothing else (no .venv)."""
    with mounted(f"{TAG}-build") as build_root:
        src = build_root / "src"
        generated = {"requirements.txt", "build", "commerce_exporter.egg-info"}
        assert {path.name for path in src.iterdir()} - generated == {"pyproject.toml", "README.md", *_PACKAGES}
        for package in _PACKAGES:
            sent = {path.relative_to(src).as_posix() for path in (src / package).rglob("*") if path.is_file()}
            sources = {
                path.relative_to(ROOT).as_posix()
                for path in (ROOT / package).rglob("*")
                if path.is_file() and "__pycache__" not in path.parts
            }
            assert sent == sources


def test_changing_the_source_readme_or_tool_settings_reuses_the_dependency_layer(image: Image, tmp_path: Path) -> None:
    """After edits of exporter/, README.md and pyproject.toml (not its dependencies) pip install -r is cached."""
    context = tmp_path / "checkout"
    (context / ".ci").mkdir(parents=True)
    for name in CONTEXT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, context / name)
    shutil.copy2(BUILD_SCRIPT, context / ".ci" / "build-image")
    for edited in ("exporter/__init__.py", "README.md", "pyproject.toml"):
        with (context / edited).open("a") as file:
            file.write(f"# {uuid.uuid4()}\n")
    tag = f"{TAG}-layers"
    try:
        rebuilt = build_image(context, tag, tmp_path)
    finally:
        podman("rmi", "--ignore", tag, f"{tag}-build")
    assert _cached(rebuilt.build_log, "pip install -r requirements.txt"), "the dependencies were installed again"
    assert not _cached(rebuilt.build_log, "pip install --no-deps ."), "the edited package was not installed again"


def _cached(log: str, command: str) -> bool:
    """Whether the first build step running `command` came from the layer cache (podman's build output)."""
    lines = log.splitlines()
    step = next(i for i, line in enumerate(lines) if re.search(r"STEP \d+/\d+: RUN ", line) and command in line)
    result = next(line for line in lines[step + 1 :] if line.startswith("-->"))
    return "Using cache" in result
