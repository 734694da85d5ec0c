"""The search index after an edit: only the changed pages are re-indexed
(docs/_ext/kb/pagefind_delta.py), and the result is the index a full Pagefind run writes,
word by word, page by page, filter by filter. Every case the update cannot handle falls
back to a full run. (tests/browser/test_search_incremental.py queries an updated index in
a real browser.)"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import time
from pathlib import Path

import cbor2
import pytest

from helpers import DOCS, lay_root, warnings_of

from kb import pagefind_delta as delta
from kb.pagefind_delta import pagefind_executable, pagefind_options

EXE = pagefind_executable()
OPTIONS = pagefind_options("en")
TOPICS = ["Grief and loss", "Anxiety", "Trauma", "Families"]


def prose_words() -> list[str]:
    """Real words, from the real articles' prose (front matter and roles left out)."""
    words = []
    for path in sorted((DOCS / "articles").glob("*.md")):
        body = path.read_text(encoding="utf-8").split("---", 2)[2]
        words += re.findall(r"[A-Za-z][a-z']+", re.sub(r"\{[^}]*\}`[^`]*`", "", body))
    return words


WORDS = prose_words()


def page_html(title: str, words: list[str], topics: list[str], weight: str = "") -> str:
    paragraphs = "".join(f"<p>{' '.join(words[i:i + 60])}.</p>"
                         for i in range(0, len(words), 60))
    filters = "".join(f'<span data-pagefind-filter="topic:{t}"></span>' for t in topics)
    return (f'<!doctype html><html lang="en"><head><title>{title}</title></head><body>'
            f'<nav>Menu words never indexed</nav><main data-pagefind-body{weight}>'
            f'{filters}<h1>{title}</h1>{paragraphs}<div class="kb-related">Related '
            f'pagesonly</div></main></body></html>')


@pytest.fixture
def static_site(tmp_path) -> Path:
    """A static site of 60 pages of 600 real words each (more than three of Pagefind's
    20,000-location index chunks), with topic filters, a page weighted down, a folder
    index page and a page that is not indexed."""
    out = tmp_path / "html"
    rng = random.Random(7)
    for i in range(60):
        start = rng.randrange(len(WORDS) - 600)
        write(out / f"articles/page-{i:02d}.html",
              page_html(f"Page {i}", WORDS[start:start + 600], rng.sample(TOPICS, 2)))
    write(out / "about/index.html", page_html("About us", WORDS[:300], [], weight=
                                              ' data-pagefind-weight="0.5"'))
    write(out / "index.html", "<!doctype html><html lang='en'><body>Home</body></html>")
    return out


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def indexed(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                  if "data-pagefind-body" in p.read_text(encoding="utf-8"))


def pagefind_run(site: Path, dest: Path, pages: list[str] | None = None) -> Path:
    """Pagefind over the whole site (or only *pages* of it), its bundle as Pagefind
    writes it."""
    shutil.rmtree(dest, ignore_errors=True)
    run = delta.run_pagefind(EXE, site, dest, OPTIONS, pages)
    assert run.returncode == 0, run.stderr
    return dest


def full_run(site: Path, dest: Path) -> Path:
    """A full index as kb/search.py writes it: Pagefind, then the site's chunk layout."""
    pagefind_run(site, dest)
    delta.relayout(dest)
    return dest


def decode(bundle: Path) -> dict:
    """Everything a search reads from a bundle, keyed by page URL instead of page number
    (Pagefind numbers pages in the order its parse finishes them)."""
    language, (version, pages, chunks, filters, sorts, fields) = delta._meta(cbor2, bundle)
    urls, fragments = [], {}
    for fragment, word_count in pages:
        data = json.loads(delta.read_file(bundle / "fragment" / f"{fragment}.pf_fragment"))
        urls.append(data["url"])
        fragments[data["url"]] = (word_count, data)
    words = {}
    for chunk in chunks:
        payload = delta.read_file(bundle / "index" / f"{chunk[2]}.pf_index")
        for word, postings, variants in cbor2.loads(payload)[0]:
            # the accented forms: their order follows the page numbers (checked apart)
            words[word] = (by_url(postings, urls),
                           {form: by_url(form_postings, urls)
                            for form, form_postings in variants})
    filter_pages = {}
    for name, filename in filters:
        _name, values = cbor2.loads(delta.read_file(bundle / "filter" /
                                                    f"{filename}.pf_filter"))
        filter_pages[name] = {value: sorted(urls[p] for p in numbers)
                              for value, numbers in values}
    entry = json.loads((bundle / "pagefind-entry.json").read_text())
    return {"version": version, "language": language, "fragments": fragments,
            "words": words, "filters": filter_pages, "sorts": sorts, "fields": fields,
            "chunk ranges": [chunk[:2] for chunk in chunks],
            "page count": entry["languages"][language]["page_count"]}


def by_url(postings: list, urls: list[str]) -> dict:
    number, result = 0, {}
    for posting in postings:
        number += posting[0]  # page numbers are written as differences
        result[urls[number]] = (posting[1], posting[2])
    return result


def variant_order(bundle: Path) -> dict[str, list[tuple[int, str]]]:
    """Each word's accented forms as (first page number, form), in the bundle's order."""
    _language, meta = delta._meta(cbor2, bundle)
    result = {}
    for chunk in meta[2]:
        for word, _postings, variants in cbor2.loads(
                delta.read_file(bundle / "index" / f"{chunk[2]}.pf_index"))[0]:
            if variants:
                result[word] = [(postings[0][0], form) for form, postings in variants]
    return result


@pytest.fixture
def indexed_site(static_site, tmp_path):
    """The site, its full-run bundle in html/pagefind, and the recorded state."""
    site = static_site
    bundle = full_run(site, site / "pagefind")
    state_file = tmp_path / "doctrees" / delta.STATE_FILE
    assert delta.record_state(state_file, bundle, OPTIONS,
                              delta.snapshot(site, indexed(site))) is None
    return site, bundle, state_file


def run_update(site: Path, bundle: Path, state_file: Path) -> tuple[int, Path]:
    """One incremental update, swapped in as kb/search.py does."""
    fresh = site / ".pagefind.new"
    shutil.rmtree(fresh, ignore_errors=True)
    state = delta.load_state(state_file)
    count = delta.update(EXE, OPTIONS, site, bundle, fresh,
                         delta.snapshot(site, indexed(site), state), state, state_file)
    shutil.rmtree(bundle)
    fresh.rename(bundle)
    return count, bundle


def edit(site: Path, rel: str, old: str, new: str) -> None:
    path = site / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_full_run_is_recorded_and_this_module_writes_its_chunks_byte_for_byte(
        indexed_site):
    site, bundle, state_file = indexed_site
    state = delta.load_state(state_file)
    index = decode(bundle)
    assert len(index["chunk ranges"]) >= 3, "the test site must span several chunks"
    assert state["format"] == "1.5.2" == index["version"]
    assert sorted(state["urls"]) == sorted(index["fragments"])
    assert "/about/" in state["urls"] and "/index.html" not in state["urls"]
    assert set(state["pages"]) == set(indexed(site))
    # the state is Sphinx's cache, not part of the published site
    assert not list(site.rglob(delta.STATE_FILE)) and not list(site.rglob(delta.WORDS_FILE))
    # record_state re-encodes every word and re-cuts the chunks, and compares the bytes
    # with the bundle's files; a difference would have returned a reason, not None.
    words, _variants = delta._words_from(cbor2, bundle, delta._meta(cbor2, bundle)[1][2])
    assert set(words) == set(index["words"])


