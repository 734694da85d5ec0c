"""APA 7 citations through Sphinx: in-text forms, links, reference lists, the
bibliography page, unknown keys, and parallel/incremental builds."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import docutils.nodes as nodes

from helpers import html, lay_root, warnings_of


def citation_texts(page):
    """Each citation's visible text (the tooltip removed), in page order."""
    texts = []
    for span in page.select("article span.kb-cite"):
        for tip in span.select(".kb-cite-tip"):
            tip.extract()
        texts.append(" ".join(span.get_text().split()))
    return texts


def test_in_text_forms_follow_apa_7(build_root):
    app = build_root("citations_forms")
    assert warnings_of(app) == []
    page = html(app, "articles/forms.html")
    assert citation_texts(page) == [
        "(Rogers, 1957)",
        "(Norcross & Lambert, 2018)",
        "(Flückiger et al., 2018)",
        "(Substance Abuse and Mental Health Services Administration, 2014a)",
        "(Substance Abuse and Mental Health Services Administration, 2014b)",
        "(see Rogers, 1957, p. 96)",
        # several works: in the reference list's order (APA 8.12), whatever the order
        # in the source (rogers1957necessary,norcross2018psychotherapy)
        "(Norcross & Lambert, 2018; Rogers, 1957)",
        "Rogers (1957)",
        "Norcross and Lambert (2018)",
        "Flückiger et al. (2018)",
        "Substance Abuse and Mental Health Services Administration (2014a)",
        # works by the same authors: one name, the years in order (APA 8.12, 8.19)
        "(Substance Abuse and Mental Health Services Administration, 2014a, 2014b)",
        # ... except a work with a page, which keeps its own name
        "(Substance Abuse and Mental Health Services Administration, 2014a, p. 3; "
        "Substance Abuse and Mental Health Services Administration, 2014b)",
        "(Flückiger et al., 2018; Rogers, 1957; "
        "Substance Abuse and Mental Health Services Administration, 2014a, 2014b)",
        # a text before a work belongs to the works after it: the writer's order stays
        "(see Rogers, 1957; Norcross & Lambert, 2018)",
        # narrative citations stay in the writer's order, as prose
        "Rogers (1957) and Norcross and Lambert (2018)",
        # ... with works by the same authors as one name, at the first one's place, and
        # their years in order (APA 8.12: "Gutiérrez (2012, 2017)")
        "Rogers (1957), Substance Abuse and Mental Health Services Administration "
        "(2014a, 2014b), and Norcross and Lambert (2018)",
    ]


def test_each_citation_links_to_its_entry_and_shows_the_full_reference(build_root):
    app = build_root("citations_forms")
    page = html(app, "articles/forms.html")
    first = page.select("article span.kb-cite")[0]
    assert [a["href"] for a in first.select("a.reference.internal")] == [
        "#ref-rogers1957necessary"]
    tip = first.select_one(".kb-cite-tip")
    assert tip["role"] == "tooltip"
    assert " ".join(tip.get_text().split()).startswith(
        "Rogers, C. R. (1957). The necessary and sufficient conditions")
    several = page.select("article span.kb-cite")[6]
    assert [a["href"] for a in several.select("a.reference.internal")] == [
        "#ref-norcross2018psychotherapy", "#ref-rogers1957necessary"]
    # works by the same authors: the name and first year link to the first work, each
    # further year to its own; the tooltip lists the works in the citation's order
    mixed = page.select("article span.kb-cite")[13]
    links = [(a["href"], a.get_text()) for a in mixed.select("a.reference.internal")]
    assert links == [
        ("#ref-fluckiger2018alliance", "Flückiger et al., 2018"),
        ("#ref-rogers1957necessary", "Rogers, 1957"),
        ("#ref-samhsa2014concept",
         "Substance Abuse and Mental Health Services Administration, 2014a"),
        ("#ref-samhsa2014tip57", "2014b")]
    tip = " ".join(mixed.select_one(".kb-cite-tip").get_text().split())
    starts = [tip.find(name) for name in ("Flückiger, C.", "Rogers, C. R.",
                                          "Substance Abuse and Mental Health Services "
                                          "Administration. (2014a)",
                                          "Substance Abuse and Mental Health Services "
                                          "Administration. (2014b)")]
    assert -1 not in starts and starts == sorted(starts), (starts, tip)
    # narrative, works by the same authors: the name once, each year linked to its own
    # work; the tooltip in the order read
    narrative = page.select("article span.kb-cite")[16]
    links = [(a["href"], a.get_text()) for a in narrative.select("a.reference.internal")]
    assert links == [
        ("#ref-rogers1957necessary", "Rogers (1957)"),
        ("#ref-samhsa2014concept", "2014a"),
        ("#ref-samhsa2014tip57", "2014b"),
        ("#ref-norcross2018psychotherapy", "Norcross and Lambert (2018)")]
    tip = " ".join(narrative.select_one(".kb-cite-tip").get_text().split())
    starts = [tip.find(name) for name in ("Rogers, C. R.",
                                          "Substance Abuse and Mental Health Services "
                                          "Administration. (2014a)",
                                          "Substance Abuse and Mental Health Services "
                                          "Administration. (2014b)", "Norcross, J. C.")]
    assert -1 not in starts and starts == sorted(starts), (starts, tip)


