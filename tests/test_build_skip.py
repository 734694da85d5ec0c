"""``make html`` when nothing changed, and publishing only what changed (kb/build.py).

A build whose inputs are exactly those of the last published build does not start Sphinx;
any change to what a build reads starts it. Publishing hard-links the files Sphinx did not
rewrite from the published copies and copies the rest, and the published site is always
exactly what Sphinx wrote.
"""

from __future__ import annotations

import ast
import gzip
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import REPO
from project_model import DRIVER, Project, make_html, sphinx_env

UP_TO_DATE = "Nothing has changed since the last build"
HOOKS = f"""
import sys as _sys
_sys.path.insert(0, {str(REPO / 'tests' / 'extensions')!r})
extensions = [*extensions, "build_hooks"]
"""


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A built project: the next build with no change is skipped."""
    root = tmp_path_factory.mktemp("skip")
    proj = Project(random.Random(5))
    # the .bib outside the source folder, as the site's; the test-only hooks that stop a
    # build at a phase (tests/extensions/build_hooks.py, idle unless KB_TEST_STOP_AT)
    proj.conf_extra = HOOKS + 'bibtex_bibfiles = ["../references.bib"]\n'
    proj.write(root / "src")
    (root / "src" / "refs.bib").rename(root / "references.bib")
    time.sleep(0.2)  # files written just before a build are not trusted (see build.py)
    result = make_html(root / "src", root / "build")
    assert result.returncode == 0, result.stderr
    assert UP_TO_DATE not in result.stdout
    return root


@pytest.fixture
def case(built, tmp_path):
    """A copy of the built project (sources, .bib and build folder)."""
    shutil.copytree(built, tmp_path / "p", symlinks=True)
    root = tmp_path / "p"
    (root / "build" / ".lock").unlink(missing_ok=True)
    # the copy has new inodes, change times and paths: one build records them
    time.sleep(0.2)
    assert make_html(root / "src", root / "build").returncode == 0
    return root


def test_nothing_changed_means_sphinx_is_not_started(case):
    before = tree(case / "build" / "html")
    result = make_html(case / "src", case / "build")
    assert result.returncode == 0
    assert UP_TO_DATE in result.stdout and result.stderr == ""
    assert tree(case / "build" / "html") == before


def _edit_article(root: Path) -> None:
    path = sorted((root / "src" / "articles").glob("*.md"))[0]
    path.write_text(path.read_text() + "\nA new closing sentence about sleep.\n")


def _touch_bib(root: Path) -> None:
    bib = root / "references.bib"
    bib.write_text(bib.read_text() + "\n")


def _same_text_new_file(root: Path) -> None:
    # an editor that saves by writing a new file and renaming it over the old one
    path = sorted((root / "src" / "articles").glob("*.md"))[0]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(path.read_text())
    os.replace(tmp, path)


def _edit_extension(root: Path) -> None:
    path = root / "src" / "conf.py"
    path.write_text(path.read_text() + "\n# a comment\n")


def _new_data_file(root: Path) -> None:
    (root / "src" / "_static" / "extra.css").parent.mkdir(exist_ok=True)
    (root / "src" / "_static" / "extra.css").write_text("p { margin: 0 }\n")


def _remove_published_page(root: Path) -> None:
    shutil.rmtree(root / "build" / "html")


CHANGES = {"article edited": (_edit_article, {}),
           "references.bib changed (outside the source folder)": (_touch_bib, {}),
           "same text, saved as a new file": (_same_text_new_file, {}),
           "conf.py changed": (_edit_extension, {}),
           "a new static file": (_new_data_file, {}),
           "published site removed": (_remove_published_page, {}),
           "drafts setting": (None, {"KB_DRAFTS": "0"}),
           "Read the Docs": (None, {"READTHEDOCS": "True",
                                    "READTHEDOCS_VERSION_TYPE": "external"})}


@pytest.mark.parametrize("change", list(CHANGES))
def test_any_change_to_what_the_build_reads_starts_sphinx(case, change):
    edit, environ = CHANGES[change]
    if edit:
        edit(case)
    command = [sys.executable, str(DRIVER), "html", str(case / "build"), str(case / "src"),
               "--", "-n", "-W", "--keep-going", "-q"]
    result = subprocess.run(command, env={**sphinx_env(), **environ}, capture_output=True,
                            text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert UP_TO_DATE not in result.stdout, change
    assert result.returncode == 0, result.stderr
    assert "Built:" in result.stdout
    assert (case / "build" / "html" / "index.html").is_file()


def test_a_failed_build_is_never_skipped_until_fixed(case):
    path = sorted((case / "src" / "articles").glob("*.md"))[0]
    good = path.read_text()
    path.write_text(good.replace("## References", "{cite:p}`nosuchwork2020`\n\n## References"))
    for _ in range(2):  # the same broken sources: the problem is reported each time
        result = make_html(case / "src", case / "build")
        assert result.returncode == 1 and "nosuchwork2020" in result.stderr
        assert UP_TO_DATE not in result.stdout
    path.write_text(good)
    result = make_html(case / "src", case / "build")
    assert result.returncode == 0 and UP_TO_DATE not in result.stdout


def _stamps(folder: Path) -> dict[str, tuple]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns,
                                               p.stat().st_ctime_ns, p.stat().st_ino)
            for p in folder.rglob("*") if p.is_file()}


def test_publishing_links_unchanged_files_and_copies_changed_ones(case):
    published = case / "build" / "html"
    staging = case / "build" / "staging" / "html"
    inodes = {rel: stamp[3] for rel, stamp in _stamps(published).items()}
    staged_before = _stamps(staging)
    _edit_article(case)
    result = make_html(case / "src", case / "build")
    assert result.returncode == 0, result.stderr
    after = {rel: stamp[3] for rel, stamp in _stamps(published).items()}
    staged_after = _stamps(staging)
    kept = {rel for rel in after if inodes.get(rel) == after[rel]}
    # the search index's update hard-links the files it keeps from the last index, which
    # sets their change time: there, size, modification time and inode say "the same file"
    def same(rel):
        old, new = staged_before.get(rel), staged_after.get(rel)
        if old is None or new is None:
            return False
        if rel.startswith("pagefind/"):
            return (old[0], old[1], old[3]) == (new[0], new[1], new[3])
        return old == new
    untouched = {rel for rel in after if same(rel)}
    # exactly the files Sphinx and the search index left alone are the published copies
    assert kept == untouched
    assert any(rel.startswith("pagefind/fragment/") for rel in kept)
    edited = sorted((case / "src" / "articles").glob("*.md"))[0].stem
    assert f"articles/{edited}.html" not in kept  # rewritten: a new copy
    assert len(kept) >= 20, sorted(kept)  # the theme's files, the other articles...
    # the published site is exactly what Sphinx wrote (leftover dot-files aside)
    staged = {rel: data for rel, data in tree(staging).items()
              if not any(part.startswith(".") for part in rel.split("/"))
              or rel == ".buildinfo"}
    assert tree(published) == staged
    # no published page shares its inode with a staging file (Sphinx writes those in
    # place: a shared one would change the published site during the next build); the
    # search index's files, never written in place, are the staging folder's own
    staged_inodes = {rel: stamp[3] for rel, stamp in staged_after.items()}
    shared = {rel for rel, inode in after.items() if staged_inodes.get(rel) == inode}
    assert shared == {rel for rel in after if rel.startswith("pagefind/")}
    assert not set(staged_inodes.values()) & {after[rel] for rel in after
                                             if not rel.startswith("pagefind/")}


def test_a_published_search_index_file_is_never_written_in_place(case, tmp_path):
    """The search index's files are published as links to the staging folder's. A link
    to each published file is held aside (so that its inode stays its own), then two
    more builds run (an edit, and an edit back): every file held still has its content,
    so no build wrote into a published index file, at either place."""
    published = case / "build" / "html"
    held = tmp_path / "held"
    first = {}
    for i, p in enumerate(sorted(x for x in (published / "pagefind").rglob("*")
                                 if x.is_file())):
        held.mkdir(exist_ok=True)
        os.link(p, held / str(i))
        first[held / str(i)] = p.read_bytes()
    assert len(first) > 10
    path = sorted((case / "src" / "articles").glob("*.md"))[0]
    original = path.read_text()
    for text in (original + "\nA new closing sentence about sleep.\n", original):
        path.write_text(text)
        time.sleep(0.05)
        result = make_html(case / "src", case / "build")
        assert result.returncode == 0, result.stderr
    assert {p: p.read_bytes() for p in first} == first
    # ... and some of them are still the published index's own files
    inodes = {p.stat().st_ino for p in first}
    assert any(p.stat().st_ino in inodes for p in (published / "pagefind").rglob("*")
               if p.is_file())


@pytest.mark.parametrize("phase", ["env-updated", "build-finished"])
def test_a_change_made_while_the_build_runs_is_built_next_time(case, phase, tmp_path):
    """A file changed during a build (here: while it is stopped once the pages are read,
    or before its search index) may have been read before the change: that build is not
    recorded as made from it, so the next build runs Sphinx and shows the change."""
    path = sorted((case / "src" / "articles").glob("*.md"))[0]
    environ = {**sphinx_env(), "KB_TEST_STOP_AT": phase,
               "KB_TEST_STOP_FILE": str(tmp_path / "stopped"),
               "KB_TEST_GO_FILE": str(tmp_path / "go")}
    command = [sys.executable, str(DRIVER), "html", str(case / "build"), str(case / "src"),
               "--", "-n", "-W", "--keep-going", "-q"]
    first = subprocess.Popen(command, env=environ, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (tmp_path / "stopped").exists():
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    _edit_article(case)
    (tmp_path / "go").write_text("")
    assert first.wait(timeout=600) == 0
    # the same command and environment (the stop file exists now: no stop)
    result = subprocess.run(command, env=environ, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert UP_TO_DATE not in result.stdout
    page = case / "build" / "html" / "articles" / (path.stem + ".html")
    assert "A new closing sentence about sleep." in page.read_text()
    # and now it is recorded: the same command again has nothing to do
    again = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=600)
    assert UP_TO_DATE in again.stdout


def test_a_new_page_is_recorded_and_the_next_build_with_no_change_is_skipped(case):
    """make html adds a new page's address to the record of published URLs in the source
    folder; that write of its own does not count as a change made during the build."""
    new = case / "src" / "articles" / "brand-new.md"
    first = sorted((case / "src" / "articles").glob("*.md"))[0]
    new.write_text(first.read_text().replace("title: ", "title: Brand new ", 1))
    time.sleep(0.2)
    result = make_html(case / "src", case / "build")
    assert result.returncode == 0, result.stderr
    assert "New published addresses recorded" in result.stdout
    assert "articles/brand-new.html" in (case / "src" / "_data" / "published-urls.txt"
                                         ).read_text()
    again = make_html(case / "src", case / "build")
    assert UP_TO_DATE in again.stdout


def test_a_published_file_changed_by_hand_is_replaced_by_the_next_build(case):
    """Publishing links a published copy only if it is still the one it published: one
    edited by hand in _build/html is replaced by Sphinx's file at the next build, even
    when Sphinx did not rewrite it."""
    published = case / "build" / "html"
    css = published / "_static" / "kb.css"
    good = css.read_bytes()
    with open(css, "ab") as f:  # in place, as an editor might
        f.write(b"\n/* changed by hand */\n")
    _edit_article(case)  # so that the next build runs and publishes
    result = make_html(case / "src", case / "build")
    assert result.returncode == 0, result.stderr
    assert css.read_bytes() == good


# -- The search index is built after Sphinx has exited (issue 18: peak memory) ----------

def fake_pagefind(folder: Path, log: Path, fail: bool = False) -> dict:
    """A ``pagefind_bin`` package, first on the path, whose Pagefind writes down its
    parent process and every Sphinx process still running, then runs the real Pagefind
    (or fails). Returns the environment that uses it."""
    from kb.pagefind_delta import pagefind_executable
    real = pagefind_executable()
    package = folder / "pagefind_bin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from pathlib import Path\n\n\ndef get_executable():\n"
        "    return Path(__file__).with_name('pagefind')\n")
    (package / "pagefind").write_text(f"""#!{sys.executable}
