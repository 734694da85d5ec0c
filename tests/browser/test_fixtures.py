"""The page fixture's guards themselves: it records what workers fetch, sees
Content-Security-Policy violations as console errors, and flags other origins."""

from __future__ import annotations

import pytest

from .conftest import Recorder

pytestmark = pytest.mark.browser


def test_requests_of_workers_are_recorded(tab, server):
    # a same-origin worker script (the pages' policy allows workers from the site only)
    worker = server.root / "kb-test-worker.js"
    worker.write_text("fetch(self.location.origin + '/robots.txt?from-worker')"
                      ".then(() => postMessage('ok'));")
    try:
        tab.goto("index.html")
        tab.js("""async () => {
            const worker = new Worker('kb-test-worker.js');
            await Promise.race([
                new Promise((resolve) => { worker.onmessage = resolve; }),
                new Promise((_, reject) => setTimeout(
                    () => reject(new Error('the worker never answered')), 5000)),
            ]);
        }""")
    finally:
        worker.unlink()
    assert server.url("robots.txt?from-worker") in tab.requests
    assert any(target == "/robots.txt?from-worker" for target, _ in server.requests)


@pytest.mark.browser_errors_expected(match=r"Content.Security.Policy",
                                     reason="proves a CSP violation fails other tests")
def test_a_csp_violation_is_recorded_as_a_console_error(tab, server):
    tab.goto("index.html")
    tab.js("""async () => {
        const meta = document.createElement('meta');
        meta.httpEquiv = 'Content-Security-Policy';
        meta.content = "img-src 'none'";
        document.head.append(meta);
        const img = new Image();
        img.src = 'favicon-blocked.png';
        document.body.append(img);
        await new Promise((r) => setTimeout(r, 200));
    }""")
    errors = [text for kind, text, _ in tab.console if kind == "error"]
    assert any("Content-Security-Policy" in t or "Content Security Policy" in t
               for t in errors), tab.console


def test_other_origins_are_flagged():
    recorder = Recorder(requests=[
        "http://127.0.0.1:8123/index.html", "data:image/png;base64,AA==",
        "blob:http://127.0.0.1:8123/4f1c", "http://127.0.0.1:9999/other-port.js",
        "https://988lifeline.org/chat/", "http://localhost:8123/index.html"])
    assert recorder.outside("http://127.0.0.1:8123") == [
        "http://127.0.0.1:9999/other-port.js", "https://988lifeline.org/chat/",
        "http://localhost:8123/index.html"]
    recorder.console.append(("warning", "a warning", ""))
    recorder.console.append(("error", "Refused to load the image", "x.html:1"))
    recorder.page_errors.append("TypeError: x is undefined")
    problems = recorder.problems("http://127.0.0.1:8123", expected=None)
    assert len(problems) == 5, problems
