"""The practice's contact details: set once, in conf.py (``kb_contact``), read everywhere.

The call to action (home page, articles, About page), the ``{kb-contact}`` block (About
page, editorial policy, accessibility statement), the ``{kb-book}`` role (the booking
sentence in each article) and the footer of every page all read them from here.

``kb_contact`` is a dict with these keys (only these): ``booking_url`` (https://),
``phone`` (as readers should see it; the link is ``tel:`` with its digits), ``email``,
``hours``, ``reply_time``, ``address``, ``service_area``. A booking link or a phone
number is required before going live: a production build (see ``drafts.is_production``)
without one stops with a message saying what to set. A local build shows a visible
"contact details not set" notice wherever the link would be, never a link to nowhere.
"""

from __future__ import annotations

import re
from html import escape

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole

from .drafts import is_production

logger = logging.getLogger(__name__)

CONTACT_KEYS = {
    "booking_url": "the https:// address of the online booking page",
    "phone": "the phone number readers call, as they should see it",
    "email": "an email address for questions and reports (optional)",
    "hours": "when the phone is answered, e.g. 'Monday to Friday, 9 am to 5 pm' (optional)",
    "reply_time": "how soon readers can expect a reply, e.g. 'within two working days' "
                  "(optional)",
    "address": "the office's street address (optional)",
    "service_area": "where the practice sees clients, e.g. 'Colorado, online' (optional)",
}
PHONE = re.compile(r"\+?[0-9(][0-9 ().\-]{5,24}")
EMAIL = re.compile(r"[^@\s<>\"']+@[^@\s<>\"']+\.[A-Za-z]{2,}")
URL = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]+)?(/[^\s\"'<>]*)?")
MISSING = ("Contact details not set: set kb_contact['booking_url'] or kb_contact['phone'] "
           "in docs/conf.py before this site goes live.")


def contact_problems(contact) -> list[str]:
    """Every problem with the ``kb_contact`` setting (not counting it being unset)."""
    if not isinstance(contact, dict):
        return ["kb_contact must be a dict, e.g. {'booking_url': 'https://...', "
                "'phone': '...'}"]
    problems = []
    for key, value in contact.items():
        if key not in CONTACT_KEYS:
            problems.append(f"kb_contact has an unknown key '{key}' (allowed: "
                            f"{', '.join(CONTACT_KEYS)})")
        elif not isinstance(value, str):
            problems.append(f"kb_contact['{key}'] must be text")
    value = lambda key: (contact.get(key) or "").strip() if isinstance(  # noqa: E731
        contact.get(key), str) else ""
    if value("booking_url") and not URL.fullmatch(value("booking_url")):
        problems.append("kb_contact['booking_url'] must be an https:// address")
    phone = value("phone")
    if phone and (not PHONE.fullmatch(phone) or len(re.sub(r"\D", "", phone)) < 7):
        problems.append(f"kb_contact['phone'] '{phone}' is not a phone number (digits, "
                        "spaces, +, -, parentheses)")
    if value("email") and not EMAIL.fullmatch(value("email")):
        problems.append(f"kb_contact['email'] '{value('email')}' is not an email address")
    return problems


def _valid(key: str, value: str) -> bool:
    if key == "booking_url":
        return bool(URL.fullmatch(value))
    if key == "phone":
        return bool(PHONE.fullmatch(value)) and len(re.sub(r"\D", "", value)) >= 7
    if key == "email":
        return bool(EMAIL.fullmatch(value))
    return True


def contact_of(config) -> dict[str, str]:
    """The contact details that are set and valid (a wrong one is a warning, and is never
    turned into a link)."""
    contact = config.kb_contact if isinstance(config.kb_contact, dict) else {}
    return {k: contact[k].strip() for k in CONTACT_KEYS
            if isinstance(contact.get(k), str) and contact[k].strip()
            and _valid(k, contact[k].strip())}


def is_set(contact: dict[str, str]) -> bool:
    return bool(contact.get("booking_url") or contact.get("phone"))


def tel_href(phone: str) -> str:
    digits = re.sub(r"[^0-9+]", "", phone)
    return "tel:" + digits


def _config_inited(app: Sphinx, config) -> None:
    problems = contact_problems(config.kb_contact)
    contact = contact_of(config)
    if is_production() and (problems or not is_set(contact)):
        if not is_set(contact):
            problems.append(
                "the practice's contact details are not set, so readers could not book or "
                "reach the practice. Set kb_contact in docs/conf.py (the 'Site identity' "
                "section): at least 'booking_url' (https://...) or 'phone', and if you "
                "can 'email', 'hours', 'reply_time' and 'address' or 'service_area'. "
                "See the README, section 'Site identity'")
        # SystemExit, not ConfigError: Sphinx would print a traceback around the message.
        # Python prints this text to stderr and exits with status 1; nothing is written.
        raise SystemExit("Configuration error: production build stopped: "
                         + "; ".join(problems) + ".")
    for problem in problems:
        logger.warning(problem, type="kb", subtype="contact")


# -- rendering -----------------------------------------------------------------------------

def booking_target(builder, fromdocname: str) -> str | None:
    """Where "book a consultation" leads: the booking page, else the phone number."""
    contact = contact_of(builder.config)
    if contact.get("booking_url"):
        return contact["booking_url"]
    if contact.get("phone"):
        return tel_href(contact["phone"])
    return None


def cta_html(builder, fromdocname: str) -> str:
    """The call-to-action button, or the notice that contact details are missing."""
    contact = contact_of(builder.config)
    text = escape(builder.config.kb_cta_text)
    if not is_set(contact):
        return (f'<p class="kb-cta kb-contact-missing" role="note">{escape(MISSING)}</p>')
    parts = []
    if contact.get("booking_url"):
        parts.append(f'<a class="kb-cta-button" href="{escape(contact["booking_url"])}">'
                     f"{text}</a>")
        if contact.get("phone"):
            parts.append(f'<span class="kb-cta-or">or call <a href="'
                         f'{escape(tel_href(contact["phone"]))}">'
                         f'{escape(contact["phone"])}</a></span>')
    else:
        parts.append(f'<a class="kb-cta-button" href="{escape(tel_href(contact["phone"]))}">'
                     f'{text}: call {escape(contact["phone"])}</a>')
    return '<p class="kb-cta">' + " ".join(parts) + "</p>"


def _links(contact: dict, cta_text: str) -> list[tuple[str, str]]:
    """(label, link) for the booking page, phone and email that are set."""
    links = []
    if contact.get("booking_url"):
        links.append(("Book online", f'<a href="{escape(contact["booking_url"])}">'
                                     f"{escape(cta_text)}</a>"))
    if contact.get("phone"):
        links.append(("Phone", f'<a href="{escape(tel_href(contact["phone"]))}">'
                               f'{escape(contact["phone"])}</a>'))
    if contact.get("email"):
        links.append(("Email", f'<a href="mailto:{escape(contact["email"])}">'
                               f'{escape(contact["email"])}</a>'))
    return links


def details_html(builder) -> str:
    """Every contact detail that is set, as a list (the ``{kb-contact}`` block)."""
    contact = contact_of(builder.config)
    if not is_set(contact):
        return f'<p class="kb-contact kb-contact-missing" role="note">{escape(MISSING)}</p>'
    rows = [f"{label}: {link}" for label, link in _links(contact, builder.config.kb_cta_text)]
    for key, label in (("hours", "Hours"), ("reply_time", "We usually reply"),
                       ("address", "Address"), ("service_area", "We see clients in")):
        if contact.get(key):
            rows.append(f"{label}: {escape(contact[key])}")
    return ('<ul class="kb-contact">' + "".join(f"<li>{row}</li>" for row in rows)
            + "</ul>")


def footer_html(builder, pagename: str, pathto=None) -> str:
    cfg = builder.config
    contact = contact_of(cfg)
    link = pathto or (lambda doc: builder.get_relative_uri(pagename, doc))
    about = link(cfg.kb_about_page)
    crisis = link(cfg.kb_crisis_page)
    who = escape(cfg.kb_practice_name) + (
        f", {escape(cfg.kb_practice_location)}" if cfg.kb_practice_location else "")
    parts = [f'<a href="{escape(about)}">{who}</a>']
    parts += [link for _, link in _links(contact, cfg.kb_cta_text)]
    if not is_set(contact):
        parts.append(f'<span class="kb-contact-missing">{escape(MISSING)}</span>')
    parts.append(f'Not an emergency service: <a href="{escape(crisis)}">crisis help</a>')
    return ('<p class="kb-footer-contact">'
            + ' <span aria-hidden="true">·</span> '.join(parts) + "</p>")


def _page_context(app: Sphinx, pagename, templatename, context, doctree) -> None:
    from .epub import is_book  # the e-book has its own crisis block and no site footer
    if app.builder.format == "html" and not is_book(app.builder):
        # the template's pathto: absolute on the 404 page (sphinx-notfound-page)
        context["kb_footer_contact"] = footer_html(app.builder, pagename,
                                                   context.get("pathto"))


class contact_block(nodes.General, nodes.Element):
    """The contact details, rendered when the page is written (they are configuration)."""


def _visit_contact(self, node) -> None:
    self.body.append(details_html(self.builder))
    raise nodes.SkipNode


def _skip(self, node) -> None:
    raise nodes.SkipNode


def _pass(self, node) -> None:
    pass


class ContactDirective(SphinxDirective):
    """``{kb-contact}``: every contact detail that is set."""

    def run(self) -> list[nodes.Node]:
        return [contact_block()]


class book_link(nodes.General, nodes.Element):
    """Inline "book a consultation" text, linked when the page is written."""


def _visit_book(self, node) -> None:
    from .identity import cta_url  # the booking page, the phone, or (not set) the About page
    target = cta_url(self.builder, self.builder.current_docname)
    self.body.append(f'<a class="kb-book-link" href="{escape(target)}">')


def _depart_book(self, node) -> None:
    self.body.append("</a>")


class BookRole(SphinxRole):
    """``{kb-book}`book a free phone consultation``: the text, linked to booking."""

    def run(self):
        node = book_link()
        node += nodes.Text(self.text)
        return [node], []


def setup_contact(app: Sphinx) -> None:
    app.add_config_value("kb_contact", {}, "html", dict)
    app.add_config_value("kb_about_page", "about/index", "html", str)
    app.connect("config-inited", _config_inited)
    app.connect("html-page-context", _page_context, priority=800)
    app.add_node(contact_block, html=(_visit_contact, None), text=(_skip, None),
                 latex=(_skip, None), man=(_skip, None), texinfo=(_skip, None))
    plain = (_pass, _pass)  # other formats: the text only
    app.add_node(book_link, html=(_visit_book, _depart_book), text=plain, latex=plain,
                 man=plain, texinfo=plain)
    app.add_directive("kb-contact", ContactDirective)
    app.add_role("kb-book", BookRole())
