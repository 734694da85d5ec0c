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
