"""APA 7 in-text citation style for sphinxcontrib-bibtex (registered as ``apa7``).

* ``cite:p``  -> ``(Rogers, 1957)``, ``(Norcross & Lambert, 2018)``,
  ``(Flückiger et al., 2018)``, ``(see Rogers, 1957, p. 96)``; several works
  are separated by ``"; "`` in the order given.  The link covers
  ``Author, Year``; pre- and post-text stay outside it.
  Through :func:`format_citation` (as the site cites): several works in the order
  of the reference list, works by the same authors as one name with their years,
  ``(Bordin, 1979; Orth & Robins, 2013, 2014)`` (APA 8.12).
* ``cite:t``  -> ``Rogers (1957)``, ``Norcross and Lambert (2018)``,
  ``Flückiger et al. (2018)``, ``Rogers (1957, p. 96)``; the link covers the
  whole ``Author (Year[, post])``; pre-text is put before the author
  (``see Rogers (1957)``).  Several works are joined as prose:
  ``A (1957) and B (1979)``, ``A (1957), B (1979), and C (2000)``; through
  :func:`format_citation`, works by the same authors as one name with their years,
  ``Suliman (2018) and Gutiérrez (2012, 2017)``, each year its own link.
* ``ps``/``ts`` list all authors; ``ct``/``cts`` capitalize; ``alp``/``alps``
  omit the parentheses; ``author*``, ``year*``, ``label*`` and ``empty``
  behave as in sphinxcontrib-bibtex's ``author_year`` style.

Years carry the ``yearsuffix`` field (``2014a``); ``n.d.`` without a year.
"""

from dataclasses import dataclass, field

from pybtex.richtext import Tag, Text
from sphinxcontrib.bibtex.style.referencing import (
    BracketStyle,
    GroupReferenceStyle,
    PersonStyle,
    format_references,
)
from sphinxcontrib.bibtex.style.referencing.basic_author_year import (
    BasicAuthorYearParentheticalReferenceStyle,
    BasicAuthorYearTextualReferenceStyle,
)
from sphinxcontrib.bibtex.style.referencing.extra_author import (
    ExtraAuthorReferenceStyle,
)
from sphinxcontrib.bibtex.style.referencing.extra_empty import ExtraEmptyReferenceStyle
from sphinxcontrib.bibtex.style.referencing.extra_label import ExtraLabelReferenceStyle
from sphinxcontrib.bibtex.style.referencing.extra_year import ExtraYearReferenceStyle
from sphinxcontrib.bibtex.style.template import (
    SphinxReferenceInfo,
    join,
    join2,
    node,
    post_text,
    pre_text,
    reference,
)

from .formatting import (
    SurnameStyle,
    forget_persons,
    initials,
    is_group,
    latex,
    plain,
    remembered,
    surname,
    year_label,
)


class CitationInfo(SphinxReferenceInfo):
    """sphinxcontrib-bibtex's SphinxReferenceInfo plus ``first``: whether this is the
    page's first citation of the work (a group abbreviation is defined there, APA 8.21)."""

    def __new__(cls, *args, first=True):
        self = super().__new__(cls, *args)
        self.first = first
        return self


def _first(data):
    return getattr(data["reference_info"], "first", True)


