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

Entries come as reference managers export them (Zotero, Better BibTeX, Mendeley, Google
Scholar, publishers' "export citation"): :func:`canonical` first fills the BibTeX fields
from BibLaTeX ones (``date``, ``journaltitle``, ``subtitle``, ``location``, ``issue``), takes
the URL from ``howpublished = {\\url{...}}`` or from a ``doi`` that holds a web address,
and the site name of a preprint or page from ``howpublished``/``eprinttype`` (non-bib field
``sitename``). LaTeX text commands and inline math are undone (:func:`detex`); journal
names are title-cased (APA 9.25); editions, DOIs (shortDOIs too) and URLs are normalized.
Only http(s) addresses become links.
"""

import re
import unicodedata

from pybtex.database import Person
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
    "inbook": ("author", "title", "booktitle"),
    "inproceedings": ("author", "title", "booktitle"),
    "techreport": ("author", "title"),
    "report": ("author", "title"),
    "phdthesis": ("author", "title", "school"),
    "mastersthesis": ("author", "title", "school"),
    "thesis": ("author", "title", "school"),
    "unpublished": ("author", "title"),
    "manual": ("title",),
    "online": ("title", ("url", "doi")),
    "webpage": ("title", ("url", "doi")),
    "electronic": ("title", ("url", "doi")),
    "misc": ("title",),
}

#: BibLaTeX (and other exporters') names of fields, and the BibTeX field each stands for.
#: :func:`canonical` copies a value to the BibTeX name when that field is absent.
ALIASES = {
    "journaltitle": "journal",
    "location": "address",
    "institution": "school",  # theses only (see canonical)
    "howpublished": "url",  # when it holds a URL
    "eprint": "url",  # arXiv identifiers (see canonical)
    "issue": "number",
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


URL = re.compile(r"^\s*(?:\\url\s*)?\{?\s*(https?://[^\s{}]+)\s*\}?\s*$", re.I)
DATE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?")


def is_group(persons):
    """Whether *persons* is one group author: a single brace-protected name."""
    if len(persons) != 1:
        return False
    person = persons[0]
    names = person.first_names + person.middle_names + person.prelast_names
    return not names and len(person.last_names) == 1 and person.last_names[0].startswith("{")


def canonical(entry):
    """Fill BibTeX fields from their BibLaTeX and exporter aliases, in place.

    ``date`` gives ``year``/``month``/``day``; ``journaltitle`` gives ``journal``;
    ``howpublished = {\\url{...}}`` gives ``url``; a ``doi`` holding a web address that
    is not a DOI link moves to ``url``.  Never overwrites a field that is present, so it
    is idempotent and the result depends on the entry alone.
    """
    fields = entry.fields
    if "_canonical" in fields:
        return entry
    date = DATE.match(fields.get("date", ""))
    if date and "year" not in fields:
        year, month, day = date.groups()
        fields["year"] = year
        if month and "month" not in fields:
            fields["month"] = str(int(month))
        if day and "day" not in fields:
            fields["day"] = str(int(day))
    for alias, name in ALIASES.items():
        if alias not in fields or name in fields:
            continue
        value = fields[alias]
        if name == "url":
            match = URL.match(value)
            if alias == "eprint" and fields.get("eprinttype", fields.get("archiveprefix", "")).lower() == "arxiv":
                fields["url"] = f"https://arxiv.org/abs/{value.strip()}"
            elif match:
                fields["url"] = match.group(1)
        elif name == "school" and entry.type not in ("phdthesis", "mastersthesis", "thesis"):
            continue
        else:
            fields[name] = value
    for role, persons in entry.persons.items():
        if any("\\" in str(person) for person in persons):
            entry.persons[role] = [_decodable(Person(detex(str(person)))) for person in persons]
    url = URL.match(fields.get("url", ""))
    if "doi" not in fields and url and re.match(r"https?://(dx\.)?doi\.org/", url.group(1), re.I):
        # a DOI link given as the URL: the DOI, printed as https://doi.org/... (APA 9.34)
        fields["doi"] = doi_of(url.group(1)) or url.group(1)
    doi = fields.get("doi", "").strip()
    if doi and not doi_of(doi) and URL.match(doi):
        if "url" not in fields:
            fields["url"] = URL.match(doi).group(1)
    # the archive or site a work was posted on: howpublished = {PsyArXiv} (not a URL), or
    # BibLaTeX's eprinttype = {PsyArXiv}; used as the site name when there is no other
    for name in ("howpublished", "eprinttype", "archiveprefix"):
        value = fields.get(name, "").strip()
        if value and not URL.match(value) and "\\url" not in value and "sitename" not in fields:
            fields["sitename"] = value
            break
    if "subtitle" in fields and "title" in fields:
        fields["title"] = f"{fields['title']}: {fields['subtitle']}"
    fields["_canonical"] = "1"
    return entry


def _decodable(person):
    """*person*, or the same name without backslashes if pybtex cannot decode it."""
    try:
        str(Text(*person.rich_first_names, *person.rich_last_names,
                 *person.rich_middle_names, *person.rich_prelast_names))
        return person
    except (UnicodeDecodeError, ValueError, IndexError):
        return Person(str(person).replace("\\", ""))


def doi_of(value):
    """The bare DOI in a ``doi`` value (``10.1037/x``, ``doi:...``, a doi.org link), or None.

    ShortDOIs (``10/abc123``) count as DOIs.
    """
    value = value.strip()
    value = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", value, flags=re.I)
    # a doi.org link through a library proxy: https://doi-org.proxy.example.edu/10...
    value = re.sub(r"^https?://[^/\s]*doi[.-]org[^/\s]*/(?=10[./])", "", value, flags=re.I)
    value = value.replace("{\\_}", "_").replace("\\_", "_")
    if re.match(r"^10(\.\d{4,9})?/\S+$", value):
        return value
    return None


def missing_fields(entry):
    """Return the required fields (``a/b`` for alternatives) absent from *entry*.

    BibLaTeX names count (``date`` for ``year``, ``journaltitle`` for ``journal``); a book
    by a group author needs no publisher (APA omits a publisher that is the author).
    """
    canonical(entry)
    present = set(entry.fields.keys()) | set(entry.persons.keys())
    present = {name.lower() for name in present}
    missing = []
    if is_group(entry.persons.get("author", [])):
        present.add("publisher")
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


TEXT_COMMAND = re.compile(
    r"\\(?:textsf|textrm|texttt|textbf|textsc|textup|textnormal|textmd|mbox|text|"
    r"textit|emph|textsl|mathrm|mathit|mathbf|mathsf|url|nolinkurl)\s*\{")
SYMBOLS = {"textquoteright": "\u2019", "textquoteleft": "\u2018", "textendash": "\u2013",
           "textemdash": "\u2014", "textquotedblleft": "\u201c", "textquotedblright": "\u201d",
           "textasciitilde": "~", "textregistered": "\u00ae", "texttrademark": "\u2122"}


SUBSCRIPTS = dict(zip("0123456789aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))


def _math(match):
    """Inline math without commands: ``$d_p$`` -> ``dₚ``, ``$p$`` -> ``p``."""
    body = match.group(1)
    if "\\" in body:
        return match.group(0)  # pybtex decodes commands such as \\alpha
    body = re.sub(r"_\{?([0-9a-z])\}?", lambda m: SUBSCRIPTS.get(m.group(1), m.group(1)), body)
    return body.replace("{", "").replace("}", "")


def detex(value):
    """*value* with LaTeX text commands that pybtex keeps verbatim undone.

    ``\\textsf{R}`` -> ``{R}``, ``\\url{x}`` -> ``{x}``, ``$p$`` -> ``p`` (math with
    commands, such as ``$\\alpha$``, is left to pybtex, which decodes it).
    """
    value = re.sub(r"\\href\s*\{[^{}]*\}\s*\{", "{", value)
    value = value.replace("``", "\u201c").replace("''", "\u201d")
    # a quotation in straight single quotes ('Rcpp'): APA quotes with double marks (6.7);
    # apostrophes (Cohen's, Hedges' g) are left alone
    value = re.sub(r"(?<![\w'\\])'([^'\s\\][^'\\]{0,58}[^'\s\\])'(?![\w'])",
                   "\u201c\\1\u201d", value)  # no LaTeX accent (\\'{e}) is a quote
    value = re.sub(r"\$([^$]*)\$", _math, value)
    value = TEXT_COMMAND.sub("{", value)
    value = re.sub(r"\{?\\(" + "|".join(SYMBOLS) + r")\b\s*\}?",
                   lambda m: SYMBOLS[m.group(1)], value)
    return re.sub(r"\$([^$\\]*)\$", r"\1", value)


def latex(value):
    """Parse a LaTeX field value into rich text without brace protection.

    A value pybtex's LaTeX decoder rejects (a stray backslash) is kept as text without
    its backslashes rather than failing the entry.
    """
    try:
        return unprotect(Text.from_latex(detex(value)))
    except (UnicodeDecodeError, ValueError, IndexError):
        return Text(value.replace("\\", "").replace("{", "").replace("}", ""))


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


#: (id of a person or entry, which) -> (it, what was made of it): a person's names are
#: decoded from LaTeX and abbreviated once, not at every use (year letters, sorting,
#: in-text names, the reference list), and a work's in-text names formatted once per form.
#: The object is kept with its value so that its id cannot be reused. Emptied by
#: :func:`forget_persons` (each build, and ``prepare``).
_REMEMBERED: dict = {}


def forget_persons() -> None:
    """Drop the remembered surnames, initials and in-text names."""
    _REMEMBERED.clear()


def remembered(obj, which, make):
    """``make(obj)``, made once per *obj* and *which* until forgotten."""
    key = (id(obj), which)
    known = _REMEMBERED.get(key)
    if known is None or known[0] is not obj:
        known = _REMEMBERED[key] = (obj, make(obj))
    return known[1]


def surname(person):
    """Rich surname incl. particles, e.g. ``Del Re`` or a group name."""
    return remembered(person, "surname", _surname)


def _surname(person):
    names = person.rich_prelast_names + person.rich_last_names
    return unprotect(Text(" ").join(names))


def initials(person):
    """Initials of the given names, e.g. ``J.-P. A.``; a lowercase particle among
    them stays as written (``A. C. de O.``)."""
    return remembered(person, "initials", _initials)


def _initials(person):
    names = person.rich_first_names + person.rich_middle_names
    return Text(" ").join([unprotect(name) if str(name).islower() else unprotect(name).abbreviate()
                           for name in names])


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
        elif month[:3].lower() in [m[:3].lower() for m in MONTHS]:
            month = next(m for m in MONTHS if m[:3].lower() == month[:3].lower())
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


def url_of(entry):
    """The entry's web address, LaTeX escapes and braces removed, or ``""``.

    Only ``http``/``https`` addresses are links (an allow-list: no ``javascript:``, no
    LaTeX left in an address); kb.bibcheck reports the others at their line.
    """
    url = entry.fields.get("url", "").strip()
    url = re.sub(r"\\([&_%#$~])", r"\1", url)
    url = url.replace("{", "").replace("}", "")
    return url if re.fullmatch(r"https?://[^\s\\]+", url, flags=re.I) else ""


def link(entry):
    """DOI as ``https://doi.org/...`` link, else the URL as link, else empty."""
    doi = doi_of(entry.fields.get("doi", ""))
    url = f"https://doi.org/{doi}" if doi else url_of(entry)
    return HRef(url, url) if url else Text()


ORDINAL_WORDS = {word: n for n, word in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
    "twentieth".split(), start=1)}


