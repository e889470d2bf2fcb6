"""Round-trip YAML loading that a hostile document cannot stall or crash.

A YAML file is input from someone else (a client's engagement, a repository's
config): three tricks turn a few bytes into a hang or a traceback, and each
is refused here with the line it starts on, before any object is built:

- an alias bomb ("billion laughs"): nine anchors of nine aliases each expand to
  10^9 nodes when the loaded object is walked. Aliases are shared references
  in the loaded object, so loading is cheap and every later walk explodes; the
  expanded size is bounded while the events stream by, as Go's yaml.v3 does;
- nesting deep enough to exhaust the recursive composer (a RecursionError);
- a scalar a constructor rejects after the parser accepted it (``2026-02-30``,
  an integer past Python's digit limit): a timestamp that is not a calendar
  date stays text, so the schema that expects a date reports it by field; any
  other constructor failure becomes a YAML error with its line.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, ScalarEvent


class YamlInputError(ValueError):
    """The text is not YAML this loader accepts; ``line`` is 1-based, or None if unknown."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _TolerantConstructor(RoundTripConstructor):
    """Round-trip constructor whose value errors carry the node's line."""

    def construct_non_recursive_object(self, node: Any, tag: str | None = None) -> Any:
        try:
            return super().construct_non_recursive_object(node, tag)
        except (ValueError, OverflowError) as e:
            raise ConstructorError(None, None, str(e), node.start_mark) from None

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node, values)
        except ValueError:  # matches the timestamp pattern, names no calendar day
            return self.construct_yaml_str(node)


_TolerantConstructor.add_constructor(
    "tag:yaml.org,2002:timestamp", _TolerantConstructor.construct_yaml_timestamp
)


def _yaml(allow_duplicate_keys: bool) -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _TolerantConstructor
    yaml.allow_duplicate_keys = allow_duplicate_keys
    return yaml


def _check_shape(text: str, max_depth: int, max_nodes: int) -> None:
    """Refuse nesting deeper than ``max_depth`` or more than ``max_nodes`` after alias expansion."""
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, expanded count at its start)
    anchored: dict[str, int] = {}  # anchor -> expanded size of its finished node
    expanded = 0
    for event in _yaml(True).parse(text):
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, CollectionStartEvent):
            if len(open_nodes) >= max_depth:
                raise YamlInputError(line, f"nested deeper than {max_depth} levels")
            open_nodes.append((event.anchor, expanded))
            expanded += 1
        elif isinstance(event, CollectionEndEvent):
            anchor, start = open_nodes.pop()
            if anchor:
                anchored[anchor] = expanded - start
        elif isinstance(event, AliasEvent):
            if event.anchor not in anchored:
                raise YamlInputError(
                    line, f"alias *{event.anchor} refers to no finished anchor (a recursive alias?)"
                )
            expanded += anchored[event.anchor]
        elif isinstance(event, ScalarEvent):
            expanded += 1
            if event.anchor:
                anchored[event.anchor] = 1
        if expanded > max_nodes:
            raise YamlInputError(
                line, f"more than {max_nodes} nodes once aliases are expanded (an alias bomb?)"
            )


def load_bounded_yaml(
    text: str,
    *,
    max_depth: int = 32,
    max_nodes: int = 200_000,
    allow_duplicate_keys: bool = False,
    all_documents: bool = False,
) -> Any:
    """Load one YAML document (or, with ``all_documents``, the list of them) within the bounds.

    Comments and line numbers are kept (round-trip types). Raises `YamlInputError`.
    """
    try:
        _check_shape(text, max_depth, max_nodes)
        yaml = _yaml(allow_duplicate_keys)
        return list(yaml.load_all(text)) if all_documents else yaml.load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise YamlInputError(mark.line + 1 if mark else None, str(e.problem or e.context)) from None
    except YAMLError as e:  # e.g. a control character the reader refuses
        position = getattr(e, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        raise YamlInputError(line, str(e).splitlines()[0] if str(e) else type(e).__name__) from None
