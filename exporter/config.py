"""YAML config → validated, frozen `Config`; every problem is reported with its path."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from exporter.db import parse_url, safe_url
from exporter.directory import PlatformRule, Shard
from exporter.durations import format_duration, parse_duration
from exporter.errors import ConfigError
from exporter.naming import valid_namespace
from exporter.schema import Layout, SchemaTables, build_tables, layout_problems
from exporter.yamlload import FileTooLarge, LimitExceeded, load_yaml, read_text

DATABASE_URL_ENV = "COMMERCE_DATABASE_URL"
"""Environment variable that supplies `database.url` when the config file does not."""

_REFERENCE_START = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(\}|:-)")
_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-]*):(?P<port>\d{1,5})$")
_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_PROVIDER_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


def _duration(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected a duration like 30s, 5m or 30d, got {value!r}")
    if isinstance(value, (int, float)):
        hint = f' (write "{value}s")' if math.isfinite(value) else ""
        raise ValueError(f"expected a duration with a unit like 30s, 5m or 30d, got {value}{hint}")
    return parse_duration(value)


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str),
]
"""A duration written `30s`, `5m`, `1h30m` or `30d`."""


def _at_most(limit: timedelta, why: str) -> AfterValidator:
    def check(value: timedelta) -> timedelta:
        if value > limit:
            raise ValueError(f"expected at most {format_duration(limit)} ({why}), got {format_duration(value)}")
        return value

    return AfterValidator(check)


MAX_INTERVAL = timedelta(days=365)
Interval = Annotated[Duration, _at_most(MAX_INTERVAL, "the scheduler plans runs at most a year ahead")]
"""How often a provider runs: 1ms to 365d."""
StaleAfter = Annotated[Duration, _at_most(3 * MAX_INTERVAL, "three times the longest interval")]
"""How long a failed provider's series stay: 1ms to 1095d."""
StatementTimeout = Annotated[Duration, _at_most(timedelta(days=1), "no metric query should run for a day")]
ConnectTimeout = Annotated[Duration, _at_most(timedelta(hours=1), "a connection not made within an hour never will be")]

