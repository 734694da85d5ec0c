"""The front door (issue 15): a reader can reach the practice and the right kind of help
from any page. Crisis resources as checked data, contact details as configuration (a
production build without them stops), quick exit on pages about abuse, a 404 page that
helps, readers' navigation for readers, related articles with something in common, and
OpenGraph on every page type. Checked on the built site (HTML) and on tiny projects; the
browser side is tests/browser/test_frontdoor.py."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from helpers import DOCS, REPO, html, warnings_of
from kb.articles import related_index
from bs4 import BeautifulSoup

from kb.contact import contact_problems, footer_html
from kb.crisis import load_crisis, stale_resources
from kb.drafts import is_production
from kb.frontmatter import Article

CRISIS_FILE = DOCS / "_data" / "crisis-resources.yaml"
CHECKED_ON = dt.date(2026, 12, 3)  # the day every resource was checked (see the file)
TEST_CONTACT = {"booking_url": "https://booking.example.org/rfc", "phone": "+1 555 0100",
                "email": "hello@example.org", "hours": "Monday to Friday",
                "reply_time": "within two working days", "service_area": "Colorado"}


# -- crisis resources: verified data ------------------------------------------------------

def test_every_situation_has_its_resources_each_with_source_and_date():
    data, problems = load_crisis(CRISIS_FILE, today=CHECKED_ON)
    assert problems == []
    groups = {g.id: g for g in data.groups}
    assert set(groups) == {"suicidal-thoughts", "someone-hurting-you", "child-at-risk",
                           "sexual-assault", "spanish-asl", "emergency"}
    hrefs = {r.id: r.href for g in data.groups for r in g.resources}
    # calling and texting 988 (not tel: only), its chat, Spanish, ASL, the hotlines, 911
    assert hrefs["988-call"] == "tel:988" and hrefs["988-text"] == "sms:988"
    assert hrefs["988-spanish-text"] == "sms:988?&body=AYUDA"
    assert hrefs["988-asl"].startswith("https://988lifeline.org")
    assert hrefs["ndvh-text"] == "sms:88788?&body=START"
    assert hrefs["911"] == "tel:911"
    assert [r.id for r in data.notice_resources()] == ["988-call", "988-text", "911"]
    for group in data.groups:
        for res in group.resources:
            assert res.source.startswith(("https://", "http://")), res.id
            assert res.checked <= dt.date.today(), res.id
            if res.href.startswith("tel:") and re.search(r"\d", res.text):
                # the number a reader sees is the number the link dials
                shown = re.sub(r"\D", "", res.text)
                assert shown.startswith(res.href.removeprefix("tel:+")
                                        .removeprefix("tel:")), res.id
            if res.href.startswith("sms:"):
                number, _, body = res.href.removeprefix("sms:").partition("?&body=")
                assert number in res.text and body in res.text, res.id


def test_a_resource_not_checked_for_twelve_months_is_stale():
    data, _ = load_crisis(CRISIS_FILE, today=CHECKED_ON)
    assert stale_resources(data, CHECKED_ON + dt.timedelta(days=365)) == []
    late = stale_resources(data, CHECKED_ON + dt.timedelta(days=366))
    assert len(late) == sum(len(g.resources) for g in data.groups)


def test_make_check_notes_stale_resources_with_their_line_and_source(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(DOCS / "_ext")}
    run = lambda today: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "kb.cli", "check", "--no-spelling", "--root", str(REPO),
         "--today", today], capture_output=True, text=True, env=env)
    fresh = run("2027-01-01")
    assert "crisis resource" not in fresh.stdout
    stale = run("2027-12-04")
    notes = [line for line in stale.stdout.splitlines() if "crisis resource" in line]
    data, _ = load_crisis(CRISIS_FILE, today=CHECKED_ON)
    assert len(notes) == sum(len(g.resources) for g in data.groups), stale.stdout
    lines = CRISIS_FILE.read_text().splitlines()
    for note in notes:
        path, line, message = note.split(":", 2)
        assert path == "docs/_data/crisis-resources.yaml"
        rid = re.search(r"crisis resource '([^']+)'", message).group(1)
        assert lines[int(line) - 1].strip() == f"- id: {rid}", note  # the resource's line
        assert message.startswith(" note: ") and "set 'checked' to today" in message


BAD_CRISIS = """\
notice:
  heading: Help
  more: More
  colour: red
