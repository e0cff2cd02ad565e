"""Every relative link of README.md and docs/*.md leads somewhere: an existing file, and an existing heading.

Anchors follow GitHub's rules: the heading's text as rendered (no backticks, emphasis or link
syntax), lower-cased, every character that is not a letter, digit, space, hyphen or underscore
removed, spaces turned into hyphens; a repeated heading gets `-1`, `-2`, … in order. Links and
headings inside fenced code blocks and code spans do not count. Absolute URLs are not followed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]

DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^()\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
_HTML_ANCHOR = re.compile(r"<a\s[^>]*\b(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line outside fenced code blocks."""
    lines: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opening = _FENCE.match(line)
        if fence is None:
            if opening:
                fence = opening.group(1)
                continue
            lines.append((number, line))
        elif (
            opening
            and opening.group(1)[0] == fence[0]
            and len(opening.group(1)) >= len(fence)
            and not line.strip().strip(fence[0])  # a closing fence has no info string
        ):
            fence = None
    return lines


def rendered_text(heading: str) -> str:
    """A heading's text as GitHub renders it: code spans keep their content, link and emphasis syntax goes."""
    text = _CODE_SPAN.sub(lambda m: m.group(2).strip(), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [text](target) → text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    return re.sub(r"(\*{1,3}|_{1,3})(\S(?:.*?\S)?)\1", r"\2", text)  # *emphasis*, __strong__


def slug(heading: str) -> str:
    """GitHub's anchor for a heading (before numbering duplicates)."""
    text = rendered_text(heading).strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a document defines: its headings (duplicates numbered) and HTML `name`/`id` anchors."""
    found: set[str] = set()
    counts: dict[str, int] = {}

    def add(heading: str) -> None:
        base = slug(heading)
        number = counts.get(base, 0)
        counts[base] = number + 1
        found.add(base if number == 0 else f"{base}-{number}")

    previous: str | None = None
    for _, line in _prose_lines(text):
        atx = _ATX.match(line)
        if atx:
            add(atx.group(2) or "")
            previous = None
            continue
        if (
            _SETEXT.match(line)
            and previous
            and previous.strip()
            and not re.match(r"^ {0,3}([-*+>|]|\d+[.)])", previous)
        ):
            add(previous.strip())
            previous = None
            continue
        found.update(_HTML_ANCHOR.findall(line))
        previous = line
    return found


@dataclass(frozen=True)
class Link:
    """One link of a document: where it is written and where it points."""

    line: int
    target: str


def _paragraphs(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of every run of consecutive non-blank lines outside code blocks.

    A link's text may wrap onto the next line, so links are looked for per paragraph.
    """
    paragraphs: list[tuple[int, list[str]]] = []
    last = -1
    for number, line in _prose_lines(text):
        if not line.strip():
            last = -1
            continue
        if number == last + 1 and paragraphs:
            paragraphs[-1][1].append(line)
        else:
            paragraphs.append((number, [line]))
        last = number
    return [(first, "\n".join(lines)) for first, lines in paragraphs]


def links(text: str) -> list[Link]:
    """Inline links, images and reference definitions outside code blocks and code spans."""
    found: list[Link] = []
    for first, paragraph in _paragraphs(text):
        prose = _CODE_SPAN.sub(lambda m: "\n" * m.group(0).count("\n"), paragraph)
        for match in _INLINE_LINK.finditer(prose):
            number = first + prose.count("\n", 0, match.end())
            found.append(Link(number, match.group(1).removeprefix("<").removesuffix(">")))
        for offset, line in enumerate(prose.split("\n")):
            definition = _REFERENCE_DEFINITION.match(line)
            if definition:
                found.append(Link(first + offset, definition.group(1).removeprefix("<").removesuffix(">")))
    return sorted(found, key=lambda link: link.line)


def problems(document: Path, root: Path = ROOT) -> list[str]:
    """What is broken among `document`'s relative links, one line each (empty: nothing)."""
    text = document.read_text(encoding="utf-8")
    found: list[str] = []
    known: dict[Path, set[str]] = {}
    for link in links(text):
        if _SCHEME.match(link.target) or link.target.startswith("//"):
            continue  # absolute URL: not part of the repository
        path_part, _, anchor = link.target.partition("#")
        where = f"{document.relative_to(root)}:{link.line}: ({link.target})"
        target = (document.parent / unquote(path_part)).resolve() if path_part else document.resolve()
        if path_part.startswith("/"):
            target = (root / unquote(path_part).lstrip("/")).resolve()
        if not target.is_relative_to(root.resolve()):
            found.append(f"{where} leads out of the repository")
            continue
        if not target.exists():
            found.append(f"{where} no such file: {target.relative_to(root.resolve())}")
            continue
        if not anchor:
            continue
        if target.suffix.lower() != ".md":
            found.append(f"{where} an anchor into a file that is not markdown cannot be checked")
            continue
        if target not in known:
            known[target] = anchors(target.read_text(encoding="utf-8"))
        if unquote(anchor) not in known[target]:
            found.append(f"{where} no heading with the anchor #{anchor} in {target.relative_to(root.resolve())}")
    return found


# --- the checker itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Limits that remain", "limits-that-remain"),
        ("Check a database: `commerce-exporter check-schema`", "check-a-database-commerce-exporter-check-schema"),
        (
            "Figures: demo-db load and one full collection (10,000 vendors, 2,000,000 orders)",
            "figures-demo-db-load-and-one-full-collection-10000-vendors-2000000-orders",
        ),
        ("Security: what holds, and the limits that remain", "security-what-holds-and-the-limits-that-remain"),
        (
            "With docker compose (exporter on demo data, Prometheus, Grafana)",
            "with-docker-compose-exporter-on-demo-data-prometheus-grafana",
        ),
        ("**Bold** and [a link](x.md) and `code_span`", "bold-and-a-link-and-code_span"),
        ("Größe — ümlaut", "größe--ümlaut"),
    ],
)
def test_slugs_follow_github(heading: str, expected: str) -> None:
    """Slugs worked out by hand from GitHub's rules for headings of the kinds these documents use."""
    assert slug(heading) == expected


