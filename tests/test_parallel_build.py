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


WHILE_READING = """
import os, time
def _log(name):
    def handler(app, *args):
        with open(os.environ["KB_TEST_READING_LOG"], "a") as out:
            out.write(f"{name} {os.getpid()} {time.monotonic()}\\n")
    return handler
def _ahead(app):
    _log("formatted-ahead" if app.env.get_domain("cite")._ahead else "nothing-ahead")(app)
def _read(app, doctree):
    _log("read")(app)
    time.sleep(0.02)  # reading lasts, however fast the machine: the overlap is seen
def setup(app):
    app.connect("kb-reading-in-workers", _log("reading"))
    app.connect("kb-reading-in-workers", _ahead, priority=900)
    app.connect("doctree-read", _read)
    app.connect("env-updated", _log("env-updated"), priority=0)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
"""


def test_the_bib_is_formatted_while_the_workers_read(tmp_path, monkeypatch):
    """A parallel read: the main process formats the .bib's entries once the workers are
    forked (kb.upstream, kb-reading-in-workers), and the environment it saves holds the
    same formatted references and sort keys as a serial build's."""
    import pickle

    src = tmp_path / "src"
    # enough pages for a parallel read (kb.upstream.MIN_PARALLEL_PAGES)
    make_corpus(src, 40, N_ENTRIES, 5, 120, seed=2)
    (src / "docs" / "_ext" / "reading_log.py").write_text(WHILE_READING)
    with open(src / "docs" / "conf.py", "a") as conf:
        conf.write('\nextensions = [*extensions, "reading_log"]\n')
    log = tmp_path / "reading.log"
    monkeypatch.setenv("KB_TEST_READING_LOG", str(log))
    sphinx(src, tmp_path / "parallel", 2)
    events = [line.split() for line in log.read_text().splitlines()]
    names = [name for name, _pid, _t in events]
    main = {pid for name, pid, _t in events if name == "env-updated"}
    assert names.count("reading") == 1 and "formatted-ahead" in names
    reading = names.index("reading")
    assert {pid for name, pid, _t in events if name in ("reading", "formatted-ahead")} == main
    readers = {pid for name, pid, _t in events if name == "read"}
    assert readers and not readers & main  # the pages were read by the workers ...
    # ... and some after the main process had started formatting
    assert any(name == "read" and float(t) > float(events[reading][2])
               for name, _pid, t in events)
    log.unlink()
    sphinx(src, tmp_path / "serial", 1)
    assert "reading" not in log.read_text()

    def cite(out):
        with open(out / "doctrees" / "environment.pickle", "rb") as f:
            data = pickle.load(f).domaindata["cite"]
        from pybtex.backends.plaintext import Backend
        return ({k: v.text.render(Backend()) for k, v in data["kb_formatted"].items()},
                data["kb_sort_keys"], data["kb_format_errors"], data["kb_texts"],
                data["kb_order"])

    assert cite(tmp_path / "parallel") == cite(tmp_path / "serial")
    assert cite(tmp_path / "serial")[0]
    assert_same(site(tmp_path / "parallel"), site(tmp_path / "serial"))
