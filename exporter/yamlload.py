"""Bounded YAML for the config and web config files: size, nesting depth, alias expansion, duplicate keys.

`yaml.safe_load` trusts its input: nine nested lists of nine aliases (400 bytes) expand to
387 million values once anything walks the result, a file of many megabytes takes minutes
to parse (measured: see docs/architecture.md, Figures behind choices in the code), and a
key written twice silently keeps the last value. A configuration file is a few kilobytes
of plain data, so everything beyond generous limits is refused while the file is read,
with the line where the limit was passed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from yaml.composer import Composer, ComposerError
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node
from yaml.resolver import Resolver

# libyaml's event parser is several times faster than the pure-Python one (measured: see
# docs/architecture.md, Figures behind choices in the code); composing stays in Python.
try:
    from yaml.cyaml import CParser as _EventSource  # type: ignore[attr-defined]
except ImportError:  # PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _EventSource(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)


MAX_BYTES = 256 * 1024
"""Largest file read (the shipped example is under 10 KB; a file this size parses in well under a second,
measured: see docs/architecture.md, Figures behind choices in the code)."""
MAX_DEPTH = 50
"""Deepest nesting of lists and mappings (the config schema needs 5)."""
MAX_NODES = 100_000
"""Most values the document may hold once every alias is expanded (a value = a scalar, list or mapping)."""

_MERGE = "tag:yaml.org,2002:merge"


class FileTooLarge(ValueError):
    """The file is larger than `MAX_BYTES`."""


class LimitExceeded(ComposerError):
    """The document passes a limit; `problem_mark` says where."""


class BoundedLoader(Composer, _EventSource, SafeConstructor, Resolver):
    """SafeLoader that counts values (aliases expanded) and depth while composing, and refuses duplicate keys.

    Counting happens on the node graph, before anything is constructed: an alias adds the
    expanded size of the node it refers to, so a bomb is refused after reading a few hundred
    bytes, without ever being expanded.
    """

    def __init__(self, stream: str) -> None:
        # The composer comes first in the bases so that its Python `compose_*` methods (counted
        # below) replace the C parser's own composition; the parser only supplies events.
        _EventSource.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._expanded = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def _grow(self, count: int, mark: Any) -> None:
        self._expanded += count
        if self._expanded > MAX_NODES:
            raise LimitExceeded(
                None,
                None,
                f"the document expands to more than {MAX_NODES:,} values (aliases counted as the values they "
                "repeat); a configuration never needs that many: write the values out, or use fewer aliases",
                mark,
            )

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        mark: Any = self.peek_event().start_mark  # type: ignore[union-attr]
        if self.check_event(AliasEvent):
            node: Node = super().compose_node(parent, index)  # type: ignore[assignment]
            size = self._sizes.get(id(node))
            if size is None:
                raise LimitExceeded(None, None, "an alias refers to the list or mapping it is part of", mark)
            self._grow(size, mark)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise LimitExceeded(None, None, f"lists and mappings nested more than {MAX_DEPTH} levels deep", mark)
        before = self._expanded
        self._grow(1, mark)
        try:
            node = super().compose_node(parent, index)  # type: ignore[assignment]
        finally:
            self._depth -= 1
        # Only anchored nodes can be repeated; their size is what an alias to them adds.
        self._sizes[id(node)] = self._expanded - before
        return node

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node: MappingNode = super().compose_mapping_node(anchor)
        first: dict[tuple[str, Any], int] = {}
        for key, _ in node.value:
            if key.tag == _MERGE or isinstance(key.value, list):
                continue  # `<<` may repeat; a list or mapping as a key is refused later by the schema
            line = first.setdefault((key.tag, key.value), key.start_mark.line + 1)
            if line != key.start_mark.line + 1:
                raise LimitExceeded(
                    None, None, f'duplicate key "{key.value}" (first written on line {line})', key.start_mark
                )
        return node


def load_yaml(text: str) -> Any:
    """Parse one YAML document within the limits; raises `yaml.YAMLError` (a `LimitExceeded` for a limit)."""
    loader = BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_text(path: Path) -> str:
    """The file as UTF-8 text; FileTooLarge beyond `MAX_BYTES`, OSError / UnicodeDecodeError as `open` raises them."""
    with path.open("rb") as source:
        data = source.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise FileTooLarge(
            f"the file is larger than {MAX_BYTES // 1024} KiB; a configuration is a few kilobytes: "
            "check that this is the right file"
        )
    return data.decode("utf-8")
