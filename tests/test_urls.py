"""URLs never break (docs/_ext/kb/urls.py): every published page stays at its address,
as a page or as a redirect; a build refuses, naming the record's line and what to add, a
change that drops one; redirects stay on the site and carry no script."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from helpers import DOCS, html, warnings_of

from kb import csp
from kb.urls import BUILD_RECORD, PAGE, TEMPLATE, read_record, redirect_page_target

RECORD = "_data/published-urls.txt"
REDIRECTS = "_data/redirects.yaml"


def test_a_dropped_page_fails_the_build_with_the_line_and_what_to_add(build_root):
    app = build_root("urls_renamed")
    want = [
        f"{RECORD}:{line}: WARNING: {url} was published and this build no longer has it, so "
        f"readers' links and bookmarks to it would break: add a line '{url}: <where it "
        f"went>.html' to {REDIRECTS} (see the writers' guide, \"Renaming, moving or removing "
        "a page\") [kb.urls]" for line, url in ((3, "articles/first-name.html"),
                                                 (5, "topics/sadness.html"))]
    assert warnings_of(app) == want


def redirect_target(app, page: str) -> str:
    soup = html(app, page)
    refresh = soup.find("meta", attrs={"http-equiv": "refresh"})["content"]
    assert refresh.startswith("0; url=")
    return refresh[len("0; url="):]


def test_redirects_are_checked_written_relative_and_carry_no_script(build_root):
    app = build_root("urls_redirects")
    got = warnings_of(app)
    expected = {
        5: "'https://evil.example/x.html' is not a page of this site",
        6: "'../outside.html' is not a page of this site",
        7: "'/old/c.html' is not an address of this site",
        8: "'old/*.html' is not an address of this site",
        9: "'old/d.html' redirects to itself",
        10: "articles/old-name.html is itself redirected: send old/e.html straight to "
            "articles/good.html",
        11: "articles/missing.html is not a page of this build",
        12: "articles/good.html is a page of the site: a redirect would hide it",
        13: "'javascript:alert(1)' is not a page of this site",
        14: "'index.html\"><script>alert(1)</script>' is not a page of this site",
    }
    for line, message in expected.items():
        assert [w for w in got if w.startswith(f"{REDIRECTS}:{line}: WARNING: {message}")], \
            (line, got)
    # and nothing else: about.html (in the record, no redirect) is the only other problem
    others = [w for w in got if not any(w.startswith(f"{REDIRECTS}:{line}:")
                                        for line in expected)]
    assert others == [f"{RECORD}:7: WARNING: about.html was published and this build no "
                      "longer has it, so readers' links and bookmarks to it would break: add "
                      f"a line 'about.html: <where it went>.html' to {REDIRECTS} (see the "
                      "writers' guide, \"Renaming, moving or removing a page\") [kb.urls]"]
    out = Path(app.outdir)
    # each valid redirect: a relative address of a page that exists, from where it is
    for page, target in (("articles/old-name.html", "good.html"),
                         ("articles/gone.html", "index.html#all-articles"),
                         ("topics/sadness.html", "grief.html"),
                         ("welcome.html", "articles/good.html")):
        assert redirect_target(app, page) == target
        assert (out / page).parent.joinpath(target.partition("#")[0]).is_file()
        assert html(app, page).find("a")["href"] == target
    assert "all-articles" in (out / "articles/index.html").read_text()
    # a page of the site is never replaced by a redirect; malformed ones are not written
    # (the chain and the missing target are, in this build that fails and is not published)
    assert html(app, "articles/good.html").find("h1").get_text().startswith("A good article")
    assert sorted(p.name for p in (out / "old").iterdir()) == ["e.html", "f.html"]
    # the redirect page's whole shape: the template, nothing else
    page = (out / "welcome.html").read_text()
    assert page == TEMPLATE.read_text().replace("${to_uri}", "articles/good.html")
    assert csp.inline_scripts(page) == [] and "<script" not in page
    metas = re.findall(r"<meta http-equiv=\"([^\"]+)\" content=\"([^\"]+)\">", page)
    assert metas == [("Content-Security-Policy",
                      "default-src 'none'; base-uri 'none'; form-action 'none'"),
                     ("refresh", "0; url=articles/good.html")]
    assert redirect_page_target(page) == "articles/good.html"
    assert redirect_page_target((out / "articles/gone.html").read_text()) == \
        "index.html#all-articles"
    # redirect pages are not in the sitemap or the search index
    assert "welcome.html" not in (out / "sitemap.xml").read_text()
    assert "data-pagefind-body" not in page


def test_a_draft_keeps_its_redirect_for_production_and_shows_in_previews(build_root,
                                                                         tmp_path):
    from helpers import lay_root

    src = lay_root(tmp_path / "drafts", None)
    good = src / "articles" / "good.md"
    good.write_text(good.read_text().replace("status: published", "status: draft"))
    (src / RECORD).write_text("articles/good.html\nindex.html\n")
    (src / REDIRECTS).write_text("articles/good.html: articles/index.html\n")
    preview = build_root(None, srcdir=src)
    assert warnings_of(preview) == []
    assert html(preview, "articles/good.html").find(class_="kb-draft-banner")
    production = build_root(None, srcdir=src, kb_show_drafts=False)
    assert warnings_of(production) == []
    assert redirect_target(production, "articles/good.html") == "index.html"
    # without the redirect, production refuses: the draft's page would disappear
    (src / REDIRECTS).write_text("")
    refused = build_root(None, srcdir=src, kb_show_drafts=False)
    assert [w.split(" was published")[0] for w in warnings_of(refused)] == [
        f"{RECORD}:1: WARNING: articles/good.html"]


def test_the_committed_record_lists_every_page_of_the_site(site):
    """make html adds new pages to the record; a pull request that adds a page without
    committing it fails here, and one that drops a page fails the build."""
    record = {url for _line, url in read_record(DOCS / RECORD)}
    published = set(json.loads(Path(site.doctreedir, BUILD_RECORD).read_text())["published"])
    redirects_file = DOCS / REDIRECTS
    redirects = yaml.safe_load(redirects_file.read_text()) if redirects_file.exists() else {}
    assert published - record == set(), "run make html and commit " + RECORD
    assert record - published <= set(redirects or {})
    assert all(PAGE.fullmatch(url) for url in record)
    assert not [w for w in warnings_of(site) if "[kb.urls]" in w]


def test_only_the_redirect_template_with_a_site_address_is_a_redirect_page():
    page = TEMPLATE.read_text().replace("${to_uri}", "../topics/grief.html")
    assert redirect_page_target(page) == "../topics/grief.html"
    for target in ("https://evil.example/", "//evil.example/x.html", "/abs.html",
                   "javascript:alert(1)", "x.html\"><script>alert(1)</script><a href=\"y.html",
                   "../x.html#a b", ""):
        assert redirect_page_target(TEMPLATE.read_text().replace("${to_uri}", target)) is None
    assert redirect_page_target(page.replace("</body>", "<script>1</script></body>")) is None
    assert redirect_page_target(page.replace("noindex", "index")) is None
    assert redirect_page_target("<html>" + page) is None


def test_only_the_web_site_gets_redirect_pages(build_root, tmp_path):
    from helpers import lay_root

    src = lay_root(tmp_path / "single", None)
    (src / REDIRECTS).write_text("welcome.html: articles/good.html\n")
    web = build_root(None, srcdir=src)
    assert redirect_target(web, "welcome.html") == "articles/good.html"
    single = build_root(None, buildername="singlehtml", srcdir=src, dest="single-out")
    assert not list(Path(single.outdir).rglob("welcome.html"))
