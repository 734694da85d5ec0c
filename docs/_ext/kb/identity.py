"""Site identity: the practice, the call to action and the crisis resources.

They are set once, in conf.py (``kb_practice_name`` ...), and every template and page reads
them from here: the crisis notice at the top of every page, the call to action, and the
``kb-crisis-resources`` and ``kb-cta`` directives for pages.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def setup_identity(app: Sphinx) -> None:
    add = app.add_config_value
    add("kb_practice_name", "RFC Counseling", "html", str)
    add("kb_practice_location", "", "html", str)
    add("kb_tagline", "", "html", str)
    add("kb_cta_text", "Book a free phone consultation", "html", str)
    add("kb_cta_link", "about/index", "html", str)
    add("kb_cta_anchor", "", "html", str)
    add("kb_crisis_heading", "In crisis?", "html", str)
    add("kb_crisis_resources", [], "html", list)
    add("kb_crisis_page", "crisis", "html", str)
    app.connect("config-inited", _announcement_on)
    app.connect("html-page-context", _page_context)
    app.add_directive("kb-crisis-resources", CrisisResourcesDirective)
    app.add_directive("kb-cta", CallToActionDirective)
    app.add_node(cta, html=(_visit_cta, _depart_cta))


def _announcement_on(app: Sphinx, config) -> None:
    """Furo renders its announcement slot only when the option is set; our page.html
    template fills the slot with the crisis notice from the site identity."""
    config.html_theme_options = {**config.html_theme_options, "announcement": "crisis"}


def cta_url(builder, fromdocname: str) -> str:
    """The call-to-action link, relative to the page that shows it."""
    link = builder.config.kb_cta_link
    if link.startswith(("https://", "http://", "mailto:", "tel:")):
        return link
    uri = builder.get_relative_uri(fromdocname, link)
    anchor = builder.config.kb_cta_anchor
    return f"{uri}#{anchor}" if anchor else uri


def _page_context(app: Sphinx, pagename, templatename, context, doctree) -> None:
    cfg = app.config
    context["kb_practice_name"] = cfg.kb_practice_name
    context["kb_practice_location"] = cfg.kb_practice_location
    context["kb_crisis_heading"] = cfg.kb_crisis_heading
    context["kb_crisis_resources"] = cfg.kb_crisis_resources
    context["kb_crisis_page"] = cfg.kb_crisis_page
    context["kb_cta_text"] = cfg.kb_cta_text
    context["kb_cta_url"] = cta_url(app.builder, pagename)


class cta(nodes.General, nodes.Element):
    """A call-to-action link; its URL is computed per page when written."""


def _visit_cta(self, node: cta) -> None:
    url = cta_url(self.builder, self.builder.current_docname)
    self.body.append(
        f'<p class="kb-cta"><a class="kb-cta-button" href="{self.attval(url)}">'
        f"{self.encode(self.builder.config.kb_cta_text)}</a></p>"
    )
    raise nodes.SkipNode


def _depart_cta(self, node: cta) -> None:  # pragma: no cover - SkipNode above
    pass


class CallToActionDirective(SphinxDirective):
    """``{kb-cta}``: the configured call to action as a button."""

    def run(self) -> list[nodes.Node]:
        return [cta()]


class CrisisResourcesDirective(SphinxDirective):
    """``{kb-crisis-resources}``: the configured crisis resources as a list."""

    def run(self) -> list[nodes.Node]:
        items = nodes.bullet_list(classes=["kb-crisis-list"])
        for res in self.config.kb_crisis_resources:
            para = nodes.paragraph()
            para += nodes.reference("", res["text"], refuri=res["href"], internal=False)
            if res.get("detail"):
                para += nodes.Text(f": {res['detail']}")
            items += nodes.list_item("", para)
        return [items]
