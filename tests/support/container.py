"""The container image for real, without a container engine: build it with podman, run its entry point.

podman here builds (chroot isolation) but cannot start containers, so `ImageRun` does what a container
engine would do with the image's own configuration: the entry point and command, as the image's user,
in its working directory, with exactly its environment, chrooted into the image's root file system,
in fresh network, PID and mount namespaces (the exporter is PID 1 and alone on its loopback interface,
so it listens on the image's own port without colliding with anything on the machine).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.databases import unavailable

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / ".ci" / "build-image"
TOOLS = ("podman", "mmdebstrap", "unshare", "nsenter", "chroot", "ip")


def require_tools() -> None:
    """Skip locally, fail under CI=true, when the image cannot be built and run on this machine."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        unavailable(f"{', '.join(missing)} (bash .ci/setup installs them from Debian packages)")
    if os.geteuid() != 0:
        unavailable("root (podman's chroot build isolation and the namespaces the image runs in)")


def podman(*args: str, timeout: float = 120) -> str:
    """Run podman; its stdout, or an AssertionError with everything it said."""
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"podman {' '.join(args)}: exit {result.returncode}\n{result.stderr}"
    return result.stdout.strip()


@dataclass(frozen=True)
class Image:
    """A built image: its ID, its configuration (user, entry point, env…) and how the build went."""

    id: str
    inspect: dict[str, Any]
    build_log: str

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.inspect["Config"])


def build_image(context: Path, tag: str, workdir: Path, timeout: float = 900) -> Image:
    """`bash .ci/build-image --tag TAG` in `context` (a checkout); the image it made.

    The pip configuration carried into the build is this interpreter's (a copied checkout has no .venv)."""
    iidfile = workdir / "iid"
    result = subprocess.run(
        ["bash", str(context / ".ci" / "build-image"), "--tag", tag, "--iidfile", str(iidfile)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHON": sys.executable},
        check=False,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"the image build failed (exit {result.returncode}):\n{log[-6000:]}"
    image_id = iidfile.read_text().strip()
    (inspect,) = json.loads(podman("image", "inspect", image_id))
    return Image(image_id, inspect, log)


@contextmanager
def mounted(image: str) -> Iterator[Path]:
    """The root file system of a new container of `image` (created, never started); removed afterwards."""
    container = podman("create", "--no-healthcheck", image, "true")  # a command: build stages have none
    try:
        yield Path(podman("mount", container))
    finally:
        subprocess.run(["podman", "umount", container], capture_output=True, check=False, timeout=60)
        subprocess.run(["podman", "rm", "--force", container], capture_output=True, check=False, timeout=60)


# Run as root in the new namespaces, then replaced by the image's process: loopback up, a /dev
# like a container engine's (a few device nodes and /dev/shm, on a tmpfs so nothing lands in the
# container's layer), then `Runtime.chroot`: the image's user, environment and working directory.
_ENTER = r"""
set -eu
root=$1
shift
ip link set lo up
mount -t tmpfs -o nosuid,noexec,mode=755,size=64k dev "$root/dev"
for node in null zero full random urandom tty; do
    touch "$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
done
mkdir "$root/dev/shm"
mount -t tmpfs -o nosuid,nodev,noexec,mode=1777,size=64m shm "$root/dev/shm"
exec "$@"
"""

# Runs in the image's network namespace with this interpreter: GET url, retrying until it answers 200
# or `wait` seconds have passed; the body on stdout.
_FETCH = r"""
import sys, time, urllib.request
url, wait = sys.argv[1], float(sys.argv[2])
deadline = time.monotonic() + wait
while True:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            sys.stdout.buffer.write(response.read())
            break
    except OSError as err:
        if time.monotonic() > deadline:
            sys.exit(f"{url}: {err}")
        time.sleep(0.2)
"""


def _user(root: Path, spec: str) -> tuple[int, int, str]:
    """uid, gid and home directory of the image's USER (`uid[:gid]` or a name), from its /etc/passwd."""
    name, _, group = spec.partition(":")
    for line in (root / "etc" / "passwd").read_text().splitlines():
        fields = line.split(":")
        if name in (fields[0], fields[2]):
            uid, gid, home = int(fields[2]), int(fields[3]), fields[5]
            break
    else:
        if not name.isdigit():
            raise AssertionError(f"USER {spec}: no such user in the image's /etc/passwd")
        uid, gid, home = int(name), int(name), "/"
    if group:
        gid = int(group) if group.isdigit() else _group_id(root, group)
    return uid, gid, home


def _group_id(root: Path, name: str) -> int:
    for line in (root / "etc" / "group").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2])
    raise AssertionError(f"group {name}: not in the image's /etc/group")


