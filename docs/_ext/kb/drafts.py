"""Drafts: shown locally and in previews with a banner, left out of production builds.

Production means a Read the Docs build of a branch or tag (``READTHEDOCS_VERSION_TYPE``
is ``branch`` or ``tag``); pull-request previews (``external``) and local builds show
drafts. ``KB_DRAFTS=0`` or ``1`` overrides, and so does ``kb_show_drafts`` in conf.py or
``-D kb_show_drafts=0``.

Drafts are excluded before reading, so in production they are not built at all: not in
listings, feeds, the sitemap, search or the bibliography.
"""

from __future__ import annotations

import os
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

from .frontmatter import ARTICLE_PREFIX, FrontMatterError, split_front_matter

logger = logging.getLogger(__name__)


def is_production(environ=os.environ) -> bool:
    """A Read the Docs build that is not a pull-request preview (READTHEDOCS=True and
    READTHEDOCS_VERSION_TYPE not "external"; a missing or other type counts)."""
    return (environ.get("READTHEDOCS") == "True"
            and environ.get("READTHEDOCS_VERSION_TYPE") != "external")


def show_drafts(environ=os.environ) -> bool:
    """Whether this build shows drafts, from the environment."""
    override = environ.get("KB_DRAFTS")
    if override is not None:
        return override.strip().lower() not in ("0", "false", "no", "")
    if environ.get("READTHEDOCS") == "True":
        return environ.get("READTHEDOCS_VERSION_TYPE") not in ("branch", "tag")
    return True


def draft_sources(srcdir: Path) -> list[str]:
    """Article files whose front matter says ``status: draft`` (source-relative paths)."""
    drafts = []
    for path in sorted((srcdir / ARTICLE_PREFIX).glob("*.md")):
        try:
            head = path.read_text(encoding="utf-8", errors="replace")
            fm, _ = split_front_matter(head)
        except (OSError, FrontMatterError):
            continue  # reported with its line when the page is read
        if fm is not None and fm.data.get("status") == "draft":
            drafts.append(path.relative_to(srcdir).as_posix())
    return drafts


def _config_inited(app: Sphinx, config) -> None:
    if config.kb_show_drafts is None:
        config.kb_show_drafts = show_drafts()
    elif isinstance(config.kb_show_drafts, str):
        config.kb_show_drafts = config.kb_show_drafts.strip().lower() in ("1", "true", "yes")
    if not config.kb_show_drafts:
        drafts = draft_sources(Path(app.srcdir))
        if drafts:
            logger.info(f"leaving out {len(drafts)} draft article(s): {', '.join(drafts)}")
        config.exclude_patterns = [*config.exclude_patterns, *drafts]


def setup_drafts(app: Sphinx) -> None:
    app.add_config_value("kb_show_drafts", None, "env")
    app.connect("config-inited", _config_inited, priority=600)
