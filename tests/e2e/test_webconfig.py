"""Web config (exporter-toolkit format): TLS, client certificates, basic auth, headers; promtool parity."""

from __future__ import annotations

import shutil
import signal
import ssl
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from exporter.errors import ConfigError
from exporter.webconfig import BasicAuth, load_web_config
from tests.support.certs import CertificateAuthority, Issued
from tests.support.processes import ExporterProcess, PrometheusServer, promtool
from tests.support.webclient import request, tls_context, wait_for

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
EXAMPLES = sorted(CONFIG_DIR.glob("web-config*.yml"))
PASSWORD = "s3cret-for-prometheus"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
"""Cost 4 keeps the tests fast; production hashes use 10 or more."""


@dataclass(frozen=True)
class Pki:
    """Everything TLS tests need, under `directory/tls/` as the shipped examples expect."""

    directory: Path
    server_ca: Path
    server: Issued
    client_ca: Path
    client: Issued
    stranger: Issued
    """A client certificate from a CA the exporter does not trust."""


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    tls = tmp_path / "tls"
    server_authority = CertificateAuthority(tls, "server CA")
    client_authority = CertificateAuthority(tls, "client CA")
    other_authority = CertificateAuthority(tls, "other CA")
    server = server_authority.issue("server", "localhost", server=True)
    shutil.copy(client_authority.files.cert, tls / "client-ca.crt")
    return Pki(
        tmp_path,
        server_authority.files.cert,
        server,
        tls / "client-ca.crt",
        client_authority.issue("client", "prometheus", server=False),
        other_authority.issue("stranger", "prometheus", server=False),
    )


def _write(pki: Pki, text: str, name: str = "web.yml") -> Path:
    path = pki.directory / name
    path.write_text(text)
    return path


def _promtool_accepts(path: Path) -> bool:
    result = promtool("check", "web-config", str(path))
    return result.returncode == 0


def _exporter_accepts(path: Path) -> bool:
    try:
        load_web_config(path)
    except ConfigError:
        return False
    return True


# --- the format -------------------------------------------------------------------------------


@pytest.mark.prometheus
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_shipped_examples_pass_promtool_and_the_exporter(example: Path, pki: Pki) -> None:
    """Each config/web-config*.yml passes `promtool check web-config` and loads in the exporter."""
    path = pki.directory / example.name
    shutil.copy(example, path)
    result = promtool("check", "web-config", str(path))
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert _exporter_accepts(path)


