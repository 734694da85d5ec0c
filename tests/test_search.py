"""Site search, as built: the Pagefind bundle, what is indexed, the data the query layer
reads, and the editors' synonym list. (tests/browser/test_search.py runs real queries.)"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import yaml

from helpers import DOCS, REPO, html, warnings_of

from kb.search import load_stopwords, load_synonyms


def bundle(app) -> Path:
    return Path(app.outdir) / "pagefind"


def search_data(app) -> dict:
    return json.loads((bundle(app) / "kb-search.json").read_text(encoding="utf-8"))


def vocabulary(out: Path) -> dict[str, list[str]]:
    """The site's words, per vocabulary file (first letter), most frequent first."""
    return {p.stem: p.read_text(encoding="utf-8").split()
            for p in sorted((out / "pagefind/kb-vocab").glob("*.txt"))}


def test_sphinx_index_is_replaced_by_the_pagefind_bundle(site):
    out = Path(site.outdir)
    assert not (out / "searchindex.js").exists()
    assert (bundle(site) / "pagefind.js").is_file()
    entry = json.loads((bundle(site) / "pagefind-entry.json").read_text())
    assert list(entry["languages"]) == ["en"]
    # one page per indexed document: 15 articles and the 6 site pages that readers search
    articles = sorted(p.stem for p in (DOCS / "articles").glob("*.md"))
    assert entry["languages"]["en"]["page_count"] == len(articles) + 6
    # the interfaces the site does not use are not published
    assert not (bundle(site) / "pagefind-ui.js").exists()
    assert not (bundle(site) / "pagefind-highlight.js").exists()


def test_articles_and_site_pages_are_indexed_listings_are_not(site):
    for page in ("articles/anxiety.html", "crisis.html", "about/index.html",
                 "about/privacy.html"):
        assert len(html(site, page).select("[data-pagefind-body]")) == 1, page
    for page in ("index.html", "bibliography.html", "contributing/index.html",
                 "topics/index.html", "topics/grief.html", "articles/index.html",
                 "search.html", "genindex.html"):
        assert not html(site, page).select("[data-pagefind-body]"), page


def test_article_topics_are_search_filters(site):
    fm = yaml.safe_load((DOCS / "articles/grief-and-loss.md").read_text().split("---")[1])
    topics = yaml.safe_load((DOCS / "_data/topics.yaml").read_text())
    body = html(site, "articles/grief-and-loss.html").select_one("[data-pagefind-body]")
    filters = [el["data-pagefind-filter"] for el in body.select("[data-pagefind-filter]")]
    assert filters == [f"topic:{topics[t]['title']}" for t in fm["topics"]]
    # site pages carry no topic and rank below articles
    about = html(site, "about/index.html").select_one("[data-pagefind-body]")
    assert not about.select("[data-pagefind-filter]")
    assert about["data-pagefind-weight"] == "0.5"


def test_search_page_sends_nothing_and_lists_every_topic(site):
    page = html(site, "search.html")
    form = page.select_one("form#kb-search-form")
    assert form is not None
    # no named field: a plain submit (no script) puts nothing in the URL
    assert not form.select("[name]")
    topics = yaml.safe_load((DOCS / "_data/topics.yaml").read_text())
    options = [o["value"] for o in page.select("#kb-search-topic option")]
    assert options == [""] + sorted(t["title"] for t in topics.values())
    assert page.select_one('meta[name="robots"]')["content"] == "noindex"
    assert page.select_one("#kb-search-status")["role"] == "status"
    scripts = [s["src"] for s in page.select("script[src]")]
    assert "_static/kb-search.js" in scripts
    assert form["data-pagefind"] == "pagefind/pagefind.js"
    # the search page is left out of the sitemap and robots may not crawl it
    assert "search.html" not in (Path(site.outdir) / "sitemap.xml").read_text()


def test_vocabulary_holds_the_site_words_by_first_letter_most_frequent_first(site):
    files = vocabulary(Path(site.outdir))
    words = [w for group in files.values() for w in group]
    assert len(words) == len(set(words))
    for key, group in files.items():
        assert all(w[0] == key for w in group) or key in ("0", "_"), key
    assert all(w[0].isdigit() for w in files["0"])
    for word in ("anxiety", "grief", "trauma", "therapist", "confidentiality",
                 "post-traumatic", "traumatic", "988"):
        assert word in words, word
    # "therapy" is on every article, "trauma" on several, "traumatic" on fewer
    t = files["t"]
    assert t.index("therapy") < t.index("trauma") < t.index("traumatic")
    # words only on pages that are not searched do not count
    assert "pagefind" not in words


def test_the_editors_lists_reach_the_browser(site):
    data = search_data(site)
    synonyms, problems = load_synonyms(DOCS / "_data/search-synonyms.yaml")
    assert problems == []
    assert data["synonyms"] == synonyms
    assert data["synonyms"]["dad"] == ["parent", "family"]
    assert data["stopwords"] == load_stopwords(DOCS / "_data/search-stopwords.txt")
    assert "my" in data["stopwords"] and "help" not in data["stopwords"]


