"""``make html`` and ``make livehtml``: one build at a time, and a published site that is
always the last good one.

``python docs/_ext/kb/build.py html BUILDDIR SOURCEDIR -- SPHINX-OPTIONS...`` (run as a
script, standard library only, so it starts at once; Sphinx runs in a child process):

1. **One build at a time.** The build holds a lock (``BUILDDIR/.lock``, ``flock``) from
   start to publish. A second ``make html`` in the same checkout says which build it waits
   for, and waits; the lock goes with the process, so a killed build never leaves it held.
2. **Problems stay reported until fixed.** Before Sphinx starts, a mark is written in the
   doctree folder; it is removed only after a build succeeded and was published. A build
   that finds the mark (the last one failed, was killed, or was interrupted with Ctrl-C at
   any point) drops the saved environment and the search index's saved state first, so
   every page is read and written again and every problem is reported again. Sphinx does
   not repeat the warnings of a page it does not read, and it saves its environment before
   it writes the pages: without the mark, a build killed while writing would leave pages
   that the next build thinks are up to date.
3. **Only a complete build is published.** Sphinx writes into ``BUILDDIR/staging/html``.
   On success its pages are copied into a new folder beside ``BUILDDIR/html`` (never the
   leftovers of a killed step: a file or folder whose name starts with a dot, except
   Sphinx's ``.buildinfo``), which then takes the place of the published one in a single
   ``rename`` (``renameat2(RENAME_EXCHANGE)`` where Linux has it), so a reader of
   ``BUILDDIR/html`` sees the old site or the new one, never a mix.
   The search index is built in that folder after Sphinx has exited: Sphinx writes
   what the index needs into ``BUILDDIR/doctrees/kb-search-job.json``
   (``KB_SEARCH_INDEX=after``), and ``kb/pagefind_delta.py`` runs it as a script, so
   that Pagefind never shares the machine's memory with Sphinx. That script is started
   with Sphinx (``Searcher``) and reads ahead, while Sphinx runs, what an update of the
   last index needs (the last index's words only after a small read, step 8); it runs
   the job once Sphinx has exited. A failed index is a failed build.
4. **Published addresses are recorded.** The pages of a successful build are added to the
   record of published URLs (``kb/urls.py``), which the writer commits with the change.
5. **Nothing changed, nothing to do.** After a published build, what it was made from is
   recorded (``BUILDDIR/doctrees/kb-last-build.json``): every file under the source folder
   and the files outside it that the build read (``references.bib``, template and static
   folders; the extension lists them in ``kb-inputs.json``), each by size, modification
   and change time and inode; the Sphinx options; the ``KB_``, ``READTHEDOCS``,
   ``SPHINX`` and ``SOURCE_DATE_EPOCH`` environment variables; the Python and the
   packages installed for it; and the date. When all of that is the same and the
   published site is still the one this build published, Sphinx is not started: a
   successful build has no warnings to repeat, so the site would come out the same.
6. **Publishing copies only what changed.** Files that Sphinx did not rewrite since the
   last publish (same size, modification and change time and inode in the staging
   folder as recorded then) are hard links to the published copies, which are never
   written in place, provided each published copy is still the one published then
   (a file changed by hand there is copied again); the rest are copied. At 2,000
   articles an edit copies a few dozen files instead of 4,000. The search index's files
   are never written in place (each index is written into a fresh folder and swapped
   in), so they are hard links to the staging folder's (``SEARCH_BUNDLE``).

7. **The extension is compiled once.** Where ``PYTHONDONTWRITEBYTECODE`` is set (a
   container's default), Python compiles every module of the extension again at each
   build, before anything runs in parallel (0.13 s at the start of every build). The
   driver writes their bytecode (``__pycache__``, ignored by git and by the record of
   inputs), as pip does for an installed package, and again only when a module changed.

8. **What Sphinx read is saved beside the writing.** After a small read, Sphinx saves
   its environment from a forked copy of itself while it writes the pages
   (``kb/upstream.py``), and reports through a pipe (``KB_ENV_SAVE_FD``). The driver
   reads that pipe to its end before it publishes: an environment that could not be
   saved fails the build (the mark stays: the next build reads every page). The driver
   is the "subreaper" of its children's children during the build, so that it reaps
   the saving process after Sphinx has exited.

``python docs/_ext/kb/build.py live BUILDDIR -- AUTOBUILD-ARGS...`` runs sphinx-autobuild under a
lock of its own (``BUILDDIR/.live.lock``): a second live preview of the same checkout stops
at once with a message, instead of writing into the same folder.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import errno
import fcntl
import json
import os
import hashlib
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

MARK = "kb-build-incomplete"
ENV_PICKLE = "environment.pickle"
SEARCH_STATE = ("kb-pagefind-state.json", "kb-pagefind-words.marshal",
                "kb-search-vocabulary.pickle")
BUILD_RECORD = "kb-published-urls.json"
LAST_BUILD = "kb-last-build.json"
INPUTS = "kb-inputs.json"
PUBLISH_MANIFEST = "kb-published-files.json"
#: What the search index needs, written by Sphinx (kb/search.py, KB_SEARCH_INDEX=after)
#: and run by this driver once Sphinx has exited (kb/pagefind_delta.py as a script).
SEARCH_JOB = "kb-search-job.json"
#: Environment variables a build's output can depend on (by prefix), and those among them
#: that cannot change it (make bench's timing log of the search step).
ENV_PREFIXES = ("KB_", "READTHEDOCS", "SPHINX", "SOURCE_DATE_EPOCH", "PYTHON")
ENV_NOT_OUTPUT = frozenset({"KB_SEARCH_TIMING_FILE"})
KEPT_DOT_FILES = {".buildinfo"}
RECORD_HEADER = """\
# Every page address this site has published, one a line (make html adds new ones).
# A line is never removed: when a page is renamed, moved or removed, add a redirect to
# docs/_data/redirects.yaml ("old.html: new.html"); the build refuses otherwise. See the
# writers' guide, "Renaming, moving or removing a page".
"""


def say(message: str) -> None:
    print(message, flush=True)  # Sphinx's warnings go to stderr, the driver's news here


def hold_lock(path: Path, wait: bool, what: str):
    """Open and lock *path*; returns the open file (the lock lasts as long as it does)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
            raise
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        if not wait:
            say(f"{what} is already running in this checkout ({holder}). Stop it first "
                "(Ctrl-C in its terminal), or use the one that is running.")
            sys.exit(1)
        say(f"Another build is running in this checkout ({holder}); waiting for it to "
            "finish (Ctrl-C to stop waiting)...")
        fcntl.flock(handle, fcntl.LOCK_EX)
    handle.seek(0)
    handle.truncate()
    handle.write(f"{what}, process {os.getpid()}, started "
                 f"{dt.datetime.now().strftime('%H:%M:%S')}\n")
    handle.flush()
    return handle


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux renameat2 RENAME_EXCHANGE); False if not here."""
    if not sys.platform.startswith("linux"):
        return False
    # the C library this Python already runs with (find_library runs ``ldconfig -p``),
    # else the one find_library names
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6",
                               use_errno=True)
            renameat2 = libc.renameat2
        except (OSError, AttributeError):
            return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0


def _ignore_leftovers(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n.startswith(".") and n not in KEPT_DOT_FILES}


def _file_stamp(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


#: The search index's folder: its update hard-links the files it keeps from the last index
#: (which changes their change time, not their content); its other files are new. No file
#: in it is ever written in place (kb/pagefind_delta.py writes every index into a fresh
#: folder and swaps it in whole), so publishing hard-links its files from the staging
#: folder instead of copying them, where every other file is copied (Sphinx writes those
#: in place).
SEARCH_BUNDLE = "pagefind" + os.sep


def _publish_stamp(rel: str, st: os.stat_result) -> list[int]:
    """How publishing knows a staging file is the one it published last time: size,
    modification time and inode, and the change time (which any write sets) except in
    the search index's folder (see SEARCH_BUNDLE)."""
    if rel.startswith(SEARCH_BUNDLE):
        return [st.st_size, st.st_mtime_ns, st.st_ino]
    return _file_stamp(st)


