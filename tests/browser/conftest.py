"""Real-browser fixtures: the real site (built once, by the ``site`` fixture of
tests/conftest.py) served on loopback, and one headless Debian Chromium for all the browser
tests, driven by Playwright.

Chromium comes from Debian (``apt-get install chromium``; .ci/run installs it) and is
launched by path: ``playwright install`` (which downloads browsers) is never needed. If it is
missing the browser tests fail: a skipped privacy or accessibility check would look like a
passing one.

Every test gets a fresh browser context (no cookies, storage or cache from other tests)
through the ``page`` fixture, which records every request the context's pages and workers
make, every console message and every uncaught page error. A test fails if any request went
to an origin other than the loopback server's, or if any console message of type "error"
(Content-Security-Policy violations are reported as such) or any page error occurred. A test
that provokes an error on purpose says so with ``@pytest.mark.browser_errors_expected``.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
INSTALL_HINT = "install Debian's package: apt-get install -y chromium (.ci/run does this)"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
    # Belt and braces: no host name resolves, so nothing the browser does can reach the
    # network; a page's request to another origin is still recorded (and fails the test).
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True,
              "device_scale_factor": 2},
}

# Reports CSP violations as console errors even if a future Chromium stops logging them
# itself: the page fixture fails the test on any console error. Runs before the page's own
# scripts (and is not subject to the page's CSP).
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("Content-Security-Policy violation: " + e.violatedDirective +
                " blocked " + (e.blockedURI || "inline code") + " in " + e.sourceFile +
                ":" + e.lineNumber);
});
"""

# Contrast of text elements against what is painted behind them, in the page. Colors are
# the computed ones (CSS Color 4 rgb()/rgba() strings); backgrounds are composited up the
# ancestor chain until an opaque one, over white at the root. The argument: an element or a
# CSS selector (all matches are measured, in one round trip).
CONTRAST_JS = r"""(target) => {
const parse = (s) => {
  const m = s.match(/rgba?\(([^)]+)\)/);
  if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
};
const over = (top, bottom) => {
  const a = top.a + bottom.a * (1 - top.a);
  if (a === 0) return {r: 0, g: 0, b: 0, a: 0};
  const mix = (t, b) => (t * top.a + b * bottom.a * (1 - top.a)) / a;
  return {r: mix(top.r, bottom.r), g: mix(top.g, bottom.g), b: mix(top.b, bottom.b), a: a};
};
const lum = (c) => {
  const ch = (v) => {
    v /= 255;
    return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
};
const measure = (el) => {
  const layers = [];
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const bg = parse(getComputedStyle(node).backgroundColor);
    if (bg && bg.a > 0) { layers.push(bg); if (bg.a >= 1) break; }
  }
  let bg = {r: 255, g: 255, b: 255, a: 1};
  for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
  const fg = over(parse(getComputedStyle(el).color), bg);
  const [l1, l2] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return {ratio: (l1 + 0.05) / (l2 + 0.05), text: el.textContent.trim().slice(0, 40),
          fg: getComputedStyle(el).color, bg: [bg.r, bg.g, bg.b].map(Math.round).join(",")};
};
if (typeof target === "string") return [...document.querySelectorAll(target)].map(measure);
return measure(target);
}"""

