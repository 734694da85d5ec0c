"""The library as one book: ``make epub`` (Sphinx's EPUB 3 builder, with the site's parts).

What the book holds, in reading order: the home page, the crisis page, every article (A to
Z by title), the topics, then the pages about the site (the root toctree's order), less
the pages for writers (``kb_book_exclude``: the writers' guide); a link to one of those
is shown as its text. Every
chapter starts with the crisis resources from the site identity, as every web page does.
The articles keep what the extension adds to them (description, byline, content note,
reference list, review dates, related articles, call to action).

Only what a book can use is kept: no search box (there is no search page in a book), no
citation tooltips (each citation links to its entry in the reference list), no feed link,
and a page head with an allow-list of tags (charset, title, stylesheets and the page's
description): the website's Content-Security-Policy, JSON-LD and OpenGraph tags are for
browsers and search engines, and are HTML, not the XHTML an EPUB needs.

``is_book(builder)`` is how the other modules leave their website-only work (search
index, feed, robots.txt) out of the book.
"""

from __future__ import annotations

import os
import posixpath
import time
from fnmatch import fnmatch
from html import escape
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.builders.epub3 import Epub3Builder
from sphinx.transforms.post_transforms import SphinxPostTransform

from .articles import article_title, kb_html
from .citations import citation_tip
from .errors import guarded

BOOK_BUILDERS = ("epub",)
STYLESHEET = "kb-epub.css"
# Link schemes a book may use: those EPUBCheck knows (IANA-registered and common in
# reading systems). Any other (sms:, which EPUBCheck flags) is shown as its text.
BOOK_SCHEMES = ("http:", "https:", "mailto:", "tel:", "#")


def left_out(config, docname: str) -> bool:
    """A page left out of the book (``kb_book_exclude``: the writers' guide)."""
    return any(fnmatch(docname, pattern) for pattern in config.kb_book_exclude)


def linked_doc(builder, fromdoc: str, refuri: str) -> str | None:
    """The page a relative link of *fromdoc* leads to, or None (another site, an anchor)."""
    target = refuri.split("#")[0]
    if not target or ":" in target.split("/")[0] or not target.endswith(builder.out_suffix):
        return None
    path = posixpath.normpath(posixpath.join(posixpath.dirname(fromdoc), target))
    return path[:-len(builder.out_suffix)]


def book_link(href: str) -> bool:
    """A link the book keeps: relative (inside the book) or with an allowed scheme."""
    return ":" not in href.split("/")[0] or href.lower().startswith(BOOK_SCHEMES)


def is_book(builder) -> bool:
    """True for a builder that makes a book (EPUB), not the website."""
    return getattr(builder, "name", "") in BOOK_BUILDERS


