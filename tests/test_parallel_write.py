"""A parallel write (``-j 2``) of a site with more than ``MIN_PARALLEL_PAGES`` pages: each
page is loaded, resolved and written by a worker process, not by the main process
(kb/upstream.py, ``write_resolving_in_workers``); the bibliography page is taken first;
the images the workers' pages use are copied; the warnings found while resolving reach
the build's output once each, at their file and line; and the pages are the same, byte
for byte, as a serial build's.

The build is Sphinx's own command line, on a small generated corpus
(benchmarks/corpus.py) with one picture added, and a test-only extension
(tests/extensions/write_probe.py) that logs which process resolved each page."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from helpers import ANSI, REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from corpus import make_corpus  # noqa: E402

from kb import upstream  # noqa: E402

N_ARTICLES = 60
#: CPython's own young-generation threshold (700 on 3.11), as a new interpreter has it
DEFAULT_YOUNG = int(subprocess.run(
    [sys.executable, "-c", "import gc; print(gc.get_threshold()[0])"],
    capture_output=True, text=True, check=True).stdout)
# a 1x1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f4e1cc0000000049454e44ae426082")


def build(src: Path, out: Path, jobs: int, log: Path | None = None, **extra_env):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("READTHEDOCS") and k != "KB_DRAFTS"}
    if log is not None:
        env["KB_TEST_WRITE_LOG"] = str(log)
    env.update(extra_env)
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-n", "-W", "--keep-going",
         "-j", str(jobs), "-d", str(out / "doctrees"), str(src / "docs"), str(out / "html")],
        cwd=src, env=env, capture_output=True, text=True, timeout=600)
    return result.returncode, ANSI.sub("", result.stderr)


def pages(out: Path) -> dict[str, bytes]:
    html = out / "html"
    return {p.relative_to(html).as_posix(): p.read_bytes()
            for p in html.rglob("*.html") if "_static" not in p.parts}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("write")
    src = root / "src"
    make_corpus(src, N_ARTICLES, 40, 5, 200, seed=2)
    # a picture on one article, in the middle of the site
    (src / "docs" / "_static" / "calm.png").write_bytes(PNG)
    article = src / "docs" / "articles" / "bench-0031.md"
    article.write_text(article.read_text().replace(
        "\n## ", "\n![A calm lake at dawn](../_static/calm.png)\n\n## ", 1))
    with (src / "docs" / "conf.py").open("a") as conf:
        conf.write(f"\nimport sys as _sys\n_sys.path.insert(0, "
                   f"{str(REPO / 'tests' / 'extensions')!r})\n"
                   "extensions = [*extensions, 'write_probe']\n")
    log = root / "write.log"
    code, stderr = build(src, root / "parallel", 2, log)
    assert (code, stderr) == (0, ""), stderr
    return root, src, log.read_text().splitlines()


def test_workers_resolve_and_write_every_page(corpus):
    root, src, log = corpus
    main = {pid for event, pid, *_ in map(str.split, log) if event == "main"}
    assert len(main) == 1
    by_process = defaultdict(list)
    for event, pid, docname, *_ in map(str.split, log):
        if event == "resolved":
            by_process[pid].append(docname)
    everything = sorted(d for docs in by_process.values() for d in docs)
    assert len(everything) == len(set(everything)) > upstream.MIN_PARALLEL_PAGES
    assert sum(d.startswith("articles/bench-") for d in everything) == N_ARTICLES
    # the main process writes no page (Sphinx's writes the first before the fork); two
    # workers (-j 2) share them all
    assert main.pop() not in by_process
    assert len(by_process) == 2 and all(len(docs) > 5 for docs in by_process.values())
    # the bibliography page, which lists every cited work, is taken first
    assert "bibliography" in [docs[0] for docs in by_process.values()]


def test_workers_never_walk_what_they_inherit(corpus):
    """The main process's objects are frozen while the workers are forked, so the
    workers' garbage collections skip them; the main process unfreezes them once its
    workers are done. A worker writing pages also freezes every FREEZE_EVERY pages what
    it has written; a worker reading them makes no collection until it has grown by
    READING_GARBAGE (never, on this small site)."""
    root, src, log = corpus
    lines = [line.split() for line in log]
    main = next(pid for event, pid, *_ in lines if event == "main")
    workers = [(event, int(frozen)) for event, pid, _, frozen, _ in lines
               if pid != main and event in ("read", "resolved")]
    assert {event for event, _ in workers} == {"read", "resolved"}
    assert all(frozen > 10000 for _, frozen in workers)
    # the main process: nothing frozen once the read and the write are done
    assert [(event, int(frozen)) for event, pid, _, frozen, _ in lines
            if pid == main and event in ("updated", "finished")] == [
        ("updated", 0), ("finished", 0)]
    # each writing worker froze more as it went; each reading worker, nothing more
    for kind in ("read", "resolved"):
        for pid in {pid for event, pid, *_ in lines if event == kind and pid != main}:
            counts = [int(frozen) for event, p, _, frozen, _ in lines
                      if p == pid and event == kind]
            assert len(counts) > upstream.FREEZE_EVERY
            if kind == "resolved":
                assert counts[upstream.FREEZE_EVERY] > counts[0]
            else:
                assert len(set(counts)) == 1


def test_a_reading_worker_collects_once_it_has_grown_by_its_allowance(corpus):
    """With READING_GARBAGE at one byte, a reading worker collects and freezes after
    each page it has grown on (after a collection, a page may fit in the memory it freed:
    no growth, no collection); the pages are the same as with the default allowance."""
    root, src, _ = corpus
    log = root / "small-allowance.log"
    code, stderr = build(src, root / "small-allowance", 2, log,
                         KB_TEST_READING_GARBAGE="1")
    assert (code, stderr) == (0, ""), stderr
    lines = [line.split() for line in log.read_text().splitlines()]
    main = next(pid for event, pid, *_ in lines if event == "main")
    readers = {pid for event, pid, *_ in lines if event == "read" and pid != main}
    assert len(readers) == 2
    for pid in readers:
        counts = [int(frozen) for event, p, _, frozen, _ in lines
                  if p == pid and event == "read"]
        # doctree-read comes before the page's collection: the count never falls, and
        # rises after most pages
        steps = list(zip(counts, counts[1:]))
        assert all(b >= a for a, b in steps), counts
        assert sum(b > a for a, b in steps) > len(steps) // 2, counts
    assert pages(root / "small-allowance") == pages(root / "parallel")


def test_workers_collect_young_objects_less_often_and_the_main_process_as_before(corpus):
    """A forked writing worker collects with WORKER_GC_THRESHOLDS, a reading worker makes
    no young collection (READING_YOUNG); the main process keeps its own thresholds
    before, during and after the workers (CPython's default here)."""
    root, src, log = corpus
    lines = [line.split() for line in log]
    main = next(pid for event, pid, *_ in lines if event == "main")
    young = upstream.WORKER_GC_THRESHOLDS[0]
    assert young > 700 and upstream.READING_YOUNG > 10**8
    assert {(event, int(threshold)) for event, pid, _, _, threshold in lines
            if pid != main} == {("read", upstream.READING_YOUNG), ("resolved", young)}
    assert {int(threshold) for _, pid, _, _, threshold in lines if pid == main} == {
        DEFAULT_YOUNG}


def test_the_pictures_of_pages_written_by_workers_are_copied(corpus):
    root, src, log = corpus
    html = root / "parallel" / "html"
    page = (html / "articles" / "bench-0031.html").read_text()
    image = re.search(r'<img alt="A calm lake at dawn" src="([^"]+)"', page)
    assert image and image.group(1) == "../_images/calm.png"
    assert (html / "_images" / "calm.png").read_bytes() == PNG


def test_the_pages_are_those_of_a_serial_build(corpus):
    """... and the serial read freezes what it has read every FREEZE_EVERY pages (after
    collecting), and unfreezes it when the read ends; a serial build keeps CPython's
    thresholds."""
    root, src, log = corpus
    serial_log = root / "serial.log"
    code, stderr = build(src, root / "serial", 1, serial_log)
    assert (code, stderr) == (0, ""), stderr
    lines = [line.split() for line in serial_log.read_text().splitlines()]
    assert len({pid for _, pid, *_ in lines}) == 1
    assert {int(threshold) for *_, threshold in lines} == {DEFAULT_YOUNG}  # no worker
    read = [int(frozen) for event, _, _, frozen, _ in lines if event == "read"]
    every = upstream.FREEZE_EVERY
    assert read[:every] == [0] * every and read[every] > 10000
    assert read[-1] > read[every]
    assert [int(frozen) for event, _, _, frozen, _ in lines if event == "updated"] == [0]
    serial, parallel = pages(root / "serial"), pages(root / "parallel")
    assert sorted(parallel) == sorted(serial)
    assert [name for name in serial if parallel[name] != serial[name]] == []


def test_a_problem_found_while_resolving_in_a_worker_is_reported_once_at_its_line(
        corpus, tmp_path):
    root, src, log = corpus
    copy = tmp_path / "src"
    shutil.copytree(src, copy)
    article = copy / "docs" / "articles" / "bench-0047.md"
    text = article.read_text().replace(
        "\n## ", "\nA claim {cite:p}`nosuchwork2020`.\n\n## ", 1)
    article.write_text(text)
    line = text.splitlines().index("A claim {cite:p}`nosuchwork2020`.") + 1
    code, stderr = build(copy, tmp_path / "out", 2)
    assert code == 1
    warning = (f"articles/bench-0047.md:{line}: WARNING: unknown citation key "
               "'nosuchwork2020'")
    assert stderr.count(warning) == 1, stderr[-2000:]