def test_reference_list_is_exact_apa_sorted_with_letters(build_root):
    app = build_root("citations_forms")
    page = html(app, "articles/forms.html")
    items = page.select("section#references li.kb-ref")
    assert [li["id"] for li in items] == [
        "ref-fluckiger2018alliance", "ref-norcross2018psychotherapy",
        "ref-rogers1957necessary", "ref-samhsa2014concept", "ref-samhsa2014tip57"]
    texts = [" ".join(li.get_text().split()) for li in items]
    assert texts[1] == ("Norcross, J. C., & Lambert, M. J. (2018). Psychotherapy relationships "
                        "that work III. Psychotherapy, 55(4), 303–315. "
                        "https://doi.org/10.1037/pst0000193")
    assert texts[3] == ("Substance Abuse and Mental Health Services Administration. (2014a). "
                        "SAMHSA's concept of trauma and guidance for a trauma-informed approach "
                        "(HHS Publication No. (SMA) 14-4884).")
    assert texts[4].startswith("Substance Abuse and Mental Health Services Administration. "
                               "(2014b). Trauma-informed care in behavioral health services")
    norcross = items[1]
    assert norcross.select_one("em").get_text() == "Psychotherapy, 55"
    assert norcross.select_one("a")["href"] == "https://doi.org/10.1037/pst0000193"


def test_bibliography_page_lists_every_cited_work_with_cited_in_links(build_root):
    app = build_root("citations_forms")
    page = html(app, "bibliography.html")
    items = {li["id"]: li for li in page.select("li.kb-ref")}
    assert set(items) == {"ref-fluckiger2018alliance", "ref-norcross2018psychotherapy",
                          "ref-rogers1957necessary", "ref-samhsa2014concept",
                          "ref-samhsa2014tip57"}
    rogers = items["ref-rogers1957necessary"].select_one(".kb-cited-in")
    assert rogers.get_text().startswith("Cited in:")
    assert {a["href"] for a in rogers.select("a")} == {"articles/forms.html",
                                                      "articles/good.html"}


def test_unknown_keys_are_reported_at_the_citing_line(build_root):
    app = build_root("citations_unknown-key")
    assert warnings_of(app) == [
        "articles/bad.md:15: WARNING: unknown citation key 'rogers1975necessary' (did you "
        "mean 'rogers1957necessary'? add the work to references.bib, or fix the key) "
        "[kb.citation]",
        "articles/bad.md:17: WARNING: unknown citation key 'smith2020nothing' (add the work "
        "to references.bib, or fix the key) [kb.citation]",
    ]
    page = html(app, "articles/bad.html")
    assert [li["id"] for li in page.select("li.kb-ref")] == ["ref-rogers1957necessary"]


