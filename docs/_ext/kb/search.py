"""Site search: Pagefind's chunked index, built after Sphinx writes the site.

Why Pagefind (https://pagefind.app, pinned as the ``pagefind-bin`` wheel, which carries
the binary): its index is split into small compressed chunks by word, so a first query
fetches a few kilobytes of index instead of the whole site's (Sphinx's one
``searchindex.js`` grows with every article); it stems English, matches prefixes, gives
highlighted excerpts and filters, and runs entirely in the reader's browser from the
static folder, locally and on Read the Docs alike. It has no synonyms and no typo
tolerance, so ``kb/static/kb-search.js`` puts a small query layer in front of it:
stop words dropped, lay words expanded from ``docs/_data/search-synonyms.yaml``, and
misspelt words corrected against the site's own vocabulary, which this module writes
beside the index (``pagefind/kb-search.json`` and ``pagefind/kb-vocab/<letter>.txt``).

What is indexed: articles and the site pages (crisis, about, privacy...), each page's
content only (``data-pagefind-body``), without the reference list, related articles and
call to action. Articles carry their topics as a Pagefind filter.

Sphinx's own index is switched off (``builder.search = False``): nothing reads it, and
building it costs time on every build.

After a full Pagefind run, ``kb/pagefind_delta.py`` rewrites the word index in the
site's chunk layout (smaller chunks, names with no gaps between them), so that a first
search fetches about its own words' postings: see ``relayout`` there.

Pagefind has no incremental mode. After an edit, only the pages whose HTML changed are
indexed again, and ``kb/pagefind_delta.py`` merges them into the last index (the same
index a full run writes); a clean build, or anything that module cannot handle, runs
Pagefind over the whole site: on a site of a few hundred pages or more, in batches of
about 150 pages, two Pagefind runs at a time, merged (one run leaves a CPU idle for
about half of it, and Pagefind holds every page it indexes in memory).

Where the index is built: inside Sphinx at the end of the build (``sphinx-build``, Read
the Docs); after Sphinx has exited with ``make html``, whose driver runs the job Sphinx
leaves (``KB_SEARCH_INDEX=after``, ``kb/build.py``); in the background for the live
preview.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import time
from collections import Counter
from fnmatch import fnmatch
from html import escape
from pathlib import Path

import yaml
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

from . import pagefind_delta
from .pagefind_delta import (BUNDLE, DATA_FILE, VOCAB_DIR, index_site, pagefind_executable,
                             write_job)
from .datafiles import YamlProblem, load_yaml
from .epub import is_book
from .errors import guarded
from .navigation import page_paths
from .build import SEARCH_JOB

logger = logging.getLogger(__name__)

WORD = re.compile(r"[a-z0-9][a-z0-9'\u2019-]*[a-z0-9]")
VOCAB_LIMIT = 20000


def _warn(message: str, location=None) -> None:
    logger.warning(message, type="kb", subtype="search", location=location)


# -- What the reader's words map to (editor-maintained data files) ----------------------

def load_synonyms(path: Path) -> tuple[dict[str, list[str]], list[str]]:
    """The synonym map and a list of problems (``file:line: message``), all of them."""
    problems: list[str] = []
    if not path.is_file():
        return {}, []  # optional: without it, search has no synonyms
    try:
        text = path.read_text(encoding="utf-8")
        _, root = load_yaml(text)
    except UnicodeDecodeError as err:
        line = path.read_bytes()[:err.start].count(b"\n") + 1
        return {}, [f"{path}:{line}: the file is not UTF-8 text; save it as UTF-8"]
    except YamlProblem as err:
        return {}, [f"{path}:{err.line}: {err.message}"]
    if root is None:
        return {}, []
    if not isinstance(root, yaml.MappingNode):
        return {}, [f"{path}:1: expected a mapping of 'lay word: [words the articles use]'"]
    result: dict[str, list[str]] = {}
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1
        key = str(key_node.value).strip().lower()
        if not key:
            problems.append(f"{path}:{line}: empty key")
            continue
        if key in result:
            problems.append(f"{path}:{line}: '{key}' is listed twice (merge the two lists)")
            continue
        if isinstance(value_node, yaml.SequenceNode):
            values = [str(v.value).strip().lower() for v in value_node.value
                      if isinstance(v, yaml.ScalarNode) and str(v.value).strip()]
            if len(values) != len(value_node.value):
                problems.append(f"{path}:{line}: '{key}': every alternative must be a "
                                "non-empty word or phrase")
        elif isinstance(value_node, yaml.ScalarNode) and str(value_node.value).strip():
            values = [str(value_node.value).strip().lower()]
        else:
            problems.append(f"{path}:{line}: '{key}' needs a list of words the articles "
                            "use, e.g. [grief, loss]")
            continue
        result[key] = [v for v in values if v != key]
    return result, problems


def load_stopwords(path: Path) -> list[str]:
    if not path.is_file():
        return []
    words = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        word = raw.split("#", 1)[0].strip().lower()
        if word:
            words.append(word)
    return sorted(set(words))


# -- Reading: each indexed page's words, for spelling correction ------------------------

def words_of(doctree: nodes.document) -> Counter:
    # the text of the page at once (a word never runs across a line break), counted in
    # one call
    text = "\n".join(doctree.findall(nodes.Text))
    if "\x00" in text:  # an escaped character: each node's text as docutils gives it
        text = "\n".join([node.astext() for node in doctree.findall(nodes.Text)])
    return count_words(text)


def count_words(text: str) -> Counter:
    """Each word of *text*, lowercased, with its count; a hyphenated word's parts too."""
    counts = Counter(WORD.findall(text.lower().replace("\u2019", "'")))
    for word, count in [(word, count) for word, count in counts.items() if "-" in word]:
        for part in word.split("-"):  # "post-traumatic" is also typed "post traumatic"
            if len(part) > 2:
                counts[part] += count
    return counts


