"""Lint ``references.bib``: report every problem with its line; one broken entry hides nothing.

:func:`check_bib` finds the entry headers (``@type{key,`` at the start of a line) in the
raw text, cuts the file into one chunk per entry (from its header to the next header) and
parses each chunk on its own with pybtex, so a syntax error is reported at its entry and
every other entry is still indexed and checked.  Problem codes:

``syntax``            unparsable entry (unbalanced braces, missing comma or key, ...),
                      a repeated field, a malformed name list
``duplicate-key``     a key used twice (case-insensitively, as BibTeX compares keys)
``missing-field``     a field required by the APA style (:data:`kb.apa.formatting.REQUIRED_FIELDS`)
``unsupported-type``  an entry type the APA style has no template for
``bad-doi``           a ``doi`` that is not a bare DOI (``10.1037/pst0000193``)
``bad-url``           a ``url`` (or a ``\\url{...}`` in ``howpublished``) that is not http(s)
``title-case``        a title that looks like Title Case instead of APA sentence case
``bad-key``           a key outside the scheme surname + year + word, lowercase ASCII
                      (a style issue: the caller decides whether it is a warning)
``journal-case``      a journal name in sentence case, with the title-cased name to paste
                      (a note: the site prints journal names in title case anyway)

Messages speak the writer's terms: which field to add and what goes in it, or which
export setting of the reference manager produced the problem, and the exact fix where
it is certain (a DOI written as a link, a journal name in sentence case).

:func:`unused_keys` adds ``unused`` problems for entries no article cites.  Text outside
entries and ``@comment``/``@preamble`` are ignored; ``@string`` macros are honoured.
Neither function raises nor prints, whatever the input.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from contextlib import contextmanager
from dataclasses import dataclass

import pybtex.database
import pybtex.errors
from pybtex.database import InvalidNameString
from pybtex.database.input.bibtex import DuplicateField, Parser, UndefinedMacro
from pybtex.scanner import PrematureEOF, PybtexSyntaxError, TokenRequired

from .apa.formatting import REQUIRED_FIELDS, doi_of, missing_fields, plain, title_case

__all__ = ["NOTE_CODES", "BibIndex", "BibProblem", "bound_bibtex_values", "check_bib",
           "unused_keys"]

#: The longest value a field or an @string macro may have once macros are expanded.
#: BibTeX concatenates macros (``@string{b = a # a}``), so a few lines can describe a value
#: of billions of characters; pybtex would build it in memory. No real field comes near.
MAX_VALUE_CHARS = 20_000
#: Schemes a ``url`` field may use (``howpublished`` is checked for ``\url{...}`` too).
URL_SCHEMES = ("http://", "https://")


class ValueTooLong(PybtexSyntaxError):
    """A field or macro longer than MAX_VALUE_CHARS once expanded."""

    def __init__(self, name, length, parser):
        message = (f"{name!r} would be {length:,} characters long once its @string macros "
                   f"are joined (the limit is {MAX_VALUE_CHARS:,}); write the value out")
        super().__init__(message, parser)


def bound_bibtex_values() -> None:
    """Make pybtex refuse a value longer than MAX_VALUE_CHARS before joining its parts.

    Applied when this module is imported, so every parse of a .bib in the build (the
    bibliography of sphinxcontrib-bibtex as well as the checks here) is bounded."""
    from pybtex.database.input import bibtex

    original = bibtex.LowLevelParser.parse_value
    if getattr(original, "kb_bounded", False):
        return

    def parse_value(self):
        original(self)
        length = sum(len(part) for part in self.current_value)
        if length > MAX_VALUE_CHARS:
            name = self.current_field_name
            self.current_value = []
            raise ValueTooLong(name, length, self)

    parse_value.kb_bounded = True
    bibtex.LowLevelParser.parse_value = parse_value


bound_bibtex_values()

#: Problem codes that are advice, not errors (make check prints them as notes).
NOTE_CODES = frozenset({"journal-case"})

#: An entry or command header at the start of a line: ``@article{`` or ``@string(``.
HEADER = re.compile(r"^[ \t]*@[ \t]*([A-Za-z][\w-]*)[ \t]*([{(])", re.MULTILINE)
#: The key after the opening delimiter (pybtex's key syntax) and the character after it.
KEY = {"{": re.compile(r"\s*([^\s,}]*)\s*(.?)", re.S), "(": re.compile(r"\s*([^\s,]*)\s*(.?)", re.S)}
FIELD = re.compile(r"\s*([A-Za-z_][^\s=,{}()\"#%]*)\s*=")
LINE_FIELD = re.compile(r"[ \t]*[A-Za-z_][\w-]*[ \t]*=")
KEY_SCHEME = re.compile(r"^[a-z]+\d{4}[a-z0-9]*$")
DOI = re.compile(r"^10(\.\d{4,9})?/\S+$")  # 10.1037/x, or a shortDOI 10/abc1
DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/", "doi:")
DOI_EXAMPLE = "10.1037/pst0000193"
TITLE_CASE_MESSAGE = (
    "title looks like Title Case; APA reference lists use sentence case: capitalize only "
    "the first word, the first word after a colon, and proper nouns (protect those with braces); "
    "reference managers often export titles in Title Case: change the title in the reference "
    "manager, or here"
)


@dataclass(frozen=True)
class BibProblem:
    """One problem: where (1-based file line, entry key if known), what (code), and advice."""

    line: int
    key: str | None
    code: str
    message: str


@dataclass
class BibIndex:
    """Every entry key with the line of its header, and the problems in line order."""

    entries: dict[str, int]
    problems: list[BibProblem]


@dataclass
class _Layout:
    """Where things are in an entry chunk, found without pybtex (offsets into the chunk)."""

    fields: list[tuple[str, int]]  # (lowercase field name, offset of the name)
    close: int | None  # offset of the delimiter closing the entry
    unclosed: tuple[str, int, int] | None  # (field, its offset, offset of a later field line)


@contextmanager
def _collected_pybtex_errors():
    """Make pybtex collect its errors in a list (no raising, no printing), then restore."""
    previous = pybtex.errors.captured_errors
    pybtex.errors.captured_errors = errors = []
    try:
        yield errors
    finally:
        pybtex.errors.captured_errors = previous


def _layout(chunk: str, body: int, opener: str) -> _Layout:
    """Scan an entry from *body* (after the key): field names, end, first unclosed value."""
    base = 1 if opener == "{" else 0  # brace depth of the entry's top level
    depth, quoted, expect = base, False, False
    fields: list[tuple[str, int]] = []
    unclosed = None
    i = body
    while i < len(chunk):
        if expect and depth == base and not quoted:
            expect = False
            match = FIELD.match(chunk, i)
            if match:
                fields.append((match.group(1).lower(), match.start(1)))
                i = match.end()
                continue
        char = chunk[i]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if opener == "{" and depth == 0:
                return _Layout(fields, i, unclosed)
        elif char == ")" and opener == "(" and depth == 0 and not quoted:
            return _Layout(fields, i, unclosed)
        elif char == '"' and depth == base:
            quoted = not quoted
        elif char == "," and depth == base and not quoted:
            expect = True
        elif char == "\n" and depth > base and fields and unclosed is None:
            if LINE_FIELD.match(chunk, i + 1):
                unclosed = (*fields[-1], i + 1)
        i += 1
    return _Layout(fields, None, unclosed)


def _strip_braced(text: str) -> str:
    """*text* without its brace-protected groups (unbalanced braces are simply dropped)."""
    out, depth = [], 0
    for char in text:
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(depth - 1, 0)
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _unbrace_zotero_capitals(title: str) -> str:
    """*title* with single words in double braces (``{{Value}}``) opened up.

    Better BibTeX wraps each capitalized word of a Zotero title in double braces to keep
    its case, so a title stored in Title Case in Zotero comes out as
    ``The {{Value}} of {{Life}}``: those braces do not mark proper nouns.
    """
    return re.sub(r"\{\{([^\s{}]+)\}\}", r"\1", title)


def looks_title_case(title: str) -> bool:
    """Whether *title* (outside braces) is probably Title Case rather than sentence case.

    Needs 3+ words; counts the words after the first that have 4+ characters, start with a
    letter and are not all capitals, skipping the first word after ``:``/``?``/``!``; true
    if more than half of them are capitalized.
    """
    words = _strip_braced(_unbrace_zotero_capitals(title)).split()
    if len(words) < 3:
        return False
    capitals = []
    for previous, word in zip(words, words[1:]):
        word = word.lstrip("\"'`([")
        if previous.endswith((":", "?", "!")) or len(word) < 4 or not word[0].isalpha():
            continue
        if not word.isupper():
            capitals.append(word[0].isupper())
    return bool(capitals) and 2 * sum(capitals) > len(capitals)


def _doi_problem(doi: str) -> str | None:
    """What is wrong with a ``doi`` value, or None; the exact fix where it is certain."""
    advice = f"write the bare DOI like {DOI_EXAMPLE}"
    bare = doi_of(doi)
    prefix = next((p for p in DOI_PREFIXES if doi.lower().startswith(p)), None)
    if prefix and bare:
        return (f"doi {doi!r} is written as a link; write doi = {{{bare}}} (the site "
                "makes the https://doi.org/ link itself)")
    if bare and re.match(r"^\s*https?://", doi):
        return (f"doi {doi!r} is a link through a library's proxy, which readers cannot "
                f"open; write doi = {{{bare}}}")
    if prefix:
        return f"doi {doi!r} starts with {prefix!r}; {advice}"
    if re.match(r"^\s*https?://", doi):
        return (f"doi {doi!r} is a web address, not a DOI; move it to url = {{...}} and "
                f"put the work's DOI (from its page or https://doi.org) in doi, like "
                f"{DOI_EXAMPLE}")
    if not DOI.match(doi):
        return f"doi {doi!r} is not a DOI (10.<registrant>/<suffix>); {advice}"
    return None


#: What to write for a missing field, in the writer's terms.
FIELD_ADVICE = {
    "author": "the authors as 'Surname, Given and Surname, Given' (a group in double "
              "braces: author = {{World Health Organization}})",
    "author/editor": "the authors (author = {...}) or, for an edited book, the editors "
                     "(editor = {...})",
    "year": "the year of publication: year = {2020} (BibLaTeX exports may write "
            "date = {2020-05-01} instead, which also works)",
    "title": "the work's title in sentence case: title = {...}",
    "journal": "the journal's name: journal = {Psychotherapy Research} (BibLaTeX: "
               "journaltitle)",
    "publisher": "the publisher: publisher = {Guilford Press} (leave it out only when the "
                 "author is a group that published the work itself, written in double "
                 "braces)",
    "booktitle": "the title of the book the chapter is in: booktitle = {...}",
    "school": "the university: school = {University of Oslo}",
    "url/doi": "where to read it: url = {https://...} or doi = {10....}",
}


def _missing_message(entry, key: str, missing: str) -> str:
    """The missing-field message for one required field (or alternatives)."""
    names = missing.split("/")
    what = " nor ".join(repr(n) for n in names)
    advice = FIELD_ADVICE.get(missing, f"add {'one of them' if len(names) > 1 else 'it'}")
    if missing == "booktitle" and "journal" in entry.fields:
        advice = ("nothing: it has a journal, so it is a journal article exported as "
                  f"@{entry.type} (Google Scholar does this); change it to @article")
    return (f"@{entry.type} {key!r} has {'neither ' if len(names) > 1 else 'no '}{what} "
            f"field (required for APA); add {advice}")


def _export_notes(entry, field_line: dict, line: int) -> list[tuple[str, int, str]]:
    """Advice on how the export shaped the entry, with the fix: (code, line, message)."""
    notes = []
    name = entry.fields.get("journal") or entry.fields.get("journaltitle")
    if name and "\\" not in name and "{" not in name:
        cased = title_case(plain(name))
        if cased != plain(name):
            at = field_line.get("journal", field_line.get("journaltitle", line))
            notes.append(("journal-case", at, (
                f"journal name {plain(name)!r} is in sentence case; APA writes journal "
                f"names in title case: journal = {{{cased}}} (Google Scholar and some "
                "publishers export it in sentence case)")))
    return notes


def _syntax_message(error: PybtexSyntaxError) -> str:
    """pybtex's message without its ``syntax error in line N:`` prefix."""
    return re.sub(r"^.*? in line \d+: ", "", str(error)) or error.error_type


