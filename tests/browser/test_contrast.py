"""Text contrast meets WCAG 2.2 AA (4.5:1) in furo's light and dark themes, measured in the
browser: the computed text color against the background actually behind it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

AA = 4.5
ARTICLE = "articles/therapeutic-relationship.html"  # citations, a reference list, the CTA
CHECKS = {
    ARTICLE: {
        "body text": "article p",
        "links in the article": "article a.reference:not(.kb-cite-tip a)",
        "crisis notice text": "#kb-crisis, #kb-crisis strong",
        "crisis notice links": "#kb-crisis a",
        "call to action (contact details not set: its notice)": ".kb-cta",
        "footer contact line": ".kb-footer-contact, .kb-footer-contact a",
        "citation tooltip text": ".kb-cite-tip",
        "citation tooltip links": ".kb-cite-tip a",
        "reference list": "ul.kb-reflist > li",
        "reference list links": "ul.kb-reflist > li a",
    },
    "articles/couples-therapy.html": {  # a page about abuse (quick_exit: true)
        "quick exit": "a.kb-quick-exit, .kb-quick-exit-hint",
        "safety note": ".kb-safety-note p, .kb-safety-note a",
    },
    "bibliography.html": {
        "reference list": "ul.kb-reflist > li",
        "cited-in notes": ".kb-cited-in",
        "cited-in links": ".kb-cited-in a",
    },
}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_text_contrast_meets_aa(tab, theme):
    failures = []
    for page, checks in CHECKS.items():
        tab.goto(page)
        tab.set_theme(theme)
        # tooltips are measured as shown
        tab.js("document.querySelectorAll('.kb-cite-tip')"
               ".forEach((t) => t.style.display = 'block')")
        for what, selector in checks.items():
            results = tab.contrast(selector)
            assert results, f"{page}: nothing matches {selector} ({what})"
            failures += [f"{page} {what}: {r['text']!r} {r['fg']} on rgb({r['bg']}) "
                         f"= {r['ratio']:.2f}" for r in results if r["ratio"] < AA]
    assert failures == []


def test_themes_really_switch(tab):
    """Guards the test above: setting data-theme changes the page's colors."""
    tab.goto(ARTICLE)
    colors = {}
    for theme in ("light", "dark"):
        tab.set_theme(theme)
        colors[theme] = tab.js("getComputedStyle(document.body).backgroundColor")
    assert colors["light"] != colors["dark"], colors