def edition_date() -> str:
    """The date the book was made (``SOURCE_DATE_EPOCH`` if set, as Sphinx's EPUB
    metadata uses), YYYY-MM-DD."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return time.strftime("%Y-%m-%d", time.gmtime(int(epoch)) if epoch else time.gmtime())


def crisis_html(config, crisis_uri: str | None) -> str:
    """The crisis resources from the site identity, as a compact block."""
    links = [(f'<a href="{escape(r["href"])}">{escape(r["text"])}</a>'
              if book_link(r["href"]) else f"<strong>{escape(r['text'])}</strong>")
             + (f" ({escape(r['detail'])})" if r.get("detail") else "")
             for r in config.kb_crisis_resources]
    if crisis_uri:
        links.append(f'<a href="{escape(crisis_uri)}">More help now</a>')
    return ('<aside class="kb-crisis kb-book-crisis" aria-label="Crisis resources"><p>'
            f"<strong>{escape(config.kb_crisis_heading)}</strong> "
            + " · ".join(links) + "</p></aside>")


class BookSearchBox(SphinxPostTransform):
    """In the book: no search box (there is no search page). Runs before the listings are
    filled in (kb.listings, priority 6)."""

    builders = BOOK_BUILDERS
    default_priority = 4

    def run(self, **kwargs: Any) -> None:
        for node in list(self.document.findall(nodes.Element)):
            if node.tagname == "listing" and node.get("kind") == "search":
                node.parent.remove(node)


class BookParts(SphinxPostTransform):
    """In the book: the crisis resources at the top of every chapter; no citation tooltips
    (each citation links to its entry in the reference list); links only by the allowed
    schemes. Runs after cross-references are resolved (priority 10), which adds the
    tooltips."""

    builders = BOOK_BUILDERS
    default_priority = 20

    def run(self, **kwargs: Any) -> None:
        env = self.env
        builder = env._app.builder  # as Sphinx 9's own post-transforms do
        for tip in list(self.document.findall(citation_tip)):
            tip.parent.remove(tip)
        for node in list(self.document.findall(nodes.reference)):
            uri = node.get("refuri", "")
            target = linked_doc(builder, env.docname, uri)
            if not book_link(uri) or (target and left_out(self.config, target)):
                node.replace_self(nodes.inline("", "", *node.children))
        section = next(iter(self.document.findall(nodes.section)), None)
        if section is not None and self.config.kb_crisis_resources:
            section.parent.insert(section.parent.index(section), kb_html(
                html=crisis_html(self.config, crisis_uri(builder, env, env.docname))))


def crisis_uri(builder, env, pagename: str) -> str | None:
    """The link from *pagename* to the crisis page (None on the crisis page itself)."""
    page = env.config.kb_crisis_page
    if page not in env.all_docs or page == pagename:
        return None
    return builder.get_relative_uri(pagename, page)


class KnowledgeBaseEpubBuilder(Epub3Builder):
    """Sphinx's EPUB 3 builder, with the articles in the reading order: they are reached
    through listings on the website, not through a toctree, so Sphinx alone would leave
    them out of the book's spine and table of contents."""

    def write_doc(self, docname: str, doctree: nodes.document) -> None:
        if not left_out(self.config, docname):
            super().write_doc(docname, doctree)

    def toc_add_files(self, refnodes: list[dict[str, Any]]) -> None:
        super().toc_add_files(refnodes)
        refnodes[:] = [n for n in refnodes if not left_out(
            self.config, n["refuri"].split("#")[0][:-len(self.out_suffix)])]
        env = self.env
        suffix = self.out_suffix
        root = self.config.root_doc + suffix
        crisis = self.config.kb_crisis_page + suffix
        at = next((i for i, n in enumerate(refnodes) if n["refuri"] == root), -1) + 1
        front = [n for n in refnodes if n["refuri"].split("#")[0] == crisis]
        rest = [n for n in refnodes[at:] if n["refuri"].split("#")[0] != crisis]
        articles = sorted((d for d in self._book_articles()),
                          key=lambda d: (article_title(env, d).lower(), d))
        added = [{"level": 1, "refuri": escape(d + suffix),
                  "text": escape(article_title(env, d))} for d in articles]
        if env.kb_topics:
            added.append({"level": 1, "refuri": escape("topics/index" + suffix),
                          "text": "Topics"})
            added += [{"level": 2, "refuri": escape(f"topics/{slug}{suffix}"),
                       "text": escape(topic["title"])} for slug, topic in env.kb_topics.items()]
        refnodes[at:] = front + added + rest

    def content_metadata(self) -> dict[str, Any]:
        metadata = super().content_metadata()
        metadata["version"] = metadata["version"] or escape(edition_date())
        return metadata

    def toc_metadata(self, level: int, navpoints) -> dict[str, Any]:
        # The NCX's dtb:uid must be the package's identifier (EPUBCheck NCX-001); Sphinx
        # writes epub_uid, the identifier's XML id, there.
        metadata = super().toc_metadata(level, navpoints)
        metadata["uid"] = escape(self.config.epub_identifier)
        return metadata

    def _book_articles(self) -> list[str]:
        env = self.env
        return [d for d, a in env.kb_articles.items()
                if d in env.all_docs and (env.config.kb_show_drafts or not a.is_draft)]


def _builder_inited(app: Sphinx) -> None:
    # Sphinx's EPUB 3 metadata needs a version (its check runs at priority 500): the book's
    # is its edition date, written by KnowledgeBaseEpubBuilder.content_metadata. It is set
    # for the check only, so the saved environment keeps conf.py's value and the next
    # `make epub` does not read every page again for a changed setting.
    if is_book(app.builder) and not app.config.version:
        app.config.version = edition_date()
        app.kb_book_version_set = True


def _builder_inited_after_check(app: Sphinx) -> None:
    if getattr(app, "kb_book_version_set", False):
        app.config.version = ""


def _config_inited(app: Sphinx, config) -> None:
    here = str(Path(__file__).parent / "static")
    if here not in config.html_static_path:
        config.html_static_path.append(here)
    css = list(config.epub_css_files)
    if STYLESHEET not in css:
        config.epub_css_files = css + [STYLESHEET]


@guarded("laying out a page of the book")
def _page_context(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if not is_book(app.builder):
        return
    env = app.env
    description = context.get("kb_meta_description")
    if pagename in env.kb_articles:
        description = env.kb_articles[pagename].description
    elif pagename in getattr(env, "kb_pages", {}):
        description = env.kb_pages[pagename].get("description")
    context["metatags"] = (f'<meta name="description" content="{escape(description)}" />'
                           if description else "")
    if doctree is None and "body" in context and app.config.kb_crisis_resources:
        # a generated page (topics, all articles)
        context["body"] = (crisis_html(app.config, crisis_uri(app.builder, env, pagename))
                           + context["body"])


def setup_epub(app: Sphinx) -> None:
    # Pages not for readers, left out of the book (fnmatch patterns of page names).
    app.add_config_value("kb_book_exclude", ["contributing/*"], "epub", list)
    app.add_builder(KnowledgeBaseEpubBuilder, override=True)
    app.add_post_transform(BookSearchBox)
    app.add_post_transform(BookParts)
    app.connect("config-inited", _config_inited, priority=700)
    app.connect("builder-inited", _builder_inited, priority=400)  # before Sphinx's check
    app.connect("builder-inited", _builder_inited_after_check, priority=600)
    # last: the head's tags are replaced by the allow-list after every module added its own
    app.connect("html-page-context", _page_context, priority=990)
