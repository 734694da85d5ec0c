"""An index updated incrementally (only the edited page re-indexed, kb/pagefind_delta.py)
is read by Pagefind's own code in a real browser: a word added by an edit is found, a
word the edit took away is not, and nothing goes wrong on the way. (tests/
test_search_incremental.py compares such an index with a full run's, word by word.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import CSP_REPORTER, DEVICES, Recorder, Server, Tab
from .test_search import search
from helpers import lay_root, warnings_of


@pytest.fixture
def edited_site(build_root, tmp_path):
    """A four-article project, built, then edited twice; each edit re-indexed alone."""
    src = lay_root(tmp_path / "edited", None)
    good = (src / "articles/good.md").read_text()
    for name in ("second", "third", "fourth"):
        (src / f"articles/{name}.md").write_text(
            good.replace("A good article", f"The {name} article"))
    build_root(None, srcdir=src)
    article = src / "articles/second.md"
    for old, new in (("Some words about grief", "Some words about a pangolin"),
                     ("a pangolin", "an okapi")):
        article.write_text(article.read_text().replace(old, new))
        app = build_root(None, srcdir=src, freshenv=False)
        assert warnings_of(app) == []
        assert "search index: 1 of 4 pages re-indexed" in app._status.getvalue()
    return Path(app.outdir)


@pytest.fixture
def edited_tab(_chromium, edited_site):
    (edited_site / "favicon.ico").write_bytes(b"")  # the real site has one; this project not
    server = Server(edited_site)
    server.thread.start()
    context = _chromium.new_context(locale="en-US", **DEVICES["desktop"])
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_REPORTER)
    recorder = Recorder()
    recorder.attach(context)
    tab = Tab(context.new_page(), server, recorder, "desktop")
    yield tab
    context.close()
    server.httpd.shutdown()
    server.httpd.server_close()


def test_an_incrementally_updated_index_finds_the_edit_in_a_real_browser(edited_tab):
    assert search(edited_tab, "okapi") == ["/articles/second.html"]
    assert "/articles/second.html" not in search(edited_tab, "pangolin")
    # the pages no edit touched are still found, with the edited one among them
    found = search(edited_tab, "good article")
    assert "/articles/good.html" in found and "/articles/fourth.html" in found
    assert edited_tab.recorder.problems(edited_tab.server.origin, None) == []
