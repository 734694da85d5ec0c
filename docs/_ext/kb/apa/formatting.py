"""APA 7 reference-list style for pybtex (registered as ``apa7``).

Supported entry types and their required fields are listed in
:data:`REQUIRED_FIELDS`.  Conventions of the ``.bib`` files:

* ``pages = {316--340}``, ``doi = {10.1037/pst0000172}`` (no prefix),
  ``edition = {2}``;
* ``number`` is the issue of an article and the report number of a report
  (optionally preceded by ``type``, e.g. ``HHS Publication No.``);
* ``institution`` (or ``publisher``) for reports, ``organization`` (the site
  name) and ``url`` for web pages, optional ``month`` and ``day``;
* titles are already in APA sentence case: they are printed as written,
  with protecting braces removed;
* a group author is written in double braces: ``{{World Health Organization}}``;
* the non-bib field ``yearsuffix`` ("a", "b", ...) is appended to the year
  (see :func:`kb.apa.year_suffixes`).
"""

import re
import unicodedata

from pybtex.richtext import BaseMultipartText, HRef, Protected, Tag, Text
from pybtex.style.formatting import BaseStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.names import BaseNameStyle
from pybtex.style.sorting import BaseSortingStyle
from pybtex.style.template import FieldIsMissing

#: Required fields per entry type; a tuple element lists alternatives
#: (at least one of them must be present).  Persons count as fields.
REQUIRED_FIELDS = {
    "article": ("author", "year", "title", "journal"),
    "book": (("author", "editor"), "title", "publisher"),
    "incollection": ("author", "title", "booktitle", "publisher"),
    "techreport": ("author", "title"),
    "report": ("author", "title"),
    "online": ("title", "url"),
    "misc": ("title",),
}

MONTHS = (
    "January February March April May June July August September October "
    "November December"
).split()

ARTICLES = re.compile(r"^(a|an|the)\s+", re.IGNORECASE)


class UnsupportedEntryType(FieldIsMissing):
    """Entry type without an APA template (a FieldIsMissing, so Sphinx warns)."""

    def __init__(self, entry):
        super().__init__("type", entry)
        self.args = (f"unsupported entry type @{entry.type} in {entry.key}",)


def missing_fields(entry):
    """Return the required fields (``a/b`` for alternatives) absent from *entry*."""
    present = set(entry.fields.keys()) | set(entry.persons.keys())
    present = {name.lower() for name in present}
    missing = []
    for required in REQUIRED_FIELDS.get(entry.type, ()):
        options = (required,) if isinstance(required, str) else required
        if not present.intersection(options):
            missing.append("/".join(options))
    return missing


# -- text helpers -----------------------------------------------------------


def unprotect(text):
    """Return *text* with pybtex ``Protected`` (brace) groups dissolved."""
    if isinstance(text, Protected):
        return Text(*(unprotect(part) for part in text.parts))
    if isinstance(text, BaseMultipartText):
        return text._create_similar([unprotect(part) for part in text.parts])
    return text


def latex(value):
    """Parse a LaTeX field value into rich text without brace protection."""
    return unprotect(Text.from_latex(value))


def plain(value):
    """Plain unicode string of a LaTeX field value."""
    return str(latex(value))


