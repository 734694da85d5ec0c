"""No script runs that the site did not ship: the Content-Security-Policy on every page,
its build-time hashes, and escaping of hostile front matter everywhere it is output.
(tests/browser/test_security.py checks the same in a real browser.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings, strategies as st
from bs4 import BeautifulSoup

from helpers import ANSI, DOCS, html, warnings_of

from kb.csp import inline_scripts, sha256

HOSTILE_TITLE = "Fear </script><img src=x onerror=alert(1)> & \"quotes\" 'too'"
HOSTILE_DESCRIPTION = ("Worry </script><script>alert(2)</script> <b>bold</b> & \"more\" "
                       "'single'")


def policy_of(soup: BeautifulSoup) -> dict[str, list[str]]:
    metas = soup.select('meta[http-equiv="Content-Security-Policy"]')
    assert len(metas) == 1
    directives = {}
    for part in metas[0]["content"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def all_pages(app) -> list[Path]:
    out = Path(app.outdir)
    return sorted(p for p in out.rglob("*.html")
                  if not any(part.startswith(("_", ".")) for part in p.relative_to(out).parts))


def test_every_page_has_a_policy_that_allows_only_the_site_and_its_own_inline_scripts(site):
    pages = all_pages(site)
    assert len(pages) > 30
    for page in pages:
        text = page.read_text(encoding="utf-8")
        soup = BeautifulSoup(text, "lxml")
        policy = policy_of(soup)
        script_src = policy["script-src"]
        # only the site itself, WebAssembly compilation for the search engine, and hashes
        assert script_src[:2] == ["'self'", "'wasm-unsafe-eval'"], page
        assert all(re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", v) for v in script_src[2:])
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        for name, values in policy.items():
            assert not [v for v in values if "." in v or v in ("*", "http:", "https:")], (
                page, name, values)
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
        assert policy["default-src"] == ["'self'"]
        # every inline script the page has is allowed by its hash...
        for body in inline_scripts(text):
            assert sha256(body) in script_src, (page, body[:60])
        # ... and the policy comes before any script or stylesheet in <head>
        head = text.split("</head>")[0]
        assert head.index("Content-Security-Policy") < min(
            i for i in (head.find("<script"), head.find("<link rel=\"stylesheet\""))
            if i != -1), page


def test_the_theme_inline_script_is_hashed_exactly(site):
    """furo applies the saved colour theme with one inline script; its hash is computed
    from the template at build time, and matches the script on the page byte for byte."""
    text = (Path(site.outdir) / "articles/anxiety.html").read_text(encoding="utf-8")
    scripts = inline_scripts(text)
    assert len(scripts) == 1 and "localStorage.getItem(\"theme\")" in scripts[0]
    assert sha256(scripts[0]) in policy_of(BeautifulSoup(text, "lxml"))["script-src"]


def test_json_ld_is_a_data_block_not_a_script(site):
    page = html(site, "articles/anxiety.html")
    blocks = page.select('script[type="application/ld+json"]')
    assert len(blocks) == 1
    assert json.loads(blocks[0].string)["@type"] == "MedicalWebPage"
    assert inline_scripts(str(page)) and all("MedicalWebPage" not in s
                                              for s in inline_scripts(str(page)))


def test_an_inline_script_with_template_code_is_reported_and_fails_the_build(build_root):
    app = build_root("csp_inline-script", templates_path=["_templates"])
    warnings = warnings_of(app)
    assert warnings, "an uncovered inline script must be reported"
    assert all(": an inline script the Content-Security-Policy does not allow" in w
               and "[kb.csp]" in w and "move it into a file in docs/_static" in w
               for w in warnings)
    # every page is reported, the article at its source file
    assert "articles/good.md: WARNING: this page: an inline script" in "\n".join(warnings)
    assert any(w.startswith("WARNING: genindex.html: an inline script") for w in warnings)


def test_hostile_front_matter_is_escaped_everywhere(build_root):
    app = build_root("security_hostile")
    assert warnings_of(app) == []
    out = Path(app.outdir)
    for page in ("articles/hostile.html", "index.html", "topics/grief.html",
                 "articles/index.html", "articles/good.html"):
        text = (out / page).read_text(encoding="utf-8")
        soup = BeautifulSoup(text, "lxml")
        # no element, attribute or script came out of the front matter
        assert not soup.select("img[onerror]"), page
        assert not [s for s in inline_scripts(text) if "alert" in s], page
        assert "<b>bold</b>" not in text and "<img src=x" not in text, page
        if page in ("index.html", "topics/grief.html", "articles/index.html"):
            # ...and listings show the title exactly as written
            assert HOSTILE_TITLE in soup.get_text(), page

    article = html(app, "articles/hostile.html")
    # the page itself is titled by its heading; the front-matter title is for listings
    assert article.title.get_text().startswith("Fear and quotes")
    assert article.select_one('meta[name="description"]')["content"] == HOSTILE_DESCRIPTION
    assert article.select_one(".kb-description").get_text() == HOSTILE_DESCRIPTION
    ld = article.select_one('script[type="application/ld+json"]').string
    assert "</script" not in ld.lower() and "<" not in ld
    data = json.loads(ld)
    assert data["headline"] == HOSTILE_TITLE and data["description"] == HOSTILE_DESCRIPTION

    feed = ET.parse(out / "feed.xml").getroot()
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in feed.findall("a:entry", ns)]
    assert HOSTILE_TITLE in titles
    summaries = [e.findtext("a:summary", namespaces=ns) for e in feed.findall("a:entry", ns)]
    assert HOSTILE_DESCRIPTION in summaries


# Each thing a template must never write, and the output check's words for it (kb/csp.py).
HOSTILE_OUTPUT = [
    ("meta refresh", "<meta http-equiv='refresh'> is not allowed (the only one a page has "
     "is the site's Content-Security-Policy)"),
    ("referrer", "<meta name='referrer' content='unsafe-url'> changes the site's referrer "
     "policy (no-referrer)"),
    ("base", "<base> is not an element the site allows"),
    ("remote script", "<script src='https://cdn.example.org/tracker.js'> loads a script from "
     "another site"),
    ("script from downloads", "<script src='/_downloads/x/evil.js'> is not one of the "
     "site's own scripts (they live in _static/ and pagefind/)"),
    ("remote stylesheet", "<link rel='stylesheet'> loads 'https://fonts.example.org/css' "
     "from another site"),
    ("style element", "a <style> element the site's templates do not write (starts: "
     "'.kb-crisis { display: none }')"),
    ("event handler", "<div onclick=...>: event-handler attributes are not allowed"),
    ("style attribute", "<span style='position:fixed;top:0'>: a style the site's templates "
     "do not set"),
    ("iframe", "<iframe> is not an element the site allows"),
    ("javascript link", "<a href='javascript:steal()'>: 'javascript:' addresses are not "
     "allowed"),
    ("tracking pixel", "<img src='https://tracker.example.org/pixel.gif'> loads a file from "
     "another site"),
    ("form elsewhere", "<form action='https://evil.example/collect'> sends to another site"),
]


def build_hostile_template(tmp_path_factory, jobs: str):
    from helpers import lay_root
    src = lay_root(tmp_path_factory.mktemp("tpl") / "src", "csp_hostile-template")
    (src / "conf.py").write_text((src / "conf.py").read_text()
                                 + "\ntemplates_path = ['_templates']\n")
    env = {**os.environ, "PYTHONPATH": str(DOCS / "_ext")}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-n", "-W", "--keep-going", "-q",
         "-j", jobs, str(src), str(src.parent / "out")], capture_output=True, text=True,
        env=env)
    return result, ANSI.sub("", result.stderr).replace(str(src) + "/", "")


@pytest.fixture(scope="module")
def hostile_template(tmp_path_factory):
    return build_hostile_template(tmp_path_factory, "1")


@pytest.fixture(scope="module")
def hostile_template_parallel(tmp_path_factory):
    return build_hostile_template(tmp_path_factory, "2")


@pytest.mark.parametrize("what, message", HOSTILE_OUTPUT, ids=[c[0] for c in HOSTILE_OUTPUT])
def test_the_output_check_refuses_what_no_page_may_contain(hostile_template, what, message):
    result, stderr = hostile_template
    assert result.returncode == 1 and "Traceback" not in stderr
    # reported on the article at its source file, and on a generated page by name (the
    # index page has <head> but not the body's content block)
    assert f"articles/good.md: WARNING: this page: {message} [kb.csp]" in stderr, stderr[-3000:]
    if HOSTILE_OUTPUT.index((what, message)) < 7:
        assert f"WARNING: genindex.html: {message} [kb.csp]" in stderr


@pytest.mark.parametrize("what, message", HOSTILE_OUTPUT, ids=[c[0] for c in HOSTILE_OUTPUT])
def test_pages_written_by_parallel_writers_are_checked_once(hostile_template_parallel, what,
                                                             message):
    """With -j 2, Sphinx writes the first page (articles/good) itself and gives the others
    (bibliography, index) to a writing process, which checks each page as it writes it;
    its warnings reach the build's output, once each (not again at the end of the build)."""
    result, stderr = hostile_template_parallel
    assert result.returncode == 1 and "Traceback" not in stderr
    for source in ("articles/good.md", "index.md", "bibliography.md"):
        line = f"{source}: WARNING: this page: {message} [kb.csp]"
        assert stderr.count(line) == 1, (line, stderr[-3000:])