def _copy_tree(staging: Path, new: Path, published: Path, manifest: dict,
               top=None, stop: threading.Event | None = None,
               link: bool = False) -> dict:
    """Copy *staging* into *new*: a file unchanged since the last publish (its staging
    stamp in *manifest*), whose published copy is also unchanged (size, modification
    time and inode as recorded; a hard link changes only its change time), is
    hard-linked from *published*; returns the stamps of this copy. *top*, if given,
    says which of the names at the top of *staging* are copied; *stop*, once set, ends
    the copy (``Stopped``). With *link*, every other file is hard-linked from *staging*
    (only for files never written in place: see SEARCH_BUNDLE), or copied where that
    cannot be done."""
    stamps = {}
    for root, dirs, files in os.walk(staging):
        rel_root = os.path.relpath(root, staging)
        keep = (lambda name: True) if top is None or rel_root != "." else top
        dirs[:] = [d for d in dirs if d not in _ignore_leftovers(root, [d]) and keep(d)]
        target_root = new / rel_root
        target_root.mkdir(parents=True, exist_ok=True)
        for name in sorted(set(files) - _ignore_leftovers(root, files)):
            if not keep(name):
                continue
            if stop is not None and stop.is_set():
                raise Stopped
            source = Path(root, name)
            rel = os.path.normpath(os.path.join(rel_root, name))
            target = target_root / name
            if source.is_symlink():
                os.symlink(os.readlink(source), target)
                continue
            stamp = _publish_stamp(rel, source.stat())
            old = published / rel
            recorded = manifest.get(rel)
            if isinstance(recorded, list) and len(recorded) == 2 and recorded[0] == stamp:
                try:  # the published copy, if it is still the one published then
                    st = os.lstat(old)
                    if [st.st_size, st.st_mtime_ns, st.st_ino] == recorded[1]:
                        os.link(old, target)
                        stamps[rel] = [stamp, recorded[1]]
                        continue
                except OSError:
                    pass  # gone, another file system, or no hard links: copy
            if link:
                try:
                    os.link(source, target)
                except OSError:  # another file system, or no hard links
                    shutil.copy2(source, target)
            else:
                shutil.copy2(source, target)
            st = os.stat(target)
            stamps[rel] = [stamp, [st.st_size, st.st_mtime_ns, st.st_ino]]
    return stamps


