"""Build-time, memory and search-size benchmark of the knowledge base, with the stock
stack measured in the same run as the baseline.

For each corpus size (default 100, 500 and 2,000 articles; ``--quick``: 100) and each
stack, the same generated articles and references.bib are built:

* ``kb``: the site (docs/ skeleton, the kb extension), built as ``make html`` builds it:
  its driver (``docs/_ext/kb/build.py``: lock, "nothing changed" check, Sphinx with
  ``-b html -n -W --keep-going`` into a staging folder, publish);
* ``stock``: plain Sphinx + myst-parser + sphinxcontrib-bibtex + furo, a flat toctree
  of every article and one ``{bibliography}`` per article filtered to the page's
  citations (``corpus.make_stock``); no ``-W``, since stock sphinxcontrib-bibtex warns
  about every work cited on two pages; its warnings are counted.

Builds, in order, each in its own child process with ``-q``:

=================  ==========================================================================
clean -j 1         output and saved environment deleted, ``-j 1``
clean -j auto      output and saved environment deleted (another folder), ``-j auto``
no-change          the same command again                         } on the ``-j auto``
edit-article       one article's text changed                      } folder, with
add-bib-entry      a new entry appended to references.bib, cited    } ``--incremental-jobs``
                   by no article                                   } (default auto)
cite-new-entry     another new entry, cited by one article
change-topics      one article's topics changed
=================  ==========================================================================

Each build records wall and CPU time, peak RSS (largest process) and peak tree PSS (sum
over Sphinx and its child processes, sampled every 0.2 s), the 1-minute load average
before it, pages re-read (doctrees written) and re-written (HTML written; article pages
separately, with their names when few). After the clean ``-j auto`` build: the output
size (bytes of the built folder) and the bytes of a first search (``search_bytes.py``,
headless Chromium; "n/a (no pagefind bundle)" until the site has one; the stock stack's
built-in search is measured the same way).

The downloads and handouts (``--formats on``, the default): after the kb builds of each
size, the EPUB of the whole corpus (``make epub``'s build, from scratch with its own saved
environment; and again reusing the website's, as Read the Docs builds its downloads after
the HTML), with its time, memory and size; and printing the first article to PDF in
headless Chromium (US Letter; best of 3), with its pages.

Stock builds have a time cap (``--stock-cap``, default 600 s): a build that reaches it is
killed and recorded as "> cap", a lower bound, never as a time. The incremental builds
after a capped clean build are not run, and a build capped at one size is not run at a
larger one (it would take at least as long): both are recorded as such.

The table shows each figure of both stacks side by side with the ratio stock / kb, and
the issue's goals with the measured value; ``benchmarks/results.json`` keeps every value.
With ``--repeat N`` the kb incremental builds run N times (``--repeat-clean M``: the clean
builds M times) and the table shows the best time (the run least disturbed by other work
on the machine) with the load average before that run; the JSON also keeps the median
and every value. The run fails if a kb build warns or fails, or a page lacks its reference list.

    make bench                                  # sizes 100,500,2000, both stacks
    make bench BENCH_ARGS="--quick"             # 100 articles only
    .venv/bin/python benchmarks/bench.py --help
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import math
import os
import platform
import pstats
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus as corpus_mod  # noqa: E402
import peers as peers_mod  # noqa: E402
import search_bytes  # noqa: E402
from corpus import make_corpus, make_stock, snapshot_skeleton  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CLEAN = ("clean -j 1", "clean -j auto")
INCREMENTAL = ("no-change", "edit-article", "add-bib-entry", "cite-new-entry",
               "change-topics")
PHASES = CLEAN + INCREMENTAL
STACKS = ("kb", "stock")
PACKAGES = ("sphinx", "docutils", "myst-parser", "sphinxcontrib-bibtex", "pybtex", "furo",
            "sphinx-sitemap", "sphinxext-opengraph", "playwright")
#: The issue's goals (N = 500 unless stated).
GOAL_SIZE, GOAL_BIG = 500, 2000
#: Issue 18: an edit <= 1.5 s at 500 articles and <= 3 s at 2,000 (and faster than Hugo
#: + Pagefind's rebuild), a no-change rebuild <= 1.5 s, clean builds faster than MkDocs
#: Material, growth 500 -> 2,000 <= 4.2x, memory <= 1 GiB, a first search <= 160 KiB.
GOAL_FULL_S, GOAL_NO_CHANGE_S, GOAL_EDIT_S, GOAL_EDIT_BIG_S = 30.0, 1.5, 1.5, 3.0
GOAL_GROWTH, GOAL_MEMORY_MIB, GOAL_SEARCH_KIB = 4.2, 1024.0, 160.0
#: Extra works appended to references.bib by the add-bib-entry / cite-new-entry builds.
EXTRA_ENTRY_UNCITED, EXTRA_ENTRY_CITED = 9000, 9001


#: ``make html``'s driver (docs/_ext/kb/build.py): the site's builds are measured as a
#: writer runs them, with its lock, its "nothing changed" check and its publish step.
DRIVER = REPO / "docs" / "_ext" / "kb" / "build.py"


def sphinx_command(stack: str, srcdir: Path, outdir: Path, doctrees: Path,
                   jobs: str) -> list[str]:
    """The build command. The site (``kb``): ``make html``, which runs Sphinx into
    ``BUILDDIR/staging/html`` with ``BUILDDIR/doctrees`` and publishes to
    ``BUILDDIR/html`` (*outdir* and *doctrees* must be those two); the stock stack:
    sphinx-build."""
    if stack == "kb":
        builddir = Path(outdir).parent
        assert Path(outdir) == builddir / "html" and Path(doctrees) == builddir / "doctrees"
        return [sys.executable, str(DRIVER), "html", str(builddir), str(srcdir), "--",
                "-n", "-W", "--keep-going", "-q", "-j", str(jobs)]
    return [sys.executable, "-m", "sphinx", "-b", "html", "-q", "--keep-going",
            "-j", str(jobs), "-d", str(doctrees), str(srcdir), str(outdir)]


def child_env() -> dict:
    """The environment of a local build (no Read the Docs variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("READTHEDOCS")}
    env.pop("KB_DRAFTS", None)
    return env