def test_an_edit_re_indexes_only_the_changed_pages_and_equals_a_full_run(indexed_site,
                                                                         tmp_path):
    site, bundle, state_file = indexed_site
    before = decode(bundle)
    old_fragments = {p.name: p.stat().st_ino for p in (bundle / "fragment").iterdir()}
    edit(site, "articles/page-03.html", "<h1>Page 3</h1>",
         "<h1>Page 3</h1><p>A zebrafinch sang about courage.</p>")
    edit(site, "articles/page-41.html", 'data-pagefind-filter="topic:',
         'data-pagefind-filter="topic:Self-esteem"></span><span data-pagefind-filter="x:')
    count, bundle = run_update(site, bundle, state_file)
    assert count == 2
    after = decode(bundle)
    assert after == decode(full_run(site, tmp_path / "full"))
    assert after != before
    assert list(after["words"]["zebrafinch"][0]) == ["/articles/page-03.html"]
    assert "zebrafinch" not in before["words"]
    assert "/articles/page-41.html" in after["filters"]["topic"]["Self-esteem"]
    # the 59 pages that did not change were linked from the last bundle, not rewritten
    linked = [p.name for p in (bundle / "fragment").iterdir()
              if old_fragments.get(p.name) == p.stat().st_ino]
    assert len(linked) == 59
    assert not list(site.glob(".pagefind*"))  # no scratch folder left behind


def test_a_chain_of_edits_stays_equal_to_a_full_run(indexed_site, tmp_path):
    """Words gained and lost, a page emptied, a page weighted, filters moved, a page
    changed twice: after each update the index is what a full run gives."""
    site, bundle, state_file = indexed_site
    rng = random.Random(11)
    steps = [
        ("articles/page-00.html", "<h1>Page 0</h1>", "<h1>Page 0</h1><p>Hummingbird.</p>"),
        ("articles/page-00.html", "Hummingbird", "Kingfisher"),
        ("articles/page-59.html", "<main data-pagefind-body>",
         '<main data-pagefind-body data-pagefind-weight="2">'),
        ("about/index.html", "<h1>About us</h1>", "<h1>About the practice</h1>"),
    ]
    for rel, old, new in steps:
        edit(site, rel, old, new)
        count, bundle = run_update(site, bundle, state_file)
        assert count == 1
        assert decode(bundle) == decode(full_run(site, tmp_path / "full")), (rel, new)
    # a page left with almost nothing: its words leave the index
    path = site / "articles/page-17.html"
    unique = {w.lower() for w in re.findall(r"[A-Za-z']+", path.read_text())}
    path.write_text(page_html("Page 17", ["Quiet"], ["Anxiety"]), encoding="utf-8")
    # and four more pages rewritten with other real words
    for i in rng.sample(range(20, 40), 4):
        start = rng.randrange(len(WORDS) - 500)
        write(site / f"articles/page-{i:02d}.html",
              page_html(f"Page {i}", WORDS[start:start + 500], ["Trauma"]))
    count, bundle = run_update(site, bundle, state_file)
    assert count == 5
    full = decode(full_run(site, tmp_path / "full"))
    assert decode(bundle) == full
    assert any(w not in full["words"] for w in unique), "no word left the index"


def test_nothing_changed_gives_the_same_bundle(indexed_site):
    site, bundle, state_file = indexed_site
    before = decode(bundle)
    (site / "articles/page-05.html").touch()  # rewritten with the same content
    count, bundle = run_update(site, bundle, state_file)
    assert count == 0
    assert decode(bundle) == before


def corrupt_words(site, bundle, state_file):
    state_file.with_name(delta.WORDS_FILE).write_bytes(b"not marshal data")


def other_bundle(site, bundle, state_file):
    state = json.loads(state_file.read_text())
    state["meta"] = "en_0000000000"
    state_file.write_text(json.dumps(state))


def other_version(site, bundle, state_file):
    entry = json.loads((bundle / "pagefind-entry.json").read_text())
    entry["version"] = "1.6.0"
    (bundle / "pagefind-entry.json").write_text(json.dumps(entry))


def page_added(site, bundle, state_file):
    write(site / "articles/page-new.html", page_html("New", WORDS[:200], []))


def page_removed(site, bundle, state_file):
    (site / "articles/page-07.html").unlink()


def many_changed(site, bundle, state_file):
    for i in range(30):
        edit(site, f"articles/page-{i:02d}.html", f"<h1>Page {i}</h1>",
             f"<h1>Page {i} again</h1>")


def no_state(site, bundle, state_file):
    state_file.unlink()


@pytest.mark.parametrize("change, reason", [
    (no_state, "no record of the last index"),
    (other_bundle, "the record describes another index"),
    (other_version, "a Pagefind 1.6.0 bundle"),
    (corrupt_words, "no saved words"),
    (page_added, "pages were added or removed"),
    (page_removed, "pages were added or removed"),
    (many_changed, "31 of 61 pages changed"),  # 30 here and page 50
])
def test_what_the_update_cannot_handle_falls_back_to_a_full_run(indexed_site, change,
                                                                reason):
    site, bundle, state_file = indexed_site
    edit(site, "articles/page-50.html", "<h1>Page 50</h1>", "<h1>Page fifty</h1>")
    change(site, bundle, state_file)
    with pytest.raises(delta.Fallback, match=re.escape(reason)):
        run_update(site, bundle, state_file)
    assert (bundle / "pagefind-entry.json").is_file()  # the last bundle is untouched


def test_other_pagefind_options_fall_back_to_a_full_run(indexed_site):
    site, bundle, state_file = indexed_site
    state = delta.load_state(state_file)
    with pytest.raises(delta.Fallback, match="other options"):
        delta.update(EXE, OPTIONS + ["--exclude-selectors", ".other"], site, bundle,
                     site / ".fresh", delta.snapshot(site, indexed(site), state), state,
                     state_file)


# -- In a Sphinx build ------------------------------------------------------------------------

def test_an_article_edit_re_indexes_that_page_only(build_root, tmp_path):
    src = lay_root(tmp_path / "incremental-index", None)
    good = (src / "articles/good.md").read_text()
    for name in ("second", "third", "fourth"):  # four pages: one is a quarter of them
        (src / f"articles/{name}.md").write_text(
            good.replace("A good article", f"The {name} article"))
    app = build_root(None, srcdir=src)
    out = Path(app.outdir)
    state_file = Path(app.doctreedir) / delta.STATE_FILE
    assert "search index: indexing every page (no record of the last index)" in (
        app._status.getvalue())
    assert state_file.is_file() and not list(out.rglob(delta.STATE_FILE))
    article = src / "articles/good.md"
    article.write_text(article.read_text().replace(
        "Some words about grief", "Some words about grief and a pangolin"))
    app = build_root(None, srcdir=src, freshenv=False)
    assert warnings_of(app) == []
    status = app._status.getvalue()
    assert "search index: 1 of 4 pages re-indexed" in status
    index = decode(out / "pagefind")
    assert list(index["words"]["pangolin"][0]) == ["/articles/good.html"]
    assert index == decode(full_run(out, Path(app.outdir).parent / "full"))
    assert not list(out.glob(".pagefind*"))


