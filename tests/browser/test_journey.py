"""A reader's journeys through the site, with what the browser really shows at each step:
home page to a topic, an article and the source of a citation; the colour theme chosen
with furo's toggle staying chosen; and, on a phone, every page reachable through the
navigation drawer alone."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import yaml
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TOPICS = yaml.safe_load(
    (Path(__file__).parents[2] / "docs/_data/topics.yaml").read_text(encoding="utf-8"))


def h1(tab) -> str:
    heading = tab.locator("article[role=main] h1").first
    expect(heading).to_be_visible()
    # furo's "¶" permalink is part of the heading's text
    return heading.inner_text().replace("¶", "").strip()


def path_of(url: str) -> str:
    return urlsplit(url).path


# -- home page -> topic -> article -> citation -> reference list -------------------------

IN_VIEWPORT_JS = """(el) => { const r = el.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 &&
         r.bottom <= innerHeight && r.right <= document.documentElement.clientWidth; }"""


def test_home_to_topic_to_article_to_the_cited_source(tab, server):
    tab.goto("index.html")
    card = tab.locator("ul.kb-topic-grid > li.kb-topic-card > a").first
    topic_title = card.inner_text().strip()
    assert topic_title == next(iter(TOPICS.values()))["title"]  # the first topic's card
    card.click()
    tab.page.wait_for_load_state()
    assert path_of(tab.page.url).endswith("/topics/therapy.html"), tab.page.url
    assert h1(tab) == topic_title

    # an article of this topic that cites sources: the listing links to it
    listing = tab.locator("ul.kb-listing a.kb-listing-title")
    titles = listing.all_inner_texts()
    assert len(titles) >= 2, titles
    article = tab.page.locator("ul.kb-listing a.kb-listing-title",
                               has_text="The therapeutic relationship")
    target_path = path_of(urljoin(tab.page.url, article.get_attribute("href")))
    article.click()
    tab.page.wait_for_load_state()
    assert path_of(tab.page.url) == target_path, tab.page.url
    assert "/articles/" in target_path
    assert "therapist" in h1(tab)
    article_url = tab.page.url

    # the first in-text citation: "(Surname, 1979)" or "Surname et al. (2018)"
    cite = tab.locator("article .kb-cite > a").first
    expect(cite).to_be_visible()
    text = cite.inner_text()
    surname = re.search(r"[^\W\d_][\w'’-]+", text).group(0)
    year = re.search(r"\b(1[89]|20)\d\d[a-z]?\b", text).group(0)
    fragment = urlsplit(urljoin(article_url, cite.get_attribute("href"))).fragment
    assert fragment, cite.get_attribute("href")
    cite.click()

    tab.page.wait_for_function("(f) => location.hash === '#' + f", arg=fragment)
    assert tab.page.url.split("#")[0] == article_url.split("#")[0]  # the same page
    target = tab.locator(":target")
    expect(target).to_have_count(1)
    assert target.get_attribute("id") == fragment
    # it is an entry of this article's reference list, shown on screen
    assert target.evaluate("(el) => el.matches('ul.kb-reflist > li')"), fragment
    expect(target).to_be_visible()
    tab.page.wait_for_function(IN_VIEWPORT_JS, arg=target.element_handle(), timeout=3000)
    entry = target.inner_text()
    assert surname in entry and year in entry, (text, entry)
    assert entry.startswith(surname), (surname, entry)  # APA: the list is by first author


# -- furo's theme toggle ------------------------------------------------------------------

def visible_toggle(tab):
    toggles = tab.locator("button.theme-toggle")
    visible = [toggles.nth(i) for i in range(toggles.count()) if toggles.nth(i).is_visible()]
    assert len(visible) == 1, "expected exactly one visible theme toggle button"
    return visible[0]


def assert_dark(tab, where: str):
    assert tab.theme() == "dark", where
    luminance = tab.background_luminance()
    assert luminance < 0.05, f"{where}: the page background is not dark ({luminance:.3f})"
    # the toggle shows the moon (dark) icon
    expect(tab.locator("button.theme-toggle:visible .theme-icon-when-dark")).to_be_visible()


@pytest.mark.parametrize("device", ["desktop", "phone"], indirect=True)
def test_theme_toggle_chooses_dark_and_it_stays(tab):
    tab.goto("articles/anxiety.html")
    assert tab.theme() == "auto"  # a first visit follows the system (light here)
    light = tab.background_luminance()
    assert light > 0.8, light
    clicks = 0
    while tab.theme() != "dark":
        assert clicks < 3, "three clicks of the theme toggle never chose dark"
        visible_toggle(tab).click()
        clicks += 1
    assert_dark(tab, "after clicking the toggle")

    # another page, reached by a link in the page (the crisis notice's): still dark
    tab.page.locator("#kb-crisis a[href$='crisis.html#find-your-situation']").click()
    tab.page.wait_for_load_state()
    assert path_of(tab.page.url).endswith("/crisis.html"), tab.page.url
    assert_dark(tab, f"on the next page {tab.page.url}")

    tab.page.reload(wait_until="load")
    assert_dark(tab, "after a reload")


# -- phone: every page through the navigation drawer --------------------------------------

DRAWER = ".sidebar-drawer"
DRAWER_LINKS = ".sidebar-drawer .sidebar-tree a[href]"


def drawer_box(tab) -> dict:
    return tab.js("""() => { const r = document.querySelector('.sidebar-drawer')
                                               .getBoundingClientRect();
                             return {left: r.left, right: r.right, width: r.width}; }""")


def open_drawer(tab):
    menu = tab.locator("header.mobile-header label.nav-overlay-icon")
    expect(menu).to_be_visible()
    menu.tap()
    # furo slides the drawer in from the left (a 0.25 s transition)
    tab.page.wait_for_function("""() => { const r = document.querySelector('.sidebar-drawer')
                                                  .getBoundingClientRect();
                                          return r.left === 0 && r.width > 0; }""",
                               timeout=3000)


def assert_drawer_closed(tab):
    tab.page.wait_for_function("""() => document.querySelector('.sidebar-drawer')
                                               .getBoundingClientRect().right <= 0""",
                               timeout=3000)
    expect(tab.locator(".sidebar-drawer .sidebar-tree a").first).not_to_be_in_viewport()


@pytest.mark.parametrize("device", ["phone"], indirect=True)
def test_phone_every_page_in_the_drawer_is_reachable_through_it(tab, server):
    tab.goto("index.html")
    assert drawer_box(tab)["right"] <= 0, "the drawer is open before anyone opened it"
    expect(tab.locator(DRAWER_LINKS).first).not_to_be_in_viewport()

    open_drawer(tab)
    links = tab.locator(DRAWER_LINKS)
    # the text as written (a caption may be shown in capitals)
    entries = [(links.nth(i).text_content().strip(),
                path_of(urljoin(tab.page.url, links.nth(i).get_attribute("href"))))
               for i in range(links.count())]
    paths = [p for _, p in entries]
    root = path_of(server.url(""))
    expected = {root + "topics/index.html", root + "crisis.html", root + "about/index.html",
                *(f"{root}topics/{slug}.html" for slug in TOPICS)}
    assert expected <= set(paths), sorted(expected - set(paths))
    for slug, topic in TOPICS.items():  # each topic under its own title
        assert (topic["title"], f"{root}topics/{slug}.html") in entries, slug

    # the drawer closes again: tap the shaded page beside it
    tab.locator("label.sidebar-overlay").tap(position={"x": 340, "y": 400})
    assert_drawer_closed(tab)

    for i, (text, path) in enumerate(entries):
        open_drawer(tab)
        link = tab.locator(DRAWER_LINKS).nth(i)
        link.scroll_into_view_if_needed()  # as a reader scrolls the drawer
        expect(link).to_be_in_viewport()
        assert link.text_content().strip() == text
        link.tap()
        tab.page.wait_for_url(lambda url, path=path: path_of(url) == path)
        tab.page.wait_for_load_state()
        assert h1(tab) == text, path
        assert_drawer_closed(tab)  # a new page starts with the drawer closed


@pytest.mark.parametrize("device", ["phone"], indirect=True)
def test_phone_drawer_opens_and_closes_from_the_keyboard(tab):
    """furo's menu button is a <label>; kb.js makes it a real button (WCAG 2.2 SC 2.1.1)."""
    tab.goto("articles/anxiety.html")
    menu = "header.mobile-header label.nav-overlay-icon"
    # reachable with Tab from the top of the page
    for _ in range(30):
        tab.tab()
        if tab.active_matches(menu):
            break
    assert tab.active_matches(menu), "Tab never reaches the menu button"
    assert tab.js(f"() => document.querySelector('{menu}').getAttribute('aria-expanded')") \
        == "false"
    assert tab.locator(menu).get_attribute("aria-label") == "Menu"
    tab.keyboard.press("Enter")
    tab.page.wait_for_function("""() => document.querySelector('.sidebar-drawer')
                                         .getBoundingClientRect().left === 0""", timeout=3000)
    # focus moved into the open drawer, and the button says it is open
    assert tab.active_matches(".sidebar-drawer a")
    assert tab.locator(menu).get_attribute("aria-expanded") == "true"
    tab.tab()
    assert tab.active_matches(".sidebar-drawer a, .sidebar-drawer input")
    tab.keyboard.press("Escape")
    assert_drawer_closed(tab)
    assert tab.active_matches(menu)
    assert tab.locator(menu).get_attribute("aria-expanded") == "false"
    # Space works too
    tab.keyboard.press(" ")
    tab.page.wait_for_function("""() => document.getElementById('__navigation').checked""")