def _process_tree(root: int) -> list[int]:
    """*root* and its live descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class TreeMemorySampler(threading.Thread):
    """Samples the summed PSS of a process and all its descendants (Sphinx's -j workers,
    sphinx-sitemap's multiprocessing manager). PSS shares copy-on-write pages between
    processes, so the sum is the memory the build really holds. A sample every
    *interval* seconds: a shorter peak can be missed."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kib, self.max_processes = 0, 0
        self.done = threading.Event()
        self.available = os.path.exists("/proc/self/smaps_rollup")

    def run(self) -> None:
        while self.available and not self.done.wait(self.interval):
            pids = _process_tree(self.pid)
            self.peak_kib = max(self.peak_kib, sum(_pss_kib(p) for p in pids))
            self.max_processes = max(self.max_processes, len(pids))

    def stop(self) -> None:
        self.done.set()
        self.join()


def run_measured(cmd: list[str], cwd: Path, cap_s: float | None = None,
                 env: dict | None = None) -> dict:
    """Run *cmd*; wall and CPU seconds, peak memory (MiB), exit code and output. With
    *cap_s*, a run still going after that many seconds is killed (with its workers) and
    returned with ``capped`` set."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, env=env or child_env(),
                                start_new_session=True)
        sampler = TreeMemorySampler(proc.pid)
        sampler.start()
        capped = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if cap_s is not None and time.perf_counter() - start > cap_s:
                capped = True
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - start
        sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4
        if capped:  # workers of a killed build: make sure none is left
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return {
        "wall_s": None if capped else round(wall, 3),
        "capped": capped,
        "cap_s": cap_s,
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        # Linux reports ru_maxrss in KiB.
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "peak_tree_pss_mib": (round(sampler.peak_kib / 1024, 1) if sampler.available
                              else None),
        "max_processes": sampler.max_processes,
        "returncode": proc.returncode,
        "stdout": stdout,
        "stderr": stderr,
    }


def written_since(root: Path, suffix: str, since_ns: int) -> list[str]:
    """Files under *root* (not _static) with *suffix* modified since *since_ns*."""
    if not root.exists():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob(f"*{suffix}")
                  if "_static" not in p.parts and p.stat().st_mtime_ns >= since_ns)


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def ref_id(key: str) -> str:
    from docutils.nodes import make_id
    return make_id("ref-" + key)


def _pages(outdir: Path, cited: dict[str, list[str]], problems: list[str]):
    """(page, cited keys, HTML) of each page in *cited*; a missing page is a problem."""
    for docname, keys in sorted(cited.items()):
        page = outdir / f"{docname}.html"
        if not page.exists():
            problems.append(f"{page.name} was not written")
            continue
        yield page, keys, page.read_text(encoding="utf-8")


def check_kb_output(outdir: Path, cited: dict[str, list[str]], bib_keys: set[str]
                    ) -> list[str]:
    """Problems with the built HTML: reference lists and citation links of the pages in
    *cited* (docname -> keys), and the bibliography page lists exactly *bib_keys*."""
    problems = []
    for page, keys, html in _pages(outdir, cited, problems):
        if "kb-reflist" not in html:
            problems.append(f"{page.name} has no reference list")
        for key in keys:
            if f'id="{ref_id(key)}"' not in html:
                problems.append(f"{page.name}: {key} is missing from its reference list")
            if f'href="#{ref_id(key)}"' not in html:
                problems.append(f"{page.name}: the citation of {key} does not link to it")
        if "{cite" in html or "cite:p" in html:
            problems.append(f"{page.name}: an unresolved citation mark")
    bib = outdir / "bibliography.html"
    found = bib.read_text(encoding="utf-8").count('class="kb-ref"') if bib.exists() else 0
    if found != len(bib_keys):
        problems.append(f"bibliography.html lists {found} works, expected {len(bib_keys)}")
    return problems


def check_stock_output(outdir: Path, cited: dict[str, list[str]]) -> list[str]:
    problems = []
    for page, keys, html in _pages(outdir, cited, problems):
        if "{cite" in html or "cite:p" in html:
            problems.append(f"{page.name}: an unresolved citation mark")
        if html.count('class="citation"') < len(keys):
            problems.append(f"{page.name}: its bibliography lists fewer than {len(keys)} works")
    return problems


class Project:
    """One stack's copy of a corpus: ``root/docs``, ``root/references.bib``; the edits of
    the incremental builds, and putting the edited files back before a clean build."""

    def __init__(self, stack: str, root: Path, manifest: dict, seed: int):
        self.stack, self.root, self.seed = stack, root, seed
        self.docs, self.bib = root / "docs", root / "references.bib"
        self.manifest = manifest
        self.cited = {d: list(k) for d, k in manifest["articles"].items()}
        self.bib_keys = set(manifest["cited_keys"])
        names = list(manifest["articles"])
        n = len(names)
        self.first = names[0]
        self.edited = names[n // 2]
        self.citing = names[n // 3]
        self.retopic = names[(n // 4) or min(1, n - 1)]
        self.topics = list(corpus_mod.yaml.safe_load(
            (root.parent / "docs" / "_data" / "topics.yaml" if stack == "stock"
             else self.docs / "_data" / "topics.yaml").read_text("utf-8")))
        self._pristine: dict[Path, str] = {}

    def path(self, docname: str) -> Path:
        return self.docs / f"{docname}.md"

    def _edit(self, path: Path, text: str) -> None:
        self._pristine.setdefault(path, path.read_text(encoding="utf-8"))
        path.write_text(text, encoding="utf-8")

    def restore(self) -> None:
        for path, text in self._pristine.items():
            path.write_text(text, encoding="utf-8")
        self._pristine.clear()
        self.cited = {d: list(k) for d, k in self.manifest["articles"].items()}
        self.bib_keys = set(self.manifest["cited_keys"])

    @staticmethod
    def _before_part1(text: str, paragraph: str) -> str:
        marker = "\n## Part 1:"
        if marker not in text:
            marker = "\n## References"
        return text.replace(marker, f"\n{paragraph}\n{marker}", 1)

    def edit_article(self) -> str:
        path = self.path(self.edited)
        self._edit(path, self._before_part1(
            path.read_text(encoding="utf-8"),
            "Edited for the benchmark: a new sentence about García and Flückiger.\n"))
        return self.edited

    def add_entry(self, i: int) -> str:
        key, text = corpus_mod._entry(self.seed, i)
        self._edit(self.bib, self.bib.read_text(encoding="utf-8") + "\n" + text)
        return key

    def cite_new_entry(self) -> str:
        key = self.add_entry(EXTRA_ENTRY_CITED)
        path = self.path(self.citing)
        self._edit(path, self._before_part1(
            path.read_text(encoding="utf-8"),
            f"A newly cited work for the benchmark {{cite:p}}`{key}`.\n"))
        self.cited[self.citing] = [*self.cited[self.citing], key]
        self.bib_keys.add(key)
        return key

    def change_topics(self) -> tuple[list[str], list[str]]:
        path = self.path(self.retopic)
        text = path.read_text(encoding="utf-8")
        match = re.search(r"^topics: \[(.*)\]$", text, re.M)
        old = [t.strip() for t in match.group(1).split(",")]
        new = [next(t for t in self.topics if t not in old)]
        self._edit(path, text.replace(match.group(0), f"topics: [{', '.join(new)}]", 1))
        return old, new


def build(project: Project, builddir: Path, jobs: str, phase: str,
          cap_s: float | None) -> dict:
    """One build of *phase* (its edit made first); the measurement and its checks."""
    outdir, doctrees = builddir / "html", builddir / "doctrees"
    expect = {}
    if phase in CLEAN:
        project.restore()
        shutil.rmtree(builddir, ignore_errors=True)
    elif phase == "edit-article":
        project.edit_article()
        expect = {"reread": [project.edited], "articles": [project.edited]}
    elif phase == "add-bib-entry":
        project.add_entry(EXTRA_ENTRY_UNCITED)
        expect = {"reread": [], "articles": []}
    elif phase == "cite-new-entry":
        project.cite_new_entry()
        expect = {"reread": [project.citing], "articles": [project.citing]}
    elif phase == "change-topics":
        old, new = project.change_topics()
        expect = {"reread": [project.retopic], "topic_pages": [f"topics/{t}" for t in old + new]}
    elif phase == "no-change":
        expect = {"reread": [], "articles": []}
    since = time.time_ns()
    load_before = os.getloadavg()[0]
    cmd = sphinx_command(project.stack, project.docs, outdir, doctrees, jobs)
    # the kb build's search index step (Pagefind, after the pages are written) reports
    # its time here: make html waits for it; the live preview does not (background)
    timing = builddir.parent / f".{builddir.name}-search-index.txt"
    timing.unlink(missing_ok=True)
    os.environ["KB_SEARCH_TIMING_FILE"] = str(timing)
    try:
        result = run_measured(cmd, project.root, cap_s)
    finally:
        os.environ.pop("KB_SEARCH_TIMING_FILE", None)
    search_runs = read_search_report(timing)
    timing.unlink(missing_ok=True)
    result["search_index_s"] = round(sum(run.get("s", 0.0) for run in search_runs), 3)
    result["search_index"] = search_runs
    result["loadavg_1min_before"] = round(load_before, 2)
    reread = [p[:-len(".doctree")] for p in written_since(doctrees, ".doctree", since)]
    written = [p[:-len(".html")] for p in written_since(outdir, ".html", since)]
    articles = [p for p in written if p.startswith("articles/bench-")]
    result.update(reread=len(reread), written=len(written), written_articles=len(articles),
                  reread_pages=reread if len(reread) <= 20 else None,
                  written_pages=written if len(written) <= 40 else None)
    result["warnings"] = len([line for line in result["stderr"].splitlines()
                              if "WARNING" in line or "ERROR" in line])
    problems, notes = [], []
    if result["capped"]:
        result.update(problems=[], notes=[f"capped at {cap_s:.0f} s"])
        return result
    if result["returncode"] != 0:
        problems.append(f"sphinx exited with status {result['returncode']}")
    if project.stack == "kb":
        if result["stderr"].strip():
            problems.append("warnings or errors on stderr")
        problems += search_fallbacks(phase, search_runs)
        pages = {d: project.cited[d] for d in {project.first, project.edited,
                                               project.citing}}
        problems += check_kb_output(outdir, pages, project.bib_keys)
        if "reread" in expect and sorted(reread) != sorted(expect["reread"]):
            notes.append(f"re-read {reread if len(reread) < 10 else len(reread)}, "
                         f"expected {expect['reread']}")
        if "articles" in expect and sorted(articles) != sorted(expect["articles"]):
            notes.append(f"rewrote article pages {articles if len(articles) < 10 else len(articles)}"
                         f", expected {expect['articles']}")
        for page in expect.get("topic_pages", ()):
            if page not in written:
                notes.append(f"{page} was not rewritten")
        if phase == "cite-new-entry" and "bibliography" not in written:
            notes.append("bibliography.html was not rewritten")
    else:
        pages = {d: project.cited[d] for d in {project.first, project.edited}}
        problems += check_stock_output(outdir, pages)
    result["problems"], result["notes"] = problems, notes
    return result


def read_search_report(path: Path) -> list[dict]:
    """What the kb build's search step wrote (``KB_SEARCH_TIMING_FILE``): one JSON line
    per index run with its seconds, ``mode`` (incremental or full), ``fallback`` and
    ``not_recorded``; a bare number (an older site) is the seconds alone."""
    if not path.exists():
        return []
    runs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            runs.append(json.loads(line) if line.startswith("{") else {"s": float(line)})
    return runs


def search_fallbacks(phase: str, runs: list[dict]) -> list[str]:
    """Problems: the incremental search index fell back to a full run during a measured
    edit, or a full run could not be recorded (so every later edit would fall back). A
    benchmark that measured the fallback would report a time no writer gets."""
    problems = []
    for run in runs:
        if phase not in CLEAN and run.get("mode") == "full":
            problems.append(f"the search index fell back to a full run "
                            f"({run.get('fallback', 'no reason given')})")
        if run.get("not_recorded"):
            problems.append(f"the search index could not be recorded, so the next edit "
                            f"re-indexes every page ({run['not_recorded']})")
    return problems


def skipped(reason: str, cap_s: float | None = None) -> dict:
    return {"skipped": reason, "capped": cap_s is not None, "cap_s": cap_s, "wall_s": None,
            "problems": [], "notes": [reason]}


def summarize(runs: list[dict]) -> dict:
    """Best (smallest) time of the repeats, the one least disturbed by other work on the
    machine, with the median and every value kept; the largest memory; everything else
    from the last run."""
    result = dict(runs[-1])
    result.pop("stdout", None)
    timed = [r for r in runs if r.get("wall_s") is not None]
    if timed and len(runs) > 1:
        for name in ("wall_s", "cpu_s"):
            best = min(timed, key=lambda r: r[name])
            result[name] = best[name]
            result[f"{name}_median"] = round(statistics.median(r[name] for r in timed), 3)
            result[f"{name}_all"] = [r[name] for r in timed]
        best = min(timed, key=lambda r: r["wall_s"])
        result["loadavg_1min_before"] = best["loadavg_1min_before"]
        result["search_index_s"] = best.get("search_index_s")
        result["loadavg_1min_before_all"] = [r.get("loadavg_1min_before") for r in runs]
        for name in ("peak_rss_mib", "peak_tree_pss_mib"):
            values = [r[name] for r in runs if r.get(name) is not None]
            result[name] = max(values) if values else None
    result["problems"] = sorted({p for r in runs for p in r.get("problems", [])})
    result["notes"] = sorted({n for r in runs for n in r.get("notes", [])})
    result["stderr"] = "".join(dict.fromkeys(r.get("stderr", "") for r in runs))[:4000]
    result["repeats"] = len(runs)
    return result


def print_line(stack: str, size: int, phase: str, r: dict) -> None:
    if r.get("skipped"):
        print(f"  {stack:<5} {size:>5} {phase:<14} not run: {r['skipped']}", flush=True)
        return
    wall = f"> {r['cap_s']:.0f}" if r["capped"] else f"{r['wall_s']:.2f}"
    print(f"  {stack:<5} {size:>5} {phase:<14} {wall:>8} s (cpu {r['cpu_s']:7.2f} s, load "
          f"{r['loadavg_1min_before']:4.2f}) RSS {r['peak_rss_mib']:5.0f} MiB, tree PSS "
          f"{r['peak_tree_pss_mib'] or 0:5.0f} MiB  reread {r['reread']:>4} written "
          f"{r['written']:>4} (articles {r['written_articles']:>4})"
          + (f" search index {r['search_index_s']:.2f} s" if r.get("search_index_s") else "")
          + (f" warnings {r['warnings']}" if r["warnings"] else "")
          + (f"  PROBLEMS: {'; '.join(r['problems'])}" if r["problems"] else "")
          + (f"  NOTE: {'; '.join(r['notes'])}" if r["notes"] else ""), flush=True)
    if stack == "kb" and r["stderr"].strip():
        print("    " + r["stderr"].strip()[:2000].replace("\n", "\n    "))


def run_stack(project: Project, size: int, repeat: int, repeat_clean: int,
              cap_s: float | None, inc_jobs: str, capped_before: dict, query: str,
              search_kind: str, after_phase=None) -> dict:
    """Every build of one stack at one size; returns its entry of results.json. The
    clean builds run *repeat_clean* times, the incremental sequence *repeat* times: a
    repeat after the first puts the edited files back and rebuilds (not measured), so
    every sequence starts from the same state."""
    cycles: dict[str, list[dict]] = {p: [] for p in PHASES}
    builddirs = {"clean -j 1": ("j1", "1"), "clean -j auto": ("jauto", "auto")}
    extra = {}
    for cycle in range(max(repeat, repeat_clean)):
        phases = [p for p in CLEAN if cycle < repeat_clean]
        if cycle < repeat:
            phases += INCREMENTAL
        if cycle and "clean -j auto" not in phases and INCREMENTAL[0] in phases:
            if project._pristine:  # back to the sources of the clean build
                project.restore()
                folder = project.root / "_build" / "jauto"
                run_measured(sphinx_command(project.stack, project.docs, folder / "html",
                                            folder / "doctrees", inc_jobs),
                             project.root, cap_s)
        for phase in phases:
            if phase in CLEAN:
                folder, jobs = builddirs[phase]
            else:
                folder, jobs = "jauto", inc_jobs
            builddir = project.root / "_build" / folder
            clean_jauto = cycles["clean -j auto"][-1] if cycles["clean -j auto"] else None
            if phase in capped_before:
                r = skipped(f"capped at {capped_before[phase]} articles already, so at "
                            f"least {cap_s:.0f} s here", cap_s)
            elif phase not in CLEAN and (clean_jauto is None or clean_jauto.get("capped")):
                r = skipped("the clean build was capped")
            else:
                r = build(project, builddir, jobs, phase, cap_s)
                if phase == "clean -j auto" and not r["capped"] and cycle == 0:
                    outdir = builddir / "html"
                    extra["output_bytes"] = folder_bytes(outdir)
                    extra["output_pages"] = len(list(outdir.rglob("*.html")))
                    try:
                        extra["search"] = search_bytes.measure(outdir, query=query,
                                                               kind=search_kind)
                        extra["search"].pop("responses", None)
                    except Exception as exc:  # noqa: BLE001 - reported, not fatal
                        extra["search"] = {"status": f"failed: {exc!r}"[:300]}
            cycles[phase].append(r)
            print_line(project.stack, size, phase, r)
            if after_phase is not None:  # the peers' builds, interleaved with these
                after_phase(phase)
    project.restore()
    entry = {"stack": project.stack, "size": size, "incremental_jobs": inc_jobs,
             "edited": project.edited, "citing": project.citing,
             "retopic": project.retopic, **extra}
    entry["phases"] = {p: summarize(cycles[p]) for p in PHASES}
    entry["ok"] = not any(entry["phases"][p]["problems"] for p in PHASES)
    return entry


PEER_PHASES = {"clean -j auto": "clean", "edit-article": "edit-article"}


class PeerRunner:
    """The peers' builds (``peers.py``) at one size, each run right after the kb build
    of the same kind (clean, edit), so that both see the same load."""

    def __init__(self, projects: list, size: int, cap_s: float | None, query: str):
        self.projects, self.size, self.cap_s, self.query = projects, size, cap_s, query
        self.runs = {p.tool: {phase: [] for phase in PEER_PHASES.values()}
                     for p in projects}
        self.search: dict[str, dict] = {}

    def __call__(self, kb_phase: str) -> None:
        phase = PEER_PHASES.get(kb_phase)
        if phase is None:
            return
        for project in self.projects:
            project.prepare(phase)
            load = os.getloadavg()[0]
            r = run_measured(project.command(), project.root, self.cap_s,
                             env=peers_mod.environment())
            r["loadavg_1min_before"] = round(load, 2)
            r["problems"] = ([] if r["capped"] else
                             ([f"exit status {r['returncode']}: {r['stderr'][-300:]}"]
                              if r["returncode"] else []) + project.check())
            r["notes"] = []
            self.runs[project.tool][phase].append(r)
            if (phase == "clean" and project.tool == "hugo+pagefind" and not r["problems"]
                    and project.tool not in self.search):
                # the same first query as the kb site's, through Pagefind's JS API
                try:
                    found = search_bytes.measure(project.output, query=self.query,
                                                 kind="pagefind")
                    found.pop("responses", None)
                except Exception as exc:  # noqa: BLE001 - reported, not fatal
                    found = {"status": f"failed: {exc!r}"[:300]}
                self.search[project.tool] = found
            wall = f"> {r['cap_s']:.0f}" if r["capped"] else f"{r['wall_s']:.2f}"
            print(f"  {project.tool:<16} {self.size:>5} {phase:<14} {wall:>8} s (cpu "
                  f"{r['cpu_s']:7.2f} s, load {load:4.2f}) tree PSS "
                  f"{r['peak_tree_pss_mib'] or 0:5.0f} MiB"
                  + (f"  PROBLEMS: {'; '.join(r['problems'])}" if r["problems"] else ""),
                  flush=True)

    def entries(self) -> list[dict]:
        for project in self.projects:
            project.restore()
        out = []
        for tool, phases in self.runs.items():
            summary = {phase: summarize(runs) for phase, runs in phases.items() if runs}
            for m in summary.values():
                m.pop("stderr", None)
            out.append({"stack": tool, "size": self.size, "phases": summary,
                        "ok": not any(m["problems"] for m in summary.values()),
                        **({"search": self.search[tool]} if tool in self.search else {})})
        return out


def peer_ratio(peer: dict | None, kb: dict | None) -> str:
    if not peer or not kb or kb.get("wall_s") is None:
        return "-"
    if peer.get("capped"):
        return f"> {peer['cap_s'] / kb['wall_s']:.1f}x"
    if peer.get("wall_s") is None:
        return "-"
    return f"{peer['wall_s'] / kb['wall_s']:.2f}x"


def print_peer_table(results: list[dict]) -> None:
    by = {(r["stack"], r["size"]): r for r in results}
    sizes = sorted({r["size"] for r in results if r["stack"] in peers_mod.PEERS})
    if not sizes:
        return
    print("\npeers (same articles, same run; ratio = peer s / kb s, above 1: kb faster):")
    for size in sizes:
        kb = by.get(("kb", size))
        if not kb:
            continue
        rows = [("clean", "clean -j 1"), ("clean", "clean -j auto"),
                ("edit-article", "edit-article")]
        for peer_phase, kb_phase in rows:
            k = kb["phases"].get(kb_phase, {})
            parts = [f"{size:>5} kb {kb_phase:<14} {fmt_time(k):>8} s"]
            for tool in peers_mod.PEERS:
                p = by.get((tool, size), {}).get("phases", {}).get(peer_phase)
                parts.append(f"{tool} {peer_phase} {fmt_time(p):>8} s "
                             f"({peer_ratio(p, k)})")
            print(" | ".join(parts))
        for tool in peers_mod.PEERS:
            search = by.get((tool, size), {}).get("search")
            if search and search.get("status") == "ok":
                print(f"{'':>5} {tool} search {search['search_bytes'] / 1024:.0f} KiB "
                      f"({search['search_requests']} requests), page + query "
                      f"{search['total_bytes'] / 1024:.0f} KiB")
            elif search:
                print(f"{'':>5} {tool} search {search.get('status')}")


def paired_rounds(kb: dict, peer: dict) -> list[float] | None:
    """Peer seconds / kb seconds in each round of repeated clean builds (each round
    builds the site, then each peer, on the same articles: ``wall_s_all`` in round
    order), or None when either was built once or a round is missing."""
    mine, theirs = kb.get("wall_s_all"), peer.get("wall_s_all")
    if not mine or not theirs or len(mine) != len(theirs) or len(mine) < 2:
        return None
    return [round(p / k, 3) for k, p in zip(mine, theirs)]


def peer_goals(results: list[dict]) -> list[dict]:
    """Issue 18's comparisons with the peers, at each size measured. With repeated clean
    builds the clean-build goal asks more than the best against the best: this site also
    faster in the median of the rounds (each round's two builds run one after the other,
    so a slow spell of the machine slows both)."""
    by = {(r["stack"], r["size"]): r for r in results}
    out = []
    for (stack, size), kb in sorted(by.items()):
        if stack != "kb":
            continue
        mk = by.get(("mkdocs-material", size), {}).get("phases", {})
        hugo = by.get(("hugo+pagefind", size), {}).get("phases", {})
        for phase in CLEAN:
            k, p = kb["phases"][phase].get("wall_s"), (mk.get("clean") or {}).get("wall_s")
            if k is not None and p is not None:
                met, detail = k < p, f"ratio {p / k:.2f}x"
                rounds = paired_rounds(kb["phases"][phase], mk.get("clean") or {})
                if rounds:
                    median = statistics.median(rounds)
                    met = met and median > 1
                    detail += (f"; faster in {sum(r > 1 for r in rounds)} of {len(rounds)} "
                               f"rounds (ratios {', '.join(f'{r:.2f}' for r in rounds)}; "
                               f"median {median:.2f})")
                out.append({"goal": f"clean build {phase} faster than MkDocs Material, "
                                    f"N={size}", "target": f"< {p} s", "value": k,
                            "unit": "s", "met": met, "detail": detail,
                            **({"rounds": rounds} if rounds else {})})
        mine = kb.get("search", {})
        theirs = by.get(("hugo+pagefind", size), {}).get("search", {})
        if mine.get("status") == "ok" and theirs.get("status") == "ok":
            k, p = (round(x["search_bytes"] / 1024, 1) for x in (mine, theirs))
            out.append({"goal": f"search bytes, first query, no more than Hugo + Pagefind's, "
                                f"N={size}", "target": f"<= {p} KiB", "value": k,
                        "unit": "KiB", "met": k <= p,
                        "detail": f"{mine['search_requests']} requests against "
                                  f"{theirs['search_requests']}; theirs: "
                                  + search_bytes.describe_parts(
                                      theirs.get("search_parts", {}))})
        k = kb["phases"]["edit-article"].get("wall_s")
        p = (hugo.get("edit-article") or {}).get("wall_s")
        if k is not None and p is not None:
            out.append({"goal": f"edit-article faster than Hugo + Pagefind's rebuild, "
                                f"N={size}", "target": f"< {p} s", "value": k, "unit": "s",
                        "met": k < p, "detail": f"ratio {p / k:.2f}x"})
    return out


# -- The book and handouts (issue 19): what `make epub` and printing an article cost ------

def book_command(srcdir: Path, outdir: Path, doctrees: Path) -> list[str]:
    """`make epub`'s build: the EPUB builder with the flags of `make html`."""
    return [sys.executable, "-m", "sphinx", "-b", "epub", "-q", "-n", "-W", "--keep-going",
            "-d", str(doctrees), str(srcdir), str(outdir)]


def _book_run(project: Project, outdir: Path, doctrees: Path) -> dict:
    shutil.rmtree(outdir, ignore_errors=True)
    load_before = os.getloadavg()[0]
    r = run_measured(book_command(project.docs, outdir, doctrees), project.root)
    books = list(outdir.glob("*.epub"))
    r["loadavg_1min_before"] = round(load_before, 2)
    r["epub_bytes"] = books[0].stat().st_size if books else None
    r["chapters"] = len(list(outdir.rglob("*.xhtml"))) - 1 if books else None  # no nav
    r["problems"] = ([f"sphinx exited with status {r['returncode']}"] if r["returncode"]
                     else []) + (["warnings or errors on stderr"] if r["stderr"].strip()
                                 else []) + ([] if books else ["no .epub written"])
    r.pop("stdout", None)
    return r


def measure_book(project: Project) -> dict:
    """The EPUB of the whole corpus: built from scratch with its own saved environment
    (`make epub`), and after the website reusing the website's (as Read the Docs builds
    its downloads: one doctrees folder for every format)."""
    book = project.root / "_build" / "book"
    shutil.rmtree(book, ignore_errors=True)
    clean = _book_run(project, book / "epub", book / "doctrees")
    after_site = _book_run(project, book / "epub-after-site",
                           project.root / "_build" / "jauto" / "doctrees")
    return {"clean": clean, "after_site": after_site}


def measure_handout(site: Path, docname: str, paper: str = "Letter",
                    executable: str = search_bytes.CHROMIUM) -> dict:
    """Printing one article to PDF in headless Chromium (the reader's Print, or Save as
    PDF): time from a loaded page to the PDF, its pages and bytes."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"status": "n/a (playwright is not installed)"}
    if not os.path.exists(executable):
        return {"status": f"n/a ({executable} not found)"}
    with search_bytes.serve(site) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable,
                                     args=search_bytes.CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(base + docname + ".html", wait_until="load")
            times = []
            for _ in range(3):
                start = time.perf_counter()
                pdf = page.pdf(format=paper)
                times.append(round((time.perf_counter() - start) * 1000, 1))
        finally:
            browser.close()
    from pypdf import PdfReader  # a test requirement, installed by make bench
    return {"status": "ok", "page": docname, "paper": paper, "pdf_ms_best": min(times),
            "pdf_ms": times, "pdf_bytes": len(pdf),
            "pdf_pages": len(PdfReader(io.BytesIO(pdf)).pages)}


def print_formats(size: int, book: dict, handout: dict) -> None:
    for name, r in (("epub clean", book["clean"]), ("epub after site", book["after_site"])):
        size_kib = f"{r['epub_bytes'] / 1024:.0f} KiB" if r.get("epub_bytes") else "-"
        problems = "; ".join(r["problems"]) or "ok"
        print(f"  kb    {size:>5} {name:<17} {r['wall_s']:>8.2f} s  cpu {r['cpu_s']:.1f} s  "
              f"peak {r['peak_tree_pss_mib'] or r['peak_rss_mib']} MiB  {size_kib}  "
              f"{r['chapters']} chapters  {problems}", flush=True)
    if handout.get("status") == "ok":
        print(f"  kb    {size:>5} print article     {handout['pdf_ms_best'] / 1000:>8.2f} s  "
              f"{handout['pdf_pages']} pages {handout['paper']}, "
              f"{handout['pdf_bytes'] / 1024:.0f} KiB PDF ({handout['page']})", flush=True)
    else:
        print(f"  kb    {size:>5} print article     {handout.get('status')}", flush=True)


def fmt_time(m: dict | None) -> str:
    if not m:
        return "-"
    if m.get("capped"):
        return f"> {m['cap_s']:.0f}"
    if m.get("wall_s") is None:
        return "not run"
    return f"{m['wall_s']:.2f}"


def ratio(kb: dict | None, stock: dict | None) -> dict:
    """stock / kb wall time: a value, a lower bound when the stock build was capped."""
    if not kb or kb.get("wall_s") is None or not stock:
        return {"text": "-"}
    if stock.get("capped"):
        value = stock["cap_s"] / kb["wall_s"]
        return {"lower_bound": round(value, 2), "text": f"> {value:.1f}x"}
    if stock.get("wall_s") is None:
        return {"text": "-"}
    value = stock["wall_s"] / kb["wall_s"]
    return {"value": round(value, 2), "text": f"{value:.1f}x"}


def growth(results: list[dict]) -> list[dict]:
    """Growth of each time between consecutive sizes, with the exponent k of N^k."""
    rows = []
    for stack in STACKS:
        runs = sorted((r for r in results if r["stack"] == stack), key=lambda r: r["size"])
        for a, b in zip(runs, runs[1:]):
            size_ratio = b["size"] / a["size"]
            row = {"stack": stack, "from": a["size"], "to": b["size"], "linear": size_ratio}
            for phase in PHASES:
                ta, tb = a["phases"][phase].get("wall_s"), b["phases"][phase].get("wall_s")
                if ta and tb:
                    g = tb / ta
                    cpu = b["phases"][phase]["cpu_s"] / a["phases"][phase]["cpu_s"]
                    row[phase] = {"ratio": round(g, 2),
                                  "exponent": round(math.log(g) / math.log(size_ratio), 3),
                                  "cpu_ratio": round(cpu, 2),
                                  "cpu_exponent": round(math.log(cpu) / math.log(size_ratio), 3)}
                elif ta and b["phases"][phase].get("capped"):
                    g = b["phases"][phase]["cap_s"] / ta
                    row[phase] = {"ratio_lower_bound": round(g, 2),
                                  "exponent_lower_bound":
                                      round(math.log(g) / math.log(size_ratio), 3)}
            rows.append(row)
    return rows


def peak_memory(entry: dict) -> float | None:
    """The largest footprint of any build of *entry*: tree PSS, else RSS."""
    values = [m.get("peak_tree_pss_mib") or m.get("peak_rss_mib")
              for m in entry["phases"].values() if m.get("peak_rss_mib") is not None]
    return max(values) if values else None


def goals(results: list[dict], rows: list[dict]) -> list[dict]:
    """The issue's goals, each with the measured value (None: not measured this run)."""
    kb = {r["size"]: r for r in results if r["stack"] == "kb"}
    out = []

    def goal(name, target, value, met, unit="", detail=""):
        out.append({"goal": name, "target": target, "value": value, "unit": unit,
                    "met": met, "detail": detail})

    mid = kb.get(GOAL_SIZE)
    if mid:
        ph = mid["phases"]
        full = ph["clean -j auto"]["wall_s"]
        goal(f"full build -j auto, N={GOAL_SIZE}", f"<= {GOAL_FULL_S:.0f} s", full,
             full is not None and full <= GOAL_FULL_S, "s")
        for phase, limit in (("no-change", GOAL_NO_CHANGE_S), ("edit-article", GOAL_EDIT_S)):
            t = ph[phase]["wall_s"]
            goal(f"{phase} rebuild, N={GOAL_SIZE}", f"<= {limit:g} s", t,
                 t is not None and t <= limit, "s",
                 f"search index {ph[phase].get('search_index_s', 0):.2f} s of it")
        # the writer's loop (make livehtml) shows the page without waiting for the index
        t, index = ph["edit-article"]["wall_s"], ph["edit-article"].get("search_index_s", 0)
        if t is not None:
            page = round(t - index, 3)
            goal(f"edit-article, live preview (page shown; index follows), N={GOAL_SIZE}",
                 f"<= {GOAL_EDIT_S:g} s", page, page <= GOAL_EDIT_S, "s")
    for size, entry in sorted(kb.items()):
        if size < GOAL_SIZE:
            continue
        j1, jauto = (entry["phases"][p]["wall_s"] for p in CLEAN)
        goal(f"-j auto faster than -j 1, N={size}", "< -j 1",
             None if not (j1 and jauto) else round(jauto / j1, 3),
             bool(j1 and jauto and jauto < j1), "x of -j 1", f"{jauto} s vs {j1} s")
    for size, entry in sorted(kb.items()):
        m = entry["phases"]["add-bib-entry"]
        if m.get("wall_s") is not None:
            goal(f"add an uncited .bib entry, N={size}: article pages rewritten", "0",
                 m["written_articles"], m["written_articles"] == 0, "pages",
                 f"re-read {m['reread']}, HTML written {m['written']}")
        m = entry["phases"]["cite-new-entry"]
        if m.get("wall_s") is not None:
            goal(f"cite a new .bib entry from one article, N={size}: article pages rewritten",
                 "1", m["written_articles"], m["written_articles"] == 1, "pages",
                 f"re-read {m['reread']}, HTML written {m['written']}")
    big = kb.get(GOAL_BIG)
    if big:
        t = big["phases"]["edit-article"]["wall_s"]
        goal(f"edit-article rebuild, N={GOAL_BIG}", f"<= {GOAL_EDIT_BIG_S:.0f} s", t,
             t is not None and t <= GOAL_EDIT_BIG_S, "s",
             f"search index {big['phases']['edit-article'].get('search_index_s', 0):.2f} s"
             " of it")
        search = big.get("search", {})
        if search.get("status") == "ok":
            kib = round(search["search_bytes"] / 1024, 1)
            goal(f"search bytes, first query, N={GOAL_BIG}", f"<= {GOAL_SEARCH_KIB:.0f} KiB",
                 kib, kib <= GOAL_SEARCH_KIB, "KiB",
                 f"{search['search_requests']} requests: "
                 + search_bytes.describe_parts(search.get("search_parts", {})))
    for row in rows:
        if row["stack"] == "kb" and (row["from"], row["to"]) == (GOAL_SIZE, GOAL_BIG):
            for phase in CLEAN:
                g = row.get(phase, {})
                goal(f"growth {GOAL_SIZE} -> {GOAL_BIG}, {phase}",
                     f"<= {GOAL_GROWTH}x (exponent <= 1.07)", g.get("ratio"),
                     g.get("ratio") is not None and g["ratio"] <= GOAL_GROWTH, "x",
                     f"exponent {g.get('exponent')}; CPU time {g.get('cpu_ratio')}x, "
                     f"exponent {g.get('cpu_exponent')}")
    big = kb.get(GOAL_BIG)
    if big:
        mem = peak_memory(big)
        goal(f"peak memory, N={GOAL_BIG} (largest tree PSS of any build)",
             f"<= {GOAL_MEMORY_MIB:.0f} MiB", mem,
             mem is not None and mem <= GOAL_MEMORY_MIB, "MiB")
    return out


def print_table(results: list[dict]) -> None:
    by = {(r["stack"], r["size"]): r for r in results}
    sizes = sorted({r["size"] for r in results})
    head = (f"{'N':>5} {'build':<14} {'kb s':>8} {'cpu s':>7} {'load':>5} {'reread':>6} "
            f"{'written':>7} {'art.':>5} {'PSS MiB':>7} | {'stock s':>8} {'load':>5} "
            f"{'written':>7} | {'stock/kb':>9}")
    print(head)
    print("-" * len(head))
    for size in sizes:
        kb, stock = by.get(("kb", size)), by.get(("stock", size))
        for phase in PHASES:
            k = kb["phases"][phase] if kb else None
            s = stock["phases"][phase] if stock else None

            def num(m, name, width, fmt="{:.0f}"):
                v = m.get(name) if m and not m.get("skipped") else None
                return f"{fmt.format(v) if v is not None else '-':>{width}}"

            print(f"{size:>5} {phase:<14} {fmt_time(k):>8} {num(k, 'cpu_s', 7, '{:.2f}')} "
                  f"{num(k, 'loadavg_1min_before', 5, '{:.2f}')} {num(k, 'reread', 6)} "
                  f"{num(k, 'written', 7)} {num(k, 'written_articles', 5)} "
                  f"{num(k, 'peak_tree_pss_mib', 7)} | {fmt_time(s):>8} "
                  f"{num(s, 'loadavg_1min_before', 5, '{:.2f}')} {num(s, 'written', 7)} | "
                  f"{ratio(k, s)['text']:>9}")
        for stack, entry in (("kb", kb), ("stock", stock)):
            if not entry:
                continue
            search = entry.get("search", {})
            if search.get("status") == "ok":
                stext = (f"search {search['search_bytes'] / 1024:.0f} KiB "
                         f"({search['search_requests']} requests), page + query "
                         f"{search['total_bytes'] / 1024:.0f} KiB, 2nd query "
                         f"{search['second_query_ms']}")
            else:
                stext = f"search {search.get('status', 'not measured')}"
            out = entry.get("output_bytes")
            mem = peak_memory(entry)
            print(f"{'':>5} {stack:<5} output "
                  f"{'-' if out is None else f'{out / 2**20:.1f} MiB'}, "
                  f"peak memory {'-' if mem is None else f'{mem:.0f} MiB'}; {stext}")
    print("kb s / stock s: wall time (best of the repeats for kb); '> N': capped at N s "
          "(a lower bound). load: 1-minute load average before the build. written: HTML "
          "pages written (art.: article pages). PSS: peak summed PSS of the build's "
          "processes.")


def print_goals(items: list[dict]) -> None:
    print("\ngoals (kb):")
    for g in items:
        value = "-" if g["value"] is None else f"{g['value']} {g['unit']}".strip()
        print(f"  {'MET    ' if g['met'] else 'NOT MET'}  {g['goal']}: {value} "
              f"(target {g['target']})" + (f"; {g['detail']}" if g["detail"] else ""))


def profile_clean_build(project: Project, dest: Path, top: int = 25) -> dict:
    """Profile a clean serial kb build under cProfile; return the top functions."""
    builddir = project.root / "_build" / "profile"
    shutil.rmtree(builddir, ignore_errors=True)
    cmd = [sys.executable, "-m", "cProfile", "-o", str(dest), "-m", "sphinx", "-b", "html",
           "-q", "-n", "-W", "--keep-going", "-j", "1", "-d", str(builddir / "doctrees"),
           str(project.docs), str(builddir / "html")]
    subprocess.run(cmd, cwd=project.root, env=child_env(), check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stats = pstats.Stats(str(dest))
    rows = []
    for (filename, line, func), (cc, nc, tt, ct, callers) in stats.stats.items():
        short = filename
        for marker in ("/_ext/", "/site-packages/", "/lib/python3."):
            if marker in filename:
                short = filename.split(marker, 1)[1]
                break
        rows.append({"function": f"{short}:{line}({func})", "file": filename,
                     "calls": nc, "tottime_s": round(tt, 3), "cumtime_s": round(ct, 3)})
    rows.sort(key=lambda r: r["cumtime_s"], reverse=True)
    return {"profile": str(dest), "total_s": round(stats.total_tt, 3),
            "top_cumulative": rows[:top]}


def versions() -> dict:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def machine() -> dict:
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = round(int(f.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    os_name = platform.platform()
    try:
        os_name = platform.freedesktop_os_release().get("PRETTY_NAME", os_name)
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "ram_gib": mem, "os": os_name,
            "kernel": platform.release(), "python": platform.python_version(),
            "packages": versions()}


def parse_ints(text: str) -> list[int]:
    values = sorted({int(v) for v in text.split(",") if v.strip()})
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, e.g. 100,500: {text}")
    return values


def parse_stacks(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values or any(v not in STACKS for v in values):
        raise argparse.ArgumentTypeError(f"expected kb, stock or kb,stock: {text}")
    return [s for s in STACKS if s in values]


def markdown(report: dict) -> str:
    """The figures of a results.json as Markdown tables (for the READMEs)."""
    results = report["results"]
    by = {(r["stack"], r["size"]): r for r in results}
    lines = ["| articles | build | kb s | of which search index s | kb CPU s | load | re-read "
             "| HTML written (articles) | stock s | load | stock / kb |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size in sorted({r["size"] for r in results}):
        kb, stock = by.get(("kb", size)), by.get(("stock", size))
        for phase in PHASES:
            k = kb["phases"][phase] if kb else {}
            s = stock["phases"][phase] if stock else {}

            def val(m, name, fmt):
                v = m.get(name) if m and not m.get("skipped") else None
                return "-" if v is None else fmt.format(v)

            written = ("-" if not k or k.get("skipped") else
                       f"{k['written']} ({k['written_articles']})")
            lines.append(
                f"| {size:,} | {phase} | {fmt_time(k)} | {val(k, 'search_index_s', '{:.2f}')} | "
                f"{val(k, 'cpu_s', '{:.1f}')} | "
                f"{val(k, 'loadavg_1min_before', '{:.2f}')} | {val(k, 'reread', '{}')} | "
                f"{written} | {fmt_time(s) if s else '-'} | "
                f"{val(s, 'loadavg_1min_before', '{:.2f}')} | {ratio(k, s)['text']} |")
    lines += ["", "| articles | stack | output MiB | peak memory MiB (tree PSS) | search: first "
              "query KiB | page + query KiB |", "|---:|---|---:|---:|---:|---:|"]
    for (stack, size), entry in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        search = entry.get("search", {})
        if search.get("status") == "ok":
            first = f"{search['search_bytes'] / 1024:.0f}"
            total = f"{search['total_bytes'] / 1024:.0f}"
        else:
            first, total = search.get("status", "-"), "-"
        out = entry.get("output_bytes")
        mem = peak_memory(entry)
        out_text = "-" if out is None else f"{out / 2**20:.1f}"
        mem_text = "-" if mem is None else f"{mem:.0f}"
        lines.append(f"| {size:,} | {stack} | {out_text} | {mem_text} | {first} | {total} |")
    goal_items = goals(results, growth(results))  # the current criteria
    if goal_items:
        lines += ["", "| goal (kb) | target | measured | met |", "|---|---|---|---|"]
        for g in goal_items:
            value = "-" if g["value"] is None else f"{g['value']} {g['unit']}".strip()
            detail = f" ({g['detail']})" if g["detail"] else ""
            lines.append(f"| {g['goal']} | {g['target']} | {value}{detail} | "
                         f"{'yes' if g['met'] else '**no**'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Measure build time, memory and search size of the knowledge base on "
                    "generated corpora, against the stock stack.")
    parser.add_argument("--sizes", type=parse_ints, default=[100, 500, 2000],
                        help="numbers of articles, comma-separated (default 100,500,2000)")
    parser.add_argument("--quick", action="store_true", help="100 articles only")
    parser.add_argument("--stacks", type=parse_stacks, default=list(STACKS),
                        help="kb, stock or kb,stock (default both)")
    parser.add_argument("--stock-cap", type=float, default=600.0,
                        help="time cap of each stock build in seconds (default 600)")
    parser.add_argument("--incremental-jobs", default="auto",
                        help="-j of the incremental builds (default auto)")
    parser.add_argument("--entries", type=int, default=300, help="entries in references.bib")
    parser.add_argument("--cites", type=int, default=24,
                        help="citations per article (default 24: the real articles' own, "
                             "then more at sentence ends)")
    parser.add_argument("--text", choices=("real", "lorem"), default="real",
                        help="the articles' text: the real articles' paragraphs, lists, "
                             "headings, citations and links, over the real references.bib "
                             "and synthetic entries with accented names (default), or the "
                             "generated filler of earlier runs (lorem)")
    parser.add_argument("--words", type=int, default=1200, help="words per article")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--home", choices=("real", "minimal"), default="real",
                        help="home page of the kb corpus: the real docs/index.md (default) "
                             "or a minimal one with only its toctree")
    parser.add_argument("--sphinx-search", choices=("on", "off"), default="on",
                        help="Sphinx's own search index (searchindex.js) in the kb build: "
                             "on (the site as it is; default) or off (app.builder.search = "
                             "False, as when the site's search does not use it)")
    parser.add_argument("--query", default=None,
                        help="the first search query (default: 'anxiety' on the real-text "
                             "corpus, 'lorem' on the filler)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the kb incremental builds N times; report the best time "
                             "and the largest memory (default 1; the stock stack runs once)")
    parser.add_argument("--repeat-clean", type=int, default=1,
                        help="run the kb clean builds N times (default 1)")
    parser.add_argument("--peers", choices=("on", "off"), default="on",
                        help="also build the same articles with MkDocs Material and with "
                             "Hugo + Pagefind (benchmarks/peers.py, pinned in "
                             "benchmarks/requirements-peers.txt), each right after the kb "
                             "build of the same kind (default on)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile a clean -j 1 kb build of the largest size")
    parser.add_argument("--markdown", type=Path, metavar="RESULTS_JSON",
                        help="print the figures of an existing results.json as Markdown "
                             "tables and exit (no build)")
    parser.add_argument("--formats", choices=("on", "off"), default="on",
                        help="also build the EPUB (make epub; and after the site, as Read "
                             "the Docs does) and print one article to PDF (default on)")
    parser.add_argument("--corpus-dir", type=Path, default=HERE / "_corpus")
    parser.add_argument("--output", type=Path, default=HERE / "results.json")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text(encoding="utf-8"))))
        return 0
    sizes = [100] if args.quick else args.sizes
    if args.query is None:
        args.query = "anxiety" if args.text == "real" else "lorem"

    # One copy of docs/ for every size, so an edit made meanwhile cannot mix versions.
    skeleton = snapshot_skeleton(args.corpus_dir / "_skeleton")
    results, skeletons = [], set()
    capped_before: dict[str, int] = {}  # stock phase -> smallest size it was capped at
    last_project = None
    for size in sizes:
        root = args.corpus_dir / f"n{size:04d}"
        t0 = time.perf_counter()
        manifest = make_corpus(root, size, args.entries, args.cites, args.words, args.seed,
                               args.home, source=skeleton,
                               sphinx_search=args.sphinx_search == "on", text=args.text)
        skeletons.add(manifest["params"]["skeleton"])
        print(f"corpus {root}: {size} articles, {args.entries} entries, "
              f"{len(manifest['cited_keys'])} cited ({time.perf_counter() - t0:.1f} s)",
              flush=True)
        for stack in args.stacks:
            if stack == "kb":
                project = Project("kb", root, manifest, args.seed)
                last_project = project
                runner = None
                if args.peers == "on":
                    runner = PeerRunner(peers_mod.make_peers(root, project.edited), size,
                                        args.stock_cap, args.query)
                entry = run_stack(project, size, max(1, args.repeat),
                                  max(1, args.repeat_clean), None, args.incremental_jobs, {},
                                  args.query, "pagefind", after_phase=runner)
                if runner is not None:
                    results.extend(runner.entries())
                if args.formats == "on":
                    entry["book"] = measure_book(project)
                    entry["handout"] = measure_handout(
                        project.root / "_build" / "jauto" / "html", project.first)
                    print_formats(size, entry["book"], entry["handout"])
                    entry["ok"] = entry["ok"] and not any(
                        r["problems"] for r in entry["book"].values())
            else:
                project = Project("stock", make_stock(root), manifest, args.seed)
                entry = run_stack(project, size, 1, 1, args.stock_cap, args.incremental_jobs,
                                  capped_before, args.query, "sphinx")
                for phase, m in entry["phases"].items():
                    if m.get("capped"):
                        capped_before.setdefault(phase, size)
            results.append(entry)

    print()
    print_table([r for r in results if r["stack"] in STACKS])
    print_peer_table(results)
    if len(skeletons) > 1:
        print("WARNING: docs/ changed between sizes; the corpora were built from different "
              "versions of the site and their times are not comparable")
    rows = growth(results)
    for row in rows:
        parts = []
        for phase in PHASES:
            g = row.get(phase)
            if g and "ratio" in g:
                parts.append(f"{phase} {g['ratio']:.2f}x (N^{g['exponent']:.2f})")
            elif g:
                parts.append(f"{phase} > {g['ratio_lower_bound']:.2f}x")
        print(f"growth {row['stack']} {row['from']} -> {row['to']} (linear "
              f"{row['linear']:.1f}x): " + ", ".join(parts))
    goal_items = goals(results, rows) + peer_goals(results)
    print_goals(goal_items)

    profile = None
    if args.profile and last_project is not None:
        print(f"\nprofiling a clean -j 1 kb build of {max(sizes)} articles ...", flush=True)
        profile = profile_clean_build(
            last_project, args.corpus_dir / f"profile-n{max(sizes):04d}.prof")
        for r in profile["top_cumulative"][:20]:
            print(f"  {r['cumtime_s']:8.2f} s cum {r['tottime_s']:7.2f} s own "
                  f"{r['calls']:>9} calls  {r['function']}")

    ok = all(r["ok"] for r in results if r["stack"] in ("kb", *peers_mod.PEERS))
    for r in results:
        for m in r["phases"].values():
            m.pop("stderr", None) if r["stack"] == "stock" else None
    report = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "parameters": {"sizes": sizes, "stacks": args.stacks, "entries": args.entries,
                       "cites_per_article": args.cites, "words": args.words,
                       "text": args.text,
                       "seed": args.seed, "repeat": args.repeat,
                       "repeat_clean": args.repeat_clean, "home": args.home,
                       "sphinx_search": args.sphinx_search,
                       "stock_cap_s": args.stock_cap,
                       "incremental_jobs": args.incremental_jobs, "query": args.query,
                       "formats": args.formats,
                       "skeleton": sorted(skeletons),
                       "command_kb": " ".join(sphinx_command(
                           "kb", Path("docs"), Path("BUILDDIR/html"),
                           Path("BUILDDIR/doctrees"), "N")),
                       "command_stock": " ".join(sphinx_command(
                           "stock", Path("docs"), Path("OUT"), Path("DOCTREES"), "N"))},
        "results": results,
        "peer_versions": peers_mod.versions() if args.peers == "on" else None,
        "ratios": {f"{r['size']} {p}": ratio(r["phases"][p], s["phases"][p])
                   for r in results if r["stack"] == "kb"
                   for s in results if s["stack"] == "stock" and s["size"] == r["size"]
                   for p in PHASES},
        "growth": rows,
        "goals": goal_items,
        "all_goals_met": bool(goal_items) and all(g["met"] for g in goal_items),
        "profile": profile,
        "ok": ok,
    }
    args.output.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {args.output}")
    if not ok:
        print("FAILED: a kb build warned, failed or produced a wrong page (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
