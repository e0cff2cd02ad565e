"""The exporter's error tree; every error carries the data a caller needs to react."""

from __future__ import annotations

from enum import StrEnum


class FailureReason(StrEnum):
    """Why a provider run failed; the `reason` label of the failure counter."""

    ERROR = "error"
    TIMEOUT = "timeout"
    INVALID = "invalid"
    SCHEMA = "schema"
    """A table or column the provider reads is missing or has the wrong type; it sent no SQL."""


class ExporterError(Exception):
    """Base of every error the exporter raises on purpose."""


class ConfigError(ExporterError, ValueError):
    """The configuration is unusable; `problems` holds one `(path, message)` per finding."""

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        """All findings, one per line, each led by the config path it concerns."""
        where = f"{self.source}: " if self.source else ""
        lines = [f"{where}{path}: {message}" if path else f"{where}{message}" for path, message in self.problems]
        return "\n".join(lines)


class DatabaseError(ExporterError):
    """A database operation failed; `reason` says whether it was a timeout or anything else."""

    def __init__(self, message: str, reason: FailureReason = FailureReason.ERROR) -> None:
        self.reason = reason
        super().__init__(message)


class ProviderLoadError(ExporterError):
    """A provider could not be imported, built or validated."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"provider {name!r}: {message}")
