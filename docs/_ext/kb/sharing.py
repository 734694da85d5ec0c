"""Every page shares well: OpenGraph tags and a description on every page type.

sphinxext-opengraph writes OpenGraph tags for pages made from a document (articles, the
home page, the about pages). Pages made by the extension or by Sphinx (topic pages,
listings, the search page, the 404 page, the index) have no document, and got none, so a
shared link showed a blank preview. This module gives each of them a description (their
own, or one written here) and the same OpenGraph tags: title, type, URL, site name and
description.
"""

from __future__ import annotations

import re
from html import escape, unescape

from sphinx.application import Sphinx

DESCRIPTIONS = {
    "search": "Search the knowledge base's plain-language articles on therapy and mental "
              "health. Your search stays on your device.",
    "genindex": "An index of the terms used in the knowledge base.",
}
DESCRIPTION_META = re.compile(r'<meta name="description" content="([^"]*)"')
TAG = re.compile(r"<[^>]+>")


def _notfound_description(app: Sphinx) -> str:
    return (f"This page could not be found. Search {app.config.kb_practice_name}'s knowledge "
            "base, browse its topics, or find crisis help.")


def _early(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """A description for pages that have none (before structured.py writes the tag)."""
    if doctree is not None or context.get("kb_meta_description"):
        return
    if pagename == getattr(app.config, "notfound_pagename", "404"):
        context["kb_meta_description"] = _notfound_description(app)
    elif pagename in DESCRIPTIONS:
        context["kb_meta_description"] = DESCRIPTIONS[pagename]


def _late(app: Sphinx, pagename, templatename, context, doctree) -> None:
    metatags = context.get("metatags", "")
    if 'property="og:title"' in metatags or app.builder.format != "html":
        return
    match = DESCRIPTION_META.search(metatags)
    description = unescape(match.group(1)) if match else (
        context.get("kb_meta_description") or app.config.kb_tagline)
    tags = []
    if not match and description:
        tags.append(f'<meta name="description" content="{escape(description)}">')
    title = unescape(TAG.sub("", context.get("title") or "")).strip() \
        or app.config.html_title
    base = (app.config.ogp_site_url if "ogp_site_url" in app.config
            else app.config.html_baseurl) or ""
    url = base.rstrip("/") + "/" + app.builder.get_target_uri(pagename)
    site = (app.config.ogp_site_name if "ogp_site_name" in app.config else None) \
        or app.config.html_title
    tags += [f'<meta property="og:title" content="{escape(title)}" />',
             '<meta property="og:type" content="website" />',
             f'<meta property="og:url" content="{escape(url)}" />',
             f'<meta property="og:site_name" content="{escape(site or "")}" />']
    if description:
        tags.append(f'<meta property="og:description" content="{escape(description)}" />')
    context["metatags"] = metatags + "\n" + "\n".join(tags)


def setup_sharing(app: Sphinx) -> None:
    app.connect("html-page-context", _early, priority=300)
    # after sphinxext-opengraph (500), structured.py (400), sphinx-notfound-page (500);
    # before csp.py (900), which hashes the page's inline scripts
    app.connect("html-page-context", _late, priority=850)
