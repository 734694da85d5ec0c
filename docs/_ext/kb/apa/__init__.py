"""APA 7th-edition citation style for sphinxcontrib-bibtex and pybtex.

Usage (``conf.py`` or a Sphinx extension, before the bibtex domain loads
its styles)::

    import kb.apa
    kb.apa.register()
    bibtex_default_style = "apa7"      # reference list
    bibtex_reference_style = "apa7"    # in-text citations

Disambiguation contract: the caller runs :func:`prepare` once over all entries of the
.bib file(s) before formatting.  It fills BibTeX fields from BibLaTeX ones
(:func:`canonical`) and stores, in non-bib fields of the pybtex entries:

* ``yearsuffix``: the letter of works by identical authors in the same year (APA 8.19;
  ``2014a``, ``n.d.-a``), by :func:`year_suffixes`;
* ``citenames``: how many names a citation of a work with three or more authors shows
  before "et al." when one name would make two works look the same (APA 8.18);
* ``citeinitials``: ``1`` when another work's first author has the same surname but
  other initials, so citations give the first author's initials (APA 8.20).

Each value depends only on the set of entries, so a formatted entry may be cached while
the .bib files are unchanged.
"""

from collections import defaultdict
from itertools import groupby

import pybtex.plugin
import sphinxcontrib.bibtex.plugin

from .formatting import (
    ARTICLES,
    REQUIRED_FIELDS,
    ApaStyle,
    canonical,
    initials,
    is_group,
    missing_fields,
    plain,
    sort_text,
    surname,
)
from .referencing import (
    ApaReferenceStyle,
    CitationInfo,
    first_matters,
    forget_names,
    format_citation,
    in_citation_order,
)

__all__ = [
    "REQUIRED_FIELDS",
    "ApaReferenceStyle",
    "ApaStyle",
    "CitationInfo",
    "first_matters",
    "forget_names",
    "format_citation",
    "in_citation_order",
    "missing_fields",
    "prepare",
    "register",
    "year_suffixes",
]

STYLE_NAME = "apa7"


def register():
    """Register ``apa7`` for pybtex formatting and sphinxcontrib-bibtex
    referencing.  Idempotent; re-registration replaces a stale class.
    """
    pybtex.plugin.register_plugin(
        "pybtex.style.formatting", STYLE_NAME, ApaStyle, force=True
    )
    sphinxcontrib.bibtex.plugin.register_plugin(
        "sphinxcontrib.bibtex.style.referencing",
        STYLE_NAME,
        ApaReferenceStyle,
        force=True,
    )


def _suffix(index):
    """0 -> a, 25 -> z, 26 -> aa, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


def year_suffixes(entries):
    """Map entry key -> year suffix letter for works by identical authors
    (surnames and initials, in order) in the same year (or n.d.).

    Letters follow title order, ignoring a leading A/An/The (APA 9.47).
    Entries needing no suffix are absent.  Entries without author or
    editor are never suffixed.
    """

    def group_key(entry):
        persons = cited_persons(entry)
        names = tuple((str(surname(p)), str(initials(p))) for p in persons)
        return names, plain(entry.fields.get("year", ""))

    def title_key(entry):
        return ARTICLES.sub("", sort_text(plain(entry.fields.get("title", ""))))

    entries = list(entries)
    # each entry's names once (decoding their LaTeX is the slow part); identical titles
    # keep the file's order
    keys = [(group_key(e), i, e) for i, e in enumerate(entries)]
    candidates = sorted(
        ((key, title_key(e), i, e) for key, i, e in keys if key[0]),
        key=lambda item: item[:3],
    )
    result = {}
    for _, group in groupby(candidates, key=lambda item: item[0]):
        group = [item[3] for item in group]
        if len(group) > 1:
            result.update((e.key, _suffix(i)) for i, e in enumerate(group))
    return result


def cited_persons(entry):
    """The persons a citation names: the authors, else the editors."""
    return entry.persons.get("author") or entry.persons.get("editor") or []


def prepare(entries):
    """Make *entries* ready to format: canonical fields and the disambiguation fields
    ``yearsuffix``, ``citenames`` and ``citeinitials`` (see the module docstring).
    Idempotent: earlier values are recomputed.
    """
    entries = list(entries)
    forget_names()
    for entry in entries:
        canonical(entry)
        for name in ("yearsuffix", "citenames", "citeinitials"):
            entry.fields.pop(name, None)
    keyed = {entry.key: entry for entry in entries}
    for key, suffix in year_suffixes(entries).items():
        keyed[key].fields["yearsuffix"] = suffix
    by_key = {}
    # APA 8.20: first authors who share a surname get their initials in every citation.
    first_authors = defaultdict(set)
    for entry in entries:
        persons = cited_persons(entry)
        if persons and not is_group(persons[:1]):
            first_authors[sort_text(str(surname(persons[0])))].add(
                sort_text(str(initials(persons[0]))))
    for entry in entries:
        persons = cited_persons(entry)
        if persons and not is_group(persons[:1]) and len(
                first_authors[sort_text(str(surname(persons[0])))]) > 1:
            entry.fields["citeinitials"] = "1"
    # APA 8.18: works of 3+ authors that shorten to the same "Surname et al., Year" name
    # as many authors as it takes to tell them apart (identical lists get letters).
    for entry in entries:
        persons = cited_persons(entry)
        if len(persons) >= 3:
            names = tuple(sort_text(str(surname(p))) for p in persons)
            year = plain(entry.fields.get("year", ""))
            by_key.setdefault((names[0], year), []).append((entry, names))
    for group in by_key.values():
        lists = {names for _, names in group}
        if len(lists) < 2:
            continue
        for entry, names in group:
            shown = 1
            for other in lists - {names}:
                common = next((i for i, (a, b) in enumerate(zip(names, other)) if a != b),
                              min(len(names), len(other)))
                shown = max(shown, common + 1)
            if shown > 1:
                entry.fields["citenames"] = str(min(shown, len(names)))
    return entries
