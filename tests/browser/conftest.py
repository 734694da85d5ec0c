"""Real-browser fixtures: the real site (built once, by the ``site`` fixture of
tests/conftest.py) served on loopback, and one headless Debian Chromium for the session.

Chromium and chromedriver come from Debian (``apt-get install chromium chromium-driver``;
.ci/run installs them). If they are missing the browser tests fail: a skipped privacy or
accessibility check would look like a passing one.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from pathlib import Path
from urllib.parse import urljoin

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL_HINT = ("install Debian's packages: apt-get install -y chromium chromium-driver "
                "(.ci/run does this)")

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
    "--window-size=1280,900",
    "--lang=en-US",
    # Belt and braces: no host name resolves, so nothing the browser does can reach the
    # network; a page's request still shows in the performance log, which the tests read.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

# Contrast of text elements against what is painted behind them, in the page. Colors are
# the computed ones (CSS Color 4 rgb()/rgba() strings); backgrounds are composited up the
# ancestor chain until an opaque one, over white at the root. arguments[0]: an element or
# a CSS selector (all matches are measured, in one round trip).
CONTRAST_JS = r"""
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
const target = arguments[0];
if (typeof target === "string") return [...document.querySelectorAll(target)].map(measure);
return measure(target);
"""


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


class Browser:
    """The session's WebDriver with the few helpers the tests share."""

    def __init__(self, driver, server: Server):
        self.driver = driver
        self.server = server

    def get(self, path: str):
        """Load a page of the site and wait until it has fully loaded."""
        self.driver.get(self.server.url(path))
        self.wait_for(lambda d: d.execute_script("return document.readyState") == "complete")

    def wait_for(self, condition, timeout: float = 10, message: str = ""):
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(condition, message)

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def set_theme(self, theme: str):
        self.js("document.body.dataset.theme = arguments[0];", theme)

    def contrast(self, target):
        """{ratio, text, fg, bg} for an element; a list of them for a CSS selector."""
        return self.js(CONTRAST_JS, target)

    def network_log(self) -> list[dict]:
        """Network.requestWillBeSent events since the last call (the log is drained)."""
        events = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                events.append(message["params"])
        return events

    def reset(self):
        """A neutral state between tests: blank page, focus and storage cleared."""
        self.driver.get(self.server.url("index.html"))
        self.js("localStorage.clear(); sessionStorage.clear();")
        self.driver.get("about:blank")
        park = ActionBuilder(self.driver)  # the pointer left over nothing
        park.pointer_action.move_to_location(0, 0)
        park.perform()
        self.network_log()


@pytest.fixture(scope="session")
def server(site):
    srv = Server(Path(site.outdir))
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture(scope="session")
def _driver(tmp_path_factory):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        pytest.fail(f"browser tests need {' and '.join(missing)}: {INSTALL_HINT}",
                    pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    # The driver path is given, so Selenium Manager (which would use the network) never runs.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


@pytest.fixture
def browser(_driver, server):
    """The shared browser, reset to a blank state for each test."""
    b = Browser(_driver, server)
    b.reset()
    yield b
