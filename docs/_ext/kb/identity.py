"""Site identity: the practice and the call to action.

They are set once, in conf.py (``kb_practice_name`` ...), and every template and page reads
them from here: the call to action (``{kb-cta}``) and the crisis page's name. The crisis
resources are data (``docs/_data/crisis-resources.yaml``, read by ``crisis.py``); the
practice's contact details are ``kb_contact`` (``contact.py``).
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from .contact import booking_target, cta_html


def setup_identity(app: Sphinx) -> None:
    add = app.add_config_value
    add("kb_practice_name", "RFC Counseling", "html", str)
    add("kb_practice_location", "", "html", str)
    add("kb_tagline", "", "html", str)
    add("kb_cta_text", "Book a free phone consultation", "html", str)
    # where booking links lead while kb_contact is not set (local builds and previews)
    add("kb_cta_link", "about/index", "html", str)
    add("kb_cta_anchor", "", "html", str)
    app.connect("config-inited", _announcement_on)
    app.connect("html-page-context", _page_context)
    app.add_directive("kb-cta", CallToActionDirective)
    app.add_node(cta, html=(_visit_cta, _depart_cta))


def _announcement_on(app: Sphinx, config) -> None:
    """Furo renders its announcement slot only when the option is set; our page.html
    template fills the slot with the crisis notice from the site identity."""
    config.html_theme_options = {**config.html_theme_options, "announcement": "crisis"}


def cta_url(builder, fromdocname: str) -> str:
    """Where "book a consultation" leads, from *fromdocname*: the booking page or the phone
    number in kb_contact, else (not set yet) the page kb_cta_link and kb_cta_anchor name."""
    target = booking_target(builder, fromdocname)
    if target is not None:
        return target
    link = builder.config.kb_cta_link
    uri = builder.get_relative_uri(fromdocname, link)
    anchor = builder.config.kb_cta_anchor
    return f"{uri}#{anchor}" if anchor else uri


def _page_context(app: Sphinx, pagename, templatename, context, doctree) -> None:
    cfg = app.config
    context["kb_practice_name"] = cfg.kb_practice_name
    context["kb_practice_location"] = cfg.kb_practice_location
    context["kb_crisis_page"] = cfg.kb_crisis_page
    context["kb_cta_text"] = cfg.kb_cta_text


class cta(nodes.General, nodes.Element):
    """A call-to-action link; its URL is computed per page when written."""


def _visit_cta(self, node: cta) -> None:
    self.body.append(cta_html(self.builder, self.builder.current_docname))
    raise nodes.SkipNode


def _depart_cta(self, node: cta) -> None:  # pragma: no cover - SkipNode above
    pass


class CallToActionDirective(SphinxDirective):
    """``{kb-cta}``: the configured call to action as a button."""

    def run(self) -> list[nodes.Node]:
        return [cta()]
