"""Bytes a reader downloads for a first search, measured in headless Chromium.

Serves a built site on 127.0.0.1, opens ``search.html#q=<query>`` in headless Chromium
(Playwright, driving Debian's /usr/bin/chromium), waits until the search has finished and
records every response. It reports:

* ``search_bytes``: what the search itself fetched: every file under ``/pagefind/`` and
  the search scripts (a ``.js`` file whose name contains "search", and Sphinx's
  ``searchindex.js``);
* ``total_bytes``: everything the page and the query fetched;

both counted compressed, as a server would send them: a body that already starts with the
gzip magic bytes (Pagefind's index and fragment files are gzip files) counts as it is, any
other body as ``len(gzip.compress(body, 9))``. Uncompressed sizes are kept too.

Then, if the page exposes ``window.kbSearchTimings`` (an array the site's search appends
its ``performance.now()`` duration to, one entry per query), a second query is run through
the URL fragment once the index is loaded and its time to results is reported; otherwise
``second_query_ms`` is ``"not exposed"``.

Two kinds of site:

* ``pagefind`` (the knowledge base): ``search.html#q=...``; finished when
  ``#kb-search-results[data-state="done"]`` appears. A site with no ``pagefind/`` folder
  gives ``{"status": "n/a (no pagefind bundle)"}`` instead of failing.
* ``sphinx`` (the stock stack's built-in search): ``search.html?q=...``; finished when
  Sphinx's search summary says so.

    .venv/bin/python benchmarks/search_bytes.py _build/html --query anxiety
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import os
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
GZIP_MAGIC = b"\x1f\x8b"
PAGEFIND_DONE = '#kb-search-results[data-state="done"]'
SPHINX_DONE = """() => {
  const s = document.querySelector('#search-results p.search-summary');
  return !!s && /Search finished|did not match/.test(s.innerText || '');
}"""
NOT_EXPOSED = "not exposed"


def compressed_size(body: bytes) -> int:
    """Bytes on the wire with gzip: as is when already gzip, else gzip level 9."""
    if body.startswith(GZIP_MAGIC):
        return len(body)
    return len(gzip.compress(body, 9))


#: What each search request is, by its path (the first pattern that matches), for the
#: per-part breakdown (``parts``): Pagefind's engine, its page list and chunk names, the
#: index chunks, filters and result fragments, and the site's query layer.
PARTS = (("vocabulary", "/kb-vocab/"), ("query layer", "kb-search"), ("meta", ".pf_meta"),
         ("index", ".pf_index"), ("filter", ".pf_filter"), ("fragments", ".pf_fragment"),
         ("engine", "/pagefind/"), ("other", ""))


def part_of(path: str) -> str:
    return next(name for name, pattern in PARTS if pattern in path)


def parts(rows: list[dict]) -> dict[str, list[int]]:
    """``{part: [requests, compressed bytes]}`` of the search's requests."""
    out: dict[str, list[int]] = {}
    for row in rows:
        if row["search"]:
            entry = out.setdefault(part_of(row["path"]), [0, 0])
            entry[0] += 1
            entry[1] += row["compressed_bytes"]
    return out


def describe_parts(by_part: dict) -> str:
    """``index 1 (9.5 KiB), fragments 5 (21.1 KiB), ...``, biggest first."""
    return ", ".join(f"{name} {n} ({size / 1024:.1f} KiB)" for name, (n, size) in
                     sorted(by_part.items(), key=lambda kv: -kv[1][1]))


def is_search_request(path: str) -> bool:
    """Whether a request (URL path) belongs to the search rather than to the page."""
    name = path.rsplit("/", 1)[-1].lower()
    return ("/pagefind/" in path or name == "searchindex.js"
            or (name.endswith(".js") and "search" in name))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class serve:
    """``with serve(folder) as base_url:`` a static server on 127.0.0.1 (a free port)."""

    def __init__(self, folder: Path):
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def site_kind(site: Path) -> str | None:
    if (site / "pagefind").is_dir():
        return "pagefind"
    if (site / "searchindex.js").is_file():
        return "sphinx"
    return None