@guarded("collecting the search vocabulary")
def _doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    env = app.env
    if not hasattr(env, "kb_search_words"):
        env.kb_search_words = {}
    env.kb_search_words[env.docname] = dict(words_of(doctree))


def _purge(app, env, docname) -> None:
    getattr(env, "kb_search_words", {}).pop(docname, None)


def _merge(app, env, docnames, other) -> None:
    if not hasattr(env, "kb_search_words"):
        env.kb_search_words = {}
    for docname in docnames:
        if docname in getattr(other, "kb_search_words", {}):
            env.kb_search_words[docname] = other.kb_search_words[docname]


#: Each page's word counts, kept beside the saved environment rather than in it: they are
#: the largest part of it (11 of 24 MB at 2,000 articles), and only the vocabulary needs
#: them, once per build in which a page was read. The environment carries only the pages
#: read in this build, until ``env-updated`` moves them here.
WORDS_FILE = "kb-search-vocabulary.pickle"


def _pack(counts: dict[str, int]) -> str:
    """A page's word counts as one string (one object to save and load, not thousands)."""
    return " ".join(f"{word}\t{count}" for word, count in counts.items())


def _unpack(packed: str) -> dict[str, int]:
    counts = {}
    for item in packed.split(" ") if packed else ():
        word, _, count = item.rpartition("\t")
        counts[word] = int(count)
    return counts