groups:
  - id: one
    title: One
    resources:
      - id: a
        text: Call
        href: "javascript:alert(1)"
        detail: D
        source: https://example.org/
        checked: 2026-13-01
        notice: true
      - id: a
        text: Text
        href: "tel:911"
        source: https://example.org/
        checked: 2099-01-01
        phone: 911
"""


def test_every_problem_in_the_crisis_file_is_listed_with_its_line(tmp_path):
    path = tmp_path / "crisis.yaml"
    path.write_text(BAD_CRISIS)
    data, problems = load_crisis(path, today=CHECKED_ON)
    assert sorted((p.line, p.message) for p in problems) == [
        (1, "no resource has 'notice: true': the notice on every page needs at least one "
            "(e.g. 988 and 911)"),
        (4, "unknown notice key 'colour' (allowed: heading, more)"),
        (11, "href 'javascript:alert(1)' is not allowed: use tel:DIGITS, sms:DIGITS "
             "(optionally ?&body=WORD) or an https:// address"),
        (14, "checked '2026-13-01' is not a date: use YYYY-MM-DD"),
        (16, "resource 'a' needs 'detail:'"),
        (16, "resource id 'a' must be a unique lowercase-hyphenated slug"),
        (20, "checked 2099-01-01 is in the future"),
        (21, "unknown resource key 'phone' (allowed: checked, detail, href, id, lang, "
             "notice, source, text)"),
    ]
    assert data.notice_resources() == []  # nothing invalid reaches a reader


def test_broken_crisis_yaml_is_a_message_with_its_line_not_a_traceback(tmp_path):
    path = tmp_path / "crisis.yaml"
    path.write_text("notice:\n  heading: [unclosed\n")
    _, problems = load_crisis(path)
    assert len(problems) == 1 and problems[0].message.startswith(
        "crisis resources file: not valid YAML")
    assert problems[0].line == 3
    path.write_text("notice: &n\n  heading: Help\ngroups: *n\n")  # anchors: refused
    _, problems = load_crisis(path)
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [
        (1, "crisis resources file")]


def test_crisis_notice_and_crisis_page_on_the_built_site(site):
    data, _ = load_crisis(CRISIS_FILE, today=CHECKED_ON)
    crisis = html(site, "crisis.html")
    for group in data.groups:
        section = crisis.select_one(f"#{group.id}")
        assert section is not None, group.id
        # the anchor is the section of the group's own heading, with its resources
        target = section if section.name == "section" else section.parent
        assert target.select_one("h2").get_text().rstrip("¶") == group.title
        links = [(a.get_text(), a["href"]) for a in target.select("ul.kb-crisis-list a")]
        assert links == [(r.text, r.href) for r in group.resources], group.id
    spanish = crisis.select('#spanish-asl [lang="es"]')
    assert [p.a.get_text() for p in spanish] == ["Llame al 988 y marque 2",
                                                "Envíe AYUDA al 988"]
    jump = [a["href"] for a in crisis.select("#find-your-situation ul a")]
    assert jump == ["#emergency", "#suicidal-thoughts", "#someone-hurting-you",
                    "#child-at-risk", "#sexual-assault", "#spanish-asl",
                    "#staying-safer-online"]
    # the notice: three actions and one link to the situations, on every page the same
    notice = html(site, "articles/anxiety.html").select_one("#kb-crisis")
    assert [(a.get_text(), a["href"]) for a in notice.select("a")] == [
        ("Call 988", "tel:988"), ("Text 988", "sms:988"), ("Call 911", "tel:911"),
        (data.more, "../crisis.html#find-your-situation")]


def test_a_group_on_no_page_is_a_warning(build_root, tmp_path):
    src = tmp_path / "src"
    from helpers import lay_root
    lay_root(src, None)
    (src / "crisis.md").write_text("# Crisis\n\nNothing here yet.\n")
    index = src / "index.md"
    index.write_text(index.read_text().replace("bibliography\n", "bibliography\ncrisis\n"))
    app = build_root(None, srcdir=src)
    assert warnings_of(app) == [
        "_data/crisis-resources.yaml:6: WARNING: crisis group 'emergency' is on no page: add "
        "'```{kb-crisis-resources} emergency' to crisis.md under a heading with the anchor "
        "(emergency)= [kb.crisis]"]


# -- contact details: configuration, required for production ------------------------------

@pytest.mark.parametrize("environ, production", [
    ({}, False),
    ({"READTHEDOCS": "True", "READTHEDOCS_VERSION_TYPE": "branch"}, True),
    ({"READTHEDOCS": "True", "READTHEDOCS_VERSION_TYPE": "tag"}, True),
    ({"READTHEDOCS": "True"}, True),
    ({"READTHEDOCS": "True", "READTHEDOCS_VERSION_TYPE": "unknown"}, True),
    ({"READTHEDOCS": "True", "READTHEDOCS_VERSION_TYPE": "external"}, False),
    ({"READTHEDOCS": "False", "READTHEDOCS_VERSION_TYPE": "branch"}, False),
])
def test_production_is_a_read_the_docs_build_that_is_not_a_preview(environ, production):
    assert is_production(environ) is production


def test_a_production_build_without_contact_details_stops_and_says_what_to_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("READTHEDOCS")}
    env.update(READTHEDOCS="True", READTHEDOCS_VERSION_TYPE="branch")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "sphinx-build"), "-b", "html", "-q", str(DOCS),
         str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "Error" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "Configuration error: production build stopped: the practice's contact details "
        "are not set, so readers could not book or reach the practice. Set kb_contact in "
        "docs/conf.py (the 'Site identity' section): at least 'booking_url' (https://...) "
        "or 'phone', and if you can 'email', 'hours', 'reply_time' and 'address' or "
        "'service_area'. See the README, section 'Site identity'.")
    assert not (tmp_path / "out" / "index.html").exists()


def test_a_pull_request_preview_builds_with_the_not_set_notice(build_root, monkeypatch):
    monkeypatch.setenv("READTHEDOCS", "True")
    monkeypatch.setenv("READTHEDOCS_VERSION_TYPE", "external")
    app = build_root("frontdoor_contact", kb_contact={})
    assert warnings_of(app) == []
    about = html(app, "about/index.html")
    assert about.select_one("a.kb-cta-button") is None
    assert "Contact details not set" in about.select_one("p.kb-cta").get_text()
    assert "Contact details not set" in about.select_one("p.kb-contact").get_text()
    # the booking sentence still leads somewhere real: the About page
    book = html(app, "articles/booking.html").select_one("a.kb-book-link")
    assert book["href"] == "../about/index.html"


def test_contact_details_set_once_reach_every_place(build_root, monkeypatch):
    monkeypatch.setenv("READTHEDOCS", "True")
    monkeypatch.setenv("READTHEDOCS_VERSION_TYPE", "branch")
    app = build_root("frontdoor_contact", kb_contact=TEST_CONTACT)
    assert warnings_of(app) == []
    about = html(app, "about/index.html")
    button = about.select_one("p.kb-cta a.kb-cta-button")
    assert button["href"] == "https://booking.example.org/rfc"
    assert about.select_one("p.kb-cta .kb-cta-or a")["href"] == "tel:+15550100"
    details = [li.get_text() for li in about.select("ul.kb-contact li")]
    assert details == ["Book online: Book a free phone consultation", "Phone: +1 555 0100",
                       "Email: hello@example.org", "Hours: Monday to Friday",
                       "We usually reply: within two working days",
                       "We see clients in: Colorado"]
    hrefs = [a["href"] for a in about.select("ul.kb-contact a")]
    assert hrefs == ["https://booking.example.org/rfc", "tel:+15550100",
                     "mailto:hello@example.org"]
    article = html(app, "articles/booking.html")
    book = article.select_one("a.kb-book-link")
    assert book.get_text(" ", strip=True) == "book a free phone consultation"
    assert book["href"] == "https://booking.example.org/rfc"
    assert article.select_one("p.kb-cta a.kb-cta-button")["href"] == \
        "https://booking.example.org/rfc"
    # the footer line (docs/_templates/page.html shows it on every page of the real site)
    footer = BeautifulSoup(footer_html(app.builder, "articles/booking"), "lxml")
    assert {a.get_text(): a["href"] for a in footer.select("a")} == {
        "RFC Counseling": "../about/index.html",
        "Book a free phone consultation": "https://booking.example.org/rfc",
        "+1 555 0100": "tel:+15550100", "hello@example.org": "mailto:hello@example.org",
        "crisis help": "../crisis.html"}
    assert "Not an emergency service" in footer.get_text()
    assert not footer.select(".kb-contact-missing")


def test_a_phone_number_alone_is_enough_and_becomes_a_tel_link(build_root, monkeypatch):
    monkeypatch.setenv("READTHEDOCS", "True")
    app = build_root("frontdoor_contact", kb_contact={"phone": "(555) 010-0199"})
    assert warnings_of(app) == []
    book = html(app, "articles/booking.html").select_one("a.kb-book-link")
    assert book["href"] == "tel:5550100199"
    button = html(app, "about/index.html").select_one("a.kb-cta-button")
    assert button["href"] == "tel:5550100199"
    assert button.get_text() == "Book a free phone consultation: call (555) 010-0199"


def test_every_mistake_in_the_contact_setting_is_listed():
    assert contact_problems({"booking_url": "http://book.example.org", "phone": "call us",
                             "email": "nobody", "fax": "123"}) == [
        "kb_contact has an unknown key 'fax' (allowed: booking_url, phone, email, hours, "
        "reply_time, address, service_area)",
        "kb_contact['booking_url'] must be an https:// address",
        "kb_contact['phone'] 'call us' is not a phone number (digits, spaces, +, -, "
        "parentheses)",
        "kb_contact['email'] 'nobody' is not an email address",
    ]
    assert contact_problems("https://book.example.org") == [
        "kb_contact must be a dict, e.g. {'booking_url': 'https://...', 'phone': '...'}"]


def test_a_wrong_contact_setting_is_a_warning_locally(build_root):
    app = build_root("frontdoor_contact", kb_contact={"booking_url": "javascript:alert(1)"})
    assert warnings_of(app) == [
        "WARNING: kb_contact['booking_url'] must be an https:// address [kb.contact]"]
    assert html(app, "about/index.html").select_one("a.kb-cta-button") is None


def test_the_real_site_pages_read_the_contact_setting(site):
    for page, where in (("about/index.html", "#contact-us"),
                        ("about/editorial-policy.html", "#how-to-report-an-error"),
                        ("about/accessibility.html", "#tell-us-about-a-barrier")):
        section = html(site, page).select_one(where)
        assert section.select_one(".kb-contact.kb-contact-missing"), page
    assert html(site, "about/privacy.html").select_one('a[href="index.html#contact-us"]')
    for path in sorted(Path(site.outdir).rglob("*.html")):
        rel = path.relative_to(site.outdir).as_posix()
        if rel.startswith(("_static", "pagefind")):
            continue
        footer = html(site, rel).select_one("footer .kb-footer-contact")
        assert footer is not None, rel
        assert "Contact details not set" in footer.select_one(".kb-contact-missing").get_text()
        assert footer.select_one("a").get_text() == "RFC Counseling, Denver, Colorado", rel


# -- quick exit on pages about abuse -------------------------------------------------------

QUICK_EXIT_PAGES = {"articles/couples-therapy", "articles/family-therapy",
                    "articles/complex-trauma", "articles/abusive-relationships",
                    "articles/after-sexual-assault", "crisis"}


def test_quick_exit_only_on_pages_about_abuse(site):
    for path in sorted(Path(site.outdir).rglob("*.html")):
        rel = path.relative_to(site.outdir).as_posix()
        if rel.startswith(("_static", "pagefind")):
            continue
        page = html(site, rel)
        on = rel.removesuffix(".html") in QUICK_EXIT_PAGES
        scripts = [s["src"] for s in page.select("script[src]")]
        exit_links = page.select("a.kb-quick-exit")
        assert bool(exit_links) is on, rel
        assert any("kb-quick-exit.js" in s for s in scripts) is on, rel
        assert bool(page.select(".kb-safety-note")) is on, rel
        if on:
            assert exit_links[0]["href"] == "https://www.weather.gov/"
            assert exit_links[0]["rel"] == ["noreferrer"]
            # first in the tab order after "Skip to content": before the crisis notice
            focusable = page.select("a[href], button, input:not(.sidebar-toggle), select, "
                                    "textarea")
            names = [a.get("class", []) for a in focusable[:2]]
            assert "skip-to-content" in names[0] and "kb-quick-exit" in names[1], rel
            note = page.select_one(".kb-safety-note")
            assert "private" in note.get_text() and "Quick exit" in note.get_text()
            assert note.select_one('a[href$="crisis.html#staying-safer-online"]') or \
                note.select_one('a[href="#staying-safer-online"]') or \
                note.select_one('a[href="crisis.html#staying-safer-online"]'), rel
    assert (Path(site.outdir) / "_static" / "kb-quick-exit.js").is_file()


def test_abuse_safety_sections_send_readers_to_abuse_help(site):
    couples = html(site, "articles/couples-therapy.html")
    safety = couples.select_one("#when-safety-comes-first")
    hrefs = [a["href"] for a in safety.select("a")]
    assert "../crisis.html#someone-hurting-you" in hrefs
    assert not any("getting-help-now" in h for h in hrefs)
    target = html(site, "crisis.html").select_one("#someone-hurting-you")
    assert target.select_one('a[href="tel:+18007997233"]')
    family = html(site, "articles/family-therapy.html").select_one("#when-safety-comes-first")
    assert "../crisis.html#find-your-situation" in [a["href"] for a in family.select("a")]
    for name, anchor in (("complex-trauma", "someone-hurting-you"),
                         ("abusive-relationships", "someone-hurting-you"),
                         ("after-sexual-assault", "sexual-assault")):
        hrefs = [a["href"] for a in html(site, f"articles/{name}.html").select("article a")]
        assert f"../crisis.html#{anchor}" in hrefs, name


def test_quick_exit_must_be_true_or_false(build_root):
    app = build_root("frontdoor_bad-quick-exit")
    assert warnings_of(app) == [
        "articles/bad.md:11: WARNING: 'quick_exit' must be true or false, not 'yes' "
        "[kb.frontmatter]"]


# -- the 404 page ---------------------------------------------------------------------------

def test_the_404_page_helps(site):
    page = html(site, "404.html")
    main = page.select_one("article[role=main]")
    assert main.h1.get_text() == "Page not found"
    form = main.select_one('form.kb-search[role="search"]')
    assert form["action"] == "/search.html" and form.select_one('input[type="search"]')
    assert form.select_one("input[name]") is None  # nothing to send as ?q=
    links = {a.get_text(): a["href"] for a in main.select("a")}
    assert links["Go to the home page"] == "/index.html"
    assert links["Browse the articles by topic"] == "/topics/index.html"
    assert links["See all the articles"] == "/articles/index.html"
    assert links["All crisis resources"] == "/crisis.html"
    assert links["Call 988"] == "tel:988" and links["Call 911"] == "tel:911"
    # served at any depth: every link of the page is absolute (or tel:/sms:/#)
    for a in page.select("a[href]"):
        assert a["href"].startswith(("/", "tel:", "sms:", "#", "https://")), a
    footer = page.select_one(".kb-footer-contact")
    assert footer.select_one('a[href="/about/index.html"]')


# -- readers' navigation ---------------------------------------------------------------------

def test_the_writers_guide_is_in_the_site_but_not_the_readers_sidebar(site):
    assert (Path(site.outdir) / "contributing" / "index.html").is_file()
    for page in ("index.html", "articles/anxiety.html", "contributing/index.html"):
        sidebar = html(site, page).select_one(".sidebar-tree")
        assert not [a for a in sidebar.select("a") if "contributing" in a["href"]], page
    policy = html(site, "about/editorial-policy.html")
    assert policy.select_one('article a[href="../contributing/index.html"]')
    assert "contributing/index" not in site.env.toctree_includes.get("index", [])


# -- related articles ---------------------------------------------------------------------------

def _article(name, topics, day=1):
    date = dt.date(2026, 1, day)
    return Article(name, name, "d", tuple(topics), "editorial-team", date, date, date,
                   dt.date(2027, 1, 1), "published")


def test_related_articles_need_a_topic_or_a_rare_shared_source():
    articles = {n: _article(n, t, i + 1) for i, (n, t) in enumerate([
        ("anxiety", ["anxiety"]), ("couples", ["relationships"]),
        ("families", ["families", "relationships"]), ("self-esteem", ["self-esteem"]),
        ("alone", ["grief"]), ("first-session", ["therapy"]), ("choosing", ["therapy"])])}
    keys = {"anxiety": {"alliance", "low-self-esteem"}, "couples": {"alliance"},
            "families": {"alliance"}, "self-esteem": {"low-self-esteem"},
            "first-session": {"alliance"}, "choosing": {"alliance"}, "alone": set()}
    related = related_index(articles, keys)
    # "alliance" is cited by 5 articles: sharing it alone says little (1/4 < 0.5)
    assert related["anxiety"] == ["self-esteem"]
    assert related["couples"] == ["families"]
    assert related["alone"] == []
    assert related["first-session"] == ["choosing"]


def test_related_articles_on_the_real_site_have_something_real_in_common(site):
    env = site.env
    cited = defaultdict(set)
    for ref in env.get_domain("cite").citation_refs:
        cited[ref.docname].update(t.key for t in ref.targets)
    citing = defaultdict(int)
    for keys in cited.values():
        for key in keys:
            citing[key] += 1
    for docname, article in env.kb_articles.items():
        page = html(site, docname + ".html")
        for a in page.select("#related-articles li a"):
            other = "articles/" + a["href"].removesuffix(".html")
            topics = set(article.topics) & set(env.kb_articles[other].topics)
            rarity = sum(1 / (citing[k] - 1) for k in cited[docname] & cited[other])
            assert topics or rarity >= 0.5, (docname, other)
    anxiety = [a["href"] for a in html(site, "articles/anxiety.html")
               .select("#related-articles li a")]
    # the example: couples therapy shares only a source cited across the site
    assert anxiety and "couples-therapy.html" not in anxiety


# -- every page shares well ------------------------------------------------------------------

def test_every_page_type_has_opengraph_and_a_description(site):
    for path in sorted(Path(site.outdir).rglob("*.html")):
        rel = path.relative_to(site.outdir).as_posix()
        if rel.startswith(("_static", "pagefind")):
            continue
        page = html(site, rel)
        og = {m["property"]: m["content"] for m in page.select('meta[property^="og:"]')}
        description = page.select('meta[name="description"]')
        assert len(description) == 1 and description[0]["content"].strip(), rel
        for key in ("og:title", "og:type", "og:url", "og:site_name", "og:description"):
            assert og.get(key, "").strip(), (rel, key)
        assert og["og:description"] == description[0]["content"], rel
        if rel != "404.html":
            assert og["og:url"] == f"http://localhost:8000/{rel}", rel
    assert {m["property"]: m["content"] for m in html(site, "topics/anxiety.html")
            .select('meta[property^="og:"]')}["og:title"] == "Anxiety"


def test_problems_in_the_crisis_file_fail_the_build_with_file_and_line(build_root):
    app = build_root("frontdoor_bad-crisis")
    assert warnings_of(app) == [
        "_data/crisis-resources.yaml:17: WARNING: href 'http://chat.example.org/' is not "
        "allowed: use tel:DIGITS, sms:DIGITS (optionally ?&body=WORD) or an https:// address "
        "[kb.crisis]",
        "_data/crisis-resources.yaml:20: WARNING: checked '26-12-03' is not a date: use "
        "YYYY-MM-DD [kb.crisis]"]


def test_an_edit_of_the_crisis_file_reaches_every_page_in_the_next_build(build_root, tmp_path):
    from helpers import lay_root
    src = lay_root(tmp_path / "edit", None)
    index = src / "index.md"
    index.write_text(index.read_text() + "\n```{kb-crisis-resources}\n```\n")
    first = build_root(None, srcdir=src)
    assert warnings_of(first) == []
    article = Path(first.outdir) / "articles" / "good.html"
    written = article.stat().st_mtime_ns
    assert "Call 911" in html(first, "index.html").select_one("ul.kb-crisis-list").get_text()
    data = src / "_data" / "crisis-resources.yaml"
    data.write_text(data.read_text().replace("text: Call 911", "text: Dial 911"))
    second = build_root(None, srcdir=src, freshenv=False)
    assert warnings_of(second) == []
    assert "Dial 911" in html(second, "index.html").select_one("ul.kb-crisis-list").get_text()
    # the notice is on every page: every page is written again
    assert article.stat().st_mtime_ns > written
