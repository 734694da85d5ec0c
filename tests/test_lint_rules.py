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


# -- raw HTML and links: what MyST's parser makes of the page (make check) --------------------

def test_make_check_parses_with_the_sites_myst_syntax():
    """The extensions make check parses with are docs/conf.py's; the build's allow-list
    uses make check's lists, pattern and messages, not copies."""
    import ast

    from kb import allowlist

    conf = ast.parse((DOCS / "conf.py").read_text(encoding="utf-8"))
    enabled = [ast.literal_eval(node.value) for node in ast.walk(conf)
               if isinstance(node, ast.Assign)
               and [getattr(t, "id", None) for t in node.targets] == ["myst_enable_extensions"]]
    assert enabled == [list(lint.MYST_EXTENSIONS)]
    # one allow-list of each kind, one scheme pattern and one set of messages, used by both
    for name in ("ARTICLE_DIRECTIVES", "ARTICLE_ROLES", "LINK_SCHEMES", "SCHEME", "RAW_HTML",
                 "refusal"):
        assert getattr(allowlist, name) is getattr(lint, name), name


def _found(text: str) -> list[tuple[int, str]]:
    return [(p.line, p.code) for p in lint.check_markup(text)]


def test_code_is_not_html_and_safe_links_pass():
    assert _found("Text `<script>` and ``<b>``.\n\n```html\n<script>x</script>\n```\n\n"
                  "~~~\n<b>\n~~~\n\n    <i>indented code</i>\n\n"
                  "[a](https://x.org) [b](mailto:a@b.org) [c](tel:988) [d](sms:988) "
                  "[e](other.md) [f](#here) ![g](chart.png)\n") == []


def test_html_is_found_at_its_line_wherever_it_is():
    text = ("Line one <b>x</b> <i>y</i>\nline two <img src=x\nonerror=y> and\n"
            "line four <span>z</span>\n\n<!-- a comment -->\n\n- item\n- item <u>u</u>\n\n"
            "> quoted <q>q</q>\n\n:::{note}\nA note.\n\n<div>d</div>\n:::\n\n"
            "```{eval-rst}\n.. raw:: html\n\n  <b>reST, not Markdown</b>\n```\n")
    assert _found(text) == [(1, "raw-html"),  # two tags, one problem
                            (2, "raw-html"),  # a tag over two lines: at its start ...
                            (4, "raw-html"),  # ... and the next line counted after it
                            (6, "raw-html"), (9, "raw-html"), (11, "raw-html"),
                            (16, "raw-html"),
                            (19, "not-allowed")]  # {eval-rst}: refused, its body not read


def test_links_outside_the_allowed_schemes_and_remote_images_are_found():
    text = ("[a](javascript:x()) and\n<vbscript:y> and [b](JavaScript:z)\n\n"
            "![c](data:image/png;base64,AA) ![d](https://example.org/d.png)\n\n"
            "```{raw} html\n<b>b</b>\n```\n")
    found = lint.check_markup(text)
    assert [(p.line, p.code, p.message.split(" ")[0]) for p in found] == [
        (1, "unsafe-link", "'javascript:'"), (2, "unsafe-link", "'javascript:'"),
        (2, "unsafe-link", "'vbscript:'"), (4, "not-allowed", "image"),
        (4, "not-allowed", "image"), (6, "not-allowed", "the")]
    assert found[0].message.startswith("'javascript:' links are not allowed")
    assert found[3].message.startswith("image 'data:image/png;base64,AA' is on another site")
    assert found[4].message.startswith("image 'https://example.org/d.png' is on another site")
    assert found[5].message.startswith("the {raw} directive is not allowed in articles: write "
                                       "Markdown; HTML, scripts and styles")
    # in any other page only {raw} of the names: the build checks the rest against what
    # the site's extension registers
    assert [(p.line, p.code) for p in lint.check_markup(text, article=False)][-1] == (
        6, "not-allowed")


def test_directives_and_roles_outside_an_articles_allow_lists_are_found():
    text = ("Sum {math}`x` and {cite:p}`a2020b` and\n{py:func}`f` here.\n\n"
            ":::{note}\nA {sub}`2` and {abbr}`CBT (cognitive behavioural therapy)`.\n\n"
            "```{toctree}\nx\n```\n:::\n\n```{Include} x.md\n```\n")
    found = lint.check_markup(text)
    assert [(p.line, p.message.split(" is not")[0]) for p in found] == [
        (1, "the {math} role"), (2, "the {py:func} role"),
        (7, "the {toctree} directive"), (12, "the {include} directive")]
    assert found[2].message == ("the {toctree} directive is not allowed in articles: "
                                "articles are listed by their topics; remove the toctree "
                                "(docs/contributing/index.md lists what a page may contain)")
    assert lint.check_markup(text, article=False) == []  # the site's pages: the build checks


def test_images_and_downloads_must_be_files_of_allowed_types_inside_docs(tmp_path):
    text = ("![a](chart.png) ![b](../../x.png) ![c](/_static/logo.webp) ![d](a.svg)\n\n"
            "Get {download}`the sheet <sheet.pdf>` or {download}`notes.txt` or\n"
            "{download}`this <run.js>`.\n\n"
            "```{figure} https://example.org/f.png\nA caption with <b>HTML</b>.\n```\n\n"
            "```{image} pic.GIF\n```\n")
    found = lint.check_markup(text, True, tmp_path, "articles/grief")
    assert [(p.line, p.message.split(";")[0]) for p in found] == [
        (1, "image '../../x.png' is outside docs/"),
        (1, "image 'a.svg' is a '.svg' file"),
        (4, "download 'run.js' is a '.js' file"),
        (6, "image 'https://example.org/f.png' is on another site"),
        (7, "raw HTML is not allowed in a page (it could run code in readers' browsers, "
            "cover the crisis notice or send readers elsewhere): write Markdown instead")]
    # without the source folder, only what is on another site
    assert [p.line for p in lint.check_markup(text)] == [6, 7]


def test_an_image_outside_docs_is_one_problem_not_two(tmp_path):
    """An image whose path leaves docs/ is reported once, by the file rule (the build's
    words), not also as a file that does not exist; a missing image inside docs/ and a
    link leaving docs/ are still reported as missing; without the source folder (no file
    rule) the image outside is reported as missing, as before."""
    from pathlib import PurePosixPath

    (tmp_path / "articles").mkdir()
    text = ("![out](../../outside.png)\n\n![in](missing.png)\n\n"
            "[away](../../away.md)\n\n![present](here.png)\n")
    (tmp_path / "articles" / "here.png").write_bytes(b"\x89PNG")
    exists = lambda rel: (tmp_path / rel).is_file()  # noqa: E731
    found = lint.check_source(text, PurePosixPath("articles/grief.md"), exists, tmp_path)
    assert [(p.line, p.message.split(" (")[0].split(";")[0]) for p in found] == [
        (1, "image '../../outside.png' is outside docs/"),
        (3, "image 'missing.png' does not exist"),
        (5, "link target '../../away.md' does not exist")]
    alone = lint.check_links(text, PurePosixPath("articles/grief.md"), exists)
    assert [p.line for p in alone] == [1, 3, 5]
