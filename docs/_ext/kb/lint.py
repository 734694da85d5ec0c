"""Text-level checks of a page's source, shared by the build and ``make check``.

Each check takes the page's Markdown and returns ``Problem(line, message)`` items; the
message says what is wrong and what to do. Nothing here needs Sphinx, so ``make check``
runs them without building the site, and the build runs the same functions (one place
for each rule). For a page's markup the build checks its doctree instead
(kb/allowlist.py), with the lists, the file rule and the messages defined here, which
:func:`check_markup` applies to what MyST's parser makes of the page.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True, order=True)
class Problem:
    line: int
    message: str
    code: str = "kb"


# -- safe messaging (reportingonsuicide.org, Action Alliance framework) ----------------------
SAFE_MESSAGING = [
    (r"\bcommit(?:s|ted|ting)?\s+suicide\b", "say 'died by suicide' or 'ended their life'"),
    (r"\bsuccessful\s+suicide\b", "say 'died by suicide'"),
    (r"\bcompleted\s+suicide\b", "say 'died by suicide'"),
    (r"\b(?:failed|unsuccessful)\s+(?:suicide\s+)?attempt\b",
     "say 'a suicide attempt' or 'survived an attempt'"),
    (r"\bsuicide\s+(?:epidemic|wave)\b", "avoid sensational words; describe the facts plainly"),
    (r"\bsuicide\s+victim\b", "say 'a person who died by suicide'"),
    (r"\bsuicide\s+(?:method|methods|note)\b",
     "do not describe methods or notes; focus on help and hope"),
]
_SAFE = [(re.compile(rx, re.I), fix) for rx, fix in SAFE_MESSAGING]
#: Every rule's match holds one of these words (each rule has one outside any group or
#: repeat: tests/test_lint_rules.py checks the parsed patterns), so a text with none of
#: them is not looked at, nor is a line without them.
SAFE_MESSAGING_WORDS = ("suicide", "attempt")
_SAFE_WORD = re.compile("|".join(SAFE_MESSAGING_WORDS), re.I)

# -- raw HTML and links the site does not allow ----------------------------------------------
#: MyST's syntax extensions as docs/conf.py enables them (``myst_enable_extensions``;
#: tests/test_lint_rules.py checks that they are the same), so that ``make check`` parses
#: a page as the build does.
MYST_EXTENSIONS = ("colon_fence", "deflist", "smartquotes")
#: Link schemes a page may use; anything else (javascript:, data:, file:, vbscript:, ...)
#: is refused. Links without a scheme point inside the site. The build's allow-list
#: (kb/allowlist.py) uses this set too.
LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel", "sms"})
#: What the build and ``make check`` say of raw HTML (kb/allowlist.py uses it too).
RAW_HTML = ("raw HTML is not allowed in a page (it could run code in readers' browsers, "
            "cover the crisis notice or send readers elsewhere): write Markdown instead")
#: An address's scheme (``javascript:``), as the build reads it too.
SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*):")
#: Where articles live: a page under it, other than its index, is an article.
ARTICLE_PREFIX = "articles/"
#: Directives an article may use (MyST ```{name}``` or :::{name}::: fences); the build
#: refuses any other (kb/allowlist.py), and so does ``make check``.
ARTICLE_DIRECTIVES = frozenset({
    "references",
    "admonition", "note", "tip", "hint", "important", "warning", "caution", "attention",
    "danger", "error", "seealso",
    "image", "figure",
})
#: Roles an article may use ({name}`...`).
ARTICLE_ROLES = frozenset({
    "cite:p", "cite:t", "cite:ps", "cite:ts", "cite:year",
    "doc", "ref", "download", "abbr", "sub", "sup",
    "kb-book",  # the booking sentence: a link to kb_contact (kb/contact.py)
})
#: What to write instead of a refused directive or role.
INSTEAD = {
    "raw": "write Markdown; HTML, scripts and styles cannot be added to a page",
    "html": "write Markdown; HTML cannot be added to a page",
    "eval-rst": "write MyST Markdown (the syntax the writers' guide shows)",
    "include": "paste the text into the page",
    "literalinclude": "paste the text into the page",
    "csv-table": "write a Markdown table",
    "list-table": "write a Markdown table",
    "math": "write the formula in words; maths would load a script from another site",
    "meta": "use the front matter's 'description'",
    "code-block": "use a plain ``` fenced block",
    "code": "use a plain ``` fenced block",
    "toctree": "articles are listed by their topics; remove the toctree",
    "bibliography": "end the article with a {references} block",
}
DEFAULT_INSTEAD = "write plain Markdown, or ask the site's maintainers to allow it"
#: Image files a page may show, and files it may offer for download. SVG is left out on
#: purpose: an SVG file opened on its own runs the scripts inside it, on the site's origin.
IMAGE_TYPES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
DOWNLOAD_TYPES = IMAGE_TYPES | {".pdf", ".txt"}
#: The directives an article may use whose body is Markdown: ``make check`` looks inside
#: them too. Any other directive's body is not Markdown (``{eval-rst}``, code), or the
#: directive is refused as a whole.
MARKDOWN_BODY_DIRECTIVES = ARTICLE_DIRECTIVES - {"references", "image"}
_PARSER = []  # MyST's Markdown parser, made on first use (it imports markdown-it and MyST)

_FENCE = re.compile(r"^\s*(```+|~~~+|:::+)")
_LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)[^)]*\)")
_IMAGE_DIRECTIVE = re.compile(r"^\s*(?:```+|:::+)\s*\{(?:image|figure)\}\s+(\S+)")
_HEADING = re.compile(r"^(#{1,6})\s+\S")
_CITE = re.compile(r"\{cite:[a-z]+\}`([^`]*)`")


def code_lines(text: str) -> set[int]:
    """1-based numbers of lines inside fenced code blocks (``` or ~~~), where rules about
    prose and HTML do not apply. Directive fences (```{name}) are not code, but their
    closing fence must not be taken for the start of a code block."""
    code, fence, directives, lines = False, "", [], set()
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        match = _FENCE.match(line)
        if code:
            lines.add(number)
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                code = False
        elif match and "{" in stripped:
            directives.append(match.group(1))
        elif match and directives and stripped == directives[-1]:
            directives.pop()
        elif match and match.group(1)[0] in "`~":
            code, fence = True, match.group(1)
            lines.add(number)
    return lines


def without_code_spans(line: str) -> str:
    """The line with inline code (`...`) blanked: quoting a phrase is not using it. The
    content of roles such as {cite:p}`key` is kept."""
    if "`" not in line:
        return line
    out, i, n = [], 0, len(line)
    while True:
        start = line.find("`", i)
        if start == -1:
            out.append(line[i:])
            break
        out.append(line[i:start])
        j = start
        while j < n and line[j] == "`":
            j += 1
        close = line.find(line[start:j], j)
        if close == -1:
            out.append(line[start:])
            break
        end = close + (j - start)
        span = line[start:end]
        out.append(span if start and line[start - 1] == "}" else " " * len(span))
        i = end
    return "".join(out)


def prose_lines(text: str, quoted: bool = True):
    """(line number, line) outside fenced code; with *quoted=False*, inline code spans
    are blanked too (quoting a phrase or a tag is not using it)."""
    skip = code_lines(text)
    for number, line in enumerate(text.split("\n"), 1):
        if number not in skip:
            yield number, line if quoted else without_code_spans(line)


def check_safe_messaging(text: str) -> list[Problem]:
    problems = []
    # only the prose lines that hold one of the words can break a rule
    lines, number, at = None, 1, 0
    for found in _SAFE_WORD.finditer(text):
        if lines is None:
            lines, skip = text.split("\n"), code_lines(text)
        start = found.start()
        if start < at:
            continue  # a line already checked
        number += text.count("\n", at, start)
        end = text.find("\n", start)
        at = len(text) if end == -1 else end  # the next look starts on the next line
        if number in skip:
            continue
        problems += safe_messaging_of_line(number, without_code_spans(lines[number - 1]))
    return problems


def safe_messaging_of_line(number: int, line: str) -> list[Problem]:
    """What the safe-messaging rules find in one prose line (code spans blanked)."""
    return [Problem(number, f"'{match.group(0)}' goes against safe-messaging guidance: "
                            f"{fix}", "safe-messaging")
            for pattern, fix in _SAFE for match in pattern.finditer(line)]


def is_article(docname: str) -> bool:
    """Whether the page *docname* (``articles/grief``) is an article."""
    return docname.startswith(ARTICLE_PREFIX) and docname != ARTICLE_PREFIX + "index"


def refusal(kind: str, name: str, article: bool) -> str:
    """What the build and ``make check`` say of a refused directive or role."""
    return (f"the {{{name}}} {kind} is not allowed in {'articles' if article else 'pages'}: "
            f"{INSTEAD.get(name.lower(), DEFAULT_INSTEAD)} "
            "(docs/contributing/index.md lists what a page may contain)")


def inside_docs(srcdir: Path, docname: str, target: str) -> str | None:
    """The source-relative path of a file a page names, or None if it leaves docs/.
    Sphinx reads ``/x`` from the source folder and ``x`` from the page's folder."""
    if not target or "\\" in target or "\0" in target or SCHEME.match(target):
        return None
    if target.startswith("/"):
        rel = posixpath.normpath(target.lstrip("/"))
    else:
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(docname), target))
    if rel.startswith("../") or rel == ".." or rel.startswith("/"):
        return None
    real = (srcdir / rel).resolve()
    try:
        real.relative_to(srcdir.resolve())
    except ValueError:  # a symbolic link out of docs/
        return None
    return rel


