"""Hostile input, as a crafted pull request would bring it: articles, front matter, data
files and references.bib. Each case asserts the refusal message at its ``file:line``, that
the build exits non-zero (``-W --keep-going``, as ``make html`` and Read the Docs build),
and that the payload is nowhere in the output.

The articles and the .bib cases are built together, once (one ``sphinx-build`` run whose
exit code and messages every case reads); each data-file case needs a project of its own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from bs4 import BeautifulSoup

from helpers import DOCS, ANSI, lay_root

FRONT = """---
title: {title}
description: A test page about grief.
topics: [grief]
author: editorial-team
published: 2026-01-10
updated: 2026-02-01
last_reviewed: 2026-02-01
next_review: 2027-02-01
status: published
---

# {title}

"""
BODY_LINE = FRONT.count("\n") + 1  # the first line of a case's body

RAW = "raw HTML is not allowed in a page"


def refused(name: str, kind: str = "directive") -> str:
    return f"the {{{name}}} {kind} is not allowed in articles"


# (slug, body, expected message, line of the body it is reported at, payload)
# {secret}: a file outside the project holding the payload, which nothing may read.
ARTICLE_CASES = [
    ("script-block", "Text.\n\n<script>alert('PWNA01')</script>\n", RAW, 3, "PWNA01"),
    ("img-onerror", 'Text <img src=x onerror="PWNA02()"> here.\n', RAW, 1, "PWNA02"),
    # the line-based lint took the indented ``` for a fence and skipped the next line
    ("indented-fence", 'Text.\n\n    ```\n<script src="PWNA03.js"></script>\n\nMore.\n',
     RAW, 4, "PWNA03"),
    ("download-js", "Get {download}`this file <PWNA04.js>` now.\n",
     "download 'PWNA04.js' is a '.js' file", 1, "PWNA04"),
    ("raw-directive", "```{raw} html\n<b>PWNA05</b>\n```\n", refused("raw"), 1, "PWNA05"),
    ("raw-file", "```{raw} html\n:file: {secret}\n```\n", refused("raw"), 1, "PWNA06"),
    ("raw-url", "```{raw} html\n:url: http://127.0.0.1:9/PWNA07\n```\n", refused("raw"), 1,
     "PWNA07"),
    ("literalinclude", "```{literalinclude} {secret}\n```\n", refused("literalinclude"), 1,
     "PWNA08"),
    ("eval-rst-include", "```{eval-rst}\n.. include:: {secret}\n```\n", refused("eval-rst"),
     1, "PWNA09"),
    ("eval-rst-raw", "```{eval-rst}\n.. raw:: html\n\n   <script>PWNA10</script>\n```\n",
     refused("eval-rst"), 1, "PWNA10"),
    ("eval-rst-meta", "```{eval-rst}\n.. meta::\n   :http-equiv=refresh: 0;url=https://"
     "evil.example/PWNA11\n```\n", refused("eval-rst"), 1, "PWNA11"),
    ("meta-refresh", '<meta http-equiv="refresh" content="0;url=https://evil.example/PWNA12">'
     "\n", RAW, 1, "PWNA12"),
    ("meta-referrer", '<meta name="referrer" content="unsafe-url" data-x="PWNA13">\n', RAW, 1,
     "PWNA13"),
    ("style-overlay", '<div style="position:fixed;top:0;z-index:9999">Call PWNA14 now</div>\n',
     RAW, 1, "PWNA14"),
    ("javascript-link", "A [link](javascript:alert('PWNA15')) here.\n",
     "'javascript:' links are not allowed", 1, "PWNA15"),
    ("data-link", "A [link](data:text/html;base64,PWNA16) here.\n",
     "'data:' links are not allowed", 1, "PWNA16"),
    ("vbscript-autolink", "See <vbscript:PWNA17> now.\n", "'vbscript:' links are not allowed",
     1, "PWNA17"),
    ("remote-image", "![a chart](https://evil.example/PWNA18.png)\n",
     "image 'https://evil.example/PWNA18.png' is on another site", 1, "PWNA18"),
    ("image-outside", "![a chart](../../PWNA19.png)\n", "image '../../PWNA19.png' is outside "
     "docs/", 1, "PWNA19"),
    ("image-directive-remote", "```{image} https://evil.example/PWNA20.png\n```\n",
     "image 'https://evil.example/PWNA20.png' is on another site", 1, "PWNA20"),
    ("svg-image", "![a chart](PWNA21.svg)\n", "image 'PWNA21.svg' is a '.svg' file", 1,
     "PWNA21"),
    ("myst-include", "```{include} {secret}\n```\n", refused("include"), 1, "PWNA22"),
    ("csv-table-file", "```{csv-table} Data\n:file: {secret}\n```\n", refused("csv-table"), 1,
     "PWNA23"),
    ("math-directive", "```{math}\nPWNA24\n```\n", refused("math"), 1, "PWNA24"),
    ("math-role", "Sum {math}`PWNA25` here.\n", refused("math", "role"), 1, "PWNA25"),
    ("toctree", "```{toctree}\nPWNA26\n```\n", refused("toctree"), 1, "PWNA26"),
    ("iframe", '<iframe src="https://evil.example/PWNA27"></iframe>\n', RAW, 1, "PWNA27"),
    ("base", '<base href="https://evil.example/PWNA28/">\n', RAW, 1, "PWNA28"),
    ("style-element", "<style>.kb-crisis{display:none} /*PWNA29*/</style>\n", RAW, 1,
     "PWNA29"),
    ("svg-onload", 'Text <svg onload="PWNA30()"></svg> here.\n', RAW, 1, "PWNA30"),
    ("download-svg", "Get {download}`this <PWNA31.svg>`.\n",
     "download 'PWNA31.svg' is a '.svg' file", 1, "PWNA31"),
    ("download-outside", "Get {download}`this <../../PWNA32.txt>`.\n",
     "download '../../PWNA32.txt' is outside docs/", 1, "PWNA32"),
    ("nested-in-note", "Text.\n\n```{note}\nA note.\n\n<script>PWNA33</script>\n```\n", RAW,
     6, "PWNA33"),
    ("only-directive", "```{only} html\nPWNA34\n```\n", refused("only"), 1, "PWNA34"),
    ("html-javascript-anchor", 'A <a href="javascript:PWNA35()">link</a>.\n', RAW, 1,
     "PWNA35"),
    ("sidebar", "```{sidebar} PWNA36\nText.\n```\n", refused("sidebar"), 1, "PWNA36"),
    ("figure-remote", "```{figure} https://evil.example/PWNA37.png\nA caption.\n```\n",
     "image 'https://evil.example/PWNA37.png' is on another site", 1, "PWNA37"),
    ("file-link", "A [link](file:///etc/PWNA38) here.\n", "'file:' links are not allowed", 1,
     "PWNA38"),
    ("colon-fence-raw", ":::{raw} html\n<b>PWNA39</b>\n:::\n", refused("raw"), 1, "PWNA39"),
    ("list-nested-html", "- one\n- two <span onclick=\"PWNA40()\">x</span>\n", RAW, 2,
     "PWNA40"),
]

# Front matter: (slug, front matter lines after '---', expected message, its file line,
# payload). The rest of the article is ordinary.
FM_REST = ("author: editorial-team\npublished: 2026-01-10\nupdated: 2026-02-01\n"
           "last_reviewed: 2026-02-01\nnext_review: 2027-02-01\nstatus: published\n")
BOMB = ('a: &a ["PWNF01", "PWNF01", "PWNF01", "PWNF01", "PWNF01", "PWNF01"]\n'
        "b: &b [*a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d]\n"
        "f: &f [*e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f]\n"
        "h: &h [*g, *g, *g, *g, *g, *g]\ni: &i [*h, *h, *h, *h, *h, *h]\n"
        "topics: *i\n")
FRONT_MATTER_CASES = [
    ("fm-alias-bomb", "description: A test.\n" + BOMB,
     "front matter: YAML anchors and aliases ('&name', '*name') are not allowed", 3, "PWNF01"),
    ("fm-deep", "description: " + "[" * 12 + "PWNF02" + "]" * 12 + "\ntopics: [grief]\n",
     "front matter: lists and mappings are nested more than 8 deep", 2, "PWNF02"),
    ("fm-python-tag", "description: !!python/object/apply:os.system ['echo PWNF03']\n"
     "topics: [grief]\n", "front matter: YAML tags ('!!type' or '!name') are not allowed", 2,
     "PWNF03"),
    ("fm-binary-tag", "description: !!binary UFdORkYwNA==\ntopics: [grief]\n",
     "front matter: YAML tags", 2, "PWNF04"),
    ("fm-oversize", "description: PWNF05 " + "x" * 20_000 + "\ntopics: [grief]\n",
     "front matter: this YAML is 19 KB; the limit is 16 KB", 2, "PWNF05"),
    ("fm-control-char", 'description: "A bell \\a PWNF06"\ntopics: [grief]\n',
     "front matter: a value contains a control character", 2, "PWNF06"),
    ("fm-topics-mapping", "description: A test.\ntopics: {grief: PWNF07}\n",
     "'topics' must be a list", 3, "PWNF07"),
    ("fm-title-list", "title: [PWNF08]\ndescription: A test.\ntopics: [grief]\n",
     "'title' must be text", 2, "PWNF08"),
    ("fm-html-meta", 'description: A test.\ntopics: [grief]\nhtml_meta: {"http-equiv=refresh":'
     ' "0;url=https://evil.example/PWNF09"}\n', "unknown front-matter key 'html_meta'", 4,
     "PWNF09"),
    ("fm-myst-key", "description: A test.\ntopics: [grief]\nmyst: {enable_extensions: "
     "[html_image], substitutions: {x: PWNF10}}\n", "unknown front-matter key 'myst'", 4,
     "PWNF10"),
]

BIB = r"""
@string{ten = "PWNB01PWNB"}
@string{b = ten # ten # ten # ten # ten # ten # ten # ten # ten # ten}
@string{c = b # b # b # b # b # b # b # b # b # b}
@string{d = c # c # c # c # c # c # c # c # c # c}
@string{e = d # d # d # d # d # d # d # d # d # d}
@string{f = e # e # e # e # e # e # e # e # e # e}
@string{g = f # f # f # f # f # f # f # f # f # f}

@string{apa = {{American Psychological Association}}}
@book{apa2020publication,
  author    = apa,
  year      = {2020},
  title     = {Publication manual of the American Psychological Association},
  edition   = {7},
  publisher = apa,
  doi       = {10.1037/0000165-000},
}

@misc{bad2020script,
  author       = {Bad, Actor},
  year         = {2020},
  title        = {A page},
  url          = {javascript:alert('PWNB03')},
}

@misc{bad2021file,
  author       = {Bad, Actor},
  year         = {2021},
  title        = {Another page},
  howpublished = {\url{file:///etc/PWNB04}},
  url          = {https://example.org/page},
}
"""
BIB_CASES = [
    # (what, expected message, line of refs.bib, payload)
    ("macro-bomb", "cannot read this @string macro: 'e' would be 100,000 characters long "
     "once its @string macros are joined (the limit is 20,000); write the value out",
     "@string{e =", "PWNB01"),
    ("macro-after-bomb", "this @string macro uses 'e', which is not a defined @string",
     "@string{f =", "PWNB01"),
    ("javascript-url", "url \"javascript:alert('PWNB03')\" is not an http(s) address",
     "  url          = {javascript:", "PWNB03"),
    ("file-url", "howpublished 'file:///etc/PWNB04' is not an http(s) address",
     "  howpublished = {\\url{file:", "PWNB04"),
]


def _article(slug: str, body: str) -> str:
    return FRONT.format(title=f"Case {slug}") + body


def lay_hostile_project(tmp: Path) -> Path:
    """The tiny project with every article and .bib case; returns its source folder."""
    src = lay_root(tmp / "src", None)
    secret = tmp / "secret.txt"  # outside the project: nothing may read it
    secret.write_text("PWNA06 PWNA08 PWNA09 PWNA22 PWNA23\n", encoding="utf-8")
    (tmp / "PWNA19.png").write_bytes(b"\x89PNG\r\n\x1a\nPWNA19")
    (tmp / "PWNA32.txt").write_text("PWNA32", encoding="utf-8")
    articles = src / "articles"
    (articles / "PWNA04.js").write_text("alert('PWNA04')", encoding="utf-8")
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert("{}")</script></svg>'
    (articles / "PWNA21.svg").write_text(svg.format("PWNA21"), encoding="utf-8")
    (articles / "PWNA31.svg").write_text(svg.format("PWNA31"), encoding="utf-8")
    for slug, body, *_ in ARTICLE_CASES:
        (articles / f"{slug}.md").write_text(
            _article(slug, body.replace("{secret}", str(secret))), encoding="utf-8")
    for slug, front, *_ in FRONT_MATTER_CASES:
        (articles / f"{slug}.md").write_text(
            f"---\n{front}{FM_REST}---\n\n# Case {slug}\n\nText.\n", encoding="utf-8")
    # an article that cites the .bib cases
    (articles / "cites.md").write_text(_article("cites", (
        "Cited {cite:p}`apa2020publication,bad2020script,bad2021file`.\n\n"
        "## References\n\n```{references}\n```\n")), encoding="utf-8")
    bib = src / "refs.bib"
    bib.write_text(bib.read_text(encoding="utf-8") + BIB, encoding="utf-8")
    # the MyST syntax the site enables, and its templates (the crisis notice)
    with open(src / "conf.py", "a", encoding="utf-8") as conf:
        conf.write('\nmyst_enable_extensions = ["colon_fence", "deflist", "smartquotes"]\n'
                   f"templates_path = [{str(DOCS / '_templates')!r}]\n"
                   "kb_crisis_resources = [{'text': 'Call or text 988', 'href': 'tel:988'}]\n")
    # a title, from the page's heading, with control characters in it
    (articles / "control-heading.md").write_text(
        _article("x", "Text about grief.\n").replace("title: Case x\n", "")
        .replace("# Case x", "# Grief \x07and\x1b loss"), encoding="utf-8")
    # a draft that only a .rst file would have published
    (articles / "secret-draft.rst").write_text("Secret\n======\n\nPWNR01\n", encoding="utf-8")
    return src


def build_strictly(src: Path, out: Path, doctrees: Path) -> subprocess.CompletedProcess:
    """``sphinx-build`` as ``make html`` runs it, in a child process."""
    env = {**os.environ, "PYTHONPATH": str(DOCS / "_ext")}
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-n", "-W", "--keep-going",
         "-D", "html_copy_source=0", "-d", str(doctrees), str(src), str(out)],
        capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """Every article and .bib case in one project, built once with -W --keep-going."""
    tmp = tmp_path_factory.mktemp("hostile")
    src = lay_hostile_project(tmp)
    out = tmp / "out"
    result = build_strictly(src, out, tmp / "doctrees")
    warnings = [ANSI.sub("", line).replace(str(src) + "/", "")
                for line in result.stderr.splitlines() if "WARNING" in line]
    output = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                       for p in out.rglob("*") if p.is_file())
    names = "\n".join(str(p.relative_to(out)) for p in out.rglob("*"))
    return result, warnings, output + names, src, out


def test_the_build_fails_without_a_traceback(hostile):
    result, warnings, *_ = hostile
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "extension failed" not in result.stderr
    assert len(warnings) >= len(ARTICLE_CASES) + len(FRONT_MATTER_CASES) + len(BIB_CASES)


def _assert_reported(warnings, where: str, message: str):
    hits = [w for w in warnings if w.startswith(where + ": WARNING: ") and message in w]
    assert hits, f"no '{message}' at {where}; got:\n" + "\n".join(
        w for w in warnings if w.startswith(where.split(":")[0]))


@pytest.mark.parametrize("slug, body, message, line, payload", ARTICLE_CASES,
                         ids=[c[0] for c in ARTICLE_CASES])
def test_hostile_article_is_refused_at_its_line(hostile, slug, body, message, line, payload):
    result, warnings, output, *_ = hostile
    _assert_reported(warnings, f"articles/{slug}.md:{BODY_LINE + line - 1}", message)
    assert payload not in output


@pytest.mark.parametrize("slug, front, message, line, payload", FRONT_MATTER_CASES,
                         ids=[c[0] for c in FRONT_MATTER_CASES])
def test_hostile_front_matter_is_refused_at_its_line(hostile, slug, front, message, line,
                                                     payload):
    result, warnings, output, *_ = hostile
    _assert_reported(warnings, f"articles/{slug}.md:{line}", message)
    assert payload not in output


@pytest.mark.parametrize("what, message, anchor, payload", BIB_CASES,
                         ids=[c[0] for c in BIB_CASES])
def test_hostile_bib_entry_is_refused_at_its_line(hostile, what, message, anchor, payload):
    result, warnings, output, src, out = hostile
    text = (src / "refs.bib").read_text(encoding="utf-8")
    line = text[:text.index(anchor)].count("\n") + 1
    _assert_reported(warnings, f"{src}/refs.bib:{line}".replace(str(src) + "/", ""), message)
    assert payload not in output


def test_an_entry_that_uses_a_string_macro_is_formatted(hostile):
    *_, out = hostile
    page = BeautifulSoup((out / "articles/cites.html").read_text(encoding="utf-8"),
                         "lxml").get_text()
    assert "American Psychological Association. (2020). Publication manual" in page
    assert "(American Psychological Association, 2020;" in page


def test_no_rst_source_is_built_and_the_writer_is_told(hostile):
    result, warnings, output, src, out = hostile
    assert not (out / "articles/secret-draft.html").exists()
    assert "PWNR01" not in output
    assert any("'secret-draft.rst' is not a Markdown file, so it is not built" in w
               for w in warnings)


def test_feed_sitemap_and_structured_data_stay_valid(hostile):
    *_, out = hostile
    feed = ET.parse(out / "feed.xml").getroot()
    titles = [e.text for e in feed.iter("{http://www.w3.org/2005/Atom}title")]
    assert "Grief and loss" in titles  # the heading's title, its control characters gone
    ET.parse(out / "sitemap.xml")
    page = (out / "articles/control-heading.html").read_text(encoding="utf-8")
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page,
                              re.S).group(1))
    assert ld["headline"] == "Grief and loss"
    for page in out.rglob("*.html"):
        for block in re.findall(r'<script type="application/ld\+json">(.*?)</script>',
                                page.read_text(encoding="utf-8"), re.S):
            json.loads(block)


# -- data files: one project each ---------------------------------------------------------

LAUGHS = ("grief:\n  title: &a PWND01\n  description: Living with loss.\n"
          "anxiety:\n  title: *a\n  description: What helps.\n")
DATA_CASES = [
    # (file, bytes, expected warning (prefix: file:line), payload)
    ("_data/topics.yaml", LAUGHS.encode(),
     "_data/topics.yaml:2: WARNING: topic file: YAML anchors and aliases", "PWND01"),
    ("_data/authors.yaml",
     b"editorial-team:\n  name: [PWND02, Bad]\n  type: Organization\n",
     "_data/authors.yaml:1: WARNING: author 'editorial-team': name must be text", "PWND02"),
    ("_data/topics.yaml", b"grief:\n  title: Gri\xe9f PWND03\n  description: Loss.\n",
     "_data/topics.yaml:2: WARNING: topic file is not UTF-8 text", "PWND03"),
    ("_data/topics.yaml", b"grief:\n  title: PWND04\n  description: " + b"[" * 20
     + b"x" + b"]" * 20 + b"\n",
     "_data/topics.yaml:3: WARNING: topic file: lists and mappings are nested more than 8 deep",
     "PWND04"),
    ("_data/topics.yaml", b"grief:\n  title: PWND05\n  description: " + b"y" * 300_000 + b"\n",
     "_data/topics.yaml:1: WARNING: topic file: this YAML is 293 KB; the limit is 256 KB",
     "PWND05"),
    ("_data/search-synonyms.yaml", b"sad: &a [PWND06, low]\nblue: *a\n",
     "_data/search-synonyms.yaml:1: YAML anchors and aliases", "PWND06"),
    ("_data/topics.yaml", b"grief:\n  title: !!python/name:os.system PWND07\n"
     b"  description: x\n", "_data/topics.yaml:2: WARNING: topic file: YAML tags", "PWND07"),
]


@pytest.mark.parametrize("name, data, message, payload", DATA_CASES,
                         ids=[f"{c[0].split('/')[-1]}-{c[3]}" for c in DATA_CASES])
def test_hostile_data_file_is_refused_at_its_line(tmp_path, name, data, message, payload):
    src = lay_root(tmp_path / "src", None)
    (src / name).write_bytes(data)
    if name.endswith("search-synonyms.yaml"):
        (src / "conf.py").write_text((src / "conf.py").read_text() +
                                     "\nkb_search_synonyms_file = '_data/search-synonyms.yaml'\n")
    env = {**os.environ, "PYTHONPATH": str(DOCS / "_ext")}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-n", "-W", "--keep-going",
         "-D", "html_copy_source=0", str(src), str(tmp_path / "out")],
        capture_output=True, text=True, env=env, timeout=300)
    stderr = ANSI.sub("", result.stderr).replace(str(src) + "/", "")
    assert result.returncode == 1
    assert "Traceback" not in stderr and "extension failed" not in stderr
    assert message in stderr, stderr[-3000:]
    output = "".join(p.read_text(encoding="utf-8", errors="replace")
                     for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert payload not in output


# -- make check finds what the build refuses in an article's markup ---------------------------
# kb/lint.py's check_markup parses the page with MyST's parser, as the build does: raw HTML,
# link schemes, directives and roles. The build's refusals of the cases above are asserted
# at their lines by the tests above.

def _lint_code(message: str) -> str | None:
    if message == RAW:
        return "raw-html"
    if message.endswith("' links are not allowed"):
        return "unsafe-link"
    if re.fullmatch(r"the \{[\w:-]+\} (directive|role) is not allowed in articles", message) \
            or message.startswith(("image '", "download '")):
        return "not-allowed"
    return None


@pytest.mark.parametrize("slug, body, message, line, payload", ARTICLE_CASES,
                         ids=[c[0] for c in ARTICLE_CASES])
def test_make_check_finds_what_the_build_refuses_at_the_same_line(slug, body, message, line,
                                                                   payload, tmp_path):
    from kb import lint

    found = lint.check_markup(_article(slug, body), True, tmp_path, f"articles/{slug}")
    code = _lint_code(message)
    assert code is not None, message  # every kind of refusal in an article's markup
    at = BODY_LINE + line - 1
    assert [(p.line, p.code) for p in found] == [(at, code)], found
    assert found[0].message.startswith(message)  # the build's own words
