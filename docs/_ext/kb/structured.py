"""Meta tags and structured data: a meta description on every page, and schema.org
``MedicalWebPage`` JSON-LD on every article (author, reviewer, review and publication
dates, topics, audience)."""

from __future__ import annotations

import json
from html import escape
from urllib.parse import urlsplit

from sphinx.application import Sphinx

from .articles import article_title
from .datafiles import without_controls
from .epub import is_book


def _clean(value):
    """Strings without control characters, all the way down."""
    if isinstance(value, str):
        return without_controls(value)
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def _json_script(data: dict) -> str:
    text = json.dumps(_clean(data), ensure_ascii=False, indent=1)
    # never let content close the script element
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/ld+json">{text}</script>'


def _person_or_org(entry: dict) -> dict:
    return {"@type": entry.get("type", "Person"), "name": entry["name"]}


def article_jsonld(app: Sphinx, docname: str) -> dict:
    env = app.env
    art = env.kb_articles[docname]
    cfg = app.config
    url = cfg.html_baseurl.rstrip("/") + "/" + app.builder.get_target_uri(docname)
    data = {
        "@context": "https://schema.org",
        "@type": "MedicalWebPage",
        "url": url,
        "name": article_title(env, docname),
        "headline": article_title(env, docname),
        "description": art.description,
        "inLanguage": cfg.language or "en",
        "datePublished": art.published.isoformat(),
        "dateModified": art.updated.isoformat(),
        "lastReviewed": art.last_reviewed.isoformat(),
        "author": _person_or_org(env.kb_authors[art.author]),
        "publisher": {"@type": "Organization", "name": cfg.kb_practice_name,
                      "address": {"@type": "PostalAddress",
                                  "addressLocality": cfg.kb_practice_location}},
        "about": [{"@type": "Thing", "name": env.kb_topics[t]["title"]} for t in art.topics],
        "audience": {"@type": "PeopleAudience", "audienceType": "Patient"},
    }
    if art.reviewed_by:
        data["reviewedBy"] = _person_or_org(env.kb_authors[art.reviewed_by])
    else:
        # Reviewed by the publisher's editorial process (see the editorial policy).
        data["reviewedBy"] = _person_or_org(env.kb_authors[art.author])
    return data


def _page_context(app: Sphinx, pagename, templatename, context, doctree) -> None:
    env = app.env
    tags = []
    description = context.get("kb_meta_description")
    if pagename in env.kb_articles:
        description = env.kb_articles[pagename].description
        tags.append(_json_script(article_jsonld(app, pagename)))
    elif pagename in env.kb_pages:
        description = env.kb_pages[pagename].get("description")
    if description:
        tags.insert(0, f'<meta name="description" content="{escape(description)}">')
    # Readers' visits and searches are nobody else's business: no Referer to any site.
    tags.append('<meta name="referrer" content="no-referrer">')
    context["metatags"] = context.get("metatags", "") + "\n" + "\n".join(tags)


def _config_inited(app: Sphinx, config) -> None:
    # The 404 page is served at any depth, so its links need the site's absolute path.
    if "notfound_urls_prefix" in config and not config.notfound_urls_prefix:
        config.notfound_urls_prefix = urlsplit(config.html_baseurl).path or "/"


def write_robots(app: Sphinx, exc) -> None:
    """robots.txt, pointing crawlers at the sitemap of this build's canonical URL."""
    if exc is not None or app.builder.format != "html" or is_book(app.builder):
        return
    base = app.config.html_baseurl.rstrip("/") + "/"
    (app.outdir / "robots.txt").write_text(
        f"User-agent: *\nAllow: /\nDisallow: {urlsplit(base).path}search.html\n\n"
        f"Sitemap: {base}sitemap.xml\n", encoding="utf-8")


def setup_structured(app: Sphinx) -> None:
    app.connect("html-page-context", _page_context, priority=400)
    app.connect("build-finished", write_robots)
    app.connect("config-inited", _config_inited)
