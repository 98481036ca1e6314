"""Split an article file into front matter and body, and read YAML safely.

Safety rules, applied to ``feeds.yaml`` as well as to front matter:

* only the YAML types of PyYAML's safe schema are built (``!!python/...`` tags are errors);
* anchors and aliases are refused: no "billion laughs", no shared objects;
* a key repeated in one mapping is an error, not a silent overwrite;
* nesting deeper than :data:`MAX_DEPTH` levels is an error, checked before parsing;
* the document must be a mapping.

Errors carry the 1-based line number in the *file*, not in the YAML block.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import yaml

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted in YAML."""

_FENCE = re.compile(r"---[ \t]*\Z")
"""The first line of an article file (``match``: from its start)."""
_CLOSE = re.compile(r"\n(?:---|\.\.\.)[ \t]*(?![^\n])")
"""A line break and the line that closes the front matter (``search``)."""


class YamlProblem(Exception):
    """A YAML block cannot be used; ``line`` is 1-based within the block."""

    def __init__(self, line: int, message: str, field: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class Document:
    """A loaded YAML mapping and the 1-based line of every key of every mapping in it.

    ``lines`` is keyed by ``id()`` of each mapping inside ``data``; it is valid as long
    as ``data`` is alive.
    """

    data: dict[str, Any]
    lines: dict[int, dict[str, int]]

    def line_of(self, mapping: object, key: str, default: int = 0) -> int:
        return self.lines.get(id(mapping), {}).get(key, default)


class _Checks:
    """Key lines, duplicate-key, merge-key and alias refusal, for either PyYAML loader."""

    constructed_objects: dict[Any, Any]
    recursive_objects: dict[Any, Any]

    def __init__(self, stream: str) -> None:
        super().__init__(stream)  # type: ignore[call-arg]
        self.key_lines: dict[int, dict[str, int]] = {}

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            raise YamlProblem(node.start_mark.line + 1, "anchors and aliases are not allowed")
        try:
            return super().construct_object(node, deep=deep)  # type: ignore[misc]
        except (ValueError, OverflowError) as e:
            import yaml  # imported by now: only PyYAML's loaders get here

            # PyYAML's constructors raise these for values such as a 5,000-digit number.
            value = node.value if isinstance(node, yaml.ScalarNode) else ""
            shown = value if len(value) <= 40 else value[:37] + "..."
            raise YamlProblem(node.start_mark.line + 1, f"bad value {shown!r}: {e}") from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)
        lines: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlProblem(key_node.start_mark.line + 1, "merge keys (<<) are not allowed")
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if isinstance(key, str):
                if key in lines:
                    raise YamlProblem(
                        key_node.start_mark.line + 1,
                        f"key repeated (first at line {lines[key]})",
                        field=key,
                    )
                lines[key] = key_node.start_mark.line + 1
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)  # type: ignore[misc]
        self.key_lines[id(mapping)] = lines
        return mapping


def _construct_timestamp(loader: Any, node: yaml.ScalarNode) -> Any:
    """PyYAML's timestamp, or the plain text when it names an impossible date (2021-02-30).

    The text then reaches the field's own check, which reports it with the field's name.
    So does the text of an explicit ``!!timestamp`` tag that is no timestamp at all
    (``!!timestamp soon``), on which PyYAML's constructor fails with ``AttributeError``.
    """
    import yaml

    value = node.value
    if isinstance(value, str) and loader.timestamp_regexp.match(value) is None:
        return value
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return node.value


# Keep the mapping ids valid: construct_mapping is reached through construct_yaml_map,
# which fills a dict created earlier; register the final dict instead.
def _construct_yaml_map(loader: Any, node: yaml.MappingNode) -> Any:
    data: dict[Any, Any] = {}
    yield data
    value = loader.construct_mapping(node)
    data.update(value)
    loader.key_lines[id(data)] = loader.key_lines.pop(id(value), {})


