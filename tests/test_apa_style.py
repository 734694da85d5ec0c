"""Golden tests for the APA 7 citation style (kb.apa).

Expected strings are written by hand from the APA Publication Manual (7th ed.),
ch. 8-10, not copied from the code's output.
"""

import re
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))

import docutils.nodes  # noqa: E402
import pybtex.plugin  # noqa: E402
import pybtex_docutils  # noqa: E402
import pytest  # noqa: E402
import sphinxcontrib.bibtex.plugin  # noqa: E402
from pybtex.database import Entry, parse_string  # noqa: E402
from pybtex.style.template import FieldIsMissing  # noqa: E402
from sphinxcontrib.bibtex.style.referencing import format_references  # noqa: E402
from sphinxcontrib.bibtex.style.template import SphinxReferenceInfo  # noqa: E402

import kb.apa  # noqa: E402
from kb.apa import REQUIRED_FIELDS, year_suffixes  # noqa: E402
from kb.apa.formatting import ApaStyle, missing_fields, ordinal  # noqa: E402
from kb.apa.referencing import ApaReferenceStyle  # noqa: E402

BIB = r"""
@article{rogers1957,
  author  = {Rogers, Carl R.},
  title   = {The necessary and sufficient conditions of therapeutic personality change},
  journal = {Journal of Consulting Psychology},
  year    = {1957},
  volume  = {21},
  number  = {2},
  pages   = {95--103},
  doi     = {10.1037/h0045357},
}
@article{norcross2018,
  author  = {Norcross, John C. and Lambert, Michael J.},
  title   = {Psychotherapy relationships that work {III}},
  journal = {Psychotherapy},
  year    = {2018},
  volume  = {55},
  number  = {4},
  pages   = {303--315},
  doi     = {10.1037/pst0000193},
}
@article{fluckiger2018,
  author  = {Flückiger, Christoph and Del Re, A. C. and Wampold, Bruce E. and Horvath, Adam O.},
  title   = {{The alliance in adult psychotherapy: {A} meta-analytic synthesis}},
  journal = {Psychotherapy},
  year    = {2018},
  volume  = {55},
  number  = {4},
  pages   = {316--340},
  doi     = {10.1037/pst0000172},
}
@incollection{norcross2011chapter,
  author    = {Norcross, John C. and Lambert, Michael J.},
  title     = {Evidence-based therapy relationships},
  editor    = {Norcross, John C.},
  booktitle = {Psychotherapy relationships that work},
  edition   = {2},
  pages     = {3--21},
  publisher = {Oxford University Press},
  year      = {2011},
}
@book{norcross2011book,
  editor    = {Norcross, John C.},
  title     = {Psychotherapy relationships that work},
  edition   = {2},
  publisher = {Oxford University Press},
  year      = {2011},
}
@book{rogers1961,
  author    = {Rogers, Carl R.},
  title     = {On becoming a person: {A} therapist's view of psychotherapy},
  publisher = {Houghton Mifflin},
  year      = {1961},
}
@techreport{samhsa2014concept,
  author      = {{Substance Abuse and Mental Health Services Administration}},
  title       = {{SAMHSA}'s concept of trauma and guidance for a trauma-informed approach},
  type        = {HHS Publication No.},
  number      = {(SMA) 14-4884},
  institution = {Substance Abuse and Mental Health Services Administration},
  year        = {2014},
  url         = {https://store.samhsa.gov/sites/default/files/d7/priv/sma14-4884.pdf},
}
@techreport{samhsa2014tip,
  author      = {{Substance Abuse and Mental Health Services Administration}},
  title       = {Trauma-informed care in behavioral health services},
  number      = {Treatment Improvement Protocol ({TIP}) Series 57, HHS Publication No. (SMA) 13-4801},
  institution = {Substance Abuse and Mental Health Services Administration},
  year        = {2014},
  url         = {https://www.ncbi.nlm.nih.gov/books/NBK207201/},
}
@article{hook2013,
  author  = {Hook, Joshua N. and Davis, Don E. and Owen, Jesse and Worthington, Jr., Everett L. and Utsey, Shawn O.},
  title   = {Cultural humility: {M}easuring openness to culturally diverse clients},
  journal = {Journal of Counseling Psychology},
  year    = {2013},
  volume  = {60},
  number  = {3},
  pages   = {353--366},
  doi     = {10.1037/a0032595},
}
"""

# Synthetic entries (fake names and example.org URLs) for edge cases.
SYNTHETIC = r"""
@online{dupont2019,
  author       = {Dupont, Jean-Pierre},
  title        = {How to cite a web page},
  organization = {Example Site},
  year         = {2019},
  month        = mar,
  day          = {4},
  url          = {https://example.org/cite_web?page=1},
}
@online{examplegroup,
  author       = {{Example Mental Health Network}},
  title        = {Finding a therapist},
  organization = {Example Mental Health Network},
  url          = {https://example.org/find},
}
@misc{untitledauthor,
  title        = {Coping with stress},
  organization = {Example Site},
  year         = {2020},
  url          = {https://example.org/stress},
}
@article{flynn2000,
  author  = {Flynn, Barbara},
  title   = {A synthetic article},
  journal = {Journal of Examples},
  year    = {2000},
}
@article{nojournal,
  author = {Doe, Jane},
  title  = {Missing its journal},
  year   = {2020},
}
"""


@pytest.fixture(scope="module")
def bib():
    return parse_string(BIB + SYNTHETIC, "bibtex").entries


@pytest.fixture(scope="module")
def style():
    return ApaStyle()


def fmt(style, entry, backend="text"):
    return style.format_entry(entry.key, entry).text.render_as(backend)


def with_suffix(entry, suffix):
    """Copy of *entry* carrying the ``yearsuffix`` field."""
    copy = Entry(entry.type, fields=dict(entry.fields), persons=dict(entry.persons))
    copy.key = entry.key
    copy.fields["yearsuffix"] = suffix
    return copy