TLS = "tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/server.key\n"
PARITY = {
    "empty file": ("", True),
    "tls": (TLS, True),
    "tls 1.3 only": (TLS + "  min_version: TLS13\n", True),
    "mtls": (TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: tls/client-ca.crt\n", True),
    "optional client cert": (
        TLS + "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: tls/client-ca.crt\n",
        True,
    ),
    "go cipher names": (TLS + "  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n", True),
    "headers": (
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n",
        True,
    ),
    "basic auth": (f"basic_auth_users:\n  alice: {HASH}\n", True),
    "numeric user name": (f"basic_auth_users:\n  1234: {HASH}\n", True),
    "missing key_file": ("tls_server_config:\n  cert_file: tls/server.crt\n", False),
    "missing cert file": ("tls_server_config:\n  cert_file: tls/nope.crt\n  key_file: tls/server.key\n", False),
    "unknown key": (TLS + "  cert: inline\n", False),
    "unknown section": ("rate_limit:\n  burst: 1\n", False),
    "unknown tls version": (TLS + "  min_version: TLS14\n", False),
    "unknown client auth": (TLS + "  client_auth_type: Sometimes\n", False),
    "ca without client auth": (TLS + "  client_ca_file: tls/client-ca.crt\n", False),
    "unknown cipher": (TLS + "  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n", False),
    "unknown curve": (TLS + "  curve_preferences: [CurveP999]\n", False),
    "header not allowed": ("http_server_config:\n  headers:\n    Server: hidden\n", False),
    "header value not allowed": ("http_server_config:\n  headers:\n    X-Frame-Options: DENY\n", False),
    "not a hash": ("basic_auth_users:\n  alice: plaintext-password\n", False),
    "bcrypt cost too low": ("basic_auth_users:\n  alice: " + HASH.replace("$04$", "$03$") + "\n", False),
    "not yaml": ("tls_server_config: [unclosed\n", False),
}


@pytest.mark.prometheus
@pytest.mark.parametrize("text, valid", PARITY.values(), ids=list(PARITY))
def test_exporter_and_promtool_agree(text: str, valid: bool, pki: Pki) -> None:
    """The exporter accepts exactly the web configs promtool (exporter-toolkit) accepts, for each case."""
    path = _write(pki, text)
    assert _promtool_accepts(path) is valid
    assert _exporter_accepts(path) is valid


STRICTER = {
    "RequireAnyClientCert": (TLS + "  client_auth_type: RequireAnyClientCert\n", "is not supported"),
    "verify without a CA": (TLS + "  client_auth_type: RequireAndVerifyClientCert\n", "client_ca_file: required"),
    "min above max": (TLS + "  min_version: TLS13\n  max_version: TLS12\n", "is above max_version"),
    "CA file without certificates": (
        TLS + "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: tls/server.key\n",
        "cannot load the CA certificates",
    ),
}


@pytest.mark.parametrize("text, message", STRICTER.values(), ids=list(STRICTER))
def test_configs_go_would_misserve_are_refused_with_a_reason(text: str, message: str, pki: Pki) -> None:
    """Where Go would serve something broken (or Python cannot do it), the exporter refuses and says why."""
    path = _write(pki, text)
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_errors_name_the_path_and_never_repeat_a_hash(pki: Pki) -> None:
    """A bad hash is reported with its user's path, and neither hash text appears in the message."""
    broken = HASH[:-5]
    path = _write(pki, f"basic_auth_users:\n  alice: {broken}\n  bob: {HASH}\n  carol: [1, 2]\n")
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    message = str(caught.value)
    assert f"{path}: basic_auth_users.alice: not a bcrypt hash" in message
    assert f"{path}: basic_auth_users.carol: not a bcrypt hash" in message
    assert broken not in message and HASH not in message


# --- basic auth -------------------------------------------------------------------------------


def test_verdicts_are_cached_so_bcrypt_runs_once_per_credential() -> None:
    """After one check, the same user and password are answered from the cache, right or wrong."""
    auth = BasicAuth({"alice": HASH.encode()})
    assert auth.cached("alice", PASSWORD.encode()) is None
    assert auth.verify("alice", PASSWORD.encode()) is True
    assert auth.verify("alice", b"wrong") is False
    assert auth.cached("alice", PASSWORD.encode()) is True
    assert auth.cached("alice", b"wrong") is False
    assert auth.cached("alice", b"other") is None


def test_unknown_users_cost_as_much_as_known_ones() -> None:
    """An unknown name is checked against a dummy hash of the same cost (timing does not reveal names)."""
    hashed = bcrypt.hashpw(b"x", bcrypt.gensalt(rounds=10))
    auth = BasicAuth({"alice": hashed})

    def seconds(user: str, attempt: int) -> float:
        started = time.perf_counter()
        assert auth.verify(user, f"guess-{attempt}".encode()) is False
        return time.perf_counter() - started

    known = statistics.median(seconds("alice", i) for i in range(5))
    unknown = statistics.median(seconds("mallory", i) for i in range(5))
    # bcrypt at cost 10 takes tens of ms; a lookup-only rejection would take microseconds.
    assert unknown > 0.5 * known, (known, unknown)


def test_a_known_user_with_the_dummy_password_is_still_refused() -> None:
    """The dummy hash never lets anybody in, not even with the right guess for it."""
    auth = BasicAuth({"alice": HASH.encode()})
    assert auth.verify("nobody", b"") is False
    assert auth.verify("", PASSWORD.encode()) is False


# --- a running exporter -----------------------------------------------------------------------


@pytest.fixture
def secured(pki: Pki, tmp_path: Path) -> Iterator[tuple[ExporterProcess, Pki]]:
    """The demo exporter behind TLS + basic auth + security headers."""
    web = _write(
        pki,
        TLS + f"basic_auth_users:\n  prometheus: {HASH}\n"
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n",
    )
    exporter = ExporterProcess(
        tmp_path,
        config={"server": {"reload_endpoint": True}},
        args=["--demo", "--web-config", str(web)],
        env={"COMMERCE_DEMO_DB": str(tmp_path / "demo.sqlite")},
    )
    try:
        wait_for(exporter.port, context=tls_context(pki.server_ca), auth=("prometheus", PASSWORD))
        yield exporter, pki
    finally:
        exporter.stop()


@pytest.mark.prometheus
def test_prometheus_scrapes_through_tls_and_basic_auth(secured: tuple[ExporterProcess, Pki], tmp_path: Path) -> None:
    """Prometheus with the CA and the password scrapes; the same job with a wrong password is down (401)."""
    exporter, pki = secured
    target = {"targets": [f"localhost:{exporter.port}"]}
    tls = {"ca_file": str(pki.server_ca)}
    prometheus = PrometheusServer(
        tmp_path,
        {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": [
                {
                    "job_name": "good",
                    "scheme": "https",
                    "tls_config": tls,
                    "basic_auth": {"username": "prometheus", "password": PASSWORD},
                    "static_configs": [target],
                },
                {
                    "job_name": "wrong-password",
                    "scheme": "https",
                    "tls_config": tls,
                    "basic_auth": {"username": "prometheus", "password": "guess"},
                    "static_configs": [target],
                },
            ],
        },
    )
    try:
        assert prometheus.wait_for('up{job="good"} == 1')
        assert prometheus.wait_for('commerce_vendor_orders{job="good"}')
        assert prometheus.wait_for('commerce_exporter_provider_up{job="good"} == 1')
        assert prometheus.wait_for('up{job="wrong-password"} == 0')
        targets = prometheus.api("targets")["activeTargets"]
        errors = {t["labels"]["job"]: t["lastError"] for t in targets}
        assert "401" in errors["wrong-password"], errors
        assert errors["good"] == ""
    finally:
        prometheus.stop()


