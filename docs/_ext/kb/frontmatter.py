"""Front matter: read, validate and store it, in one typed place.

Every page may start with a YAML block between ``---`` lines. Articles
(``articles/<slug>.md``) must carry the full article schema; other pages may carry
``title`` and ``description``. Each problem is a warning with the file and line of the
key at fault (``type="kb", subtype="frontmatter"``) so that ``-W`` fails the build after
listing every problem. The block is blanked out (line numbers kept) before MyST parses
the page, so the writer sees our messages, once, and never MyST's.

The validated metadata lives on ``env.kb_articles`` / ``env.kb_pages``, keyed by docname,
with purge and merge handlers, so parallel and incremental builds stay right.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

from .datafiles import FRONT_MATTER_MAX, YamlProblem, key_lines, load_yaml
from .errors import guarded
from .lint import is_article

logger = logging.getLogger(__name__)

STATUSES = ("draft", "published")
MAX_REVIEW_YEARS = 3
DESCRIPTION_MAX = 300
CONTENT_NOTE_MAX = 200

ARTICLE_KEYS = {
    "title": "optional; defaults to the page's first heading",
    "description": "one or two sentences, used in listings and search results",
    "topics": "a list of topic slugs from docs/_data/topics.yaml",
    "author": "an author key from docs/_data/authors.yaml",
    "published": "date first published, YYYY-MM-DD",
    "updated": "date of the last edit, YYYY-MM-DD",
    "last_reviewed": "date of the last clinical review, YYYY-MM-DD",
    "next_review": "date the next review is due, YYYY-MM-DD",
    "reviewed_by": "optional; an author key of the clinical reviewer",
    "content_note": "optional; a short factual note, e.g. 'This article discusses grief.'",
    "status": "draft or published",
    "quick_exit": "optional; true on pages about abuse: a quick-exit button and a note on "
                  "private browsing",
}
REQUIRED_ARTICLE_KEYS = (
    "description", "topics", "published", "updated", "last_reviewed", "next_review",
    "status",
)
PAGE_KEYS = {"title": "the page title", "description": "one or two sentences",
             "quick_exit": "optional; true on pages about abuse"}
BOOLEAN_KEYS = {"quick_exit"}

_FENCE = re.compile(r"^---[ \t]*$")


@dataclass(frozen=True)
class Article:
    """Validated front matter of one article."""

    docname: str
    title: str | None
    description: str
    topics: tuple[str, ...]
    author: str
    published: dt.date
    updated: dt.date
    last_reviewed: dt.date
    next_review: dt.date
    status: str
    reviewed_by: str | None = None
    content_note: str | None = None
    quick_exit: bool = False
    words: int = 0
    sources: tuple[str, ...] = field(default=())

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"


@dataclass
class FrontMatter:
    """Raw front matter: the mapping, the line of each key, and the block's extent."""

    data: dict[str, Any]
    lines: dict[str, int]
    first_line: int  # line of the opening ---
    last_line: int  # line of the closing ---