def file_problem(srcdir: Path | None, docname: str, target: str, types,
                 what: str) -> str | None:
    """Why a page may not show (*what* = "image") or offer (``"download"``) the file
    *target*, or None. Without *srcdir*, only whether it is on another site."""
    if SCHEME.match(target) or target.startswith("//"):
        return (f"{what} '{target}' is on another site; a page may only show files from "
                "docs/ (a remote file would tell that site who reads the page): save the "
                "file in docs/_static/ and use its path")
    if srcdir is None:
        return None
    rel = inside_docs(srcdir, docname, target)
    if rel is None:
        return (f"{what} '{target}' is outside docs/; a page may only use files inside "
                "docs/ (save it in docs/_static/)")
    suffix = PurePosixPath(rel).suffix.lower()
    if suffix not in types:
        return (f"{what} '{target}' is a '{suffix or 'no suffix'}' file; allowed: "
                f"{', '.join(sorted(types))}")
    return None


def _markdown():
    """MyST's Markdown parser with the site's syntax, every link kept as a link (as the
    build keeps them, kb/allowlist.py, so that the scheme check sees them)."""
    if not _PARSER:
        from markdown_it.renderer import RendererHTML
        from myst_parser.config.main import MdParserConfig
        from myst_parser.parsers.mdit import create_md_parser

        parser = create_md_parser(MdParserConfig(enable_extensions=set(MYST_EXTENSIONS)),
                                  RendererHTML)
        parser.validateLink = lambda url: True
        _PARSER.append(parser)
    return _PARSER[0]