def test_chunk_names_are_cut_as_pagefind_cuts_them():
    """Neighbouring chunks are named by the shortest prefixes that tell them apart, but a
    chunk's last word is kept whole where its prefix would sort before the chunk's first
    (a chunk of one word). Seen at 2,000 generated articles: Pagefind 1.5.2 named such a
    chunk ['aliqui', 'aliquip'], not ['aliqui', 'ali']."""
    assert delta._chunk_meta([["affect", "aliqua"], ["aliquip"], ["all", "amet"]]) == [
        ["affect", "aliqua"], ["aliqui", "aliquip"], ["all", "amet"]]
    assert delta._chunk_meta([["apple"], ["apricot", "banana"], ["peach"]]) == [
        ["apple", "apple"], ["apr", "b"], ["p", "peach"]]


def test_one_word_chunks_are_reproduced_byte_for_byte(tmp_path):
    """Two words on so many pages that each fills a chunk alone; this module's chunks and
    their names must be Pagefind's, or record_state refuses to record."""
    site = tmp_path / "html"
    for i in range(60):
        write(site / f"p{i}.html", page_html(f"P{i}", ["aardvark"] * 400 +
                                             ["aliquip"] * 400 + ["zebra"], []))
    bundle = pagefind_run(site, site / "pagefind")
    chunks = delta._meta(cbor2, bundle)[1][2]
    assert ["al", "aliquip"] in [c[:2] for c in chunks]  # Pagefind's own name for it
    assert delta.record_state(tmp_path / delta.STATE_FILE, bundle, OPTIONS,
                              delta.snapshot(site, indexed(site))) is None


def test_recording_pauses_the_collector_and_restores_it(indexed_site):
    import gc

    site, bundle, state_file = indexed_site
    seen = []
    real = delta._words_from
    delta._words_from = lambda *args: (seen.append(gc.isenabled()), real(*args))[1]
    try:
        assert delta.record_state(state_file, bundle, OPTIONS,
                                  delta.snapshot(site, indexed(site))) is None
    finally:
        delta._words_from = real
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:  # a caller that had it off keeps it off
        delta.record_state(state_file, bundle, OPTIONS, delta.snapshot(site, indexed(site)))
        assert not gc.isenabled()
    finally:
        gc.enable()


# -- Real text: accents, hyphens, other scripts ----------------------------------------------

# Words as real articles and reference lists write them. Pagefind 1.5 indexes a word without
# its accents (``garcia``) and keeps each accented form's postings apart, beside the word's
# own ("additional variants"); a hyphenated word is indexed whole and in parts; letters
# with no decomposition (ø, ł, ß) and other scripts stay as they are.
REAL_TEXT = [
    "García", "Garcia", "Murray-García", "Flückiger", "café", "cafè", "cafe", "résumé",
    "resumé", "resume", "naïve", "naive", "Zoë", "Émile", "Ångström", "Dvořák", "Łódź",
    "Øresund", "Straße", "ψυχή", "ψυχολογία", "психология", "психотерапия", "心理学",
    "治疗", "العلاج", "self-esteem", "post-traumatic", "well-being", "20th-century",
    "co-operate", "Beyoncé",
]


@pytest.fixture
def real_text_site(tmp_path) -> Path:
    """50 pages of real prose with the words above mixed in (one word in eight), enough
    for several index chunks, so that a variant counted in a chunk's size or written in
    the wrong order would show in the bytes; ``Ærøskøbing`` and ``Bézier`` on one page
    only."""
    out = tmp_path / "html"
    rng = random.Random(3)
    for i in range(50):
        start = rng.randrange(len(WORDS) - 600)
        words = list(WORDS[start:start + 600])
        for k in range(0, len(words), 8):
            words[k] = rng.choice(REAL_TEXT)
        if i == 12:
            words += ["Ærøskøbing", "Bézier"]
        write(out / f"articles/page-{i:02d}.html",
              page_html(f"Page {i} {rng.choice(REAL_TEXT)}", words, rng.sample(TOPICS, 2)))
    return out


def test_pagefind_keeps_accented_forms_apart_and_this_module_writes_them_byte_for_byte(
        real_text_site, tmp_path):
    site = real_text_site
    bundle = pagefind_run(site, site / "pagefind")
    index = decode(bundle)
    assert len(index["chunk ranges"]) >= 3, "the test site must span several chunks"
    # what Pagefind 1.5.2 wrote (seen in its output, not assumed)
    garcia_plain, garcia_forms = index["words"]["garcia"]
    assert garcia_plain and set(garcia_forms) == {"garcía"}
    assert index["words"]["fluckig"][0] == {}  # only ever written with its accent
    assert set(index["words"]["fluckig"][1]) == {"flückiger"}
    assert {"café", "cafè"} <= set(index["words"]["cafe"][1])
    assert set(index["words"]["murraygarcia"][1]) == {"murraygarcía"}
    assert "øresund" in index["words"] and "straße" in index["words"]
    assert "ψυχη" in index["words"] and "психология" in index["words"]
    assert "心理学" in index["words"] and "العلاج" in index["words"]
    # in a full run the forms come in the order of the first page each is on
    for word, forms in variant_order(bundle).items():
        firsts = [first for first, _form in forms]
        assert firsts == sorted(firsts), word
    # re-encoded and re-cut by this module: Pagefind's chunks byte for byte (the variants
    # do not count towards a chunk's size), or nothing is recorded
    assert delta.record_state(tmp_path / delta.STATE_FILE, bundle, OPTIONS,
                              delta.snapshot(site, indexed(site))) is None


def test_edits_to_accented_words_equal_a_full_run(real_text_site, tmp_path):
    """An accented form added, a word's only form removed (the word leaves the index),
    a word written plain where it only had accents, a form moved to an earlier page (its
    place among the forms changes), non-Latin words added and removed: after each update
    the index is what a full run gives."""
    site = real_text_site
    bundle = full_run(site, site / "pagefind")
    state_file = tmp_path / "doctrees" / delta.STATE_FILE
    assert delta.record_state(state_file, bundle, OPTIONS,
                              delta.snapshot(site, indexed(site))) is None
    urls = delta.load_state(state_file)["urls"]
    # the page Pagefind numbered first (page 12 aside): a form added there becomes the
    # word's first form, before Bézier of page 12
    first = next(url for url in urls if url != "/articles/page-12.html").lstrip("/")
    assert variant_order(bundle)["bezier"] == [(urls.index("/articles/page-12.html"),
                                                "bézier")]
    steps = [
        ("articles/page-12.html", "Ærøskøbing", "Aeroskobing"),     # accents dropped
        ("articles/page-12.html", "Aeroskobing", "Ærøskøbing Ærøskøbing"),
        ("articles/page-12.html", "Ærøskøbing Ærøskøbing", "quiet"),  # word leaves
        (first, "<h1>", "<h1>Cafë Beyoncè Naïveté Bezièr "),          # new forms
        ("articles/page-30.html", "<h1>", "<h1>Ψυχοθεραπεία Düsseldorf-Köln "),
        ("articles/page-30.html", "Ψυχοθεραπεία Düsseldorf-Köln ", ""),
    ]
    assert "Ærøskøbing" in (site / "articles/page-12.html").read_text()
    for rel, old, new in steps:
        edit(site, rel, old, new)
        count, bundle = run_update(site, bundle, state_file)
        assert count == 1
        full = decode(full_run(site, tmp_path / "full"))
        assert decode(bundle) == full, (rel, new)
        for word, forms in variant_order(bundle).items():
            firsts = [first_page for first_page, _form in forms]
            assert firsts == sorted(firsts), (word, forms)
        if new == "quiet":
            assert "aeroskob" not in full["words"] and "ærøskøbing" not in str(full)
    after = decode(bundle)
    assert "cafë" in after["words"]["cafe"][1]
    assert list(after["words"]["cafe"][1]["cafë"]) == ["/" + first]
    assert variant_order(bundle)["bezier"] == [
        (urls.index("/" + first), "bezièr"),
        (urls.index("/articles/page-12.html"), "bézier")]  # each form counts from 0
    assert "ψυχοθεραπεια" not in after["words"]


