"""Search in a real browser: real readers' queries find the right article, the query
never leaves the device, results show highlighted snippets and can be filtered by topic,
and markup in a query never runs.

The query set (tests/data/search-queries.yaml) was written by reading the articles: for
each query, the article(s) a person typing it would want. Speed and download size are
measured by ``make bench`` (benchmarks/search_bytes.py), not here."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
QUERIES = yaml.safe_load((REPO / "tests/data/search-queries.yaml").read_text())
GOAL = 0.95  # share of queries with an expected article in the top 3


def search(tab, query: str, topic: str = "") -> list[str]:
    """Run a query through the page's own form handling (the fragment) and return the
    result links' paths, in order."""
    fragment = "q=" + quote(query) + ("&topic=" + quote(topic) if topic else "")
    if not tab.page.url.split("#")[0].endswith("/search.html"):
        tab.goto("search.html#" + fragment)
    else:
        tab.js("(f) => { location.hash = f; }", fragment)
    tab.page.wait_for_function(
        """(q) => { const r = document.getElementById('kb-search-results');
                   return r.dataset.state === 'done' &&
                          document.getElementById('kb-search-input').value === q; }""",
        arg=query)
    return tab.js("""() => [...document.querySelectorAll('.kb-search-title a')]
                     .map(a => new URL(a.href).pathname)""")


def stem(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".html")


def test_real_reader_queries_find_the_right_article(tab):
    misses = []
    for item in QUERIES:
        top = [stem(p) for p in search(tab, item["query"])[:3]]
        if not set(item["expect"]) & set(top):
            misses.append(f"{item['query']!r} ({item['kind']}): expected one of "
                          f"{item['expect']}, got {top}")
    found = len(QUERIES) - len(misses)
    print(f"\nsearch quality: {found}/{len(QUERIES)} queries with an expected article in "
          "the top 3\n  " + "\n  ".join(misses))
    assert found / len(QUERIES) >= GOAL, "\n".join(misses)


@pytest.mark.parametrize("query, article, said", [
    ("anxeity", "anxiety", "anxiety"),          # a typo, corrected from the vocabulary
    ("greif", "grief-and-loss", "grief"),
    ("theraphy for couples", "couples-therapy", "therapy"),
])
def test_a_misspelt_word_is_corrected_and_the_reader_is_told(tab, query, article, said):
    paths = search(tab, query)
    assert stem(paths[0]) == article
    status = tab.locator("#kb-search-status").inner_text()
    assert f"Showing results for {said}" in status and f"you typed {query.split()[0]}" in status


def search_files(tab) -> list[str]:
    """The paths under /pagefind/ the tab's context fetched so far, in order."""
    paths = [urlsplit(url).path for url in tab.requests]
    return [p for p in paths if p.startswith("/pagefind/")]


def test_a_first_search_for_words_the_site_uses_fetches_no_vocabulary(tab):
    """Issue 18 (the bytes of a first search): the vocabulary serves spelling correction
    only, and is fetched only for a word whose stem the index does not hold."""
    paths = search(tab, "anxiety")
    assert stem(paths[0]) == "anxiety"
    fetched = search_files(tab)
    assert not [p for p in fetched if "/kb-vocab/" in p], fetched
    assert "Showing results for" not in tab.locator("#kb-search-status").inner_text()
    # the site's chunk layout: the word's own chunk, not its neighbours'
    assert len([p for p in fetched if p.endswith(".pf_index")]) == 1, fetched
    # a word the site has in another form (its stem is indexed): still no vocabulary
    search(tab, "worries")
    assert not [p for p in search_files(tab) if "/kb-vocab/" in p]


def test_a_misspelt_word_fetches_only_its_letter_of_the_vocabulary(tab):
    paths = search(tab, "my greif")
    assert stem(paths[0]) == "grief-and-loss"
    assert "Showing results for grief" in tab.locator("#kb-search-status").inner_text()
    vocab = [p for p in search_files(tab) if "/kb-vocab/" in p]
    assert vocab == ["/pagefind/kb-vocab/g.txt"]  # "my" is a small word: never looked up
    # fetched once: a second typo with the same letter reads it from memory
    search(tab, "grieff")
    assert [p for p in search_files(tab) if "/kb-vocab/" in p] == vocab


def test_lay_words_reach_the_articles_that_use_other_words(tab):
    # "dad" and "died" appear in no article; the synonym list maps them to words that do
    assert stem(search(tab, "my dad died")[0]) == "grief-and-loss"
    plan = tab.js("() => window.kbSearch.analyse('my dad died')")
    assert [g["typed"] for g in plan["groups"]] == ["dad", "died"]  # "my" is dropped
    assert [t["text"] for t in plan["groups"][0]["terms"]] == ["parent", "family"]


def test_results_show_snippets_with_the_matched_words_highlighted(tab):
    search(tab, "panic attacks")
    first = tab.locator(".kb-search-result").first
    assert first.locator(".kb-search-title a").inner_text().startswith("Panic attacks")
    marks = first.locator(".kb-search-excerpt mark").all_inner_texts()
    assert marks and all(m.lower().strip(".,;:") in ("panic", "attacks", "attack")
                         for m in marks), marks
    assert "Topic" in first.locator(".kb-search-topics").inner_text()


