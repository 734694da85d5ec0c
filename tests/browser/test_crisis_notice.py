"""The crisis notice, as a reader meets it: at the top of every kind of page with the same
words, scrolling with the page (never covering focus), reachable right after "Skip to
content", with a visible focus ring and targets of at least 24x24 CSS px."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

pytestmark = pytest.mark.browser

PAGE_TYPES = {"home": "index.html", "article": "articles/anxiety.html",
              "about": "about/index.html", "search": "search.html", "404": "404.html"}


def test_same_notice_at_the_top_of_every_page_type(browser):
    texts = {}
    for kind, page in PAGE_TYPES.items():
        browser.get(page)
        notice = browser.driver.find_element(By.ID, "kb-crisis")
        assert notice.is_displayed(), kind
        box = browser.js("""
            const n = arguments[0], main = document.querySelector('[role=main]');
            const r = n.getBoundingClientRect();
            return {top: r.top, bottom: r.bottom, height: innerHeight,
                    beforeMain: !!(n.compareDocumentPosition(main) &
                                   Node.DOCUMENT_POSITION_FOLLOWING)};""", notice)
        assert box["beforeMain"], kind
        assert 0 <= box["top"] < 20 and box["bottom"] < box["height"] / 3, (kind, box)
        texts[kind] = notice.text
    assert len(set(texts.values())) == 1, texts
    assert "988" in texts["home"]


def test_notice_scrolls_with_the_page(browser):
    browser.get(PAGE_TYPES["article"])
    positions = browser.js("""
        const out = [];
        for (let n = document.getElementById('kb-crisis'); n; n = n.parentElement)
          out.push(n.tagName + '.' + n.className + ': ' + getComputedStyle(n).position);
        return out;""")
    assert not [p for p in positions if p.endswith(("fixed", "sticky"))], positions
    browser.js("window.scrollTo({top: 800, behavior: 'instant'})")
    bottom = browser.js(
        "return document.getElementById('kb-crisis').getBoundingClientRect().bottom")
    assert bottom <= 0, "the notice stays on screen when the page scrolls"


@pytest.mark.parametrize("width", [1280, 390, 320])
def test_notice_links_are_at_least_24_css_px(browser, width):
    size = browser.driver.get_window_size()
    try:
        browser.driver.set_window_size(width, 900)
        browser.get(PAGE_TYPES["article"])
        boxes = browser.js("""
            return [...document.querySelectorAll('#kb-crisis a')].map((a) => {
              const r = a.getBoundingClientRect();
              return {text: a.textContent, width: r.width, height: r.height,
                      lines: a.getClientRects().length};
            });""")
        assert len(boxes) == 5
        for box in boxes:
            assert box["width"] >= 24 and box["height"] >= 24, box
            assert box["lines"] == 1, box  # a link broken over two lines is two small targets
    finally:
        browser.driver.set_window_size(size["width"], size["height"])


def focus_ring(browser, element) -> dict:
    return browser.js("""
        const s = getComputedStyle(arguments[0]);
        return {outline: s.outlineStyle, width: parseFloat(s.outlineWidth) || 0,
                color: s.outlineColor, shadow: s.boxShadow};""", element)


def test_skip_link_then_crisis_links_lead_the_tab_order(browser):
    browser.get(PAGE_TYPES["article"])
    expected = browser.js(
        "return [...document.querySelectorAll('#kb-crisis a')].map((a) => a.textContent)")
    order = []
    for _ in range(1 + len(expected)):
        ActionChains(browser.driver).send_keys(Keys.TAB).perform()
        active = browser.driver.switch_to.active_element
        order.append(active)
    skip = order[0]
    assert "skip-to-content" in skip.get_attribute("class")
    assert [a.text for a in order[1:]] == expected
    assert all(browser.js("return !!arguments[0].closest('#kb-crisis')", a) for a in order[1:])


def test_focus_is_visible_on_the_skip_link_crisis_links_and_search(browser):
    browser.get(PAGE_TYPES["article"])
    ActionChains(browser.driver).send_keys(Keys.TAB).perform()
    skip = browser.driver.switch_to.active_element
    assert "skip-to-content" in skip.get_attribute("class")
    browser.wait_for(  # furo slides it in (a 0.3 s transition)
        lambda d: d.execute_script("const r = arguments[0].getBoundingClientRect();"
                                   "return r.top >= 0 && r.bottom <= innerHeight", skip),
        timeout=3, message="the focused skip link does not come on screen")

    ActionChains(browser.driver).send_keys(Keys.TAB).perform()
    crisis = browser.driver.switch_to.active_element
    assert browser.js("return !!arguments[0].closest('#kb-crisis')", crisis)
    ring = focus_ring(browser, crisis)
    assert (ring["outline"] != "none" and ring["width"] >= 2) or ring["shadow"] != "none", ring
    # the ring is drawn in the link's light text color, which contrasts with the dark notice
    assert ring["color"] == browser.js("return getComputedStyle(arguments[0]).color",
                                       crisis), ring
    assert browser.contrast(crisis)["ratio"] >= 3

    search = browser.driver.find_element(By.CSS_SELECTOR, "input.sidebar-search")
    for _ in range(10):
        if browser.driver.switch_to.active_element == search:
            break
        ActionChains(browser.driver).send_keys(Keys.TAB).perform()
    assert browser.driver.switch_to.active_element == search
    ring = focus_ring(browser, search)
    assert (ring["outline"] != "none" and ring["width"] >= 2) or ring["shadow"] != "none", ring
