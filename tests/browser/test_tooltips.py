"""Citation tooltips meet WCAG 2.2 SC 1.4.13: shown on keyboard focus and on hover, the
link's accessible description, dismissed with Escape, hoverable, and inside the viewport."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ARTICLE = "articles/therapeutic-relationship.html"
CITE_LINK = ".kb-cite > a"


def tab_to_first_citation(tab, limit: int = 150):
    for _ in range(limit):
        tab.tab()
        if tab.active_matches(CITE_LINK):
            return
    pytest.fail(f"no citation link within {limit} presses of Tab")


def tip_of(link):
    return link.locator("xpath=ancestor::span[contains(@class,'kb-cite')][1]"
                        "/span[contains(@class,'kb-cite-tip')]")


def test_each_citation_link_is_described_by_its_tip(tab):
    tab.goto(ARTICLE)
    rows = tab.js("""() => [...document.querySelectorAll('.kb-cite')].map((c) => {
          const tip = c.querySelector('.kb-cite-tip');
          return {tip: tip.id, role: tip.getAttribute('role'),
                  links: [...c.querySelectorAll('a')].filter((a) => !tip.contains(a))
                           .map((a) => a.getAttribute('aria-describedby')),
                  inner: [...tip.querySelectorAll('a')]
                           .map((a) => a.getAttribute('aria-describedby'))};
        })""")
    assert len(rows) >= 6
    ids = [row["tip"] for row in rows]
    assert all(ids) and len(set(ids)) == len(ids)  # every tip has its own id
    for row in rows:
        assert row["role"] == "tooltip"
        assert row["links"] and all(d and row["tip"] in d.split() for d in row["links"]), row
        assert all(d is None for d in row["inner"]), row  # links inside the tip: not described


def test_keyboard_focus_shows_the_tip_and_escape_hides_it(tab):
    tab.goto(ARTICLE)
    tab_to_first_citation(tab)
    link = tab.locator(CITE_LINK).first  # the first in the tab order is the first in the text
    expect(link).to_be_focused()
    tip = tip_of(link)
    assert tip.is_visible()
    assert tip.get_attribute("id") in link.get_attribute("aria-describedby").split()

    tab.keyboard.press("Escape")
    expect(tip).to_be_hidden(timeout=3000)  # Escape hides the tip
    assert tab.active_matches(CITE_LINK)  # focus stays where it was

    # the next focus change brings tips back: Tab on to the next element, then back
    tab.tab()
    tab.tab(shift=True)
    expect(link).to_be_focused()
    expect(tip).to_be_visible(timeout=3000)  # the tip comes back


def test_hover_shows_the_tip_and_it_stays_while_the_pointer_moves_onto_it(tab):
    tab.goto(ARTICLE)
    links = tab.locator(CITE_LINK)
    link, other = links.nth(0), links.nth(1)
    tip = tip_of(link)
    assert not tip.is_visible()

    link.hover()
    expect(tip).to_be_visible(timeout=3000)  # hover shows the tip

    # cross the gap between the link and the tip: the tip must not vanish on the way
    a, t = link.bounding_box(), tip.bounding_box()
    x = round(a["x"] + min(a["width"], t["width"]) / 2)
    bottom = a["y"] + a["height"]
    for y in [round(v) for v in (bottom + 1, (bottom + t["y"]) / 2, t["y"] + 2)]:
        tab.page.mouse.move(x, y)  # viewport coordinates
        assert tip.is_visible(), f"tip vanished with the pointer at y={y}"

    # Escape hides it without moving the pointer; hovering another citation shows that one
    tab.keyboard.press("Escape")
    expect(tip).to_be_hidden(timeout=3000)
    other.hover()
    expect(tip_of(other)).to_be_visible(timeout=3000)


@pytest.mark.parametrize("width", [1280, 390, 320])
def test_tips_stay_inside_the_viewport(tab, width):
    tab.set_size(width, 900)
    tab.goto(ARTICLE)
    boxes = tab.js("""() => [...document.querySelectorAll('.kb-cite > a')].map((a) => {
          a.focus();  // as Tab would; the tip shows on :focus-within
          const tip = a.parentElement.querySelector('.kb-cite-tip');
          const r = tip.getBoundingClientRect();
          return {link: a.textContent, shown: getComputedStyle(tip).display !== 'none',
                  left: r.left, right: r.right};
        })""")
    viewport = tab.js("document.documentElement.clientWidth")
    assert len(boxes) >= 6
    for box in boxes:
        assert box["shown"], box
        assert box["left"] >= 0 and box["right"] <= viewport, (box, viewport)