def test_an_unknown_word_layout_is_refused_and_recorded_as_such(indexed_site, tmp_path):
    """The fallback stays for what this module does not know: a word entry with a fourth
    field (a later Pagefind) is not recorded, so the next index is a full run."""
    site, bundle, state_file = indexed_site
    _language, meta = delta._meta(cbor2, bundle)
    path = bundle / "index" / f"{meta[2][0][2]}.pf_index"
    payload = cbor2.loads(delta.read_file(path))
    payload[0][0].append([])
    delta._write_file(path, cbor2.dumps(payload))
    why = delta.record_state(state_file, bundle, OPTIONS, delta.snapshot(site, indexed(site)))
    assert why and "an unknown word layout in the index" in why
    assert not state_file.exists() and not state_file.with_name(delta.WORDS_FILE).exists()


# -- The site's chunk layout (issue 18: the bytes of a first search) -------------------------

def chunks_for(term: str, chunks: list) -> tuple[list[str], str]:
    """The chunks Pagefind 1.5.2's browser code loads for one term, and how: "strict"
    (the chunks whose ``[from, to]`` holds it), else "loose" (every chunk whose names,
    cut to the term's length, hold the term's start). pagefind_web/src/lib.rs,
    request_indexes(), which checks each word of a query and its stem in turn."""
    strict = [c[2] for c in chunks if c[0] <= term <= c[1]]
    if strict:
        return strict, "strict"
    loose = []
    for start, end, name in chunks:
        n, m = min(len(term), len(start)), min(len(term), len(end))
        if term[:n] >= start[:n] and term[:m] <= end[:m]:
            loose.append(name)
    return loose, "loose"


def chunk_words(bundle: Path) -> dict[str, list[str]]:
    """Each chunk file's words, by chunk name."""
    _language, meta = delta._meta(cbor2, bundle)
    return {c[2]: [entry[0] for entry in cbor2.loads(
        delta.read_file(bundle / "index" / f"{c[2]}.pf_index"))[0]] for c in meta[2]}


def test_the_site_layout_finds_every_term_in_one_chunk(indexed_site, tmp_path):
    """Pagefind's names leave gaps: a term between two chunks (a word longer than its
    chunk's shortened last name, or a word the site does not have) loads every chunk
    whose names agree with its first letters. The site's layout leaves none."""
    site, bundle, _state_file = indexed_site
    chunks = delta._meta(cbor2, bundle)[1][2]
    assert chunks[0][0] == "" and chunks[-1][1] == delta.OPEN_END
    assert all(left[1] == right[0] for left, right in zip(chunks, chunks[1:]))
    where = {word: name for name, words in chunk_words(bundle).items() for word in words}
    starts = {c[0] for c in chunks[1:]}  # where one chunk ends and the next begins
    for word, name in where.items():
        # the word, a longer word after it and a word before it: one chunk, found strictly
        for term in (word, word + "y", word[:-1]):
            found, how = chunks_for(term, chunks)
            assert how == "strict" and len(found) == (2 if term in starts else 1), term
        assert chunks_for(word, chunks)[0][-1 if word in starts else 0] == name, word
    # the same terms in Pagefind's own layout: some fall in a gap, looked up loosely
    # (at 2,000 articles "anxiety" did, and loaded the 93 KB chunk of the word "a" too)
    own = delta._meta(cbor2, pagefind_run(site, tmp_path / "own"))[1][2]
    assert [w for w in where if chunks_for(w + "y", own)[1] == "loose"]


def test_the_site_layout_holds_a_few_thousand_locations_a_chunk(indexed_site):
    _site, bundle, state_file = indexed_site
    words = saved_words(state_file)
    names = chunk_words(bundle)
    assert len(names) >= 6, "the test site spans several of the site's chunks"
    for chunk in names.values():
        # a chunk is closed by the word that takes it to SITE_CHUNK_SIZE locations
        before_last = sum(sum(words[w][1]) for w in chunk[:-1])
        assert before_last < delta.SITE_CHUNK_SIZE <= before_last + sum(words[chunk[-1]][1]) \
            or chunk is list(names.values())[-1]


def saved_words(state_file: Path) -> dict:
    return delta.load_words(state_file.with_name(delta.WORDS_FILE))["words"]


def test_site_chunk_names_leave_no_gap():
    """Each chunk starts at the shortest prefix of its first word that sorts after the
    chunk before, and ends where the next starts; the first starts at "", the last ends
    after any word."""
    end = delta.OPEN_END
    assert delta._site_chunk_meta([["affect", "aliqua"], ["aliquip"], ["all", "amet"]]) == [
        ["", "aliqui"], ["aliqui", "all"], ["all", end]]
    assert delta._site_chunk_meta([["apple"], ["apricot", "banana"], ["peach"]]) == [
        ["", "apr"], ["apr", "p"], ["p", end]]
    # a word that the next chunk's first word begins with
    assert delta._site_chunk_meta([["an"], ["and"]]) == [["", "and"], ["and", end]]
    assert delta._site_chunk_meta([["only"]]) == [["", end]]
    assert delta._site_chunk_meta([]) == []


def test_relayout_twice_changes_nothing_and_keeps_pages_and_filters(static_site, tmp_path):
    site = static_site
    own = decode(pagefind_run(site, tmp_path / "own"))
    bundle = full_run(site, site / "pagefind")
    once = decode(bundle)
    files = sorted(p.name for p in (bundle / "index").iterdir())
    delta.relayout(bundle)
    assert decode(bundle) == once
    assert sorted(p.name for p in (bundle / "index").iterdir()) == files
    assert len(list(bundle.glob("*.pf_meta"))) == 1 and not list(bundle.glob(".index*"))
    # only the chunks and their names differ from Pagefind's own bundle
    for key in own:
        if key != "chunk ranges":
            assert once[key] == own[key], key
    assert once["chunk ranges"] != own["chunk ranges"]


def test_an_index_the_layout_cannot_read_is_published_as_pagefind_wrote_it(
        static_site, tmp_path, monkeypatch):
    """The layout is an optimisation: when it cannot be applied the full run's bundle is
    published as it is, and no state is kept (an update would write the other layout)."""
    from kb.pagefind_delta import index_site

    site = static_site
    state_file = tmp_path / "doctrees" / delta.STATE_FILE

    def refuse(bundle):
        raise delta.Fallback("an unknown word layout in the index (a later Pagefind)")

    monkeypatch.setattr(delta, "relayout", refuse)
    report = {}
    assert index_site(EXE, site, "en", {"kb-search.json": "{}"}, indexed(site), state_file,
                      report) is None
    assert report["mode"] == "full" and "unknown word layout" in report["layout"]
    assert "unknown word layout" in report["not_recorded"]
    assert decode(site / "pagefind") == decode(pagefind_run(site, tmp_path / "own"))
    assert not state_file.exists() and not state_file.with_name(delta.WORDS_FILE).exists()
    assert not list(site.glob(".pagefind*"))


# -- A full index in batches (issue 18: Pagefind's memory grows with the pages it holds) --

def batched_run(site: Path, dest: Path, batch: int,
                jobs: int = 1) -> tuple[Path, dict, dict]:
    shutil.rmtree(dest, ignore_errors=True)
    words, variants = delta.index_in_batches(EXE, OPTIONS, site, indexed(site), dest,
                                             batch=batch, jobs=jobs)
    return dest, words, variants


