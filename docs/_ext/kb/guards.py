"""Guard rails in the build: the text-level rules of kb.lint, the .bib rules of
kb.bibcheck, file names, empty articles, and no traceback for writers.

Each problem is a warning with its file and line (``type="kb"``), so ``-W --keep-going``
lists them all and fails the build.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

from . import lint
from .bibcheck import check_bib
from .errors import guarded
from .lint import ARTICLE_PREFIX, is_article

logger = logging.getLogger(__name__)

SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
BUILD_BIB_CODES = {"syntax", "duplicate-key", "missing-field", "unsupported-type", "bad-doi",
                   "bad-url"}


@guarded("checking the page's text")
def _source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    text = source[0]
    # Raw HTML, links and files are checked on the doctree (kb.allowlist), not here.
    problems = lint.check_safe_messaging(text) + lint.check_headings(text)
    if is_article(docname):
        problems += lint.check_references_section(text)
        slug = docname[len(ARTICLE_PREFIX):]
        if not SLUG.fullmatch(slug):
            suggestion = re.sub(r"[^a-z0-9]+", "-", slug.lower()).strip("-")
            problems.append(lint.Problem(1, f"article file name '{slug}' is not a slug: "
                                         f"rename it to '{suggestion}.md' (lowercase words "
                                         "joined by hyphens)", "slug"))
    for problem in sorted(problems):
        logger.warning(problem.message, location=(docname, problem.line), type="kb",
                       subtype=problem.code)


@guarded("checking references.bib")
def _check_bibfiles(app: Sphinx) -> None:
    """Lint each .bib file; the result is kept while the file is unchanged, and its
    problems are reported again on every build until they are fixed."""
    cache = getattr(app.env, "kb_bib_lint", {})
    for bibfile in app.config.bibtex_bibfiles:
        path = (Path(app.confdir) / bibfile).resolve()
        try:
            mtime = path.stat().st_mtime
            if cache.get(str(path), (None,))[0] != mtime:
                text = path.read_text(encoding="utf-8")
                cache[str(path)] = (mtime, [p for p in check_bib(text).problems
                                            if p.code in BUILD_BIB_CODES])
        except (OSError, UnicodeDecodeError) as exc:
            logger.warning(f"cannot read {path}: {exc}", type="kb", subtype="bib")
            continue
        for problem in cache[str(path)][1]:
            logger.warning(problem.message, location=f"{path}:{problem.line}",
                           type="kb", subtype="bib")
    app.env.kb_bib_lint = cache


@guarded("checking article names")
def _check_consistency(app: Sphinx, env) -> None:
    seen = defaultdict(list)
    for docname in sorted(env.found_docs):
        if is_article(docname):
            seen[docname.lower()].append(docname)
    for names in seen.values():
        if len(names) > 1:
            for name in names[1:]:
                logger.warning(f"duplicate article slug: '{name}' and '{names[0]}' differ only "
                               "in capitals; keep one file and rename or delete the other",
                               location=(name, 1), type="kb", subtype="slug")
    for docname, article in sorted(env.kb_articles.items()):
        if article.words == 0:
            logger.warning("the article has no text yet: write at least a paragraph, or set "
                           "'status: draft' while you work on it",
                           location=(docname, 1), type="kb", subtype="empty")


@guarded("checking file encodings")
def _before_read(app: Sphinx, env, docnames: list[str]) -> None:
    """A file that is not UTF-8 is reported with the line of its first bad byte and left
    out, instead of stopping the build with a traceback."""
    for docname in list(docnames):
        raw = Path(env.doc2path(docname)).read_bytes()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            logger.warning(f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at this "
                           "line); save it as UTF-8 in your editor",
                           location=(docname, line), type="kb", subtype="encoding")
            docnames.remove(docname)
            env.project.docnames.discard(docname)  # not written either


def setup_guards(app: Sphinx) -> None:
    app.connect("env-before-read-docs", _before_read)
    app.connect("source-read", _source_read, priority=450)
    app.connect("builder-inited", _check_bibfiles)
    app.connect("env-check-consistency", _check_consistency)