# -- reference list: one golden entry per type --------------------------------

GOLDEN = {
    "rogers1957": "Rogers, C. R. (1957). The necessary and sufficient conditions of "
    "therapeutic personality change. Journal of Consulting Psychology, 21(2), "
    "95–103. https://doi.org/10.1037/h0045357",
    "norcross2018": "Norcross, J. C., & Lambert, M. J. (2018). Psychotherapy "
    "relationships that work III. Psychotherapy, 55(4), 303–315. "
    "https://doi.org/10.1037/pst0000193",
    "fluckiger2018": "Flückiger, C., Del Re, A. C., Wampold, B. E., & Horvath, A. O. "
    "(2018). The alliance in adult psychotherapy: A meta-analytic synthesis. "
    "Psychotherapy, 55(4), 316–340. https://doi.org/10.1037/pst0000172",
    "hook2013": "Hook, J. N., Davis, D. E., Owen, J., Worthington, E. L., Jr., & "
    "Utsey, S. O. (2013). Cultural humility: Measuring openness to culturally "
    "diverse clients. Journal of Counseling Psychology, 60(3), 353–366. "
    "https://doi.org/10.1037/a0032595",
    "norcross2011chapter": "Norcross, J. C., & Lambert, M. J. (2011). Evidence-based "
    "therapy relationships. In J. C. Norcross (Ed.), Psychotherapy relationships "
    "that work (2nd ed., pp. 3–21). Oxford University Press.",
    "norcross2011book": "Norcross, J. C. (Ed.). (2011). Psychotherapy relationships "
    "that work (2nd ed.). Oxford University Press.",
    "rogers1961": "Rogers, C. R. (1961). On becoming a person: A therapist's view of "
    "psychotherapy. Houghton Mifflin.",
    "samhsa2014concept": "Substance Abuse and Mental Health Services Administration. "
    "(2014). SAMHSA's concept of trauma and guidance for a trauma-informed approach "
    "(HHS Publication No. (SMA) 14-4884). "
    "https://store.samhsa.gov/sites/default/files/d7/priv/sma14-4884.pdf",
    "samhsa2014tip": "Substance Abuse and Mental Health Services Administration. "
    "(2014). Trauma-informed care in behavioral health services (Treatment "
    "Improvement Protocol (TIP) Series 57, HHS Publication No. (SMA) 13-4801). "
    "https://www.ncbi.nlm.nih.gov/books/NBK207201/",
    "dupont2019": "Dupont, J.-P. (2019, March 4). How to cite a web page. Example "
    "Site. https://example.org/cite_web?page=1",
    "examplegroup": "Example Mental Health Network. (n.d.). Finding a therapist. "
    "https://example.org/find",
    "untitledauthor": "Coping with stress. (2020). Example Site. "
    "https://example.org/stress",
}


@pytest.mark.parametrize("key", GOLDEN)
def test_reference_text(bib, style, key):
    assert fmt(style, bib[key]) == GOLDEN[key]


def test_article_html(bib, style):
    html = fmt(style, bib["rogers1957"], "html")
    assert "<em>Journal of Consulting Psychology, 21</em>(2), 95–103." in html
    assert (
        '<a href="https://doi.org/10.1037/h0045357">'
        "https://doi.org/10.1037/h0045357</a>"
    ) in html
    assert not html.rstrip().endswith(".")  # no period after a DOI


def test_chapter_and_book_html(bib, style):
    chapter = fmt(style, bib["norcross2011chapter"], "html")
    assert (
        "In J. C. Norcross (Ed.), <em>Psychotherapy relationships that work</em> "
        "(2nd ed., pp. 3–21)."
    ) in chapter
    book = fmt(style, bib["norcross2011book"], "html")
    assert "<em>Psychotherapy relationships that work</em> (2nd ed.)." in book


def test_report_and_web_html(bib, style):
    report = fmt(style, bib["samhsa2014concept"], "html")
    assert "<em>SAMHSA's concept of trauma" in report
    assert "bibtex-protected" not in report
    assert (
        '<a href="https://store.samhsa.gov/sites/default/files/d7/priv/'
        'sma14-4884.pdf">'
    ) in report
    web = fmt(style, bib["dupont2019"], "html")
    assert "<em>How to cite a web page</em>. Example Site." in web
    assert '<a href="https://example.org/cite_web?page=1">' in web


def test_docutils_backend(bib, style):
    text = style.format_entry("x", bib["fluckiger2018"]).text
    nodes = text.render(pybtex_docutils.Backend())
    para = docutils.nodes.paragraph("", "", *nodes)
    assert para.astext() == GOLDEN["fluckiger2018"]
    emphasis = list(para.findall(docutils.nodes.emphasis))
    assert [e.astext() for e in emphasis] == ["Psychotherapy, 55"]
    (ref,) = para.findall(docutils.nodes.reference)
    assert ref["refuri"] == "https://doi.org/10.1037/pst0000172"
    assert ref.astext() == "https://doi.org/10.1037/pst0000172"


# -- authors -------------------------------------------------------------------


def synthetic_article(n):
    authors = " and ".join(f"Author{i:02d}, Ann" for i in range(1, n + 1))
    bib = f"@article{{many, author = {{{authors}}}, title = {{T}}, journal = {{J}}}}"
    entry = parse_string(bib, "bibtex").entries["many"]
    entry.fields["year"] = "2020"
    return entry


def test_one_author(bib, style):
    assert fmt(style, bib["rogers1957"]).startswith("Rogers, C. R. (1957). ")


def test_two_authors_comma_ampersand(bib, style):
    assert fmt(style, bib["norcross2018"]).startswith(
        "Norcross, J. C., & Lambert, M. J. (2018). "
    )


