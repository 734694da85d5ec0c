"""APA 7 citations through Sphinx: in-text forms, links, reference lists, the
bibliography page, unknown keys, and parallel/incremental builds."""

from __future__ import annotations

import shutil

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
        "(Rogers, 1957; Norcross & Lambert, 2018)",
        "Rogers (1957)",
        "Norcross and Lambert (2018)",
        "Flückiger et al. (2018)",
        "Substance Abuse and Mental Health Services Administration (2014a)",
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
        "#ref-rogers1957necessary", "#ref-norcross2018psychotherapy"]


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
