"""Handouts: every article printed with Chromium's print-to-PDF, on US Letter and A4, is the
article alone (title, description, byline, content note, body, references with their
URLs, review dates, the practice and the crisis resources) with none of the site's
navigation, search, buttons or tooltips; headings never end a page and no reference is
split across pages. The "Print this article" button is a real button, reached with the
keyboard, that opens the print dialog, and is not printed."""

from __future__ import annotations

import io
import math
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

pytestmark = pytest.mark.browser

ARTICLE = "articles/anxiety.html"
BUTTON = "button.kb-print-button"
FORMATS = ["Letter", "A4"]

# Text of the website's furniture, each of which must not be on paper.
NOT_PRINTED = ["Skip to content", "Back to top", "More help now", "Related articles",
               "Print this article", "Made with", "Search the articles", "Copyright"]

# window.print is replaced, so a test sees it called instead of a dialog opening.
COUNT_PRINTS = "window.__kbPrinted = 0; window.print = () => { window.__kbPrinted += 1; };"


def squash(text: str) -> str:
    """Text without whitespace, so a line break (or a URL wrapped mid-way) does not matter."""
    return re.sub(r"\s+", "", text)


def printed(tab, path: str, paper: str) -> list[str]:
    """The text of each page of the article printed to PDF on *paper*."""
    tab.goto(path)
    pdf = tab.page.pdf(format=paper)
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def article_parts(tab) -> dict:
    """What the page holds, read from the screen version of the page."""
    return tab.js("""() => {
      const t = (el) => {  // its text, without the heading's permalink sign
        if (!el) return null;
        const copy = el.cloneNode(true);
        copy.querySelectorAll('.headerlink').forEach((a) => a.remove());
        return copy.textContent.replace(/\\s+/g, ' ').trim();
      };
      const main = document.querySelector('article[role=main]');
      return {
        title: t(main.querySelector('h1')),
        description: t(main.querySelector('.kb-description')),
        byline: t(main.querySelector('.kb-byline')),
        note: t(main.querySelector('.kb-content-note')),
        review: t(main.querySelector('.kb-review')),
        handout: [...main.querySelectorAll('.kb-handout p')].map(t),
        headings: [...main.querySelectorAll('h2, h3, h4')].map(t),
        refs: [...main.querySelectorAll('ul.kb-reflist > li')].map(t),
        ref_urls: [...main.querySelectorAll('ul.kb-reflist a.reference.external')]
                    .map((a) => a.href),
        web_links: [...main.querySelectorAll('a.reference.external[href^="http"]')]
                    .filter((a) => !a.closest('.kb-reflist, .kb-handout, .kb-cite-tip'))
                    .map((a) => a.getAttribute('href')),
        tips: [...main.querySelectorAll('.kb-cite-tip')].length,
      };
    }""")


def article_paths(site) -> list[str]:
    return sorted(site.builder.get_target_uri(d) for d in site.env.kb_articles)


@pytest.mark.parametrize("paper", FORMATS)
def test_a_printed_article_is_the_article_alone(tab, site, paper):
    pages = printed(tab, ARTICLE, paper)
    parts = article_parts(tab)
    text = squash("\n".join(pages))
    for key in ("title", "description", "byline", "note", "review"):
        assert parts[key] and squash(parts[key]) in text, key
    assert squash(pages[0]).startswith(squash(parts["title"]))  # nothing above the title
    # every reference whole, with its URL, each once (no tooltip printed beside the text)
    assert len(parts["refs"]) >= 5 and parts["tips"] >= 5
    for ref in parts["refs"]:
        assert text.count(squash(ref)) == 1, ref
    for url in parts["ref_urls"]:
        assert squash(url) in text
    # the practice and the crisis resources, as text a reader can use on paper
    assert len(parts["handout"]) == 3
    for line in parts["handout"]:
        assert squash(line) in text
    assert squash(pages[-1]).endswith(squash(parts["handout"][-1]))
    for res in site.config.kb_crisis_resources:
        assert squash(res["text"]) in text
    assert squash(site.config.kb_practice_name) in text
    for furniture in NOT_PRINTED:
        assert squash(furniture) not in text, furniture
    # the sidebar's own text: the search field and the topic list are not printed
    assert squash(site.config.html_title) not in text
    assert "Anxiety:whatitisandwhathelps" in text and text.count("Anxiety:whatitis") == 1
    # a reasonable page count: about 500 printed words a page, plus the references
    words = site.env.kb_articles["articles/anxiety"].words
    assert len(pages) <= math.ceil(words / 450) + 1, len(pages)


