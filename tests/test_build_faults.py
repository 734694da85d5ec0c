"""A build never publishes a stale or broken site (docs/_ext/kb/build.py).

Each fault a writer's machine can produce: a build killed (kill -9) or interrupted
(Ctrl-C) at each phase, a damaged or missing saved environment, leftovers of killed steps,
a publish that fails, two builds at once. After each: a problem reported once is reported
again, with the same messages, until it is fixed; the published site stays the last good
one; and once the sources are fixed, the site equals a clean build's.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import DOCS, REPO
from project_model import DRIVER, Project, make_html, output, sphinx_env, warnings

from kb import build as driver

HOOKS = f"""
import sys as _sys
_sys.path.insert(0, {str(REPO / 'tests' / 'extensions')!r})
extensions = [*extensions, "build_hooks"]
"""
# Two problems: one reported when the page is read, one when it is written.
PROBLEM = "{cite:p}`nosuchwork2020`.\n\n## Part one\n\nText.\n\n#### Detail\n\nMore"


def project() -> Project:
    proj = Project(random.Random(3))
    proj.conf_extra = HOOKS
    return proj


def add_problem(src: Path) -> None:
    """A citation of a work that is not in the .bib, and a skipped heading level."""
    path = src / "articles" / "article-1.md"
    path.write_text(path.read_text().replace("## References", f"More {PROBLEM}.\n\n"
                                             "## References"))


def fix_problem(src: Path) -> None:
    path = src / "articles" / "article-1.md"
    path.write_text(path.read_text().replace(f"More {PROBLEM}.\n\n", ""))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A published site, the same sources with a problem, and that problem's warnings
    as a clean build reports them."""
    root = tmp_path_factory.mktemp("faults")
    proj = project()
    proj.write(root / "src")
    good = make_html(root / "src", root / "build")
    assert good.returncode == 0, good.stderr
    bad_src = root / "bad-src"
    shutil.copytree(root / "src", bad_src)
    add_problem(bad_src)
    clean = make_html(bad_src, root / "bad-clean")
    assert clean.returncode == 1
    expected = warnings(clean, bad_src)
    assert len(expected) == 2
    assert all(w.startswith("articles/article-1.md:") for w in expected)
    assert ["nosuchwork2020" in expected[0], "heading level skipped" in expected[1]] == [
        True, True], expected
    return root, output(root / "build"), expected


@pytest.fixture
def case(base, tmp_path):
    """A copy of the published site and its sources, with the problem added."""
    root, published, expected = base
    src, build = tmp_path / "src", tmp_path / "build"
    shutil.copytree(root / "src", src)
    shutil.copytree(root / "build", build, symlinks=True)
    for name in (".lock",):
        (build / name).unlink(missing_ok=True)
    add_problem(src)
    return src, build, published, expected


