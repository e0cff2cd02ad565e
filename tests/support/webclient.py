"""HTTP(S) requests for tests: TLS with a test CA, optional client certificate and basic auth."""

from __future__ import annotations

import base64
import http.client
import ssl
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def tls_context(ca: Path, client: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    """A client context trusting only `ca`, presenting `client` (cert, key) when given."""
    context = ssl.create_default_context(cafile=str(ca))
    if client is not None:
        context.load_cert_chain(str(client[0]), str(client[1]))
    return context


def request(
    port: int,
    path: str = "/metrics",
    *,
    method: str = "GET",
    context: ssl.SSLContext | None = None,
    auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Reply:
    """One request to 127.0.0.1:`port` (HTTPS when `context` is given)."""
    connection: http.client.HTTPConnection
    if context is not None:
        connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=timeout)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    all_headers = dict(headers or {})
    if auth is not None:
        all_headers["Authorization"] = basic(*auth)
    try:
        connection.request(method, path, headers=all_headers)
        response = connection.getresponse()
        return Reply(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def basic(user: str, password: str) -> str:
    """The Authorization header value for basic auth."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def wait_for(
    port: int,
    path: str = "/-/ready",
    *,
    status: int = 200,
    timeout: float = 30.0,
    **kwargs: object,
) -> Reply:
    """Poll until `path` answers `status`; raise TimeoutError with the last outcome otherwise."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            reply = request(port, path, timeout=2, **kwargs)  # type: ignore[arg-type]
            if reply.status == status:
                return reply
            last = reply.status
        except (OSError, http.client.HTTPException) as err:
            last = err
        time.sleep(0.1)
    raise TimeoutError(f"{path} did not answer {status} within {timeout}s (last: {last!r})")