# Markup whose meaning depends on how it is parsed, and what the output check (which
# parses as browsers do) reports for it; None: nothing, a browser builds no such element.
PARSED_AS_BROWSERS_DO = [
    ('<p><image src="https://tracker.example.org/p.gif"></p>',
     "<img src='https://tracker.example.org/p.gif'> loads a file from another site"),
    ('<noscript><img src="https://tracker.example.org/p.gif"></noscript>',
     "<img src='https://tracker.example.org/p.gif'> loads a file from another site"),
    ('<P><SCRIPT SRC="https://cdn.example.org/t.js"></SCRIPT></P>',
     "<script src='https://cdn.example.org/t.js'> loads a script from another site"),
    ('<svg><a xlink:href="javascript:steal()"><path d="M0 0"></path></a></svg>',
     "<a xlink:href='javascript:steal()'>: 'javascript:' addresses are not allowed"),
    ('<p>1 <scr<script>ipt> 2</p>', "<scr<script> is not an element the site allows"),
    ('<!-- <script src="https://cdn.example.org/t.js"></script> -->', None),
    ('<p>a &lt;script src="https://cdn.example.org/t.js"&gt; in the text</p>', None),
    ('<p title="<script src=https://cdn.example.org/t.js>">an attribute</p>', None),
]


