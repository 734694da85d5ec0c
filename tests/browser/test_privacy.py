"""Nothing a reader does leaves their device: no third-party requests, and search queries
reach neither the server (they travel in the URL fragment) nor lasting browser storage."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

pytestmark = pytest.mark.browser

PAGES = ["index.html", "articles/anxiety.html", "about/index.html", "404.html",
         "search.html#q=anxiety"]
SIDEBAR_SEARCH = "form.sidebar-search-container input.sidebar-search"
RESULT_LINKS = "#search-results ul.search li a[href*='articles/']"


def wait_for_results(browser):
    """Wait until the search has finished with results; return the links to articles."""

    def finished(driver):
        headings = driver.find_elements(By.CSS_SELECTOR, "#search-results h2")
        if not headings or "Search Results" not in headings[0].text:
            return False
        return driver.find_elements(By.CSS_SELECTOR, RESULT_LINKS) or False

    return browser.wait_for(finished, message="no search results appeared")


def leaks(requests, word: str, root: Path) -> list:
    """Requests that carry *word* other than as the path of a file of the site (an article
    called understanding-trauma.html may be loaded; the query may not be sent)."""

    def carries(url: str) -> bool:
        parts = urlsplit(url)
        if word in unquote(parts.query + parts.fragment).lower():
            return True
        path = unquote(parts.path).lower()
        return word in path and not (root / unquote(parts.path).lstrip("/")).is_file()

    found = []
    for target, headers in requests:
        others = {k: v for k, v in headers.items() if k.lower() != "referer"}
        if (carries(target) or carries(headers.get("Referer", ""))
                or word in repr(others).lower()):
            found.append((target, headers))
    return found


def test_kb_js_is_loaded_on_every_page_type(browser):
    for page in PAGES:
        browser.get(page)
        assert browser.js("return !!document.querySelector('script[src*=\"kb.js\"]')"), (
            f"{page}: kb.js is not loaded; docs/conf.py needs html_js_files = ['kb.js']")


def test_no_request_leaves_the_origin(browser, server):
    for page in PAGES:
        browser.get(page)
        if page.startswith("search.html"):
            wait_for_results(browser)
    urls = [event["request"]["url"] for event in browser.network_log()]
    for page in PAGES:  # the log really covers the pages
        assert server.url(page.split("#")[0]) in urls, page
    outside = [u for u in urls
               if not (u.startswith(server.origin + "/") or u.startswith("data:"))]
    assert outside == []


def test_search_forms_send_nothing_even_without_script_handlers(browser):
    for page in PAGES:
        browser.get(page)
        named = browser.js("""
            return [...document.querySelectorAll('form')].flatMap(
              (f) => [...new FormData(f).keys()].map((k) => f.className + ':' + k));""")
        assert named == [], page
        assert browser.driver.find_elements(By.CSS_SELECTOR, SIDEBAR_SEARCH), page


def test_slash_shortcut_still_focuses_the_search_field(browser):
    browser.get("articles/anxiety.html")
    ActionChains(browser.driver).send_keys("/").perform()
    active = browser.driver.switch_to.active_element
    assert active == browser.driver.find_element(By.CSS_SELECTOR, SIDEBAR_SEARCH)
    assert active.get_attribute("value") == ""  # the "/" itself was not typed


def test_sidebar_search_keeps_the_query_on_the_device(browser, server):
    browser.get("articles/anxiety.html")
    start = len(server.requests)

    box = browser.driver.find_element(By.CSS_SELECTOR, SIDEBAR_SEARCH)
    box.send_keys("trauma", Keys.ENTER)
    browser.wait_for(lambda d: d.current_url.endswith("/search.html#q=trauma"),
                     message="the search form did not go to search.html#q=trauma")
    links = wait_for_results(browser)
    box = browser.driver.find_element(By.CSS_SELECTOR, SIDEBAR_SEARCH)
    assert box.get_dom_attribute("name") is None
    assert box.get_attribute("value") == "trauma"
    # the terms Sphinx keeps for highlighting are not left in lasting storage
    assert browser.js("return localStorage.getItem('sphinx_highlight_terms')") is None

    # the results are listed without fetching the result pages (which pages were fetched
    # would tell the server what was searched): only the search page and its assets
    fetched = [urlsplit(t).path for t, _ in server.requests[start:]]
    pages = [p for p in fetched if p.endswith(".html")]
    assert pages == ["/search.html"], fetched

    target = links[0].get_attribute("href")
    links[0].click()
    browser.wait_for(lambda d: d.current_url == target and
                     d.execute_script("return document.readyState") == "complete")
    assert "/articles/" in browser.driver.current_url
    # the result page still highlights the terms (handed over in this tab only) ...
    browser.wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, "span.highlighted"),
                     message="search terms were not highlighted on the result page")
    # ... and no storage keeps them afterwards
    assert browser.js("return localStorage.getItem('sphinx_highlight_terms')") is None
    assert browser.js("return JSON.stringify(sessionStorage)") == "{}"
    assert "trauma" not in browser.js("return JSON.stringify(localStorage)").lower()

    requests = server.requests[start:]
    assert any(urlsplit(t).path.endswith("/search.html") for t, _ in requests)
    assert leaks(requests, "trauma", server.root) == []


def test_home_page_search_box_uses_the_fragment(browser, server):
    browser.get("index.html")
    boxes = browser.driver.find_elements(By.CSS_SELECTOR, "article form[role=search] input")
    assert boxes, "the home page's own search box ({kb-search} in index.md) is missing"
    start = len(server.requests)
    boxes[0].send_keys("grief")
    boxes[0].find_element(By.XPATH, "./ancestor::form//button").click()
    browser.wait_for(lambda d: d.current_url.endswith("/search.html#q=grief"),
                     message="the home page search box did not go to search.html#q=grief")
    wait_for_results(browser)
    assert leaks(server.requests[start:], "grief", server.root) == []


def test_a_new_search_from_the_results_page(browser, server):
    browser.get("search.html#q=trauma")
    wait_for_results(browser)
    start = len(server.requests)
    box = browser.driver.find_element(By.CSS_SELECTOR, SIDEBAR_SEARCH)
    box.clear()
    box.send_keys("grief", Keys.ENTER)
    browser.wait_for(lambda d: d.current_url.endswith("/search.html#q=grief"))
    browser.wait_for(lambda d: d.find_elements(
        By.CSS_SELECTOR, "#search-results a[href*='grief-and-loss']"),
        message="the new query's results did not appear")
    # one set of results, not the old ones with the new ones below
    assert len(browser.driver.find_elements(By.CSS_SELECTOR, "#search-results h2")) == 1
    assert all(urlsplit(t).query == "" for t, _ in server.requests[start:])


def test_an_old_query_string_link_moves_to_the_fragment(browser):
    browser.get("search.html?q=grief")
    wait_for_results(browser)
    assert browser.driver.current_url.endswith("/search.html#q=grief")
    assert browser.js("return localStorage.getItem('sphinx_highlight_terms')") is None