def test_the_synonym_words_no_page_uses_are_listed_for_the_browser(site):
    """kb-search.js fetches the vocabulary only to correct a typo; whether a lay word of
    the synonym list is on any page ("dad" is not, so it is searched as "parent" and
    "family" only) comes with the lists instead."""
    words = {w for group in vocabulary(Path(site.outdir)).values() for w in group}
    data = search_data(site)
    single = {k for k in data["synonyms"] if re.fullmatch(r"[a-z0-9]+", k)}
    assert data["absent"] == sorted(k for k in single if k not in words)
    assert "dad" in data["absent"] and "dad" not in words
    # "anxious" is on pages: searched as itself and as "anxiety" and "worry"
    assert "anxious" in data["synonyms"] and "anxious" in words
    assert "anxious" not in data["absent"]
    # a phrase or a hyphenated key is never searched as itself: not listed
    assert not [w for w in data["absent"] if not re.fullmatch(r"[a-z0-9]+", w)]


def test_query_words_read_text_as_the_browser_reads_a_query():
    from kb.search import query_words
    assert query_words("Don\u2019t  post-traumatic \u00c9cole 12") == [
        "dont", "post", "traumatic", "\u00e9cole", "12"]
    assert query_words("  ") == []


def test_every_synonym_points_at_words_the_articles_use(site):
    """An editor's rule (docs/_data/search-synonyms.yaml): a synonym that no page uses
    finds nothing."""
    words = {w for group in vocabulary(Path(site.outdir)).values() for w in group}
    missing = []
    for key, values in search_data(site)["synonyms"].items():
        for value in values:
            parts = re.findall(r"[a-z0-9']+", value.replace("-", " "))
            if not all(p in words for p in parts):
                missing.append(f"{key}: {value}")
    assert missing == []


def test_stop_words_never_drop_words_that_carry_meaning_here():
    stop = set(load_stopwords(DOCS / "_data/search-stopwords.txt"))
    for word in ("help", "now", "alone", "sad", "first", "safe", "die", "hurt", "not"):
        assert word not in stop, word


def test_query_set_is_large_and_points_at_real_articles():
    queries = yaml.safe_load((REPO / "tests/data/search-queries.yaml").read_text())
    articles = {p.stem for p in (DOCS / "articles").glob("*.md")}
    assert len(queries) >= 40
    assert {q["kind"] for q in queries} == {"lay", "clinical", "typo", "synonym", "urgent"}
    for q in queries:
        assert q["expect"] and set(q["expect"]) <= articles, q


def test_every_mistake_in_the_synonym_list_is_reported_with_its_line(build_root):
    app = build_root("search_bad-synonyms")
    warnings = [w for w in warnings_of(app) if "search-synonyms" in w]
    assert [w.split("search-synonyms.yaml:")[1].split(":")[0] for w in warnings] == [
        "3", "4", "5", "6"]
    text = "\n".join(warnings)
    assert "'mum' needs a list of words the articles use" in text
    assert "'teenager': every alternative must be a non-empty word or phrase" in text
    assert "'dad' is listed twice" in text
    assert "'ptsd' needs a list" in text
    # the good entry still works
    data = json.loads((Path(app.outdir) / "pagefind/kb-search.json").read_text())
    assert data["synonyms"]["dad"] == ["father", "parent"]


def test_no_change_rebuild_keeps_the_index_and_an_edit_rebuilds_it(build_root):
    app = build_root(None, dest="incremental")
    src = Path(app.srcdir)
    entry = Path(app.outdir) / "pagefind/pagefind-entry.json"
    first = entry.stat().st_mtime_ns
    time.sleep(0.05)
    app = build_root(None, srcdir=src, freshenv=False)
    assert entry.stat().st_mtime_ns == first, "nothing changed, yet the index was rebuilt"
    article = src / "articles/good.md"
    article.write_text(article.read_text().replace("Some words about grief",
                                                   "Some words about grief and zebras"))
    app = build_root(None, srcdir=src, freshenv=False)
    assert entry.stat().st_mtime_ns != first
    assert "zebras" in vocabulary(Path(app.outdir))["z"]


def test_a_deleted_article_leaves_the_site_and_the_index(build_root, tmp_path):
    app = build_root(None, dest="deleted")
    src, out = Path(app.srcdir), Path(app.outdir)
    extra = src / "articles/second.md"
    extra.write_text((src / "articles/good.md").read_text()
                     .replace("A good article", "A second article"))
    app = build_root(None, srcdir=src, freshenv=False)
    assert (out / "articles/second.html").is_file()
    pages = json.loads((out / "pagefind/pagefind-entry.json").read_text())
    assert pages["languages"]["en"]["page_count"] == 2
    extra.unlink()
    app = build_root(None, srcdir=src, freshenv=False)
    assert not (out / "articles/second.html").exists()
    pages = json.loads((out / "pagefind/pagefind-entry.json").read_text())
    assert pages["languages"]["en"]["page_count"] == 1
    assert warnings_of(app) == []