@pytest.mark.parametrize("markup, problem", PARSED_AS_BROWSERS_DO)
def test_the_output_check_sees_the_elements_a_browser_builds(markup, problem):
    from kb.csp import audit_page
    page = f"<!DOCTYPE html><html><head><title>t</title></head><body>{markup}</body></html>"
    problems = audit_page(page, "articles/x.html", None, set(), set())
    assert problems == ([problem] if problem else [])


@pytest.mark.parametrize("root, src, allowed", [
    ("/", "/_static/kb.js", True),
    ("/", "/en/latest/_static/kb.js", False),          # a folder the site has no script in
    ("/en/latest/", "/en/latest/_static/kb.js", True),  # Read the Docs: the version's root
    ("/en/latest/", "/en/latest/pagefind/pagefind.js", True),
    ("/en/latest/", "/_static/kb.js", False),           # outside the site (another version,
    ("/en/latest/", "/en/stable/_static/kb.js", False),  # or the host's own files)
    ("/en/latest/", "/_/static/javascript/readthedocs-addons.js", False),
    ("/en/latest/", "/en/latest/articles/x.js", False),
    ("/en/latest/", "/en/latest/_static/../articles/x.js", False),
])
def test_the_404_pages_absolute_script_addresses_are_checked_from_where_the_site_is_served(
        root, src, allowed):
    """sphinx-notfound-page addresses the 404 page's files from the site's root, which on
    Read the Docs is the version's path (kb/structured.py sets the prefix from
    html_baseurl): tests/test_hosting.py builds the site as Read the Docs does."""
    from kb.csp import audit_page
    page = ("<!DOCTYPE html><html><head><title>t</title></head><body>"
            f'<script src="{src}?v=1"></script></body></html>')
    problems = audit_page(page, "404.html", None, set(), set(), root)
    assert (problems == []) is allowed, problems
    if not allowed and src.startswith(root):
        assert problems == [f"<script src='{src}?v=1'> is not one of the site's own scripts "
                            "(they live in _static/ and pagefind/)"]
    elif not allowed:
        assert problems == [f"<script src='{src}?v=1'> is outside the site, which is served "
                            f"at {root}"]


def test_a_page_with_a_problem_is_reported_in_every_build_that_writes_it(tmp_path_factory):
    """Pages that pass the output check are remembered by content (kb-checked-pages.json)
    so that an incremental build does not parse them again; a page with a problem never
    is: the next build, which rewrites genindex.html unchanged, reports it again."""
    from helpers import lay_root
    src = lay_root(tmp_path_factory.mktemp("tpl-again") / "src", "csp_hostile-template")
    (src / "conf.py").write_text((src / "conf.py").read_text()
                                 + "\ntemplates_path = ['_templates']\n")
    env = {**os.environ, "PYTHONPATH": str(DOCS / "_ext")}
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-n", "--keep-going", "-q",
               "-d", str(src.parent / "doctrees"), str(src), str(src.parent / "out")]
    runs = [subprocess.run(command, capture_output=True, text=True, env=env)
            for _ in range(2)]
    record = json.loads((src.parent / "doctrees/kb-checked-pages.json").read_text())
    assert isinstance(record["passed"], list)
    for run in runs:
        stderr = ANSI.sub("", run.stderr)
        for _, message in HOSTILE_OUTPUT[:7]:
            assert f"WARNING: genindex.html: {message} [kb.csp]" in stderr, stderr[-2000:]


