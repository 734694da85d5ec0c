"""Nothing a reader does leaves their device: every page type loads kb.js and makes no
request to any other origin. (Every browser test also fails on a request to another origin:
see the page fixture in conftest.py. The search's own tests are in test_search.py.)"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

PAGES = ["index.html", "topics/index.html", "topics/anxiety.html", "articles/anxiety.html",
         "bibliography.html", "crisis.html", "about/index.html", "404.html",
         "search.html#q=anxiety"]


def test_kb_js_is_loaded_on_every_page_type(tab):
    for page in PAGES:
        tab.goto(page)
        assert tab.js("!!document.querySelector('script[src*=\"kb.js\"]')"), (
            f"{page}: kb.js is not loaded; docs/conf.py needs html_js_files = ['kb.js']")


def test_no_request_leaves_the_origin(tab, server):
    for page in PAGES:
        # networkidle: what the page fetches after load (the search index, results) counts
        tab.goto(page, wait_until="networkidle")
    urls = list(tab.requests)
    for page in PAGES:  # the record really covers the pages and what they load
        assert server.url(page.split("#")[0]) in urls, page
    assert any(urlsplit(u).path.endswith(".css") for u in urls), urls
    assert any(urlsplit(u).path.endswith("/kb.js") for u in urls), urls
    outside = [u for u in urls
               if not (u.startswith(server.origin + "/") or u.startswith("data:"))]
    assert outside == []
    # the server saw the same page loads (nothing was answered from a cache)
    served = {urlsplit(target).path for target, _ in server.requests}
    assert {urlsplit(server.url(p)).path for p in PAGES} <= served


# A stand-in for Read the Docs' addons as the host adds them to every page it serves (a
# same-origin <script> under /_/). Like the real bundle it needs code compiled at run time,
# and once running it would ask the host for its configuration and send the reader's
# search to the host's same-origin search API. (The real bundle is not on a package
# registry this project can install from, so the test carries the two behaviours that
# matter here.)
ADDONS_STAND_IN = """
const start = new Function("return true;");  // the real bundle needs eval likewise
if (start()) {
  fetch("/_/addons/?client-version=0.0.0&api-version=1");
  document.addEventListener("input", (event) => {
    fetch("/_/api/v3/search/?q=" + encodeURIComponent(event.target.value || ""));
  });
}
"""
ADDONS_TAG = '<script async src="/_/static/javascript/readthedocs-addons.js"></script>'


@pytest.mark.browser_errors_expected(match="unsafe-eval|EvalError|script-src",
                                     reason="the page's policy blocks the addons' eval")
def test_read_the_docs_addons_cannot_send_a_search_to_the_host(tab, server):
    """As hosted: the host's addons script is on the page, served from the site's own
    origin. The Content-Security-Policy stops it before it runs, so nothing the reader
    types reaches the host, not even its same-origin search API."""
    seen: list[str] = []

    def host(route, request):
        seen.append(request.url)
        if request.url.endswith("/_/static/javascript/readthedocs-addons.js"):
            route.fulfill(status=200, content_type="application/javascript",
                          body=ADDONS_STAND_IN)
        elif request.resource_type == "document":
            response = route.fetch()
            body = response.text().replace("</head>", ADDONS_TAG + "</head>", 1)
            route.fulfill(response=response, body=body)
        else:
            route.continue_()

    tab.page.context.route("**/*", host)
    tab.goto("search.html")
    assert tab.js("() => !!document.querySelector('script[src*=\"readthedocs-addons\"]')")
    field = tab.locator("#kb-search-input")
    field.fill("suicide thoughts")
    field.press("Enter")
    tab.page.wait_for_function(
        "() => document.getElementById('kb-search-results')?.dataset.state === 'done'")
    tab.page.wait_for_timeout(200)
    host_calls = [u for u in seen if "/_/" in u and not u.endswith("readthedocs-addons.js")]
    assert host_calls == []
    assert not [u for u in seen if "suicide" in u]
    assert not [p for p, _ in server.requests if "suicide" in p or "/_/" in p]