def fragments(app):
    """What citations and listings produce, page by page, for comparing builds."""
    out = {}
    for name in ("articles/good", "articles/forms", "articles/extra", "bibliography",
                 "index", "topics/grief", "topics/anxiety"):
        page = html(app, f"{name}.html")
        out[name] = {
            "refs": [" ".join(li.get_text().split()) for li in page.select("li.kb-ref")],
            "cites": citation_texts(page),
            "listing": [a["href"] for a in page.select(".kb-listing a.kb-listing-title")],
            "related": [a["href"] for a in page.select("#related-articles li a")],
        }
    return out


EXTRA = """---
description: A third article.
topics: [grief]
published: 2026-02-10
updated: 2026-02-10
last_reviewed: 2026-02-10
next_review: 2027-02-10
status: published
---

# Extra

Text {cite:p}`norcross2018psychotherapy`.

## References

```{references}
```
"""


def test_parallel_incremental_build_matches_a_clean_serial_build(build_root, tmp_path):
    src = lay_root(tmp_path / "inc", "citations_forms")
    (src / "articles/extra.md").write_text(EXTRA)
    first = build_root(None, srcdir=src, parallel=2)
    assert warnings_of(first) == []
    # change one article's topics and its citations, then rebuild incrementally
    extra = (src / "articles/extra.md").read_text()
    extra = extra.replace("topics: [grief]", "topics: [anxiety]").replace(
        "{cite:p}`norcross2018psychotherapy`", "{cite:p}`fluckiger2018alliance`")
    (src / "articles/extra.md").write_text(extra)
    incremental = build_root(None, srcdir=src, parallel=2, freshenv=False)
    assert warnings_of(incremental) == []
    after = fragments(incremental)

    clean_src = tmp_path / "clean"
    shutil.copytree(src, clean_src, ignore=shutil.ignore_patterns("_build"))
    clean = build_root(None, srcdir=clean_src, parallel=0)
    assert warnings_of(clean) == []
    assert after == fragments(clean)
    assert "../articles/extra.html" in after["topics/anxiety"]["listing"]
    assert "../articles/extra.html" not in after["topics/grief"]["listing"]
    assert after["articles/extra"]["cites"] == ["(Flückiger et al., 2018)"]


REPEATS = """---
description: The same works cited again and again, as real articles do.
topics: [grief]
published: 2026-02-10
updated: 2026-02-10
last_reviewed: 2026-02-10
next_review: 2027-02-10
status: published
---

# Repeats

{body}

## References

```{{references}}
```
"""

NO_LIST = """# Our approach

A page with no reference list of its own: its citations link to the bibliography page,
one folder up {cite:p}`rogers1957necessary`, and {cite:t}`rogers1957necessary` again,
{cite:p}`{see}rogers1957necessary{p. 96}`.
"""

CITATION = re.compile(r"\{cite:(\w+)\}`([^`]+)`")


def counted_formatting(monkeypatch) -> list:
    """The citation texts sphinxcontrib-bibtex's formatter is given, one per call."""
    import kb.citations as citations

    calls = []
    real = citations.apa.format_citation
    monkeypatch.setattr(citations.apa, "format_citation",
                        lambda *args, **kwargs: (calls.append(args[1]),
                                                 real(*args, **kwargs))[1])
    return calls


def same_pages(cached_app, plain_app) -> list[Path]:
    """The HTML pages of two builds, asserted the same, byte for byte."""
    cached_out, plain_out = Path(cached_app.outdir), Path(plain_app.outdir)
    pages = sorted(p.relative_to(cached_out) for p in cached_out.rglob("*.html"))
    assert pages == sorted(p.relative_to(plain_out) for p in plain_out.rglob("*.html"))
    for page in pages:
        assert (cached_out / page).read_bytes() == (plain_out / page).read_bytes(), page
    return pages


