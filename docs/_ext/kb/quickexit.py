"""Quick exit for pages about abuse (front matter ``quick_exit: true``).

Such a page gets, at the very start of its tab order, a "Quick exit" link to a neutral
site (``kb_quick_exit_url``) and a short note on private browsing and shared devices.
``_static/kb-quick-exit.js`` (added to those pages only; the site's Content-Security-Policy
forbids inline scripts) replaces the page with ``location.replace``, so the Back button
does not return to it, forgets this tab's search words, and leaves on Escape pressed twice.
Without JavaScript the link still leaves (an ordinary link). The page itself never
contacts the neutral site: only the reader's click navigates there.
"""

from __future__ import annotations

import re

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)
DEFAULT_URL = "https://www.weather.gov/"

URL = re.compile(r"https://[A-Za-z0-9.-]+(/[^\s\"'<>]*)?")


def wants_quick_exit(env, pagename: str) -> bool:
    article = getattr(env, "kb_articles", {}).get(pagename)
    if article is not None:
        return bool(getattr(article, "quick_exit", False))
    return bool(getattr(env, "kb_pages", {}).get(pagename, {}).get("quick_exit"))


def _config_inited(app: Sphinx, config) -> None:
    if not isinstance(config.kb_quick_exit_url, str) \
            or not URL.fullmatch(config.kb_quick_exit_url):
        logger.warning(f"kb_quick_exit_url must be an https:// address of a neutral site "
                       f"(e.g. a weather site), not {config.kb_quick_exit_url!r}; using "
                       f"{DEFAULT_URL}", type="kb", subtype="quickexit")
        config.kb_quick_exit_url = DEFAULT_URL


def _page_context(app: Sphinx, pagename, templatename, context, doctree) -> None:
    on = wants_quick_exit(app.env, pagename)
    context["kb_quick_exit"] = on
    context["kb_quick_exit_url"] = app.config.kb_quick_exit_url
    if on:
        app.add_js_file("kb-quick-exit.js")  # this page only (html-page-context)


def setup_quick_exit(app: Sphinx) -> None:
    app.add_config_value("kb_quick_exit_url", DEFAULT_URL, "html", str)
    app.connect("config-inited", _config_inited)
    app.connect("html-page-context", _page_context)
