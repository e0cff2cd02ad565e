"""The fenced blocks of a documentation page, for the tests that keep a page's examples true."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def fenced(page: str) -> list[tuple[str, str]]:
    """(language, text) of every fenced block of a Markdown page, in order (language "" for a bare fence)."""
    blocks: list[tuple[str, str]] = []
    language: str | None = None
    lines: list[str] = []
    for line in page.splitlines():
        if language is None and line.startswith("```"):
            language, lines = line[3:].strip(), []
        elif language is not None and line == "```":
            blocks.append((language, "\n".join(lines) + "\n"))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def blocks(path: str, language: str) -> list[str]:
    """The blocks of one language of the page at `path` (relative to the repository)."""
    return [text for kind, text in fenced((ROOT / path).read_text(encoding="utf-8")) if kind == language]