def check_markup(text: str, article: bool = True, srcdir: Path | None = None,
                 docname: str = "") -> list[Problem]:
    """What the build's allow-list refuses in a page's markup (kb/allowlist.py), found
    where MyST's parser has done its work, as the build finds it, not by searching the
    text: every HTML block and inline HTML tag (a comment too, and a tag split over lines),
    links with a scheme the site does not allow, images and downloads that are not files
    of an allowed type inside *srcdir* (docs/; without it, only those on another site),
    and, in an *article*, directives and roles outside the article's allow-lists (in any
    other page, the ``{raw}`` directive; the build checks the rest of a page's names
    against what the site's own extension registers). Directive bodies are read too.
    *docname*: the page's name (``articles/grief``), for its relative file paths."""
    problems: list[Problem] = []
    _check_tokens(_markdown().parse(text), 0, _Page(article, srcdir, docname), problems)
    return sorted(set(problems))  # two tags on a line: one problem


@dataclass(frozen=True)
class _Page:
    article: bool
    srcdir: Path | None
    docname: str

    def file(self, line: int, target: str, what: str, problems: list[Problem]) -> None:
        types = IMAGE_TYPES if what == "image" else DOWNLOAD_TYPES
        message = file_problem(self.srcdir, self.docname, target, types, what)
        if message:
            problems.append(Problem(line, message, "not-allowed"))


def _check_tokens(tokens, offset: int, page: _Page, problems: list[Problem]) -> None:
    """*tokens* of a text whose first line is the file's line *offset* + 1."""
    for token in tokens:
        line = offset + (token.map[0] if token.map else 0) + 1
        if token.type == "html_block":
            problems.append(Problem(line, RAW_HTML, "raw-html"))
        elif token.type == "inline":
            _check_inline(token.children or [], line, page, problems)
        elif token.type in ("fence", "colon_fence") and token.info.lstrip().startswith("{"):
            name, _, argument = token.info.lstrip()[1:].partition("}")
            name, argument = name.strip().lower(), argument.strip()
            if (name not in ARTICLE_DIRECTIVES) if page.article else (name == "raw"):
                problems.append(Problem(line, refusal("directive", name, page.article),
                                        "not-allowed"))
                continue
            if name in ("image", "figure") and argument:
                page.file(line, argument, "image", problems)
            if name in MARKDOWN_BODY_DIRECTIVES:  # its body starts on the next line
                _check_tokens(_markdown().parse(token.content), line, page, problems)


_ROLE_TARGET = re.compile(r"<([^<>]*)>\s*$")