def measure(site: Path, query: str = "anxiety", second_query: str = "therapy",
            kind: str = "pagefind", timeout_s: float = 30.0,
            executable: str = CHROMIUM) -> dict:
    """Bytes of a first search on the built *site*; see the module docstring."""
    site = Path(site)
    if kind == "pagefind" and not (site / "pagefind").is_dir():
        return {"status": "n/a (no pagefind bundle)"}
    if kind == "sphinx" and not (site / "searchindex.js").is_file():
        return {"status": "n/a (no searchindex.js)"}
    if not (site / "search.html").is_file():
        return {"status": "n/a (no search.html)"}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"status": "n/a (playwright is not installed)"}
    if not os.path.exists(executable):
        return {"status": f"n/a ({executable} not found)"}

    responses = []
    with serve(site) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(service_workers="block")
            page = context.new_page()
            page.on("response", lambda response: responses.append(response))
            separator = "#q=" if kind == "pagefind" else "?q="
            url = base + "search.html" + separator + quote(query)
            start = time.perf_counter()
            page.goto(url, wait_until="load", timeout=timeout_s * 1000)
            if kind == "pagefind":
                page.wait_for_selector(PAGEFIND_DONE, state="attached",
                                       timeout=timeout_s * 1000)
            else:
                page.wait_for_function(SPHINX_DONE, timeout=timeout_s * 1000)
            first_ms = round((time.perf_counter() - start) * 1000, 1)
            page.wait_for_load_state("networkidle", timeout=timeout_s * 1000)
            first = list(responses)  # the page and the first query, not the second one
            second = _second_query(page, second_query, kind, timeout_s)
            rows = []
            for response in first:
                path = urlsplit(response.url).path
                try:
                    body = response.body()
                except Exception:  # noqa: BLE001 - e.g. a redirect has no body
                    body = b""
                rows.append({"path": path, "status": response.status, "bytes": len(body),
                             "compressed_bytes": compressed_size(body) if body else 0,
                             "search": is_search_request(path)})
        finally:
            browser.close()

    search = [r for r in rows if r["search"]]
    return {
        "status": "ok",
        "kind": kind,
        "query": query,
        "search_bytes": sum(r["compressed_bytes"] for r in search),
        "search_bytes_uncompressed": sum(r["bytes"] for r in search),
        "search_requests": len(search),
        "search_parts": parts(rows),
        "total_bytes": sum(r["compressed_bytes"] for r in rows),
        "total_bytes_uncompressed": sum(r["bytes"] for r in rows),
        "requests": len(rows),
        "first_results_ms_wall": first_ms,
        "second_query": second_query,
        "second_query_ms": second,
        "responses": rows,
    }


def _second_query(page, query: str, kind: str, timeout_s: float):
    """Time to results of a second query, from ``window.kbSearchTimings``."""
    exposed = page.evaluate("() => Array.isArray(window.kbSearchTimings)")
    if not exposed:
        return NOT_EXPOSED
    before = page.evaluate("() => window.kbSearchTimings.length")
    page.evaluate("q => { window.location.hash = 'q=' + encodeURIComponent(q); }", query)
    try:
        page.wait_for_function(f"() => window.kbSearchTimings.length > {before}",
                               timeout=timeout_s * 1000)
    except Exception:  # noqa: BLE001 - the page did not run a second search
        return "no second search ran"
    value = page.evaluate("() => window.kbSearchTimings[window.kbSearchTimings.length - 1]")
    if isinstance(value, dict):
        # the site's search records "rank" (query to ranked list) and "render" (to the
        # results on screen); the time a reader waits is "render"
        value = next((value[k] for k in ("render", "ms", "duration", "time") if k in value),
                     value)
    return round(float(value), 1) if isinstance(value, (int, float)) else value


def request_table(result: dict) -> str:
    """The search's requests, one Markdown row each (in the order they were answered),
    then the total: what ``search_bytes`` adds up."""
    if result.get("status") != "ok":
        return str(result.get("status"))
    lines = ["| request | compressed bytes | bytes |", "|---|---:|---:|"]
    for row in result["responses"]:
        if row["search"]:
            lines.append(f"| `{row['path']}` | {row['compressed_bytes']:,} | "
                         f"{row['bytes']:,} |")
    lines.append(f"| **{result['search_requests']} requests** | "
                 f"**{result['search_bytes']:,}** | "
                 f"**{result['search_bytes_uncompressed']:,}** |")
    lines.append("")
    lines.append(describe_parts(result["search_parts"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site (e.g. _build/html)")
    parser.add_argument("--query", default="anxiety")
    parser.add_argument("--second-query", default="therapy")
    parser.add_argument("--kind", choices=("pagefind", "sphinx", "auto"), default="auto")
    parser.add_argument("--responses", action="store_true", help="list every response")
    parser.add_argument("--table", action="store_true",
                        help="print the search's requests as a table (URL, compressed "
                             "and raw bytes) instead of JSON")
    args = parser.parse_args(argv)
    kind = site_kind(args.site) or "pagefind" if args.kind == "auto" else args.kind
    result = measure(args.site, args.query, args.second_query, kind)
    if args.table:
        print(request_table(result))
        return 0
    if not args.responses:
        result.pop("responses", None)
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
