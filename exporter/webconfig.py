"""Web config in the Prometheus exporter-toolkit format: TLS, basic auth with bcrypt hashes, headers.

The file is the one `--web.config.file` takes in node_exporter and friends, so operators can
reuse theirs and check it with `promtool check web-config`. Relative paths in it are relative
to the file's own directory, as in the toolkit.

Differences from the Go toolkit, each refused with a clear message rather than half-honoured:
`client_auth_type: RequestClientCert` and `RequireAnyClientCert` (Python's TLS cannot ask
for a client certificate without verifying it), and `curve_preferences`, which is validated
but leaves OpenSSL's default curve list in place. `http2` is accepted; the server speaks
HTTP/1.1, which is what Prometheus uses to scrape.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import ssl
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from exporter.config import describe_errors, printable
from exporter.errors import ConfigError
from exporter.yamlload import FileTooLarge, LimitExceeded, load_yaml, read_text

log = logging.getLogger(__name__)

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}

CLIENT_AUTH_TYPES = (
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
)
_VERIFYING = {"VerifyClientCertIfGiven": ssl.CERT_OPTIONAL, "RequireAndVerifyClientCert": ssl.CERT_REQUIRED}

GO_CIPHER_SUITES = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    # TLS 1.3 suites: accepted by the toolkit and, as in Go, not configurable.
    "TLS_AES_128_GCM_SHA256": "",
    "TLS_AES_256_GCM_SHA384": "",
    "TLS_CHACHA20_POLY1305_SHA256": "",
}
"""Go's names (what the toolkit accepts) → OpenSSL's names for TLS ≤ 1.2."""

GO_CURVES = ("CurveP256", "CurveP384", "CurveP521", "X25519")

ALLOWED_HEADERS: Mapping[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}
"""The toolkit's list: these headers only, and the enumerated ones only with these values."""

BCRYPT_BYTES = 72
"""bcrypt's key length: bytes of a password beyond it are not part of the hash."""

_BCRYPT = re.compile(r"^\$2[abxy]?\$(\d\d)\$[./A-Za-z0-9]{53}$")
_HASH_HINT = 'create one with: htpasswd -nBC 10 "" | tr -d ":\\n"'


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_empty(cls, data: Any) -> Any:
        # `tls_server_config:` with nothing under it is YAML null; the toolkit reads it as "unset".
        return {} if data is None else data


class TLSServerConfig(_Strict):
    """`tls_server_config`."""

    cert_file: str = ""
    key_file: str = ""
    client_auth_type: str = ""
    client_ca_file: str = ""
    cipher_suites: tuple[str, ...] = ()
    curve_preferences: tuple[str, ...] = ()
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    prefer_server_cipher_suites: bool = True

    @field_validator("min_version", "max_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value not in TLS_VERSIONS:
            raise ValueError(f'unknown TLS version "{value}"; expected one of {", ".join(TLS_VERSIONS)}')
        return value

    @field_validator("client_auth_type")
    @classmethod
    def _client_auth(cls, value: str) -> str:
        if value not in ("", *CLIENT_AUTH_TYPES):
            raise ValueError(f'unknown client_auth_type "{value}"; expected one of {", ".join(CLIENT_AUTH_TYPES)}')
        if value in ("RequestClientCert", "RequireAnyClientCert"):
            raise ValueError(
                f"{value} is not supported: Python's TLS verifies every client certificate it asks for; "
                "use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file"
            )
        return value

    @field_validator("cipher_suites")
    @classmethod
    def _ciphers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in GO_CIPHER_SUITES]
        if unknown:
            raise ValueError(
                f"unknown cipher suite(s) {', '.join(unknown)}; use Go's names, e.g. "
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
            )
        return value

    @field_validator("curve_preferences")
    @classmethod
    def _curves(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in GO_CURVES]
        if unknown:
            raise ValueError(f"unknown curve(s) {', '.join(unknown)}; expected {', '.join(GO_CURVES)}")
        return value

    @property
    def enabled(self) -> bool:
        """The toolkit serves TLS as soon as any of these is set."""
        return bool(self.cert_file or self.key_file or self.client_auth_type or self.client_ca_file)


class HTTPServerConfig(_Strict):
    """`http_server_config`."""

    http2: bool = True
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, given in value.items():
            if name not in ALLOWED_HEADERS:
                raise ValueError(f'header "{name}" cannot be configured; allowed: {", ".join(ALLOWED_HEADERS)}')
            allowed = ALLOWED_HEADERS[name]
            if allowed and given not in allowed:
                raise ValueError(f'{name} must be one of {", ".join(allowed)}, got "{given}"')
        return value