def edition(entry):
    """``2nd ed.`` from ``2``, ``2nd``, ``2nd ed``, ``Second edition``; ``Rev. ed.``."""
    value = plain(entry.fields.get("edition", "")).strip()
    core = re.sub(r"[\s.]*\b(ed|edn|edition)\b\.?$", "", value, flags=re.I).strip()
    if not core:
        return ""
    number = re.fullmatch(r"(\d+)(?:st|nd|rd|th)?", core, re.I)
    if number:
        return f"{ordinal(number.group(1))} ed."
    if core.lower() in ORDINAL_WORDS:
        return f"{ordinal(ORDINAL_WORDS[core.lower()])} ed."
    if core.lower() in ("rev", "revised"):
        return "Rev. ed."
    return value  # e.g. "Nachdr." (a reprint): as written


MINOR_WORDS = frozenset(
    "a an and as at but by down for from in into nor of on onto or over per so the "
    "to up upon via vs with yet".split())


def title_case(text):
    """APA title case (9.25, journal names): capitalize the major words; words that
    already hold a capital (``PLOS``, ``eLife``) are kept as written, and so is a
    lowercase first word of a name that is otherwise in title case (``npj``)."""
    parts = re.split(r"(\s+|-|/)", text)
    # a name already in title case with a lowercase brand first ("npj Digital Medicine")
    brand = bool(re.match(r"[a-z]", text)) and any(p[:1].isupper() for p in parts[1:])
    out, start, first = [], True, True
    for part in parts:
        if not part or part.isspace() or part in "-/":
            out.append(part)
            continue
        word = part.lstrip("(\"'\u2018\u201c")
        lead = part[: len(part) - len(word)]
        if word[:1].islower() and word == word.lower() and not (first and brand) and (
                start or word.rstrip(".,:;") not in MINOR_WORDS):
            word = word[0].upper() + word[1:]
        out.append(lead + word)
        first = False
        start = part.endswith((":", "?", "!", "\u2014"))
    return "".join(out)


