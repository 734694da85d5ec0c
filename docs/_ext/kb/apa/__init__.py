"""APA 7th-edition citation style for sphinxcontrib-bibtex and pybtex.

Usage (``conf.py`` or a Sphinx extension, before the bibtex domain loads
its styles)::

    import kb.apa
    kb.apa.register()
    bibtex_default_style = "apa7"      # reference list
    bibtex_reference_style = "apa7"    # in-text citations

Year suffix contract: the caller computes :func:`year_suffixes` once over all
entries and stores each letter in the non-bib field ``yearsuffix`` of the
pybtex entry (``entry.fields["yearsuffix"] = "a"``) before formatting; both
styles append it to the year (``2014a``, ``n.d.-a``).
"""

from itertools import groupby

import pybtex.plugin
import sphinxcontrib.bibtex.plugin

from .formatting import (
    ARTICLES,
    REQUIRED_FIELDS,
    ApaStyle,
    initials,
    missing_fields,
    plain,
    sort_text,
    surname,
)
from .referencing import ApaReferenceStyle

__all__ = [
    "REQUIRED_FIELDS",
    "ApaReferenceStyle",
    "ApaStyle",
    "missing_fields",
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
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        names = tuple((str(surname(p)), str(initials(p))) for p in persons)
        return names, plain(entry.fields.get("year", ""))

    def title_key(entry):
        return ARTICLES.sub("", sort_text(plain(entry.fields.get("title", ""))))

    candidates = sorted(
        (e for e in entries if group_key(e)[0]),
        key=lambda e: (group_key(e), title_key(e), e.key),
    )
    result = {}
    for _, group in groupby(candidates, key=group_key):
        group = list(group)
        if len(group) > 1:
            result.update((e.key, _suffix(i)) for i, e in enumerate(group))
    return result
