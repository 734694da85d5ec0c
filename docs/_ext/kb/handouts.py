"""Handouts: any article prints as a clean handout (US Letter or A4).

Therapists hand articles to clients, so a printed article is the article alone: title,
description, byline, content note, body, references with their URLs, review dates, and a
compact block with the practice's contact and the crisis resources. The site's
navigation, search, theme toggle, tooltips and buttons are not printed
(``static/kb-print.css``, whose print rules also keep headings with what follows and each
reference on one page).

The block is in every article's page, hidden on screen (the ``hidden`` attribute) and
shown only in print; it is left out of the search index. ``handout_lines`` is the one
place that says what it holds: the practice's name and location from the site identity,
how to book, the article's address, and the crisis resources as text (a phone number on
paper, not a link).

A "Print this article" button is added to each article by ``static/kb-print.js`` (a file:
the Content-Security-Policy allows no inline script): a real ``<button>``, so keyboard
and screen-reader users can use it; without JavaScript there is no button that does
nothing. The book (EPUB) gets neither.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from sphinx.application import Sphinx

from .epub import is_book
from .errors import guarded
from .identity import cta_url

STYLESHEET = "kb-print.css"
SCRIPT = "kb-print.js"


def is_website(builder) -> bool:
    return builder.format == "html" and not is_book(builder)


def absolute_url(config, target_uri: str) -> str:
    if target_uri.startswith(("https://", "http://", "mailto:", "tel:")):
        return target_uri
    return config.html_baseurl.rstrip("/") + "/" + target_uri


def handout_lines(app: Sphinx, pagename: str) -> list[str]:
    """The handout block's paragraphs (HTML, every value escaped)."""
    cfg = app.config
    builder = app.builder
    practice = escape(cfg.kb_practice_name)
    if cfg.kb_practice_location:
        practice += ", " + escape(cfg.kb_practice_location)
    # the call to action's link, from the site's root (so the address works on paper)
    book = absolute_url(cfg, cta_url(builder, cfg.root_doc))
    lines = [f"<strong>From {practice}.</strong> {escape(cfg.kb_cta_text)}: "
             f'<span class="kb-handout-url">{escape(book)}</span>',
             "Read this article online: <span class=\"kb-handout-url\">"
             f"{escape(absolute_url(cfg, builder.get_target_uri(pagename)))}</span>"]
    crisis = [escape(r["text"]) + (f" ({escape(r['detail'])})" if r.get("detail") else "")
              for r in cfg.kb_crisis_resources]
    if crisis:
        lines.append(f"<strong>{escape(cfg.kb_crisis_heading)}</strong> "
                     + " · ".join(crisis))
    return lines


@guarded("adding the handout block")
def _page_context(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if (not is_website(app.builder) or doctree is None or "body" not in context
            or pagename not in app.env.kb_articles):
        return
    block = "".join(f"<p>{line}</p>" for line in handout_lines(app, pagename))
    context["body"] += ('<aside class="kb-handout" hidden data-pagefind-ignore="all" '
                        f'aria-label="About this handout">{block}</aside>')


def _config_inited(app: Sphinx, config) -> None:
    here = str(Path(__file__).parent / "static")
    if here not in config.html_static_path:
        config.html_static_path.append(here)


def _builder_inited(app: Sphinx) -> None:
    if is_website(app.builder):
        app.add_css_file(STYLESHEET)
        app.add_js_file(SCRIPT)


def setup_handouts(app: Sphinx) -> None:
    app.connect("config-inited", _config_inited)
    app.connect("builder-inited", _builder_inited)
    # after kb.search wraps the indexed part of the page: the block stays outside it
    app.connect("html-page-context", _page_context, priority=700)