RESERVED_PATHS = ("/", "/-/healthy", "/-/ready", "/-/reload")
"""Paths the exporter serves itself; `server.metrics_path` may not take them (nor anything under `/-/`)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(_Section):
    """`database`: where the platform's data lives and how long the exporter may wait for it."""

    url: str | None = Field(default=None, description="SQLAlchemy URL; or COMMERCE_DATABASE_URL.")
    password_file: Path | None = Field(default=None, description="File whose content is the password.")
    pool_size: int = Field(default=3, ge=1, le=64)
    connect_timeout: ConnectTimeout = timedelta(seconds=5)
    statement_timeout: StatementTimeout = timedelta(seconds=30)

    @field_validator("url")
    @classmethod
    def _parsable(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_url(value)
            except ConfigError as err:
                raise ValueError(err.problems[0][1]) from None
        return value


class ServerConfig(_Section):
    """`server`: the HTTP endpoint."""

    listen: str = "0.0.0.0:9814"
    metrics_path: str = Field(default="/metrics", pattern=r"^/[A-Za-z0-9._~/\-]*$")
    web_config_file: Path | None = None
    reload_endpoint: bool = Field(default=False, description="Accept POST /-/reload.")
    max_connections: int = Field(default=64, ge=1, le=10_000)

    @field_validator("metrics_path")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_PATHS or value.startswith("/-/"):
            raise ValueError(
                f'"{value}" is served by the exporter itself (/ is the landing page, /-/ holds healthy, ready '
                "and reload); choose another path, such as /metrics"
            )
        return value

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        match = _LISTEN.match(value)
        if not match or not 0 < int(match["port"]) < 65536:
            raise ValueError(f'expected HOST:PORT like 0.0.0.0:9814 or [::1]:9814, got "{value}"')
        return value

    @property
    def host(self) -> str:
        """Listen host without IPv6 brackets ("" means every interface)."""
        host = self.listen.rsplit(":", 1)[0]
        return host[1:-1] if host.startswith("[") else host

    @property
    def port(self) -> int:
        """Listen port."""
        return int(self.listen.rsplit(":", 1)[1])


class CollectionConfig(_Section):
    """`collection`: how often and over what the providers run."""

    interval: Interval = timedelta(seconds=60)
    period: str = Field(default="30d", description="Window of windowed values (orders.new, customers.new).")
    stale_after: StaleAfter | None = Field(default=None, description="Default: 3 × the provider's interval.")
    concurrency: int = Field(default=2, ge=1, le=32)
    shard: str = Field(
        default="0/1", description="i/n: export the i-th of n contiguous vendor-id ranges (equal vendor counts)."
    )

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        # The window is subtracted from "now": beyond a century it runs off the calendar at run time.
        if parse_duration(value) > timedelta(days=36500):
            raise ValueError(f'expected a window of at most 36500d (100 years), got "{value}"')
        return value

    @field_validator("shard")
    @classmethod
    def _shard(cls, value: str) -> str:
        match = re.fullmatch(r"(\d+)/(\d+)", value.strip())
        if not match or not 0 <= int(match[1]) < int(match[2]):
            raise ValueError(f'expected i/n with 0 ≤ i < n, like 0/1 or 2/4, got "{value}"')
        return value.strip()

    @property
    def shard_spec(self) -> Shard:
        """The parsed shard."""
        index, count = self.shard.split("/")
        return Shard(int(index), int(count))


class ExpositionConfig(_Section):
    """`exposition`: names and cardinality."""

    namespace: str = "commerce"
    vendor_series: bool = Field(default=True, description="Export vendor-scope series and vendor info.")

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not valid_namespace(value):
            raise ValueError(f'expected letters, digits and "_", not starting with a digit, got "{value}"')
        return value


class SqlValueConfig(_Section):
    """`providers.<name>.sql.values[i]`: one value column of a declared query."""

    key: str = Field(description='The `key` label; starts with "<category>.".')
    column: str = Field(description="The result column holding the value.")
    label: str | None = Field(default=None, description="MetricValue.label (default: the key).")
    description: str | None = Field(default=None, description="HELP text.")
    windowed: bool = Field(default=False, description="Adds the period label.")
    scale: str | None = Field(default=None, description='Exact decimal factor, e.g. "0.01" for cents.')
    unit: str | None = Field(default=None, description='A currency code, "%", "bytes", or absent.')
    platform: Literal["sum", "min", "max", "none"] = Field(
        default="sum", description="Platform value from the active members' values; none: vendor scope only."
    )

    @field_validator("scale", mode="before")
    @classmethod
    def _scale(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            hint = f' (quote it: "{value}")' if isinstance(value, float) else ""
            raise ValueError(f'expected a decimal number written as text, like "0.01", got {value!r}{hint}')
        text = str(value).strip()
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f'expected a decimal number like "0.01" or "1000", got {value!r}') from None
        if not number.is_finite() or number == 0:
            raise ValueError(f'expected a finite, non-zero decimal number like "0.01", got {value!r}')
        return text

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str | None) -> str | None:
        if value is not None and not (value in ("%", "bytes") or _CURRENCY_CODE.match(value)):
            raise ValueError(f'expected a currency code (EUR), "%", "bytes", or no unit, got "{value}"')
        return value

    @field_validator("column")
    @classmethod
    def _column(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected the name of a column the query returns")
        return value

    @property
    def factor(self) -> Decimal | None:
        """`scale` as a Decimal."""
        return Decimal(self.scale) if self.scale is not None else None


class SqlProviderConfig(_Section):
    """`providers.<name>.sql`: a provider declared as one grouped query per vendor."""

    category: str | None = Field(default=None, description="Category label and key prefix (default: the name).")
    module: str | None = Field(default=None, description="platform_modules code that switches it per platform.")
    query: str = Field(description="One SELECT returning vendor_id; binds :date_from, :date_to, :period.")
    labels: tuple[str, ...] = Field(default=(), description="Extra label columns.")
    values: tuple[SqlValueConfig, ...] = Field(description="Value columns.")

    @field_validator("category", "module")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        if value is not None and not _PROVIDER_NAME.match(value):
            raise ValueError(f'expected a lower-case module code like "sales", got "{value}"')
        return value

    @field_validator("values")
    @classmethod
    def _some(cls, value: tuple[SqlValueConfig, ...]) -> tuple[SqlValueConfig, ...]:
        if not value:
            raise ValueError("expected at least 1 value column ({key: …, column: …})")
        return value


class ProviderConfig(_Section):
    """`providers.<name>`: one provider's schedule, settings and key allowlist."""

    enabled: bool = True
    interval: Interval | None = None
    stale_after: StaleAfter | None = None
    factory: str | None = Field(default=None, description='"package.module:attribute" of a zero-argument factory.')
    settings: dict[str, Any] = Field(default_factory=dict)
    keys: tuple[str, ...] | None = Field(default=None, description="Export only these keys.")
    sql: SqlProviderConfig | None = Field(default=None, description="A provider declared as SQL (no Python).")

    @field_validator("factory")
    @classmethod
    def _factory(cls, value: str | None) -> str | None:
        if value is not None and not _FACTORY.match(value):
            raise ValueError(f'expected "package.module:attribute", got "{value}"')
        return value


class PlatformConfig(_Section):
    """`platforms.<code>`: providers forced on or off for one platform."""

    enable: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _disjoint(self) -> PlatformConfig:
        both = sorted(set(self.enable) & set(self.disable))
        if both:
            raise ValueError(f"{', '.join(both)} cannot be both enabled and disabled")
        return self

    @property
    def rule(self) -> PlatformRule:
        """As the enablement rule `directory.is_enabled` applies."""
        return PlatformRule(enable=frozenset(self.enable), disable=frozenset(self.disable))


class SchemaConfig(_Section):
    """`schema`: how the platform's tables and columns are named (keys are always reference names)."""

    naming: Literal["reference", "store"] = Field(
        default="reference", description='"store": vendors → stores, companies → merchants, vendor_id → store_id…'
    )
    database_schema: str | None = Field(default=None, description="PostgreSQL schema / MySQL database of the tables.")
    tables: dict[str, str] = Field(default_factory=dict, description="Reference table → actual table.")
    columns: dict[str, str] = Field(default_factory=dict, description='"table.column" (reference) → actual column.')

    @property
    def layout(self) -> Layout:
        """The mapping as a hashable value."""
        return Layout.of(self.naming, self.database_schema, self.tables, self.columns)

    @cached_property
    def mapped_tables(self) -> SchemaTables:
        """The reference tables under this mapping's names."""
        return build_tables(self.layout)


class Config(_Section):
    """The whole configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    database: DatabaseConfig = DatabaseConfig()
    schema_: SchemaConfig = Field(default_factory=SchemaConfig, alias="schema")
    """`schema` (named with a trailing underscore: pydantic models have a `schema` method)."""
    server: ServerConfig = ServerConfig()
    collection: CollectionConfig = CollectionConfig()
    exposition: ExpositionConfig = ExpositionConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    platforms: dict[str, PlatformConfig] = Field(default_factory=dict)

    @field_validator("providers")
    @classmethod
    def _provider_names(cls, value: dict[str, ProviderConfig]) -> dict[str, ProviderConfig]:
        for name in value:
            if not _PROVIDER_NAME.match(name):
                raise ValueError(f'provider names are lower-case module codes like "orders", got "{name}"')
        return value

    def provider(self, name: str) -> ProviderConfig:
        """`providers.<name>`, or the defaults."""
        return self.providers.get(name) or ProviderConfig()

    def interval(self, name: str) -> timedelta:
        """The provider's run interval."""
        return self.provider(name).interval or self.collection.interval

    def stale_after(self, name: str) -> timedelta:
        """How long a failed provider's last good series stay exported."""
        return self.provider(name).stale_after or self.collection.stale_after or 3 * self.interval(name)

    @property
    def rules(self) -> dict[str, PlatformRule]:
        """Per-platform enablement rules by platform code."""
        return {code: platform.rule for code, platform in self.platforms.items()}

    def database_url(self) -> str:
        """The URL with the password from `password_file` applied."""
        url = self.database.url
        if url is None:
            raise ConfigError(
                [("database.url", f"required value is missing: set it in the config file or in {DATABASE_URL_ENV}")]
            )
        if self.database.password_file is None:
            return url
        try:
            password = self.database.password_file.read_bytes().decode("utf-8").strip()
        except OSError as err:
            raise ConfigError([("database.password_file", f"cannot read: {err.strerror}")]) from err
        except UnicodeDecodeError as err:
            raise ConfigError(
                [("database.password_file", f"the file is not UTF-8 text (byte {err.start}); save it as UTF-8")]
            ) from None
        return parse_url(url).set(password=password).render_as_string(hide_password=False)

    def masked(self) -> dict[str, Any]:
        """The effective config as plain data, secrets masked (for `check-config`)."""
        data = self.model_dump(mode="json", by_alias=True)
        if self.database.url:
            data["database"]["url"] = safe_url(self.database.url)
        return data


# --- declared SQL providers -------------------------------------------------------------------

SQL_BIND_PARAMETERS = ("date_from", "date_to", "period")
"""The bind parameters a declared query may use: the collection window (naive UTC) and its period."""

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_LABELS = frozenset({"category", "key", "period", "platform", "vendor", "value", "vendor_id"})
"""Label names the exporter writes itself (and the vendor column): not available as extra label columns."""


def query_parameters(query: str) -> set[str]:
    """The `:name` bind parameters of a query, as SQLAlchemy's `text()` reads them (`::int` casts are not)."""
    from sqlalchemy import text

    return set(text(query).compile().params)


def sql_provider_problems(name: str, entry: ProviderConfig) -> list[tuple[str, str]]:
    """What `providers.<name>.sql` declares that cannot work; checked without a database."""
    spec = entry.sql
    assert spec is not None
    at = f"providers.{name}"
    problems: list[tuple[str, str]] = []
    if entry.factory is not None:
        problems.append((f"{at}.factory", "a provider is either a factory or declared with sql, not both"))
    if entry.settings:
        problems.append((f"{at}.settings", "a provider declared with sql takes no settings"))
    category = spec.category or name
    query = spec.query.strip().rstrip(";").strip()
    if not query:
        problems.append((f"{at}.sql.query", "expected one SELECT statement returning a column vendor_id"))
    elif ";" in query:
        problems.append(
            (f"{at}.sql.query", "expected one statement; remove the ';' that separates statements (or the comment)")
        )
    else:
        try:
            unknown = sorted(query_parameters(query) - set(SQL_BIND_PARAMETERS))
        except Exception as err:  # noqa: BLE001 - any parse failure is a problem of the query text
            problems.append((f"{at}.sql.query", f"cannot be read as SQL text: {err}"))
        else:
            if unknown:
                problems.append(
                    (
                        f"{at}.sql.query",
                        f"unknown bind parameter(s) {', '.join(':' + u for u in unknown)}; "
                        f"available: {', '.join(':' + p for p in SQL_BIND_PARAMETERS)} "
                        "(write \\:name for a literal colon)",
                    )
                )
    value_columns: dict[str, int] = {}
    for index, value in enumerate(spec.values):
        where = f"{at}.sql.values[{index}]"
        if not value.key.startswith(f"{category}.") or value.key == f"{category}.":
            problems.append(
                (f"{where}.key", f'must start with "{category}." (the provider\'s category), got "{value.key}"')
            )
        folded = value.column.lower()
        if folded == "vendor_id":
            problems.append((f"{where}.column", "vendor_id is the vendor column, not a value"))
        elif folded in value_columns:
            problems.append(
                (f"{where}.column", f'"{value.column}" is already the column of values[{value_columns[folded]}]')
            )
        else:
            value_columns[folded] = index
    keys: dict[str, int] = {}
    for index, value in enumerate(spec.values):
        if value.key in keys:
            problems.append(
                (f"{at}.sql.values[{index}].key", f'"{value.key}" is already the key of values[{keys[value.key]}]')
            )
        keys.setdefault(value.key, index)
    seen: set[str] = set()
    for index, label in enumerate(spec.labels):
        where = f"{at}.sql.labels[{index}]"
        if not _LABEL_NAME.match(label) or label.startswith("__"):
            problems.append((where, f'expected a valid label name ([a-zA-Z_][a-zA-Z0-9_]*), got "{label}"'))
        elif label.lower() in RESERVED_LABELS:
            problems.append(
                (where, f'"{label}" is a label the exporter writes itself; alias the column in the query (AS …)')
            )
        elif label.lower() in value_columns:
            problems.append((where, f'"{label}" is also the column of values[{value_columns[label.lower()]}]'))
        elif label.lower() in seen:
            problems.append((where, f'"{label}" is listed twice'))
        seen.add(label.lower())
    return problems


# --- loading ----------------------------------------------------------------------------------


def substitute(value: Any, env: Mapping[str, str], path: str = "") -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string; a default may hold references; `$$` is a literal `$`."""
    if isinstance(value, dict):
        return {k: substitute(v, env, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, env, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    return _expand(value, env, path)


def _expand(text: str, env: Mapping[str, str], path: str) -> str:
    out: list[str] = []
    at = 0
    while at < len(text):
        if text.startswith("$$", at):
            out.append("$")
            at += 2
            continue
        match = _REFERENCE_START.match(text, at)
        if match is None:
            out.append(text[at])
            at += 1
            continue
        name, end = match[1], match.end()
        default: str | None = None
        if match[2] == ":-":
            end = _closing_brace(text, end, path)
            default = text[match.end() : end]
            end += 1
        if name in env:
            out.append(env[name])
        elif default is not None:
            out.append(_expand(default, env, path))  # only a default in use needs its own variables
        else:
            raise ConfigError(
                [(path, f"environment variable {name} is not set (write ${{{name}:-default}} for a default)")]
            )
        at = end
    return "".join(out)


def _closing_brace(text: str, at: int, path: str) -> int:
    """Index of the `}` that closes a default starting at `at` (references inside it nest)."""
    depth = 0
    while at < len(text):
        if text.startswith("$$", at):
            at += 2
        elif text.startswith("${", at):
            depth += 1
            at += 2
        elif text[at] == "}":
            if depth == 0:
                return at
            depth -= 1
            at += 1
        else:
            at += 1
    raise ConfigError([(path, '"${" without its closing "}"; write $${ for a literal "${"')])


def _location(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("function-after", "function-before") or str(item).startswith(("function-", "constrained-")):
            continue
        else:
            parts.append(f".{printable(item)}" if parts else printable(item))
    return "".join(parts)


def printable(key: Any) -> str:
    """A config key as it can be shown on one line (a key with a newline would break the report)."""
    text = str(key)
    if not text:
        return '""'
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


_TYPE_WORDS = {
    "int": "an integer",
    "bool": "true or false",
    "string": "a string",
    "dict": "a mapping",
    "list": "a list",
    "tuple": "a list",
    "float": "a number",
    "path": "a file path",
}


def describe_errors(error: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """Pydantic errors as (path, message) in the words of this config file."""
    problems = []
    for item in error.errors(include_url=False):
        path = _location(tuple(item["loc"]))
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        kind = item["type"]
        given = item.get("input")
        if kind == "missing":
            message = "required value is missing"
        elif kind == "extra_forbidden":
            message = "unknown key (check the spelling; config/exporter.yml lists every option)"
        elif kind == "literal_error":
            message = f"expected {item.get('ctx', {}).get('expected', 'one of the listed values')}, got {given!r}"
        elif kind.endswith(("_type", "_parsing")) and kind.split("_")[0] in _TYPE_WORDS:
            message = f"expected {_TYPE_WORDS[kind.split('_')[0]]}, got {given!r}"
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
        problems.append((path, message))
    return problems


Overrides = Mapping[str, Mapping[str, Any]]
"""Command-line values by section and key, applied over the file before validation."""


def parse_config(
    raw: Any, *, env: Mapping[str, str] | None = None, source: str | None = None, overrides: Overrides | None = None
) -> Config:
    """Validate parsed YAML (a mapping or None) into a Config."""
    env = os.environ if env is None else env
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([("", f"the config must be a mapping of sections, got {type(raw).__name__}")], source)
    try:
        data = substitute(raw, env)
    except ConfigError as err:
        raise ConfigError(err.problems, source) from None
    for section, values in (overrides or {}).items():
        current = data.get(section)
        data[section] = {**(current if isinstance(current, dict) else {}), **values}
    database = data.get("database")
    if isinstance(database, dict) and database.get("url") is None and env.get(DATABASE_URL_ENV):
        data = {**data, "database": {**database, "url": env[DATABASE_URL_ENV]}}
    elif database is None and env.get(DATABASE_URL_ENV):
        data = {**data, "database": {"url": env[DATABASE_URL_ENV]}}
    database = data.get("database")
    url_missing = not (isinstance(database, dict) and database.get("url"))
    missing = [("database.url", f"required value is missing: set it here or in {DATABASE_URL_ENV}")]
    try:
        config = Config.model_validate(data)
    except ValidationError as err:
        problems = describe_errors(err)
        if url_missing and not any(path.startswith("database.url") for path, _ in problems):
            problems += missing
        raise ConfigError(problems, source) from None
    if url_missing:
        raise ConfigError(missing, source)
    schema = config.schema_
    problems = layout_problems(schema.naming, schema.database_schema, schema.tables, schema.columns)
    backend = parse_url(config.database.url or "sqlite://").get_backend_name()
    if backend == "sqlite" and schema.database_schema not in (None, "main"):
        problems.append(
            ("schema.database_schema", "SQLite keeps one schema per file (main): leave it null for a SQLite database")
        )
    for name, entry in config.providers.items():
        if entry.sql is not None:
            problems += sql_provider_problems(name, entry)
    if problems:
        raise ConfigError(problems, source)
    if config.database.pool_size < config.collection.concurrency + 1:
        raise ConfigError(
            [
                (
                    "database.pool_size",
                    f"must be at least collection.concurrency + 1 = {config.collection.concurrency + 1} "
                    "(one connection per concurrent provider run plus the health check)",
                )
            ],
            source,
        )
    return config


def load_config(
    path: str | Path | None, *, env: Mapping[str, str] | None = None, overrides: Overrides | None = None
) -> Config:
    """Read, substitute and validate a YAML file (None: defaults plus environment)."""
    if path is None:
        return parse_config({}, env=env, overrides=overrides)
    source = str(path)
    try:
        text = read_text(Path(path))
    except OSError as err:
        raise ConfigError([("", f"cannot read the config file: {err.strerror}")], source) from err
    except UnicodeDecodeError as err:
        raise ConfigError([("", f"the config file is not UTF-8 text (byte {err.start})")], source) from None
    except FileTooLarge as err:
        raise ConfigError([("", str(err))], source) from None
    try:
        raw = load_yaml(text)
        return parse_config(raw, env=env, source=source, overrides=overrides)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        kind = "refused" if isinstance(err, LimitExceeded) else "not valid YAML"
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError([("", f"{kind}: {where}{problem}")], source) from None
    except RecursionError:
        raise ConfigError([("", "nested too deeply to be a configuration")], source) from None
