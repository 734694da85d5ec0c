"""YAML read safely: front matter and the data files (topics, authors, search synonyms).

Every YAML text the site reads goes through :func:`load_yaml`, which allows plain YAML
only: a size limit, no anchors or aliases (``&a`` / ``*a``: a few hundred bytes of them
can stand for billions of values), no tags (``!!python/...``, ``!!binary``), nesting at
most :data:`MAX_DEPTH` deep, and no control characters in any value. Dates stay text (the
callers parse them, so an impossible date is a message, not a crash). A problem is a
:class:`YamlProblem` with the line it is on; nothing here raises anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

#: Deepest nesting of lists and mappings a data file or front matter may use.
MAX_DEPTH = 8
#: Limits, in bytes of UTF-8.
FRONT_MATTER_MAX = 16 * 1024
DATA_FILE_MAX = 256 * 1024
#: C0 and C1 control characters other than tab and newline, and the Unicode
#: non-characters XML refuses: none of them belongs in a title or a description, and they
#: would break the feed, the sitemap or the structured data.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


#: libyaml's parser (in C, several times faster) where PyYAML was built with it, as its
#: wheels are; the same safe constructor and resolver either way.
_Base = getattr(yaml, "CSafeLoader", None) if yaml.__with_libyaml__ else None
_Base = _Base or yaml.SafeLoader


class _Loader(_Base):
    """Safe YAML, but dates stay text."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_OPEN = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken,
         yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


@dataclass
class YamlProblem(Exception):
    """Why a YAML text was refused, at a 1-based line of that text."""

    line: int
    message: str

    def __str__(self) -> str:
        return self.message


def without_controls(text: str) -> str:
    """The text with control characters removed (for output that must stay valid XML)."""
    return CONTROL.sub("", text)


def _check_tokens(text: str) -> None:
    depth = 0
    for token in yaml.scan(text, Loader=_Loader):
        line = token.start_mark.line + 1
        if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
            raise YamlProblem(line, "YAML anchors and aliases ('&name', '*name') are not "
                                    "allowed: write each value out in full")
        if isinstance(token, yaml.TagToken):
            raise YamlProblem(line, "YAML tags ('!!type' or '!name') are not allowed: write "
                                    "plain text, lists and 'key: value' lines")
        if isinstance(token, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlProblem(line, f"lists and mappings are nested more than "
                                        f"{MAX_DEPTH} deep: a data file needs only a few "
                                        "levels")
        elif isinstance(token, _CLOSE):
            depth -= 1


def _check_values(node: yaml.Node) -> None:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.ScalarNode):
            if CONTROL.search(current.value):
                raise YamlProblem(current.start_mark.line + 1,
                                  "a value contains a control character (an invisible "
                                  "character such as a bell or escape code): delete it and "
                                  "retype the text")
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                if not isinstance(key, yaml.ScalarNode):
                    raise YamlProblem(key.start_mark.line + 1,
                                      "a key must be a plain word, not a list or mapping")
                stack.extend((key, value))


def load_yaml(text: str, max_bytes: int = DATA_FILE_MAX) -> tuple[Any, yaml.Node | None]:
    """Parse *text* as plain YAML; return ``(data, root node)``.

    Raises :class:`YamlProblem` (with the line) for anything refused or unreadable.
    """
    size = len(text.encode("utf-8", errors="replace"))
    if size > max_bytes:
        raise YamlProblem(1, f"this YAML is {size // 1024} KB; the limit is "
                             f"{max_bytes // 1024} KB (is something pasted in by mistake?)")
    try:
        _check_tokens(text)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_values(node)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except YamlProblem:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlProblem(mark.line + 1 if mark else 1,
                          f"not valid YAML: {problem} (check quotes, colons and "
                          "indentation; a value with a colon needs quotes)") from None
    except (RecursionError, ValueError, TypeError) as exc:
        raise YamlProblem(1, f"not valid YAML: {exc}") from None
    return data, node


def key_lines(node: yaml.Node | None) -> dict[str, int]:
    """1-based line of each top-level key of a mapping node."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