def test_search_bundle_is_not_built_for_other_builders(build_root):
    app = build_root(None, buildername="dirhtml", dest="dirhtml")
    assert (Path(app.outdir) / "pagefind/pagefind.js").is_file()
    app = build_root(None, buildername="dummy", dest="dummy")
    assert not (Path(app.outdir) / "pagefind").exists()


def test_the_live_preview_writes_the_index_in_the_background(build_root):
    """make livehtml sets KB_SEARCH_INDEX=background: the build ends once the pages are
    written; a child process writes the index and swaps it in when complete."""
    app = build_root(None, dest="background", kb_search_index="background")
    out = Path(app.outdir)
    assert warnings_of(app) == []
    entry = out / "pagefind/pagefind-entry.json"
    deadline = time.monotonic() + 60
    while not entry.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert entry.is_file(), "the background index never appeared"
    assert (out / "pagefind/kb-search.json").is_file()
    assert (out / "pagefind/kb-vocab/g.txt").read_text().split()[0] in ("good", "grief")
    # no half-written bundle is left behind
    deadline = time.monotonic() + 10
    while [p for p in out.glob(".pagefind.*")] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [p.name for p in out.glob(".pagefind.*")] == []


def test_the_vocabulary_record_lives_beside_the_environment_and_is_remade_if_lost(
        build_root, tmp_path):
    """The pages' word counts are kept in the doctree folder, not in the saved environment;
    an incremental build whose record was lost (deleted, or from before the record
    existed) makes it again from the saved pages, and the vocabulary is the one a clean
    build writes."""
    app = build_root(None, dest="vocab-record")
    src = Path(app.srcdir)
    record = Path(app.doctreedir) / "kb-search-vocabulary.pickle"
    assert record.is_file()
    assert not getattr(app.env, "kb_search_words", {}), "word counts saved with the env"
    second = src / "articles/second.md"
    second.write_text((src / "articles/good.md").read_text()
                      .replace("Some words about grief", "Some words about walruses"))
    app = build_root(None, srcdir=src, freshenv=False)
    record.unlink()
    article = src / "articles/good.md"
    article.write_text(article.read_text().replace("Some words about grief",
                                                   "Some words about grief and zebras"))
    app = build_root(None, srcdir=src, freshenv=False)
    assert record.is_file()
    incremental = vocabulary(Path(app.outdir))
    assert "zebras" in incremental["z"] and "walruses" in incremental["w"]
    clean = build_root(None, srcdir=src, freshenv=True)
    assert vocabulary(Path(clean.outdir)) == incremental


def _words_one_by_one(doctree) -> dict:
    """The search vocabulary's word counts, as first written: piece of text by piece of
    text, word by word."""
    from collections import Counter

    from docutils import nodes

    from kb.search import WORD

    counts: Counter = Counter()
    for node in doctree.findall(nodes.Text):
        for word in WORD.findall(node.astext().lower().replace("\u2019", "'")):
            counts[word] += 1
            if "-" in word:
                counts.update(p for p in word.split("-") if len(p) > 2)
    return dict(counts)


def test_page_words_counted_as_word_by_word(site):
    """Each page's word counts (spelling suggestions): the same as counting piece by
    piece and word by word, on every page of the site and on text made to trip it
    (words at the edges of pieces, hyphens, apostrophes, accents)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from docutils import nodes

    from kb.search import words_of

    for docname in sorted(site.env.found_docs):
        doctree = site.env.get_doctree(docname)
        assert dict(words_of(doctree)) == _words_one_by_one(doctree), docname

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.text(alphabet=st.sampled_from(list("ab-'\u2019 \nÉé1.")), max_size=15),
                    max_size=6))
    def check(pieces):
        paragraph = nodes.paragraph()
        for piece in pieces:
            paragraph += nodes.Text(piece)
        doctree = nodes.document(None, None)
        doctree += paragraph
        assert dict(words_of(doctree)) == _words_one_by_one(doctree)

    check()


def test_a_pages_words_are_read_from_its_text_as_docutils_gives_it(site):
    """words_of joins the page's text nodes as they are (one look-up of the whole page),
    unless one holds an escaped character (docutils' null byte): then each node's
    astext(). The same counts as from each node's astext() on every page of the site,
    and on a page with escapes."""
    from docutils import nodes

    from kb import search

    def by_node(doctree):
        return search.count_words(
            "\n".join(node.astext() for node in doctree.findall(nodes.Text)))

    for docname in sorted(site.env.found_docs):
        doctree = site.env.get_doctree(docname)
        assert search.words_of(doctree) == by_node(doctree), docname
    doctree = site.env.get_doctree("index")
    doctree += nodes.paragraph("", "", nodes.Text("escaped\x00 words and\x00\nbreaks"),
                               nodes.Text("\x00"), nodes.Text("after\x00 ward"))
    assert search.words_of(doctree) == by_node(doctree)
    assert search.words_of(doctree)["afterward"] == 1