def check_bib(text: str) -> BibIndex:
    """Index and lint the text of a ``.bib`` file; see the module docstring for the checks."""
    newlines = [i for i, char in enumerate(text) if char == "\n"]

    def line_of(offset: int) -> int:
        return bisect_right(newlines, offset - 1) + 1

    headers = list(HEADER.finditer(text))
    bounds = [(h, h.start(), headers[n + 1].start() if n + 1 < len(headers) else len(text))
              for n, h in enumerate(headers)]
    string_parser = Parser()  # collects @string macros for the entries
    problems: list[BibProblem] = []
    for header, start, end in bounds:
        if header.group(1).lower() == "string":
            with _collected_pybtex_errors() as errors:
                try:
                    string_parser.parse_string(text[start:end])
                except Exception as error:  # noqa: BLE001 - reported below
                    errors.append(error)
            if errors:
                problems.append(BibProblem(line_of(start), None, "syntax",
                                           _macro_problem(errors[0])))

    entries: dict[str, int] = {}
    first_line: dict[str, int] = {}
    for header, start, end in bounds:
        kind, opener = header.group(1).lower(), header.group(2)
        if kind in ("comment", "string", "preamble"):
            continue
        line = line_of(start)
        key_match = KEY[opener].match(text, header.end())
        key, after = key_match.group(1), key_match.group(2)
        if not key or "=" in key or after == "=":
            problems.append(BibProblem(line, None, "syntax", (
                f"@{header.group(1)} entry has no key; start it like "
                f"@{header.group(1)}{{surname2020word, and give each work its own key")))
            continue
        if key.lower() in first_line:
            problems.append(BibProblem(line, key, "duplicate-key", (
                f"duplicate key {key!r} (first defined on line {first_line[key.lower()]}); "
                "give each work one entry")))
        else:
            first_line[key.lower()] = line
            entries[key] = line
        chunk = text[start:end]
        problems += _check_entry(chunk, key, line, key_match.end(1) - start, opener,
                                 lambda offset, start=start: line_of(start + offset),
                                 string_parser.macros)
    problems.sort(key=lambda problem: problem.line)
    return BibIndex(entries, problems)


