"""A parallel, incremental build gives the same pages as a clean serial one, on a small
generated corpus (benchmarks/corpus.py), and a change to references.bib rewrites exactly
the pages whose references change.

Every HTML page is compared byte for byte, with no normalisation, together with feed.xml
and the set of URLs in sitemap.xml (sphinx-sitemap collects them from the -j workers in
whatever order they finish, so only their order may differ)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from corpus import make_corpus  # noqa: E402

N_ARTICLES, N_ENTRIES, WORDS = 30, 40, 250


def sphinx(src: Path, out: Path, jobs: int) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("READTHEDOCS") and k != "KB_DRAFTS"}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-n", "-W", "--keep-going",
         "-j", str(jobs), "-d", str(out / "doctrees"), str(src / "docs"), str(out / "html")],
        cwd=src, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    return result


def site(out: Path) -> dict[str, bytes]:
    """Every page of a build, and its feed and sitemap (URLs sorted)."""
    html = out / "html"
    files = {p.relative_to(html).as_posix(): p.read_bytes()
             for p in html.rglob("*.html") if "_static" not in p.parts}
    files["feed.xml"] = (html / "feed.xml").read_bytes()
    files["sitemap.xml (URLs)"] = "\n".join(sorted(re.findall(
        r"<loc>([^<]*)</loc>", (html / "sitemap.xml").read_text()))).encode()
    return files


def mtimes(out: Path) -> dict[str, int]:
    html = out / "html"
    return {p.relative_to(html).as_posix(): p.stat().st_mtime_ns
            for p in html.rglob("*.html") if "_static" not in p.parts}


def assert_same(got: dict[str, bytes], want: dict[str, bytes]) -> None:
    assert sorted(got) == sorted(want)
    different = [name for name in want if got[name] != want[name]]
    assert different == [], f"pages differ from the clean serial build: {different}"


def append_entry(bib: Path, key: str, author: str, year: str) -> None:
    bib.write_text(bib.read_text() + (
        f"\n@article{{{key},\n  author  = {{{author}}},\n  year    = {{{year}}},\n"
        f"  title   = {{An entry added for the test}},\n  journal = {{Ipsum Quarterly}},\n"
        f"  volume  = {{1}},\n  number  = {{1}},\n  pages   = {{1--2}},\n"
        f"  doi     = {{10.5555/test.{key}}}\n}}\n"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("parallel")
    manifest = make_corpus(root / "src", N_ARTICLES, N_ENTRIES, 5, WORDS, seed=1)
    return root, manifest


def test_parallel_incremental_build_matches_clean_serial_build(corpus):
    root, manifest = corpus
    src = root / "src"
    sphinx(src, root / "serial", 1)
    clean = site(root / "serial")
    assert sum(name.startswith("articles/bench-") for name in clean) == N_ARTICLES

    sphinx(src, root / "parallel", 2)
    assert_same(site(root / "parallel"), clean)

    # edit one article (its text and its topics), rebuild, revert, rebuild
    article = src / "docs" / "articles" / "bench-0007.md"
    original = article.read_text()
    edited = re.sub(r"^topics: \[.*\]$", "topics: [grief]", original, count=1, flags=re.M)
    edited = edited.replace("\n## ", "\nAn edited paragraph about García.\n\n## ", 1)
    assert edited != original
    article.write_text(edited)
    sphinx(src, root / "parallel", 2)
    assert site(root / "parallel")["articles/bench-0007.html"] != clean["articles/bench-0007.html"]
    article.write_text(original)
    sphinx(src, root / "parallel", 2)
    assert_same(site(root / "parallel"), clean)


def test_bib_changes_rewrite_exactly_the_pages_whose_references_change(corpus, tmp_path):
    root, manifest = corpus
    src = tmp_path / "src"
    shutil.copytree(root / "src", src)
    out = tmp_path / "out"
    sphinx(src, out, 2)
    before = mtimes(out)
    bib = src / "references.bib"

    # A work that no article cites, by an author nobody else has: no page changes.
    append_entry(bib, "zzyzx2001added", "Zzyzx, Quentin", "2001")
    sphinx(src, out, 2)
    after = mtimes(out)
    rewritten = sorted(p for p in after if after[p] != before[p])
    assert not [p for p in rewritten if p.startswith("articles/bench-")]
    assert "bibliography.html" not in rewritten

    # A work by the same author in the same year as a cited one: that work becomes
    # "2014a" or "2014b", so exactly the pages citing it (and the bibliography) change.
    works = {}
    for key, author, year in re.findall(
            r"@article\{([^,]+),\n\s*author\s*=\s*\{(.*)\},\n\s*year\s*=\s*\{(.*)\}",
            bib.read_text()):
        works.setdefault((author, year), []).append(key)
    cited_key, author, year = next(
        (keys[0], author, year) for (author, year), keys in works.items()
        if len(keys) == 1 and keys[0] in manifest["cited_keys"])
    append_entry(bib, "twin0001added", author, year)
    before = mtimes(out)
    sphinx(src, out, 2)
    after = mtimes(out)
    rewritten = {p for p in after if after[p] != before[p]}
    citing = {f"{d}.html" for d, keys in manifest["articles"].items() if cited_key in keys}
    assert {p for p in rewritten if p.startswith("articles/bench-")} == citing
    assert "bibliography.html" in rewritten

    # ... and the result is what a clean serial build of the same sources gives.
    sphinx(src, tmp_path / "serial", 1)
    assert_same(site(out), site(tmp_path / "serial"))