def test_particle_kept(bib, style):
    assert "Flückiger, C., Del Re, A. C., Wampold" in fmt(style, bib["fluckiger2018"])


def test_twenty_authors_all_listed(style):
    expected = (
        "Author01, A., Author02, A., Author03, A., Author04, A., Author05, A., "
        "Author06, A., Author07, A., Author08, A., Author09, A., Author10, A., "
        "Author11, A., Author12, A., Author13, A., Author14, A., Author15, A., "
        "Author16, A., Author17, A., Author18, A., Author19, A., & Author20, A. "
        "(2020). T. J."
    )
    assert fmt(style, synthetic_article(20)) == expected


def test_twenty_one_authors_ellipsis(style):
    expected = (
        "Author01, A., Author02, A., Author03, A., Author04, A., Author05, A., "
        "Author06, A., Author07, A., Author08, A., Author09, A., Author10, A., "
        "Author11, A., Author12, A., Author13, A., Author14, A., Author15, A., "
        "Author16, A., Author17, A., Author18, A., Author19, A., . . . "
        "Author23, A. (2020). T. J."
    )
    assert fmt(style, synthetic_article(23)) == expected


def test_group_author_not_inverted(bib, style):
    text = fmt(style, bib["samhsa2014concept"])
    name = "Substance Abuse and Mental Health Services Administration"
    assert text.startswith(f"{name}. (2014). ")


def test_latex_accent_equals_unicode(style):
    entry = parse_string(
        r'@article{a, author = {Fl{\"u}ckiger, C.}, title = {T}, journal = {J},'
        r" year = {2018}}",
        "bibtex",
    ).entries["a"]
    assert fmt(style, entry).startswith("Flückiger, C. (2018).")


