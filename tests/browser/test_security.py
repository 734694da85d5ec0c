"""No script runs that the site did not ship, in a real browser: every page type loads and
works under its Content-Security-Policy with no violation (the ``tab`` fixture fails a test
on any console error, which is how Chromium reports violations); a script injected at run
time is blocked; hostile front matter shows as text in pages and search results."""

from __future__ import annotations

import pytest

from helpers import lay_root

from .conftest import build_in_child, recording_page, served

PAGE_TYPES = ["index.html", "topics/index.html", "topics/grief.html",
              "articles/grief-and-loss.html", "articles/index.html", "bibliography.html",
              "crisis.html", "about/privacy.html", "search.html#q=grief", "genindex.html",
              "404.html"]


@pytest.mark.parametrize("path", PAGE_TYPES)
def test_every_page_type_works_under_its_policy(tab, path):
    tab.goto(path)
    assert tab.js("""() => document.querySelector(
        'meta[http-equiv="Content-Security-Policy"]').content""").startswith(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'sha256-")
    # furo's inline theme script ran (allowed by its hash): the theme is applied
    assert tab.theme() in ("auto", "light", "dark")
    if path.startswith("search.html"):
        # the search engine's WebAssembly compiled and ran under the policy
        tab.page.wait_for_function(
            "() => document.getElementById('kb-search-results').dataset.state === 'done'")
        assert tab.locator(".kb-search-result").count() > 0


@pytest.mark.browser_errors_expected(match="Content.Security.Policy",
                                     reason="the test injects scripts the policy must block")
def test_scripts_injected_at_run_time_are_blocked(tab, server):
    tab.goto("articles/anxiety.html")
    blocked = tab.js("""async () => {
        const violations = [];
        document.addEventListener('securitypolicyviolation',
                                  (e) => violations.push(e.violatedDirective));
        const inline = document.createElement('script');
        inline.textContent = 'window.__pwned = 1;';
        document.body.append(inline);
        const remote = document.createElement('script');
        remote.src = 'https://cdn.example.org/tracker.js';
        document.body.append(remote);
        const handler = document.createElement('img');
        handler.setAttribute('onerror', 'window.__pwned = 2');
        handler.src = 'data:,nothing';
        document.body.append(handler);
        await new Promise((r) => setTimeout(r, 300));
        return {pwned: window.__pwned || null, violations};
    }""")
    assert blocked["pwned"] is None
    assert len(blocked["violations"]) == 3, blocked
    assert all(v.startswith("script-src") for v in blocked["violations"])
    # the remote script was blocked by the policy before any request was sent
    assert tab.recorder.blocked_by_csp == ["https://cdn.example.org/tracker.js"]


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    """The tiny project with hostile front matter (tests/roots/test-security_hostile),
    built in a child process (a fork of this one, with Playwright's threads running,
    could deadlock) and served on loopback."""
    src = lay_root(tmp_path_factory.mktemp("hostile") / "src", "security_hostile")
    out = src.parent / "html"
    build = build_in_child(src, out, "-W")
    assert build.returncode == 0, build.stderr
    with served(out) as srv:
        yield srv

def test_hostile_front_matter_is_text_in_pages_and_search(_chromium, hostile_site):
    # its own context: the site under test is the hostile one, on another port
    with recording_page(_chromium) as (page, log):
        for path in ("index.html", "topics/grief.html", "articles/hostile.html"):
            page.goto(hostile_site.url(path))
            assert page.evaluate("() => document.querySelectorAll('img[onerror]').length") == 0
        page.goto(hostile_site.url("index.html"))
        assert "</script><img src=x onerror=alert(1)>" in page.locator("body").inner_text()
        page.goto(hostile_site.url("search.html#q=worry"))
        page.wait_for_function(
            "() => document.getElementById('kb-search-results').dataset.state === 'done'")
        excerpt = page.locator(".kb-search-excerpt").first.inner_text()
        assert "alert(2)" in excerpt and "<b>bold</b>" in excerpt
        assert page.evaluate("""() => document.querySelectorAll(
            '#kb-search-results img, #kb-search-results script, #kb-search-results b')
            .length""") == 0
        page.wait_for_timeout(200)
    assert log.dialogs == [] and log.problems == []
    assert log.outside(hostile_site.origin) == []