class Stopped(Exception):
    """A publication was abandoned while its pages were being copied."""


class Publication:
    """*staging* copied into a new folder, then put in place of *published* at once.

    The search index is the last thing written into the staging folder, by a child
    process, into a folder of its own (``pagefind/``, swapped in when complete). So the
    rest of the site can be copied while it runs (:meth:`start`, in a thread: copying
    is 0.6-0.8 s of one CPU at 500 articles, and Pagefind leaves a CPU free for most of
    its run); :meth:`finish` hard-links the search index's files, which are never
    written in place (see SEARCH_BUNDLE; all of the site is copied without
    :meth:`start`), and swaps the new site in; :meth:`abandon` stops and removes the
    copy, and the published site stays as it was."""

    def __init__(self, staging: Path, published: Path, manifest_path: Path | None = None):
        self.staging, self.published = staging, published
        self.manifest_path = manifest_path
        self.new = published.parent / f"{published.name}.new.{os.getpid()}"
        self.stamps: dict = {}
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._stop = threading.Event()
        shutil.rmtree(self.new, ignore_errors=True)
        manifest = {}
        if manifest_path is not None and published.is_dir():
            try:
                manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                manifest = {}
        self.manifest = manifest if isinstance(manifest, dict) else {}

    def _copy_pages(self) -> None:
        try:
            self.stamps.update(_copy_tree(self.staging, self.new, self.published,
                                          self.manifest, _not_search_bundle, self._stop))
        except BaseException as error:  # noqa: BLE001 - raised again by finish()
            self._error = error

    def start(self) -> None:
        """Copy everything but the search index, in a thread."""
        self._thread = threading.Thread(target=self._copy_pages, name="kb-publish",
                                        daemon=True)
        self._thread.start()

    def finish(self) -> None:
        """Copy what is left and put the new site in place of the published one."""
        if self._thread is not None:
            self._thread.join()
            if self._error is not None:
                raise self._error
        searching = self._thread is not None  # what is left: the search index, linked
        self.stamps.update(_copy_tree(self.staging, self.new, self.published,
                                      self.manifest, _search_bundle if searching else None,
                                      link=searching))
        if self.manifest_path is not None:
            # rewritten once the new site is in place
            self.manifest_path.unlink(missing_ok=True)
        parent, published = self.published.parent, self.published
        old = parent / f"{published.name}.old.{os.getpid()}"
        if published.is_dir() and _exchange(self.new, published):
            shutil.rmtree(self.new, ignore_errors=True)  # now the old site
        else:
            if published.exists():
                published.rename(old)
            self.new.rename(published)
            shutil.rmtree(old, ignore_errors=True)
        if self.manifest_path is not None:
            self.manifest_path.write_text(json.dumps(self.stamps), encoding="utf-8")

    def abandon(self) -> None:
        """Stop copying and remove the copy; the published site is unchanged."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        shutil.rmtree(self.new, ignore_errors=True)


def _search_bundle(name: str) -> bool:
    return name + os.sep == SEARCH_BUNDLE


def _not_search_bundle(name: str) -> bool:
    return not _search_bundle(name)


def remove_leftovers(builddir: Path, staging: Path, published: Path) -> None:
    """What killed builds left: half-copied sites, search-index scratch folders, and a
    published site moved aside but not yet replaced (put back)."""
    olds = sorted(builddir.glob(f"{published.name}.old.*"))
    if not published.exists() and olds:
        olds.pop().rename(published)
    for path in builddir.glob(f"{published.name}.new.*"):
        shutil.rmtree(path, ignore_errors=True)
    for path in olds:
        shutil.rmtree(path, ignore_errors=True)
    if staging.is_dir():
        for path in staging.iterdir():
            if path.name.startswith(".") and path.name not in KEPT_DOT_FILES | {
                    ".buildinfo.bak"}:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)


def update_record(doctrees: Path) -> Path | None:
    """Add this build's pages to the record of published URLs (kb/urls.py); returns the
    record's path if it was rewritten."""
    try:
        data = json.loads((doctrees / BUILD_RECORD).read_text(encoding="utf-8"))
        record = Path(data["record"])
        published = set(data["published"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    lines = record.read_text(encoding="utf-8").splitlines() if record.is_file() else []
    known = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    added = sorted(published - known)
    if not added:
        return None
    urls = sorted(known | published)
    tmp = record.with_name(f".{record.name}.{os.getpid()}.tmp")
    tmp.write_text(RECORD_HEADER + "".join(f"{url}\n" for url in urls), encoding="utf-8")
    tmp.replace(record)
    shown = ", ".join(added[:5]) + (f" and {len(added) - 5} more" if len(added) > 5 else "")
    say(f"New published addresses recorded in {os.path.relpath(record)}: {shown}. Commit "
        "this file with your change.")
    return record


def _tree_stamps(top: Path, into: dict) -> None:
    if top.is_file():
        into[str(top)] = _file_stamp(top.stat())
        return
    for root, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(files):
            path = os.path.join(root, name)
            try:
                into[path] = _file_stamp(os.stat(path))
            except OSError:
                into[path] = None


#: A file first listed by a build (no stamp from before it) and changed this close to, or
#: after, its start may have changed while Sphinx read it: that build is not recorded as
#: made from it. (On some kernels file times come from a clock a tick coarser than
#: ``time.time_ns``.)
CHANGE_MARGIN_NS = 20_000_000


def input_stamps(sourcedir: Path, doctrees: Path) -> dict:
    """Stamp of every file under *sourcedir* and of the files outside it that the last
    build listed (none, if no build has listed them yet)."""
    stamps: dict = {}
    _tree_stamps(sourcedir.absolute(), stamps)
    try:
        inputs = json.loads((doctrees / INPUTS).read_text(encoding="utf-8"))
        extra = [Path(p) for p in inputs["paths"]]
    except (OSError, ValueError, KeyError, TypeError):
        extra = []
    for path in extra:
        if path.exists():
            _tree_stamps(path, stamps)
        else:
            stamps[str(path)] = None
    return stamps


def unchanged_during(before: dict, after: dict, started: int, ours: Path | None,
                     sourcedir: Path) -> bool:
    """Whether no input changed while the build ran: each file stamped before it has the
    same stamp after it (except *ours*, the record of published URLs, which this driver
    has just brought up to date), and each file stamped only after it (a new input, or
    one first listed by this build) last changed well before it started."""
    skip = os.path.normpath(ours.absolute()) if ours is not None else None
    inside = str(sourcedir.absolute()) + os.sep
    if any(path not in after and path.startswith(inside) for path in before):
        return False  # a source file removed while the build ran
    for path, stamp in after.items():
        if os.path.normpath(path) == skip:
            continue
        if path in before:
            if before[path] != stamp:
                return False
        elif stamp is not None and stamp[2] >= started - CHANGE_MARGIN_NS:
            return False
    return True


def fingerprint(sourcedir: Path, doctrees: Path, options: list[str],
                stamps: dict | None = None) -> str | None:
    """What a build is made from (see 5. above), hashed; None if it cannot be known (no
    build has listed the files it reads outside the source folder)."""
    if not (doctrees / INPUTS).is_file():
        return None
    if stamps is None:
        stamps = input_stamps(sourcedir, doctrees)
    packages = {}
    for folder in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        try:
            packages[folder] = sorted((e.name, e.stat().st_mtime_ns)
                                      for e in os.scandir(folder))
        except OSError:
            packages[folder] = None
    environ = sorted((k, v) for k, v in os.environ.items()
                     if k.startswith(ENV_PREFIXES) and k not in ENV_NOT_OUTPUT)
    facts = {"sourcedir": str(sourcedir.absolute()), "options": options,
             "python": [sys.executable, sys.version], "packages": packages,
             "environ": environ, "date": dt.date.today().isoformat(), "files": stamps}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode("utf-8")).hexdigest()


def published_stamp(published: Path) -> list[int] | None:
    try:
        return _file_stamp(published.stat())
    except OSError:
        return None


def up_to_date(doctrees: Path, published: Path, print_: str | None) -> bool:
    """Whether the last build was published from exactly this (5. above)."""
    if print_ is None:
        return False
    try:
        last = json.loads((doctrees / LAST_BUILD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(last, dict) and last.get("fingerprint") == print_
            and last.get("published") == published_stamp(published)
            and (published / "index.html").is_file())


def record_inputs(app, exc) -> None:
    """build-finished (the kb extension): the files outside the source folder this build
    read, for the next ``make html``'s "nothing changed" check."""
    if exc is not None or app.builder.name not in ("html", "dirhtml"):
        return
    confdir = Path(app.confdir)
    srcdir = Path(os.path.normpath(Path(app.srcdir).absolute()))
    config = app.config
    paths = [*(getattr(config, "bibtex_bibfiles", None) or []),
             *config.templates_path, *config.html_static_path,
             *getattr(config, "html_extra_path", [])]
    outside = set()
    for name in paths:
        path = Path(os.path.normpath((confdir / name).absolute()))
        if srcdir not in path.parents and path != srcdir:
            outside.add(os.path.normpath(path))
    target = Path(app.doctreedir) / INPUTS
    target.write_text(json.dumps({"paths": sorted(outside)}), encoding="utf-8")


def wait(child: subprocess.Popen) -> tuple[int, bool]:
    """The child's exit status, and whether Ctrl-C was pressed meanwhile (it reaches the
    child too, which stops on its own)."""
    interrupted = False
    while True:
        try:
            return child.wait(), interrupted
        except KeyboardInterrupt:
            interrupted = True


def forget(doctrees: Path) -> None:
    """Drop the saved environment and search-index state: the next build starts over."""
    for name in (ENV_PICKLE, *SEARCH_STATE):
        (doctrees / name).unlink(missing_ok=True)


def keep_bytecode(*folders: Path) -> None:
    """Write the bytecode of the modules in *folders*, where Python was told not to
    (step 7 of the module's docstring); up to date, a look at each module's record
    (2 ms). A folder that cannot be written is compiled in memory at import, as before."""
    if not sys.flags.dont_write_bytecode:
        return  # Python writes it itself on import
    import compileall

    for folder in dict.fromkeys(f.resolve() for f in folders if f.is_dir()):
        compileall.compile_dir(str(folder), quiet=2)


SAVE_FD = "KB_ENV_SAVE_FD"  # kb/upstream.py's SAVE_FD


def _subreaper(on: bool) -> None:
    """Linux: whether the processes this one started are given back to it when their
    parent exits (so that it can reap Sphinx's saving process after Sphinx has exited)."""
    if sys.platform.startswith("linux"):
        try:
            pr_set_child_subreaper = 36
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, int(on), 0, 0, 0)
        except (OSError, AttributeError):
            pass


def _saving_pipe() -> tuple[int, int]:
    """A pipe for Sphinx's background save of its environment (read end, write end);
    this process reaps the saving process (_subreaper) until the build ends."""
    _subreaper(True)
    return os.pipe()


def environment_saved(report: bytes) -> str | None:
    """How the background save Sphinx started (if any) went, from its *report*, once it
    has ended; reaps it. None: saved, or saved by Sphinx itself; else why it was not."""
    lines = report.decode("utf-8", "replace").splitlines()
    started = [line.split()[1] for line in lines
               if line.startswith("saving ") and len(line.split()) == 2]
    for pid in started:
        if pid.isdigit():
            try:
                os.waitpid(int(pid), 0)
            except ChildProcessError:  # not this process's child: init reaps it
                pass
    if not started or "saved" in lines:
        return None
    failed = [line[len("failed: "):] for line in lines if line.startswith("failed: ")]
    return failed[0] if failed else "the saving process stopped before it had finished"


class Searcher:
    """The search step's process (``kb/pagefind_delta.py --serve JOB OUTDIR READY_FD``),
    started beside Sphinx: it imports what it needs and reads the last index's record
    while Sphinx runs, and the last index's words once Sphinx has read few pages
    (``words``); it runs the job Sphinx leaves when told to (``go``), or ends with its
    input. It says ``ready`` through a pipe once the new index is in place, and then
    saves what the index was made from while the site is published (:meth:`finish`)."""

    def __init__(self, job: Path, outdir: Path, lock_fd: int):
        read_end, write_end = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("pagefind_delta.py")),
                 "--serve", str(job), str(outdir), str(write_end)],
                stdin=subprocess.PIPE, pass_fds=(lock_fd, write_end))
        finally:
            os.close(write_end)
        self._ready = open(read_end, "rb")  # noqa: SIM115 - closed by finish() / stop()
        self._input = threading.Lock()

    def send(self, command: str) -> None:
        with self._input:
            try:
                self.process.stdin.write(f"{command}\n".encode())
                self.process.stdin.flush()
            except (OSError, ValueError):  # it has ended: run() reports how
                pass

    def _close(self) -> None:
        with self._input:
            try:
                self.process.stdin.close()
            except OSError:
                pass

    def run(self) -> tuple[int, bool]:
        """Run the job until the new index is in place (0, False), or until it ends:
        its exit status, and whether Ctrl-C was pressed."""
        self.send("go")
        self._close()
        try:
            if self._ready.readline() == b"ready\n":
                return 0, False
        except KeyboardInterrupt:
            return wait(self.process)[0], True
        return wait(self.process)

    def finish(self) -> tuple[int, bool]:
        """Wait until the job has ended (after :meth:`run`: once it has saved what the
        index was made from)."""
        self._ready.close()
        return wait(self.process)

    def stop(self) -> None:
        """No search step: the process ends at once."""
        self._close()
        self.finish()


