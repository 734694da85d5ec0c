"""The 404 page: a way on, never a dead end.

sphinx-notfound-page renders ``404.html`` with furo's page template (so the reader's
colour theme, the crisis notice and the navigation are there) and makes every template
link absolute, so the page works at any URL depth. This module writes its body: a search
box (the same private search form as the home page), links home, to the topics and to
all articles, and the crisis resources of the notice with a link to the crisis page. Its
links use the same absolute ``pathto`` as the template.
"""

from __future__ import annotations

from html import escape

from sphinx.application import Sphinx

from .crisis import EMPTY


def body_html(pathto, crisis, crisis_page: str) -> str:
    links = [("index", "Go to the home page"), ("topics/index", "Browse the articles by topic"),
             ("articles/index", "See all the articles")]
    resources = "".join(
        f'<li><a href="{escape(r.href)}">{escape(r.text)}</a>: {escape(r.detail)}</li>'
        for r in crisis.notice_resources())
    return (
        '<section id="page-not-found"><h1>Page not found</h1>\n'
        "<p>Sorry, we could not find that page. It may have moved, or the address may "
        "have a typo. Try a search, or use one of the links below.</p>\n"
        f'<form class="kb-search" role="search" action="{escape(pathto("search"))}" '
        'method="get"><label for="kb-404-search">Search the articles</label>'
        '<input id="kb-404-search" type="search" autocomplete="off">'
        '<button type="submit">Search</button></form>\n'
        '<ul class="kb-404-links">'
        + "".join(f'<li><a href="{escape(pathto(doc))}">{escape(text)}</a></li>'
                  for doc, text in links)
        + "</ul>\n"
        '<section id="need-help-now"><h2>Need help right now?</h2>\n'
        f'<ul class="kb-crisis-list">{resources}</ul>'
        f'<p><a href="{escape(pathto(crisis_page))}">All crisis resources</a>, including '
        "help if someone is hurting you, for a child at risk, after sexual assault, in "
        "Spanish and in ASL.</p></section></section>")


def _page_context(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if pagename != app.config.notfound_pagename or "pathto" not in context:
        return
    context["title"] = "Page not found"
    context["body"] = body_html(context["pathto"], getattr(app.env, "kb_crisis", EMPTY),
                                app.config.kb_crisis_page)


def setup_pagenotfound(app: Sphinx) -> None:
    if "notfound_pagename" not in app.config.values:
        app.add_config_value("notfound_pagename", "404", "html")
    # after sphinx-notfound-page made pathto absolute (priority 500)
    app.connect("html-page-context", _page_context, priority=800)
