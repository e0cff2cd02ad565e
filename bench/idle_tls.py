"""`python -m bench.idle_tls`: RSS of a TLS exporter before, during and after thousands of idle TCP connections.

Each connection connects to the TLS port and never sends a byte (no ClientHello). The exporter
runs as `serve --demo` in a child process with a self-signed certificate; its RSS comes from
/proc, and so does the number of sockets it holds. `--source` runs another checkout's exporter
(for a before/after comparison).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            count += os.readlink(fd).startswith("socket:")
    return count


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scrape_seconds(port: int, context: ssl.SSLContext) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/metrics", context=context, timeout=30) as response:
        response.read()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_tls", description=__doc__)
    parser.add_argument("--connections", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hold", type=float, default=3.0, help="seconds the connections stay open")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after closing before RSS is read")
    parser.add_argument("--source", type=Path, help="checkout whose exporter/ runs (default: this one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"),
                *("-keyout", "key.pem", "-out", "cert.pem", "-subj", "/CN=localhost", "-days", "1"),
            ],
            cwd=directory,
            check=True,
            capture_output=True,
        )
        web = directory / "web.yml"
        web.write_text("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n")
        port = _free_port()
        log = (directory / "exporter.log").open("wb")
        env = {**os.environ, "COMMERCE_DEMO_DB": str(directory / "demo.sqlite")}
        command = [sys.executable, "-m", "exporter", "serve", "--demo", "--listen", f"127.0.0.1:{port}"]
        process = subprocess.Popen(
            [*command, "--web-config", str(web)],
            cwd=args.source or Path(__file__).resolve().parent.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    _scrape_seconds(port, context)
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                    time.sleep(0.2)
            time.sleep(2)
            print(f"exporter pid {process.pid}, {args.connections} idle connections per round, max_connections 64")
            header = ("round", "RSS before", "RSS during", "RSS after", "sockets held", "scrape")
            print("{:>5} {:>11} {:>11} {:>10} {:>13} {:>8}".format(*header))
            for number in range(1, args.rounds + 1):
                before = _rss_mib(process.pid)
                idle = []
                for _ in range(args.connections):
                    idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
                time.sleep(args.hold)
                during, held = _rss_mib(process.pid), _sockets(process.pid)
                scrape = _scrape_seconds(port, context)
                for sock in idle:
                    sock.close()
                time.sleep(args.settle)
                after = _rss_mib(process.pid)
                print(
                    f"{number:>5} {before:>8.1f} MiB {during:>8.1f} MiB {after:>7.1f} MiB {held:>13} {scrape:>7.3f}s",
                    flush=True,
                )
        finally:
            process.terminate()
            process.wait(20)
            log.close()


if __name__ == "__main__":
    main()
