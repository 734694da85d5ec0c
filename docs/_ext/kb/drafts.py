"""Drafts: shown locally and in previews with a banner, left out of production builds.

Drafts fail closed. On Read the Docs (``READTHEDOCS=True``) every build is a production
build for readers unless ``READTHEDOCS_VERSION_TYPE`` is ``external`` (a pull-request
preview): a branch, a tag, an unknown or a missing version type all leave drafts out, and
``KB_DRAFTS=1`` cannot bring them back there. Elsewhere (a writer's machine) drafts are
shown unless ``KB_DRAFTS=0`` (or ``kb_show_drafts`` in conf.py, ``-D kb_show_drafts=0``)
says otherwise. Only ``.md`` sources are read (``kb.allowlist``), and every one of them
follows this rule.

Drafts are excluded before reading, so in production they are not built at all: not in
listings, feeds, the sitemap, search or the bibliography. A published page that links to
a draft is an error in every build, with the draft's name: in production the link would
break.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from docutils import nodes
from sphinx import addnodes

from sphinx.application import Sphinx
from sphinx.util import logging

from .frontmatter import FrontMatterError, split_front_matter
from .lint import ARTICLE_PREFIX

logger = logging.getLogger(__name__)


def is_production(environ=os.environ) -> bool:
    """A build for readers: on Read the Docs, anything but a pull-request preview."""
    return (environ.get("READTHEDOCS") == "True"
            and environ.get("READTHEDOCS_VERSION_TYPE") != "external")


def show_drafts(environ=os.environ) -> bool:
    """Whether this build shows drafts, from the environment."""
    if is_production(environ):
        return False
    override = environ.get("KB_DRAFTS")
    if override is not None:
        return override.strip().lower() not in ("0", "false", "no", "")
    return True


def draft_sources(srcdir: Path, only=None) -> list[str]:
    """Article files whose front matter says ``status: draft`` (source-relative paths);
    among the source-relative paths *only*, if given (the others are not read)."""
    drafts = []
    paths = sorted((srcdir / ARTICLE_PREFIX).glob("*.md")) if only is None else sorted(
        srcdir / rel for rel in only
        if rel.startswith(ARTICLE_PREFIX) and (srcdir / rel).is_file())
    for path in paths:
        try:
            head = path.read_text(encoding="utf-8", errors="replace")
            fm, _ = split_front_matter(head)
        except (OSError, FrontMatterError):
            continue  # reported with its line when the page is read
        if fm is not None and fm.data.get("status") == "draft":
            drafts.append(path.relative_to(srcdir).as_posix())
    return drafts


def _config_inited(app: Sphinx, config) -> None:
    if config.kb_show_drafts is None or is_production():
        config.kb_show_drafts = show_drafts()
    elif isinstance(config.kb_show_drafts, str):
        config.kb_show_drafts = config.kb_show_drafts.strip().lower() in ("1", "true", "yes")
    if not config.kb_show_drafts:
        drafts = draft_sources(Path(app.srcdir))
        if drafts:
            logger.info(f"leaving out {len(drafts)} draft article(s): {', '.join(drafts)}")
        config.exclude_patterns = [*config.exclude_patterns, *drafts]


# -- links from published pages to drafts -------------------------------------------------

def linked_docnames(doctree: nodes.document, docname: str, found) -> list[tuple[str, int]]:
    """(target docname, line) of every link from the page to another page of the site:
    Markdown links to ``.md`` files and the {doc} role."""
    links = []
    for node in doctree.findall(addnodes.pending_xref):
        target = (node.get("reftarget") or "").split("#", 1)[0]
        if not target:
            continue
        if node.get("reftype") == "myst" and node.get("refdomain") == "doc":
            name = target  # MyST has resolved the file to a document name already
        elif node.get("reftype") == "myst" and target.endswith(".md"):
            name = posixpath.normpath(posixpath.join(posixpath.dirname(docname), target[:-3]))
        elif node.get("reftype") != "doc":
            continue
        elif target.startswith("/"):
            name = posixpath.normpath(target.lstrip("/"))
        else:
            name = posixpath.normpath(posixpath.join(posixpath.dirname(docname), target))
        if name in found:
            links.append((name, node.line or 1))
    return links


def _doctree_read(app: Sphinx, doctree) -> None:
    env = app.env
    env.kb_links[env.docname] = linked_docnames(doctree, env.docname, env.found_docs)


def _check_draft_links(app: Sphinx, env) -> None:
    articles = env.kb_articles
    for docname in sorted(env.kb_links):
        source = articles.get(docname)
        if source is not None and source.is_draft:
            continue  # a draft may link to another draft
        for target, line in env.kb_links[docname]:
            if target in articles and articles[target].is_draft:
                logger.warning(
                    f"this page links to '{target}', which is a draft: published sites leave "
                    "drafts out, so the link would break; publish the draft first, or remove "
                    "the link", location=(docname, line), type="kb", subtype="draft-link")


def _env_init(app: Sphinx) -> None:
    if not hasattr(app.env, "kb_links"):
        app.env.kb_links = {}


def _purge(app, env, docname) -> None:
    getattr(env, "kb_links", {}).pop(docname, None)


def _merge(app, env, docnames, other) -> None:
    for docname in docnames:
        if docname in other.kb_links:
            env.kb_links[docname] = other.kb_links[docname]


def setup_drafts(app: Sphinx) -> None:
    app.add_config_value("kb_show_drafts", None, "env")
    app.connect("config-inited", _config_inited, priority=600)
    app.connect("builder-inited", _env_init)
    app.connect("doctree-read", _doctree_read)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-check-consistency", _check_draft_links)