class WebConfigFile(_Strict):
    """The whole file. `basic_auth_users` is checked by hand so no message ever repeats a hash."""

    tls_server_config: TLSServerConfig = TLSServerConfig()
    http_server_config: HTTPServerConfig = HTTPServerConfig()
    basic_auth_users: dict[str, Any] | None = None


# --- basic auth -------------------------------------------------------------------------------


class BasicAuth:
    """Checks `user:password` against bcrypt hashes; results are cached, unknown users cost the same.

    A bcrypt check is slow by design (measured: see docs/architecture.md, Figures behind choices
    in the code), so results are kept (bounded, keyed by a SHA-256 of user, hash and password: no
    plaintext is stored) and Prometheus pays it once.
    An unknown user is checked against a dummy hash of the same cost, so response times do not
    reveal which names exist.
    """

    def __init__(self, users: Mapping[str, bytes], *, cache_size: int = 1024) -> None:
        self._users = dict(users)
        cost = max((int(h[4:6]) for h in users.values()), default=10)
        self._dummy = bcrypt.hashpw(os.urandom(16), bcrypt.gensalt(rounds=cost))
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @property
    def users(self) -> int:
        return len(self._users)

    def same_users(self, other: BasicAuth) -> bool:
        """Whether `other` checks the same users against the same hashes (its verdicts would be ours)."""
        return self._users == other._users

    def _key(self, user: str, password: bytes) -> tuple[bytes, bytes, bool]:
        hashed = self._users.get(user)
        known = hashed is not None
        hashed = hashed if hashed is not None else self._dummy
        key = hashlib.sha256(b"\0".join((user.encode("utf-8", "surrogatepass"), hashed, password))).digest()
        return key, hashed, known

    def cached(self, user: str, password: bytes) -> bool | None:
        """The remembered verdict, or None when `verify` must run (slow: call it off the event loop)."""
        key, _, _ = self._key(user, password)
        with self._lock:
            verdict = self._cache.get(key)
            if verdict is not None:
                self._cache.move_to_end(key)
            return verdict

    def verify(self, user: str, password: bytes) -> bool:
        """Run bcrypt and remember the verdict."""
        key, hashed, known = self._key(user, password)
        try:
            # bcrypt reads 72 bytes of a password. htpasswd and Go (the toolkit) hash and compare the
            # first 72 of a longer one; bcrypt for Python refuses it instead, so it could never log in.
            ok = bcrypt.checkpw(password[:BCRYPT_BYTES], hashed) and known
        except ValueError:  # a hash variant this bcrypt build does not know: never a match
            ok = False
        with self._lock:
            self._cache[key] = ok
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return ok


def parse_authorization(header: str | None) -> tuple[str, bytes] | None:
    """`Basic base64(user:password)` → (user, password); None when absent or malformed."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    if not colon:
        return None
    return user.decode("utf-8", "surrogateescape"), password


# --- loading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebSettings:
    """What the HTTP server applies: a TLS context (or plain HTTP), basic auth, extra headers."""

    source: Path | None = None
    ssl_context: ssl.SSLContext | None = None
    client_certificates: str = ""
    min_version: str = ""
    auth: BasicAuth | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for logs and `check-config`; never includes a secret."""
        if self.source is None:
            return "plain HTTP, no authentication"
        parts = [f"TLS (minimum {self.min_version})" if self.ssl_context else "plain HTTP"]
        if self.client_certificates:
            parts.append(f"client certificates: {self.client_certificates}")
        parts.append(f"basic auth: {self.auth.users} user(s)" if self.auth else "no basic auth")
        if self.headers:
            parts.append(f"headers: {', '.join(sorted(self.headers))}")
        return ", ".join(parts)


PLAIN = WebSettings()
"""No web config file: plain HTTP, no authentication."""


def _users(raw: Mapping[Any, Any] | None) -> tuple[dict[str, bytes], list[tuple[str, str]]]:
    users: dict[str, bytes] = {}
    problems: list[tuple[str, str]] = []
    for key, hashed in (raw or {}).items():
        # YAML reads `1234:` as a number; the toolkit (Go) takes it as the name "1234".
        name = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
        path = f"basic_auth_users.{printable(name)}"
        if not isinstance(name, str) or not name or ":" in name:
            problems.append((path, 'user names are non-empty strings without ":"'))
            continue
        match = _BCRYPT.match(hashed) if isinstance(hashed, str) else None
        if match is None:
            problems.append((path, f"not a bcrypt hash ({_HASH_HINT})"))
        elif not 4 <= int(match[1]) <= 31:
            problems.append((path, "bcrypt cost must be between 4 and 31"))
        else:
            users[name] = hashed.encode()
    return users, problems


