"""Listings: topic pages, the topic index, all articles, the home page's topic grid and
latest articles, and the Atom feed.

Topic pages and "all articles" are generated at write time (``html-collect-pages``) from
the environment; the feed is written at ``build-finished``. Nothing is written into the
source folder. Pages that embed a listing (``{kb-topic-grid}``, ``{kb-latest}``) are
rewritten whenever the listing data change, and only then.
"""

from __future__ import annotations

import hashlib

import datetime as dt
from html import escape
from pathlib import Path
from typing import Iterable
from xml.etree import ElementTree as ET

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

from .datafiles import without_controls
from .errors import guarded
from .articles import article_title, kb_html, time_tag
from .epub import is_book

ATOM = "http://www.w3.org/2005/Atom"
LATEST_COUNT = 5


def _root_relative(builder, fromdoc: str, filename: str) -> str:
    """A link from *fromdoc* to a file at the root of the output (not a page)."""
    return "../" * fromdoc.count("/") + filename


def published_articles(env) -> list:
    """Articles in this build, newest first (drafts included only when shown)."""
    arts = [a for d, a in env.kb_articles.items() if d in env.all_docs]
    if not env.config.kb_show_drafts:
        arts = [a for a in arts if not a.is_draft]
    return sorted(arts, key=lambda a: (-a.published.toordinal(), article_title(env, a.docname)))


def listing_signature(env) -> tuple:
    return tuple((a.docname, article_title(env, a.docname), a.description, a.published,
                  a.topics, a.status) for a in published_articles(env))


def article_list_html(env, articles, uri) -> str:
    """A listing: title link, description, date. *uri(docname)* gives the relative link."""
    if not articles:
        return '<p class="kb-empty">No articles yet.</p>'
    items = []
    for art in articles:
        draft = ' <span class="kb-draft-tag">Draft</span>' if art.is_draft else ""
        items.append(
            f'<li class="kb-listing-item"><a class="kb-listing-title" '
            f'href="{escape(uri(art.docname))}">{escape(article_title(env, art.docname))}</a>'
            f"{draft}<p class=\"kb-listing-description\">{escape(art.description)}</p>"
            f'<p class="kb-listing-date">Published {time_tag(art.published)}</p></li>')
    return '<ul class="kb-listing">' + "".join(items) + "</ul>"


def topic_grid_html(env, uri) -> str:
    counts = {slug: 0 for slug in env.kb_topics}
    for art in published_articles(env):
        for topic in art.topics:
            counts[topic] += 1
    cards = []
    for slug, topic in env.kb_topics.items():
        noun = "article" if counts[slug] == 1 else "articles"
        cards.append(
            f'<li class="kb-topic-card"><a href="{escape(uri("topics/" + slug))}">'
            f"{escape(topic['title'])}</a><p>{escape(topic['description'])}</p>"
            f'<p class="kb-topic-count">{counts[slug]} {noun}</p></li>')
    return '<ul class="kb-topic-grid">' + "".join(cards) + "</ul>"


class listing(nodes.General, nodes.Element):
    """Placeholder for a listing (``kind``: topic-grid or latest)."""


class TopicGridDirective(SphinxDirective):
    def run(self):
        self.env.kb_listing_docs.add(self.env.docname)
        return [listing(kind="topic-grid")]


class LatestDirective(SphinxDirective):
    def run(self):
        self.env.kb_listing_docs.add(self.env.docname)
        return [listing(kind="latest")]


class SearchBoxDirective(SphinxDirective):
    """A search form. Its field has no name, so even without JavaScript nothing is sent;
    kb.js runs the search in the browser (see docs/_static/kb.js)."""

    def run(self):
        return [listing(kind="search")]


class FillListings(SphinxPostTransform):
    default_priority = 6

    def run(self, **kwargs) -> None:
        env = self.env
        builder = env._app.builder  # as Sphinx 9's own post-transforms do (app is deprecated)
        fromdoc = env.docname

        def uri(target: str) -> str:
            return builder.get_relative_uri(fromdoc, target)

        for node in list(self.document.findall(listing)):
            kind = node["kind"]
            if kind == "topic-grid":
                html = topic_grid_html(env, uri)
            elif kind == "latest":
                feed = ("" if is_book(builder) else  # a book has no feed
                        f' <span aria-hidden="true">·</span> <a href="'
                        f'{escape(_root_relative(builder, fromdoc, "feed.xml"))}">Feed of new '
                        'articles</a>')
                html = (article_list_html(env, published_articles(env)[:LATEST_COUNT], uri)
                        + f'<p class="kb-more"><a href="{escape(uri("articles/index"))}">All '
                        f'articles</a>{feed}</p>')
            else:
                html = (f'<form class="kb-search" role="search" action="{escape(uri("search"))}"'
                        ' method="get"><label for="kb-home-search">Search the articles</label>'
                        '<input id="kb-home-search" type="search" autocomplete="off">'
                        '<button type="submit">Search</button></form>')
            node.replace_self(kb_html(html=html))