def _check_entry(chunk, key, line, body, opener, line_of, macros) -> list[BibProblem]:
    """Problems of one entry chunk (*line_of* maps a chunk offset to a file line)."""
    layout = _layout(chunk, body, opener)
    source = chunk if layout.close is None else chunk[: layout.close + 1]
    with _collected_pybtex_errors() as errors:
        try:
            data = pybtex.database.parse_string(source, "bibtex", macros=macros)
        except Exception as error:  # noqa: BLE001 - pybtex should collect, not raise
            errors.append(error)
            data = None

    def problem(code, message, at=line):
        return BibProblem(at, key, code, message)

    syntax = [e for e in errors if isinstance(e, PybtexSyntaxError)]
    if syntax or data is None:
        return [_syntax_problem(syntax[0] if syntax else errors[-1], chunk, key, line,
                                layout, line_of)]
    if layout.close is not None:
        tail = re.sub(r"(?m)^[ \t]*%.*$", "", chunk[layout.close + 1:])
        if re.search(r"[={}]", tail):
            return [problem("syntax", (
                f"entry {key!r} is closed on line {line_of(layout.close)} but field text "
                "follows; remove the extra '}' (or add the missing '{') so braces balance"),
                line_of(layout.close))]

    found = []
    field_line = {}
    for name, offset in layout.fields:
        if name in field_line:
            found.append(problem("syntax", (
                f"field {name!r} appears twice in {key!r} (first on line {field_line[name]}); "
                "keep one"), line_of(offset)))
        else:
            field_line[name] = line_of(offset)
    for error in errors:
        if isinstance(error, InvalidNameString):
            at = field_line.get("author", field_line.get("editor", line))
            found.append(problem("syntax", (
                f"{error}; write each name as 'Surname, Given' and join names with ' and '"), at))
        elif not isinstance(error, DuplicateField) or not any("appears twice" in p.message for p in found):
            found.append(problem("syntax", f"{error}; fix this entry"))

    entry = data.entries.get(key) or next(iter(data.entries.values()), None)
    if entry is None:
        return found
    if not KEY_SCHEME.match(key):
        found.append(problem("bad-key", (
            f"key {key!r} does not follow the scheme surname + year + first title word in "
            "lowercase ASCII (e.g. rogers1957necessary); rename it and its citations")))
    if entry.type not in REQUIRED_FIELDS:
        found.append(problem("unsupported-type", (
            f"entry type @{entry.type} of {key!r} is not supported by the APA style; "
            "use @misc for a work APA has no form for (author, title, year, and a url or "
            "howpublished)")))
    for missing in missing_fields(entry):
        found.append(problem("missing-field", _missing_message(entry, key, missing)))
    doi = entry.fields.get("doi")
    message = None if doi is None else _doi_problem(doi)
    if message:
        found.append(problem("bad-doi", message, field_line.get("doi", line)))
    for name, value in (("url", entry.fields.get("url")),
                        ("howpublished", _address_in(entry.fields.get("howpublished", "")))):
        value = (value or "").strip()
        if value and not value.lower().startswith(URL_SCHEMES):
            found.append(problem("bad-url", (
                f"{name} {value[:60]!r} is not an http(s) address; give the web address "
                "that starts with https:// (or remove the field)"), field_line.get(name, line)))
    title = entry.fields.get("title")
    if title is not None and looks_title_case(title):
        found.append(problem("title-case", TITLE_CASE_MESSAGE, field_line.get("title", line)))
    found += [problem(code, message, at) for code, at, message in
              _export_notes(entry, field_line, line)]
    return found


