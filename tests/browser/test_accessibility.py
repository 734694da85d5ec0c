"""axe-core (bundled with axe-playwright-python, injected into the page: no network) finds
no WCAG 2.0/2.1/2.2 A and AA violations on each page type, in the light and dark themes."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.browser

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}
SEARCH = "search.html#q=anxiety"
PAGES = {
    "home": "index.html",
    "topic": "topics/anxiety.html",
    "article": "articles/therapeutic-relationship.html",  # citations, tooltips, references
    "bibliography": "bibliography.html",
    "search": SEARCH,
    "404": "404.html",
    "article about abuse (quick exit)": "articles/couples-therapy.html",
    "crisis": "crisis.html",
    "about (contact details)": "about/index.html",
}


class SearchResultsMissing(AssertionError):
    """The search page never showed its results element."""


def wait_for_search_results(tab, timeout: float = 10_000):
    """The search page renders its results into #kb-search-results and sets
    data-state="done" on it once they are shown."""
    try:
        tab.page.wait_for_selector('#kb-search-results[data-state="done"]', state="attached",
                                   timeout=timeout)
    except PlaywrightTimeout:
        if tab.page.locator("#kb-search-results").count() == 0:
            raise SearchResultsMissing(
                f"the search page has no results element: {SEARCH} never had an element "
                f"#kb-search-results (with data-state=\"done\" once results are shown) "
                f"within {timeout / 1000:.0f} s") from None
        state = tab.page.locator("#kb-search-results").get_attribute("data-state")
        raise AssertionError(f"{SEARCH}: #kb-search-results never reached "
                             f"data-state=\"done\" (it is {state!r})") from None


def report(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = "; ".join(" ".join(map(str, node["target"])) for node in v["nodes"])
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}\n    on: {targets}")
    return "\n".join(lines)


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("kind", list(PAGES))
def test_axe_finds_no_wcag_violations(tab, kind, theme):
    page = PAGES[kind]
    # the theme a reader chose with furo's toggle: localStorage "theme", read before paint
    tab.page.context.add_init_script(f"localStorage.setItem('theme', {theme!r});")
    tab.goto(page)
    assert tab.theme() == theme, f"{page}: body[data-theme] is {tab.theme()!r}, not {theme!r}"
    if page == SEARCH:
        wait_for_search_results(tab)
    results = Axe().run(tab.page, options=AXE_OPTIONS)
    violations = results.response["violations"]
    assert results.response["testEngine"]["version"].startswith("4.")
    assert violations == [], (f"{page} ({theme} theme): {len(violations)} axe violations\n"
                              + report(violations))