class FrontMatterError(Exception):
    """The block cannot be read at all (bad YAML, not a mapping, no closing fence)."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


def split_front_matter(text: str) -> tuple[FrontMatter | None, str]:
    """Return the parsed front matter and the text with the block blanked out.

    Line numbers are 1-based file lines. Raises FrontMatterError for an unreadable block.
    """
    lines = text.split("\n")
    if not lines or not _FENCE.match(lines[0].lstrip("\ufeff")):
        return None, text
    end = next((i for i in range(1, len(lines)) if _FENCE.match(lines[i])), None)
    if end is None:
        raise FrontMatterError(
            "front matter starts with '---' but has no closing '---' line "
            "(add a line with just --- after the last key)", 1)
    block = "\n".join(lines[1:end])
    try:
        data, node = load_yaml(block, FRONT_MATTER_MAX)
    except YamlProblem as exc:
        raise FrontMatterError(f"front matter{_joined(exc.message)}", exc.line + 1) from None
    if data is None:
        data, node = {}, None
    if not isinstance(data, dict):
        raise FrontMatterError(
            "front matter must be 'key: value' lines, one per line", 2)
    key_lines = {}
    if node is not None:
        for key_node, _ in node.value:
            key_lines[str(key_node.value)] = key_node.start_mark.line + 2
    blanked = [""] * (end + 1) + lines[end + 1:]
    return FrontMatter({str(k): v for k, v in data.items()}, key_lines, 1, end + 1), "\n".join(blanked)


def _joined(message: str) -> str:
    """'is not valid YAML: ...' or ': YAML anchors ...', after the name of what was read."""
    return f" is {message}" if message.startswith("not valid YAML") else f": {message}"


# -- validation ---------------------------------------------------------------------------

@dataclass
class Problem:
    line: int
    message: str


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def validate_article(fm: FrontMatter | None, docname: str, topics: dict, authors: dict,
                     default_author: str) -> tuple[Article | None, list[Problem]]:
    """Check an article's front matter; return the Article (None if unusable) and every
    problem found, each with its line."""
    problems: list[Problem] = []
    if fm is None:
        return None, [Problem(1, "article has no front matter: start the file with a '---' "
                                 "block (run 'make new' for a template)")]
    data, where = fm.data, fm.lines

    def bad(key: str, message: str) -> None:
        problems.append(Problem(where.get(key, fm.first_line), message))

    for key in data:
        if key not in ARTICLE_KEYS:
            bad(key, f"unknown front-matter key {key!r} ({_suggest(key, ARTICLE_KEYS)}"
                     f"allowed keys: {', '.join(ARTICLE_KEYS)})")
    for key in REQUIRED_ARTICLE_KEYS:
        if data.get(key) in (None, "", []):
            problems.append(Problem(fm.last_line, f"front matter is missing '{key}': add "
                                                  f"'{key}: ...' ({ARTICLE_KEYS[key]})"))

    title = data.get("title")
    if title is not None and (not isinstance(title, str) or not title.strip()):
        bad("title", "'title' must be text")
        title = None

    description = data.get("description")
    if description not in (None, ""):
        if not isinstance(description, str):
            bad("description", "'description' must be one or two sentences of text")
            description = None
        elif len(description) > DESCRIPTION_MAX:
            bad("description", f"'description' is {len(description)} characters; keep it "
                               f"to one or two sentences (at most {DESCRIPTION_MAX})")

    raw_topics = data.get("topics")
    topic_list: list[str] = []
    if isinstance(raw_topics, str):
        raw_topics = [raw_topics]
    if raw_topics not in (None, "", []):
        if not isinstance(raw_topics, list):
            bad("topics", "'topics' must be a list, e.g. topics: [grief, families]")
        else:
            for topic in raw_topics:
                slug = str(topic)
                if slug not in topics:
                    bad("topics", f"unknown topic {slug!r} ({_suggest(slug, topics)}known "
                                  f"topics: {', '.join(topics)}; add new topics to "
                                  "docs/_data/topics.yaml)")
                elif slug in topic_list:
                    bad("topics", f"topic {slug!r} is listed twice")
                else:
                    topic_list.append(slug)

    author = data.get("author", default_author)
    if not isinstance(author, str) or author not in authors:
        bad("author", f"unknown author {str(author)!r} ({_suggest(str(author), authors)}known "
                      f"authors: {', '.join(authors)}; authors are listed in "
                      "docs/_data/authors.yaml)")
    reviewed_by = data.get("reviewed_by")
    if reviewed_by is not None and (not isinstance(reviewed_by, str)
                                    or reviewed_by not in authors):
        bad("reviewed_by", f"unknown reviewer {str(reviewed_by)!r} (reviewers must be listed in "
                           "docs/_data/authors.yaml)")

    dates: dict[str, dt.date] = {}
    for key in ("published", "updated", "last_reviewed", "next_review"):
        value = data.get(key)
        if value in (None, ""):
            continue
        day = _as_date(value)
        if day is None:
            bad(key, f"'{key}' is not a valid date: {value!r} (write it as YYYY-MM-DD, "
                     "e.g. 2026-11-29)")
        else:
            dates[key] = day
    if "published" in dates and "updated" in dates and dates["updated"] < dates["published"]:
        bad("updated", f"'updated' ({dates['updated']}) is before 'published' "
                       f"({dates['published']}); set it to the date of the last edit")
    if "last_reviewed" in dates and "next_review" in dates:
        last, nxt = dates["last_reviewed"], dates["next_review"]
        if nxt <= last:
            bad("next_review", f"'next_review' ({nxt}) must be after 'last_reviewed' "
                               f"({last})")
        elif nxt > _add_years(last, MAX_REVIEW_YEARS):
            bad("next_review", f"'next_review' ({nxt}) is more than {MAX_REVIEW_YEARS} "
                               f"years after 'last_reviewed' ({last}); set it to "
                               f"{_add_years(last, MAX_REVIEW_YEARS)} or earlier")

    content_note = data.get("content_note")
    if content_note is not None:
        if not isinstance(content_note, str) or not content_note.strip():
            bad("content_note", "'content_note' must be a short sentence, e.g. "
                                "'This article discusses childhood abuse.'")
            content_note = None
        elif len(content_note) > CONTENT_NOTE_MAX:
            bad("content_note", f"'content_note' is {len(content_note)} characters; keep "
                                f"it short and factual (at most {CONTENT_NOTE_MAX})")

    quick_exit = data.get("quick_exit", False)
    if not isinstance(quick_exit, bool):
        bad("quick_exit", f"'quick_exit' must be true or false, not {quick_exit!r}")

    status = data.get("status")
    if status not in (None, "") and status not in STATUSES:
        bad("status", f"'status' must be 'draft' or 'published', not {status!r}")

    if problems:
        return None, problems
    return Article(
        docname=docname, title=title.strip() if title else None,
        description=description.strip(), topics=tuple(topic_list), author=author,
        published=dates["published"], updated=dates["updated"],
        last_reviewed=dates["last_reviewed"], next_review=dates["next_review"],
        status=status, reviewed_by=reviewed_by,
        content_note=content_note.strip() if content_note else None,
        quick_exit=quick_exit,
    ), []


def validate_page(fm: FrontMatter | None) -> tuple[dict, list[Problem]]:
    if fm is None:
        return {}, []
    problems = []
    for key, value in fm.data.items():
        if key not in PAGE_KEYS:
            problems.append(Problem(fm.lines.get(key, 1), f"unknown front-matter key "
                                    f"'{key}' ({_suggest(key, PAGE_KEYS)}pages allow: "
                                    f"{', '.join(PAGE_KEYS)})"))
        elif key in BOOLEAN_KEYS:
            if not isinstance(value, bool):
                problems.append(Problem(fm.lines.get(key, 1),
                                        f"'{key}' must be true or false, not {value!r}"))
        elif not isinstance(value, str):
            problems.append(Problem(fm.lines.get(key, 1), f"'{key}' must be text"))
    return ({k: v for k, v in fm.data.items() if k in PAGE_KEYS
             and isinstance(v, bool if k in BOOLEAN_KEYS else str)}, problems)


# -- vocabularies -------------------------------------------------------------------------

def load_vocabulary(path: Path, kind: str, required: tuple[str, ...]
                    ) -> tuple[dict[str, dict], list[Problem]]:
    """Load topics.yaml or authors.yaml; return the entries and each problem with its line."""
    try:
        text = path.read_text(encoding="utf-8")
        data, node = load_yaml(text)
    except FileNotFoundError:
        return {}, [Problem(1, f"{kind} file not found: {path}")]
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        return {}, [Problem(line, f"{kind} file is not UTF-8 text; save it as UTF-8")]
    except OSError as exc:
        return {}, [Problem(1, f"cannot read the {kind} file: {exc.strerror}")]
    except YamlProblem as exc:
        return {}, [Problem(exc.line, f"{kind} file{_joined(exc.message)}")]
    data = data or {}
    if not isinstance(data, dict):
        return {}, [Problem(1, f"{kind} file must map slugs to entries")]
    lines = key_lines(node)
    vocab, problems = {}, []
    for slug, entry in data.items():
        slug = str(slug)
        missing = [k for k in required if not isinstance(entry, dict) or not entry.get(k)]
        if missing or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug):
            problems.append(Problem(lines.get(slug, 1), f"{kind} '{slug}' needs a "
                                    f"lowercase-hyphenated slug and {', '.join(required)} "
                                    f"(missing: {', '.join(missing) or 'none'})"))
            continue
        not_text = [k for k, v in entry.items() if not isinstance(v, str)]
        if not_text:
            problems.append(Problem(lines.get(slug, 1), f"{kind} '{slug}': "
                                    f"{', '.join(map(str, not_text))} must be text"))
            continue
        vocab[slug] = dict(entry)
    return vocab, problems


# -- Sphinx wiring ------------------------------------------------------------------------

def _report(docname: str, problems: list[Problem]) -> None:
    for problem in sorted(problems, key=lambda p: p.line):
        logger.warning(problem.message, location=(docname, problem.line), type="kb",
                       subtype="frontmatter")


def _builder_inited(app: Sphinx) -> None:
    src = Path(app.srcdir)
    for attr, name, kind, required in (
            ("kb_topics", app.config.kb_topics_file, "topic", ("title", "description")),
            ("kb_authors", app.config.kb_authors_file, "author", ("name",))):
        vocab, problems = load_vocabulary(src / name, kind, required)
        setattr(app.env, attr, vocab)
        for problem in problems:
            logger.warning(problem.message, location=f"{src / name}:{problem.line}",
                           type="kb", subtype="vocabulary")
    if app.config.kb_default_author not in app.env.kb_authors:
        logger.warning(f"kb_default_author '{app.config.kb_default_author}' is not in "
                       f"{app.config.kb_authors_file}", type="kb", subtype="vocabulary")


@guarded("reading the front matter")
def _source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    env = app.env
    for data_file in (app.config.kb_topics_file, app.config.kb_authors_file):
        env.note_dependency(os.path.join(app.srcdir, data_file))
    try:
        fm, source[0] = split_front_matter(source[0])
    except FrontMatterError as exc:
        _report(docname, [Problem(exc.line, str(exc))])
        fm = None
        source[0] = _blank_broken_block(source[0])
        if is_article(docname):
            env.kb_invalid.add(docname)
            env.metadata[docname]["orphan"] = True
            return
    if is_article(docname):
        article, problems = validate_article(fm, docname, env.kb_topics, env.kb_authors,
                                             app.config.kb_default_author)
        _report(docname, problems)
        if article is None:
            env.kb_invalid.add(docname)
        else:
            env.kb_articles[docname] = article
            env.metadata[docname]["og:description"] = article.description
            env.metadata[docname]["og:type"] = "article"
        # Articles are reached through topic pages and listings, not the sidebar's toctree.
        env.metadata[docname]["orphan"] = True
    else:
        page, problems = validate_page(fm)
        _report(docname, problems)
        if page:
            env.kb_pages[docname] = page
            if page.get("description"):
                env.metadata[docname]["og:description"] = page["description"]


def _blank_broken_block(text: str) -> str:
    """Blank an unreadable front-matter block so the page still parses."""
    lines = text.split("\n")
    end = next((i for i in range(1, len(lines)) if _FENCE.match(lines[i])), 0)
    return "\n".join([""] * (end + 1) + lines[end + 1:])


def _env_init(env: BuildEnvironment) -> None:
    for name in ("kb_articles", "kb_pages"):
        if not hasattr(env, name):
            setattr(env, name, {})
    if not hasattr(env, "kb_invalid"):
        env.kb_invalid = set()


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _env_init(env)
    env.kb_articles.pop(docname, None)
    env.kb_pages.pop(docname, None)
    env.kb_invalid.discard(docname)


def _merge(app: Sphinx, env: BuildEnvironment, docnames, other: BuildEnvironment) -> None:
    _env_init(env)
    for docname in docnames:
        if docname in other.kb_articles:
            env.kb_articles[docname] = other.kb_articles[docname]
        if docname in other.kb_pages:
            env.kb_pages[docname] = other.kb_pages[docname]
        if docname in other.kb_invalid:
            env.kb_invalid.add(docname)


def setup_frontmatter(app: Sphinx) -> None:
    app.add_config_value("kb_topics_file", "_data/topics.yaml", "env", str)
    app.add_config_value("kb_authors_file", "_data/authors.yaml", "env", str)
    app.add_config_value("kb_default_author", "editorial-team", "env", str)
    app.connect("builder-inited", _builder_inited, priority=400)
    app.connect("builder-inited", lambda app: _env_init(app.env), priority=300)
    app.connect("source-read", _source_read, priority=400)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