import os, sys
def cmdline(pid):
    try:
        with open(f"/proc/{{pid}}/cmdline", "rb") as f:
            return f.read().replace(b"\\0", b" ").decode()
    except OSError:
        return ""
sphinx = [c for c in map(cmdline, (p for p in os.listdir("/proc") if p.isdigit()))
          if "-m sphinx" in c and {str(folder.parent)!r} in c]
with open({str(log)!r}, "a") as out:
    out.write(repr((cmdline(os.getppid()), sphinx)) + "\\n")
if {fail!r}:
    sys.exit("pagefind: the disk is full")
os.execv({str(real)!r}, [{str(real)!r}, *sys.argv[1:]])
""")
    (package / "pagefind").chmod(0o755)
    env = sphinx_env()
    env["PYTHONPATH"] = f"{folder}{os.pathsep}{env['PYTHONPATH']}"
    return env


def test_the_search_index_is_built_after_sphinx_has_exited(case, tmp_path):
    """make html runs Pagefind once the Sphinx process is gone (Pagefind's memory is
    not added to Sphinx's), from the job Sphinx left, and the published index holds the
    edit."""
    log = tmp_path / "pagefind.log"
    env = fake_pagefind(case / "fake", log)
    _edit_article(case)
    result = subprocess.run([sys.executable, str(DRIVER), "html", str(case / "build"),
                             str(case / "src"), "--", "-n", "-W", "--keep-going", "-q"],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    runs = [ast.literal_eval(line) for line in log.read_text().splitlines()]
    assert runs, "Pagefind did not run"
    for parent, sphinx in runs:
        assert "pagefind_delta.py" in parent and "kb-search-job.json" in parent
        assert sphinx == []
    assert not (case / "build" / "doctrees" / "kb-search-job.json").exists()
    fragments = [p.read_bytes() for p in
                 (case / "build" / "html" / "pagefind" / "fragment").iterdir()]
    assert any(b"A new closing sentence about sleep." in gzip.decompress(f)
               for f in fragments)


def test_a_search_index_that_fails_fails_the_build_and_publishes_nothing(case, tmp_path):
    before = tree(case / "build" / "html")
    env = fake_pagefind(case / "fake", tmp_path / "pagefind.log", fail=True)
    _edit_article(case)
    command = [sys.executable, str(DRIVER), "html", str(case / "build"), str(case / "src"),
               "--", "-n", "-W", "--keep-going", "-q"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1
    assert ("search index: Pagefind could not build the search index (exit 1): "
            "pagefind: the disk is full") in result.stderr
    assert "Build failed: the published site" in result.stdout
    assert tree(case / "build" / "html") == before
    # fixed (the real Pagefind): the next build reads every page again and publishes
    result = make_html(case / "src", case / "build")
    assert result.returncode == 0, result.stderr
    assert "reading every page again" in result.stdout
    page = sorted((case / "build" / "html" / "articles").glob("*.html"))[0]
    assert "A new closing sentence about sleep." in page.read_text()


def _retitle_article(root: Path, title: str) -> str:
    """Give the first article a new title; returns its document name."""
    path = sorted((root / "src" / "articles").glob("*.md"))[0]
    text = path.read_text()
    heading = next(line for line in text.splitlines() if line.startswith("# "))
    path.write_text(text.replace(heading, f"# {title}", 1))
    return f"articles/{path.stem}"


def _saved_environment(build: Path):
    import pickle

    with open(build / "doctrees" / "environment.pickle", "rb") as file:
        return pickle.load(file)


def test_after_an_edit_the_environment_is_saved_while_the_pages_are_written(case,
                                                                           tmp_path):
    """After a small read Sphinx's environment is pickled by a forked process while the
    main process writes the pages (kb/upstream.py); the driver waits for it, and the
    saved environment is complete: it holds the edit, and the next builds use it."""
    log = tmp_path / "save.log"
    docname = _retitle_article(case, "Sleep and worry, retitled")
    env = {**sphinx_env(), "KB_TEST_SAVE_LOG": str(log)}
    command = [sys.executable, str(DRIVER), "html", str(case / "build"), str(case / "src"),
               "--", "-n", "-W", "--keep-going", "-q"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    events = [line.split() for line in log.read_text().splitlines()]
    saves = [(what, int(pid), float(when)) for what, pid, when in events
             if what.startswith("save")]
    pages = [(int(pid), float(when)) for what, pid, when in events if what == "page"]
    assert [what for what, _pid, _when in saves] == ["save-start", "save-end"]
    assert pages and {pid for pid, _when in pages} != {saves[0][1]}
    # the pages were written by Sphinx's process while another one was saving
    assert saves[0][1] not in {pid for pid, _when in pages}
    assert any(saves[0][2] < when for _pid, when in pages)
    assert _saved_environment(case / "build").titles[docname].astext() == (
        "Sleep and worry, retitled")
    assert "Sleep and worry, retitled" in (case / "build" / "html" /
                                           f"{docname}.html").read_text()
    # the saved environment is the one the next builds start from
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert UP_TO_DATE in again.stdout
    docname = _retitle_article(case, "Sleep and worry, again")
    assert make_html(case / "src", case / "build").returncode == 0
    assert _saved_environment(case / "build").titles[docname].astext() == (
        "Sleep and worry, again")


def test_an_environment_that_cannot_be_saved_fails_the_build_and_publishes_nothing(
        case, tmp_path):
    before = tree(case / "build" / "html")
    log = tmp_path / "save.log"
    _retitle_article(case, "Sleep and worry, retitled")
    env = {**sphinx_env(), "KB_TEST_UNPICKLABLE_ENV": "1", "KB_TEST_SAVE_LOG": str(log)}
    command = [sys.executable, str(DRIVER), "html", str(case / "build"), str(case / "src"),
               "--", "-n", "-W", "--keep-going", "-q"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, (result.stdout, result.stderr)
    doctrees = case / "build" / "doctrees"
    assert (f"Sphinx could not save what it read ({doctrees / 'environment.pickle'}: "
            "AttributeError: Can't pickle local object '_unpicklable.<locals>.<lambda>')"
            ) in result.stdout
    assert "Build failed: the published site" in result.stdout
    assert "Traceback" not in result.stderr
    assert [line.split()[0] for line in log.read_text().splitlines()
            if line.startswith("save")] == ["save-start"]  # in the background: it failed
    assert tree(case / "build" / "html") == before
    # fixed: the next build reads every page again and publishes
    result = make_html(case / "src", case / "build")
    assert result.returncode == 0, result.stderr
    assert "reading every page again" in result.stdout
    assert "Sleep and worry, retitled" in "".join(
        p.read_text() for p in (case / "build" / "html" / "articles").glob("*.html"))


def test_publishing_swaps_the_folders_in_one_step_without_running_ldconfig(tmp_path,
                                                                           monkeypatch):
    """renameat2(RENAME_EXCHANGE) comes from the C library the Python runs with; finding
    it does not start ``ldconfig`` (a subprocess in every build); without it, the swap
    reports that it cannot be done (publishing then renames in two steps)."""
    import ctypes.util

    from kb import build

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "page.html").write_text("new")
    (b / "page.html").write_text("old")
    monkeypatch.setattr(ctypes.util, "find_library",
                        lambda name: pytest.fail("find_library runs ldconfig"))
    assert build._exchange(a, b) is True
    assert (a / "page.html").read_text() == "old" and (b / "page.html").read_text() == "new"

    def no_library(*args, **kwargs):
        raise OSError("no such library")
    monkeypatch.setattr(ctypes, "CDLL", no_library)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert build._exchange(a, b) is False
    assert (a / "page.html").read_text() == "old"


def test_the_extension_is_compiled_once_where_python_writes_no_bytecode(tmp_path):
    """Where PYTHONDONTWRITEBYTECODE is set (a container's default), the driver writes the
    extension's bytecode, as pip does for an installed package: each module is then
    loaded from it, not compiled again at every build; a changed module is compiled
    again, and only it."""
    ext = tmp_path / "ext"
    shutil.copytree(REPO / "docs" / "_ext" / "kb", ext / "kb",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    keep = (f"import sys; sys.path.insert(0, {str(DRIVER.parent)!r}); import build; "
            f"build.keep_bytecode(build.Path({str(ext)!r}), build.Path({str(ext)!r}), "
            f"build.Path({str(tmp_path / 'none')!r}))")

    def compiled() -> dict[str, int]:
        subprocess.run([sys.executable, "-c", keep], env=env, check=True)
        return {p.relative_to(ext).as_posix(): p.stat().st_mtime_ns
                for p in (ext / "kb").rglob("*.pyc")}

    first = compiled()
    modules = sorted((ext / "kb").rglob("*.py"))
    assert len(first) == len(modules) > 20
    # the import system takes each module from its bytecode (-v says where from)
    loaded = subprocess.run(
        [sys.executable, "-v", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "import kb.apa, kb.pagefind_delta, kb.upstream", str(ext)],
        env=env, capture_output=True, text=True, check=True).stderr
    for name in ("apa/__init__", "pagefind_delta", "upstream"):
        source = ext / "kb" / f"{name}.py"
        assert f"matches {source}" in loaded, name
    time.sleep(0.05)
    assert compiled() == first  # up to date: nothing written
    edited = ext / "kb" / "lint.py"
    edited.write_text(edited.read_text() + "\n# an edit\n")
    again = compiled()
    assert {name for name in first if again[name] != first[name]} == {
        "kb/__pycache__/lint.cpython-%d%d.pyc" % sys.version_info[:2]}
    # where Python writes bytecode itself, the driver leaves it to Python
    shutil.rmtree(ext / "kb" / "__pycache__")
    subprocess.run([sys.executable, "-c", keep], check=True,
                   env={k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"})
    assert not (ext / "kb" / "__pycache__").exists()