@pytest.mark.parametrize(
    "number, expected",
    [
        (1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"),
        (13, "13th"), (21, "21st"), (22, "22nd"), (103, "103rd"), (111, "111th"),
    ],
)
def test_edition_ordinals(number, expected):
    assert ordinal(number) == expected


def test_third_edition(style):
    entry = parse_string(
        "@book{b, author = {Doe, Jane}, title = {A book}, edition = {3}, "
        "publisher = {Example Press}, year = {2021}}",
        "bibtex",
    ).entries["b"]
    assert fmt(style, entry) == "Doe, J. (2021). A book (3rd ed.). Example Press."


# -- sorting, labels, year suffixes --------------------------------------------


def test_sorting(bib, style):
    keys = [e.key for e in style.sort(bib.values()) if e.key != "nojournal"]
    assert keys == [
        "untitledauthor",  # "Coping with stress" (title in author position)
        "dupont2019",
        "examplegroup",
        "fluckiger2018",  # Flückiger sorts as Fluckiger: before Flynn
        "flynn2000",
        "hook2013",
        "norcross2011book",  # one-author entry precedes Norcross & Lambert
        "norcross2011chapter",
        "norcross2018",
        "rogers1957",
        "rogers1961",
        "samhsa2014concept",
        "samhsa2014tip",
    ]


def test_labels_are_keys(bib, style):
    entries = style.sort(bib.values())
    assert list(style.format_labels(entries)) == [e.key for e in entries]


def test_year_suffixes(bib):
    assert year_suffixes(bib.values()) == {
        "samhsa2014concept": "a",  # "SAMHSA's concept ..." < "Trauma-informed ..."
        "samhsa2014tip": "b",
    }


def test_year_suffix_ignores_articles_and_needs_identical_authors():
    entries = parse_string(
        "@misc{z, author = {Doe, J.}, title = {The zebra}, year = {2020}}"
        "@misc{y, author = {Doe, J.}, title = {An apple}, year = {2020}}"
        "@misc{x, author = {Doe, J. and Roe, R.}, title = {Aardvark}, year = {2020}}"
        "@misc{w, author = {Doe, K.}, title = {Aardvark}, year = {2020}}"
        "@misc{v, author = {Doe, J.}, title = {Undated one}}"
        "@misc{u, author = {Doe, J.}, title = {Undated two}}",
        "bibtex",
    ).entries
    assert year_suffixes(entries.values()) == {
        "y": "a", "z": "b", "v": "a", "u": "b",
    }


def test_year_suffix_in_list_and_sorting(bib, style):
    concept = with_suffix(bib["samhsa2014concept"], "a")
    tip = with_suffix(bib["samhsa2014tip"], "b")
    assert fmt(style, concept).startswith(
        "Substance Abuse and Mental Health Services Administration. (2014a). SAMHSA's"
    )
    assert fmt(style, tip).startswith(
        "Substance Abuse and Mental Health Services Administration. (2014b). Trauma"
    )
    assert [e.key for e in style.sort([tip, concept])] == [concept.key, tip.key]


def test_no_date_suffix(style):
    entry = parse_string(
        "@misc{m, author = {Doe, Jane}, title = {Page}, yearsuffix = {b}}", "bibtex"
    ).entries["m"]
    assert fmt(style, entry) == "Doe, J. (n.d.-b). Page."


# -- required fields -----------------------------------------------------------


def test_missing_journal_raises(bib, style):
    with pytest.raises(FieldIsMissing) as info:
        style.format_entry("nojournal", bib["nojournal"])
    assert info.value.field_name == "journal"


def test_required_fields_table(bib):
    assert REQUIRED_FIELDS["article"] == ("author", "year", "title", "journal")
    assert missing_fields(bib["nojournal"]) == ["journal"]
    assert missing_fields(bib["norcross2011book"]) == []  # editor instead of author
    book = parse_string("@book{b, title = {T}}", "bibtex").entries["b"]
    assert missing_fields(book) == ["author/editor", "publisher"]


def test_unsupported_type_is_field_missing(style):
    entry = parse_string("@patent{t, author = {Doe, J.}, title = {T}}", "bibtex")
    with pytest.raises(FieldIsMissing):
        style.format_entry("t", entry.entries["t"])


# -- registration --------------------------------------------------------------


def test_register_is_idempotent():
    kb.apa.register()
    kb.apa.register()
    assert pybtex.plugin.find_plugin("pybtex.style.formatting", "apa7") is ApaStyle
    assert (
        sphinxcontrib.bibtex.plugin.find_plugin(
            "sphinxcontrib.bibtex.style.referencing", "apa7"
        )
        is ApaReferenceStyle
    )


# -- in-text citations ---------------------------------------------------------


def cite(bib, role, *keys, pre="", post=""):
    """Render a citation to (plain text, [link texts], [link targets])."""
    builder = SimpleNamespace(name="html")  # fromdocname == todocname: no URI needed
    references = [
        (
            bib[key],
            None,
            SphinxReferenceInfo(builder, "doc", "doc", f"id-{key}", None, pre, post),
        )
        for key in keys
    ]
    text = format_references(ApaReferenceStyle(), role, references)
    para = docutils.nodes.paragraph("", "", *text.render(pybtex_docutils.Backend()))
    links = list(para.findall(docutils.nodes.reference))
    return para.astext(), [n.astext() for n in links], [n["refid"] for n in links]


@pytest.mark.parametrize(
    "keys, expected",
    [
        (["rogers1957"], "(Rogers, 1957)"),
        (["norcross2018"], "(Norcross & Lambert, 2018)"),
        (["fluckiger2018"], "(Flückiger et al., 2018)"),
        (["hook2013"], "(Hook et al., 2013)"),
        (
            ["samhsa2014concept"],
            "(Substance Abuse and Mental Health Services Administration, 2014)",
        ),
        (["norcross2011book"], "(Norcross, 2011)"),
        (["norcross2018", "rogers1957"], "(Norcross & Lambert, 2018; Rogers, 1957)"),
        (["rogers1957", "norcross2018"], "(Rogers, 1957; Norcross & Lambert, 2018)"),
    ],
)
def test_parenthetical(bib, keys, expected):
    assert cite(bib, "p", *keys)[0] == expected


# APA 7, 8.12, with the examples of APA Style's page "Multiple works"
# (https://apastyle.apa.org/style-grammar-guidelines/citations/basic-principles/multiple-works)
MULTIPLE_WORKS = r"""
@article{westinghouse2017, author = {Westinghouse, A.}, year = {2017}, title = {W},
  journal = {J}}
@article{adams2019, author = {Adams, B. and Ball, C. and Cole, D.}, year = {2019},
  title = {A}, journal = {J}}
@article{shumway2015, author = {Shumway, E. and Shulman, F.}, year = {2015}, title = {S},
  journal = {J}}
@report{va2019, author = {{Department of Veterans Affairs}}, year = {2019},
  title = {Delta}, institution = {VA}}
@report{va2017b, author = {{Department of Veterans Affairs}}, year = {2017},
  title = {Bravo}, institution = {VA}}
@report{vand, author = {{Department of Veterans Affairs}}, title = {Echo},
  institution = {VA}}
@report{va2017a, author = {{Department of Veterans Affairs}}, year = {2017},
  title = {Alpha}, institution = {VA}}
@article{suliman2018, author = {Suliman, G.}, year = {2018}, title = {U}, journal = {J}}
@article{gutierrez2017, author = {Gutiérrez, H.}, year = {2017}, title = {G}, journal = {J}}
@article{gutierrez2012, author = {Guti{\'e}rrez, H.}, year = {2012}, title = {H},
  journal = {J}}
@article{medina2019, author = {Medina, I. and Reyes, J.}, year = {2019}, title = {M},
  journal = {J}}
@article{zhou2016, author = {Zhou, K.}, year = {2016}, title = {Z}, journal = {J}}
@article{zhound, author = {Zhou, K.}, title = {Y}, journal = {J}}
@article{zhou2000, author = {Zhou, K.}, year = {2000}, title = {X}, journal = {J}}
@article{devries2011, author = {de Vries, L.}, year = {2011}, title = {E}, journal = {J}}
@article{devries2010, author = {de Vries, L.}, year = {2010}, title = {D}, journal = {J}}
"""


def cite_several(role, *keys, pre=(), post=()):
    """A citation of *keys* (in this order) through kb.apa.format_citation, with
    the reference list's order of all the entries above: (text, [(link text, target)])."""
    entries = parse_string(MULTIPLE_WORKS, "bibtex").entries
    kb.apa.prepare(entries.values())
    style = ApaStyle()
    order = {e.key: i for i, e in enumerate(style.sort(list(entries.values())))}
    builder = SimpleNamespace(name="html")
    references = [
        (entries[key], style.format_entry(key, entries[key]), kb.apa.CitationInfo(
            builder, "doc", "doc", f"id-{key}", None,
            dict(pre).get(key, ""), dict(post).get(key, "")))
        for key in keys]
    text = kb.apa.format_citation(ApaReferenceStyle(), role, references, order.get)
    # as the build calls it: ordered first (for the tooltip too), then formatted
    ordered = kb.apa.in_citation_order(role, references, order.get)
    assert str(kb.apa.format_citation(ApaReferenceStyle(), role, ordered, order.get,
                                      ordered=True)) == str(text)
    para = docutils.nodes.paragraph("", "", *text.render(pybtex_docutils.Backend()))
    return para.astext(), [(n.astext(), n["refid"]) for n in para.findall(
        docutils.nodes.reference)]


@pytest.mark.parametrize("keys", [
    ("westinghouse2017", "adams2019", "shumway2015"),
    ("shumway2015", "westinghouse2017", "adams2019"),
    ("adams2019", "shumway2015", "westinghouse2017"),
])
def test_several_works_in_the_order_of_the_reference_list(keys):
    assert cite_several("p", *keys)[0] == (
        "(Adams et al., 2019; Shumway & Shulman, 2015; Westinghouse, 2017)")


@pytest.mark.parametrize("keys", [
    ("va2019", "va2017b", "vand", "va2017a"),
    ("vand", "va2017a", "va2017b", "va2019"),
    ("va2017b", "va2019", "va2017a", "vand"),
])
def test_works_by_the_same_authors_give_the_name_once_then_the_years(keys):
    text, links = cite_several("p", *keys)
    assert text == "(Department of Veterans Affairs, n.d., 2017a, 2017b, 2019)"
    # each year links to its own work
    assert links == [("Department of Veterans Affairs, n.d.", "id-vand"),
                     ("2017a", "id-va2017a"), ("2017b", "id-va2017b"), ("2019", "id-va2019")]
    # the same without the parentheses (cite:alp), and with all names (cite:ps)
    assert cite_several("alp", *keys)[0] == text[1:-1]
    assert cite_several("ps", *keys)[0] == text


def test_several_works_mixed_with_works_by_the_same_authors():
    assert cite_several("p", "va2019", "westinghouse2017", "va2017a", "adams2019")[0] == (
        "(Adams et al., 2019; Department of Veterans Affairs, 2017a, 2019; "
        "Westinghouse, 2017)")


def test_a_work_with_a_page_keeps_its_name_and_a_text_before_keeps_the_writers_order():
    # a page belongs to its own work: that work is not folded into the name before it
    assert cite_several("p", "va2019", "va2017a", post={"va2017a": "p. 4"})[0] == (
        "(Department of Veterans Affairs, 2017a, p. 4; Department of Veterans Affairs, "
        "2019)")
    # "see also" belongs to the works after it (APA: "(Sampson & Hughes, 2020; see also
    # Augustine, 2017; ...)"): the writer's order stays; works by the same authors are
    # folded only where their years come in order
    assert cite_several("p", "westinghouse2017", "adams2019", "va2017a", "va2019",
                        pre={"adams2019": "see also"})[0] == (
        "(Westinghouse, 2017; see also Adams et al., 2019; "
        "Department of Veterans Affairs, 2017a, 2019)")
    assert cite_several("p", "westinghouse2017", "adams2019", "va2019", "va2017a",
                        pre={"adams2019": "see also"})[0] == (
        "(Westinghouse, 2017; see also Adams et al., 2019; "
        "Department of Veterans Affairs, 2019; Department of Veterans Affairs, 2017a)")


def test_narrative_citations_of_several_works_keep_the_writers_order():
    # APA 8.12: in the narrative, in any order; the writer's is kept
    assert cite_several("t", "westinghouse2017", "adams2019")[0] == (
        "Westinghouse (2017) and Adams et al. (2019)")


@pytest.mark.parametrize("keys", [
    ("suliman2018", "gutierrez2012", "gutierrez2017", "medina2019"),
    ("suliman2018", "gutierrez2017", "medina2019", "gutierrez2012"),
    ("suliman2018", "gutierrez2017", "gutierrez2012", "medina2019"),
])
def test_narrative_works_by_the_same_authors_give_the_name_once_then_the_years(keys):
    # APA Style's example: "Suliman (2018), Gutiérrez (2012, 2017), and Medina and Reyes
    # (2019) examined . . ." The writer's order of the authors stays; the works by the
    # same author come together at the first one's place, the years in order (the
    # name typed with and without a LaTeX accent reads the same)
    text, links = cite_several("t", *keys)
    assert text == "Suliman (2018), Gutiérrez (2012, 2017), and Medina and Reyes (2019)"
    assert links == [("Suliman (2018)", "id-suliman2018"), ("2012", "id-gutierrez2012"),
                     ("2017", "id-gutierrez2017"),
                     ("Medina and Reyes (2019)", "id-medina2019")]


@pytest.mark.parametrize("keys", [
    ("zhou2016", "zhou2000", "zhound"),
    ("zhound", "zhou2016", "zhou2000"),
])
def test_narrative_works_without_a_date_come_first(keys):
    # APA Style's example "Zhou (n.d., 2000, 2016, in press)", without the work in press
    assert cite_several("t", *keys)[0] == "Zhou (n.d., 2000, 2016)"
    assert cite_several("ts", *keys)[0] == "Zhou (n.d., 2000, 2016)"
    # at a sentence's start (cite:ct) the folded name is capitalised as a single one is
    assert cite_several("t", "devries2011", "devries2010")[0] == "de Vries (2010, 2011)"
    assert cite_several("ct", "devries2011", "devries2010")[0] == "De Vries (2010, 2011)"
    assert cite_several("ct", "devries2011")[0] == "De Vries (2011)"


def test_narrative_works_with_a_text_keep_their_own_names():
    # a page (or a "see") belongs to its own work: it is not folded
    assert cite_several("t", "gutierrez2017", "gutierrez2012",
                        post={"gutierrez2012": "p. 4"})[0] == (
        "Gutiérrez (2017) and Gutiérrez (2012, p. 4)")
    assert cite_several("t", "zhou2016", "gutierrez2017", "zhou2000", "gutierrez2012",
                        pre={"zhou2016": "see"})[0] == (
        "see Zhou (2016), Gutiérrez (2012, 2017), and Zhou (2000)")


@pytest.mark.parametrize(
    "keys, expected",
    [
        (["rogers1957"], "Rogers (1957)"),
        (["norcross2018"], "Norcross and Lambert (2018)"),
        (["fluckiger2018"], "Flückiger et al. (2018)"),
        (
            ["samhsa2014concept"],
            "Substance Abuse and Mental Health Services Administration (2014)",
        ),
        (
            ["rogers1957", "norcross2018"],
            "Rogers (1957) and Norcross and Lambert (2018)",
        ),
        (
            ["rogers1957", "norcross2018", "fluckiger2018"],
            "Rogers (1957), Norcross and Lambert (2018), and Flückiger et al. (2018)",
        ),
    ],
)
def test_narrative(bib, keys, expected):
    assert cite(bib, "t", *keys)[0] == expected


def test_pre_and_post_text(bib):
    assert cite(bib, "p", "rogers1957", pre="see", post="p. 96") == (
        "(see Rogers, 1957, p. 96)", ["Rogers, 1957"], ["id-rogers1957"],
    )
    assert cite(bib, "t", "rogers1957", post="p. 96") == (
        "Rogers (1957, p. 96)", ["Rogers (1957, p. 96)"], ["id-rogers1957"],
    )


def test_links_cover_author_and_year(bib):
    text, links, targets = cite(bib, "p", "norcross2018", "fluckiger2018")
    assert links == ["Norcross & Lambert, 2018", "Flückiger et al., 2018"]
    assert targets == ["id-norcross2018", "id-fluckiger2018"]
    text, links, targets = cite(bib, "t", "norcross2018")
    assert links == ["Norcross and Lambert (2018)"]


def test_full_author_list_variants(bib):
    assert cite(bib, "ps", "fluckiger2018")[0] == (
        "(Flückiger, Del Re, Wampold, & Horvath, 2018)"
    )
    assert cite(bib, "ts", "fluckiger2018")[0] == (
        "Flückiger, Del Re, Wampold, and Horvath (2018)"
    )


def test_year_suffix_in_text(bib):
    suffixed = {
        "samhsa2014concept": with_suffix(bib["samhsa2014concept"], "a"),
        "samhsa2014tip": with_suffix(bib["samhsa2014tip"], "b"),
    }
    name = "Substance Abuse and Mental Health Services Administration"
    assert cite(suffixed, "p", "samhsa2014concept", "samhsa2014tip")[0] == (
        f"({name}, 2014a; {name}, 2014b)"
    )
    assert cite(suffixed, "t", "samhsa2014tip")[0] == f"{name} (2014b)"


def test_no_date_in_text(bib):
    assert cite(bib, "p", "examplegroup")[0] == "(Example Mental Health Network, n.d.)"


# -- real exports (issue: APA 7 from reference-manager exports) -------------------------
# Expected strings written by hand from the Publication Manual (7th ed.), sections named.

EXPORTS = r"""
@article{kapoor2017a,
  author  = {Kapoor, A. and Bloom, B. and Montez, C. and Warner, D. and Hill, E.},
  title   = {First}, journal = {J}, year = {2017},
}
@article{kapoor2017b,
  author  = {Kapoor, A. and Bloom, B. and Zucker, F. and Brown, G.},
  title   = {Second}, journal = {J}, year = {2017},
}
@article{taylor2015,
  author = {Taylor, J. M. and Neimeyer, R. A.}, title = {A}, journal = {J}, year = {2015},
}
@article{taylor2014,
  author = {Taylor, T.}, title = {B}, journal = {J}, year = {2014},
}
@report{samhsa2014,
  author = {{Substance Abuse and Mental Health Services Administration}},
  shortauthor = {SAMHSA}, title = {Trauma-informed care}, year = {2014},
}
@phdthesis{yu2003morphology,
  author = {Yu, Alan Chi Lun}, school = {University of California},
  title = {The morphology and phonology of infixation}, year = {2003},
  url = {https://escholarship.org/uc/item/4ds6q618},
}
@mastersthesis{doe2019grief,
  author = {Doe, Jane}, school = {University of Oslo}, title = {Grief at work}, year = {2019},
}
@book{bland2015introduction,
  author = {Bland, Martin}, title = {An introduction to medical statistics},
  edition = {Fourth edition}, publisher = {Oxford University Press}, year = {2015},
}
@book{xie2015dynamic,
  author = {Xie, Yihui}, title = {Dynamic documents with \textsf{R} and knitr},
  edition = {2nd ed}, publisher = {Chapman and Hall/CRC}, year = {2015},
}
@article{rouder2019optional,
  author = {Rouder, Jeffrey and Haaf, Julia M.}, title = {Optional stopping},
  journal = {Psychonomic bulletin \& review}, year = {2019}, doi = {10/gf523c},
}
@article{fisher1925jstor,
  author = {Fisher, R. A.}, title = {Applications of {$t$}}, journal = {Metron},
  year = {1925}, doi = {https://www.jstor.org/stable/2346101},
}
@misc{williams2018bayesian,
  author = {Williams, Donald R}, title = {Bayesian meta-analysis}, year = {2018},
  month = oct, publisher = {PsyArXiv}, howpublished = {\url{https://psyarxiv.com/7tbrm/}},
}
@article{benda2024investigation,
  author = {Benda, M. S.}, title = {Anger}, journal = {Emotion}, year = {2024},
  doi = {https://doi.org.avoserv2.library.fordham.edu/10.1037/emo0001337},
}
@online{rouder2019preprint,
  author = {Rouder, Jeffrey}, title = {Optional stopping}, date = {2019-07-07},
  eprinttype = {PsyArXiv}, url = {https://osf.io/m6dhw},
}
@article{agnoli2017questionable,
  author = {Agnoli, Franca}, title = {Questionable research practices}, journal = {PLOS ONE},
  year = {2017}, volume = {12}, number = {3}, pages = {e0172792},
}
@misc{haddaway2020prisma,
  author = {Haddaway, Neil R}, title = {{PRISMA2020}: An R package}, year = 2020,
  howpublished = {\url{http://doi.org/10.5281/zenodo.4287835}},
}
@online{nimh2023depression,
  author = {{National Institute of Mental Health}}, title = {Depression},
  url = {https://www.nimh.nih.gov/health/topics/depression?a=1{\&}b=2}, urldate = {2024-03-05},
}
@article{siepe2024bayesian,
  author = {Siepe, Björn S. and Kloft, Matthias and Heck, Daniel W.},
  title = {Bayesian estimation}, date = {2024-09-30}, journaltitle = {Psychological Methods},
  doi = {https://doi.org/10.1037/met0000672},
}
"""


@pytest.fixture(scope="module")
def exports():
    entries = parse_string(EXPORTS, "bibtex").entries
    kb.apa.prepare(entries.values())
    return entries


@pytest.mark.parametrize("key, expected", [
    # 10.6: a dissertation from a database/URL; a thesis without one
    ("yu2003morphology", "Yu, A. C. L. (2003). The morphology and phonology of infixation "
     "[Doctoral dissertation, University of California]. "
     "https://escholarship.org/uc/item/4ds6q618"),
    ("doe2019grief", "Doe, J. (2019). Grief at work [Master's thesis, University of Oslo]."),
    # 9.27: "(4th ed.)", whatever the export wrote
    ("bland2015introduction", "Bland, M. (2015). An introduction to medical statistics "
     "(4th ed.). Oxford University Press."),
    ("xie2015dynamic", "Xie, Y. (2015). Dynamic documents with R and knitr (2nd ed.). "
     "Chapman and Hall/CRC."),
    # 9.25 title case of journal names; 9.34 a shortDOI is a DOI
    ("rouder2019optional", "Rouder, J., & Haaf, J. M. (2019). Optional stopping. "
     "Psychonomic Bulletin & Review. https://doi.org/10/gf523c"),
    # a web address in 'doi' is a URL, not https://doi.org/https://...
    ("fisher1925jstor", "Fisher, R. A. (1925). Applications of t. Metron. "
     "https://www.jstor.org/stable/2346101"),
    # a DOI link through a library proxy is the DOI (readers cannot pass the proxy)
    ("benda2024investigation", "Benda, M. S. (2024). Anger. Emotion. "
     "https://doi.org/10.1037/emo0001337"),
    # 10.8: a preprint: year only, archive named, URL from howpublished
    ("williams2018bayesian", "Williams, D. R. (2018). Bayesian meta-analysis. PsyArXiv. "
     "https://psyarxiv.com/7tbrm/"),
    # 9.34: a DOI link given as the URL is printed as https://doi.org/...
    ("haddaway2020prisma", "Haddaway, N. R. (2020). PRISMA2020: An R package. "
     "https://doi.org/10.5281/zenodo.4287835"),
    # 9.25: an article number exported as pages
    ("agnoli2017questionable", "Agnoli, F. (2017). Questionable research practices. "
     "PLOS ONE, 12(3), Article e0172792."),
    # 10.8: BibLaTeX's eprinttype names the archive; a preprint is dated by its year
    ("rouder2019preprint", "Rouder, J. (2019). Optional stopping. PsyArXiv. "
     "https://osf.io/m6dhw"),
    # 9.16 / 10.16: an undated page that changes gets a retrieval date; {\&} in a URL
    ("nimh2023depression", "National Institute of Mental Health. (n.d.). Depression. "
     "Retrieved March 5, 2024, from https://www.nimh.nih.gov/health/topics/depression?a=1&b=2"),
    # BibLaTeX: date and journaltitle; a DOI written as a link
    ("siepe2024bayesian", "Siepe, B. S., Kloft, M., & Heck, D. W. (2024). Bayesian "
     "estimation. Psychological Methods. https://doi.org/10.1037/met0000672"),
])
def test_exported_reference(exports, style, key, expected):
    assert fmt(style, exports[key]) == expected


def cite_first(entries, role, key, first):
    builder = SimpleNamespace(name="html")
    info = kb.apa.CitationInfo(builder, "doc", "doc", f"id-{key}", None, "", "", first=first)
    text = format_references(ApaReferenceStyle(), role, [(entries[key], None, info)])
    return docutils.nodes.paragraph("", "", *text.render(pybtex_docutils.Backend())).astext()


def test_et_al_collisions_name_as_many_authors_as_needed(exports):
    """APA 8.18's own example."""
    assert cite(exports, "p", "kapoor2017a")[0] == "(Kapoor, Bloom, Montez, et al., 2017)"
    assert cite(exports, "p", "kapoor2017b")[0] == "(Kapoor, Bloom, Zucker, et al., 2017)"
    assert cite(exports, "t", "kapoor2017b")[0] == "Kapoor, Bloom, Zucker, et al. (2017)"


def test_first_authors_sharing_a_surname_get_initials(exports):
    """APA 8.20's own example."""
    assert cite(exports, "p", "taylor2015", "taylor2014")[0] == (
        "(J. M. Taylor & Neimeyer, 2015; T. Taylor, 2014)")


def test_group_abbreviation_defined_at_first_citation_then_used(exports):
    """APA 8.21: the abbreviation in brackets (parenthetical) or in the parentheses with
    the year (narrative) at the first citation, alone after."""
    assert cite_first(exports, "p", "samhsa2014", True) == (
        "(Substance Abuse and Mental Health Services Administration [SAMHSA], 2014)")
    assert cite_first(exports, "t", "samhsa2014", True) == (
        "Substance Abuse and Mental Health Services Administration (SAMHSA, 2014)")
    assert cite_first(exports, "p", "samhsa2014", False) == "(SAMHSA, 2014)"
    assert cite_first(exports, "t", "samhsa2014", False) == "SAMHSA (2014)"


def test_prepare_is_idempotent_and_depends_only_on_the_set(exports):
    before = {k: dict(e.fields) for k, e in exports.items()}
    kb.apa.prepare(list(exports.values())[::-1])
    assert {k: dict(e.fields) for k, e in exports.items()} == before


# -- careless and hostile exports never crash the formatter ----------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from pybtex.database import Person  # noqa: E402

# Values as pybtex's .bib parser can deliver them: braces balanced (it refuses others).
FIELD_TEXT = st.lists(st.sampled_from(list("ab Z09-_.:/\\$&%~'`é") + [
    "\\textsf{R}", "\\url{https://a.org/x_y}", "$d_p$", "$p$", "https://", "doi.org/",
    "10.", "{\\&}", "{ACE}", "\\emph{a}", "--", "2019-05-04", "javascript:"]),
    max_size=12).map("".join)
FIELD_NAMES = ["title", "journal", "journaltitle", "year", "date", "month", "day", "volume",
               "number", "pages", "doi", "url", "howpublished", "edition", "publisher",
               "school", "institution", "type", "urldate", "subtitle", "shortauthor",
               "booktitle", "organization", "eid"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(REQUIRED_FIELDS)),
       fields=st.dictionaries(st.sampled_from(FIELD_NAMES), FIELD_TEXT, max_size=10),
       names=st.lists(st.sampled_from(["Doe, Jane", "{World Health Organization}",
                                       "van der Berg, A. B.", "{\\textsf{R} Core Team}"]),
                      max_size=4))
