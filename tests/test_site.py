"""The real knowledge base builds without a warning, and its pages are what readers need."""

from __future__ import annotations

from pathlib import Path

from helpers import DOCS, html, warnings_of


def test_real_site_builds_without_warnings(site):
    assert warnings_of(site) == []


def test_every_article_page_exists_with_its_title(site):
    for source in sorted((DOCS / "articles").glob("*.md")):
        page = html(site, f"articles/{source.stem}.html")
        h1 = page.select_one("article h1")
        assert h1 is not None and h1.get_text(strip=True), source.name


def test_each_citation_links_to_an_entry_of_the_articles_reference_list(site):
    page = html(site, "articles/therapeutic-relationship.html")
    refs = page.select("section#references li.kb-ref")
    ids = {li["id"] for li in refs}
    cites = page.select("span.kb-cite > a.reference.internal")
    assert len(cites) >= 6
    for link in cites:
        assert link["href"].startswith("#"), link
        assert link["href"][1:] in ids, link
    # every listed work is cited on the page, and nothing else is listed
    assert ids == {a["href"][1:] for a in cites}


def test_no_unresolved_citation_marks(site):
    for path in Path(site.outdir, "articles").glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "could not find bibtex key" not in text
        assert "{cite:" not in text, path
        assert "kb-cite-unresolved" not in text, path


def test_home_page_leads_to_the_first_article_through_its_topic(site):
    home = html(site, "index.html")
    grid = {a.get_text(strip=True): a["href"] for a in home.select(".kb-topic-grid a")}
    assert grid["Starting therapy"] == "topics/therapy.html"
    topic = html(site, "topics/therapy.html")
    listed = {a["href"] for a in topic.select(".kb-listing a.kb-listing-title")}
    assert "../articles/therapeutic-relationship.html" in listed


def test_crisis_notice_on_every_page(site):
    for path in Path(site.outdir).rglob("*.html"):
        if "_static" in path.parts:
            continue
        page = html(site, str(path.relative_to(site.outdir)))
        notice = page.select_one(".announcement #kb-crisis")
        assert notice is not None, path
        links = {a.get_text(strip=True): a["href"] for a in notice.select("a")}
        assert links["Call 988"] == "tel:988"
        assert links["Text 988"] == "sms:988"
        assert links["Call 911"] == "tel:911"
        more = [href for text, href in links.items() if "find-your-situation" in href]
        expected = ("#find-your-situation" if path.name == "crisis.html" and
                    path.parent == Path(site.outdir) else "crisis.html#find-your-situation")
        assert len(more) == 1 and more[0].endswith(expected), links