@functools.cache
def _loaders() -> tuple[type[Any], type[Any]]:
    """PyYAML's safe loader on libyaml with our checks, and its pure-Python twin (for what
    libyaml refuses: escapes of lone surrogates), made when first needed: importing
    PyYAML takes 15-20 ms, which a run whose YAML all takes the fast path
    (:mod:`feeds.fastyaml`) never spends."""
    import yaml

    try:
        from yaml import CSafeLoader as base
    except ImportError:  # pragma: no cover - PyYAML built without libyaml
        from yaml import SafeLoader as base  # type: ignore[assignment]

    class Loader(_Checks, base):
        pass

    class PyLoader(_Checks, yaml.SafeLoader):
        pass

    for cls in (Loader, PyLoader):
        cls.add_constructor("tag:yaml.org,2002:map", _construct_yaml_map)
        cls.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
    return Loader, PyLoader


def _too_deep(text: str) -> int:
    """The line where flow or block nesting exceeds MAX_DEPTH, or 0 when it does not."""
    if text.count("[") + text.count("{") > MAX_DEPTH:
        depth = 0
        quote = ""
        line = 1
        for ch in text:
            if ch == "\n":
                line += 1
            if quote:
                if ch == quote:
                    quote = ""
            elif ch in "\"'":
                quote = ch
            elif ch in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    return line
            elif ch in "]}":
                depth = max(0, depth - 1)
    # Block nesting: every level costs at least one column of indentation.
    for number, raw in enumerate(text.split("\n"), 1):
        stripped = raw.lstrip(" -")
        if len(raw) - len(stripped) > 2 * MAX_DEPTH and stripped:
            return number
    return 0


def load_yaml(text: str) -> Document:
    """Load one YAML document that must be a mapping; raise :class:`YamlProblem` if unusable."""
    deep = _too_deep(text)
    if deep:
        raise YamlProblem(deep, f"nesting deeper than {MAX_DEPTH} levels")
    loader, pure = _loaders()
    try:
        return _load(text, loader)
    except YamlProblem as e:
        if "invalid Unicode character escape" not in e.message:
            raise
    # libyaml refuses escapes of lone surrogates ("\ud800") that PyYAML's pure-Python
    # reader accepts; text cleaning removes them later, so read such files that way.
    return _load(text, pure)


def _load(text: str, loader_class: type[Any]) -> Document:
    import yaml

    loader = loader_class(text)
    try:
        data = loader.get_single_data()
    except YamlProblem:
        raise
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = " ".join(str(p) for p in (e.context, e.problem) if p)
        if "could not determine a constructor" in what:
            what = "tags that construct objects are not allowed: " + str(e.problem).split("'")[1]
        raise YamlProblem(line, f"bad YAML: {what}") from None
    except yaml.YAMLError as e:
        raise YamlProblem(1, f"bad YAML: {e}") from None
    except RecursionError:
        raise YamlProblem(1, "nesting too deep") from None
    except (ValueError, OverflowError, TypeError) as e:
        raise YamlProblem(1, f"bad value: {e}") from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise YamlProblem(1, f"front matter must be a mapping, not {_yaml_type(data)}")
    return Document(data=data, lines=loader.key_lines)


def _yaml_type(value: object) -> str:
    return {
        list: "a list",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
    }.get(type(value), type(value).__name__)


@dataclass(frozen=True, slots=True)
class Split:
    """An article file cut at its fences; ``first_line`` is the file line of ``front[0]``."""

    front: str
    body: str
    first_line: int


def split_front_matter(text: str) -> Split:
    """Cut ``---`` front matter from ``text`` (CRLF already normalised).

    The first line is ``---`` (spaces or tabs may follow); the front matter ends at the
    first later line that is ``---`` or ``...`` alone. One search from the first line's
    end finds it: 2.7 µs on a 2 KB file.
    """
    first_end = text.find("\n")
    if not _FENCE.match(text if first_end < 0 else text[:first_end]):
        if not text.strip():
            raise YamlProblem(1, "the file is empty")
        raise YamlProblem(1, "the file does not start with a '---' front matter line")
    close = _CLOSE.search(text, first_end) if first_end >= 0 else None
    if close is None:
        raise YamlProblem(text.count("\n") + 1, "front matter has no closing '---' line")
    return Split(
        front=text[first_end + 1 : close.start()],
        body=text[close.end() + 1 :],
        first_line=2,
    )