def test_results_come_five_at_a_time(tab):
    assert len(search(tab, "therapy")) == 5
    more = tab.locator(".kb-search-more")
    more.click()
    tab.page.wait_for_function("() => document.querySelectorAll('.kb-search-result').length"
                               " === 10 && document.activeElement.closest('.kb-search-result')")
    # keyboard users land on the first new result
    assert tab.active_matches(".kb-search-result:nth-child(6) a")


def test_filter_by_topic(tab):
    everything = search(tab, "therapy")
    tab.locator("#kb-search-topic").select_option("Grief and loss")
    tab.page.wait_for_function(
        "() => location.hash.includes('topic=') && "
        "document.getElementById('kb-search-results').dataset.state === 'done'")
    filtered = tab.js("""() => [...document.querySelectorAll('.kb-search-result')]
                         .map(r => r.querySelector('.kb-search-topics').textContent)""")
    assert filtered and all("Grief and loss" in t for t in filtered)
    assert filtered != everything
    assert "in the topic Grief and loss" in tab.locator("#kb-search-status").inner_text()
    # the choice is part of the address: a reload (or a shared link) keeps it
    tab.page.reload()
    tab.page.wait_for_function(
        "() => document.getElementById('kb-search-results').dataset.state === 'done'")
    assert tab.locator("#kb-search-topic").input_value() == "Grief and loss"


def test_the_query_never_reaches_the_server(tab, server):
    before = len(server.requests)
    tab.goto("articles/anxiety.html")
    field = tab.locator("input.sidebar-search")
    field.fill("suicide thoughts")
    field.press("Enter")
    tab.page.wait_for_function(
        "() => document.getElementById('kb-search-results')?.dataset.state === 'done'")
    assert tab.page.url.endswith("/search.html#q=suicide%20thoughts")
    assert tab.locator(".kb-search-result").count() > 0
    seen = [path for path, _ in server.requests[before:]]
    assert seen and not [p for p in seen if "suicide" in p or "q=" in p], seen
    # the search page sent no Referer with the query either (no-referrer policy)
    assert not [h for _, h in server.requests[before:] if "suicide" in h.get("Referer", "")]


def test_the_home_page_search_box_uses_the_fragment(tab, server):
    tab.goto("index.html")
    tab.locator("#kb-home-search").fill("grief")
    tab.locator("#kb-home-search").press("Enter")
    tab.page.wait_for_function(
        "() => document.getElementById('kb-search-results')?.dataset.state === 'done'")
    assert tab.page.url.endswith("/search.html#q=grief")
    assert not [p for p, _ in server.requests if "q=grief" in p]


def test_forms_have_no_named_fields_even_before_scripts_run(tab):
    for page in ("index.html", "search.html", "articles/grief-and-loss.html"):
        tab.goto(page)
        assert tab.js("() => document.querySelectorAll('form [name]').length") == 0, page


def test_an_old_query_string_link_moves_to_the_fragment(tab):
    tab.goto("search.html?q=grief")
    tab.page.wait_for_function(
        "() => document.getElementById('kb-search-results').dataset.state === 'done'")
    assert tab.js("() => location.search") == ""
    assert tab.js("() => location.hash") == "#q=grief"
    assert tab.locator(".kb-search-result").count() > 0


def test_following_a_result_highlights_the_words_and_forgets_them(tab):
    search(tab, "panic")
    tab.locator(".kb-search-title a").first.click()
    tab.page.wait_for_load_state("load")
    assert tab.page.url.endswith("/articles/panic-attacks.html")
    tab.page.wait_for_selector("span.highlighted")
    words = {w.lower() for w in tab.locator("span.highlighted").all_text_contents()}
    assert words == {"panic"}
    # nothing of the search is left in storage
    assert tab.js("() => [localStorage.length, sessionStorage.length]") == [0, 0]


HOSTILE = [
    '<img src=x onerror="window.__pwned=1">',
    '"><script>window.__pwned=1</script>',
    "</p><svg onload=window.__pwned=1>",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_markup_in_a_query_is_shown_as_text_and_never_runs(tab, query):
    search(tab, query)
    assert tab.js("() => window.__pwned") is None
    assert tab.js("""() => document.querySelectorAll(
        '#kb-search-status img, #kb-search-status svg, #kb-search-status script,'
        + '#kb-search-results img, #kb-search-results svg, #kb-search-results script'
        ).length""") == 0
    assert tab.locator("#kb-search-status q").inner_text() == query
    assert tab.locator("#kb-search-input").input_value() == query


@pytest.mark.parametrize("value", HOSTILE)
def test_markup_in_a_highlight_link_never_runs(tab, value):
    tab.goto("articles/grief-and-loss.html?highlight=" + quote(value))
    tab.page.wait_for_timeout(100)  # sphinx_highlight.js works after a 10 ms timeout
    assert tab.js("() => window.__pwned") is None
    assert tab.js("() => document.querySelectorAll('article img, article svg, article script').length") == 0
    assert "highlight" not in tab.page.url  # Sphinx removes the parameter