@pytest.mark.parametrize("batch, jobs", [(7, 1), (30, 1), (1000, 1), (7, 2), (13, 3)])
def test_a_full_index_in_batches_equals_one_full_run(static_site, tmp_path, batch, jobs):
    """Word by word, page by page, filter by filter and chunk by chunk, for the 61 pages
    in batches of 7 (the last of 5), of 30 (the last of one page), and in one batch; one
    run at a time, two, and three."""
    site = static_site
    bundle, words, _variants = batched_run(site, tmp_path / "batched", batch, jobs)
    index = decode(bundle)
    assert index == decode(full_run(site, tmp_path / "full"))
    assert index["page count"] == len(indexed(site)) == 61
    assert len(index["chunk ranges"]) >= 3
    # the site's files are there, and no Pagefind leftovers, scratch folders or gaps
    def files(folder: Path) -> set[str]:  # pf_meta is named by its hash: one of it
        return {"*.pf_meta" if p.suffix == ".pf_meta" else p.name for p in folder.iterdir()}
    assert files(bundle) == files(tmp_path / "full")
    assert len(list(bundle.glob("*.pf_meta"))) == 1
    assert not list(tmp_path.glob("batched.*"))
    assert set(words) == set(index["words"])
    # what the record of a full run keeps: an update after a batched index works
    state_file = tmp_path / "doctrees" / delta.STATE_FILE
    assert delta.record_state(state_file, bundle, OPTIONS,
                              delta.snapshot(site, indexed(site)), words=words,
                              variants=_variants) is None
    edit(site, "articles/page-05.html", "<h1>Page 5</h1>",
         "<h1>Page 5</h1><p>A zebrafinch sang.</p>")
    count, updated = run_update(site, bundle, state_file)
    assert count == 1
    assert decode(updated) == decode(full_run(site, tmp_path / "full"))


def test_accented_words_indexed_in_batches_equal_one_full_run(real_text_site, tmp_path):
    """Accented forms met first in a later batch, a word's forms spread over batches,
    non-Latin and hyphenated words: the same index, and the forms in the order of the
    first page each is on."""
    site = real_text_site
    bundle, _words, _variants = batched_run(site, tmp_path / "batched", 6)
    index = decode(bundle)
    assert index == decode(full_run(site, tmp_path / "full"))
    assert set(index["words"]["bezier"][1]) == {"bézier"}
    for word, forms in variant_order(bundle).items():
        firsts = [first for first, _form in forms]
        assert firsts == sorted(firsts), word
    # forms held in several batches were merged, not kept once per batch
    cafe = index["words"]["cafe"][1]
    assert len(cafe["café"]) > 6