def test_each_distinct_citation_is_rendered_once_and_pages_are_the_same_without_it(
        build_root, tmp_path, monkeypatch):
    """A work cited many times is formatted once per build (per role, citation text and
    link target), not once per citation; with the cache off, every page is the same byte
    for byte."""
    import kb.citations as citations

    def lay(dest):
        src = lay_root(tmp_path / dest, "citations_forms")
        body = "\n\n".join(
            f"Sentence {i} {{cite:p}}`rogers1957necessary` and "
            f"{{cite:t}}`fluckiger2018alliance`, {{cite:p}}`{{see}}rogers1957necessary"
            f"{{p. {i % 3}}}`, {{cite:p}}`samhsa2014concept,samhsa2014tip57`."
            for i in range(12))
        (src / "articles/repeats.md").write_text(REPEATS.format(body=body))
        (src / "about").mkdir()
        (src / "about/index.md").write_text(NO_LIST)
        index = src / "index.md"
        index.write_text(index.read_text().replace("bibliography\n",
                                                   "bibliography\nabout/index\n"))
        return src

    calls = counted_formatting(monkeypatch)
    cached_app = build_root(None, srcdir=lay("cached"))
    assert warnings_of(cached_app) == []
    cached_calls = len(calls)

    src = Path(cached_app.srcdir)
    occurrences, distinct = 0, set()
    for page in ("articles/forms.md", "articles/good.md", "articles/repeats.md",
                 "about/index.md"):
        for role, target in CITATION.findall((src / page).read_text()):
            occurrences += 1
            distinct.add((role, target, page == "about/index.md"))
    assert occurrences > 60 and len(distinct) < 30
    # one rendering per cache key: (builder, role, citation text, link target, and any
    # kb_ mark a transform put on the citation, such as a first citation's)
    keys = [k for k in cached_app.env.get_domain("cite")._rendered if k[0] == "cite"]
    assert cached_calls == len(keys) < occurrences / 2
    assert {(role, target, link is not None) for _c, _b, role, target, link, _m in keys} == (
        distinct)

    # on the HTML builder each use is one prerendered node (its HTML made once), for the
    # citations and for the reference list's entries
    doctree = cached_app.env.get_and_resolve_doctree("articles/repeats", cached_app.builder)
    cites = [n for n in doctree.findall(nodes.inline) if "kb-cite" in n["classes"]]
    entries = [n for n in doctree.findall(nodes.list_item) if "kb-ref" in n["classes"]]
    assert len(cites) > 10 and entries
    assert all(len(n) == 1 and isinstance(n[0], citations.prerendered) for n in cites)
    assert all(isinstance(item[0][0], citations.prerendered) for item in entries)

    calls.clear()
    monkeypatch.setattr(citations, "RENDER_CACHE", False)
    plain_app = build_root(None, srcdir=lay("plain"))
    assert warnings_of(plain_app) == []
    assert len(calls) == occurrences

    assert Path("about/index.html") in same_pages(cached_app, plain_app)
    # the citations on the page without a list link one folder up, on the cached build
    about = html(cached_app, "about/index.html")
    assert {a["href"] for a in about.select("span.kb-cite a.reference.internal")} == {
        "../bibliography.html#ref-rogers1957necessary"}
    repeats = html(cached_app, "articles/repeats.html")
    assert citation_texts(repeats)[:4] == [
        "(Rogers, 1957)", "Flückiger et al. (2018)", "(see Rogers, 1957, p. 0)",
        "(Substance Abuse and Mental Health Services Administration, 2014a, 2014b)"]


