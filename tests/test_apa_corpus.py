"""The APA 7 formatter against real exports and an independent oracle.

tests/data/apa-corpus.bib holds real BibTeX/BibLaTeX exports (Zotero, Better BibTeX,
Google Scholar, R's citation()) from public repositories, each with its source. The oracle
is citeproc-js with the APA 7 CSL style (tests/oracle/, installed for the tests only with
``npm ci --prefix tests/oracle``). Every form that differs must be listed, with the APA 7
section that decides it and the side that is right, in
tests/data/apa-oracle-differences.yaml; a new or changed difference fails, and so does a
listed one that no longer occurs.
"""

import re
from collections import Counter

import pytest

import apa_oracle


@pytest.fixture(scope="module")
def site():
    return apa_oracle.site_forms()


def test_corpus_is_real_varied_and_sourced():
    text = apa_oracle.CORPUS.read_text(encoding="utf-8")
    heads = re.findall(r"^% source: (.+)\n@(\w+)\{", text, re.M)
    assert len(heads) == len(re.findall(r"^@\w+\{", text, re.M))  # every entry sourced
    assert len(heads) >= 150
    kinds = Counter(kind.lower() for _, kind in heads)
    for kind in ("article", "book", "incollection", "misc", "manual", "techreport",
                 "phdthesis", "online", "inproceedings"):
        assert kinds[kind] >= 1, kind
    assert len({source.split(",")[0] for source, _ in heads}) >= 4


def test_committed_oracle_output_is_what_the_oracle_prints():
    """Reruns citeproc-js; fails (never skips) when Node.js or its packages are missing."""
    fresh = apa_oracle.run_oracle()
    committed = apa_oracle.json.loads(apa_oracle.ORACLE_JSON.read_text(encoding="utf-8"))
    assert fresh["failed"] == {}
    assert fresh == committed, (
        "tests/data/apa-oracle.json is stale: regenerate it with "
        "node tests/oracle/oracle.js tests/data/apa-corpus.bib > tests/data/apa-oracle.json")


def test_every_entry_reaches_both_sides(site):
    oracle = apa_oracle.oracle_forms()
    assert set(site) == set(oracle)


def test_differences_are_exactly_the_documented_ones(site):
    compared, found = apa_oracle.differences(site=site)
    listed = apa_oracle.known()["differences"]
    as_found = {(d["key"], d["form"]): (d["site"], d["oracle"]) for d in found}
    as_listed = {(d["key"], d["form"]): (d["site"], d["oracle"]) for d in listed}
    new = {k: v for k, v in as_found.items() if as_listed.get(k) != v}
    stale = {k: v for k, v in as_listed.items() if k not in as_found}
    assert not new, f"new differences from the oracle (fix, or document with section): {new}"
    assert not stale, f"documented differences that no longer occur (remove them): {stale}"
    assert len(found) <= 0.05 * compared, f"{len(found)} of {compared} forms differ"


def test_citations_of_several_works_are_the_oracles(site):
    """APA 8.12: the oracle's citations of several works (every set of works by the same
    authors in the corpus, and mixed sets), each given in an order that is not the
    reference list's, read as citeproc-js writes them: in the reference list's order,
    the authors' names once with their years. Sets holding a work whose citation already
    differs alone (documented) are left out."""
    data = apa_oracle.json.loads(apa_oracle.ORACLE_JSON.read_text(encoding="utf-8"))
    rules = apa_oracle.known()["rules"]
    differing = {d["key"] for d in apa_oracle.known()["differences"]
                 if d["form"] == "parenthetical"}
    ours = apa_oracle.cluster_forms(data["clusters"])
    compared = same_authors = 0
    for cluster, text in zip(data["clusters"], ours):
        if text is None or differing & set(cluster["ids"]):
            continue
        theirs = apa_oracle.apply_rules("parenthetical", apa_oracle._oracle_text(
            cluster["parenthetical"]), rules)
        assert text == theirs, cluster["ids"]
        compared += 1
        same_authors += bool(FOLDED.search(theirs))
    # every set the oracle folds into one name (five in the corpus) is compared
    folded = sum(bool(FOLDED.search(apa_oracle._oracle_text(c["parenthetical"])))
                 for c in data["clusters"])
    assert compared >= 50 and same_authors == folded >= 5, (compared, same_authors, folded)


#: A name given once for several works: "(Becker, 1988, 2005)".
FOLDED = re.compile(r"(\d{4}[a-z]?|n\.d\.(-[a-z])?), (\d{4}|n\.d\.)")


def test_each_documented_difference_names_its_section_and_side():
    data = apa_oracle.known()
    for item in data["differences"] + data["rules"]:
        assert re.fullmatch(r"\d+\.\d+", str(item["section"])), item
        assert item["why"].strip()
    for item in data["differences"]:
        assert item["right"] in ("site", "oracle", "both"), item
        assert item["form"] in apa_oracle.FORMS


def test_disambiguation_on_real_entries(site):
    """APA 8.18 and 8.20 on works the corpus really holds."""
    # three Cuijpers et al. (2019) papers with different co-authors
    assert site["cuijpers2019role"]["parenthetical"] == "(Cuijpers, Reijnders, et al., 2019)"
    # two first authors named Lenth with other initials (R. vs R. V.)
    assert site["R-emmeans"]["narrative"] == "R. Lenth (2018)"
    assert site["R-estimability"]["parenthetical"] == "(R. V. Lenth, 2015)"


def test_latex_never_reaches_the_output(site):
    for key, forms in site.items():
        for form, text in forms.items():
            assert "\\" not in text and "{" not in text and "$" not in text, (key, form, text)
