"""The knowledge-base structure on the real site: topics, listings, feed, sitemap,
structured data, review dates, drafts, and the sidebar."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import yaml

from helpers import DOCS, html, warnings_of

ATOM = "{http://www.w3.org/2005/Atom}"


def articles_on_disk():
    return sorted(p.stem for p in (DOCS / "articles").glob("*.md"))


def test_every_topic_has_a_page_listing_exactly_its_articles(site):
    topics = yaml.safe_load((DOCS / "_data/topics.yaml").read_text())
    env = site.env
    for slug, topic in topics.items():
        page = html(site, f"topics/{slug}.html")
        assert page.select_one("article h1").get_text(strip=True) == topic["title"]
        listed = [a["href"] for a in page.select(".kb-listing a.kb-listing-title")]
        expected = {f"../{d}.html" for d, a in env.kb_articles.items() if slug in a.topics}
        assert set(listed) == expected, slug
        for item in page.select(".kb-listing-item"):
            assert item.select_one(".kb-listing-description").get_text(strip=True)
            assert item.select_one(".kb-listing-date time")["datetime"]


def test_every_article_is_reachable_from_the_home_page_through_a_topic(site):
    home = html(site, "index.html")
    reached = set()
    for link in home.select(".kb-topic-grid a"):
        topic = html(site, link["href"])
        reached |= {a["href"].removeprefix("../").removesuffix(".html")
                    for a in topic.select(".kb-listing a.kb-listing-title")}
    assert reached == {f"articles/{name}" for name in articles_on_disk()}


def test_all_articles_page_lists_every_article_newest_first(site):
    page = html(site, "articles/index.html")
    dates = [t["datetime"] for t in page.select(".kb-listing-date time")]
    assert len(dates) == len(articles_on_disk())
    assert dates == sorted(dates, reverse=True)


def test_atom_feed_parses_and_lists_the_articles(site):
    feed = ET.parse(Path(site.outdir) / "feed.xml").getroot()
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == len(articles_on_disk())
    first = entries[0]
    assert first.find(f"{ATOM}link").get("href").startswith("http://localhost:8000/articles/")
    assert first.find(f"{ATOM}summary").text
    assert first.find(f"{ATOM}author/{ATOM}name").text == "RFC Counseling editorial team"


def test_sitemap_lists_articles_and_topic_pages(site):
    root = ET.parse(Path(site.outdir) / "sitemap.xml").getroot()
    locs = {el.text for el in root.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")}
    assert "http://localhost:8000/articles/anxiety.html" in locs
    assert "http://localhost:8000/topics/grief.html" in locs
    assert not any(loc.endswith(("search.html", "404.html")) for loc in locs)
    robots = (Path(site.outdir) / "robots.txt").read_text()
    assert "Sitemap: http://localhost:8000/sitemap.xml" in robots


def test_every_article_has_medical_web_page_json_ld(site):
    for name in articles_on_disk():
        page = html(site, f"articles/{name}.html")
        scripts = page.select('script[type="application/ld+json"]')
        assert len(scripts) == 1, name
        data = json.loads(scripts[0].string)
        article = site.env.kb_articles[f"articles/{name}"]
        assert data["@type"] == "MedicalWebPage"
        assert data["author"] == {"@type": "Organization",
                                  "name": "RFC Counseling editorial team"}
        assert data["reviewedBy"]["name"]
        assert data["lastReviewed"] == article.last_reviewed.isoformat()
        assert data["datePublished"] == article.published.isoformat()
        assert data["dateModified"] == article.updated.isoformat()
        assert data["about"] and all(t["name"] for t in data["about"])
        assert data["url"] == f"http://localhost:8000/articles/{name}.html"


def test_article_pages_show_description_byline_review_dates_and_cta(site):
    for name in articles_on_disk():
        page = html(site, f"articles/{name}.html")
        art = site.env.kb_articles[f"articles/{name}"]
        assert page.select_one(".kb-description").get_text() == art.description
        assert "min read" in page.select_one(".kb-byline").get_text()
        review = page.select(".kb-review time")
        assert [t["datetime"] for t in review] == [art.last_reviewed.isoformat(),
                                                    art.next_review.isoformat()]
        cta = page.select_one("a.kb-cta-button")
        assert cta.get_text() == "Book a free phone consultation"
        assert cta["href"] == "../about/index.html#how-to-book-a-free-phone-consultation"
        assert page.select_one("#how-to-book-a-free-phone-consultation") is None  # on about
        meta = page.select_one('meta[name="description"]')
        assert meta["content"] == art.description
        url = f"http://localhost:8000/articles/{name}.html"
        assert page.select_one('link[rel="canonical"]')["href"] == url
        og = {m["property"]: m["content"] for m in page.select('meta[property^="og:"]')}
        assert og["og:url"] == url and og["og:type"] == "article"
        assert og["og:description"] == art.description
        note = page.select_one(".kb-content-note")
        assert (note is not None) == bool(art.content_note), name


def test_related_articles_share_a_topic_or_a_source(site):
    env = site.env
    page = html(site, "articles/complex-trauma.html")
    related = [a["href"] for a in page.select("#related-articles li a")]
    assert 1 <= len(related) <= 3
    cited = {}
    for ref in env.get_domain("cite").citation_refs:
        cited.setdefault(ref.docname, set()).update(t.key for t in ref.targets)
    mine = env.kb_articles["articles/complex-trauma"]
    for href in related:
        name = "articles/" + href.removesuffix(".html")
        other = env.kb_articles[name]
        assert (set(other.topics) & set(mine.topics)
                or cited[name] & cited["articles/complex-trauma"]), href
    assert "understanding-trauma.html" in related


def test_sidebar_shows_topics_and_site_pages_not_every_article(site):
    page = html(site, "articles/anxiety.html")
    sidebar = page.select_one(".sidebar-tree")
    links = [a["href"] for a in sidebar.select("a")]
    assert "../topics/anxiety.html" in links and "index.html" in links  # All articles
    article_pages = {f"{name}.html" for name in articles_on_disk()}
    assert not article_pages & set(links)


def test_404_page_and_favicon(site):
    page = html(site, "404.html")
    feed = page.select_one('link[type="application/atom+xml"]')
    assert feed["href"] == "/feed.xml"  # absolute: the 404 page is served at any depth
    assert page.select_one(".announcement #kb-crisis") is not None
    icon = page.select_one('link[rel~="icon"]')
    assert icon is not None and (Path(site.outdir) / "_static/favicon.svg").exists()


def test_meta_referrer_and_no_remote_resources_anywhere(site):
    for path in Path(site.outdir).rglob("*.html"):
        page = html(site, str(path.relative_to(site.outdir)))
        assert page.select_one('meta[name="referrer"]')["content"] == "no-referrer", path
        for tag, attr in (("script", "src"), ("link", "href"), ("img", "src"),
                          ("iframe", "src"), ("source", "src")):
            for el in page.select(f"{tag}[{attr}]"):
                if tag == "link" and el.get("rel") in (["canonical"], ["alternate"]):
                    continue
                assert not el[attr].startswith(("http:", "https:", "//")), (path, el)


def test_drafts_are_bannered_in_previews_and_absent_in_production(build_root):
    preview = build_root("drafts_basic", kb_show_drafts=True)
    assert warnings_of(preview) == []
    page = html(preview, "articles/unfinished.html")
    assert "Draft." in page.select_one(".kb-draft-banner").get_text()
    home = html(preview, "index.html")
    assert "articles/unfinished.html" in {a["href"] for a in home.select(".kb-listing a")}

    prod = build_root("drafts_basic", dest="production", kb_show_drafts=False)
    assert warnings_of(prod) == []
    out = Path(prod.outdir)
    assert not (out / "articles/unfinished.html").exists()
    assert "articles/good.html" in {a["href"] for a in
                                    html(prod, "index.html").select(".kb-listing a")}
    assert "unfinished" not in (out / "feed.xml").read_text()
    assert "unfinished" not in (out / "sitemap.xml").read_text()
    # the search index has the published article only, and none of the draft's words
    entry = json.loads((out / "pagefind/pagefind-entry.json").read_text())
    assert entry["languages"]["en"]["page_count"] == 1
    words = {w for f in (out / "pagefind/kb-vocab").glob("*.txt") for w in f.read_text().split()}
    assert "grief" in words and "unfinished" not in words and "progress" not in words
    assert "unfinished" not in html(prod, "topics/grief.html").get_text()


def test_drafts_fail_closed_on_read_the_docs():
    """On Read the Docs only a pull-request preview shows drafts: a branch, a tag, another
    or a missing version type is production, and KB_DRAFTS cannot bring drafts back."""
    from kb.drafts import is_production, show_drafts

    rtd = {"READTHEDOCS": "True"}
    assert show_drafts({}) is True and is_production({}) is False
    assert show_drafts({**rtd, "READTHEDOCS_VERSION_TYPE": "external"}) is True
    for version_type in ("branch", "tag", "unknown", "", None):
        env = {**rtd} if version_type is None else {**rtd, "READTHEDOCS_VERSION_TYPE":
                                                    version_type}
        assert is_production(env) is True, version_type
        assert show_drafts(env) is False, version_type
        assert show_drafts({**env, "KB_DRAFTS": "1"}) is False, version_type
    assert show_drafts({"KB_DRAFTS": "0"}) is False
    assert show_drafts({**rtd, "READTHEDOCS_VERSION_TYPE": "external", "KB_DRAFTS": "0"}) \
        is False


def test_a_production_build_leaves_drafts_out_whatever_conf_says(build_root, monkeypatch):
    monkeypatch.setenv("READTHEDOCS", "True")
    monkeypatch.delenv("READTHEDOCS_VERSION_TYPE", raising=False)
    monkeypatch.setenv("KB_DRAFTS", "1")
    app = build_root("drafts_basic", kb_show_drafts=True)
    assert warnings_of(app) == []
    assert not (Path(app.outdir) / "articles/unfinished.html").exists()


def test_a_published_page_that_links_to_a_draft_is_an_error(build_root, tmp_path):
    from helpers import lay_root
    src = lay_root(tmp_path / "src", "drafts_basic")
    good = src / "articles/good.md"
    text = good.read_text(encoding="utf-8")
    good.write_text(text.replace("Some words about grief",
                                 "See [the draft](unfinished.md). Some words about grief"),
                    encoding="utf-8")
    line = text[:text.index("Some words about grief")].count("\n") + 1
    app = build_root(None, srcdir=src, kb_show_drafts=True)
    assert warnings_of(app) == [
        f"articles/good.md:{line}: WARNING: this page links to 'articles/unfinished', which "
        "is a draft: published sites leave drafts out, so the link would break; publish the "
        "draft first, or remove the link [kb.draft-link]"]
