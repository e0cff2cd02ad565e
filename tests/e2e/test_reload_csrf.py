"""POST /-/reload refuses what a browser sends on behalf of another site; curl and scripts still reload."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine

from exporter.http import Limits
from tests.support.builders import Rows
from tests.support.exporting import make_exporter
from tests.support.processes import free_port
from tests.support.served import Served, serve
from tests.support.webclient import request


@pytest.fixture
def served(sqlite_url: str) -> Iterator[Served]:
    rows = Rows(create_engine(sqlite_url))
    rows.link(rows.vendor("v1"), rows.platform("p1"))
    exporter = make_exporter(sqlite_url, server={"listen": f"127.0.0.1:{free_port()}", "reload_endpoint": True})
    yield from serve(exporter, Limits())


def _reloads(served: Served) -> float:
    return float(served.exporter.metrics.reload_success_time._value.get())


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
    ],
    ids=["foreign origin", "opaque origin", "cross-site fetch", "same-site fetch", "text body", "form", "multipart"],
)
def test_cross_site_reloads_are_refused(served: Served, headers: dict[str, str]) -> None:
    """A request a web page could make from another origin gets 403 and reloads nothing."""
    before = _reloads(served)
    reply = request(served.port, "/-/reload", method="POST", headers=headers)
    assert reply.status == 403, reply
    assert b"cross-site" in reply.body or b"without a body" in reply.body
    assert _reloads(served) == before


@pytest.mark.parametrize(
    "headers",
    [{}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {"Content-Type": "application/json"}],
    ids=["curl -X POST", "same origin", "typed by the user", "json"],
)
def test_scripts_and_same_origin_reloads_still_work(served: Served, headers: dict[str, str]) -> None:
    """`curl -X POST`, a same-origin page and non-form bodies reload as before."""
    assert request(served.port, "/-/reload", method="POST", headers=headers).status == 200


def test_an_origin_matching_the_host_is_allowed(served: Served) -> None:
    """An Origin equal to the address the request was sent to is the exporter's own page."""
    headers = {"Origin": f"http://127.0.0.1:{served.port}", "Host": f"127.0.0.1:{served.port}"}
    assert request(served.port, "/-/reload", method="POST", headers=headers).status == 200