# The page's background luminance (0 black .. 1 white), body over the root's background.
BACKGROUND_LUMINANCE_JS = r"""() => {
  const parse = (s) => (s.match(/[\d.]+/g) || []).map(Number);
  let [r, g, b, a] = parse(getComputedStyle(document.body).backgroundColor);
  if (a === 0) [r, g, b] = parse(getComputedStyle(document.documentElement).backgroundColor);
  const ch = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b);
}"""


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the built site, uncached, and records every request (target and headers)."""

    def end_headers(self):
        # every page load reaches the server, so its log is complete and order-independent
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_request(self, code="-", size="-"):
        self.server.requests.append((self.path, dict(self.headers)))

    def log_message(self, format, *args):  # keep the test output quiet
        pass


class Server:
    def __init__(self, root: Path):
        self.root = root
        handler = functools.partial(_Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.requests = []
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        self.origin = f"http://{host}:{port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def requests(self) -> list[tuple[str, dict]]:
        """(request target, headers) of every request so far, in order."""
        return self.httpd.requests

    def url(self, path: str = "") -> str:
        return urljoin(self.origin + "/", path)


@dataclass
class Recorder:
    """What a browser context did: requests (every one, from pages and workers), console
    messages and uncaught page errors, in order."""

    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str, str]] = field(default_factory=list)  # (type, text, where)
    page_errors: list[str] = field(default_factory=list)
    blocked_by_csp: list[str] = field(default_factory=list)  # requests never sent
    checked: int = 0  # problems already reported

    def attach(self, context):
        context.on("request", lambda request: self.requests.append(request.url))
        context.on("requestfailed", self._on_failed)
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.page_errors.append(str(error.error)))

    def _on_console(self, message):
        where = message.location or {}
        self.console.append((message.type, message.text,
                             f"{where.get('url', '')}:{where.get('lineNumber', '')}"))

    def _on_failed(self, request):
        if request.failure in ("csp", "net::ERR_BLOCKED_BY_CSP"):
            self.blocked_by_csp.append(request.url)

    def outside(self, origin: str) -> list[str]:
        """Requests to any origin but *origin* (data: and blob: URLs never leave the page;
        nor does a request the Content-Security-Policy blocked: Playwright reports it as a
        request that failed with "csp", and nothing was sent)."""
        def own(url: str) -> bool:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob"):
                return True
            return f"{parts.scheme}://{parts.netloc}" == origin
        blocked = list(self.blocked_by_csp)
        left = []
        for url in self.requests:
            if own(url):
                continue
            if url in blocked:
                blocked.remove(url)
                continue
            left.append(url)
        return left

    def problems(self, origin: str, expected: re.Pattern | None) -> list[str]:
        found = [f"request to another origin: {url}" for url in self.outside(origin)]
        found += [f"console error: {text} ({where})" for kind, text, where in self.console
                  if kind == "error" and not (expected and expected.search(text))]
        found += [f"page error: {text}" for text in self.page_errors
                  if not (expected and expected.search(text))]
        return found


class Tab:
    """A page of the site in a fresh browser context, with the helpers the tests share."""

    def __init__(self, page, server: Server, recorder: Recorder, device: str):
        self.page = page
        self.server = server
        self.recorder = recorder
        self.device = device

    @property
    def keyboard(self):
        return self.page.keyboard

    @property
    def requests(self) -> list[str]:
        """The URL of every request the context made so far (pages and workers)."""
        return self.recorder.requests

    @property
    def console(self) -> list[tuple[str, str, str]]:
        return self.recorder.console

    def goto(self, path: str, wait_until: str = "load"):
        """Load a page of the site and wait until it has loaded."""
        response = self.page.goto(self.server.url(path), wait_until=wait_until)
        assert response is not None and response.ok, (path, response and response.status)
        return response

    def js(self, script: str, arg=None):
        """page.evaluate: *script* is an expression or a function of one argument."""
        return self.page.evaluate(script, arg)

    def locator(self, selector: str):
        return self.page.locator(selector)

    def set_theme(self, theme: str):
        """As furo's toggle does: body[data-theme] now and localStorage "theme" for the
        next pages ("light", "dark" or "auto")."""
        self.js("(t) => { localStorage.setItem('theme', t); document.body.dataset.theme = t; }",
                theme)

    def theme(self) -> str:
        return self.js("document.body.dataset.theme")

    def background_luminance(self) -> float:
        return self.js(BACKGROUND_LUMINANCE_JS)

    def contrast(self, target):
        """{ratio, text, fg, bg} for an element (Locator); a list of them for a CSS selector."""
        if isinstance(target, str):
            return self.js(CONTRAST_JS, target)
        return target.evaluate(CONTRAST_JS)

    def tab(self, shift: bool = False):
        self.page.keyboard.press("Shift+Tab" if shift else "Tab")

    def active(self) -> dict:
        """A description of the focused element: tag, classes, text, id, href."""
        return self.js("""() => { const a = document.activeElement;
            return a ? {tag: a.tagName.toLowerCase(), cls: a.className || '', id: a.id,
                        text: (a.textContent || '').trim(), href: a.getAttribute('href')}
                     : null; }""")

    def active_matches(self, selector: str) -> bool:
        return self.js("(s) => !!(document.activeElement && document.activeElement.matches(s))",
                       selector)

    def set_size(self, width: int, height: int):
        self.page.set_viewport_size({"width": width, "height": height})



@contextlib.contextmanager
def served(root: Path):
    """Serve the built site *root* on loopback while the block runs."""
    (root / "favicon.ico").exists() or (root / "favicon.ico").write_bytes(b"")  # browsers ask
    srv = Server(root)
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()


def build_in_child(src: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    """Build a tiny project in a child process (a fork of this one, with Playwright's
    threads running, could deadlock)."""
    return subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", *options,
                           str(src), str(out)], capture_output=True, text=True,
                          env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]
                                                 / "docs/_ext"), "PATH": "/usr/bin:/bin"})


@dataclass
class Recording:
    """What a context's pages did: every request, console error, page error and dialog."""

    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def outside(self, origin: str) -> list[str]:
        return [u for u in self.requests if not u.startswith(origin + "/")]


