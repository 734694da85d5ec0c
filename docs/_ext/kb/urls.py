"""Addresses that never break: the record of published URLs, and redirects.

Every page the site has published is listed in ``kb_published_urls_file``
(``docs/_data/published-urls.txt``, in the repository, so a shallow clone on Read the
Docs checks the same way). ``make html`` adds the pages of each successful build to it
(``kb/build.py``); a line is never removed. A build refuses, naming the record's line and
what to add, any recorded page it no longer has, unless a redirect in
``kb_redirects_file`` (``docs/_data/redirects.yaml``, ``old.html: new.html``) sends readers
to where the page went. Drafts are not published, so they are not recorded.

The redirect pages are written by sphinx-reredirects, from a fixed template in
``kb/templates/kb-redirect.html``: a ``<meta http-equiv="refresh">`` to a relative address
on the same site, a link for readers whose browser does not follow it, no script (the
extension's default page runs an inline script, which the site's Content-Security-Policy
forbids), and a policy of its own that allows nothing at all. Each entry is checked: both
sides are pages of this site (``folder/name.html``), the old address is not a page of the
site, and the new one is a page of this build, not another redirect.
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
from pathlib import Path

import sphinx_reredirects
import yaml
from sphinx.application import Sphinx
from sphinx.util import logging

from .drafts import draft_sources
from .errors import guarded

logger = logging.getLogger(__name__)

TEMPLATE = Path(__file__).parent / "templates" / "kb-redirect.html"
# What an address in the record or in a redirect may be: a page of this site.
PAGE = re.compile(r"[a-z0-9][a-z0-9_-]*(?:/[a-z0-9][a-z0-9_-]*)*\.html")
FRAGMENT = re.compile(r"#[A-Za-z0-9][A-Za-z0-9_-]*")
BUILD_RECORD = "kb-published-urls.json"  # in the doctree folder: read by kb/build.py


def _warn(message: str, location: str | None = None) -> None:
    logger.warning(message, location=location, type="kb", subtype="urls")


def load_redirects(path: Path) -> tuple[dict[str, tuple[str, int]], list[tuple[int, str]]]:
    """``{old page: (new page[#fragment], line)}`` and the problems ``(line, message)``."""
    if not path.is_file():
        return {}, []
    try:
        loader = yaml.SafeLoader(path.read_text(encoding="utf-8"))
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        mark = getattr(err, "problem_mark", None)
        return {}, [(mark.line + 1 if mark else 1,
                     f"not valid YAML ({getattr(err, 'problem', None) or err})")]
    if root is None:
        return {}, []
    if not isinstance(root, yaml.MappingNode):
        return {}, [(1, "expected lines of 'old/page.html: new/page.html'")]
    redirects: dict[str, tuple[str, int]] = {}
    problems = []
    for key, value in root.value:
        line = key.start_mark.line + 1
        old = str(key.value).strip() if isinstance(key, yaml.ScalarNode) else ""
        new = str(value.value).strip() if isinstance(value, yaml.ScalarNode) else ""
        page, _, fragment = new.partition("#")
        if not PAGE.fullmatch(old):
            problems.append((line, f"'{old}' is not an address of this site: write the old "
                             "page's path as readers saw it, e.g. articles/old-name.html"))
        elif not PAGE.fullmatch(page) or (fragment and not FRAGMENT.fullmatch("#" + fragment)):
            problems.append((line, f"'{new}' is not a page of this site: write where the "
                             f"page went as a path in the site, e.g. articles/new-name.html "
                             "(redirects never lead to another site)"))
        elif old in redirects:
            problems.append((line, f"'{old}' is redirected twice: keep one line"))
        elif old == page:
            problems.append((line, f"'{old}' redirects to itself"))
        else:
            redirects[old] = (new, line)
    return redirects, problems


TARGET = re.compile(r"(?:\.\./)*" + PAGE.pattern + "(?:" + FRAGMENT.pattern + ")?")


@functools.lru_cache(maxsize=1)
def _template_text() -> str:
    """The redirect template, read once per process (the output check asks for every
    page)."""
    return TEMPLATE.read_text(encoding="utf-8")


def redirect_page_target(text: str) -> str | None:
    """If *text* is exactly a redirect page of this site (the template, with a relative
    address on the site), the address it leads to; else None. For output checks that
    allow only the site's own kinds of ``<meta http-equiv>``."""
    template = _template_text()
    head, _, tail = template.partition("${to_uri}")
    if not text.startswith(head):
        return None
    target = text[len(head):].partition('"')[0]
    if not TARGET.fullmatch(target):
        return None
    return target if text == template.replace("${to_uri}", target) else None


def relative(old: str, new: str) -> str:
    """The link from page *old* to *new*, relative, so it works under any base URL."""
    page, hash_, fragment = new.partition("#")
    return posixpath.relpath(page, posixpath.dirname(old) or ".") + hash_ + fragment


def _config_inited(app: Sphinx, config) -> None:
    path = Path(app.srcdir, config.kb_redirects_file)
    redirects, problems = load_redirects(path)
    app.kb_redirects = redirects
    app.kb_redirect_problems = [(f"{path}:{line}", message) for line, message in problems]
    # A published article turned back into a draft has a redirect, used where drafts are
    # left out (production); a build that shows drafts (a preview) shows the draft there.
    shown_drafts = set()
    if config.kb_show_drafts:  # only the sources of old addresses can matter here
        sources = {old[:-len(".html")] + ".md" for old in redirects if old.endswith(".html")}
        shown_drafts = {source[:-len(".md")] + ".html"
                        for source in draft_sources(Path(app.srcdir), only=sources)}
    written = {old: new for old, (new, _line) in redirects.items() if old not in shown_drafts}
    # sphinx-reredirects writes the pages (html-collect-pages), from our template only
    config.redirects = {old: relative(old, new) for old, new in written.items()}
    config.redirect_html_template_file = str(TEMPLATE)
    app.kb_redirect_pages = set(written)


def _builder_inited(app: Sphinx) -> None:
    for location, message in app.kb_redirect_problems:
        _warn(message, location)


def _collect_pages(app: Sphinx):
    """sphinx-reredirects writes the redirect pages: for the web site only (an EPUB or a
    single page has no addresses to keep), and never over a page of this build (reported
    at build-finished)."""
    if app.builder.name not in ("html", "dirhtml"):
        app.kb_redirect_pages = set()
        return []
    pages = {app.builder.get_target_uri(d) for d in app.env.found_docs}
    app.kb_redirect_pages -= pages
    configured = app.config.redirects
    app.config.redirects = {old: new for old, new in configured.items() if old not in pages}
    try:
        sphinx_reredirects.init(app)
    finally:
        app.config.redirects = configured  # as saved with the environment
    return []


def published_pages(app: Sphinx) -> set[str]:
    """The pages of this build that readers see (drafts are not published)."""
    env, builder = app.env, app.builder
    articles = getattr(env, "kb_articles", {})
    docs = {d for d in env.found_docs if not (d in articles and articles[d].is_draft)}
    generated = getattr(app, "kb_written_pages", set()) - set(env.found_docs)
    return {builder.get_target_uri(name) for name in docs | generated}


def read_record(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(n, line.strip()) for n, line in enumerate(lines, 1)
            if line.strip() and not line.lstrip().startswith("#")]


@guarded("checking the published addresses", default=None)
def _build_finished(app: Sphinx, exc) -> None:
    if exc is not None or app.builder.name not in ("html", "dirhtml"):
        return  # the web site's addresses only (not an EPUB or a single page)
    srcdir = Path(app.srcdir)
    redirects_file = srcdir / app.config.kb_redirects_file
    record_file = srcdir / app.config.kb_published_urls_file
    current = published_pages(app)
    for old, (new, line) in sorted(app.kb_redirects.items()):
        where = f"{redirects_file}:{line}"
        target = new.partition("#")[0]
        if old in current:
            _warn(f"{old} is a page of the site: a redirect would hide it (remove this "
                  "line, or the page)", where)
        elif target in app.kb_redirects and target not in current:
            final = app.kb_redirects[target][0]
            _warn(f"{target} is itself redirected: send {old} straight to {final}", where)
        elif target not in current:
            _warn(f"{new} is not a page of this build: write where {old} went now", where)
    for line, url in read_record(record_file):
        if url in current or url in app.kb_redirects:
            continue
        if not PAGE.fullmatch(url):
            _warn(f"'{url}' is not a page address (this file lists one per line, e.g. "
                  "articles/anxiety.html)", f"{record_file}:{line}")
            continue
        _warn(f"{url} was published and this build no longer has it, so readers' links and "
              f"bookmarks to it would break: add a line '{url}: <where it went>.html' to "
              f"{redirects_file} (see the writers' guide, \"Renaming, moving "
              "or removing a page\")", f"{record_file}:{line}")
    Path(app.doctreedir).mkdir(parents=True, exist_ok=True)
    Path(app.doctreedir, BUILD_RECORD).write_text(json.dumps(
        {"record": str(record_file), "published": sorted(current)}, indent=0),
        encoding="utf-8")


def setup_urls(app: Sphinx) -> None:
    app.setup_extension("sphinx_reredirects")
    for listener in list(app.events.listeners["html-collect-pages"]):
        if listener.handler is sphinx_reredirects.init:  # called by _collect_pages
            app.disconnect(listener.id)
    app.add_config_value("kb_redirects_file", "_data/redirects.yaml", "env", types=[str])
    app.add_config_value("kb_published_urls_file", "_data/published-urls.txt", "",
                         types=[str])
    app.connect("config-inited", _config_inited, priority=700)  # after kb/drafts.py
    app.connect("builder-inited", _builder_inited)
    app.connect("html-collect-pages", _collect_pages)
    app.connect("build-finished", _build_finished, priority=440)
