"""Readers' navigation is for readers.

Pages for writers (``kb_writers_pages``, e.g. the writers' guide) stay in the site, at the
same address, but out of the readers' sidebar: they are left out of the home page's
toctree and marked orphan here, so Sphinx does not ask for them in a toctree. They are
also left out of search (``kb_search_exclude``) and linked from the editorial policy.
"""

from __future__ import annotations

from fnmatch import fnmatch

from sphinx.application import Sphinx


def is_writers_page(config, docname: str) -> bool:
    return any(fnmatch(docname, pattern) for pattern in config.kb_writers_pages)


def _source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    if is_writers_page(app.config, docname):
        app.env.metadata[docname]["orphan"] = True


def setup_navigation(app: Sphinx) -> None:
    app.add_config_value("kb_writers_pages", ["contributing/*"], "env", list)
    app.connect("source-read", _source_read, priority=450)