def test_a_first_citation_is_rendered_apart_only_where_it_reads_differently(
        build_root, tmp_path, monkeypatch):
    """A group with an abbreviation is written out at the page's first citation of it
    and abbreviated after (APA 8.21), so its first citation has a rendering of its own;
    any other work's first citation reads as its later ones and shares their rendering.
    With the cache off, the pages are the same byte for byte."""
    import kb.citations as citations

    body = "\n\n".join([
        "Group first {cite:p}`samhsa2014trauma`, then {cite:p}`samhsa2014trauma`.",
        "Person first {cite:p}`siepe2024bayesian`, then {cite:p}`siepe2024bayesian`.",
        "A work first cited with the group {cite:p}`who2019guide,samhsa2014trauma`.",
    ])

    def lay(dest):
        src = lay_root(tmp_path / dest, "citations_exports")
        (src / "articles/exports.md").unlink()
        (src / "articles/firsts.md").write_text(REPEATS.format(body=body))
        return src

    calls = counted_formatting(monkeypatch)
    cached_app = build_root(None, srcdir=lay("cached"))
    assert warnings_of(cached_app)[2:] == []  # the two broken .bib entries, not cited
    cites = [k for k in cached_app.env.get_domain("cite")._rendered if k[0] == "cite"]
    keys = sorted((target, marks) for _c, _b, _role, target, _link, marks in cites
                  if f"`{target}`" in body)  # not the skeleton's own pages' citations
    assert keys == [
        ("samhsa2014trauma", (("kb_first", "['samhsa2014trauma']"),)),
        ("samhsa2014trauma", (("kb_first", "[]"),)),
        ("siepe2024bayesian", (("kb_first", "[]"),)),  # first and later: one rendering
        ("who2019guide,samhsa2014trauma", (("kb_first", "[]"),)),
    ]
    assert len(calls) == len(cites)
    page = html(cached_app, "articles/firsts.html")
    assert citation_texts(page) == [
        "(Substance Abuse and Mental Health Services Administration [SAMHSA], 2014c)",
        "(SAMHSA, 2014c)",
        "(Siepe et al., 2024)",
        "(Siepe et al., 2024)",
        # in the reference list's order (APA 8.12): the group sorts by its name
        "(SAMHSA, 2014c; World Health Organization, 2019)",
    ]

    monkeypatch.setattr(citations, "RENDER_CACHE", False)
    plain_app = build_root(None, srcdir=lay("plain"))
    assert Path("articles/firsts.html") in same_pages(cached_app, plain_app)


def test_a_malformed_citation_is_a_warning_at_its_line_not_a_traceback(build_root,
                                                                       tmp_path):
    src = lay_root(tmp_path / "malformed", "citations_forms")
    forms = src / "articles/forms.md"
    forms.write_text(forms.read_text().replace(
        "Pre and post {cite:p}`{see}rogers1957necessary{p. 96}`.",
        "Pre and post {cite:p}`{see}rogers1957necessary{p. 96`.\n\n"
        "Open before {cite:t}`{see rogers1957necessary`."))
    app = build_root(None, srcdir=src)
    lines = forms.read_text().splitlines()
    first = next(i for i, line in enumerate(lines, 1) if "{p. 96`" in line)
    assert warnings_of(app) == [
        f"articles/forms.md:{first}: WARNING: malformed citation "
        "`{see}rogers1957necessary{p. 96` (write {cite:p}`key`, or with words before or "
        "after it {cite:p}`{see}key{p. 96}`: every { closed by }) [kb.citation]",
        f"articles/forms.md:{first + 2}: WARNING: malformed citation "
        "`{see rogers1957necessary` (write {cite:p}`key`, or with words before or after "
        "it {cite:p}`{see}key{p. 96}`: every { closed by }) [kb.citation]",
    ]
    page = html(app, "articles/forms.html")
    # the other citations are resolved as before; the reference list is whole
    assert citation_texts(page)[0] == "(Rogers, 1957)"
    assert len(page.select("section#references li.kb-ref")) == 5


def test_exported_entries_cite_and_broken_ones_fail_at_the_citation(build_root):
    """Entries as reference managers export them: a group abbreviation (APA 8.21), a
    BibLaTeX entry, a group's book without publisher; an entry with two 'year' fields and
    an unsupported type fail at the .bib line AND at each citation, with the real cause,
    and no raw key reaches the page."""
    app = build_root("citations_exports")
    unsupported = ("entry type @patent of 'doe2019grief' is not supported by the APA style; "
                   "use @misc for a work APA has no form for (author, title, year, and a "
                   "url or howpublished)")
    assert warnings_of(app) == [
        "refs.bib:73: WARNING: field 'year' appears twice in 'lunn2012bugs' (first on line "
        "71); keep one [kb.bib]",
        f"refs.bib:76: WARNING: {unsupported} [kb.bib]",
        "articles/exports.md:21: WARNING: cannot cite 'lunn2012bugs': its entry at "
        "refs.bib:73 cannot be used: field 'year' appears twice in 'lunn2012bugs' (first "
        "on line 71); keep one [kb.citation]",
        "articles/exports.md:23: WARNING: cannot cite 'doe2019grief': its entry at "
        f"refs.bib:76 cannot be used: {unsupported} [kb.citation]",
    ]
    page = html(app, "articles/exports.html")
    assert citation_texts(page) == [
        "(Substance Abuse and Mental Health Services Administration [SAMHSA], 2014c)",
        "(SAMHSA, 2014c)",
        "SAMHSA (2014c)",
        "(Siepe et al., 2024)",
        "(reference missing)",
        "(reference missing)",
        "(World Health Organization, 2019)",
    ]
    text = page.select_one("article").get_text()
    assert "lunn2012bugs" not in text and "doe2019grief" not in text
    refs = [" ".join(li.get_text().split()) for li in page.select("li.kb-ref")]
    assert refs == [
        "Siepe, B. S., Kloft, M., & Heck, D. W. (2024). Bayesian estimation and comparison "
        "of idiographic network models. Psychological Methods. "
        "https://doi.org/10.1037/met0000672",
        "Substance Abuse and Mental Health Services Administration. (2014c). Trauma-informed "
        "care in behavioral health services (HHS Publication No. (SMA) 14-4884). "
        "https://store.samhsa.gov/sites/default/files/d7/priv/sma14-4884.pdf",
        "World Health Organization. (2019). Mental health in primary care: A guide.",
    ]