def test_pages_that_passed_are_not_parsed_again_when_rewritten_unchanged(build_root,
                                                                          monkeypatch):
    from kb import csp
    app = build_root(None, dest="checked-again")
    src = Path(app.srcdir)
    record = json.loads((Path(app.doctreedir) / csp.AUDIT_FILE).read_text())
    assert len(record["passed"]) >= 3  # the article, the home page, genindex, search...
    parsed = []
    audit_page = csp.audit_page
    monkeypatch.setattr(csp, "audit_page", lambda html, page, *a: parsed.append(page)
                        or audit_page(html, page, *a))
    article = src / "articles/good.md"
    article.write_text(article.read_text() + "\nOne more sentence.\n")
    build_root(None, srcdir=src, freshenv=False)
    # the edited article is parsed again; the generated pages rewritten unchanged are not
    assert "articles/good.html" in parsed and "genindex.html" not in parsed, parsed


# -- the output check's fast path (kb/csp.py PLAIN_ELEMENTS, PLAIN_ATTRIBUTES) ---------------

def test_plain_elements_with_plain_attributes_are_never_refused():
    """What ``PageAudit.feed`` skips is what ``element`` never refuses, whatever the values
    (``href`` and ``src`` without a colon)."""
    from kb import csp

    values = ["", "x", "javascript:alert(1)", "//evil.example/x.js", "data:text/html,x",
              "expression(alert(1))", "https://evil.example/"]
    for tag in csp.PLAIN_ELEMENTS:
        for name in csp.PLAIN_ATTRIBUTES:
            for value in values:
                if name in ("href", "src") and ":" in value:
                    continue
                audit = csp.PageAudit("articles/x.html", None, set(), set())
                audit.element(tag.lower(), {name.lower(): value})
                assert audit.problems == [], (tag, name, value)
    assert not csp.PLAIN_ELEMENTS & {"meta", "link", "script", "style", "form", "button",
                                      "input", "iframe", "object", "embed"}
    assert not {n for n in csp.PLAIN_ATTRIBUTES if n.lower().startswith("on")
                or n.lower() in ("style", "srcdoc", "formtarget", "http-equiv")
                or (n.lower() in csp.URL_ATTRIBUTES and n not in ("href", "src"))}


def _audit_every_element(html: str) -> list[str]:
    """The output check with every element through ``element`` (no fast path)."""
    from selectolax.lexbor import LexborHTMLParser

    from kb import csp

    audit = csp.PageAudit("articles/x.html", None, set(), set())
    for node in LexborHTMLParser(html).root.traverse(include_text=False):
        if node.tag.startswith("-"):
            continue
        attrs = {name.lower(): value or "" for name, value in node.attributes.items()}
        audit.element(node.tag.lower(), attrs)
        if node.tag in ("script", "style") and "src" not in attrs:
            audit.content(node.tag, attrs, node.text(deep=True))
    return audit.problems


FAST_PATH_PIECES = [
    "<p>", "</p>", "<a href='page.html#x'>", "<a href='javascript:alert(1)'>",
    "<a HREF='https://example.org'>", "</a>", "<span class='x' id='y'>", "</span>",
    "<img src='a.png' alt=''>", "<img src='https://evil.example/a.png'>",
    "<img src='data:image/png;base64,AA' alt=x>", "<div onclick='x()'>", "<div style='x'>",
    "<DIV ROLE=note Hidden>", "</div>", "<svg viewBox='0 0 1 1'><use href='#i'></use>",
    "<svg><use xlink:href='https://evil.example/#x'></use></svg>", "</svg>",
    "<iframe src='x.html'></iframe>", "<td colspan=2 background='http://x/y.png'>",
    "<li aria-hidden=true data-pagefind-body>", "<time datetime='2026-01-01'>", "text",
    "<a href=' javascript:x' title=t>", "<section lang=en dir=ltr tabindex=0>",
    "<p formtarget=x>", "<math><mi>x</mi></math>", "<a href='x:y'>", "<a src='tel:1'>",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FAST_PATH_PIECES), max_size=25))
def test_output_check_with_its_fast_path_is_the_full_check(pieces):
    from kb import csp

    html = "<!DOCTYPE html><html><head><title>t</title></head><body>" + "".join(pieces)
    audit = csp.PageAudit("articles/x.html", None, set(), set())
    audit.feed(html)
    assert audit.problems == _audit_every_element(html)