@pytest.mark.parametrize("paper", FORMATS)
def test_page_breaks_keep_headings_and_references_whole(tab, site, paper):
    checked = 0
    for path in article_paths(site):
        pages = printed(tab, path, paper)
        parts = article_parts(tab)
        squashed = [squash(p) for p in pages]
        for number, page in enumerate(squashed[:-1], 1):
            for heading in parts["headings"]:  # no heading alone at the bottom of a page
                assert not page.endswith(squash(heading)), (path, paper, number, heading)
        for ref in parts["refs"]:  # each reference on one page
            assert any(squash(ref) in page for page in squashed), (path, paper, ref[:60])
        checked += len(parts["refs"])
    assert checked >= 30


def test_web_links_in_the_text_are_printed_with_their_address(tab):
    """No article links to another site in its text yet; a writer's link, as MyST renders
    one, is added to the real page, which is then printed with the real stylesheet."""
    tab.goto(ARTICLE)
    tab.js("""() => {
      const p = document.querySelector('article[role=main] section > p:not([class])');
      p.insertAdjacentHTML('beforeend', ' See <a class="reference external" ' +
        'href="https://example.org/a/long/path?x=1">the example page</a> or ' +
        '<a class="reference external" href="tel:988">call 988</a>.');
    }""")
    pdf = tab.page.pdf(format="Letter")
    text = squash("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))
    assert "theexamplepage(https://example.org/a/long/path?x=1)" in text
    assert "call988." in text and "tel:988" not in text  # a phone link reads as it is
    # references show their URL as their text: it is not printed twice
    doi = tab.js("document.querySelector('ul.kb-reflist a.reference.external').href")
    assert text.count(squash(doi)) == 1


def test_the_print_button_is_a_keyboard_operable_button(tab):
    tab.page.context.add_init_script(COUNT_PRINTS)
    tab.goto(ARTICLE)
    button = tab.locator(BUTTON)
    expect(button).to_have_count(1)
    expect(button).to_be_visible()
    assert button.get_attribute("type") == "button"
    assert button.evaluate("(b) => b.closest('p').previousElementSibling.className") == \
        "kb-byline"
    for _ in range(60):  # reached with Tab, in reading order
        tab.tab()
        if tab.active_matches(BUTTON):
            break
    else:
        pytest.fail("the print button is not reached with Tab")
    tab.keyboard.press("Enter")
    tab.keyboard.press("Space")
    button.click()
    assert tab.js("window.__kbPrinted") == 3


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_print_button_meets_contrast(tab, theme):
    tab.goto(ARTICLE)
    tab.set_theme(theme)
    assert tab.contrast(tab.locator(BUTTON))["ratio"] >= 4.5
    box = tab.locator(BUTTON).bounding_box()
    assert box["height"] >= 24 and box["width"] >= 24  # WCAG 2.2 SC 2.5.8


@pytest.mark.parametrize("path", ["index.html", "about/index.html", "crisis.html",
                                  "topics/anxiety.html"])
def test_only_articles_have_the_button_and_the_handout_block(tab, path):
    tab.goto(path)
    expect(tab.locator(BUTTON)).to_have_count(0)
    expect(tab.locator(".kb-handout")).to_have_count(0)


def test_the_handout_block_is_hidden_on_screen_and_kept_out_of_search(tab, site):
    tab.goto(ARTICLE)
    block = tab.locator(".kb-handout")
    expect(block).to_have_count(1)
    expect(block).to_be_hidden()
    assert block.get_attribute("data-pagefind-ignore") == "all"
    # outside the part of the page Pagefind indexes
    assert block.evaluate("(b) => b.closest('[data-pagefind-body]')") is None


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_print_is_black_on_white_in_either_theme(tab, theme):
    """Even with the dark theme chosen (and the printer's "background graphics" on), the
    handout is black text on white paper."""
    tab.goto(ARTICLE)
    tab.set_theme(theme)
    tab.page.emulate_media(media="print")
    colors = tab.js("""() => [...document.querySelectorAll(
        'article h1, article h2, article p, article li, article a, .kb-handout p')]
        .filter((el) => el.getClientRects().length)  // printed (not display: none)
        .map((el) => getComputedStyle(el).color)""")
    assert len(colors) > 50 and set(colors) == {"rgb(0, 0, 0)"}
    assert tab.js("getComputedStyle(document.documentElement).backgroundColor") == \
        "rgb(255, 255, 255)"
    backgrounds = tab.js("""() => [...document.querySelectorAll('body, body *')]
        .map((el) => getComputedStyle(el).backgroundColor)""")
    assert set(backgrounds) == {"rgba(0, 0, 0, 0)"}