def test_wrong_or_missing_password_gets_401_on_every_path(secured: tuple[ExporterProcess, Pki]) -> None:
    """Without the right password every path, known or not, answers 401 with a Basic challenge."""
    exporter, pki = secured
    context = tls_context(pki.server_ca)
    for path in ("/metrics", "/", "/-/healthy", "/-/ready", "/nope"):
        for auth in (None, ("prometheus", "wrong"), ("someone", PASSWORD), ("", "")):
            reply = request(exporter.port, path, context=context, auth=auth)
            assert reply.status == 401, (path, auth)
            assert reply.headers["WWW-Authenticate"].startswith("Basic ")
    assert request(exporter.port, "/-/reload", method="POST", context=context).status == 401
    assert request(exporter.port, "/metrics", context=context, auth=("prometheus", PASSWORD)).status == 200


def test_plain_http_on_the_tls_port_gets_nothing(secured: tuple[ExporterProcess, Pki]) -> None:
    """A client speaking plain HTTP to the TLS port gets no metrics."""
    exporter, _ = secured
    try:
        reply = request(exporter.port, "/metrics", auth=("prometheus", PASSWORD), timeout=5)
    except (OSError, ValueError) as err:  # connection closed or garbage back: both are refusals
        assert err
        return
    assert b"commerce_" not in reply.body


def test_configured_headers_are_on_every_response(secured: tuple[ExporterProcess, Pki]) -> None:
    """The web config's headers come with 200, 401 and 404 responses alike."""
    exporter, pki = secured
    context = tls_context(pki.server_ca)
    replies = [
        request(exporter.port, "/metrics", context=context, auth=("prometheus", PASSWORD)),
        request(exporter.port, "/metrics", context=context),
        request(exporter.port, "/nope", context=context, auth=("prometheus", PASSWORD)),
    ]
    assert [r.status for r in replies] == [200, 401, 404]
    for reply in replies:
        assert reply.headers["X-Frame-Options"] == "deny"
        assert reply.headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def mutual(pki: Pki, tmp_path: Path) -> Iterator[tuple[ExporterProcess, Pki]]:
    web = _write(pki, TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: tls/client-ca.crt\n")
    exporter = ExporterProcess(
        tmp_path, args=["--demo", "--web-config", str(web)], env={"COMMERCE_DEMO_DB": str(tmp_path / "demo.sqlite")}
    )
    try:
        wait_for(exporter.port, context=tls_context(pki.server_ca, (pki.client.cert, pki.client.key)))
        yield exporter, pki
    finally:
        exporter.stop()


def test_client_certificate_required_refuses_the_handshake_without_one(mutual: tuple[ExporterProcess, Pki]) -> None:
    """With RequireAndVerifyClientCert, no certificate or one from another CA fails the TLS handshake."""
    exporter, pki = mutual
    for client in (None, (pki.stranger.cert, pki.stranger.key)):
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            request(exporter.port, "/metrics", context=tls_context(pki.server_ca, client))
    good = request(exporter.port, "/metrics", context=tls_context(pki.server_ca, (pki.client.cert, pki.client.key)))
    assert good.status == 200 and b"commerce_exporter_build_info" in good.body


def test_reload_applies_a_new_web_config_and_keeps_the_old_one_when_invalid(pki: Pki, tmp_path: Path) -> None:
    """SIGHUP turns TLS on for new connections; a broken web config then keeps TLS and the auth as they were."""
    web = _write(pki, f"basic_auth_users:\n  prometheus: {HASH}\n")
    exporter = ExporterProcess(
        tmp_path,
        config={"server": {"web_config_file": str(web)}},
        args=["--demo"],
        env={"COMMERCE_DEMO_DB": str(tmp_path / "demo.sqlite")},
    )
    auth = ("prometheus", PASSWORD)
    context = tls_context(pki.server_ca)
    try:
        wait_for(exporter.port, auth=auth)
        web.write_text(TLS + f"basic_auth_users:\n  prometheus: {HASH}\n")
        exporter.process.send_signal(signal.SIGHUP)
        wait_for(exporter.port, "/metrics", context=context, auth=auth, timeout=15)

        web.write_text(TLS + "  client_auth_type: Sometimes\n")
        exporter.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while "configuration reload failed" not in exporter.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        reply = request(exporter.port, "/metrics", context=context, auth=auth)
        assert reply.status == 200
        assert b"commerce_exporter_config_last_reload_successful 0.0" in reply.body
        assert request(exporter.port, "/metrics", context=context).status == 401
        assert f"{web}: tls_server_config.client_auth_type: unknown client_auth_type" in exporter.log()
    finally:
        exporter.stop()
