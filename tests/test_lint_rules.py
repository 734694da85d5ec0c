"""The writer's checks that every page goes through while it is read (kb/lint.py).

The safe-messaging check looks at a text line by line only when the text holds one of
``SAFE_MESSAGING_WORDS``. That is exact only if every rule's every match holds one of
the words: checked here on the parsed patterns, and against the line-by-line check on
random texts.
"""

from __future__ import annotations

import sys

from hypothesis import given, settings, strategies as st

from helpers import DOCS

sys.path.insert(0, str(DOCS / "_ext"))

from kb import lint  # noqa: E402

try:  # Python 3.11+
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse  # type: ignore[no-redef]


def _required_literals(pattern: str) -> list[str]:
    """The runs of literal characters in *pattern*'s top-level sequence: text every match
    holds (a literal inside a group, a branch or a repeat may be skipped, so only the
    top level counts)."""
    runs, run = [], []
    for op, arg in sre_parse.parse(pattern):
        if op is sre_parse.LITERAL:
            run.append(chr(arg))
        else:
            if run:
                runs.append("".join(run))
            run = []
    if run:
        runs.append("".join(run))
    return runs


def test_every_safe_messaging_rule_requires_one_of_the_words():
    for rule, _fix in lint.SAFE_MESSAGING:
        literals = " ".join(_required_literals(rule)).lower()
        assert any(word in literals for word in lint.SAFE_MESSAGING_WORDS), rule


def test_required_literals_sees_only_the_top_level():
    assert _required_literals(r"\bsuicide\s+victim\b") == ["suicide", "victim"]
    assert _required_literals(r"(?:suicide\s+)?attempt") == ["attempt"]
    assert _required_literals(r"a(?:b|c)d") == ["a", "d"]


def _line_by_line(text: str) -> list:
    """The check without the look-up of the words: every prose line, every rule."""
    problems = []
    for number, line in lint.prose_lines(text, quoted=False):
        problems += lint.safe_messaging_of_line(number, line)
    return problems


PIECES = ["commit", "commits", "committed", "suicide", "SUICIDE", "Suicide", "ſuicide",
          "attempt", "ATTEMPT", "failed", "unsuccessful", "successful", "completed",
          "victim", "note", "method", "wave", "epidemic", " ", "  ", "\n", "\t", "`",
          "``", "```", "~~~", "{cite:p}`", "a", "died by", ".", "-", "K", "İ"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40))
def test_safe_messaging_is_the_line_by_line_check(pieces):
    text = "".join(pieces)
    assert lint.check_safe_messaging(text) == _line_by_line(text)


def test_safe_messaging_still_finds_each_rule():
    text = ("They committed suicide.\nA failed attempt.\nA suicide note.\n"
            "```\ncommitted suicide in code\n```\nsuccessful suicide\n")
    found = [(p.line, p.message.split("'")[1]) for p in lint.check_safe_messaging(text)]
    assert found == [(1, "committed suicide"), (2, "failed attempt"), (3, "suicide note"),
                     (7, "successful suicide")]