def sort_text(value):
    """Case- and accent-insensitive sort key of a string."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def ordinal(number):
    """``2`` -> ``2nd``, ``11`` -> ``11th``, ``23`` -> ``23rd``."""
    n = int(number)
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    if 10 <= n % 100 <= 20:
        suffix = "th"
    return f"{n}{suffix}"


def dashify(value):
    """Replace runs of hyphens (``--``) by an en dash."""
    return re.sub(r"\s*-+\s*", "\u2013", value)


# -- persons ----------------------------------------------------------------


def surname(person):
    """Rich surname incl. particles, e.g. ``Del Re`` or a group name."""
    names = person.rich_prelast_names + person.rich_last_names
    return unprotect(Text(" ").join(names))


def initials(person):
    """Initials of the given names, e.g. ``J.-P. A.``."""
    names = person.rich_first_names + person.rich_middle_names
    return Text(" ").join([unprotect(name).abbreviate() for name in names])


def person_key(person):
    """Identity/sort key of a person: normalised surname and initials."""
    return (sort_text(str(surname(person))), sort_text(str(initials(person))))


def invert(person):
    """``Surname, I. I., Jr.`` (group names unchanged)."""
    parts = [surname(person), initials(person)]
    parts += [unprotect(name) for name in person.rich_lineage_names]
    return Text(", ").join([part for part in parts if part])


def direct(person):
    """``I. I. Surname, Jr.`` as used for editors after *In*."""
    parts = (initials(person), surname(person))
    name = Text(" ").join([part for part in parts if part])
    lineage = [unprotect(n) for n in person.rich_lineage_names]
    return Text(", ").join([name, *lineage])


def name_list(names, amp_sep=", & "):
    """Join names APA style; 21+ names: first 19, ``. . .``, last (APA 9.8)."""
    if len(names) > 20:
        return Text(", ").join(names[:19] + [Text(". . . ", names[-1])])
    if len(names) <= 1:
        return Text(*names)
    return Text(Text(", ").join(names[:-1]), amp_sep, names[-1])


def author_names(persons):
    """Reference-list author element ``Surname, I., & Surname, I.``."""
    return name_list([invert(p) for p in persons])


def editor_names(persons):
    """Editors after *In*: ``I. Surname`` / ``I. A & I. B`` / ``I. A, I. B, & I. C``."""
    names = [direct(p) for p in persons]
    return name_list(names, " & " if len(names) == 2 else ", & ")


def ed_label(persons):
    """``Ed.`` or ``Eds.``."""
    return "Eds." if len(persons) > 1 else "Ed."


# -- entry fields -----------------------------------------------------------


def year_label(entry):
    """Year plus ``yearsuffix``, or ``n.d.`` (``n.d.-a`` with a suffix)."""
    suffix = entry.fields.get("yearsuffix", "")
    if "year" in entry.fields:
        return plain(entry.fields["year"]) + suffix
    return "n.d." + (f"-{suffix}" if suffix else "")


def date_part(entry, full=False):
    """``(2014a).``; with *full*: ``(2019, March 4).`` from month/day."""
    text = year_label(entry)
    month = plain(entry.fields.get("month", "")).strip()
    if full and month and "year" in entry.fields:
        if month.isdigit() and 1 <= int(month) <= 12:
            month = MONTHS[int(month) - 1]
        day = plain(entry.fields.get("day", "")).strip()
        text += ", " + " ".join(part for part in (month, day) if part)
    return Text(f"({text}).")


def field(entry, name):
    """Rich text of a field; raises FieldIsMissing when absent."""
    try:
        return latex(entry.fields[name])
    except KeyError:
        raise FieldIsMissing(name, entry) from None


def optional(entry, name):
    """Rich text of a field, empty when absent."""
    return latex(entry.fields[name]) if name in entry.fields else Text()


def link(entry):
    """DOI as ``https://doi.org/...`` link, else the URL as link, else empty."""
    doi = entry.fields.get("doi", "").strip()
    if doi:
        doi = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", doi, flags=re.I)
        url = f"https://doi.org/{doi}"
    else:
        url = entry.fields.get("url", "").strip()
        if not url.lower().startswith(("http://", "https://")):
            url = ""  # refused with its line by kb.bibcheck ("bad-url"); never a link
    return HRef(url, url) if url else Text()


def edition(entry):
    """``2nd ed.`` from ``edition = {2}``; other values kept, ``ed.`` added."""
    value = plain(entry.fields.get("edition", "")).strip()
    if not value:
        return ""
    if value.isdigit():
        return f"{ordinal(value)} ed."
    return value if value.lower().endswith("ed.") else f"{value} ed."


def book_details(entry, pages=False):
    """Parenthetical ``(2nd ed., Vol. 2, pp. 3–21)``, or empty."""
    parts = [edition(entry)]
    if "volume" in entry.fields:
        parts.append("Vol. " + plain(entry.fields["volume"]))
    if pages and "pages" in entry.fields:
        value = dashify(plain(entry.fields["pages"]))
        parts.append(("pp. " if "\u2013" in value else "p. ") + value)
    parts = [part for part in parts if part]
    return Text(" (", ", ".join(parts), ")") if parts else Text()


def creator(entry):
    """Author element, or editors with ``(Ed.).``; empty if neither."""
    if "author" in entry.persons:
        return author_names(entry.persons["author"]).add_period()
    if "editor" in entry.persons:
        editors = entry.persons["editor"]
        return Text(author_names(editors), f" ({ed_label(editors)}).")
    return Text()


def publisher(entry, *names):
    """First present of *names* with a period, omitted if equal to the author."""
    for name in names:
        if name in entry.fields:
            value = field(entry, name)
            authors = entry.persons.get("author", [])
            if len(authors) == 1 and str(surname(authors[0])) == str(value):
                return Text()
            return value.add_period()
    return Text()


def sentences(*parts):
    """Join non-empty parts with single spaces."""
    return Text(" ").join([Text(part) for part in parts if part])