def _collect_pages(app: Sphinx):
    env = app.env
    builder = app.builder
    articles = published_articles(env)

    def uri_from(page):
        return lambda target: builder.get_relative_uri(page, target)

    for slug, topic in env.kb_topics.items():
        page = f"topics/{slug}"
        in_topic = [a for a in articles if slug in a.topics]
        body = (f"<section id=\"{escape(slug)}\"><h1>{escape(topic['title'])}</h1>"
                f"<p class=\"kb-description\">{escape(topic['description'])}</p>"
                + article_list_html(env, in_topic, uri_from(page)) + "</section>")
        yield page, {"title": topic["title"], "body": body,
                     "kb_meta_description": topic["description"]}, "page.html"

    page = "topics/index"
    body = ("<section id=\"topics\"><h1>Topics</h1><p>Browse the knowledge base by topic."
            "</p>" + topic_grid_html(env, uri_from(page)) + "</section>")
    yield page, {"title": "Topics", "body": body,
                 "kb_meta_description": "Browse the knowledge base by topic."}, "page.html"

    page = "articles/index"
    feed = ("" if is_book(builder) else
            f" You can also <a href=\"{escape(_root_relative(builder, page, 'feed.xml'))}\""
            f">follow new articles with a feed reader</a>.")
    body = ("<section id=\"all-articles\"><h1>All articles</h1><p>Every article, newest "
            f"first.{feed}</p>"
            + article_list_html(env, articles, uri_from(page)) + "</section>")
    yield page, {"title": "All articles", "body": body,
                 "kb_meta_description": "Every article in the knowledge base, newest first."
                 }, "page.html"


@guarded("updating the listings", default=())
def _env_updated(app: Sphinx, env) -> Iterable[str]:
    # kept as a digest: the saved environment carries 64 characters, not every article's
    # title and description again
    signature = hashlib.sha256(repr(listing_signature(env)).encode("utf-8")).hexdigest()
    changed = getattr(env, "kb_listing_signature", None) != signature
    env.kb_listing_signature = signature
    return sorted(env.kb_listing_docs) if changed else []


@guarded("writing the feed")
def write_feed(app: Sphinx, exc) -> None:
    if exc is not None or app.builder.format != "html" or is_book(app.builder):
        return
    env = app.env
    base = app.config.html_baseurl.rstrip("/") + "/"
    articles = published_articles(env)[:50]
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": app.config.language or "en"})

    def sub(parent, tag, text=None, **attrs):
        # XML 1.0 cannot hold control characters, even escaped: they never reach the feed
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}",
                           {k: without_controls(v) for k, v in attrs.items()})
        if text is not None:
            el.text = without_controls(text)
        return el

    sub(feed, "title", app.config.html_title)
    sub(feed, "subtitle", app.config.kb_tagline)
    sub(feed, "id", base)
    sub(feed, "link", href=base + "feed.xml", rel="self", type="application/atom+xml")
    sub(feed, "link", href=base, rel="alternate", type="text/html")
    updated = max((a.updated for a in articles), default=dt.date(2026, 1, 1))
    sub(feed, "updated", f"{updated.isoformat()}T00:00:00Z")
    author = sub(feed, "author")
    sub(author, "name", app.config.kb_practice_name)
    for art in articles:
        entry = sub(feed, "entry")
        url = base + app.builder.get_target_uri(art.docname)
        sub(entry, "title", article_title(env, art.docname))
        sub(entry, "id", url)
        sub(entry, "link", href=url, rel="alternate", type="text/html")
        sub(entry, "published", f"{art.published.isoformat()}T00:00:00Z")
        sub(entry, "updated", f"{art.updated.isoformat()}T00:00:00Z")
        sub(entry, "summary", art.description)
        for topic in art.topics:
            sub(entry, "category", term=topic, label=env.kb_topics[topic]["title"])
        entry_author = sub(entry, "author")
        sub(entry_author, "name", env.kb_authors[art.author]["name"])
    ET.indent(feed)
    Path(app.outdir, "feed.xml").write_bytes(
        ET.tostring(feed, encoding="utf-8", xml_declaration=True))


def _page_context(app, pagename, templatename, context, doctree) -> None:
    context["kb_topics"] = app.env.kb_topics
    if pagename == getattr(app.config, "notfound_pagename", None):
        base = (app.config.notfound_urls_prefix or "/") + "feed.xml"  # served at any depth
    else:
        base = _root_relative(app.builder, pagename, "feed.xml")
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" type="application/atom+xml" title="New articles" '
        f'href="{escape(base)}">')


def _env_init(app) -> None:
    if not hasattr(app.env, "kb_listing_docs"):
        app.env.kb_listing_docs = set()


def _purge(app, env, docname) -> None:
    env.kb_listing_docs.discard(docname)


def _merge(app, env, docnames, other) -> None:
    env.kb_listing_docs |= {d for d in other.kb_listing_docs if d in docnames}


def setup_listings(app: Sphinx) -> None:
    app.add_node(listing)
    app.add_directive("kb-topic-grid", TopicGridDirective)
    app.add_directive("kb-latest", LatestDirective)
    app.add_directive("kb-search", SearchBoxDirective)
    app.add_post_transform(FillListings)
    app.connect("builder-inited", _env_init)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-updated", _env_updated)
    app.connect("html-collect-pages", _collect_pages)
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", write_feed)
