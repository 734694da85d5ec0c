"""benchmarks/search_bytes.py against a tiny fake site: it counts exactly what a search
fetches, compressed as the module says, and reads the second query's time."""

from __future__ import annotations

import gzip
import importlib.util
import os
import sys
from pathlib import Path

import pytest

from helpers import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import search_bytes  # noqa: E402

needs_browser = pytest.mark.skipif(
    importlib.util.find_spec("playwright") is None or not os.path.exists(search_bytes.CHROMIUM),
    reason="needs playwright and /usr/bin/chromium")

SEARCH_HTML = """<!doctype html><html><head><title>Search</title>
<link rel="icon" href="data:,"><script src="_static/kb-search.js"></script></head>
<body><main><h1>Search</h1><p>{filler}</p></main></body></html>"""

SEARCH_JS = """window.kbSearchTimings = [];
async function run() {
  const q = new URLSearchParams(location.hash.slice(1)).get('q');
  let out = document.getElementById('kb-search-results');
  if (!out) {
    out = document.createElement('div');
    out.id = 'kb-search-results';
    document.body.appendChild(out);
  }
  out.dataset.state = 'loading';
  const t0 = performance.now();
  if (window.kbSearchTimings.length === 0) {
    await (await fetch('pagefind/pagefind.js')).text();
    await (await fetch('pagefind/index/en_1.pf_index')).arrayBuffer();
  }
  out.textContent = 'results for ' + q;
  window.kbSearchTimings.push(performance.now() - t0);
  out.dataset.state = 'done';
}
window.addEventListener('hashchange', run);
document.addEventListener('DOMContentLoaded', run);
"""


def fake_site(root: Path) -> dict[str, bytes]:
    files = {
        "search.html": SEARCH_HTML.format(filler="lorem ipsum " * 200).encode(),
        "_static/kb-search.js": SEARCH_JS.encode(),
        "pagefind/pagefind.js": b"export const version = '1.4.0';\n" * 50,
        "pagefind/index/en_1.pf_index": gzip.compress(b"index " * 500, 6),
    }
    for rel, body in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(body)
    return files


def test_compressed_size_keeps_gzip_bodies_and_gzips_the_rest():
    already = gzip.compress(b"x" * 1000)
    assert search_bytes.compressed_size(already) == len(already)
    assert search_bytes.compressed_size(b"y" * 1000) == len(gzip.compress(b"y" * 1000, 9))


def test_what_counts_as_search():
    assert search_bytes.is_search_request("/pagefind/fragment/en_1.pf_fragment")
    assert search_bytes.is_search_request("/_static/kb-search.js")
    assert search_bytes.is_search_request("/searchindex.js")
    assert not search_bytes.is_search_request("/search.html")
    assert not search_bytes.is_search_request("/_static/kb.js")


def test_no_pagefind_bundle_is_reported_not_failed(tmp_path):
    (tmp_path / "search.html").write_text("<p>search</p>")
    result = search_bytes.measure(tmp_path, kind="pagefind")
    assert result == {"status": "n/a (no pagefind bundle)"}


@needs_browser
def test_counts_every_request_of_the_first_query(tmp_path):
    files = fake_site(tmp_path)
    result = search_bytes.measure(tmp_path, query="grief", second_query="anxiety")
    assert result["status"] == "ok", result
    paths = sorted(r["path"] for r in result["responses"])
    assert paths == sorted("/" + rel for rel in files)
    size = {rel: search_bytes.compressed_size(body) for rel, body in files.items()}
    assert size["pagefind/index/en_1.pf_index"] == len(files["pagefind/index/en_1.pf_index"])
    search = [r for r in files if r != "search.html"]
    assert result["search_bytes"] == sum(size[r] for r in search)
    assert result["search_requests"] == 3
    assert result["total_bytes"] == sum(size.values())
    assert result["total_bytes_uncompressed"] == sum(len(b) for b in files.values())
    # The second query ran from the fragment and its time came from kbSearchTimings.
    assert isinstance(result["second_query_ms"], float)
    assert result["second_query_ms"] >= 0


@needs_browser
def test_each_request_is_listed_with_its_part(tmp_path, capsys):
    """``--table``: what a first search is made of, request by request (issue 18)."""
    files = fake_site(tmp_path)
    assert search_bytes.main([str(tmp_path), "--query", "grief", "--table"]) == 0
    out = capsys.readouterr().out
    size = {rel: search_bytes.compressed_size(body) for rel, body in files.items()}
    for rel in ("_static/kb-search.js", "pagefind/pagefind.js", "pagefind/index/en_1.pf_index"):
        assert f"| `/{rel}` | {size[rel]:,} | {len(files[rel]):,} |" in out, rel
    assert "/search.html" not in out  # the page itself is not the search's
    total = sum(v for k, v in size.items() if k != "search.html")
    assert f"| **3 requests** | **{total:,}** |" in out
    index = size["pagefind/index/en_1.pf_index"]
    assert f"index 1 ({index / 1024:.1f} KiB)" in out
    assert search_bytes.part_of("/pagefind/kb-vocab/a.txt") == "vocabulary"
    assert search_bytes.part_of("/pagefind/kb-search.json") == "query layer"
    assert search_bytes.part_of("/pagefind/wasm.en.pagefind") == "engine"
    assert search_bytes.part_of("/pagefind/fragment/en_2.pf_fragment") == "fragments"


@needs_browser
def test_a_page_without_timings_says_so(tmp_path):
    fake_site(tmp_path)
    js = tmp_path / "_static/kb-search.js"
    js.write_text(js.read_text().replace("window.kbSearchTimings = [];", "var timings = [];")
                  .replace("window.kbSearchTimings", "timings"))
    result = search_bytes.measure(tmp_path, query="grief")
    assert result["status"] == "ok"
    assert result["second_query_ms"] == "not exposed"