def test_cited_keys_are_those_of_one_sort_by_page_and_line():
    """kb.citations.cited_keys groups citations by page instead of sorting them all
    (issue 18); on random citations (keys in another case, unknown keys, pages cited
    out of order, several citations on one line, no line) it gives the pages and keys,
    in their order, that one stable sort by (page, line) gives."""
    import random
    from collections import defaultdict, namedtuple

    from pybtex.utils import OrderedCaseInsensitiveDict

    from kb.citations import cited_keys

    Ref = namedtuple("Ref", "docname line targets")
    Target = namedtuple("Target", "key pre post")
    for seed in range(200):
        rng = random.Random(seed)
        entries = OrderedCaseInsensitiveDict(
            (f"Key{i}", object()) for i in range(rng.randrange(1, 8)))
        names = [*entries, "nokey", "other2020"]
        refs = [Ref(f"page{rng.randrange(6)}", rng.choice([None, *range(1, 6)]),
                    [Target(rng.choice([str.lower, str.upper, str])(rng.choice(names)),
                            "", "") for _ in range(rng.randrange(1, 4))])
                for _ in range(rng.randrange(0, 30))]
        want_by, want_keys = defaultdict(dict), defaultdict(dict)
        for ref in sorted(refs, key=lambda r: (r.docname, r.line or 0)):
            for target in ref.targets:
                if target.key in entries:
                    want_by[target.key][ref.docname] = None
                    want_keys[ref.docname][target.key] = None
        got_by, got_keys = cited_keys(list(refs), entries)

        def ordered(mapping):
            return [(k, list(v)) for k, v in mapping.items()]

        assert ordered(got_by) == ordered(want_by), seed
        assert ordered(got_keys) == ordered(want_keys), seed


GUIDE_ROW = re.compile(r"^\| ``(\{cite:\w+\}`[^`]+`) `` \| (.+?) \|$", re.M)


def test_the_writers_guide_shows_what_the_build_writes(build_root, tmp_path):
    """Each row of the writers' guide's citation table ("You write", "The reader sees"),
    cited in an article of a site with the real references.bib: the build writes what the
    guide says the reader sees."""
    from helpers import DOCS, REPO

    rows = GUIDE_ROW.findall((DOCS / "contributing" / "index.md").read_text(encoding="utf-8"))
    assert len(rows) >= 7, rows  # the table is there, and read
    src = lay_root(tmp_path / "guide", "citations_forms")
    shutil.copyfile(REPO / "references.bib", src / "refs.bib")
    forms = src / "articles" / "forms.md"
    head, _, _ = forms.read_text(encoding="utf-8").partition("# Citation forms")
    forms.write_text(head + "# The guide's citations\n\n" + "".join(
        f"Row {i}: {written}.\n\n" for i, (written, _) in enumerate(rows))
        + "## References\n\n```{references}\n```\n", encoding="utf-8")
    app = build_root(None, srcdir=src)
    assert warnings_of(app) == []
    assert citation_texts(html(app, "articles/forms.html")) == [seen for _, seen in rows]