def start(src: Path, build: Path, tmp_path: Path, stop_at: str, call: int = 1):
    """``make html`` in its own process group (as a terminal runs it), stopped at
    *stop_at*; returns the process once it is there."""
    env = {**sphinx_env(), "KB_TEST_STOP_AT": stop_at, "KB_TEST_STOP_CALL": str(call),
           "KB_TEST_STOP_FILE": str(tmp_path / "stopped"),
           "KB_TEST_GO_FILE": str(tmp_path / "go")}
    command = [sys.executable, str(DRIVER), "html", str(build), str(src), "--",
               "-n", "-W", "--keep-going", "-q"]
    proc = subprocess.Popen(command, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (tmp_path / "stopped").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the build never reached " + stop_at
        time.sleep(0.05)
    return proc


def stop(proc, how: int) -> None:
    os.killpg(proc.pid, how)  # the whole group: the driver, Sphinx, Pagefind
    proc.communicate(timeout=120)


PHASES = [("doctree-read", 1), ("env-updated", 1), ("html-page-context", 3),
          ("build-finished", 1)]


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
@pytest.mark.parametrize("phase,call", PHASES, ids=[p for p, _ in PHASES])
def test_a_problem_stays_reported_after_a_build_is_killed_at_any_phase(case, tmp_path,
                                                                      phase, call, how):
    src, build, published, expected = case
    proc = start(src, build, tmp_path, phase, call)
    stop(proc, how)
    assert output(build) == published  # nothing of the killed build is published
    again = make_html(src, build)
    assert again.returncode == 1
    assert warnings(again, src) == expected
    assert "the published site in" in again.stdout
    assert output(build) == published
    assert sorted(p.name for p in build.iterdir()) == [".lock", "doctrees", "html", "staging"]


def test_a_build_killed_while_writing_leaves_no_stale_page(base, tmp_path):
    """Related articles, listings and navigation computed by a build that was killed
    before it wrote them are written by the next build."""
    root, _published, _expected = base
    src, build = tmp_path / "src", tmp_path / "build"
    shutil.copytree(root / "src", src)
    shutil.copytree(root / "build", build, symlinks=True)
    proj = project()
    proj.retitle_article()
    proj.retitle_page()
    proj.write(src)
    stop(start(src, build, tmp_path, "html-page-context", 2), signal.SIGKILL)
    result = make_html(src, build)
    assert result.returncode == 0, result.stderr
    assert "reading every page again" in result.stdout
    clean = make_html(src, tmp_path / "clean")
    assert clean.returncode == 0, clean.stderr
    assert output(build) == output(tmp_path / "clean")


@pytest.mark.parametrize("damage", ["garbage", "missing", "empty"])
def test_a_damaged_or_missing_saved_environment_still_reports_the_problem(case, damage):
    src, build, published, expected = case
    first = make_html(src, build)
    assert warnings(first, src) == expected
    pickle = build / "doctrees" / "environment.pickle"
    if damage == "garbage":
        pickle.write_bytes(b"\x80\x05not a pickle at all")
    elif damage == "empty":
        pickle.write_bytes(b"")
    else:
        pickle.unlink(missing_ok=True)
    (build / "doctrees" / driver.MARK).unlink()  # even without the mark
    again = make_html(src, build)
    assert again.returncode == 1
    assert warnings(again, src) == expected
    assert output(build) == published
    fix_problem(src)
    fixed = make_html(src, build)
    assert fixed.returncode == 0, fixed.stderr
    assert warnings(fixed, src) == []


def test_leftovers_of_killed_steps_never_reach_the_published_site(case):
    src, build, published, _expected = case
    fix_problem(src)
    staging = build / "staging" / "html"
    # what a killed search-index step, live preview job and publish leave behind
    (staging / ".pagefind.4242.new").mkdir()
    (staging / ".pagefind.4242.new" / "pagefind-entry.json").write_text("{}")
    (staging / ".pagefind-job.json").write_text("{}")
    (build / "html.new.4242" / "html").mkdir(parents=True)
    (build / "html.new.4242" / "index.html").write_text("half a copy")
    result = make_html(src, build)
    assert result.returncode == 0, result.stderr
    site = build / "html"
    assert sorted(p.name for p in site.iterdir() if p.name.startswith(".")) == [".buildinfo"]
    assert not list(build.glob("html.*"))
    assert not list(site.rglob("html"))  # no nested copy of the site
    assert output(build) == published


def test_a_publish_killed_between_its_two_renames_is_undone(case):
    """Where the folders cannot be exchanged in one step, the old site is moved aside
    first; a build killed right then leaves no site at html: the next build puts the
    last good one back, even if that build fails."""
    src, build, published, expected = case
    (build / "html").rename(build / "html.old.4242")
    result = make_html(src, build)
    assert result.returncode == 1
    assert warnings(result, src) == expected
    assert output(build) == published
    assert not (build / "html.old.4242").exists()


def test_a_publish_that_fails_leaves_the_published_site(case, monkeypatch, capsys):
    src, build, published, _expected = case
    fix_problem(src)
    for name in ("KB_DRAFTS", "KB_SEARCH_INDEX", "READTHEDOCS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(DOCS / "_ext"))

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system", str(build / "html.new.1"))

    monkeypatch.setattr(driver.shutil, "copy2", read_only)
    monkeypatch.setattr(driver.os, "link", read_only)
    status = driver.build_html(build, src, ["-n", "-W", "--keep-going", "-q"])
    err = capsys.readouterr().out
    assert status == 1
    assert "could not be published" in err and "Read-only file system" in err
    assert "the site there is unchanged" in err
    assert output(build) == published
    assert (build / "doctrees" / driver.MARK).exists()  # the next build starts over


#: The driver's search step (kb/pagefind_delta.py), run by this script instead: it waits
#: until every page but the search index has been copied for publishing (the driver does
#: that while the step runs), checks that the index itself is not copied yet, then does
#: what SEARCH_THEN says: "index" runs the real step, "fail" exits 1, "interrupt" sends
#: Ctrl-C to the driver.
SEARCH_STEP = """
import os, runpy, signal, sys, time
from pathlib import Path
build, then = Path(os.environ["KB_TEST_BUILD"]), os.environ["KB_TEST_SEARCH_THEN"]
staging = build / "staging" / "html"
def files(top):
    return {p.relative_to(top).as_posix() for p in top.rglob("*") if p.is_file()
            and p.relative_to(top).parts[0] != "pagefind"
            and (not p.name.startswith(".") or p.name == ".buildinfo")
            and not any(part.startswith(".") for part in p.relative_to(top).parts[:-1])}
want, deadline = files(staging), time.monotonic() + 60
while True:
    copies = list(build.glob("html.new.*"))
    if copies and files(copies[0]) == want:
        break
    assert time.monotonic() < deadline, "the pages were not copied during the search step"
    time.sleep(0.02)
assert not (copies[0] / "pagefind").exists(), "the search index was copied before it was built"
Path(os.environ["KB_TEST_BUILD"], "copied-during-search").write_text(str(len(want)))
if then == "fail":
    sys.exit(1)
if then == "interrupt":
    os.kill(os.getppid(), signal.SIGINT)
    time.sleep(1)
    sys.exit(130)
if then == "fail after ready":  # the real step, then "ready", then a failure
    ready_fd = int(sys.argv.pop())
    sys.argv = sys.argv[1:]
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as end:
        assert end.code == 0, end.code
    os.write(ready_fd, b"ready\\n")
    sys.exit(1)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def search_step_replaced(monkeypatch, build: Path, then: str) -> None:
    real = subprocess.Popen

    def popen(command, *args, **kwargs):
        if len(command) > 1 and str(command[1]).endswith("pagefind_delta.py"):
            command = [sys.executable, "-c", SEARCH_STEP, *command[1:]]
        return real(command, *args, **kwargs)

    for name in ("KB_DRAFTS", "KB_SEARCH_INDEX", "READTHEDOCS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(DOCS / "_ext"))
    monkeypatch.setenv("KB_TEST_BUILD", str(build))
    monkeypatch.setenv("KB_TEST_SEARCH_THEN", then)
    monkeypatch.setattr(driver.subprocess, "Popen", popen)


def test_the_pages_are_copied_while_the_search_index_is_built(base, case, monkeypatch,
                                                              tmp_path):
    """The pages are final once Sphinx exits: they are copied for publishing while
    Pagefind runs, the search index after it; the site published is the one a build
    that copies everything at the end publishes, and the next publish links what did
    not change."""
    src, build, _published, _expected = case
    fix_problem(src)
    search_step_replaced(monkeypatch, build, "index")
    assert driver.build_html(build, src, ["-n", "-W", "--keep-going", "-q"]) == 0
    assert int((build / "copied-during-search").read_text()) > 20
    root, published, _ = base
    assert output(build) == published  # the sources are the base's again
    manifest = json.loads((build / "doctrees" / driver.PUBLISH_MANIFEST).read_text())
    site = {p.relative_to(build / "html").as_posix() for p in (build / "html").rglob("*")
            if p.is_file()}
    assert set(manifest) == site  # the pages and the search index: every file recorded
    assert any(name.startswith("pagefind/") for name in manifest)
    assert not list(build.glob("html.new.*"))
    # a build with nothing new: every published file is linked, not copied again
    copied = []
    real_copy = driver.shutil.copy2
    monkeypatch.setattr(driver.shutil, "copy2",
                        lambda a, b, **k: copied.append(str(a)) or real_copy(a, b, **k))
    (src / "articles" / "article-2.md").write_text(
        (src / "articles" / "article-2.md").read_text() + "\nOne more line.\n")
    assert driver.build_html(build, src, ["-n", "-W", "--keep-going", "-q"]) == 0
    articles = {Path(c).name for c in copied if "/articles/article-" in c}
    assert articles == {"article-2.html"}, copied  # the other articles are linked
    # the search index changed too: its files, never written in place, are the staging
    # folder's own, linked, not copied
    assert not any("/pagefind/" in c for c in copied)
    index = build / "html" / "pagefind"
    files = [p for p in index.rglob("*") if p.is_file()]
    assert files and all(p.samefile(build / "staging" / "html" / "pagefind" /
                                    p.relative_to(index)) for p in files)


@pytest.mark.parametrize("then", ["fail", "interrupt"])
def test_a_search_step_that_fails_or_is_stopped_publishes_nothing(case, monkeypatch, capsys,
                                                                 then):
    """The pages copied while the search index was being built are thrown away; the
    published site and its record of published files are as they were."""
    src, build, published, _expected = case
    fix_problem(src)
    manifest = (build / "doctrees" / driver.PUBLISH_MANIFEST).read_bytes()
    search_step_replaced(monkeypatch, build, then)
    status = driver.build_html(build, src, ["-n", "-W", "--keep-going", "-q"])
    said = capsys.readouterr().out
    assert (build / "copied-during-search").exists()  # the copy had been made
    assert status == (1 if then == "fail" else 130)
    assert "the published site in" in said and "is unchanged" in said
    assert output(build) == published
    assert not list(build.glob("html.new.*")) and not list(build.glob("html.old.*"))
    assert (build / "doctrees" / driver.PUBLISH_MANIFEST).read_bytes() == manifest


def test_a_second_build_waits_for_the_first_and_never_mixes_its_output(case, tmp_path):
    src, build, _published, _expected = case
    fix_problem(src)
    first = start(src, build, tmp_path, "html-page-context", 2)
    second = make_html(src, build, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    deadline = time.monotonic() + 60
    waiting = ""
    while "waiting for it to finish" not in waiting and time.monotonic() < deadline:
        waiting += second.stdout.readline()
    assert "Another build is running in this checkout (make html, process" in waiting
    time.sleep(1)
    assert second.poll() is None  # still waiting while the first one writes
    (tmp_path / "go").write_text("")
    assert first.wait(timeout=300) == 0, first.communicate()
    _out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    clean = make_html(src, tmp_path / "clean")
    assert clean.returncode == 0, clean.stderr
    assert output(build) == output(tmp_path / "clean")


def test_a_second_live_preview_stops_with_a_message(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(DOCS / "_ext")}
    command = [sys.executable, str(DRIVER), "live", str(tmp_path), "--",
               sys.executable, "-c", "import time; time.sleep(60)"]
    first = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while "livehtml" not in (tmp_path / ".live.lock").read_text() \
                if (tmp_path / ".live.lock").exists() else True:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        second = subprocess.run(command, env=env, capture_output=True, text=True,
                                timeout=30, stdin=subprocess.DEVNULL)
        assert second.returncode == 1
        assert ("make livehtml is already running in this checkout (make livehtml, process "
                f"{first.pid}") in second.stdout
    finally:
        first.kill()
        first.wait()


def test_a_damaged_search_index_file_is_not_carried_forward(tmp_path):
    """An incremental index update links the unchanged files of the last index into the
    new one; a file damaged since it was written makes it index every page instead."""
    from test_search_incremental import EXE, decode, edit, full_run, indexed, page_html
    from test_search_incremental import WORDS as PROSE

    from kb.pagefind_delta import STATE_FILE
    from kb.pagefind_delta import index_site

    site = tmp_path / "html"
    for i in range(12):
        page = site / f"articles/page-{i:02d}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(page_html(f"Page {i}", PROSE[i * 200:i * 200 + 200], ["Anxiety"]))
    state_file = tmp_path / "doctrees" / STATE_FILE
    assert index_site(EXE, site, "en", {}, indexed(site), state_file) is None
    bundle = site / "pagefind"
    damaged = sorted((bundle / "fragment").iterdir())[0]
    damaged.write_bytes(b"\x1f\x8b damaged")
    edit(site, "articles/page-05.html", "Page 5", "Page five")
    assert index_site(EXE, site, "en", {}, indexed(site), state_file) is None
    assert decode(bundle) == decode(full_run(site, tmp_path / "full"))


def test_a_damaged_index_file_in_the_build_folder_is_not_published_again(base, tmp_path):
    """The same through make html: the staged search index damaged between two builds;
    after an edit elsewhere, the published index is a clean build's. (Today a Sphinx
    build's index is never updated in place: kb/pagefind_delta.py cannot record it, "an
    unknown word layout", so every index is a full run; the test above proves the update
    path, this one guards make html's whichever path it takes.)"""
    root, _published, _expected = base
    src, build = tmp_path / "src", tmp_path / "build"
    shutil.copytree(root / "src", src)
    shutil.copytree(root / "build", build, symlinks=True)
    fragments = sorted((build / "staging/html/pagefind/fragment").iterdir())
    for fragment in fragments:
        fragment.write_bytes(b"\x1f\x8b damaged")
    proj = project()
    proj.change_description()
    proj.write(src)
    result = make_html(src, build)
    assert result.returncode == 0, result.stderr
    clean = make_html(src, tmp_path / "clean")
    assert clean.returncode == 0, clean.stderr
    got, want = output(build), output(tmp_path / "clean")
    assert got["pagefind (decoded)"] == want["pagefind (decoded)"]
    assert got == want


def test_a_build_folder_that_cannot_be_written_gives_a_message_not_a_traceback(
        case, monkeypatch, capsys):
    src, build, published, _expected = case

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(build / ".lock"))

    monkeypatch.setattr(driver.fcntl, "flock", refuse)
    status = driver.main(["html", str(build), str(src), "--", "-q"])
    out = capsys.readouterr().out
    assert status == 1
    assert out == (f"Could not use the build folder {build} (Permission denied: "
                   f"{build / '.lock'}); the published site is unchanged. Check that "
                   "folder's permissions and free space, then run the command again.\n")
    assert output(build) == published


@pytest.mark.parametrize("clean", [False, True], ids=["edit", "clean"])
def test_the_search_step_starts_beside_sphinx_and_reads_ahead_after_a_small_read(
        base, case, monkeypatch, clean):
    """The search step's process is started with Sphinx; it is told to read the last
    index's words ahead once Sphinx has saved its environment in the background (a
    small read), never after a clean build, and to run its job once Sphinx is done."""
    src, build, _published, _expected = case
    fix_problem(src)
    for name in ("KB_DRAFTS", "KB_SEARCH_INDEX", "READTHEDOCS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(DOCS / "_ext"))
    options = ["-n", "-W", "--keep-going", "-q"]
    if clean:
        shutil.rmtree(build)
    else:  # the copy is read again in its new place (Sphinx: another source folder)
        assert driver.build_html(build, src, options) == 0
        time.sleep(0.05)
        article = src / "articles" / "article-2.md"
        article.write_text(article.read_text() + "\nOne more line about rest.\n")
    sent = []
    real = driver.Searcher.send
    monkeypatch.setattr(driver.Searcher, "send",
                        lambda self, command: sent.append(command) or real(self, command))
    assert driver.build_html(build, src, options) == 0
    assert sent == (["go"] if clean else ["words", "go"])
    if clean:
        assert output(build) == base[1]
    else:
        assert "One more line about rest." in (build / "html" / "articles" /
                                               "article-2.html").read_text()


def test_a_search_step_that_fails_after_its_index_is_in_place_still_publishes(
        base, case, monkeypatch, capsys):
    """The search step says "ready" once its index is in place, and saves what the index
    was made from while the site is published; if that fails, the site (complete) is
    published, with a message, and the build succeeds."""
    src, build, _published, _expected = case
    fix_problem(src)
    search_step_replaced(monkeypatch, build, "fail after ready")
    status = driver.build_html(build, src, ["-n", "-W", "--keep-going", "-q"])
    said = capsys.readouterr().out
    assert status == 0, said
    assert ("The site is published, but the search index's record of what it holds "
            "could not be saved: the next build indexes every page again.") in said
    assert output(build) == base[1]
