"""The crisis notice, as a reader meets it: at the top of every kind of page with the same
words, on screen at load with real contrast, scrolling with the page (never covering focus),
reachable right after "Skip to content", with a visible focus ring and targets of at least
24x24 CSS px. And no focused element, anywhere on an article, is covered by anything."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

AA = 4.5
PAGE_TYPES = {"home": "index.html", "topics index": "topics/index.html",
              "topic": "topics/anxiety.html", "article": "articles/anxiety.html",
              "bibliography": "bibliography.html", "crisis": "crisis.html",
              "about": "about/index.html", "search": "search.html", "404": "404.html"}
# the article for keyboard tests: citations with tooltips, a reference list, the CTA
CITING_ARTICLE = "articles/therapeutic-relationship.html"


def test_same_notice_at_the_top_of_every_page_type(tab):
    texts = {}
    for kind, page in PAGE_TYPES.items():
        tab.goto(page)
        notice = tab.locator("#kb-crisis")
        assert notice.is_visible(), kind
        box = notice.evaluate("""(n) => {
            const main = document.querySelector('[role=main]');
            const r = n.getBoundingClientRect();
            return {top: r.top, bottom: r.bottom, height: innerHeight,
                    beforeMain: !!(n.compareDocumentPosition(main) &
                                   Node.DOCUMENT_POSITION_FOLLOWING)};}""")
        assert box["beforeMain"], kind
        assert 0 <= box["top"] < 20 and box["bottom"] < box["height"] / 3, (kind, box)
        texts[kind] = notice.inner_text()
    assert len(set(texts.values())) == 1, texts
    assert "988" in texts["home"]


# What the reader sees of the notice right after load: its box, whether it is inside the
# viewport, whether the page is scrolled, and whether what is painted at the centre of the
# notice and of each of its links is the notice itself (nothing covers it).
NOTICE_ON_SCREEN_JS = """(n) => {
  const r = n.getBoundingClientRect();
  const painted = (el) => {
    const b = el.getBoundingClientRect();
    const top = document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2);
    return !!top && (el === top || el.contains(top));
  };
  return {top: r.top, left: r.left, bottom: r.bottom, right: r.right, width: r.width,
          height: r.height, vw: document.documentElement.clientWidth, vh: innerHeight,
          scrollY: scrollY, painted: painted(n),
          linksPainted: [...n.querySelectorAll('a')].map(painted),
          opacity: getComputedStyle(n).opacity, visibility: getComputedStyle(n).visibility};
}"""


@pytest.mark.parametrize("device", ["desktop", "phone"], indirect=True)
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_notice_is_on_screen_with_real_contrast_on_every_page_type(tab, theme):
    failures = []
    tab.goto("index.html")
    tab.set_theme(theme)  # kept in localStorage for the pages below
    for kind, page in PAGE_TYPES.items():
        tab.goto(page)
        assert tab.theme() == theme, kind
        notice = tab.locator("#kb-crisis")
        if not notice.is_visible():
            failures.append(f"{kind}: the notice is not visible")
            continue
        box = notice.evaluate(NOTICE_ON_SCREEN_JS)
        if not (box["width"] > 0 and box["height"] > 0):
            failures.append(f"{kind}: the notice has no size {box}")
        if not (box["scrollY"] == 0 and box["top"] >= 0 and box["left"] >= 0
                and box["bottom"] <= box["vh"] and box["right"] <= box["vw"]):
            failures.append(f"{kind}: the notice is not inside the viewport at load {box}")
        if not box["painted"] or not all(box["linksPainted"]) or len(box["linksPainted"]) != 4:
            failures.append(f"{kind}: something is painted over the notice {box}")
        if box["opacity"] != "1" or box["visibility"] != "visible":
            failures.append(f"{kind}: the notice is faded or hidden {box}")
        for r in tab.contrast("#kb-crisis strong, #kb-crisis a"):
            if r["ratio"] < AA:
                failures.append(f"{kind}: {r['text']!r} {r['fg']} on rgb({r['bg']}) "
                                f"= {r['ratio']:.2f}")
    assert failures == []


def test_notice_scrolls_with_the_page(tab):
    tab.goto(PAGE_TYPES["article"])
    positions = tab.js("""() => {
        const out = [];
        for (let n = document.getElementById('kb-crisis'); n; n = n.parentElement)
          out.push(n.tagName + '.' + n.className + ': ' + getComputedStyle(n).position);
        return out;}""")
    assert not [p for p in positions if p.endswith(("fixed", "sticky"))], positions
    tab.js("window.scrollTo({top: 800, behavior: 'instant'})")
    bottom = tab.js("document.getElementById('kb-crisis').getBoundingClientRect().bottom")
    assert bottom <= 0, "the notice stays on screen when the page scrolls"


@pytest.mark.parametrize("width", [1280, 390, 320])
def test_notice_links_are_at_least_24_css_px(tab, width):
    tab.set_size(width, 900)
    tab.goto(PAGE_TYPES["article"])
    boxes = tab.js("""() => [...document.querySelectorAll('#kb-crisis a')].map((a) => {
          const r = a.getBoundingClientRect();
          return {text: a.textContent, width: r.width, height: r.height,
                  lines: a.getClientRects().length};
        })""")
    assert len(boxes) == 4
    for box in boxes:
        assert box["width"] >= 24 and box["height"] >= 24, box
        assert box["lines"] == 1, box  # a link broken over two lines is two small targets


def focus_ring(tab) -> dict:
    return tab.js("""() => {
        const s = getComputedStyle(document.activeElement);
        return {outline: s.outlineStyle, width: parseFloat(s.outlineWidth) || 0,
                color: s.outlineColor, shadow: s.boxShadow, text: s.color};}""")


def test_skip_link_then_crisis_links_lead_the_tab_order(tab):
    tab.goto(PAGE_TYPES["article"])
    expected = tab.js("[...document.querySelectorAll('#kb-crisis a')].map((a) => a.textContent)")
    order = []
    for _ in range(1 + len(expected)):
        tab.tab()
        order.append(tab.js("""() => {const a = document.activeElement;
            return {cls: a.className, text: a.textContent, crisis: !!a.closest('#kb-crisis')};}"""))
    skip = order[0]
    assert "skip-to-content" in skip["cls"]
    assert [a["text"] for a in order[1:]] == expected
    assert all(a["crisis"] for a in order[1:])


def test_focus_is_visible_on_the_skip_link_crisis_links_and_search(tab):
    tab.goto(PAGE_TYPES["article"])
    tab.tab()
    assert tab.active_matches(".skip-to-content")
    # furo slides it in (a 0.3 s transition)
    tab.page.wait_for_function("""() => {const r = document.activeElement.getBoundingClientRect();
                                   return r.top >= 0 && r.bottom <= innerHeight;}""",
                               timeout=3000)

    tab.tab()
    assert tab.active_matches("#kb-crisis a")
    ring = focus_ring(tab)
    assert (ring["outline"] != "none" and ring["width"] >= 2) or ring["shadow"] != "none", ring
    # the ring is drawn in the link's light text color, which contrasts with the dark notice
    assert ring["color"] == ring["text"], ring
    assert tab.contrast(tab.page.locator(":focus"))["ratio"] >= 3

    for _ in range(10):
        if tab.active_matches("input.sidebar-search"):
            break
        tab.tab()
    assert tab.active_matches("input.sidebar-search")
    ring = focus_ring(tab)
    assert (ring["outline"] != "none" and ring["width"] >= 2) or ring["shadow"] != "none", ring


# After a press of Tab: wait (up to ~1 s each) until running transitions have finished (furo
# slides the skip link in and out) and the focused element's box stops moving (the browser
# scrolls it into view), then report what is
# painted at its centre. Covered unless the top-most element there is the focused element,
# one of its descendants or one of its ancestors.
FOCUS_CHECK_JS = """async (first) => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return {none: true};
  if (first) window.__kbFirstFocus = el;
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  // what moves on focus (furo's skip link slides in and out) has finished moving
  const settled = Promise.all(document.getAnimations().map((a) => a.finished.catch(() => 0)));
  await Promise.race([settled, new Promise((r) => setTimeout(r, 1000))]);
  let last = null, rect = null;
  for (let i = 0; i < 60; i++) {
    await frame();
    rect = el.getBoundingClientRect();
    const now = [rect.left, rect.top, rect.width, rect.height].map(Math.round).join();
    if (now === last) break;
    last = now;
  }
  const x = rect.left + rect.width / 2, y = rect.top + rect.height / 2;
  const describe = (n) => n ? (n.tagName.toLowerCase() + (n.id ? '#' + n.id : '') +
      (typeof n.className === 'string' && n.className ? '.' + n.className.trim().split(/\\s+/).join('.') : '') +
      ' "' + (n.textContent || n.value || '').trim().slice(0, 40) + '"') : 'nothing';
  const hits = document.elementsFromPoint(x, y);
  const top = hits[0] || null;
  const related = !!top && (top === el || el.contains(top) || top.contains(el));
  const onScreen = rect.width > 0 && rect.height > 0 && x >= 0 && y >= 0 &&
                   x <= document.documentElement.clientWidth && y <= innerHeight;
  return {none: false, again: !first && el === window.__kbFirstFocus, ok: onScreen && related,
          focused: describe(el), top: describe(top), onScreen: onScreen,
          rect: [rect.left, rect.top, rect.width, rect.height].map(Math.round)};
}"""


@pytest.mark.parametrize("device", ["desktop", "phone"], indirect=True)
def test_no_focused_element_is_ever_covered(tab):
    """Tab through every focusable element of an article until focus comes back to the
    first one: each focused element is on screen and on top (not under the notice, the
    header, a drawer or a tooltip)."""
    tab.goto(CITING_ARTICLE)
    covered, seen, cap = [], [], 400
    for press in range(cap):
        tab.tab()
        state = tab.js(FOCUS_CHECK_JS, not seen)
        if state["none"]:  # focus left the document (browser UI) on its way round
            continue
        if state["again"]:
            break
        seen.append(state["focused"])
        if not state["ok"]:
            covered.append(state)
    else:
        pytest.fail(f"focus did not come back to the first element within {cap} presses of "
                    f"Tab ({len(seen)} elements seen)")
    assert len(seen) >= 30, seen  # the notice, the sidebar, the article's links, citations...
    assert any("kb-crisis" in s or "tel:" in s or "988" in s for s in seen), seen
    assert covered == [], "\n".join(
        f"{c['focused']} at {c['rect']}: {'covered by ' + c['top'] if c['onScreen'] else 'off screen'}"
        for c in covered)
