"""A redirect page (docs/_ext/kb/urls.py, kb/templates/kb-redirect.html) takes a reader
from an old address to the new page in a real browser, under its own
Content-Security-Policy, with no script, no console error and no request to another
origin; a section bookmark's fragment given in the redirect is kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import lay_root

from .conftest import Server


@pytest.fixture(scope="module")
def redirect_site(tmp_path_factory):
    """The tiny project with two redirects, built in a child process (a fork of this one,
    with Playwright's threads running, could deadlock) and served on loopback."""
    src = lay_root(tmp_path_factory.mktemp("redirects") / "src", None)
    (src / "_data" / "redirects.yaml").write_text(
        "articles/old-name.html: articles/good.html\n"
        "welcome.html: articles/index.html#all-articles\n")
    out = src.parent / "html"
    build = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W",
                            str(src), str(out)], capture_output=True, text=True,
                           env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]
                                                  / "docs/_ext"), "PATH": "/usr/bin:/bin"})
    assert build.returncode == 0, build.stderr
    (out / "favicon.ico").write_bytes(b"")  # the tiny project has none; browsers ask
    srv = Server(out)
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.mark.parametrize("old,new", [
    ("articles/old-name.html", "articles/good.html"),
    ("welcome.html", "articles/index.html#all-articles"),
])
def test_a_redirect_leads_to_the_new_page_under_its_policy(_chromium, redirect_site, old,
                                                           new):
    context = _chromium.new_context()
    context.set_default_timeout(10_000)
    requests, problems = [], []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto(redirect_site.url(old))
        page.wait_for_url(redirect_site.url(new))
        page.wait_for_load_state("load")
        assert page.locator("h1").count() == 1
        page.wait_for_timeout(200)
    finally:
        context.close()
    assert problems == []
    assert [u for u in requests if not u.startswith(redirect_site.origin + "/")] == []
    assert requests[0] == redirect_site.url(old)