@guarded("collecting the search vocabulary")
def _env_updated(app: Sphinx, env) -> list[str]:
    """Bring the record up to date with the pages read in this build: each page's counts
    (packed), and the total over the indexed pages, changed by the difference for each
    page read or removed; the whole total is summed again only when which pages are
    indexed changed otherwise (a setting)."""
    path = Path(app.doctreedir) / WORDS_FILE
    read = getattr(env, "kb_search_words", {})
    store = None
    try:
        with open(path, "rb") as f:
            store = pickle.load(f)
        if not (isinstance(store, dict) and store.get("version") == 2):
            store = None
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
        store = None
    if store is None:  # no record (first build, or it was lost): made from every page
        store = {"version": 2, "docs": {}, "indexed": [], "total": {}, "vocabulary": []}
    docs, total = store["docs"], Counter(store["total"])
    was_indexed = set(store["indexed"])
    for docname in sorted(set(env.found_docs) - set(read) - set(docs)):
        try:  # a page not read in this build, with no record: its saved doctree
            read[docname] = dict(words_of(env.get_doctree(docname)))
        except (OSError, pickle.UnpicklingError, EOFError, KeyError):
            read[docname] = {}
    changed = [d for d in docs if d not in env.found_docs] + sorted(read)
    for docname in changed:  # take out what the record counted for the page
        if docname in was_indexed and docname in docs:
            total.subtract(_unpack(docs[docname]))
        docs.pop(docname, None)
        was_indexed.discard(docname)
    for docname, counts in read.items():
        docs[docname] = _pack(counts)
    indexed_now = {d for d in docs if indexed(env, d)}
    if was_indexed != indexed_now - set(read):  # a setting changed which pages count
        total = Counter()
        for docname in indexed_now:
            total.update(_unpack(docs[docname]))
    else:
        for docname in read:
            if docname in indexed_now:
                total.update(read[docname])
    if changed or set(store["indexed"]) != indexed_now:
        total = Counter({w: c for w, c in total.items() if c > 0})
        store["total"] = dict(total)
        store["vocabulary"] = [w for w, _ in sorted(total.items(),
                                                    key=lambda kv: (-kv[1], kv[0]))
                               ][:VOCAB_LIMIT]
        store["indexed"] = sorted(indexed_now)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(store, f, pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    env.kb_search_words = {}  # not saved with the environment
    app.kb_search_vocabulary = store["vocabulary"]
    return []


def indexed(env, pagename: str) -> bool:
    """Articles and site pages are searchable; the pages in ``kb_search_exclude`` (the
    home page, the bibliography and the writers' guide, which only repeat article titles
    or are not for readers) and generated listings are not."""
    if pagename in getattr(env, "kb_articles", {}):
        return True
    if pagename not in getattr(env, "kb_pages", {}):
        return False
    return not any(fnmatch(pagename, pattern) for pattern in env.config.kb_search_exclude)


def vocabulary(app: Sphinx) -> list[str]:
    """The words of every indexed page, most frequent first (made at ``env-updated``)."""
    return getattr(app, "kb_search_vocabulary", [])


# -- Writing ----------------------------------------------------------------------------

def _config_inited(app: Sphinx, config) -> None:
    # The search page's template, script and styles ship with the extension, so every
    # project using it (the site, the test projects, the benchmark corpus) gets the same
    # page.
    here = Path(__file__).parent
    if str(here / "templates") not in config.templates_path:
        config.templates_path.append(str(here / "templates"))
    if str(here / "static") not in config.html_static_path:
        config.html_static_path.append(str(here / "static"))


def _builder_inited(app: Sphinx) -> None:
    if app.builder.format == "html" and hasattr(app.builder, "search"):
        app.builder.search = False  # Sphinx's searchindex.js: replaced by Pagefind


def _collect_pages(app: Sphinx):
    if (app.builder.format != "html" or app.builder.name in ("singlehtml",)
            or is_book(app.builder)):
        return []
    return [("search", {"title": "Search"}, "kb-search.html")]


@guarded("marking the searchable part of a page")
def _page_context(app: Sphinx, pagename, templatename, context, doctree) -> None:
    env = app.env
    if is_book(app.builder):  # a book has no search index
        return
    if pagename == "search":
        context["kb_search_topics"] = sorted(t["title"] for t in env.kb_topics.values())
        context["kb_pagefind_js"] = f"{BUNDLE}/pagefind.js"
        return
    if doctree is None or "body" not in context or not indexed(env, pagename):
        return
    article = env.kb_articles.get(pagename)
    filters = ""
    if article is not None:
        filters = "".join(
            f'<span data-pagefind-filter="topic:{escape(env.kb_topics[t]["title"])}">'
            "</span>" for t in article.topics if t in env.kb_topics)
    # Site pages (about, privacy...) rank below articles that use the same words.
    weight = "" if article is not None else ' data-pagefind-weight="0.5"'
    context["body"] = f'<div data-pagefind-body{weight}>{filters}{context["body"]}</div>'


def _stale_and_changed(app: Sphinx, outdir: Path,
                       stamp: float) -> tuple[list[Path], bool, list[str]]:
    """Pages left over from earlier builds that would still be indexed (an article since
    deleted or turned back into a draft), whether any indexed page was written after
    ``stamp``, and the indexed pages (paths relative to *outdir*). One directory walk;
    only unexpected files are opened."""
    env = app.env
    expected = set(page_paths(app, [d for d in env.all_docs if indexed(env, d)]).values())
    stale, changed, pages = [], False, []
    top = os.path.normpath(outdir)
    for root, dirs, files in os.walk(top):  # strings, not a Path per page
        dirs[:] = [d for d in dirs if not d.startswith((".", "_")) and d != BUNDLE]
        for name in files:
            if not name.endswith(".html"):
                continue
            path = os.path.normpath(os.path.join(root, name))
            if path in expected:
                changed = changed or os.stat(path).st_mtime > stamp
                pages.append(os.path.relpath(path, top).replace(os.sep, "/"))
            elif "data-pagefind-body" in Path(path).read_text(encoding="utf-8",
                                                               errors="replace"):
                stale.append(Path(path))
    return stale, changed, sorted(pages)


def vocabulary_key(word: str) -> str:
    """Which vocabulary file holds a word: its first letter (kb-search.js does the same)."""
    first = word[:1]
    return first if "a" <= first <= "z" else "0" if first.isdigit() else "_"


def query_words(text: str) -> list[str]:
    """A text's words as kb-search.js's normalize() reads a query: lower case,
    apostrophes dropped, split on anything but letters and digits."""
    text = re.sub("[\u2018\u2019\u02bc']", "", text.lower())
    return [w for w in re.split("[^a-z0-9\u00c0-\u024f]+", text) if w]


def search_files(synonyms, stopwords, words) -> dict[str, str]:
    """The query layer's data, beside Pagefind's index: the editors' lists in one small
    file, and the site's vocabulary split by first letter. The browser fetches a letter's
    vocabulary only to correct a word Pagefind finds on no page, so the lists carry
    what a search needs without it: ``absent``, the synonym list's single words that no
    page uses (a reader's "dad" is searched as what it stands for only)."""
    vocab = set(words)
    absent = set()
    for key in synonyms:
        norm = query_words(key.replace("-", " "))
        if len(norm) == 1 and norm[0] not in vocab:
            absent.add(norm[0])
    files = {DATA_FILE: json.dumps({"synonyms": synonyms, "stopwords": stopwords,
                                    "absent": sorted(absent)},
                                   ensure_ascii=False, sort_keys=True,
                                   separators=(",", ":"))}
    by_key: dict[str, list[str]] = {}
    for word in words:  # most frequent first, kept in that order
        by_key.setdefault(vocabulary_key(word), []).append(word)
    # every letter has its file, even empty: the browser never asks for a missing one
    for key in [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["0", "_"]:
        files[f"{VOCAB_DIR}/{key}.txt"] = " ".join(by_key.get(key, []))
    return files


def _same_files(bundle: Path, files: dict[str, str]) -> bool:
    vocab = bundle / VOCAB_DIR
    present = {f"{VOCAB_DIR}/{p.name}" for p in vocab.glob("*.txt")} if vocab.is_dir() else set()
    if present != {name for name in files if name.startswith(VOCAB_DIR + "/")}:
        return False
    for name, text in files.items():
        path = bundle / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            return False
    return True


@guarded("building the search index")
def _build_finished(app: Sphinx, exc) -> None:
    if (exc is not None or app.builder.format != "html" or app.builder.name == "singlehtml"
            or is_book(app.builder)):
        return
    outdir = Path(app.outdir)
    srcdir = Path(app.srcdir)
    cfg = app.config
    synonyms, problems = load_synonyms(srcdir / cfg.kb_search_synonyms_file)
    for problem in problems:
        _warn(problem)
    files = search_files(synonyms, load_stopwords(srcdir / cfg.kb_search_stopwords_file),
                         vocabulary(app))

    bundle = outdir / BUNDLE
    entry = bundle / "pagefind-entry.json"
    stamp = entry.stat().st_mtime if entry.is_file() else 0.0
    stale, changed, pages = _stale_and_changed(app, outdir, stamp)
    for path in stale:
        logger.info("removing %s: its page is no longer in the source", path)
        path.unlink()
    if not changed and not stale and _same_files(bundle, files):
        return  # nothing a reader could find has changed

    exe = pagefind_executable()
    if exe is None:
        _warn("the search index was not built: Pagefind is not installed (it is pinned in "
              "requirements.txt as pagefind-bin; run `make html`, which installs it)")
        return
    language = (cfg.language or "en").split("_")[0]
    mode = os.environ.get("KB_SEARCH_INDEX") or cfg.kb_search_index
    state_file = Path(app.doctreedir) / pagefind_delta.STATE_FILE
    if mode == "after":
        # make html (kb/build.py) runs the job once Sphinx has exited
        write_job(Path(app.doctreedir) / SEARCH_JOB, outdir, language, files, pages,
                  state_file, quiet=app.quiet)
        return
    if mode == "background":
        _index_in_background(outdir, language, files, pages, state_file)
        return
    started = time.perf_counter()
    report: dict = {}
    error = index_site(exe, outdir, language, files, pages, state_file, report,
                       log=logger.info)
    if error:
        _warn(error)
    else:
        pagefind_delta.log_timing(started, report)


def _index_in_background(outdir: Path, language: str, files: dict[str, str],
                         pages: list[str], state_file: Path) -> None:
    """The live preview (``make livehtml``) shows an edit as soon as its pages are
    written; the search index follows a few seconds later, in a child process."""
    job = outdir / f".{BUNDLE}-job.json"
    write_job(job, outdir, language, files, pages, state_file, quiet=True)
    subprocess.Popen(pagefind_delta.job_command(job), start_new_session=True,
                     stdin=subprocess.DEVNULL)
    logger.info("search index: updating in the background")


def setup_search(app: Sphinx) -> None:
    app.add_config_value("kb_search_synonyms_file", "_data/search-synonyms.yaml", "env")
    app.add_config_value("kb_search_stopwords_file", "_data/search-stopwords.txt", "env")
    app.add_config_value("kb_search_exclude", ["index", "bibliography", "contributing/*"],
                         "env")
    # "wait": the build ends when the index is written (sphinx-build, Read the Docs);
    # "after": Sphinx writes the index's job into the doctree folder (SEARCH_JOB) and
    # make html runs it once Sphinx has exited (kb/build.py); "background": the live
    # preview's pages show first, the index follows. The environment variable
    # KB_SEARCH_INDEX overrides it.
    app.add_config_value("kb_search_index", "wait", "", types=[str])
    app.connect("config-inited", _config_inited)
    app.connect("builder-inited", _builder_inited)
    app.connect("doctree-read", _doctree_read)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-updated", _env_updated)
    app.connect("html-collect-pages", _collect_pages)
    app.connect("html-page-context", _page_context, priority=600)
    app.connect("build-finished", _build_finished)