class SavingReport(threading.Thread):
    """Reads, as it comes, what Sphinx says of saving its environment (kb/upstream.py),
    to its end (every holder of the pipe's write end has exited: Sphinx, and the
    process that saves in the background). A background save means few pages were
    read: the searcher reads the last index's words ahead."""

    def __init__(self, read_end: int, searcher: Searcher):
        super().__init__(name="kb-saving-report", daemon=True)
        self.pipe = open(read_end, "rb")  # noqa: SIM115 - closed at its end, in run()
        self.searcher = searcher
        self.report = b""

    def run(self) -> None:
        with self.pipe:
            for line in self.pipe:
                self.report += line
                if line.startswith(b"saving "):
                    self.searcher.send("words")


def build_html(builddir: Path, sourcedir: Path, options: list[str]) -> int:
    staging = builddir / "staging" / "html"
    doctrees = builddir / "doctrees"
    published = builddir / "html"
    lock = hold_lock(builddir / ".lock", wait=True, what="make html")
    try:
        remove_leftovers(builddir, staging, published)
        doctrees.mkdir(parents=True, exist_ok=True)
        mark = doctrees / MARK
        if mark.exists():
            say("The last build did not finish or had problems: reading every page again, "
                "so that every problem is shown again.")
            forget(doctrees)
        started = time.time_ns()
        before = input_stamps(sourcedir, doctrees)
        if not mark.exists() and up_to_date(doctrees, published,
                                            fingerprint(sourcedir, doctrees, options, before)):
            say(f"Nothing has changed since the last build: {published}/index.html is up to "
                "date.")
            return 0
        (doctrees / LAST_BUILD).unlink(missing_ok=True)
        mark.write_text(f"build started by process {os.getpid()}\n", encoding="utf-8")
        (doctrees / BUILD_RECORD).unlink(missing_ok=True)
        command = [sys.executable, "-m", "sphinx", "-b", "html", *options, "-d",
                   str(doctrees), str(sourcedir), str(staging)]
        job = doctrees / SEARCH_JOB
        job.unlink(missing_ok=True)
        # The search index is built after Sphinx has exited, so that Pagefind does not
        # share the machine's memory with it (at 2,000 articles Sphinx holds 800 MB at
        # the end). KB_SEARCH_INDEX=wait in the environment indexes inside Sphinx.
        env = dict(os.environ)
        env.setdefault("KB_SEARCH_INDEX", "after")
        # this extension, and the one the source folder's conf.py loads (the same one,
        # but for a copy of the site, as the benchmark makes)
        keep_bytecode(Path(__file__).parent, sourcedir / "_ext")
        # Sphinx holds the lock too: if this process is killed, the next build still
        # waits for a Sphinx that goes on writing into the staging folder.
        # After a small read Sphinx saves its environment in the background, and says
        # how that went through this pipe (kb/upstream.py): read before publishing.
        read_end, write_end = _saving_pipe()
        env[SAVE_FD] = str(write_end)
        try:
            child = subprocess.Popen(command, pass_fds=(lock.fileno(), write_end), env=env)
        finally:
            os.close(write_end)
        # the search step's process, started now: it reads ahead what it will need
        searcher = Searcher(job, staging, lock.fileno())
        saving = SavingReport(read_end, searcher)
        saving.start()
        status, interrupted = wait(child)
        publication = None
        if status == 0 and not interrupted:
            publication = Publication(staging, published, doctrees / PUBLISH_MANIFEST)
        if publication is not None and job.exists():
            # the pages are final: copied for publishing while the search index is built
            try:
                publication.start()
                status, interrupted = searcher.run()
            except BaseException:
                publication.abandon()
                raise
            job.unlink(missing_ok=True)
        else:
            searcher.stop()
        if status == 0 and not interrupted:
            try:
                saving.join()
            except BaseException:
                publication.abandon()
                raise
            not_saved = environment_saved(saving.report)
            if not_saved:
                status = 1
                say(f"Sphinx could not save what it read ({doctrees / ENV_PICKLE}: "
                    f"{not_saved}). Check the build folder's free space and permissions.")
        if interrupted or status != 0:
            if publication is not None:
                publication.abandon()
            searcher.finish()
        if interrupted:
            say(f"Build interrupted: the published site in {published} is unchanged.")
            return 130
        if status != 0:
            forget(doctrees)  # the mark does it too; this covers a lost mark
            say(f"Build failed: the published site in {published} is unchanged.")
            return 1
        try:
            publication.finish()
        except OSError as err:
            say(f"The build succeeded but could not be published into {published} "
                f"({err.strerror or err}: {err.filename or ''}); the site there is unchanged. "
                "Fix the folder's permissions or free some space, then run make html again.")
            return 1
        finally:  # the search step saves what its index was made from meanwhile
            status, interrupted = searcher.finish()
        if interrupted:
            say(f"Build interrupted: the site in {published} is published; the next build "
                "reads every page and indexes them all again.")
            return 130
        if status != 0:
            say("The site is published, but the search index's record of what it holds "
                "could not be saved: the next build indexes every page again.")
        try:
            recorded = update_record(doctrees)
        except OSError as err:  # the site is published; only the record is behind
            say(f"The site was published, but the new addresses could not be added to the "
                f"record of published URLs ({err.strerror or err}: {err.filename or ''}). "
                "Fix that, then run make html again.")
            return 1
        mark.unlink(missing_ok=True)
        # what this build was made from, unless something changed while it ran (then the
        # next build runs Sphinx, which sees the change)
        after = input_stamps(sourcedir, doctrees)
        print_ = fingerprint(sourcedir, doctrees, options, after)
        if print_ is not None and unchanged_during(before, after, started, recorded,
                                                   sourcedir):
            (doctrees / LAST_BUILD).write_text(json.dumps({
                "fingerprint": print_, "published": published_stamp(published)}),
                encoding="utf-8")
        say(f"Built: {published}/index.html")
        return 0
    finally:
        _subreaper(False)
        lock.close()