@contextlib.contextmanager
def recording_page(chromium, **options):
    """A fresh context of its own (for a site other than the shared one) and its page,
    with everything they do recorded; dialogs are dismissed and recorded."""
    context = chromium.new_context(**options)
    context.set_default_timeout(10_000)
    log = Recording()
    context.on("request", lambda r: log.requests.append(r.url))
    page = context.new_page()
    page.on("console", lambda m: log.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log.problems.append(str(e)))
    page.on("dialog", lambda d: (log.dialogs.append(d.message), d.dismiss()))
    try:
        yield page, log
    finally:
        context.close()


@pytest.fixture(scope="session")
def server(site):
    srv = Server(Path(site.outdir))
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


# One Playwright driver and one Chromium for all the browser tests: started after the site
# is built and stopped when tests/browser is done ("package" scope), not at the end of the
# session. Playwright stops its driver by closing the driver's stdin; a process forked
# while the driver runs (sphinx-sitemap forks a multiprocessing Manager in every in-process
# build, which lives until the session exits) inherits that pipe, the driver never sees
# the end of its input, and the session hangs at exit.
@pytest.fixture(scope="package")
def _playwright(server):
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def _chromium(_playwright):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"browser tests need {CHROMIUM}: {INSTALL_HINT}", pytrace=False)
    browser = _playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                          headless=True)
    yield browser
    browser.close()


@pytest.fixture
def device(request) -> str:
    """"desktop" (1280x900) unless a test parametrizes it indirectly, e.g. with "phone"."""
    return getattr(request, "param", "desktop")


_RECORDER = pytest.StashKey[tuple]()


@pytest.fixture
def page(_chromium, server, device, request):
    """A fresh context and page; everything they do is recorded and checked (see the
    module docstring)."""
    context = _chromium.new_context(locale="en-US", service_workers="allow",
                                    **DEVICES[device])
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_REPORTER)
    recorder = Recorder()
    recorder.attach(context)
    pg = context.new_page()
    request.node.stash[_RECORDER] = (recorder, pg, server)
    yield pg
    # anything that arrived after the check at the end of the test body
    late = check_recorded(request.node) if pg and not pg.is_closed() else []
    context.close()
    if late:
        pytest.fail("after the test: " + "\n".join(late), pytrace=False)


@pytest.fixture
def tab(page, server, device, request) -> Tab:
    """The test's page with the shared helpers (and its recorder)."""
    return Tab(page, server, request.node.stash[_RECORDER][0], device)


def _expected_errors(item) -> re.Pattern | None:
    marker = item.get_closest_marker("browser_errors_expected")
    if marker is None:
        return None
    if "match" not in marker.kwargs or "reason" not in marker.kwargs:
        raise pytest.UsageError("browser_errors_expected needs match=<regex> and reason=...")
    return re.compile(marker.kwargs["match"])


def check_recorded(item) -> list[str]:
    """New problems the context recorded (each reported once)."""
    recorder, pg, server = item.stash[_RECORDER]
    try:
        pg.evaluate("0")  # a round trip, so events already sent are delivered first
    except Exception:  # the page may be closed or crashed; report what was recorded
        pass
    problems = recorder.problems(server.origin, _expected_errors(item))
    new, recorder.checked = problems[recorder.checked:], len(problems)
    return new


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After a browser test's body: fail it for requests to other origins, console errors
    and page errors, or for an expected error that never came."""
    try:
        result = yield
    except BaseException:
        if _RECORDER in item.stash:  # shown with the failure, not hidden behind it
            problems = check_recorded(item)
            if problems:
                item.add_report_section("call", "browser problems", "\n".join(problems))
        raise
    if _RECORDER in item.stash:
        problems = check_recorded(item)
        expected = _expected_errors(item)
        if expected is not None:
            recorder = item.stash[_RECORDER][0]
            texts = [t for k, t, _ in recorder.console if k == "error"] + recorder.page_errors
            if not any(expected.search(t) for t in texts):
                problems.append(f"browser_errors_expected: no error matched {expected.pattern!r}")
        if problems:
            pytest.fail("the browser recorded problems:\n" + "\n".join(problems),
                        pytrace=False)
    return result