def _check_inline(children, line: int, page: _Page, problems: list[Problem]) -> None:
    for child in children:
        if child.type == "html_inline":
            problems.append(Problem(line, RAW_HTML, "raw-html"))
        elif child.type == "myst_role":
            name = str(child.meta.get("name", "")).lower()
            if page.article and name not in ARTICLE_ROLES:
                problems.append(Problem(line, refusal("role", name, page.article),
                                        "not-allowed"))
            elif name == "download":  # {download}`text <file>` or {download}`file`
                target = _ROLE_TARGET.search(child.content)
                page.file(line, (target.group(1) if target else child.content).strip(),
                          "download", problems)
        elif child.type == "link_open":
            scheme = SCHEME.match(child.attrGet("href") or "")
            if scheme and scheme.group(1).lower() not in LINK_SCHEMES:
                problems.append(Problem(line, f"'{scheme.group(1).lower()}:' links are not "
                                        "allowed: link to a page of the site or an https:// "
                                        "address", "unsafe-link"))
        elif child.type == "image":
            page.file(line, child.attrGet("src") or "", "image", problems)
        if child.type in ("softbreak", "hardbreak"):
            line += 1
        else:  # inline HTML (or a role) may run over lines
            line += (child.content or "").count("\n")


def check_headings(text: str) -> list[Problem]:
    """One H1 (the title), and no skipped levels (H2 then H4)."""
    problems, previous, h1 = [], 0, 0
    for number, line in prose_lines(text):
        match = _HEADING.match(line)
        if not match:
            continue
        level = len(match.group(1))
        if level == 1:
            h1 += 1
            if h1 == 2:
                problems.append(Problem(number, "a second '# ' heading: an article has one "
                                        "title; use '## ' for sections", "heading"))
        elif previous and level > previous + 1:
            problems.append(Problem(number, f"heading level skipped (H{previous} to H{level}); "
                                    f"use {'#' * (previous + 1)} here", "heading"))
        previous = level
    return problems


def link_targets(text: str):
    """(line, target) for Markdown links and images that point inside the site."""
    for number, line in prose_lines(text):
        for match in _LINK.finditer(line):
            yield number, match.group(2), "link"
        for match in _IMAGE.finditer(line):
            yield number, match.group(1), "image"
        if match := _IMAGE_DIRECTIVE.match(line):
            yield number, match.group(1), "image"


def is_external(target: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I)) or target.startswith("#")


def check_links(text: str, docpath: PurePosixPath, exists,
                images_outside_reported: bool = False) -> list[Problem]:
    """Internal links and images must point at files that exist. *docpath* is the page's
    path relative to the source folder; *exists(relpath)* answers for a path there.
    *images_outside_reported*: an image whose path leaves the source folder is left to
    the file rule of :func:`check_markup`, which says so (one problem, not also "does not
    exist")."""
    problems = []
    for number, target, kind in link_targets(text):
        if is_external(target):
            continue
        path = target.split("#", 1)[0]
        if not path:
            continue
        rel = PurePosixPath(path.lstrip("/")) if path.startswith("/") else docpath.parent / path
        parts, leaves = [], False
        for part in rel.parts:
            if part == "..":
                if parts:
                    parts.pop()
                else:
                    leaves = True  # above the source folder
            elif part != ".":
                parts.append(part)
        if leaves and kind == "image" and images_outside_reported:
            continue
        resolved = "/".join(parts)
        if not exists(resolved):
            what = "image" if kind == "image" else "link target"
            problems.append(Problem(number, f"{what} '{target}' does not exist (check the "
                                    "file name; article links look like "
                                    "'other-article.md')", "broken-" + kind))
    return problems


def cited_keys(text: str):
    """(line, key) for every citation in the page."""
    for number, line in prose_lines(text):
        for match in _CITE.finditer(line):
            for part in match.group(1).split(","):
                key = re.sub(r"\{[^}]*\}", "", part).strip()
                if key:
                    yield number, key


def check_references_section(text: str) -> list[Problem]:
    """An article that cites sources must end with its reference list."""
    if not any(True for _ in cited_keys(text)):
        return []
    if re.search(r"^\s*(```+|:::+)\s*\{references\}", text, re.M):
        return []
    last = len(text.rstrip("\n").split("\n"))
    return [Problem(last, "the article cites sources but has no reference list: end it "
                          "with '## References' and a ```{references}``` block", "references")]


def check_source(text: str, docpath: PurePosixPath, exists,
                 srcdir: Path | None = None) -> list[Problem]:
    """Every text-level rule for one page (*srcdir*: the source folder, docs/, for the
    files a page shows or offers)."""
    docname = docpath.with_suffix("").as_posix()
    problems = (check_safe_messaging(text)
                + check_markup(text, is_article(docname), srcdir, docname)
                + check_headings(text)
                + check_links(text, docpath, exists, images_outside_reported=srcdir is not None)
                + check_references_section(text))
    return sorted(problems)