def test_a_full_index_is_split_on_a_large_site_and_held_pages_stay_bounded(monkeypatch):
    monkeypatch.setattr(delta.os, "cpu_count", lambda: 2)
    assert delta.full_batches(61) == (61, 1)                     # a small site: one run
    assert delta.full_batches(delta.SPLIT_PAGES - 1) == (delta.SPLIT_PAGES - 1, 1)
    for count in (delta.SPLIT_PAGES, 506, 1000, 2030, 9999):
        batch, jobs = delta.full_batches(count)
        runs = -(-count // batch)
        assert jobs == 2 and runs >= 2 and runs % 2 == 0
        assert batch <= delta.FULL_BATCH_PAGES and batch * jobs <= delta.BATCH_PAGES
        assert (runs - 1) * batch < count  # no empty batch
    assert delta.full_batches(506) == (127, 2)                   # four runs of 127 or less
    # one CPU: one run, or Pagefind's memory bound on a larger site
    monkeypatch.setattr(delta.os, "cpu_count", lambda: 1)
    assert delta.full_batches(506) == (506, 1)
    assert delta.full_batches(2030) == (delta.BATCH_PAGES, 1)


def pagefind_wrapper(tmp_path: Path, body: str) -> Path:
    """A stand-in for Pagefind that logs each run's output folder, then does *body*
    (shell) and runs the real Pagefind in its own process (exec: killing it kills it)."""
    log = tmp_path / "runs.log"
    wrapper = tmp_path / "pagefind"
    wrapper.write_text(
        "#!/bin/sh\n"
        'for arg; do case "$prev" in --output-path) out=$arg;; esac; prev=$arg; done\n'
        f'echo "$(date +%s.%N) ${{out##*.}}" >> {log}\n'
        f"{body}\n"
        f'exec {EXE} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_batches_run_two_at_a_time_and_each_is_merged_in_order(static_site, tmp_path):
    """While the first batch runs (held back a second here), the second starts; the
    third starts only when the first is done. The index is the one a full run makes."""
    site = static_site
    wrapper = pagefind_wrapper(tmp_path, 'case "$out" in *.batch0) sleep 1;; esac')
    bundle = tmp_path / "batched"
    delta.index_in_batches(wrapper, OPTIONS, site, indexed(site), bundle, batch=21,
                           jobs=2)
    runs = [line.split() for line in (tmp_path / "runs.log").read_text().splitlines()]
    started = {name: float(when) for when, name in runs}
    assert sorted(started) == ["batch0", "batch1", "batch2"]
    assert started["batch1"] - started["batch0"] < 0.8    # while batch 0 sleeps
    assert started["batch2"] - started["batch0"] > 1.0    # after batch 0 is done
    assert decode(bundle) == decode(full_run(site, tmp_path / "full"))
    assert not list(tmp_path.glob("batched.*"))


def test_a_batch_that_fails_stops_the_others_and_leaves_nothing(static_site, tmp_path):
    """The second of four batches fails: the index falls back with Pagefind's message;
    the batch running beside it is stopped, none after it starts, and no scratch folder
    or Pagefind process is left."""
    site = static_site
    pid_file = tmp_path / "batch2.pid"
    wrapper = pagefind_wrapper(
        tmp_path, 'case "$out" in *.batch1) sleep 0.3; echo "Error: no room" >&2; exit 3;; '
                  f'*.batch2) echo $$ > {pid_file}; exec sleep 30;; esac')
    with pytest.raises(delta.Fallback, match=r"Pagefind exit 3 on pages 17 to 32: "
                                             r"Error: no room"):
        delta.index_in_batches(wrapper, OPTIONS, site, indexed(site),
                               tmp_path / "batched", batch=16, jobs=2)
    runs = (tmp_path / "runs.log").read_text().split()
    assert sorted(runs[1::2]) == ["batch0", "batch1", "batch2"]  # batch3 never started
    assert not list(tmp_path.glob("batched.*"))  # the caller removes the partial bundle
    with pytest.raises(ProcessLookupError):  # batch 2's run was stopped
        os.kill(int(pid_file.read_text()), 0)


def test_batches_that_cannot_be_merged_fall_back(static_site, tmp_path):
    site = static_site
    write(site / "articles/odd{name}.html", page_html("Odd", WORDS[:50], []))
    with pytest.raises(delta.Fallback, match="glob characters"):
        batched_run(site, tmp_path / "batched", 10)
    (site / "articles/odd{name}.html").unlink()
    # a page that Pagefind does not index (no data-pagefind-body) listed as if it were
    pages = [*indexed(site), "index.html"]
    with pytest.raises(delta.Fallback, match="of a batch's"):
        delta.index_in_batches(EXE, OPTIONS, site, pages, tmp_path / "b2", batch=10)


def chunk_word_lists(bundle: Path) -> list[tuple[str, ...]]:
    _language, meta = delta._meta(cbor2, bundle)
    return [tuple(entry[0] for entry in cbor2.loads(
        delta.read_file(bundle / "index" / f"{chunk[2]}.pf_index"))[0]) for chunk in meta[2]]


def test_an_update_encodes_only_the_chunks_that_hold_a_changed_word(static_site, tmp_path,
                                                                     monkeypatch):
    """Issue 18: an edit used to encode every chunk of the index again and compare the
    bytes. A chunk with the same words as before, none of them on the edited page, is
    linked from the last index without being encoded; exactly the others are encoded.
    (Small chunks here, so that some hold no word of the page.)"""
    monkeypatch.setattr(delta, "SITE_CHUNK_SIZE", 400)
    site = static_site
    bundle = full_run(site, site / "pagefind")
    state_file = tmp_path / "doctrees" / delta.STATE_FILE
    assert delta.record_state(state_file, bundle, OPTIONS,
                              delta.snapshot(site, indexed(site))) is None
    before = decode(bundle)
    before_chunks = set(chunk_word_lists(bundle))
    inodes = {p.name: p.stat().st_ino for p in (bundle / "index").iterdir()}
    edit(site, "articles/page-07.html", "<h1>Page 7</h1>",
         "<h1>Page 7</h1><p>A zebrafinch sang.</p>")
    encoded = []
    real = delta._chunk_payload
    monkeypatch.setattr(delta, "_chunk_payload",
                        lambda words, variants, chunk: encoded.append(tuple(chunk))
                        or real(words, variants, chunk))
    count, bundle = run_update(site, bundle, state_file)
    by_update = list(encoded)  # (the full run below encodes every chunk)
    assert count == 1
    after = decode(bundle)
    assert after == decode(full_run(site, tmp_path / "full"))
    url = "/articles/page-07.html"
    on_page = {word for index in (before, after) for word, (postings, forms)
               in index["words"].items()
               if url in postings or any(url in p for p in forms.values())}
    chunks = chunk_word_lists(bundle)
    expected = [c for c in chunks if c not in before_chunks or on_page & set(c)]
    assert sorted(by_update) == sorted(expected)
    assert 0 < len(expected) < len(chunks), "some chunks must hold no word of the page"
    # the others are the last index's files, linked
    linked = [p.name for p in (bundle / "index").iterdir()
              if inodes.get(p.name) == p.stat().st_ino]
    assert len(linked) >= len(chunks) - len(expected)


def test_words_saved_by_another_python_are_not_used(indexed_site):
    """The saved words are in marshal, whose format belongs to the Python that wrote
    them: a file from another Python (tagged so) or cut short is refused, and the next
    index is a full run."""
    site, bundle, state_file = indexed_site
    words_file = state_file.with_name(delta.WORDS_FILE)
    cache = delta.load_words(words_file)
    assert cache["python"] == delta.MARSHAL_TAG and cache["words"]
    import marshal
    words_file.write_bytes(marshal.dumps({**cache, "python": "cpython-27 marshal 2"}))
    with pytest.raises(ValueError, match="another Python"):
        delta.load_words(words_file)
    edit(site, "articles/page-03.html", "<h1>Page 3</h1>", "<h1>Page 3</h1><p>Owl.</p>")
    with pytest.raises(delta.Fallback, match="no saved words .*another Python"):
        run_update(site, bundle, state_file)
    words_file.write_bytes(marshal.dumps(cache)[:1000])
    with pytest.raises(delta.Fallback, match="no saved words"):
        run_update(site, bundle, state_file)


def _merge_as_before(words: dict, variants: dict, entries, remap, renumbered) -> set[str]:
    """_merge_words as it was before FEW_PAGES (every posting of every word looked at,
    merged by a stable sort; the accented forms as the module merges them, unchanged):
    the reference the quicker version must equal."""
    touched = set()
    for word, (numbers, counts, rests) in list(words.items()):
        if renumbered.isdisjoint(numbers):
            continue
        touched.add(word)
        keep = [i for i, n in enumerate(numbers) if n not in renumbered]
        words[word] = ([numbers[i] for i in keep], [counts[i] for i in keep],
                       [rests[i] for i in keep])
    delta._drop_forms(variants, renumbered, touched)
    for word, postings, new_forms in entries:
        touched.add(word)
        numbers, counts, rests = delta._postings(cbor2, postings)
        old = words.get(word, ([], [], []))
        merged = sorted([*zip(*old), *zip([remap[n] for n in numbers], counts, rests)],
                        key=lambda posting: posting[0])
        words[word] = ([m[0] for m in merged], [m[1] for m in merged],
                       [m[2] for m in merged])
        if new_forms:
            delta._add_forms(cbor2, variants, word, new_forms, remap)
    for word in [w for w, (numbers, _c, _r) in words.items()
                 if not numbers and w not in variants]:
        del words[word]
    return touched


def _random_index(rng: random.Random, pages: int) -> tuple[dict, dict]:
    """Words with postings on random pages (each posting encoded as the module keeps
    it), a few with accented forms."""
    words, variants = {}, {}
    for n in range(rng.randrange(1, 40)):
        numbers = sorted(rng.sample(range(pages), rng.randrange(0 if n % 7 == 0 else 1,
                                                                 pages + 1)))
        locations = [[rng.randrange(500) for _ in range(rng.randrange(1, 4))]
                     for _ in numbers]
        words[f"w{n}"] = ([*numbers], [len(x) + 1 for x in locations],
                          [cbor2.dumps(x) + b"\x80" for x in locations])
        if n % 5 == 0 and numbers:
            variants[f"w{n}"] = [(f"w{n}é", numbers[:1], [cbor2.dumps([1]) + b"\x80"])]
        elif not numbers:
            del words[f"w{n}"]
    return words, variants


@pytest.mark.parametrize("seed", range(60))
def test_merging_few_or_many_pages_equals_looking_at_every_posting(seed, monkeypatch):
    """_merge_words (bisection for up to FEW_PAGES re-indexed pages, a sort above) gives
    the words, forms and touched words of the way it was written before, on random
    indexes, with one to sixty pages re-indexed."""
    import copy

    rng = random.Random(seed)
    pages = rng.randrange(2, 80)
    words, variants = _random_index(rng, pages)
    changed = rng.sample(range(pages), min(pages, rng.choice(
        [1, 2, 3, delta.FEW_PAGES, delta.FEW_PAGES + 1, 60])))
    # the scratch run numbers the changed pages in its own (shuffled) order
    order = changed[:]
    rng.shuffle(order)
    remap = dict(enumerate(order))
    entries = []
    for n in range(rng.randrange(0, 45)):
        on = sorted(rng.sample(range(len(order)), rng.randrange(1, len(order) + 1)))
        postings, step_from = [], 0
        for j in on:
            postings.append([j - step_from, [rng.randrange(500)], []])
            step_from = j
        forms = ([[f"w{n}é", [[on[0], [2], []]]]] if n % 3 == 0 else [])
        entries.append((f"w{n}", postings, forms))
    monkeypatch.setattr(delta, "_read_words", lambda *_args: iter(entries))
    want_words, want_variants = copy.deepcopy(words), copy.deepcopy(variants)
    want = _merge_as_before(want_words, want_variants, entries, remap, set(changed))
    got = delta._merge_words(cbor2, words, variants, None, None, remap, set(changed))
    assert (got, words, variants) == (want, want_words, want_variants)


def test_what_is_read_ahead_is_used_once_and_only_while_the_file_is_unchanged(
        indexed_site, monkeypatch):
    site, bundle, state_file = indexed_site
    words_file = state_file.with_name(delta.WORDS_FILE)
    reads = []
    real = delta._load_words
    monkeypatch.setattr(delta, "_load_words", lambda path: reads.append(path) or real(path))
    delta.read_ahead(words_file, delta._load_words)
    assert len(reads) == 1
    kept = delta.load_words(words_file)  # what was read ahead, not read again
    assert len(reads) == 1 and kept == real(words_file)
    delta.load_words(words_file)  # once only: read again
    assert len(reads) == 2
    delta.read_ahead(words_file, delta._load_words)
    time.sleep(0.01)
    words_file.write_bytes(words_file.read_bytes())  # rewritten since: read again
    assert delta.load_words(words_file) == kept and len(reads) == 4
    # a file that cannot be read ahead is read (and reported) by the job itself
    delta.read_ahead(words_file.with_name("missing"), delta._load_words)
    with pytest.raises(FileNotFoundError):
        delta.load_words(words_file.with_name("missing"))


def test_the_search_step_started_beside_sphinx_runs_its_job_only_when_told(
        indexed_site, monkeypatch, tmp_path):
    """``--serve``: the record is read ahead at once, the words on ``words``; ``go`` runs
    the job, with what was read ahead; end of input without ``go`` does nothing."""
    site, _bundle, state_file = indexed_site
    job = state_file.with_name("kb-search-job.json")
    ran = []
    monkeypatch.setattr(delta, "run_job", lambda job_file, ready=None: ran.append(
        sorted(Path(p).name for p in delta._READ_AHEAD)) or 0)
    monkeypatch.setattr(delta, "_READ_AHEAD", {})
    assert delta.serve(str(job), iter([])) == 0 and ran == []
    assert sorted(Path(p).name for p in delta._READ_AHEAD) == [delta.STATE_FILE]
    delta._READ_AHEAD.clear()
    assert delta.serve(str(job), iter(["words\n", "go\n", "never read\n"])) == 0
    assert ran == [[delta.STATE_FILE, delta.WORDS_FILE]]
    # with the output folder: the size and time of the last index's files too
    delta._READ_AHEAD.clear()
    assert delta.serve(str(job), iter(["go\n"]), outdir=str(site)) == 0
    assert ran[-1] == sorted([delta.BUNDLE, delta.STATE_FILE])
    assert delta._READ_AHEAD[str(site / delta.BUNDLE)][1] == delta._fingerprint(
        site / delta.BUNDLE)
    # and the job's update uses them: an edit re-indexed from what was read ahead
    edit(site, "articles/page-03.html", "<h1>Page 3</h1>", "<h1>Page 3</h1><p>Wren.</p>")
    real_words, real_state = delta._load_words, delta._load_state
    real_fingerprint = delta._fingerprint
    delta._READ_AHEAD.clear()
    delta.read_ahead(state_file, real_state)
    delta.read_ahead(state_file.with_name(delta.WORDS_FILE), real_words)
    delta.read_ahead(site / delta.BUNDLE, real_fingerprint)
    monkeypatch.setattr(delta, "_load_words", lambda path: pytest.fail("read again"))
    monkeypatch.setattr(delta, "_load_state", lambda path: pytest.fail("read again"))
    fingerprinted = []
    monkeypatch.setattr(delta, "_fingerprint",
                        lambda path: fingerprinted.append(path) or real_fingerprint(path))
    count, bundle = run_update(site, site / "pagefind", state_file)
    assert count == 1 and not delta._READ_AHEAD
    assert site / delta.BUNDLE not in fingerprinted  # only the new index's, to record it
    assert decode(bundle) == decode(full_run(site, tmp_path / "full"))



@pytest.mark.parametrize("edit_first", [True, False], ids=["update", "full run"])
def test_the_index_is_said_ready_once_in_place_and_its_record_saved_after(
        indexed_site, tmp_path, edit_first):
    """index_site(ready=...): called once the new bundle has taken the old one's place,
    before the state of the new index is saved (make html publishes meanwhile); the
    state saved after it describes the new index (the next update uses it)."""
    site, _bundle, state_file = indexed_site
    if edit_first:
        edit(site, "articles/page-03.html", "<h1>Page 3</h1>",
             "<h1>Page 3</h1><p>A heron waded.</p>")
    else:
        delta.forget(state_file)
    seen = []

    def ready():
        bundle = site / delta.BUNDLE
        seen.append((decode(bundle), delta.load_state(state_file)))

    error = delta.index_site(EXE, site, "en", {}, indexed(site), state_file, ready=ready)
    assert error is None and len(seen) == 1
    in_place, state_then = seen[0]
    assert in_place == decode(site / delta.BUNDLE) == decode(full_run(site, tmp_path / "f"))
    state_now = delta.load_state(state_file)
    assert state_now is not None and state_now != state_then  # saved after ready
    edit(site, "articles/page-05.html", "<h1>Page 5</h1>", "<h1>Page 5</h1><p>Ibis.</p>")
    report = {}
    assert delta.index_site(EXE, site, "en", {}, indexed(site), state_file, report) is None
    assert report["mode"] == "incremental"


# -- Pages cut down to what Pagefind reads (issue 18: Pagefind's share of a clean build) --

def same_bytes(one: Path, other: Path, folder: str) -> None:
    """The bundles' files in *folder* (fragments, index chunks: named by their content's
    hash) are the same files, byte for byte, and there are some."""
    mine = {p.name: p.read_bytes() for p in (one / folder).iterdir()}
    assert mine and mine == {p.name: p.read_bytes() for p in (other / folder).iterdir()}


def slimmed_the_same(site: Path, tmp_path: Path, pages: list[str]) -> int:
    """Pagefind over *pages* cut down by slim_pages indexes what it indexes over the
    pages themselves: the same fragments and index chunks byte for byte, the same words,
    filters and page count. Returns how many pages were cut."""
    slim = tmp_path / "slim-site"
    shutil.rmtree(slim, ignore_errors=True)
    cut = delta.slim_pages(site, pages, slim)
    whole = pagefind_run(site, tmp_path / "whole-bundle", pages)
    thin = pagefind_run(slim, tmp_path / "slim-bundle", pages)
    for folder in ("fragment", "index"):
        same_bytes(whole, thin, folder)
    assert decode(whole) == decode(thin)
    assert decode(thin)["page count"] == len(pages)
    return cut


def test_the_real_sites_pages_cut_down_index_the_same(site, tmp_path):
    """Every indexed page of the real site (articles, the crisis page, the about pages)
    is cut down, to less than two thirds of its size, and indexes the same."""
    out = Path(site.outdir)
    pages = indexed(out)
    assert len(pages) >= 20 and "crisis.html" in pages
    for rel in pages:
        page = (out / rel).read_bytes()
        slim = delta.slim_page(page)
        assert slim is not None and len(slim) < len(page) * 2 / 3, rel
        assert b'data-pagefind-body' in slim and b"<h1" in slim
    assert slimmed_the_same(out, tmp_path, pages) == len(pages)


def test_test_sites_pages_cut_down_index_the_same(static_site, real_text_site, tmp_path):
    """Accented, hyphenated and non-Latin words, filters and a weighted body too."""
    for number, site in enumerate((static_site, real_text_site)):
        pages = indexed(site)
        assert slimmed_the_same(site, tmp_path / str(number), pages) == len(pages)


BODY = ('<div data-pagefind-body><span data-pagefind-filter="topic:Grief"></span>'
        '<h1>Title</h1><div class="a"><p>Inner words</p><div>nested heron</div></div>'
        '<p>After the nested ones</p></div>')


def page_of(before: str = "<nav>Menu</nav>", body: str = BODY,
            after: str = "<footer>Footer words</footer>", head: str = "") -> bytes:
    return (f'<!doctype html><html lang="en"><head><title>T</title>{head}</head><body>'
            f"{before}{body}{after}</body></html>").encode()


# pages that must not be cut: what Pagefind reads would be lost, or where the body
# element ends cannot be told by counting its tags
REFUSED = {
    "no body element": page_of(body="<div><h1>T</h1><p>x</p></div>"),
    "two body elements": page_of(after=BODY),
    "body element not closed": page_of(body=BODY[:-len("</div>")], after=""),
    "a filter outside": page_of(after='<span data-pagefind-filter="topic:X"></span>'),
    "metadata outside": page_of(before='<p data-pagefind-meta="author">A</p>'),
    "default metadata in the head": page_of(head='<meta data-pagefind-default-meta="image['
                                                 'content]" content="/a.png">'),
    "a sort key outside": page_of(after='<p data-pagefind-sort="date">2020</p>'),
    "a heading before the body": page_of(before="<h1>Site name</h1>"),
    "an image outside": page_of(before='<img src="logo.png" alt="">'),
    "no heading in the body": page_of(body="<div data-pagefind-body><p>x</p></div>"),
    "a comment in the body": page_of(body=BODY.replace("<p>Inner", "<!-- </div> --><p>Inn")),
    "a script in the body": page_of(body=BODY.replace("<p>Inner", "<script>x</script><p>")),
    "a style in the body": page_of(body=BODY.replace("<p>Inner", "<style>p{}</style><p>")),
    "a textarea in the body": page_of(body=BODY.replace("<p>Inner", "<textarea></div>"
                                                                     "</textarea><p>")),
    "no title": page_of().replace(b"<title>T</title>", b""),
    "no html tag": page_of().replace(b'<html lang="en">', b""),
    "the attribute as text": page_of(body="<div><h1>T</h1><p>data-pagefind-body</p></div>"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_page_pagefind_might_read_otherwise_is_linked_whole(name, tmp_path):
    page = REFUSED[name]
    assert delta.slim_page(page) is None
    (tmp_path / "site").mkdir()
    (tmp_path / "site/page.html").write_bytes(page)
    assert delta.slim_pages(tmp_path / "site", ["page.html"], tmp_path / "slim") == 0
    assert (tmp_path / "slim/page.html").read_bytes() == page


def test_a_cut_page_keeps_the_whole_body_element_and_what_is_ignored_outside_goes():
    """Nested elements of the body's own kind are counted: the body ends at its own end
    tag; data-pagefind-ignore outside the body only takes away, and goes with the rest."""
    page = page_of(after='<aside data-pagefind-ignore="all"><p>Handout</p></aside>'
                         "<div>after the body</div>")
    slim = delta.slim_page(page)
    assert slim == (b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                    b"<title>T</title></head><body>" + BODY.encode() +
                    b"</body></html>\n")


def random_page(rng: random.Random, number: int) -> str:
    """A page of random structure: the body element (div, main, article or section) with
    nested elements of its own kind and others, text of real words, filters, weights and
    ignored parts inside, and sometimes outside it what Pagefind would read (a filter, a
    heading, an image), a comment, or a second body."""
    kind = rng.choice(["div", "main", "article", "section"])

    def words() -> str:
        start = rng.randrange(len(WORDS) - 40)
        return " ".join(WORDS[start:start + rng.randint(1, 40)])

    def block(depth: int) -> str:
        parts = []
        for _ in range(rng.randint(1, 4)):
            roll = rng.random()
            if roll < 0.3 and depth < 4:
                tag = rng.choice([kind, kind, "div", "p", "ul", "blockquote"])
                attrs = rng.choice(["", ' class="x"', ' data-pagefind-ignore',
                                    ' data-pagefind-weight="2"', f' id="s{depth}"'])
                parts.append(f"<{tag}{attrs}>{block(depth + 1)}</{tag}>")
            elif roll < 0.4:
                parts.append(f'<span data-pagefind-filter="topic:{rng.choice(TOPICS)}">'
                             f"</span>")
            elif roll < 0.5:
                parts.append(f"<h2 id='h{rng.randrange(99)}'>{words()}</h2>")
            else:
                parts.append(f"<p>{words()}</p>")
        return "".join(parts)

    body = (f'<{kind} data-pagefind-body class="c">{rng.choice(["", "<span></span>"])}'
            f"<h1>Page {number} {words()}</h1>{block(0)}</{kind}>")
    outside = ["<nav><p>Menu words</p></nav>", f"<{kind}><p>{words()}</p></{kind}>",
               "<footer>Footer</footer>", '<aside data-pagefind-ignore="all">x</aside>']
    roll = rng.random()
    if roll < 0.08:
        outside.append('<span data-pagefind-filter="topic:Outside"></span>')
    elif roll < 0.14:
        outside.append("<h1>A heading outside</h1>")
    elif roll < 0.2:
        outside.append('<img src="/x.png" alt="">')
    elif roll < 0.24:
        body = body.replace("<h1>", "<!-- a comment --><h1>", 1)
    elif roll < 0.28:
        outside.append(body.replace("<h1>", "<h1>Again ", 1))
    rng.shuffle(outside)
    cut = rng.randrange(len(outside) + 1)
    return (f'<!doctype html><html lang="en"><head><title>Page {number}</title></head>'
            f"<body>{''.join(outside[:cut])}{body}{''.join(outside[cut:])}</body></html>")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_pages_are_cut_only_where_they_index_the_same(seed, tmp_path):
    """80 pages of random structure: each is cut or linked whole, and Pagefind over the
    result indexes what it indexes over the pages themselves; most pages are cut, and
    every page with something Pagefind reads outside its body is not."""
    rng = random.Random(seed)
    site = tmp_path / "site"
    pages = []
    for number in range(80):
        rel = f"p/{number:02d}.html"
        write(site / rel, random_page(rng, number))
        pages.append(rel)
    indexed_pages = [rel for rel in pages
                     if (site / rel).read_text().count("data-pagefind-body") == 1]
    cut = slimmed_the_same(site, tmp_path, indexed_pages)
    assert len(indexed_pages) * 0.6 < cut < len(indexed_pages)
    for rel in indexed_pages:
        text = (site / rel).read_text()
        outside_reads = ("topic:Outside" in text or "A heading outside" in text
                         or "/x.png" in text or "<!--" in text)
        if outside_reads:
            assert delta.slim_page(text.encode()) is None, rel


def test_batches_side_by_side_run_pagefind_on_one_thread_each(static_site, tmp_path):
    """Two runs at a time: each run on one thread (RAYON_NUM_THREADS=1); one at a time:
    Pagefind's own threads, the environment as it is. Either way the slim pages' scratch
    folder is gone afterwards."""
    wrapper = pagefind_wrapper(tmp_path, f'echo "threads=${{RAYON_NUM_THREADS-unset}}" >> '
                                         f'{tmp_path}/threads.log')
    for jobs in (2, 1):
        (tmp_path / "threads.log").unlink(missing_ok=True)
        bundle = tmp_path / f"batched{jobs}"
        delta.index_in_batches(wrapper, OPTIONS, static_site, indexed(static_site), bundle,
                               batch=21, jobs=jobs)
        seen = set((tmp_path / "threads.log").read_text().split())
        assert seen == ({"threads=1"} if jobs == 2 else {"threads=unset"})
        assert not list(tmp_path.glob(f"batched{jobs}.*"))
