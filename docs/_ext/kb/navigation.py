"""What every page shows about the site as a whole: an incremental build writes what a
clean build would.

The sidebar (furo draws the whole table of contents on every page) and the previous/next
links show every page's place in the toctree and its title. Sphinx rewrites only the pages
whose own source or toctree changed, so adding, removing or renaming a site page, or
changing its title or a toctree caption, left every other page's sidebar as it was (a link
to a page that no longer exists). Here, when what the navigation shows changes (the
toctree structure with its captions and options, and the titles of the pages in it),
``env-updated`` asks Sphinx to rewrite every page; when it does not, nothing more.
(Articles are not in the toctree: editing one changes no sidebar.)

The output of a source that was removed (or turned back into a draft in a build that
leaves drafts out) stays in the output folder after an incremental build; at
``build-finished`` every HTML page that this build neither wrote nor kept for a current
source is deleted, so the output holds what a clean build holds.

Readers' navigation is for readers: pages for writers (``kb_writers_pages``, e.g. the
writers' guide) stay in the site, at the same address, but out of the readers' sidebar:
they are left out of the home page's toctree and marked orphan here, so Sphinx does not
ask for them in a toctree. They are also left out of search (``kb_search_exclude``) and
linked from the editorial policy.
"""

from __future__ import annotations

import os
import posixpath
from fnmatch import fnmatch
from typing import Iterable

from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.builders.html import StandaloneHTMLBuilder
from sphinx.util import logging

from .errors import guarded

logger = logging.getLogger(__name__)

# Folders of the HTML output that hold no pages of their own.
NOT_PAGES = ("_static", "_images", "_downloads", "pagefind")


def is_writers_page(config, docname: str) -> bool:
    return any(fnmatch(docname, pattern) for pattern in config.kb_writers_pages)


def _source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    if is_writers_page(app.config, docname):
        app.env.metadata[docname]["orphan"] = True


def navigation_signature(env) -> tuple:
    """Everything the sidebar and the previous/next links show, in a comparable form."""
    in_tree = in_toctree(env)
    structure = []
    for parent in sorted(env.toctree_includes):
        toc = env.tocs.get(parent)
        trees = tuple(str(node) for node in toc.findall(addnodes.toctree)) if toc else ()
        structure.append((parent, tuple(env.toctree_includes[parent]), trees))
    titles = tuple(sorted((doc, str(env.titles[doc])) for doc in in_tree
                          if doc in env.titles))
    return tuple(structure), titles


@guarded("comparing the site's navigation", default=())
def _env_updated(app: Sphinx, env) -> Iterable[str]:
    signature = navigation_signature(env)
    old = getattr(env, "kb_navigation_signature", None)
    env.kb_navigation_signature = signature
    if old is None or old == signature:
        return []
    logger.info("the site's navigation changed: every page is written again")
    return sorted(env.found_docs)


def in_toctree(env) -> set[str]:
    """The documents the sidebar lists: the root document and every toctree entry."""
    names = {env.config.root_doc}
    for children in env.toctree_includes.values():
        names.update(children)
    return names


def _share_sidebar(app: Sphinx) -> None:
    """Render the sidebar once for all the pages it is the same on.

    furo asks Sphinx for the whole table of contents on every page, and Sphinx resolves
    and renders it anew each time (about a tenth of writing an article). On a page that
    is not in the toctree (an article, a topic page) the result depends on the page only
    through its folder (the links are relative) — no entry is "current" there and the page
    has no ancestors — so one rendering per folder and set of options serves them all.
    Pages in the toctree (marked "current" in it) are rendered each time, as before."""
    builder = app.builder
    render = getattr(builder, "_get_local_toctree", None)
    if render is None:
        return
    rendered: dict[tuple, str] = {}

    def local_toctree(docname, collapse=True, **kwargs):
        if docname in in_toctree(builder.env):
            return render(docname, collapse, **kwargs)
        key = (posixpath.dirname(docname), collapse, repr(sorted(kwargs.items())))
        if key not in rendered:
            rendered[key] = render(docname, collapse, **kwargs)
        return rendered[key]

    builder._get_local_toctree = local_toctree


def _builder_inited(app: Sphinx) -> None:
    app.kb_written_pages = set()
    _share_sidebar(app)


def _page_context(app: Sphinx, pagename, templatename, context, doctree) -> None:
    # Pages written in the main process: generated pages (topics, listings, search,
    # 404, redirects are not pages here) and, in a serial build, documents too.
    app.kb_written_pages.add(pagename)


def page_paths(app: Sphinx, names) -> dict[str, str]:
    """Each page's output file, as a normalised path string. For the HTML builder this is
    ``get_outfilename`` without a Path object per page (thousands in every build of a large
    site); other builders name their files their own way and are asked."""
    builder = app.builder
    if builder.name == "html" and type(builder).get_outfilename is \
            StandaloneHTMLBuilder.get_outfilename:
        outdir, suffix = os.path.normpath(app.outdir), builder.out_suffix
        return {name: os.path.normpath(os.path.join(outdir, name + suffix)) for name in names}
    return {name: os.path.normpath(builder.get_outfilename(name)) for name in names}


def expected_pages(app: Sphinx) -> set[str]:
    """The HTML pages of this build, and the copies of their sources (``_sources``), as
    normalised paths under the output folder (compared as written, not resolved: no file
    system call per page)."""
    env = app.env
    names = set(env.all_docs) | getattr(app, "kb_written_pages", set())
    pages = set(page_paths(app, names).values())
    suffix = app.config.html_sourcelink_suffix
    sources = os.path.join(os.path.normpath(app.outdir), "_sources")
    for docname in env.all_docs:  # as Sphinx's HTML builder names them
        source = str(env.doc2path(docname, False))
        if not source.endswith(suffix):
            source += suffix
        pages.add(os.path.normpath(os.path.join(sources, source)))
    return pages


@guarded("removing the pages of removed sources")
def _remove_stale_pages(app: Sphinx, exc) -> None:
    if exc is not None or app.builder.name not in ("html", "dirhtml"):
        return  # an EPUB is built from scratch; a single page has no other pages
    # strings, not a Path per file: this walks every page of the site in every build
    outdir = os.path.normpath(app.outdir)
    keep = expected_pages(app) | {os.path.normpath(os.path.join(outdir, page))
                                  for page in getattr(app, "kb_redirect_pages", ())}
    sources = os.path.join(outdir, "_sources")
    folders = []
    for root, dirs, files in os.walk(outdir):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in NOT_PAGES]
        folders.append(root)
        in_sources = root == sources or root.startswith(sources + os.sep)
        for name in files:
            if not (name.endswith(".html") or in_sources):
                continue
            path = os.path.normpath(os.path.join(root, name))
            if path not in keep:
                logger.info("removing %s: its source is gone", os.path.relpath(path, outdir))
                os.unlink(path)
    for folder in reversed(folders[1:]):  # deepest first; never the output folder itself
        with os.scandir(folder) as entries:
            empty = next(entries, None) is None
        if empty:
            os.rmdir(folder)


def setup_navigation(app: Sphinx) -> None:
    app.add_config_value("kb_writers_pages", ["contributing/*"], "env", list)
    app.connect("source-read", _source_read, priority=450)
    app.connect("env-updated", _env_updated)
    app.connect("builder-inited", _builder_inited)
    app.connect("html-page-context", _page_context)
    # after the redirect pages are known (kb/urls.py), before the search index (500)
    app.connect("build-finished", _remove_stale_pages, priority=450)