def _resolve(base: Path, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else base / path


def _ssl_context(tls: TLSServerConfig, base: Path) -> tuple[ssl.SSLContext, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    if not tls.cert_file:
        problems.append(("tls_server_config.cert_file", "required when TLS is configured"))
    if not tls.key_file:
        problems.append(("tls_server_config.key_file", "required when TLS is configured"))
    verify = _VERIFYING.get(tls.client_auth_type)
    if verify is not None and not tls.client_ca_file:
        problems.append(("tls_server_config.client_ca_file", f"required with client_auth_type {tls.client_auth_type}"))
    if tls.client_ca_file and verify is None:
        problems.append(
            (
                "tls_server_config.client_auth_type",
                "client_ca_file is set but client_auth_type does not ask for client certificates; "
                "use VerifyClientCertIfGiven or RequireAndVerifyClientCert",
            )
        )
    if TLS_VERSIONS[tls.min_version] > TLS_VERSIONS[tls.max_version]:
        problems.append(("tls_server_config.min_version", f"{tls.min_version} is above max_version {tls.max_version}"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if problems:
        return context, problems
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    try:
        context.load_cert_chain(_resolve(base, tls.cert_file), _resolve(base, tls.key_file))
    except OSError as err:
        reason = err.strerror or getattr(err, "reason", None) or type(err).__name__
        problems.append(("tls_server_config.cert_file", f"cannot load the certificate and key: {reason}"))
    if verify is not None:
        try:
            context.load_verify_locations(cafile=_resolve(base, tls.client_ca_file))
        except (OSError, ssl.SSLError) as err:
            reason = err.strerror or getattr(err, "reason", None) or type(err).__name__
            problems.append(("tls_server_config.client_ca_file", f"cannot load the CA certificates: {reason}"))
        context.verify_mode = verify
    ciphers = [GO_CIPHER_SUITES[c] for c in tls.cipher_suites if GO_CIPHER_SUITES[c]]
    if ciphers:
        context.set_ciphers(":".join(ciphers))
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    if tls.curve_preferences:
        log.warning("tls_server_config.curve_preferences is not applied; OpenSSL's default curves are used")
    context.set_alpn_protocols(["http/1.1"])
    return context, problems


def parse_web_config(raw: Any, source: Path) -> WebSettings:
    """Validate parsed YAML; every problem names its path in the file."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([("", f"the web config must be a mapping, got {type(raw).__name__}")], str(source))
    users_raw = raw.get("basic_auth_users")
    try:
        parsed = WebConfigFile.model_validate({**raw, "basic_auth_users": None})
    except ValidationError as err:
        raise ConfigError(describe_errors(err), str(source)) from None
    problems: list[tuple[str, str]] = []
    if users_raw is not None and not isinstance(users_raw, dict):
        problems.append(("basic_auth_users", "expected a mapping of user name → bcrypt hash"))
        users_raw = None
    users, user_problems = _users(users_raw)
    problems += user_problems
    context: ssl.SSLContext | None = None
    tls = parsed.tls_server_config
    if tls.enabled:
        context, tls_problems = _ssl_context(tls, source.parent)
        problems += tls_problems
    if problems:
        raise ConfigError(problems, str(source))
    return WebSettings(
        source=source,
        ssl_context=context,
        client_certificates={
            "VerifyClientCertIfGiven": "verified if given",
            "RequireAndVerifyClientCert": "required",
        }.get(tls.client_auth_type, ""),
        min_version=tls.min_version,
        auth=BasicAuth(users) if users else None,
        headers=dict(parsed.http_server_config.headers),
    )


def load_web_config(path: Path | str | None) -> WebSettings:
    """Read and validate a web config file (None: plain HTTP, no authentication)."""
    if path is None:
        return PLAIN
    source = Path(path)
    try:
        text = read_text(source)
    except (OSError, UnicodeDecodeError, FileTooLarge) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise ConfigError([("", f"cannot read the web config file: {reason}")], str(source)) from err
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        kind = "refused" if isinstance(err, LimitExceeded) else "not valid YAML"
        problem = getattr(err, "problem", None) or type(err).__name__
        raise ConfigError([("", f"{kind}: {where}{problem}")], str(source)) from None
    return parse_web_config(raw, source)
