"""A redirect page (docs/_ext/kb/urls.py, kb/templates/kb-redirect.html) takes a reader
from an old address to the new page in a real browser, under its own
Content-Security-Policy, with no script, no console error and no request to another
origin; a section bookmark's fragment given in the redirect is kept."""

from __future__ import annotations

import pytest

from helpers import lay_root

from .conftest import build_in_child, recording_page, served


@pytest.fixture(scope="module")
def redirect_site(tmp_path_factory):
    """The tiny project with two redirects, built in a child process (a fork of this one,
    with Playwright's threads running, could deadlock) and served on loopback."""
    src = lay_root(tmp_path_factory.mktemp("redirects") / "src", None)
    (src / "_data" / "redirects.yaml").write_text(
        "articles/old-name.html: articles/good.html\n"
        "welcome.html: articles/index.html#all-articles\n")
    out = src.parent / "html"
    build = build_in_child(src, out, "-W")
    assert build.returncode == 0, build.stderr
    with served(out) as srv:
        yield srv

@pytest.mark.parametrize("old,new", [
    ("articles/old-name.html", "articles/good.html"),
    ("welcome.html", "articles/index.html#all-articles"),
])
def test_a_redirect_leads_to_the_new_page_under_its_policy(_chromium, redirect_site, old,
                                                           new):
    with recording_page(_chromium) as (page, log):
        page.goto(redirect_site.url(old))
        page.wait_for_url(redirect_site.url(new))
        page.wait_for_load_state("load")
        assert page.locator("h1").count() == 1
        page.wait_for_timeout(200)
    assert log.problems == []
    assert log.outside(redirect_site.origin) == []
    requests = log.requests
    assert requests[0] == redirect_site.url(old)
