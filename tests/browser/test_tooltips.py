"""Citation tooltips meet WCAG 2.2 SC 1.4.13: shown on keyboard focus and on hover, the
link's accessible description, dismissed with Escape, hoverable, and inside the viewport."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

pytestmark = pytest.mark.browser

ARTICLE = "articles/therapeutic-relationship.html"
IN_CITE = "return !!(document.activeElement && document.activeElement.matches('.kb-cite > a'))"


def tab_to_first_citation(browser, limit: int = 150):
    for _ in range(limit):
        ActionChains(browser.driver).send_keys(Keys.TAB).perform()
        if browser.js(IN_CITE):
            return browser.driver.switch_to.active_element
    pytest.fail(f"no citation link within {limit} presses of Tab")


def tip_of(link):
    return link.find_element(By.XPATH, "./ancestor::span[contains(@class,'kb-cite')][1]"
                                       "/span[contains(@class,'kb-cite-tip')]")


def test_each_citation_link_is_described_by_its_tip(browser):
    browser.get(ARTICLE)
    rows = browser.js("""
        return [...document.querySelectorAll('.kb-cite')].map((c) => {
          const tip = c.querySelector('.kb-cite-tip');
          return {tip: tip.id, role: tip.getAttribute('role'),
                  links: [...c.querySelectorAll('a')].filter((a) => !tip.contains(a))
                           .map((a) => a.getAttribute('aria-describedby')),
                  inner: [...tip.querySelectorAll('a')]
                           .map((a) => a.getAttribute('aria-describedby'))};
        });""")
    assert len(rows) >= 6
    ids = [row["tip"] for row in rows]
    assert all(ids) and len(set(ids)) == len(ids)  # every tip has its own id
    for row in rows:
        assert row["role"] == "tooltip"
        assert row["links"] and all(d and row["tip"] in d.split() for d in row["links"]), row
        assert all(d is None for d in row["inner"]), row  # links inside the tip: not described


def test_keyboard_focus_shows_the_tip_and_escape_hides_it(browser):
    browser.get(ARTICLE)
    link = tab_to_first_citation(browser)
    tip = tip_of(link)
    assert tip.is_displayed()
    assert tip.get_attribute("id") in link.get_attribute("aria-describedby").split()

    ActionChains(browser.driver).send_keys(Keys.ESCAPE).perform()
    browser.wait_for(lambda d: not tip.is_displayed(), message="Escape did not hide the tip")
    assert browser.js(IN_CITE)  # focus stays where it was

    # the next focus change brings tips back: Tab on to the next element, then back
    ActionChains(browser.driver).send_keys(Keys.TAB).perform()
    ActionChains(browser.driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(
        Keys.SHIFT).perform()
    assert browser.driver.switch_to.active_element == link
    browser.wait_for(lambda d: tip.is_displayed(), message="the tip did not come back")


def test_hover_shows_the_tip_and_it_stays_while_the_pointer_moves_onto_it(browser):
    browser.get(ARTICLE)
    links = browser.driver.find_elements(By.CSS_SELECTOR, ".kb-cite > a")
    link, other = links[0], links[1]
    tip = tip_of(link)
    assert not tip.is_displayed()

    ActionChains(browser.driver).move_to_element(link).perform()
    browser.wait_for(lambda d: tip.is_displayed(), message="hover did not show the tip")

    # cross the gap between the link and the tip: the tip must not vanish on the way
    gap = browser.js("""
        const a = arguments[0].getBoundingClientRect(), t = arguments[1].getBoundingClientRect();
        return {x: Math.round(a.left + Math.min(a.width, t.width) / 2),
                ys: [a.bottom + 1, (a.bottom + t.top) / 2, t.top + 2].map(Math.round)};""",
                     link, tip)
    for y in gap["ys"]:
        actions = ActionBuilder(browser.driver)
        actions.pointer_action.move_to_location(gap["x"], y)  # viewport coordinates
        actions.perform()
        assert tip.is_displayed(), f"tip vanished with the pointer at y={y}"

    # Escape hides it without moving the pointer; hovering another citation shows that one
    ActionChains(browser.driver).send_keys(Keys.ESCAPE).perform()
    browser.wait_for(lambda d: not tip.is_displayed(), message="Escape did not hide the tip")
    ActionChains(browser.driver).move_to_element(other).perform()
    browser.wait_for(lambda d: tip_of(other).is_displayed(),
                     message="hovering another citation did not show its tip")


@pytest.mark.parametrize("width", [1280, 390, 320])
def test_tips_stay_inside_the_viewport(browser, width):
    size = browser.driver.get_window_size()
    try:
        browser.driver.set_window_size(width, 900)
        browser.get(ARTICLE)
        boxes = browser.js("""
            return [...document.querySelectorAll('.kb-cite > a')].map((a) => {
              a.focus();  // as Tab would; the tip shows on :focus-within
              const tip = a.parentElement.querySelector('.kb-cite-tip');
              const r = tip.getBoundingClientRect();
              return {link: a.textContent, shown: getComputedStyle(tip).display !== 'none',
                      left: r.left, right: r.right};
            });""")
        viewport = browser.js("return document.documentElement.clientWidth")
        assert len(boxes) >= 6
        for box in boxes:
            assert box["shown"], box
            assert box["left"] >= 0 and box["right"] <= viewport, (box, viewport)
    finally:
        browser.driver.set_window_size(size["width"], size["height"])
