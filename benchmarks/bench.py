"""Build-time and memory benchmark of the knowledge base on generated corpora.

For each corpus size and each ``-j`` value, three Sphinx builds run in their own child
process, with the flags of ``make html`` (``-b html -n -W --keep-going``, plus ``-q``):

* clean      - no output and no saved environment;
* no-change  - the same command again, nothing edited;
* one-touch  - after touching (mtime only) one article in the middle of the corpus.

Each build records wall time, CPU time (user + sys of the child and its workers), peak
RSS (``ru_maxrss`` from ``os.wait4`` on that child: the largest resident set of the child
or of any worker it waited for, not their sum), the peak summed PSS of the whole process
tree (sampled from /proc every 0.2 s: Sphinx, its ``-j`` workers and sphinx-sitemap's
multiprocessing manager), the 1-minute load average before it started, and how many pages
were re-read (doctrees written) and re-written (HTML files written). With ``--repeat N``
the table shows the best time of N (the run least disturbed by other work on the
machine); results.json also keeps the median and every value. It fails the run if a build
exits non-zero or writes anything to stderr (with ``-q`` only warnings and errors go
there), or if the first article, the touched article or the bibliography page lacks its
reference list.

Results: a table on stdout and ``benchmarks/results.json``. For consecutive sizes the
growth ratio of each time is compared with the size ratio (linear); above 1.5x the size
ratio it is flagged "superlinear", and the clean build of the largest size is profiled
(``--profile`` forces this).

    .venv/bin/python benchmarks/bench.py                  # sizes 100,500, -j 1
    .venv/bin/python benchmarks/bench.py --jobs 1,2
    .venv/bin/python benchmarks/bench.py --quick          # sizes 20,100
    make bench BENCH_ARGS="--jobs 1,2 --repeat 3"
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import make_corpus, snapshot_skeleton  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SUPERLINEAR_FACTOR = 1.5
PHASES = ("clean", "no-change", "one-touch")
PACKAGES = ("sphinx", "docutils", "myst-parser", "sphinxcontrib-bibtex", "pybtex", "furo")


def sphinx_command(srcdir: Path, outdir: Path, doctrees: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-n", "-W", "--keep-going",
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


def run_measured(cmd: list[str], cwd: Path) -> dict:
    """Run *cmd*; return wall and CPU seconds, peak memory (MiB), exit code and output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, env=child_env())
        sampler = TreeMemorySampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return {
        "wall_s": round(wall, 3),
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


def files_written_since(root: Path, suffix: str, since_ns: int) -> int:
    if not root.exists():
        return 0
    return sum(1 for p in root.rglob(f"*{suffix}")
               if "_static" not in p.parts and p.stat().st_mtime_ns >= since_ns)


def ref_id(key: str) -> str:
    from docutils.nodes import make_id
    return make_id("ref-" + key)


def check_output(outdir: Path, manifest: dict, docnames: list[str]) -> list[str]:
    """Problems with the built HTML: reference lists and citation links."""
    problems = []
    for docname in docnames:
        page = outdir / f"{docname}.html"
        if not page.exists():
            problems.append(f"{page.name} was not written")
            continue
        html = page.read_text(encoding="utf-8")
        if "kb-reflist" not in html:
            problems.append(f"{page.name} has no reference list")
        for key in manifest["articles"][docname]:
            if f'id="{ref_id(key)}"' not in html:
                problems.append(f"{page.name}: {key} is missing from its reference list")
            if f'href="#{ref_id(key)}"' not in html:
                problems.append(f"{page.name}: the citation of {key} does not link to it")
        if "{cite" in html or "cite:p" in html:
            problems.append(f"{page.name}: an unresolved citation mark")
    bib = outdir / "bibliography.html"
    expected = len(manifest["cited_keys"])
    found = bib.read_text(encoding="utf-8").count('class="kb-ref"') if bib.exists() else 0
    if found != expected:
        problems.append(f"bibliography.html lists {found} works, expected {expected}")
    return problems


def build(corpus: Path, builddir: Path, jobs: int, manifest: dict, touched: str,
          phase: str) -> dict:
    outdir, doctrees = builddir / "html", builddir / "doctrees"
    if phase == "clean":
        shutil.rmtree(builddir, ignore_errors=True)
    elif phase == "one-touch":
        os.utime(corpus / "docs" / f"{touched}.md")
    since = time.time_ns()
    load_before = os.getloadavg()[0]
    result = run_measured(sphinx_command(corpus / "docs", outdir, doctrees, jobs), corpus)
    result["loadavg_1min_before"] = round(load_before, 2)
    result["reread"] = files_written_since(doctrees, ".doctree", since)
    result["written"] = files_written_since(outdir, ".html", since)
    first = next(iter(manifest["articles"]))
    problems = []
    if result["returncode"] != 0:
        problems.append(f"sphinx exited with status {result['returncode']}")
    if result["stderr"].strip():
        problems.append("warnings or errors on stderr")
    problems += check_output(outdir, manifest, sorted({first, touched}))
    result["problems"] = problems
    # Not failures, but a regression of incremental builds worth a look.
    expected = {"no-change": 0, "one-touch": 1}.get(phase)
    result["notes"] = ([f"{phase} rebuild re-read {result['reread']} pages, expected "
                        f"{expected}"] if expected is not None and result["reread"] != expected
                       else [])
    return result


def summarize(runs: list[dict]) -> dict:
    """Best (smallest) time of the repeats, the one least disturbed by other work on the
    machine, with the median and every value kept; the largest memory; everything else
    from the last run."""
    result = dict(runs[-1])
    for name in ("wall_s", "cpu_s"):
        result[name] = min(r[name] for r in runs)
        result[f"{name}_median"] = round(statistics.median(r[name] for r in runs), 3)
        result[f"{name}_all"] = [r[name] for r in runs]
    result["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    if all(r["peak_tree_pss_mib"] is not None for r in runs):
        result["peak_tree_pss_mib"] = max(r["peak_tree_pss_mib"] for r in runs)
    result["problems"] = sorted({p for r in runs for p in r["problems"]})
    result["notes"] = sorted({n for r in runs for n in r["notes"]})
    result["stderr"] = "".join(dict.fromkeys(r["stderr"] for r in runs if r["stderr"]))
    result["repeats"] = len(runs)
    result["loadavg_1min_before_all"] = [r["loadavg_1min_before"] for r in runs]
    return result


def growth(results: list[dict]) -> list[dict]:
    """Growth of each time between consecutive sizes, per -j value."""
    rows = []
    for jobs in sorted({r["jobs"] for r in results}):
        runs = sorted((r for r in results if r["jobs"] == jobs), key=lambda r: r["size"])
        for a, b in zip(runs, runs[1:]):
            ideal = b["size"] / a["size"]
            row = {"jobs": jobs, "from": a["size"], "to": b["size"], "linear": ideal}
            for phase in PHASES:
                ratio = b[phase]["wall_s"] / a[phase]["wall_s"]
                cpu_ratio = b[phase]["cpu_s"] / a[phase]["cpu_s"]
                row[phase] = {"ratio": round(ratio, 2), "cpu_ratio": round(cpu_ratio, 2),
                              "superlinear": ratio > ideal * SUPERLINEAR_FACTOR}
            row["peak_rss_ratio"] = round(
                b["clean"]["peak_rss_mib"] / a["clean"]["peak_rss_mib"], 2)
            rows.append(row)
    return rows


def profile_clean_build(corpus: Path, dest: Path, top: int = 25) -> dict:
    """Profile a clean serial build in-process under cProfile; return the top functions."""
    builddir = corpus / "_build" / "profile"
    shutil.rmtree(builddir, ignore_errors=True)
    cmd = sphinx_command(corpus / "docs", builddir / "html", builddir / "doctrees", 1)
    cmd[1:3] = ["-m", "cProfile", "-o", str(dest), "-m", "sphinx"]
    subprocess.run(cmd, cwd=corpus, env=child_env(), check=False,
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
    ours = [r for r in rows if "/_ext/kb/" in r["file"] or "sphinxcontrib/bibtex" in r["file"]]
    return {"profile": str(dest), "total_s": round(stats.total_tt, 3),
            "top_cumulative": rows[:top], "top_kb_and_bibtex": ours[:top]}


def versions() -> dict:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def print_table(results: list[dict]) -> None:
    head = (f"{'articles':>8} {'-j':>2}  {'build':<9} {'wall s':>7} {'cpu s':>7} "
            f"{'peak RSS MiB':>12} {'tree PSS MiB':>12} {'re-read':>7} {'written':>7}  ok")
    print(head)
    print("-" * len(head))
    for r in results:
        for phase in PHASES:
            m = r[phase]
            pss = m.get("peak_tree_pss_mib")
            print(f"{r['size']:>8} {r['jobs']:>2}  {phase:<9} {m['wall_s']:7.2f} "
                  f"{m['cpu_s']:7.2f} {m['peak_rss_mib']:12.0f} "
                  f"{pss if pss is None else round(pss):>12} {m['reread']:>7} "
                  f"{m['written']:>7}  {'NO' if m['problems'] else 'yes'}")
    print("wall/cpu: best of the repeats; cpu = user + sys of sphinx and its workers. "
          "peak RSS: largest single process (ru_maxrss); tree PSS: sampled sum over sphinx "
          "and its child processes. re-read/written: doctrees/HTML pages written.")


def parse_ints(text: str) -> list[int]:
    values = sorted({int(v) for v in text.split(",") if v.strip()})
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, e.g. 100,500: {text}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Measure build time and memory of the knowledge base on generated "
                    "corpora.")
    parser.add_argument("--sizes", type=parse_ints, default=[100, 500],
                        help="numbers of articles, comma-separated (default 100,500)")
    parser.add_argument("--jobs", type=parse_ints, default=[1],
                        help="sphinx -j values, comma-separated (default 1)")
    parser.add_argument("--quick", action="store_true", help="sizes 20,100 only")
    parser.add_argument("--entries", type=int, default=300, help="entries in references.bib")
    parser.add_argument("--cites", type=int, default=5, help="citations per article")
    parser.add_argument("--words", type=int, default=1200, help="words per article")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--home", choices=("real", "minimal"), default="real",
                        help="home page of the corpus: the real docs/index.md (listings, "
                             "search box; default) or a minimal one with only its toctree")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each clean/no-change/one-touch cycle N times; report the "
                             "best time and the largest memory (default 1)")
    parser.add_argument("--profile", action="store_true",
                        help="profile a clean build of the largest size even when nothing "
                             "is superlinear")
    parser.add_argument("--corpus-dir", type=Path, default=HERE / "_corpus")
    parser.add_argument("--output", type=Path, default=HERE / "results.json")
    args = parser.parse_args(argv)
    sizes = [20, 100] if args.quick else args.sizes

    # One copy of docs/ for every size, so an edit made meanwhile cannot mix versions.
    skeleton = snapshot_skeleton(args.corpus_dir / "_skeleton")
    results = []
    skeletons = set()
    for size in sizes:
        corpus = args.corpus_dir / f"n{size:04d}"
        t0 = time.perf_counter()
        manifest = make_corpus(corpus, size, args.entries, args.cites, args.words, args.seed,
                               args.home, source=skeleton)
        skeletons.add(manifest["params"]["skeleton"])
        print(f"corpus {corpus.relative_to(REPO) if corpus.is_relative_to(REPO) else corpus}"
              f": {size} articles, {args.entries} entries, "
              f"{len(manifest['cited_keys'])} cited ({time.perf_counter() - t0:.1f} s)",
              flush=True)
        touched = f"articles/bench-{size // 2:04d}"
        for jobs in args.jobs:
            builddir = corpus / "_build" / f"j{jobs}"
            cycles = {phase: [] for phase in PHASES}
            for _ in range(args.repeat):
                for phase in PHASES:
                    r = build(corpus, builddir, jobs, manifest, touched, phase)
                    cycles[phase].append(r)
                    print(f"  {size:>5} articles -j {jobs} {phase:<9} {r['wall_s']:7.2f} s "
                          f"(cpu {r['cpu_s']:6.2f} s, load {r['loadavg_1min_before']:4.2f}) "
                          f"RSS {r['peak_rss_mib']:4.0f} MiB, tree PSS "
                          f"{r['peak_tree_pss_mib'] or 0:4.0f} MiB  reread {r['reread']:>4} "
                          f"written {r['written']:>4}"
                          + (f"  PROBLEMS: {'; '.join(r['problems'])}" if r["problems"]
                             else "")
                          + (f"  NOTE: {'; '.join(r['notes'])}" if r["notes"] else ""),
                          flush=True)
                    if r["stderr"].strip():
                        print("    " + r["stderr"].strip().replace("\n", "\n    "))
            entry = {"size": size, "jobs": jobs, "touched": touched}
            for phase in PHASES:
                entry[phase] = summarize(cycles[phase])
                entry[phase].pop("stdout", None)
            entry["ok"] = not any(entry[p]["problems"] for p in PHASES)
            results.append(entry)

    print()
    print_table(results)
    if len(skeletons) > 1:
        print("WARNING: docs/ changed between sizes; the corpora were built from different "
              "versions of the site and their times are not comparable")
    rows = growth(results)
    superlinear = False
    if rows:
        print()
        for row in rows:
            parts = []
            for phase in PHASES:
                g = row[phase]
                flag = " SUPERLINEAR" if g["superlinear"] else ""
                superlinear |= g["superlinear"]
                parts.append(f"{phase} {g['ratio']:.2f}x (cpu {g['cpu_ratio']:.2f}x){flag}")
            print(f"growth {row['from']} -> {row['to']} articles, -j {row['jobs']} "
                  f"(linear = {row['linear']:.2f}x, flagged above "
                  f"{row['linear'] * SUPERLINEAR_FACTOR:.2f}x): " + ", ".join(parts)
                  + f"; peak RSS {row['peak_rss_ratio']:.2f}x")
        if not superlinear:
            print("no time grew superlinearly")

    profile = None
    if superlinear or args.profile:
        size = max(sizes)
        corpus = args.corpus_dir / f"n{size:04d}"
        print(f"\nprofiling a clean -j 1 build of {size} articles ...", flush=True)
        profile = profile_clean_build(corpus, args.corpus_dir / f"profile-n{size:04d}.prof")
        print(f"top cumulative, kb and sphinxcontrib-bibtex (of {profile['total_s']} s "
              f"profiled):")
        for r in profile["top_kb_and_bibtex"][:15]:
            print(f"  {r['cumtime_s']:8.2f} s cum {r['tottime_s']:7.2f} s own "
                  f"{r['calls']:>9} calls  {r['function']}")

    ok = all(r["ok"] for r in results)
    report = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "packages": versions()},
        "parameters": {"sizes": sizes, "jobs": args.jobs, "entries": args.entries,
                       "cites_per_article": args.cites, "words": args.words,
                       "seed": args.seed, "repeat": args.repeat, "home": args.home,
                       "skeleton": sorted(skeletons),
                       "command": " ".join(sphinx_command(Path("docs"), Path("OUT"),
                                                          Path("DOCTREES"), 0))
                       .replace("-j 0", "-j N")},
        "results": results,
        "growth": rows,
        "superlinear": superlinear,
        "profile": profile,
        "ok": ok,
    }
    args.output.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {args.output}")
    if not ok:
        print("FAILED: a build warned, failed or produced a wrong page (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