def test_the_checker_finds_broken_links(tmp_path: Path) -> None:
    """A missing file, a missing heading, a link out of the repository; code, URLs and good links are fine."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## Same\n\n## Same\n\nText\n----\n", encoding="utf-8")
    (tmp_path / "config.yml").write_text("a: 1\n", encoding="utf-8")
    document = tmp_path / "README.md"
    document.write_text(
        "\n".join(
            [
                "# Title",
                "[good](docs/other.md#same-1) [setext](docs/other.md#text) [file](config.yml) [here](#title)",
                "[missing file](docs/nowhere.md) [missing heading](docs/other.md#same-2)",
                "[outside](../outside.md) [url](https://example.com/x.md#y) `[in code](gone.md)`",
                "```",
                "[in a fence](gone.md)",
                "# not a heading",
                "```",
                "[fence heading](#not-a-heading) [anchor into yaml](config.yml#L1)",
                "[ref]: docs/gone-too.md",
                "",
                "[a link whose text",
                "wraps](docs/other.md#wrapped)",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    found = problems(document, tmp_path)
    assert [line.split(" ", 1)[0] for line in found] == [
        "README.md:3:",
        "README.md:3:",
        "README.md:4:",
        "README.md:9:",
        "README.md:9:",
        "README.md:10:",
        "README.md:13:",
    ], found
    assert "no such file: docs/nowhere.md" in found[0]
    assert "#same-2" in found[1]
    assert "out of the repository" in found[2]
    assert "#not-a-heading" in found[3]
    assert "not markdown" in found[4]
    assert "docs/gone-too.md" in found[5]
    assert "#wrapped" in found[6]


# --- the repository's documents ------------------------------------------------------------------


def test_the_documents_are_found() -> None:
    """README.md and the pages under docs/ (so the test below checks something)."""
    names = {path.relative_to(ROOT).as_posix() for path in DOCUMENTS}
    assert {"README.md", "docs/architecture.md", "docs/database.md", "docs/operations.md"} <= names


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_relative_links_lead_to_files_and_headings(document: Path) -> None:
    """Every relative link of the document points to an existing file and, with `#anchor`, to a heading in it."""
    broken = problems(document)
    assert not broken, "broken links (fix the link or the heading):\n" + "\n".join(broken)