def _macro_problem(error) -> str:
    """What is wrong with an @string macro, in the writer's terms."""
    if isinstance(error, ValueTooLong):
        return f"cannot read this @string macro: {error.args[0]}"
    if isinstance(error, UndefinedMacro):
        return (f"this @string macro uses {_syntax_message(error)!r}, which is not a defined "
                "@string (or could not be read); define it above, or write the value in "
                "braces")
    return (f"cannot read this @string macro: {_syntax_message(error)}; write it as "
            "@string{name = {value}}")


def _address_in(howpublished: str) -> str | None:
    """The address in a ``howpublished`` field: ``\\url{...}``, or a value that starts
    with a scheme (``https:``, ``javascript:``, ...); None for plain text."""
    match = re.search(r"\\url\s*\{([^}]*)\}", howpublished)
    if match:
        return match.group(1)
    match = re.match(r"\s*([a-z][a-z0-9+.-]*:(?!\s)\S*)", howpublished, re.I)
    return match.group(1) if match else None


def _syntax_problem(error, chunk, key, line, layout, line_of) -> BibProblem:
    """The most helpful 'syntax' problem for pybtex's first error in an entry."""
    info = getattr(error, "error_context_info", None)
    pos = info[-1] if isinstance(info, tuple) and info and isinstance(info[-1], int) else None
    at = line if pos is None else line_of(pos)
    if layout.unclosed is not None:
        name, offset, next_field = layout.unclosed
        return BibProblem(line_of(offset), key, "syntax", (
            f"the value of {name!r} is not closed: a '}}' is missing before the field on "
            f"line {line_of(next_field)}; balance the braces"))
    if isinstance(error, PrematureEOF):
        return BibProblem(line, key, "syntax", (
            f"entry {key!r} is not closed: a closing '}}' is missing before the next entry "
            "or the end of the file; balance the braces"))
    if isinstance(error, TokenRequired) and pos is not None and LINE_FIELD.match(chunk, pos):
        field = FIELD.match(chunk, pos).group(1)
        before = len(chunk[:pos].rstrip())
        return BibProblem(line_of(max(before - 1, 0)), key, "syntax", (
            f"missing ',' at the end of this line (before the field {field!r} on line {at}); "
            "separate fields with commas"))
    if isinstance(error, UndefinedMacro):
        return BibProblem(at, key, "syntax", (
            f"unbraced value {_syntax_message(error)!r} is not a defined @string; "
            "put the value in braces: field = {value}"))
    if isinstance(error, PybtexSyntaxError):
        return BibProblem(at, key, "syntax", (
            f"cannot parse entry {key!r}: {_syntax_message(error)}; "
            "write fields as name = {value}, separated by commas"))
    return BibProblem(line, key, "syntax", f"cannot parse entry {key!r}: {error}; fix its syntax")


def unused_keys(index: BibIndex, cited: set[str]) -> list[BibProblem]:
    """An ``unused`` problem for each indexed key not in *cited* (compared case-insensitively)."""
    cited_lower = {key.lower() for key in cited}
    return [
        BibProblem(line, key, "unused", f"{key!r} is not cited by any article; cite it or remove it")
        for key, line in sorted(index.entries.items(), key=lambda item: item[1])
        if key.lower() not in cited_lower
    ]