@dataclass(frozen=True)
class Runtime:
    """What a container engine takes from the image to start it: user, environment, directory, command."""

    root: Path
    uid: int
    gid: int
    environment: dict[str, str]
    workdir: str
    argv: list[str]
    stop_signal: signal.Signals

    @classmethod
    def of(cls, image: Image, root: Path, command: Sequence[str] | None = None) -> Runtime:
        config = image.config
        uid, gid, home = _user(root, config.get("User") or "0")
        environment = dict(variable.split("=", 1) for variable in config.get("Env") or [])
        environment.setdefault("HOME", home)  # as container engines do
        return cls(
            root,
            uid,
            gid,
            environment,
            config.get("WorkingDir") or "/",
            [*(config.get("Entrypoint") or []), *(command if command is not None else config.get("Cmd") or [])],
            signal.Signals[config.get("StopSignal") or "SIGTERM"],
        )

    def chroot(self, argv: Sequence[str]) -> list[str]:
        """`argv` in the image's root file system, as its user, with only its environment."""
        return [
            "chroot",
            f"--userspec={self.uid}:{self.gid}",
            f"--groups={self.gid}",
            str(self.root),
            "env",
            "-i",
            f"--chdir={self.workdir}",
            *(f"{name}={value}" for name, value in self.environment.items()),
            *argv,
        ]

    def run_offline(self, argv: Sequence[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run `argv` like `exec`, but in a network namespace of its own where nothing listens."""
        return subprocess.run(
            ["unshare", "--net", "--", *self.chroot(argv)], capture_output=True, text=True, timeout=timeout, check=False
        )


class ImageRun:
    """The image's entry point running in its root file system, as its user, in its own namespaces."""

    def __init__(self, runtime: Runtime, log_path: Path) -> None:
        self.runtime = runtime
        self.log_path = log_path
        self._log = log_path.open("wb")
        root = runtime.root
        self._launcher = subprocess.Popen(
            [
                "unshare",
                "--net",
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                f"--mount-proc={root}/proc",
                "--",
                "sh",
                "-c",
                _ENTER,
                "enter",
                str(root),
                *runtime.chroot(runtime.argv),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self.pid = self._child()
        except BaseException:
            self._launcher.kill()
            self._launcher.wait(10)
            self._log.close()
            raise

    def _child(self) -> int:
        """PID (as seen from here) of the process unshare forked: PID 1 of the new namespace."""
        children = Path(f"/proc/{self._launcher.pid}/task/{self._launcher.pid}/children")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._launcher.poll() is not None:
                raise AssertionError(f"the image's process exited at once ({self._launcher.returncode}):\n{self.log()}")
            pids = children.read_text().split()
            if pids:
                return int(pids[0])
            time.sleep(0.01)
        raise AssertionError("unshare started no process")

    def fetch(self, url: str, wait: float = 0) -> bytes:
        """GET `url` from inside the image's network namespace (retrying for `wait` seconds)."""
        result = subprocess.run(
            ["nsenter", f"--target={self.pid}", "--net", "--", sys.executable, "-c", _FETCH, url, str(wait)],
            capture_output=True,
            timeout=wait + 30,
            check=False,
        )
        assert result.returncode == 0, f"{result.stderr.decode(errors='replace')}\nexporter log:\n{self.log()}"
        return result.stdout

    def exec(self, argv: Sequence[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run `argv` next to the process, as a container engine runs a health check: same network and
        mounts, same root file system, user and environment."""
        return subprocess.run(
            ["nsenter", f"--target={self.pid}", "--net", "--mount", "--", *self.runtime.chroot(argv)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def status(self) -> Mapping[str, str]:
        """The process's /proc status fields (Uid, Gid, Groups, NSpid…)."""
        lines = Path(f"/proc/{self.pid}/status").read_text().splitlines()
        return {name: value.strip() for name, _, value in (line.partition(":") for line in lines)}

    def stop(self, timeout: float = 15) -> int:
        """Send the image's stop signal, wait; the exit status (SIGKILL after `timeout`)."""
        if self._launcher.poll() is None:
            os.kill(self.pid, self.runtime.stop_signal)
            try:
                self._launcher.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(
                    f"no exit {timeout} s after {self.runtime.stop_signal.name}:\n{self.log()}"
                ) from None
        return self._launcher.returncode

    def kill(self) -> None:
        """End everything at once: SIGKILL to PID 1 of the namespace takes every process in it along.

        unshare's --kill-child is not enough: the kernel clears the parent-death signal when chroot
        --userspec changes the process's credentials. While unshare runs, its child is not reaped,
        so `self.pid` cannot have been reused."""
        if self._launcher.poll() is None:
            if self.pid > 1:  # never 0 or -1: those would signal far more than this process
                with suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            try:
                self._launcher.wait(10)
            except subprocess.TimeoutExpired:
                self._launcher.kill()
                self._launcher.wait(10)
        self._log.close()

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")