def test_any_exported_entry_formats_or_names_a_missing_field(kind, fields, names):
    entry = Entry(kind, fields=fields, persons={"author": [Person(n) for n in names]})
    entry.key = "k"
    kb.apa.prepare([entry])
    try:
        formatted = ApaStyle().format_entry("k", entry).text
    except FieldIsMissing:
        return
    text = formatted.render_as("text")
    assert "\\textsf" not in text and "\\url" not in text
    for href in re.findall(r'href="([^"]*)"', formatted.render_as("html")):
        assert re.match(r"https?://", href), href  # links are web addresses, nothing else
    for role in ("p", "t"):
        cite({"k": entry}, role, "k")


@pytest.mark.parametrize("name, expected", [
    ("Psychological assessment", "Psychological Assessment"),  # Google Scholar's export
    ("Journal of consulting and clinical psychology", "Journal of Consulting and Clinical Psychology"),
    ("the journal of pain", "The Journal of Pain"),
    ("Psychology & health", "Psychology & Health"),
    ("BMC psychiatry", "BMC Psychiatry"),
    ("npj Digital Medicine", "npj Digital Medicine"),  # a brand, already title case
    ("eLife", "eLife"),
    ("PLOS ONE", "PLOS ONE"),
])
def test_journal_names_in_title_case(name, expected):
    """APA 9.25: journal names in title case; capitals already present are kept."""
    from kb.apa.formatting import title_case
    assert title_case(name) == expected