def _abbreviation(entry):
    """The group author's abbreviation (``shortauthor = {SAMHSA}``), or ``""``."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    if not is_group(persons):
        return ""
    return plain(entry.fields.get("shortauthor", "")).strip()


def first_matters(entry) -> bool:
    """Whether a citation of *entry* reads differently at the page's first citation of
    it: only a group author's abbreviation is defined there (APA 8.21); any other work's
    citation is the same wherever it is. Worked out once per work until forgotten
    (:func:`forget_names`)."""
    return remembered(entry, "first matters", lambda entry: bool(_abbreviation(entry)))


def forget_names() -> None:
    """Drop the remembered in-text names, surnames and initials (the entries may have
    changed)."""
    forget_persons()


def intext_names(entry, narrative=False, full=False, first=True):
    """The names of an in-text citation, formatted once per work and form until
    forgotten (:func:`forget_names`, which ``prepare`` and each build call)."""
    return remembered(entry, ("intext", narrative, full, first),
                      lambda entry: _intext_names(entry, narrative, full, first))


def _intext_names(entry, narrative=False, full=False, first=True):
    """The names of an in-text citation (APA 8.17-8.21).

    One or two authors: all; three or more: the first, "et al." (or as many as
    ``citenames`` says, APA 8.18); ``citeinitials`` puts the first author's initials
    before the surname (8.20); a group author with ``shortauthor`` is written out with
    ``[ABBR]`` at the page's first citation and abbreviated after (8.21); without
    authors or editors, the title.
    """
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    if not persons:
        title = latex(entry.fields.get("title", ""))
        if entry.type in ("article", "incollection", "inbook", "inproceedings"):
            return Text("\u201c", title, "\u201d")
        return Text(Tag("em", title))
    short = _abbreviation(entry)
    if short:
        if not first:
            return Text(short)
        return Text(surname(persons[0])) if narrative else Text(surname(persons[0]), f" [{short}]")
    names = [surname(p) for p in persons]
    if entry.fields.get("citeinitials") and initials(persons[0]):
        names[0] = Text(initials(persons[0]), " ", names[0])
    shown = len(names) if full or len(names) <= 2 else int(entry.fields.get("citenames", 1) or 1)
    if shown < len(names):
        return Text(Text(", ").join(names[:shown]), " et al." if shown == 1 else ", et al.")
    last = " and " if narrative else " & "
    if len(names) == 1:
        return Text(names[0])
    if len(names) == 2:
        return Text(names[0], last, names[1])
    return Text(Text(", ").join(names[:-1]), "," + last, names[-1])


@node
def year(children, data):
    """Year with ``yearsuffix`` (``2014a``), or ``n.d.``."""
    assert not children
    return Text(year_label(data["entry"]))


@node
def narrative_year(children, data):
    """Year of ``cite:t``; at a group's first citation with its abbreviation first:
    ``Substance Abuse and Mental Health Services Administration (SAMHSA, 2014)``."""
    assert not children
    entry = data["entry"]
    short = _abbreviation(entry)
    if short and _first(data):
        return Text(f"{short}, ", year_label(entry))
    return Text(year_label(entry))


@node
def names(children, data, narrative=False, full=False):
    """The in-text names of the entry (see :func:`intext_names`)."""
    assert not children
    return intext_names(data["entry"], narrative, full, _first(data))


def parenthetical_person():
    """Names for ``(A & B, 2018)`` / ``(A et al., 2018)``."""
    return PersonStyle(
        style=SurnameStyle, sep=", ", sep2=" & ", last_sep=", & ", other=" et al."
    )


def narrative_person():
    """Names for ``A and B (2018)`` / ``A et al. (2018)``."""
    return PersonStyle(
        style=SurnameStyle, sep=", ", sep2=" and ", last_sep=", and ", other=" et al."
    )


@dataclass
class ApaParentheticalStyle(BasicAuthorYearParentheticalReferenceStyle):
    """``(pre Author, Year, post)``; link on ``Author, Year``."""

    def inner(self, role_name):
        return join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[
            pre_text,
            reference[
                join(sep=self.author_year_sep)[
                    names(full="s" in role_name),
                    year,
                ]
            ],
            post_text,
        ]


@dataclass
class ApaTextualStyle(BasicAuthorYearTextualReferenceStyle):
    """``pre Author (Year, post)``; link on ``Author (Year, post)``."""

    def inner(self, role_name):
        return join(sep=self.pre_text_sep)[
            pre_text,
            reference[
                join(sep=self.text_reference_sep)[
                    names(narrative=True, full="s" in role_name),
                    join[
                        self.bracket.left,
                        join(sep=self.post_text_sep)[narrative_year, post_text],
                        self.bracket.right,
                    ],
                ]
            ],
        ]


@dataclass
class ApaYearStyle(ExtraYearReferenceStyle):
    """``cite:year`` with year suffix."""

    def inner(self, role_name):
        return reference[year]


@dataclass
class ApaReferenceStyle(GroupReferenceStyle):
    """APA 7 author-date citations (Publication Manual 8.10-8.36)."""

    #: Outer brackets/separators of ``cite:p``: ``(A, 2018; B, 2019)``.
    bracket_parenthetical: BracketStyle = field(
        default_factory=lambda: BracketStyle("(", ")", "; ")
    )
    #: Year brackets of ``cite:t`` and prose joining of several works.
    bracket_textual: BracketStyle = field(
        default_factory=lambda: BracketStyle("(", ")", ", ", " and ", ", and ")
    )
    #: Brackets for ``cite:authorpar``/``yearpar``/``labelpar``.
    bracket_other: BracketStyle = field(
        default_factory=lambda: BracketStyle("(", ")", "; ")
    )
    #: Names in ``cite:p``; also the name formatter that sphinxcontrib-bibtex's
    #: ``names`` template looks up as ``style.person``.
    person: PersonStyle = field(default_factory=parenthetical_person)
    #: Names in ``cite:t`` and ``cite:author``.
    person_narrative: PersonStyle = field(default_factory=narrative_person)

    def __post_init__(self):
        self.styles.extend(
            [
                ApaParentheticalStyle(
                    bracket=self.bracket_parenthetical,
                    person=self.person,
                ),
                ApaTextualStyle(
                    bracket=self.bracket_textual, person=self.person_narrative
                ),
                ExtraAuthorReferenceStyle(
                    bracket=self.bracket_other, person=self.person_narrative
                ),
                ExtraLabelReferenceStyle(bracket=self.bracket_other),
                ApaYearStyle(bracket=self.bracket_other),
                ExtraEmptyReferenceStyle(),
            ]
        )
        super().__post_init__()


#: The roles of parenthetical citations: ``(A, 2018; B, 2019)``.
PARENTHETICAL_ROLES = frozenset({"p", "ps", "alp", "alps"})
#: The roles of narrative citations: ``A (2018) and B (2019)``.
NARRATIVE_ROLES = frozenset({"t", "ts", "ct", "cts"})


def _plain(info) -> bool:
    """A work cited without a text before or after it (no ``see``, no page)."""
    return not info.pre_text and not info.post_text


def _names_key(entry, info, narrative: bool, full: bool) -> str:
    """How a work's in-text names read in this citation (works that read the same are
    cited with one name)."""
    return str(intext_names(entry, narrative=narrative, full=full,
                            first=getattr(info, "first", True)))


def in_citation_order(role_name, references, order) -> list:
    """*references* in the order :func:`format_citation` cites them.

    Parenthetical: the reference list's, unless a work has a text before it (then as
    given). Narrative: as given, but each work by the same authors (without a text
    before or after it) joins the first of them, their years in the reference list's
    order (``Gutiérrez (2012, 2017)``)."""
    references = list(references)
    if role_name in PARENTHETICAL_ROLES and not any(
            info.pre_text for _entry, _formatted, info in references):
        references.sort(key=lambda reference: order(reference[0].key))
    elif role_name in NARRATIVE_ROLES and len(references) > 1:
        full = "s" in role_name
        groups: list[list] = []
        by_names: dict[str, list] = {}
        for reference in references:
            entry, _formatted, info = reference
            if not _plain(info):
                groups.append([reference])
                continue
            names_now = _names_key(entry, info, True, full)
            if names_now in by_names:
                by_names[names_now].append(reference)
            else:
                by_names[names_now] = [reference]
                groups.append(by_names[names_now])
        references = [reference for group in groups
                      for reference in sorted(group, key=lambda r: order(r[0].key))]
    return references


def format_citation(style, role_name, references, order, ordered: bool = False):
    """A citation as the site writes it: of several works, as APA 7 (8.12) does.

    *references*: ``(entry, formatted entry, CitationInfo)`` in the writer's order, or,
    with *ordered*, already in :func:`in_citation_order`'s (a caller that needs that
    order too, for the tooltip, does not have it worked out twice); *order*: a work's
    position in the reference list, by its key.

    Parenthetical (``cite:p``, ``ps``, ``alp``, ``alps``):

    * The works come in the order of the reference list (by author, then year; a work
      without a date before the dated ones of the same authors), whatever order the
      writer gave them in. Not when any of them has a text before it (``see``,
      ``e.g.,``): such a text belongs to the works after it, so the writer's order is
      kept.
    * Works whose in-text names read the same come as one name and their years:
      ``(Orth & Robins, 2013, 2014)``, each year linked to its own work. A work with
      a text after it (a page) keeps its own name: ``(Orth & Robins, 2013, p. 457;
      Orth & Robins, 2014)``.

    Narrative (``cite:t``, ``ts``, ``ct``, ``cts``): the works in the writer's order
    (APA allows any order there), but works whose in-text names read the same come at
    the place of the first of them as one name and their years, in the reference list's
    order, each year linked to its own work: ``Suliman (2018), Gutiérrez (2012, 2017),
    and Medina and Reyes (2019)``. A work with a text before or after it keeps its own
    name.

    Any other citation is formatted as sphinxcontrib-bibtex formats it."""
    if not ordered:
        references = in_citation_order(role_name, references, order)
    if len(references) < 2 or role_name not in PARENTHETICAL_ROLES | NARRATIVE_ROLES:
        return format_references(style, role_name, references)
    narrative = role_name in NARRATIVE_ROLES
    full = "s" in role_name
    inner = style.inner(role_name)
    first_year = reference[narrative_year] if narrative else reference[year]
    later_year = reference[year]

    def data(entry, formatted, info):
        return {"entry": entry, "formatted_entry": formatted, "reference_info": info,
                "style": style}

    groups, names_of_group, previous = [], None, None
    for entry, formatted, info in references:
        names_now = _names_key(entry, info, narrative, full)
        # folded only after an earlier work of the list (in the writer's order, a later
        # year may come first: then each keeps its name)
        if _plain(info) and groups and names_of_group == names_now \
                and order(entry.key) > order(previous):
            groups[-1].append((entry, formatted, info))
        else:
            groups.append([(entry, formatted, info)])
        names_of_group = names_now if _plain(info) else None
        previous = entry.key
    children = []
    for group in groups:
        if len(group) == 1:
            children.append(inner.format_data(data(*group[0])))
        elif narrative:  # Gutiérrez (2012, 2017): each year its own link
            entry, _formatted, info = group[0]
            years = [(first_year if i == 0 else later_year).format_data(data(*work))
                     for i, work in enumerate(group)]
            children.append(Text(
                intext_names(entry, narrative=True, full=full,
                             first=getattr(info, "first", True)),
                " (", Text(", ").join(years), ")"))
        else:  # (Orth & Robins, 2013, 2014): the name with the first year
            children.append(Text(", ").join(
                [inner.format_data(data(*group[0]))]
                + [later_year.format_data(data(*work)) for work in group[1:]]))
    return style.outer(role_name, children).format()
