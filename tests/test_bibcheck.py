"""Tests for the references.bib linter (kb.bibcheck): codes, lines, keys and advice."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "docs" / "_ext"))

import pybtex.errors  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import kb.apa.formatting as formatting  # noqa: E402
from kb import bibcheck  # noqa: E402
from kb.bibcheck import BibIndex, BibProblem, check_bib, unused_keys  # noqa: E402

# Three entries copied from the real references.bib (header lines 2, 13 and 24).
CLEAN = r"""% header comment
@article{norcross2018psychotherapy,
  author  = {Norcross, John C. and Lambert, Michael J.},
  year    = {2018},
  title   = {Psychotherapy relationships that work {III}},
  journal = {Psychotherapy},
  volume  = {55},
  number  = {4},
  pages   = {303--315},
  doi     = {10.1037/pst0000193},
}

@article{felitti1998relationship,
  author  = {Felitti, Vincent J. and Anda, Robert F.},
  year    = {1998},
  title   = {Relationship of childhood abuse and household dysfunction to many of the leading causes of death in adults: {The} {Adverse Childhood Experiences} ({ACE}) {Study}},
  journal = {American Journal of Preventive Medicine},
  volume  = {14},
  number  = {4},
  pages   = {245--258},
  doi     = {10.1016/S0749-3797(98)00017-8}
}