def journal(entry):
    """The journal name in title case (exports often give it in sentence case)."""
    if "journal" not in entry.fields:
        raise FieldIsMissing("journal", entry)
    return Text(title_case(plain(entry.fields["journal"])))


ARCHIVES = re.compile(r"arxiv|osf|ssrn|zenodo|preprint|research square", re.I)


def is_preprint(entry):
    """A preprint or deposited work (APA 10.8): a DOI or an archive as publisher.
    Its date is the year alone; web pages and blog posts give month and day."""
    where = " ".join(plain(entry.fields.get(name, ""))
                     for name in ("publisher", "institution", "organization", "howpublished", "url"))
    return bool(doi_of(entry.fields.get("doi", ""))) or bool(ARCHIVES.search(where))


def retrieved(entry):
    """``Retrieved March 4, 2024, from`` for an undated page with a ``urldate``
    (APA 9.16: a retrieval date for pages designed to change), else empty."""
    date = DATE.match(entry.fields.get("urldate", ""))
    if not date or "year" in entry.fields or not url_of(entry) or doi_of(entry.fields.get("doi", "")):
        return Text()
    year, month, day = date.groups()
    when = year
    if month:
        when = f"{MONTHS[int(month) - 1]} {int(day)}, {year}" if day else f"{MONTHS[int(month) - 1]} {year}"
    return Text(f"Retrieved {when}, from")


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
            if len(authors) == 1 and sort_text(str(surname(authors[0]))) == sort_text(str(value)):
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
        """Format via ``format_<type>``; raise FieldIsMissing for an unsupported type or
        a field the template cannot do without (a title, an article's journal).

        Other fields in :data:`REQUIRED_FIELDS` (a book's publisher) are left out when
        absent: kb.bibcheck reports them at the .bib line, so nothing is lost silently.
        """
        canonical(entry)
        if entry.type not in REQUIRED_FIELDS:
            raise UnsupportedEntryType(entry)
        if "title" not in entry.fields:
            raise FieldIsMissing("title", entry)
        if entry.type in ("inproceedings", "incollection", "inbook") and \
                "booktitle" not in entry.fields and "journal" in entry.fields:
            # Google Scholar exports some journal articles as @inproceedings
            return self.format_article_entry(label, entry)
        return super().format_entry(label, entry, bib_data)

    def format_article_entry(self, label, entry):
        from pybtex.style import FormattedEntry

        text = self.format_article({"entry": entry})
        return FormattedEntry(entry.key, text, label)

    def format_article(self, context):
        """Journal article: Author. (Year). Title. *Journal, Vol*(No.), pp. DOI"""
        e = context["entry"]
        volume = [", ", field(e, "volume")] if "volume" in e.fields else []
        source = Tag("em", journal(e), *volume)
        if "number" in e.fields:
            source = Text(source, "(" if volume else ", (", field(e, "number"), ")")
        pages = plain(e.fields.get("pages", "")).strip()
        if re.fullmatch(r"[A-Za-z]+\d+", pages):
            # an article number exported as 'pages' (PLOS ONE's e0172792): APA 9.25
            source = Text(source, ", Article ", pages)
        elif pages:
            source = Text(source, ", ", dashify(pages))
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

    format_inbook = format_incollection
    #: Paper in published proceedings: like a chapter (APA 10.5, proceedings as a book).
    format_inproceedings = format_incollection

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

    def format_phdthesis(self, context):
        """Thesis (APA 10.6): Author. (Year). *Title* [Doctoral dissertation, School]. URL"""
        e = context["entry"]
        kind = plain(e.fields.get("type", "")).strip()
        if not kind or kind.lower() in ("phd thesis", "phdthesis", "phd", "thesis"):
            kind = "Master's thesis" if e.type == "mastersthesis" else "Doctoral dissertation"
        if kind.lower() in ("masters thesis", "master thesis", "mathesis"):
            kind = "Master's thesis"
        title = Text(Tag("em", field(e, "title")), " [", kind, ", ", field(e, "school"), "]")
        return sentences(creator(e), date_part(e), title.add_period(), link(e))

    format_mastersthesis = format_phdthesis
    format_thesis = format_phdthesis

    def format_unpublished(self, context):
        """Unpublished manuscript (APA 10.8): *Title* [Unpublished manuscript]. Place."""
        e = context["entry"]
        title = Text(Tag("em", field(e, "title")), " [Unpublished manuscript]")
        return sentences(
            creator(e),
            date_part(e),
            title.add_period(),
            publisher(e, "institution", "school", "organization", "publisher"),
            link(e),
        )

    def format_online(self, context):
        """Web page, preprint, software: Author. (Year). *Title*. Site. URL

        Without an author the title moves to the author position.  A page with a
        ``month`` gets its full date (APA 10.16); an undated one with ``urldate`` a
        retrieval date (APA 9.16).
        """
        e = context["entry"]
        if "journal" in e.fields:  # a magazine or newspaper article (APA 10.1)
            return self.format_article(context)
        title = Text(Tag("em", field(e, "title")), book_details(e)).add_period()
        full = not is_preprint(e)
        head = [creator(e), date_part(e, full=full), title]
        if not head[0]:
            head = [title, date_part(e, full=full)]
        return sentences(
            *head,
            publisher(e, "organization", "publisher", "institution", "sitename"),
            retrieved(e),
            link(e),
        )

    format_misc = format_online
    format_webpage = format_online
    format_electronic = format_online
    format_manual = format_online
