"""What only a browser can show about hostile articles (tests/test_hostile.py builds them):
on every one of their pages nothing runs, nothing redirects, no request leaves the site, and
the crisis notice is on screen and on top, at a phone's size and a desktop's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from .conftest import DEVICES, recording_page, served

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_hostile import ARTICLE_CASES, build_strictly, lay_hostile_project  # noqa: E402


@pytest.fixture(scope="module")
def hostile_pages(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile-pages")
    src = lay_hostile_project(tmp)
    out = tmp / "html"
    result = build_strictly(src, out, tmp / "doctrees")
    assert result.returncode == 1 and "Traceback" not in result.stderr  # refused, written
    with served(out) as srv:
        yield srv


# Is the crisis notice painted on top at its centre and at both ends of its first line?
NOTICE_ON_TOP = """() => {
  const notice = document.getElementById('kb-crisis');
  if (!notice) return 'no notice';
  const box = notice.getBoundingClientRect();
  if (box.width < 10 || box.height < 10) return 'notice not shown';
  const points = [[box.left + box.width / 2, box.top + box.height / 2],
                  [box.left + 4, box.top + 4], [box.right - 4, box.top + 4]];
  for (const [x, y] of points) {
    const el = document.elementFromPoint(x, y);
    if (!el || !(notice.contains(el) || el.contains(notice))) {
      return 'covered at ' + x + ',' + y + ' by ' + (el ? el.outerHTML.slice(0, 80) : null);
    }
  }
  return 'ok';
}"""


@pytest.mark.parametrize("device", sorted(DEVICES))
def test_nothing_runs_or_redirects_and_the_notice_stays_on_top(_chromium, hostile_pages,
                                                               device):
    with recording_page(_chromium, **DEVICES[device]) as (page, log):
        for slug, *_ in ARTICLE_CASES:
            url = hostile_pages.url(f"articles/{slug}.html")
            page.goto(url)
            page.wait_for_timeout(150)  # a refresh or a timer would have fired by now
            assert page.url == url, f"{slug}: the page went to {page.url}"
            assert page.evaluate(NOTICE_ON_TOP) == "ok", slug
            assert page.evaluate("() => document.querySelectorAll("
                                 "'article iframe, article base, article meta, "
                                 "article script, article style, article [style]').length"
                                 ) == 0, slug
            assert page.evaluate("() => window.PWNED === undefined"), slug
    assert log.dialogs == [] and log.problems == []
    assert log.outside(hostile_pages.origin) == []