# -- plugins ----------------------------------------------------------------


class ApaNameStyle(BaseNameStyle):
    """Inverted APA names ``Surname, I. I., Jr.`` (for pybtex's ``names``)."""

    def format(self, person, abbr=True):
        return invert(person)


class SurnameStyle(BaseNameStyle):
    """Surname with particles as written, e.g. ``Del Re`` (in-text names)."""

    def format(self, person, abbr=True):
        return surname(person)


class KeyLabelStyle(BaseLabelStyle):
    """APA lists have no labels; the citation key keeps labels unique."""

    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            yield entry.key


class ApaSortingStyle(BaseSortingStyle):
    """Sort by author list (surnames, initials), year+suffix, then title.

    The whole author list is compared, so a one-author work precedes a
    multi-author work by the same first author (APA 9.45); n.d. comes
    before dated works (APA 9.46); leading articles of titles are ignored.
    """

    def sorting_key(self, entry):
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        title = ARTICLES.sub("", sort_text(plain(entry.fields.get("title", ""))))
        names = [person_key(p) for p in persons] or [(title, "")]
        year = entry.fields.get("year")
        year_key = (1, plain(year)) if year else (0, "")
        return (names, year_key, entry.fields.get("yearsuffix", ""), title)

    def sort(self, entries):
        return sorted(entries, key=self.sorting_key)


class ApaStyle(BaseStyle):
    """APA 7 reference list entries (Publication Manual ch. 9-10)."""

    default_name_style = ApaNameStyle
    default_label_style = KeyLabelStyle
    default_sorting_style = ApaSortingStyle

    def format_entry(self, label, entry, bib_data=None):
        """Check :data:`REQUIRED_FIELDS`, then format via ``format_<type>``."""
        if entry.type not in REQUIRED_FIELDS:
            raise UnsupportedEntryType(entry)
        missing = missing_fields(entry)
        if missing:
            raise FieldIsMissing(missing[0], entry)
        return super().format_entry(label, entry, bib_data)

    def format_article(self, context):
        """Journal article: Author. (Year). Title. *Journal, Vol*(No.), pp. DOI"""
        e = context["entry"]
        volume = [", ", field(e, "volume")] if "volume" in e.fields else []
        source = Tag("em", field(e, "journal"), *volume)
        if "number" in e.fields:
            source = Text(source, "(", field(e, "number"), ")")
        if "pages" in e.fields:
            source = Text(source, ", ", dashify(plain(e.fields["pages"])))
        elif "eid" in e.fields:
            source = Text(source, ", Article ", field(e, "eid"))
        return sentences(
            creator(e),
            date_part(e),
            field(e, "title").add_period(),
            Text(source).add_period(),
            link(e),
        )

    def format_book(self, context):
        """(Edited) book: Author/Editor (Ed.). (Year). *Title* (2nd ed.). Publisher."""
        e = context["entry"]
        return sentences(
            creator(e),
            date_part(e),
            Text(Tag("em", field(e, "title")), book_details(e)).add_period(),
            publisher(e, "publisher"),
            link(e),
        )

    def format_incollection(self, context):
        """Chapter: Author. (Year). Title. In E. Ed (Ed.), *Book* (pp.). Publisher."""
        e = context["entry"]
        book = Text(Tag("em", field(e, "booktitle")), book_details(e, pages=True))
        if "editor" in e.persons:
            editors = e.persons["editor"]
            book = Text(editor_names(editors), f" ({ed_label(editors)}), ", book)
        return sentences(
            creator(e),
            date_part(e),
            field(e, "title").add_period(),
            Text("In ", book).add_period(),
            publisher(e, "publisher"),
            link(e),
        )

    def format_techreport(self, context):
        """Report: Author. (Year). *Title* (Type No.). Publisher. URL"""
        e = context["entry"]
        number = sentences(optional(e, "type"), optional(e, "number"))
        title = Tag("em", field(e, "title"))
        if number:
            title = Text(title, " (", number, ")")
        return sentences(
            creator(e),
            date_part(e),
            Text(title).add_period(),
            publisher(e, "institution", "publisher"),
            link(e),
        )

    format_report = format_techreport

    def format_online(self, context):
        """Web page: Author. (Year, Month Day). *Title*. Site. URL

        Without an author the title moves to the author position.
        """
        e = context["entry"]
        title = Text(Tag("em", field(e, "title"))).add_period()
        head = [creator(e), date_part(e, full=True), title]
        if not head[0]:
            head = [title, date_part(e, full=True)]
        return sentences(
            *head,
            publisher(e, "organization", "publisher"),
            link(e),
        )

    format_misc = format_online