@pytest.mark.parametrize("raw, expected", [
    ("bindrcpp: An 'Rcpp' interface", "bindrcpp: An \u201cRcpp\u201d interface"),  # APA 6.7
    ("Cohen's d and Hedges' g", "Cohen's d and Hedges' g"),  # apostrophes stay
    ("rock 'n' roll", "rock 'n' roll"),
    (r"Mar{\'\i}n-Sch{\'e}ma and 'x y'", "Marín-Schéma and \u201cx y\u201d"),  # accents
])
def test_single_quoted_words_become_double_quotes(raw, expected):
    from kb.apa.formatting import plain
    assert plain(raw) == expected


def test_in_text_names_are_formatted_once_per_work_and_form_until_forgotten(monkeypatch):
    """Each work's in-text names are formatted once per form (narrative or not, all names
    or not, first citation or not), however often it is cited; ``prepare`` (which
    recomputes the fields they depend on) and each build forget them."""
    from kb.apa import prepare, referencing

    entries = parse_string(BIB, "bibtex").entries
    calls = []
    real = referencing._intext_names
    monkeypatch.setattr(referencing, "_intext_names",
                        lambda *args: calls.append(args[0].key) or real(*args))
    referencing.forget_names()
    for _ in range(3):
        assert cite(entries, "p", "fluckiger2018")[0] == "(Flückiger et al., 2018)"
        assert cite(entries, "t", "fluckiger2018")[0] == "Flückiger et al. (2018)"
        assert cite(entries, "ps", "fluckiger2018")[0] == (
            "(Flückiger, Del Re, Wampold, & Horvath, 2018)")
    assert calls == ["fluckiger2018"] * 3  # parenthetical, narrative, all names

    # the same key, a changed entry: prepare forgets what was formatted
    entries["fluckiger2018"].persons["author"] = entries["fluckiger2018"].persons["author"][:1]
    prepare(entries.values())
    assert cite(entries, "p", "fluckiger2018")[0] == "(Flückiger, 2018)"
    assert calls == ["fluckiger2018"] * 4


def test_a_persons_surname_is_decoded_once_until_forgotten(monkeypatch):
    """Year letters, sorting, in-text names and the reference list all need each person's
    surname and initials: they are decoded from LaTeX once per person (authors and
    editors)."""
    from kb.apa import formatting

    entries = parse_string(BIB, "bibtex").entries
    persons = [p for e in entries.values() for role in e.persons.values() for p in role]
    calls = []
    real = formatting._surname
    monkeypatch.setattr(formatting, "_surname",
                        lambda person: calls.append(person) or real(person))
    formatting.forget_persons()
    suffixes = year_suffixes(entries.values())
    assert year_suffixes(entries.values()) == suffixes
    for entry in entries.values():
        fmt(ApaStyle(), entry)
    assert len(calls) == len(persons) and {id(p) for p in calls} == {id(p) for p in persons}
    formatting.forget_persons()  # decoded again: year letters need the cited persons
    assert year_suffixes(entries.values()) == suffixes
    cited = [p for e in entries.values() for p in kb.apa.cited_persons(e)]
    assert len(calls) == len(persons) + len(cited)