def run_live(builddir: Path, command: list[str]) -> int:
    lock = hold_lock(builddir / ".live.lock", wait=False, what="make livehtml")
    try:
        child = subprocess.Popen(command, pass_fds=(lock.fileno(),))
        return wait(child)[0]
    finally:
        lock.close()


def main(argv: list[str]) -> int:
    if "--" not in argv:
        say("usage: build.py html BUILDDIR SOURCEDIR -- SPHINX-OPTIONS | "
            "live BUILDDIR -- COMMAND")
        return 2
    split = argv.index("--")
    head, rest = argv[:split], argv[split + 1:]
    try:
        if head[:1] == ["html"] and len(head) == 3:
            return build_html(Path(head[1]), Path(head[2]), rest)
        if head[:1] == ["live"] and len(head) == 2:
            return run_live(Path(head[1]), rest)
    except KeyboardInterrupt:  # while waiting for another build, or while publishing
        say("Stopped: the published site is unchanged (or complete, if it was being "
            "replaced).")
        return 130
    except OSError as err:  # a build folder that cannot be written: no traceback
        say(f"Could not use the build folder {head[1]} ({err.strerror or err}: "
            f"{err.filename or ''}); the published site is unchanged. Check that folder's "
            "permissions and free space, then run the command again.")
        return 1
    say(f"unknown arguments: {' '.join(head)}")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