@techreport{samhsa2014tip57,
  author      = {{Substance Abuse and Mental Health Services Administration}},
  year        = {2014},
  title       = {Trauma-informed care in behavioral health services},
  number      = {Treatment Improvement Protocol (TIP) Series 57, HHS Publication No. (SMA) 13-4801},
  institution = {Substance Abuse and Mental Health Services Administration},
  url         = {https://www.ncbi.nlm.nih.gov/books/n/tip57/}
}
"""


def article(key="rogers1957necessary", title="The necessary and sufficient conditions",
            extra=""):
    """A valid one-entry .bib text of 7 lines (+ *extra*): header on line 1, doi on line 6."""
    return (
        f"@article{{{key},\n"
        "  author  = {Rogers, Carl R.},\n"
        "  year    = {1957},\n"
        f"  title   = {{{title}}},\n"
        "  journal = {Journal of Consulting Psychology},\n"
        "  doi     = {10.1037/h0045357},\n"
        f"{extra}"
        "}\n"
    )


def only(index: BibIndex) -> BibProblem:
    assert len(index.problems) == 1, index.problems
    return index.problems[0]


def test_clean_excerpt_has_no_problems():
    index = check_bib(CLEAN)
    assert index.problems == []
    assert index.entries == {
        "norcross2018psychotherapy": 2,
        "felitti1998relationship": 13,
        "samhsa2014tip57": 24,
    }


def test_real_references_bib_is_clean():
    text = (REPO / "references.bib").read_text(encoding="utf-8")
    index = check_bib(text)
    assert index.problems == []
    assert len(index.entries) == text.count("\n@")
    assert index.entries["angus2015humanistic"] == 8


def test_duplicate_key_reported_at_second_occurrence():
    text = article() + "\n" + article(key="Rogers1957Necessary")  # second header: line 9
    problems = [p for p in check_bib(text).problems if p.code == "duplicate-key"]
    assert [(p.line, p.key) for p in problems] == [(9, "Rogers1957Necessary")]
    assert "first defined on line 1" in problems[0].message
    assert "give each work one entry" in problems[0].message
    assert check_bib(text).entries == {"rogers1957necessary": 1}


def test_missing_journal():
    text = "\n@article{orth2014development,\n  author = {Orth, Ulrich},\n  year = {2014},\n  title = {The development of self-esteem}\n}\n"
    problem = only(check_bib(text))
    assert (problem.code, problem.line, problem.key) == ("missing-field", 2, "orth2014development")
    assert "'journal'" in problem.message
    assert "add the journal's name: journal = {Psychotherapy Research}" in problem.message


def test_book_without_author_or_editor():
    text = "@book{smith2020guide,\n  year = {2020},\n  title = {A guide},\n  publisher = {Guilford Press},\n}\n"
    problem = only(check_bib(text))
    assert (problem.code, problem.line, problem.key) == ("missing-field", 1, "smith2020guide")
    assert "neither 'author' nor 'editor'" in problem.message


def test_book_with_editor_is_complete():
    text = "@book{smith2020guide,\n  editor = {Smith, Ann},\n  year = {2020},\n  title = {A guide},\n  publisher = {Guilford Press},\n}\n"
    assert check_bib(text).problems == []


@pytest.mark.parametrize("doi", ["https://doi.org/10.1037/h0045357", "doi:10.1037/h0045357"])
def test_prefixed_doi_reported_at_doi_line(doi):
    text = article().replace("10.1037/h0045357", doi)
    problem = only(check_bib(text))
    assert (problem.code, problem.line, problem.key) == ("bad-doi", 6, "rogers1957necessary")
    # the fix is certain, so the message gives it
    assert "write doi = {10.1037/h0045357}" in problem.message


def test_malformed_doi():
    problem = only(check_bib(article().replace("10.1037/h0045357", "10.1037 h0045357")))
    assert (problem.code, problem.line) == ("bad-doi", 6)
    assert "is not a DOI" in problem.message


def test_unbalanced_brace_reported_and_next_entry_still_indexed():
    broken = article().replace("{Journal of Consulting Psychology}", "{Journal of Consulting Psychology")
    text = broken + "\n" + article(key="bordin1979generalizability")  # 2nd header: line 9
    index = check_bib(text)
    problem = only(index)
    assert (problem.code, problem.line, problem.key) == ("syntax", 5, "rogers1957necessary")
    assert "'journal' is not closed" in problem.message and "line 6" in problem.message
    assert index.entries == {"rogers1957necessary": 1, "bordin1979generalizability": 9}


def test_unclosed_last_entry_reported_at_its_header():
    text = article() + "\n" + article(key="bordin1979generalizability").rstrip("}\n") + "\n"
    problem = only(check_bib(text))
    assert (problem.code, problem.line, problem.key) == ("syntax", 9, "bordin1979generalizability")
    assert "not closed" in problem.message


def test_extra_closing_brace():
    text = article(title="The necessary}")
    problem = only(check_bib(text))
    assert (problem.code, problem.line) == ("syntax", 4)
    assert "extra '}'" in problem.message


def test_missing_comma_reported_on_the_line_that_needs_it():
    text = article().replace("{1957},", "{1957}")
    problem = only(check_bib(text))
    assert (problem.code, problem.line, problem.key) == ("syntax", 3, "rogers1957necessary")
    assert "missing ','" in problem.message and "'title' on line 4" in problem.message


def test_missing_key():
    text = article() + "\n@article{\n  author = {Shear, M. Katherine},\n  title = {Grief},\n}\n"
    index = check_bib(text)
    problem = only(index)
    assert (problem.code, problem.line, problem.key) == ("syntax", 9, None)
    assert "has no key" in problem.message
    assert index.entries == {"rogers1957necessary": 1}


def test_unbraced_value():
    problem = only(check_bib(article().replace("{1957}", "nineteen")))
    assert (problem.code, problem.line) == ("syntax", 3)
    assert "'nineteen'" in problem.message and "braces" in problem.message


def test_repeated_field():
    problem = only(check_bib(article(extra="  title = {Again},\n")))
    assert (problem.code, problem.line) == ("syntax", 7)
    assert "'title' appears twice" in problem.message and "first on line 4" in problem.message


def test_title_case_title():
    text = article(title="The Necessary and Sufficient Conditions of Therapeutic Personality Change")
    problem = only(check_bib(text))
    assert (problem.code, problem.line, problem.key) == ("title-case", 4, "rogers1957necessary")
    assert "sentence case" in problem.message and "protect those with braces" in problem.message


@pytest.mark.parametrize("title", [
    "{National Suicide Prevention Lifeline} crisis chat interventions: {Evaluation} of chatters",
    "Cultural humility: Measuring openness to culturally diverse clients",  # capital after colon
    "Complex {PTSD}: {A} syndrome in survivors of prolonged and repeated trauma",
    "Psychotherapy Research",  # too short to judge
])
def test_sentence_case_titles_not_flagged(title):
    assert check_bib(article(title=title)).problems == []


def test_unsupported_type():
    text = "@patent{doe2019grief,\n  author = {Doe, Jane},\n  year = {2019},\n  title = {Grief},\n}\n"
    problem = only(check_bib(text))
    assert (problem.code, problem.line, problem.key) == ("unsupported-type", 1, "doe2019grief")
    assert "@patent" in problem.message and "use @misc" in problem.message


@pytest.mark.parametrize("key", ["Rogers1957", "rogers57necessary", "rogers_1957", "rogérs1957"])
def test_bad_key(key):
    problem = only(check_bib(article(key=key)))
    assert (problem.code, problem.line, problem.key) == ("bad-key", 1, key)
    assert "surname + year" in problem.message


def test_unused_keys():
    index = check_bib(CLEAN)
    problems = unused_keys(index, {"Norcross2018Psychotherapy", "samhsa2014tip57"})
    assert problems == [BibProblem(
        13, "felitti1998relationship", "unused",
        "'felitti1998relationship' is not cited by any article; cite it or remove it")]


def test_several_problems_in_line_order():
    text = (
        article(key="Bad2020", title="Psychotherapy Relationships That Work")  # 1-7
        + "@article{dup2020x,\n  title = {Missing everything}\n}\n"  # 8-10
        + article().replace("{1957},", "{1957}")  # 11-17, comma missing on 13
        + "@misc{dup2020x,\n  title = {x},\n  doi = {doi:10.1/x},\n}\n"  # 18-21
    )
    found = [(p.line, p.code, p.key) for p in check_bib(text).problems]
    assert found == [
        (1, "bad-key", "Bad2020"),
        (4, "title-case", "Bad2020"),
        (8, "missing-field", "dup2020x"),
        (8, "missing-field", "dup2020x"),
        (8, "missing-field", "dup2020x"),
        (13, "syntax", "rogers1957necessary"),
        (18, "duplicate-key", "dup2020x"),
        (20, "bad-doi", "dup2020x"),
    ]


def test_comments_strings_and_outside_text_ignored():
    text = (
        "Free text @ outside entries.\n"
        "@comment{anything {goes} here}\n"
        "@string{jcp = {Journal of Consulting Psychology}}\n"
        "@preamble{\"\\newcommand{\\x}{y}\"}\n"
        + article().replace("{Journal of Consulting Psychology}", "jcp")
    )
    index = check_bib(text)
    assert index.problems == []
    assert index.entries == {"rogers1957necessary": 5}


def test_missing_fields_rules_come_from_apa_formatting(monkeypatch):
    assert bibcheck.missing_fields is formatting.missing_fields
    assert bibcheck.REQUIRED_FIELDS is formatting.REQUIRED_FIELDS
    monkeypatch.setitem(formatting.REQUIRED_FIELDS, "article", ("author", "title", "volume"))
    problem = only(check_bib(article()))
    assert (problem.code, problem.line) == ("missing-field", 1)
    assert "'volume'" in problem.message


def test_silent_even_when_pybtex_is_not_strict(monkeypatch, capsys):
    monkeypatch.setattr(pybtex.errors, "strict", False)
    text = article().replace("{1957},", "{1957}") + article(key="x2020y", extra="  author = {A, B, C, D},\n")
    problems = check_bib(text).problems
    assert {p.code for p in problems} == {"syntax"}
    assert capsys.readouterr() == ("", "")
    assert pybtex.errors.captured_errors is None


# -- never raises ---------------------------------------------------------------

SIGNIFICANT = st.sampled_from(list('{}@,="()#%\\\n \t') + ["@article{", "= {", "},\n", "\r\n"])
VALID = CLEAN + article()


def assert_sane(text: str, index: BibIndex) -> None:
    last_line = text.count("\n") + 1
    assert all(1 <= line <= last_line for line in index.entries.values())
    assert all(1 <= p.line <= last_line and p.message for p in index.problems)
    assert [p.line for p in index.problems] == sorted(p.line for p in index.problems)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text())
def test_random_text_never_raises(capsys, text):
    assert_sane(text, check_bib(text))
    assert capsys.readouterr() == ("", "")


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, len(VALID)), st.integers(0, 3), SIGNIFICANT | st.text(max_size=3)),
                max_size=6))
def test_mutated_entries_never_raise(capsys, edits):
    text = VALID
    for position, delete, insert in edits:
        text = text[:position] + insert + text[position + delete:]
    index = check_bib(text)
    assert_sane(text, index)
    assert unused_keys(index, set()) is not None
    assert capsys.readouterr() == ("", "")


# -- real exports (Zotero, Better BibLaTeX, Google Scholar, Mendeley) -----------------------


def test_short_doi_is_a_doi():
    assert check_bib(article().replace("10.1037/h0045357", "10/gf523c")).problems == []


def test_doi_holding_a_web_address_says_to_move_it_to_url():
    text = article().replace("10.1037/h0045357", "https://www.jstor.org/stable/2346101")
    problem = only(check_bib(text))
    assert (problem.code, problem.line) == ("bad-doi", 6)
    assert "is a web address, not a DOI; move it to url = {...}" in problem.message


def test_biblatex_export_needs_no_bibtex_fields():
    text = (
        "@article{siepe2024bayesian,\n"
        "  title = {Bayesian estimation and comparison of idiographic network models},\n"
        "  author = {Siepe, Björn S. and Kloft, Matthias and Heck, Daniel W.},\n"
        "  date = {2024-09-30},\n"
        "  journaltitle = {Psychological Methods},\n"
        "  doi = {10.1037/met0000672}\n"
        "}\n")
    assert check_bib(text).problems == []


@pytest.mark.parametrize("kind, extra", [
    ("phdthesis", "school = {University of California}"),
    ("mastersthesis", "school = {University of Oslo}"),
    ("unpublished", "note = {Manuscript}"),
    ("manual", "url = {https://CRAN.R-project.org/package=esc}"),
    ("online", "url = {https://www.who.int/news}"),
    ("webpage", "url = {https://www.who.int/news}"),
])
def test_types_apa_has_a_form_for_are_accepted(kind, extra):
    text = f"@{kind}{{doe2019grief,\n  author = {{Doe, Jane}},\n  year = {{2019}},\n" \
           f"  title = {{Grief}},\n  {extra},\n}}\n"
    assert check_bib(text).problems == []


def test_group_author_book_needs_no_publisher():
    text = ("@book{who2019mental,\n  author = {{World Health Organization}},\n"
            "  year = {2019},\n  title = {Mental health in primary care},\n}\n")
    assert check_bib(text).problems == []
    person = text.replace("{{World Health Organization}}", "{Doe, Jane}")
    problem = only(check_bib(person.replace("who2019mental", "doe2019mental")))
    assert problem.code == "missing-field"
    assert "add the publisher: publisher = {Guilford Press}" in problem.message


def test_sentence_case_journal_gets_its_title_cased_fix_as_a_note():
    text = article().replace("Journal of Consulting Psychology", "Psychological assessment")
    problem = only(check_bib(text))
    assert (problem.code, problem.line) == ("journal-case", 5)
    assert "journal = {Psychological Assessment}" in problem.message
    assert problem.code in bibcheck.NOTE_CODES


def test_google_scholar_inproceedings_with_journal_is_told_to_be_an_article():
    text = ("@inproceedings{cousineau2021study,\n  author = {Cousineau, Denis},\n"
            "  year = {2021},\n  title = {A study},\n  journal = {Quant. Methods Psychol},\n}\n")
    problem = only(check_bib(text))
    assert problem.code == "missing-field"
    assert "change it to @article" in problem.message


def test_doi_through_a_library_proxy_gets_its_bare_doi():
    text = article().replace("10.1037/h0045357",
                             "https://doi-org.proxy.example.edu/10.1037/h0045357")
    problem = only(check_bib(text))
    assert (problem.code, problem.line) == ("bad-doi", 6)
    assert "library's proxy" in problem.message
    assert "write doi = {10.1037/h0045357}" in problem.message


def test_better_bibtex_title_case_in_double_braces_is_flagged():
    """Better BibTeX braces every capital of a Title Case Zotero title (Lakens's
    include/book.bib: 'The {{Value}} of {{Life}} and {{Health}} for {{Public Policy}}')."""
    title = "The {{Value}} of {{Life}} and {{Health}} for {{Public Policy}}"
    problem = only(check_bib(article(title=title)))
    assert (problem.code, problem.line) == ("title-case", 4)
    assert "change the title in the reference manager" in problem.message
    # a braced acronym or name in a sentence-case title is still fine
    assert check_bib(article(title="Treating {{PTSD}} in {{Rwanda}}: A randomized trial")).problems == []
