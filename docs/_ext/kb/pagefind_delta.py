"""Re-index only the pages that changed: an incremental update of Pagefind's bundle.

Pagefind has no incremental mode: every run parses every page, and at 500 articles that
was most of an edit's rebuild (1.6-2 s of a 3.8 s build on the benchmark machine). When
only some indexed pages changed since the last index, :func:`update` runs Pagefind over
just those pages into a scratch bundle and merges it into the previous one:

- the changed pages keep their page numbers; their old postings, filter entries and
  fragments are replaced by the scratch run's;
- a word's accented forms (Pagefind 1.5 indexes ``García`` as ``garcia`` and keeps the
  form ``garcía`` with its own postings beside the word's) are merged the same way, and
  kept in the order a full run writes them: by the first page each form is on;
- the word list is cut into chunks in the site's layout (below), the one
  :func:`relayout` gives a full run, and every file is named as Pagefind names it (the
  SHA-1 of its CBOR payload, each byte written as ``{:x}``), gzipped at Pagefind's level;
- everything else (Pagefind's scripts, the WebAssembly, unchanged fragments and chunks)
  is hard-linked from the previous bundle into a fresh folder that the caller swaps in, so
  a reader never sees a half-written index.

The result is the index a full run would write: ``tests/test_search_incremental.py``
compares them word by word and page by page. A full index of a large site is made the
same way (:func:`index_in_batches`): Pagefind over about 150 pages at a time, two runs
at once, each run's pages appended to the last. (Pagefind numbers pages in the order its
parse finishes them, so two full runs differ in page order; nothing else depends on it.)

To merge without decoding every location of every word, the words of the last index are
kept beside the saved state (``WORDS_FILE``) with each posting already encoded, so an
update decodes only the scratch run and re-encodes only the chunks that change.

The site's chunk layout (:func:`relayout`, issue 18: the bytes of a first search).
Pagefind cuts the word list into chunks of 20,000 locations (``_cut``) and names each by
its first and last word, shortened to the prefixes that tell neighbours apart
(``_chunk_meta``). In the browser a query term, and its stem, is looked up in the chunk
whose ``[from, to]`` holds it; a term that falls in no chunk's range (a word the site has
but longer than its chunk's shortened last name, "anxiety" after ``[..., "anxie"]``, or a
word it does not have) loads instead every chunk whose names agree with the term's first
letters, a chunk named by one letter (``"a"``) among them. At 2,000 articles the first
search for "anxiety" fetched 125 KB of index, 93 KB of it the chunk of the word "a", where
about 10 KB hold the word's postings. After a full run this module rewrites the index:

- chunks of ``SITE_CHUNK_SIZE`` (5,000) locations, so a frequent word sits alone in its
  chunk and a query fetches about its own postings (the chunk list in ``pf_meta`` grows
  by about 3.4 KB at 2,000 articles; that search, with no gaps and 20,000 locations a
  chunk: 165 KB, 10,000: 152 KB, 5,000: 147 KB, 2,500: 149 KB);
- names that leave no gap: each chunk runs from the shortest prefix of its first word
  that sorts after the previous chunk's last word, to the next chunk's start (the first
  from ``""``, the last to U+10FFFF), so every term falls in one chunk (two when it equals
  a chunk's start exactly) and the loose lookup never runs. A word that starts other
  words (a reader still typing) finds the chunk holding the first of them.

Pagefind's search reads words from whatever chunks it loads, so only the names and the
cut change; :func:`_words_from` accepts a bundle in either layout, byte for byte.

Applies to Pagefind 1.5.2's bundle format (``FORMAT``), the version pinned in
requirements.txt. After every full run the chunking is checked against Pagefind's own;
on anything unexpected (another version in either bundle, an unknown field, a page added
or removed, a file of the last index changed or damaged since it was written (its size or
time differ from the record), a hash collision, more than ``MAX_SHARE`` of the pages
changed, no saved state, no ``cbor2``) :class:`Fallback` is raised and the caller runs Pagefind over the
whole site, as before. The state lives in Sphinx's doctree folder, not in the site.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import gc
import gzip
import hashlib
import json
import marshal
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

FORMAT = "1.5.2"
HEADER = b"pagefind_dcd"
CHUNK_SIZE = 20000          # Pagefind's chunk_index(): locations per index chunk
SITE_CHUNK_SIZE = 5000      # the site's layout (relayout): locations per index chunk
OPEN_END = "\U0010ffff"     # the last chunk's end: after any term
GZIP_LEVEL = 6              # Pagefind's: the same payload gives the same bytes
MAX_SHARE = 0.3             # more changed pages than this: a full run is as quick
BATCH_PAGES = 600           # a full index: pages held by the Pagefind runs at once
                            # (index_in_batches); Pagefind holds about 0.7 MB a page
                            # (420 MB for 600)
SPLIT_PAGES = 200           # a full index of this many pages or more: in batches of
FULL_BATCH_PAGES = 150      # about this many pages, PAGEFIND_JOBS runs at a time
PAGEFIND_JOBS = 2           # (full_batches): one run leaves a CPU idle for about half
                            # of it, and a batch is merged while the next ones run (506
                            # pages on 2 CPUs: one run and the relayout 3.3-3.9 s; two
                            # batches 3.1-3.5 s, four 2.6-3.0 s, six 2.9-3.0 s)
STATE_FILE = "kb-pagefind-state.json"
WORDS_FILE = "kb-pagefind-words.marshal"
STATE_VERSION = 5           # 2: the words' accent variants are saved beside them;
                            # 3: the index files' sizes and times (a damaged file);
                            # 4: the site's chunk layout; 5: the words in marshal
INDEX_FOLDERS = ("fragment", "index", "filter")
GLOB_SPECIAL = re.compile(r"[*?\[\]{},\\!]")
UNEXPECTED = (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError,
              EOFError)


class Fallback(Exception):
    """The bundle cannot be updated in place; run Pagefind over the whole site."""


def _cbor():
    try:
        import cbor2
    except ImportError as error:  # pragma: no cover - pinned in requirements.txt
        raise Fallback("cbor2 is not installed") from error
    return cbor2


# -- Pagefind's files ------------------------------------------------------------------------

def full_hash(data: bytes) -> str:
    """Pagefind's file hash: each byte of the SHA-1 digest as ``{:x}`` (no zero padding)."""
    return "".join(f"{byte:x}" for byte in hashlib.sha1(data).digest())


def read_file(path: Path) -> bytes:
    """A bundle file's payload: gunzipped, Pagefind's signature checked and removed."""
    data = gzip.decompress(path.read_bytes())
    if not data.startswith(HEADER):
        raise Fallback(f"{path.name} is not a Pagefind file")
    return data[len(HEADER):]


def _write_file(path: Path, payload: bytes) -> None:
    path.write_bytes(gzip.compress(HEADER + payload, compresslevel=GZIP_LEVEL, mtime=0))


def _entry(bundle: Path) -> dict:
    try:
        return json.loads((bundle / "pagefind-entry.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise Fallback(f"no readable pagefind-entry.json ({error})") from error


def _language(entry: dict) -> tuple[str, dict]:
    languages = entry.get("languages") or {}
    if entry.get("version") != FORMAT or len(languages) != 1:
        raise Fallback(f"a Pagefind {entry.get('version')} bundle with {len(languages)} "
                       f"languages (this update reads {FORMAT}, with one)")
    return next(iter(languages.items()))


def _meta(cbor2, bundle: Path) -> tuple[str, list]:
    """The language and the six fields of the bundle's pf_meta."""
    language, info = _language(_entry(bundle))
    meta = cbor2.loads(read_file(bundle / f"pagefind.{info['hash']}.pf_meta"))
    if not isinstance(meta, list) or len(meta) != 6 or meta[0] != FORMAT:
        raise Fallback("an unknown pf_meta layout")
    return language, meta


def page_url(relpath: str) -> str:
    """The URL Pagefind gives a page file (``about/index.html`` is ``/about/``)."""
    url = "/" + relpath.replace(os.sep, "/")
    return url[: -len("index.html")] if url.endswith("/index.html") else url


# -- CBOR, for payloads assembled from already encoded postings ------------------------------

def _head(major: int, n: int) -> bytes:
    """A CBOR item head in its shortest form, as minicbor (Pagefind) and cbor2 write it."""
    if n < 24:
        return bytes([major << 5 | n])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | extra]) + n.to_bytes(size, "big")
    raise Fallback("a number too large for CBOR")


_SMALL = [bytes([n]) for n in range(24)]  # unsigned integers below 24: one byte


def _text(text: str) -> bytes:
    data = text.encode("utf-8")
    return _head(3, len(data)) + data


def _postings_payload(parts: list[bytes], numbers: list[int], rests: list[bytes]) -> None:
    """``[[page, locations, metadata locations]...]``, appended to *parts*. Pagefind
    writes each posting's page as the difference from the posting before (the first as
    it is)."""
    parts.append(_head(4, len(numbers)))
    previous = 0
    for number, rest in zip(numbers, rests):
        step = number - previous
        parts += (b"\x83", _SMALL[step] if step < 24 else _head(0, step), rest)
        previous = number


def _word_payload(word: str, numbers: list[int], rests: list[bytes],
                  variants: list | None = None) -> bytes:
    """``[word, postings, [[form, postings]...]]``: the postings of the word as indexed
    (accents removed), then those of each form it was written in with accents
    (``garcia``: ``[["garcía", postings]]``), each variant's pages counted from 0."""
    parts = [b"\x83", _text(word)]
    _postings_payload(parts, numbers, rests)
    if not variants:
        parts.append(b"\x80")
        return b"".join(parts)
    parts.append(_head(4, len(variants)))
    for form, form_numbers, form_rests in variants:
        parts += (b"\x82", _text(form))
        _postings_payload(parts, form_numbers, form_rests)
    return b"".join(parts)


# -- The words of an index, postings kept encoded -------------------------------------------
#
# words: {word: (page numbers, locations per posting, encoded rest of each posting)}, in
# page order. A posting is ``[page, locations, metadata locations]``, its page written as
# the difference from the posting before; Pagefind sizes a chunk by locations + metadata
# locations + 1 per posting. Only the page numbers are ever decoded.
#
# variants: {word: [(form, page numbers, encoded rests)...]}. Pagefind 1.5 indexes a word
# without its accents (``flückiger`` under ``fluckig``, after stemming) and keeps the
# postings of each accented form apart, beside the word's own: a word written only with
# accents has no postings of its own. The variants do not count towards a chunk's size.
# Their order is the order in which a full run meets them: by the first page each is
# on (two forms first met on the same page come in no fixed order, in Pagefind too).

def _postings(cbor2, postings: list) -> tuple[list[int], list[int], list[bytes]]:
    numbers, counts, rests, number = [], [], [], 0
    dumps = cbor2.dumps
    for posting in postings:
        if len(posting) != 3:
            raise Fallback("an unknown posting layout in the index")
        step, locations, meta_locations = posting
        number += step
        numbers.append(number)
        counts.append(len(locations) + len(meta_locations) + 1)
        rests.append(dumps(locations) + (dumps(meta_locations) if meta_locations else b"\x80"))
    return numbers, counts, rests


def _read_words(cbor2, bundle: Path, chunks: list):
    """Each ``(word, postings, variants)`` of the bundle's index chunks, variants as
    ``[(form, postings)...]``."""
    for chunk in chunks:
        for entry in cbor2.loads(read_file(bundle / "index" / f"{chunk[2]}.pf_index"))[0]:
            if (len(entry) != 3 or not isinstance(entry[0], str)
                    or not isinstance(entry[1], list) or not isinstance(entry[2], list)
                    or any(not isinstance(v, list) or len(v) != 2 or not isinstance(v[0], str)
                           or not isinstance(v[1], list) or not v[1] for v in entry[2])):
                raise Fallback(f"an unknown word layout in the index ({entry[0]!r})")
            yield entry[0], entry[1], entry[2]


def _variants(cbor2, forms: list) -> list:
    result = []
    for form, postings in forms:
        numbers, _counts, rests = _postings(cbor2, postings)
        result.append((form, numbers, rests))
    return result


def _words_from(cbor2, bundle: Path, chunks: list) -> tuple[dict, dict]:
    """The bundle's words and their variants, checked: re-encoded and cut by this module
    they must give Pagefind's own chunks byte for byte, or the format is not the one it
    knows."""
    words, variants = {}, {}
    for word, postings, forms in _read_words(cbor2, bundle, chunks):
        words[word] = _postings(cbor2, postings)
        if forms:
            variants[word] = _variants(cbor2, forms)
    names = [list(chunk[:2]) for chunk in chunks]
    for size, naming in ((CHUNK_SIZE, _chunk_meta), (SITE_CHUNK_SIZE, _site_chunk_meta)):
        cut = _cut(words, size)
        if naming(cut) == names and all(
                _chunk_payload(words, variants, chunk_words) == read_file(
                    bundle / "index" / f"{chunk[2]}.pf_index")
                for chunk_words, chunk in zip(cut, chunks)):
            return words, variants
    raise Fallback("Pagefind's index is not written as this update writes it")


def _chunk_payload(words: dict, variants: dict, chunk_words: list[str]) -> bytes:
    """``[[word...]]``"""
    return b"".join((_head(4, 1), _head(4, len(chunk_words)),
                     *(_word_payload(word, words[word][0], words[word][2],
                                     variants.get(word))
                       for word in chunk_words)))


def _cut(words: dict, limit: int = CHUNK_SIZE) -> list[list[str]]:
    """Pagefind's chunk_index(): words in order, a chunk closed once it holds *limit*
    locations (Pagefind's CHUNK_SIZE, or the site's SITE_CHUNK_SIZE)."""
    chunks, current, size = [], [], 0
    for word in sorted(words):
        size += sum(words[word][1])
        current.append(word)
        if size >= limit:
            chunks.append(current)
            current, size = [], 0
    if current:
        chunks.append(current)
    return chunks


def _chunk_meta(chunks: list[list[str]]) -> list[list[str]]:
    """Pagefind's chunk_meta(): each chunk's first and last word, shortened between
    neighbours to the shortest prefixes that tell them apart; a chunk's last word is not
    shortened where that would sort it before the chunk's (shortened) first word, as in
    a chunk of one word."""
    named = [[chunk[0], chunk[-1]] for chunk in chunks]
    for left, right in zip(named, named[1:]):
        a, b = left[1], right[0]
        common = 0
        for x, y in zip(b, a):
            if x != y:
                break
            common += 1
        if a[:common + 1] >= left[0]:
            left[1] = a[:common + 1]
        right[0] = b[:common + 1]
    return named


def _site_chunk_meta(chunks: list[list[str]]) -> list[list[str]]:
    """The site's chunk names: no gaps. A chunk starts at the shortest prefix of its
    first word that sorts after the previous chunk's last word (the first chunk at
    ``""``) and ends where the next one starts (the last at OPEN_END), so the browser
    finds every term in a chunk's range."""
    if not chunks:
        return []  # no words, no chunks (as Pagefind writes it)
    starts = [""]
    for left, right in zip(chunks, chunks[1:]):
        a, b = left[-1], right[0]
        common = 0
        for x, y in zip(a, b):
            if x != y:
                break
            common += 1
        starts.append(b[:common + 1])
    return [[start, end] for start, end in zip(starts, starts[1:] + [OPEN_END])]


def relayout(bundle: Path) -> tuple[dict, dict]:
    """Rewrite a full run's word index in the site's layout (see the module's
    docstring): new chunk files, ``pf_meta`` and ``pagefind-entry.json``; the pages,
    filters and fragments stay as they are. Returns the words and their variants (for
    :func:`record_state`). Raises Fallback (or one of UNEXPECTED) and leaves the bundle
    as it was when the index is not in a format this module knows."""
    cbor2 = _cbor()
    language, (version, pages, chunks, filters, sorts, fields) = _meta(cbor2, bundle)
    with _collector_paused():
        words, variants = _words_from(cbor2, bundle, chunks)
        staged = bundle / ".index.kb"
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir()
        try:
            chunk_meta = _write_chunks(bundle, staged, language, words, variants)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
    meta = cbor2.dumps([version, pages, chunk_meta, filters, sorts, fields])
    name = f"{language}_{full_hash(meta)[:10]}"
    entry = _entry(bundle)
    old_name = entry["languages"][language]["hash"]
    _write_file(bundle / f"pagefind.{name}.pf_meta", meta)
    old_index = bundle / ".index.old"
    shutil.rmtree(old_index, ignore_errors=True)
    (bundle / "index").rename(old_index)
    staged.rename(bundle / "index")
    shutil.rmtree(old_index)
    entry["languages"][language]["hash"] = name
    (bundle / "pagefind-entry.json").write_text(
        json.dumps(entry, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    if old_name != name:
        (bundle / f"pagefind.{old_name}.pf_meta").unlink(missing_ok=True)
    return words, variants


# -- What the last index was made from ------------------------------------------------------

def snapshot(outdir: Path, pages: list[str], state: dict | None = None) -> dict:
    """``{relpath: [size, mtime_ns, sha1]}`` of the pages to index. A page whose size and
    time match *state* keeps its recorded SHA-1 without being read again."""
    known = (state or {}).get("pages", {})
    result = {}
    for rel in pages:
        stat = (outdir / rel).stat()
        old = known.get(rel)
        if old and old[0] == stat.st_size and old[1] == stat.st_mtime_ns:
            result[rel] = old
        else:
            digest = hashlib.sha1((outdir / rel).read_bytes()).hexdigest()
            result[rel] = [stat.st_size, stat.st_mtime_ns, digest]
    return result


def load_state(path: Path) -> dict | None:
    return _read_once(path, _load_state)


def _load_state(path: Path) -> dict | None:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get("version") == STATE_VERSION else None


#: What was read ahead (``serve``): {path: (the file's size, time and inode, content)}.
_READ_AHEAD: dict[str, tuple] = {}


def _file_key(path: Path) -> tuple[int, int, int]:
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def read_ahead(path: Path, load) -> None:
    """Keep ``load(path)`` for the first :func:`_read_once` of *path*; nothing if it
    cannot be read (that read reports it)."""
    try:
        _READ_AHEAD[str(path)] = (_file_key(path), load(path))
    except UNEXPECTED:
        _READ_AHEAD.pop(str(path), None)


def _read_once(path: Path, load):
    """``load(path)``: what was read ahead if the file is still the same, else read now.
    Once only: the caller may change what it gets."""
    kept = _READ_AHEAD.pop(str(path), None)
    if kept is not None:
        with contextlib.suppress(OSError):
            if kept[0] == _file_key(path):
                return kept[1]
    return load(path)


def forget(state_file: Path) -> None:
    """Drop the saved state: the next index is a full run."""
    state_file.unlink(missing_ok=True)
    state_file.with_name(WORDS_FILE).unlink(missing_ok=True)


@contextlib.contextmanager
def _collector_paused():
    """Reading an index back makes hundreds of thousands of small objects and no cyclic
    garbage; with the collector on, each of its passes also scans the build's whole heap
    (2,000 articles, in a process holding 3 million other objects: 2.9-3.4 s with, 2.1 s
    without)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def record_state(state_file: Path, bundle: Path, options: list[str], pages: dict,
                 urls: list[str] | None = None, words: dict | None = None,
                 variants: dict | None = None) -> str | None:
    """Save what *bundle* was made from. After a full run (*urls* and *words* None) they
    are read from the bundle, and Pagefind's chunks are checked against ``_cut``: if they
    differ, nothing is saved and every index stays a full run. Returns why nothing was
    saved, or None."""
    try:
        cbor2 = _cbor()
        _language_code, meta = _meta(cbor2, bundle)
        if urls is None:
            urls = [json.loads(read_file(bundle / "fragment" / f"{h}.pf_fragment"))["url"]
                    for h, _count in meta[1]]
        if words is None:
            with _collector_paused():
                words, variants = _words_from(cbor2, bundle, meta[2])
        name = _language(_entry(bundle))[1]["hash"]
    except (Fallback, *UNEXPECTED) as why:
        forget(state_file)
        return str(why)
    state = {"version": STATE_VERSION, "format": FORMAT, "meta": name, "options": options,
             "pages": pages, "urls": urls, "files": fingerprint(bundle)}
    state_file.parent.mkdir(parents=True, exist_ok=True)
    words_file = state_file.with_name(WORDS_FILE)
    for path, data in ((words_file, _dump_words(name, words, variants or {})),
                       (state_file, json.dumps(state, separators=(",", ":")).encode())):
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return None


def _dump_words(name: str, words: dict, variants: dict) -> bytes:
    """The words of an index as saved beside the state: ``marshal``, not ``pickle`` (they
    are only dicts, tuples, lists, numbers and bytes; at 2,000 articles marshal writes
    them in 0.06 s where pickle took 0.29 s, and reads them in 0.09 s instead of 0.12 s).
    marshal's format changes with the Python version, which is saved with it."""
    return marshal.dumps({"python": MARSHAL_TAG, "meta": name, "words": words,
                          "variants": variants})


def load_words(path: Path) -> dict:
    """What :func:`_dump_words` saved. Raises ValueError (one of UNEXPECTED) for a file
    written by another Python, or damaged."""
    return _read_once(path, _load_words)


def _load_words(path: Path) -> dict:
    with _collector_paused():
        cache = marshal.loads(path.read_bytes())
    if not isinstance(cache, dict) or cache.get("python") != MARSHAL_TAG:
        raise ValueError("the saved words were written by another Python")
    return cache


MARSHAL_TAG = f"{sys.implementation.cache_tag} marshal {marshal.version}"


def fingerprint(bundle: Path) -> dict[str, list[int]]:
    """Size and time of each index file of *bundle* (what an update links forward)."""
    return _read_once(bundle, _fingerprint)


def _fingerprint(bundle: Path) -> dict[str, list[int]]:
    files = {}
    for folder in INDEX_FOLDERS:
        try:
            entries = list(os.scandir(os.path.join(bundle, folder)))
        except FileNotFoundError:
            continue
        for entry in entries:
            stat = entry.stat()
            files[f"{folder}/{entry.name}"] = [stat.st_size, stat.st_mtime_ns]
    for path in [*bundle.glob("*.pf_meta"), bundle / "pagefind-entry.json"]:
        if path.is_file():
            stat = path.stat()
            files[path.name] = [stat.st_size, stat.st_mtime_ns]
    return files


def changed_pages(state: dict | None, bundle: Path, options: list[str],
                  pages: dict) -> list[str]:
    """The pages whose content differs from the last index. Raises Fallback when the last
    index cannot be updated: no state, another bundle, other options, pages added or
    removed."""
    if state is None:
        raise Fallback("no record of the last index")
    if state.get("format") != FORMAT or state.get("options") != options:
        raise Fallback("the last index was made by another Pagefind or with other options")
    if state.get("meta") != _language(_entry(bundle))[1].get("hash"):
        raise Fallback("the record describes another index")
    if set(state.get("pages", {})) != set(pages):
        raise Fallback("pages were added or removed")
    if state.get("files") != fingerprint(bundle):  # a damaged file is never carried on
        raise Fallback("the last index was changed or damaged since it was written")
    return sorted(rel for rel, (_size, _time, digest) in pages.items()
                  if state["pages"][rel][2] != digest)


# -- The update ------------------------------------------------------------------------------

def update(exe: Path, options: list[str], outdir: Path, bundle: Path, fresh: Path,
           pages: dict, state: dict | None, state_file: Path,
           defer: list | None = None) -> int:
    """Write into *fresh* the bundle for the site as it is now, from *bundle* and a
    Pagefind run over the changed pages only, and save the new state (with *defer*, a
    list: append to it what saves the state, once *fresh* has taken *bundle*'s place).
    Returns how many pages were re-indexed. Raises Fallback when a full run is needed
    (*fresh* may then hold a partial bundle: the caller removes it)."""
    def record():
        if defer is None:
            record_state(state_file, fresh, options, pages, urls, words, variants)
        else:
            defer.append(lambda: record_state(state_file, bundle, options, pages, urls,
                                              words, variants))

    cbor2 = _cbor()
    changed = changed_pages(state, bundle, options, pages)
    if len(changed) > MAX_SHARE * len(pages):
        raise Fallback(f"{len(changed)} of {len(pages)} pages changed")
    if any(GLOB_SPECIAL.search(rel) for rel in changed):
        raise Fallback("a changed page's name has glob characters")
    language, (_v, old_pages, old_chunks, old_filters, sorts, fields) = _meta(cbor2, bundle)
    urls = state["urls"]
    if len(urls) != len(old_pages):
        raise Fallback("the record does not match the index")
    try:
        cache = load_words(state_file.with_name(WORDS_FILE))
    except UNEXPECTED as error:
        raise Fallback(f"no saved words ({error})") from error
    if cache.get("meta") != state["meta"] or "variants" not in cache:
        raise Fallback("the saved words belong to another index")
    words, variants = cache["words"], cache["variants"]
    old_meta_name = f"pagefind.{state['meta']}.pf_meta"

    fresh.mkdir(parents=True)
    _link_tree(bundle, fresh, skip={"pagefind-entry.json", "index", "filter", "fragment",
                                    old_meta_name})
    for folder in ("index", "filter", "fragment"):
        (fresh / folder).mkdir()
    if not changed:
        for folder in ("index", "filter", "fragment"):
            _link_tree(bundle / folder, fresh / folder)
        _link(bundle / old_meta_name, fresh / old_meta_name)
        shutil.copy2(bundle / "pagefind-entry.json", fresh / "pagefind-entry.json")
        record()
        return 0

    # Pagefind over the changed pages only.
    scratch = fresh.with_name(fresh.name + ".scratch")
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        run = run_pagefind(exe, outdir, scratch, options, changed)
        if run.returncode != 0:
            raise Fallback(f"Pagefind exit {run.returncode} on the changed pages: "
                           f"{(run.stderr or run.stdout).strip()[-500:]}")
        s_language, (_v, new_pages, new_chunks, new_filters, new_sorts,
                     new_fields) = _meta(cbor2, scratch)
        if s_language != language:
            raise Fallback("the changed pages were indexed in another language")
        if sorts or new_sorts:
            raise Fallback("the index has sort keys")
        if not set(new_fields) <= set(fields):
            raise Fallback("the changed pages bring new metadata fields")

        # Each scratch page takes the page number its URL had.
        number_of = {url: number for number, url in enumerate(urls)}
        remap: dict[int, int] = {}
        fragments: dict[str, bytes] = {}
        for j, (fragment, _count) in enumerate(new_pages):
            payload = read_file(scratch / "fragment" / f"{fragment}.pf_fragment")
            url = json.loads(payload)["url"]
            if url not in number_of:
                raise Fallback(f"{url} is not in the last index")
            remap[j] = number_of[url]
            fragments[fragment] = payload
        renumbered = set(remap.values())
        if renumbered != {number_of.get(page_url(rel)) for rel in changed}:
            raise Fallback("Pagefind did not index every changed page")

        with _collector_paused():
            # the last index's chunks by their words: one whose words are the same and
            # untouched is linked, not encoded again
            last_cut = _cut(words, SITE_CHUNK_SIZE)
            if len(last_cut) != len(old_chunks):
                raise Fallback("the saved words do not match the index")
            last = dict(zip(map(tuple, last_cut), (chunk[2] for chunk in old_chunks)))
            touched = _merge_words(cbor2, words, variants, scratch, new_chunks, remap,
                                   renumbered)
            chunk_meta = _write_chunks(bundle, fresh / "index", language, words, variants,
                                       last, touched)
        filter_meta = _write_filters(cbor2, bundle, old_filters, scratch, new_filters,
                                     remap, renumbered, fresh / "filter", language)
        pages_meta = [list(page) for page in old_pages]
        for j, number in remap.items():
            pages_meta[number] = list(new_pages[j])
        _write_fragments(bundle, fresh / "fragment", pages_meta, fragments)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    meta = cbor2.dumps([FORMAT, pages_meta, chunk_meta, filter_meta, [], fields])
    name = f"{language}_{full_hash(meta)[:10]}"
    _write_file(fresh / f"pagefind.{name}.pf_meta", meta)
    entry = _entry(bundle)
    entry["languages"][language].update({"hash": name, "page_count": len(pages_meta)})
    (fresh / "pagefind-entry.json").write_text(
        json.dumps(entry, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    record()
    return len(changed)


# -- A full index in batches ----------------------------------------------------------------

def full_batches(count: int, jobs: int = PAGEFIND_JOBS) -> tuple[int, int]:
    """``(batch, jobs)`` for a full index of *count* pages: one run below SPLIT_PAGES;
    otherwise batches of about FULL_BATCH_PAGES, as many as a multiple of the jobs, run
    *jobs* at a time (no more than the machine's CPUs). With one CPU, one run, or
    batches of BATCH_PAGES on a larger site (Pagefind's memory)."""
    jobs = max(1, min(jobs, os.cpu_count() or 1))
    if jobs == 1 or count < SPLIT_PAGES:
        return max(1, min(count, BATCH_PAGES)), 1
    runs = max(jobs, -(-count // FULL_BATCH_PAGES))
    runs = -(-runs // jobs) * jobs
    return -(-count // runs), jobs


def index_in_batches(exe: Path, options: list[str], outdir: Path, pages: list[str],
                     fresh: Path, batch: int = BATCH_PAGES,
                     jobs: int = 1) -> tuple[dict, dict]:
    """Write into *fresh* the index of *pages* (paths relative to *outdir*: every page a
    full run indexes) from Pagefind runs over *batch* pages each, *jobs* of them at a
    time, merged in order, in the site's chunk layout: the index :func:`relayout` makes
    of a full run. Pagefind keeps every page it indexes in memory until it writes the
    bundle (about 0.7 MB a page of this site, 1.4 GB at 2,000 articles); in batches the
    runs hold *batch* times *jobs* pages' worth. While a batch is merged the next ones
    run; a run that fails stops the others. Pagefind reads each page cut down to what
    it indexes (:func:`slim_pages`, in a scratch folder beside *fresh*).

    Page numbers follow the batches (a full run numbers pages in the order its parse
    finishes them, so no order is the full run's). Each batch's words are read with
    :func:`_words_from`, which checks the format byte for byte. Returns the words and
    their variants (for :func:`record_state`). Raises Fallback (or one of UNEXPECTED)
    when the batches cannot be merged; *fresh* may then hold a partial bundle, which
    the caller removes."""
    cbor2 = _cbor()
    if any(GLOB_SPECIAL.search(rel) for rel in pages):
        raise Fallback("a page's name has glob characters")
    fresh.mkdir(parents=True)
    for folder in INDEX_FOLDERS:
        (fresh / folder).mkdir()
    words: dict = {}
    variants: dict = {}
    filters: dict = {}
    pages_meta: list = []
    first = entry = None
    starts = range(0, len(pages), batch)
    jobs = max(jobs, 1)
    scratches = [fresh.with_name(f"{fresh.name}.batch{i}") for i in range(len(starts))]
    # the pages as Pagefind reads them (slim_pages), each batch's made as it starts
    site = fresh.with_name(f"{fresh.name}.pages")
    shutil.rmtree(site, ignore_errors=True)
    running: dict[int, subprocess.Popen] = {}
    # runs side by side: each on one thread (its own threads would only contend for the
    # same CPUs, and cost about 7% more CPU time)
    threads = {"RAYON_NUM_THREADS": "1"} if jobs > 1 else None

    def begin(i: int) -> None:
        shutil.rmtree(scratches[i], ignore_errors=True)
        part = pages[starts[i]:starts[i] + batch]
        slim_pages(outdir, part, site)
        running[i] = start_pagefind(exe, site, scratches[i], options, part, threads)

    try:
        for i in range(min(jobs, len(starts))):
            begin(i)
        for i, start in enumerate(starts):
            part = pages[start:start + batch]
            scratch = scratches[i]
            stdout, stderr = running[i].communicate()
            code = running.pop(i).returncode
            if code != 0:
                raise Fallback(f"Pagefind exit {code} on pages {start + 1} to "
                               f"{start + len(part)}: {(stderr or stdout).strip()[-500:]}")
            if i + jobs < len(starts):
                begin(i + jobs)  # runs while this batch is merged
            language, (_v, new_pages, chunks, new_filters, sorts, fields) = _meta(cbor2,
                                                                                scratch)
            if len(new_pages) != len(part):
                raise Fallback(f"Pagefind indexed {len(new_pages)} of a batch's "
                               f"{len(part)} pages")
            if sorts:
                raise Fallback("the index has sort keys")
            if first is None:
                first, entry = (language, fields), _entry(scratch)
                for item in scratch.iterdir():  # Pagefind's scripts and WebAssembly
                    if item.name not in INDEX_FOLDERS and item.suffix != ".pf_meta" \
                            and item.name != "pagefind-entry.json":
                        item.rename(fresh / item.name)
            elif (language, fields) != first:
                raise Fallback("the batches differ in language or metadata fields")
            offset = len(pages_meta)
            for fragment, _count in new_pages:
                target = fresh / "fragment" / f"{fragment}.pf_fragment"
                if target.exists():
                    raise Fallback("two fragments share a hash prefix")
                (scratch / "fragment" / target.name).rename(target)
            pages_meta += [list(page) for page in new_pages]
            with _collector_paused():
                part_words, part_variants = _words_from(cbor2, scratch, chunks)
                for word, (numbers, counts, rests) in part_words.items():
                    numbers = [n + offset for n in numbers]
                    if word in words:  # later pages: the postings stay in page order
                        for held, more in zip(words[word], (numbers, counts, rests)):
                            held += more
                    else:
                        words[word] = (numbers, counts, rests)
                for word, forms in part_variants.items():
                    held = variants.setdefault(word, [])
                    where = {form[0]: i for i, form in enumerate(held)}
                    for form, numbers, rests in forms:
                        numbers = [n + offset for n in numbers]
                        if form in where:
                            held[where[form]][1].extend(numbers)
                            held[where[form]][2].extend(rests)
                        else:  # first met on a later page than any form held
                            held.append((form, numbers, rests))
            _add_filters(cbor2, filters, scratch, new_filters,
                         lambda number, offset=offset: number + offset)
            shutil.rmtree(scratch, ignore_errors=True)
    finally:
        for run in running.values():  # a batch failed, or the build was interrupted
            run.kill()
            run.communicate()
        for scratch in scratches:
            shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(site, ignore_errors=True)
    if first is None:
        raise Fallback("no pages to index")
    language, fields = first
    with _collector_paused():
        chunk_meta = _write_chunks(None, fresh / "index", language, words, variants)
    filter_meta = _write_filter_files(cbor2, filters, fresh / "filter", language)
    meta = cbor2.dumps([FORMAT, pages_meta, chunk_meta, filter_meta, [], fields])
    name = f"{language}_{full_hash(meta)[:10]}"
    _write_file(fresh / f"pagefind.{name}.pf_meta", meta)
    entry["languages"][language].update({"hash": name, "page_count": len(pages_meta)})
    (fresh / "pagefind-entry.json").write_text(
        json.dumps(entry, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return words, variants


# -- What Pagefind reads of a page ----------------------------------------------------------
#
# Pagefind parses the whole page, but on a site that marks its content with
# ``data-pagefind-body`` it indexes only that element: the rest (the head, the sidebar
# with the site's navigation, the footer) is parsed for nothing: about half of a page's
# bytes here. A full index in batches gives Pagefind a copy of each page cut down to what
# it reads (:func:`slim_page`), where it can prove the copy indexes the same: the
# fragments and index chunks come out byte for byte the same
# (``tests/test_search_incremental.py``), and Pagefind spends about a sixth less CPU time
# (3.74 against 3.09 s at 500 articles).

BODY_ATTRIBUTE = b"data-pagefind-body"
#: A kept element's content must have none of these: there, counting its tags to find
#: where it ends could be wrong (a comment, script, style or template, raw text).
SLIM_UNSAFE_INSIDE = re.compile(rb"<(?:!--|!\[cdata\[|script|style|template|textarea|xmp"
                                rb"|plaintext|noscript|iframe|noembed|noframes|title)")
#: What is cut away must have none of these: anything Pagefind reads outside the body
#: element (its attributes, but ``data-pagefind-ignore``, which only takes away; a
#: heading or an image, which it takes as the page's title or image).
SLIM_UNSAFE_OUTSIDE = (b"<h1", b"<img")
_PAGEFIND_ATTRIBUTE = b"data-pagefind-"
_IGNORE_ATTRIBUTE = re.compile(rb"data-pagefind-ignore[\s=>]")
_OPEN_TAG = re.compile(rb"<([A-Za-z][A-Za-z0-9]*)[\s/>]")
_HTML_TAG = re.compile(rb"<html(?:\s[^<>]*)?>", re.IGNORECASE)
_TITLE = re.compile(rb"<title>[^<>]*</title>")


def _element_end(page: bytes, start: int, name: bytes) -> int | None:
    """Where the element *name* opened at *start* ends (after its end tag), counting the
    same elements opened and closed inside it; None if it is not closed."""
    tags = re.compile(rb"<(/?)" + re.escape(name) + rb"[\s/>]", re.IGNORECASE)
    depth = 0
    for tag in tags.finditer(page, start):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            end = page.find(b">", tag.end() - 1)
            return None if end < 0 else end + 1
    return None


def slim_page(page: bytes) -> bytes | None:
    """*page* cut down to what Pagefind reads of it: its ``<html>`` tag, its title, and
    its one ``data-pagefind-body`` element; None unless the cut page provably indexes
    the same (one body element, found where it ends, holding the page's first heading,
    and nothing Pagefind reads cut away: ``SLIM_UNSAFE_INSIDE``,
    ``SLIM_UNSAFE_OUTSIDE``)."""
    at = page.find(BODY_ATTRIBUTE)
    if at < 0 or page.find(BODY_ATTRIBUTE, at + 1) >= 0:
        return None
    start = page.rfind(b"<", 0, at)
    tag = _OPEN_TAG.match(page, start) if start >= 0 else None
    if tag is None or b">" in page[start:at]:
        return None  # the attribute is not in the tag before it
    end = _element_end(page, start, tag.group(1))
    html = _HTML_TAG.search(page, 0, start)
    title = _TITLE.search(page, 0, start)
    if end is None or html is None or title is None:
        return None
    kept = page[start:end]
    lowered = kept.lower()
    if b"<h1" not in lowered or SLIM_UNSAFE_INSIDE.search(lowered):
        return None
    for outside in (page[:start].lower(), page[end:].lower()):
        if any(unsafe in outside for unsafe in SLIM_UNSAFE_OUTSIDE):
            return None
        attribute = outside.find(_PAGEFIND_ATTRIBUTE)
        while attribute >= 0:
            if not _IGNORE_ATTRIBUTE.match(outside, attribute):
                return None
            attribute = outside.find(_PAGEFIND_ATTRIBUTE, attribute + 1)
    return b"".join((b"<!DOCTYPE html>\n", html.group(0), b'<head><meta charset="utf-8">',
                     title.group(0), b"</head><body>", kept, b"</body></html>\n"))


def slim_pages(outdir: Path, pages: list[str], dest: Path) -> int:
    """Each page of *pages* (paths relative to *outdir*) into *dest*, at the same path:
    cut down (:func:`slim_page`), or linked as it is. Returns how many were cut."""
    cut = 0
    folders: set[str] = set()
    for rel in pages:
        source, target = os.path.join(outdir, rel), os.path.join(dest, rel)
        folder = os.path.dirname(target)
        if folder not in folders:
            os.makedirs(folder, exist_ok=True)
            folders.add(folder)
        with open(source, "rb") as file:
            slim = slim_page(file.read())
        if slim is None:
            _link(source, target)
        else:
            with open(target, "wb") as file:
                file.write(slim)
            cut += 1
    return cut


def _pagefind_command(exe: Path, outdir: Path, dest: Path, options: list[str],
                      only: list[str] | None) -> list[str]:
    glob = ["--glob", "{" + ",".join(only) + "}"] if only is not None else []
    return [str(exe), "--site", str(outdir), "--output-path", str(dest), *glob, *options]


def run_pagefind(exe: Path, outdir: Path, dest: Path, options: list[str],
                 only: list[str] | None = None) -> subprocess.CompletedProcess:
    """Pagefind over the site in *outdir* (or only the pages *only*, paths relative to
    it, none with a glob character), its bundle written into *dest*."""
    return subprocess.run(_pagefind_command(exe, outdir, dest, options, only),
                          capture_output=True, text=True, check=False)


def start_pagefind(exe: Path, outdir: Path, dest: Path, options: list[str],
                   only: list[str] | None = None,
                   environ: dict[str, str] | None = None) -> subprocess.Popen:
    """:func:`run_pagefind`, started (with *environ* added to its environment): the
    caller collects it with ``communicate()``."""
    return subprocess.Popen(_pagefind_command(exe, outdir, dest, options, only),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=None if environ is None else {**os.environ, **environ})


def _link(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def _link_tree(src: Path, dest: Path, skip: set[str] = frozenset()) -> None:
    """Hard-link (or copy) *src*'s files and folders into *dest*, except *skip*. Nothing
    is ever written into a linked file: every file that changes is written anew."""
    for item in src.iterdir():
        if item.name in skip:
            continue
        if item.is_dir():
            (dest / item.name).mkdir()
            _link_tree(item, dest / item.name)
        else:
            _link(item, dest / item.name)


def _first_page(variant: tuple) -> int:
    return variant[1][0]


#: At most this many pages re-indexed: each one's postings are found in a word's sorted
#: page numbers by bisection, and removed or inserted in place, instead of every posting
#: of the word being looked at (at 2,000 articles an edit re-indexes one page, whose
#: words are the site's most frequent: 0.15 s of looking at postings, now a few ms).
FEW_PAGES = 16


def _where(numbers: list[int], pages: list[int]) -> list[int]:
    """The positions in *numbers* (sorted) of the *pages* it holds."""
    found = []
    for page in pages:
        i = bisect.bisect_left(numbers, page)
        if i < len(numbers) and numbers[i] == page:
            found.append(i)
    return found


def _drop(postings: tuple, positions: list[int]) -> tuple[list, list, list]:
    """*postings* (page numbers, counts, rests) without those at *positions* (ascending),
    as new lists."""
    numbers, counts, rests = (list(part) for part in postings)
    for i in reversed(positions):
        del numbers[i], counts[i], rests[i]
    return numbers, counts, rests


def _merge_words(cbor2, words: dict, variants: dict, scratch: Path, new_chunks, remap,
                 renumbered) -> set[str]:
    """Replace, in *words* and *variants*, the postings of the re-indexed pages by the
    scratch run's. A word leaves the index when neither it nor any of its forms is on a
    page any more. Returns the words whose postings or forms may have changed."""
    touched = set()
    few = sorted(renumbered) if len(renumbered) <= FEW_PAGES else None
    for word, postings in list(words.items()):
        numbers = postings[0]
        if few is not None:
            positions = _where(numbers, few)
            if not positions:
                continue
            touched.add(word)
            words[word] = _drop(postings, positions)
            continue
        if renumbered.isdisjoint(numbers):
            continue
        touched.add(word)
        numbers, counts, rests = postings
        keep = [i for i, n in enumerate(numbers) if n not in renumbered]
        words[word] = ([numbers[i] for i in keep], [counts[i] for i in keep],
                       [rests[i] for i in keep])
    _drop_forms(variants, renumbered, touched)
    for word, postings, new_forms in _read_words(cbor2, scratch, new_chunks):
        touched.add(word)
        numbers, counts, rests = _postings(cbor2, postings)
        added = sorted(zip([remap[n] for n in numbers], counts, rests),
                       key=lambda posting: posting[0])
        old = words.get(word, ([], [], []))
        if len(added) <= FEW_PAGES:
            # the re-indexed pages' postings were removed above: no page is there twice
            merged = tuple(list(part) for part in old)
            for posting in added:
                i = bisect.bisect_right(merged[0], posting[0])
                for part, value in zip(merged, posting):
                    part.insert(i, value)
            words[word] = merged
        else:
            both = sorted([*zip(*old), *added], key=lambda posting: posting[0])
            words[word] = ([m[0] for m in both], [m[1] for m in both],
                           [m[2] for m in both])
        if new_forms:
            _add_forms(cbor2, variants, word, new_forms, remap)
    for word in [w for w, (numbers, _c, _r) in words.items()
                 if not numbers and w not in variants]:
        del words[word]
    return touched


def _drop_forms(variants: dict, renumbered: set[int], touched: set[str]) -> None:
    """Take the re-indexed pages out of the accented forms' postings (a word none of
    whose forms is left loses its entry); the words changed go into *touched*."""
    for word, forms in list(variants.items()):
        if all(renumbered.isdisjoint(numbers) for _form, numbers, _rests in forms):
            continue
        touched.add(word)
        kept = []
        for form, numbers, rests in forms:
            keep = [i for i, n in enumerate(numbers) if n not in renumbered]
            if keep:
                kept.append((form, [numbers[i] for i in keep], [rests[i] for i in keep]))
        if kept:
            variants[word] = sorted(kept, key=_first_page)  # stable: ties keep their order
        else:
            del variants[word]


def _add_forms(cbor2, variants: dict, word: str, new_forms: list, remap) -> None:
    """Add the scratch run's accented forms of *word* (pages numbered by *remap*), each
    form's postings in page order, the forms by their first page."""
    forms = list(variants.get(word, ()))
    where = {form[0]: i for i, form in enumerate(forms)}
    for form, form_numbers, form_rests in _variants(cbor2, new_forms):
        added = zip([remap[n] for n in form_numbers], form_rests)
        if form in where:
            _f, old_numbers, old_rests = forms[where[form]]
            both = sorted([*zip(old_numbers, old_rests), *added], key=lambda p: p[0])
        else:
            where[form] = len(forms)
            forms.append(None)
            both = sorted(added, key=lambda p: p[0])
        forms[where[form]] = (form, [p[0] for p in both], [p[1] for p in both])
    variants[word] = sorted(forms, key=_first_page)


def _unique_name(language: str, payload: bytes, taken: set[str]) -> str:
    name = f"{language}_{full_hash(payload)[:7]}"
    if name in taken:
        raise Fallback("two index files share a hash prefix")
    taken.add(name)
    return name


def _write_chunks(bundle: Path | None, folder: Path, language: str, words: dict,
                  variants: dict, last: dict | None = None,
                  touched: set[str] = frozenset()) -> list[list[str]]:
    """The word index, in the site's layout; a chunk that did not change is linked from
    *bundle* (the last index; None: there is none). With *last* (the last index's chunk
    files by their words) a chunk of the same words, none of them *touched*, is linked
    without being encoded."""
    chunks = _cut(words, SITE_CHUNK_SIZE)
    meta, taken = _site_chunk_meta(chunks), set()
    for named, chunk in zip(meta, chunks):
        name = (last or {}).get(tuple(chunk))
        if name is not None and touched.isdisjoint(chunk):
            if name in taken:
                raise Fallback("two index chunks share a hash prefix")
            taken.add(name)
            _link(bundle / "index" / f"{name}.pf_index", folder / f"{name}.pf_index")
            named.append(name)
            continue
        payload = _chunk_payload(words, variants, chunk)
        name = _unique_name(language, payload, taken)
        old = bundle / "index" / f"{name}.pf_index" if bundle is not None else None
        if old is not None and old.is_file():  # same hash: the same words and postings
            if read_file(old) != payload:
                raise Fallback("two index chunks share a hash prefix")
            _link(old, folder / old.name)
        else:
            _write_file(folder / f"{name}.pf_index", payload)
        named.append(name)
    return meta


def _write_filters(cbor2, bundle, old_filters, scratch, new_filters, remap, renumbered,
                   folder: Path, language: str) -> list[list[str]]:
    merged: dict[str, dict[str, list[int]]] = {}
    for name, filename in old_filters:
        _key, values = cbor2.loads(read_file(bundle / "filter" / f"{filename}.pf_filter"))
        merged[name] = {value: [p for p in numbers if p not in renumbered]
                        for value, numbers in values}
    _add_filters(cbor2, merged, scratch, new_filters, remap.__getitem__)
    return _write_filter_files(cbor2, merged, folder, language)


def _add_filters(cbor2, merged: dict, scratch: Path, new_filters, number) -> None:
    """Add the filter values of *scratch*'s pages to *merged*, each page numbered by
    ``number(page number in scratch)``."""
    for name, filename in new_filters:
        _key, values = cbor2.loads(read_file(scratch / "filter" / f"{filename}.pf_filter"))
        target = merged.setdefault(name, {})
        for value, numbers in values:
            target.setdefault(value, []).extend(number(p) for p in numbers)


def _write_filter_files(cbor2, merged: dict, folder: Path,
                        language: str) -> list[list[str]]:
    meta, taken = [], set()
    for name, values in merged.items():
        kept = [[value, sorted(numbers)] for value, numbers in values.items() if numbers]
        if not kept:
            continue
        payload = cbor2.dumps([name, kept])
        filename = _unique_name(language, payload, taken)
        _write_file(folder / f"{filename}.pf_filter", payload)
        meta.append([name, filename])
    return meta


def _write_fragments(bundle: Path, folder: Path, pages_meta, fragments: dict) -> None:
    """Every page's fragment: the re-indexed pages' from the scratch run, the others
    linked from the last bundle."""
    for fragment, payload in fragments.items():
        old = bundle / "fragment" / f"{fragment}.pf_fragment"
        if old.is_file() and read_file(old) != payload:
            raise Fallback("two fragments share a hash prefix")
        _write_file(folder / f"{fragment}.pf_fragment", payload)
    for fragment in {page[0] for page in pages_meta} - set(fragments):
        _link(bundle / "fragment" / f"{fragment}.pf_fragment",
              folder / f"{fragment}.pf_fragment")


# -- Indexing the site ----------------------------------------------------------------------

BUNDLE = "pagefind"
DATA_FILE = "kb-search.json"
VOCAB_DIR = "kb-vocab"
# Parts of a page that are about other pages, or not prose: left out of the index.
EXCLUDE_SELECTORS = (
    ".kb-related", ".kb-cta", ".kb-reflist", ".kb-cite-tip", ".kb-review", ".kb-byline",
    ".headerlink", ".kb-draft-banner",
)


def pagefind_executable() -> Path | None:
    try:
        import pagefind_bin
    except ImportError:
        return None
    try:
        return pagefind_bin.get_executable()
    except FileNotFoundError:
        return None


def pagefind_options(language: str) -> list[str]:
    """Pagefind's options besides the folders: the same for a full run and for the
    changed pages of an incremental one."""
    options = ["--force-language", language, "--silent"]
    for selector in EXCLUDE_SELECTORS:
        options += ["--exclude-selectors", selector]
    return options


def index_site(exe: Path, outdir: Path, language: str, files: dict[str, str],
               pages: list[str] | None = None, state_file: Path | None = None,
               report: dict | None = None, log=lambda *args: None,
               ready=None) -> str | None:
    """Index the built site into a fresh folder, add the query layer's files, and swap it
    in for the old bundle. Returns what went wrong, or None. *ready*, if given, is called
    once the new bundle is in place, before what it was made from is saved (make html
    publishes the site meanwhile) and the old bundle removed.

    With *pages* (the pages to index) and *state_file* (what the last index was made
    from), only the pages changed since the last index are re-indexed and merged into it
    (:func:`update`); when that cannot be done, Pagefind indexes the whole site, in
    batches run two at a time when it has ``SPLIT_PAGES`` pages or more
    (:func:`full_batches`, :func:`index_in_batches`).
    *report*, if given, receives ``mode`` ("incremental" or "full"), ``fallback`` (why
    an update was not possible), ``batches`` (how many, or why one run) and
    ``not_recorded`` (why the next index will be a full run too). *log* receives what
    is done, as ``log(format, *args)``.
    """
    report = {} if report is None else report
    bundle = outdir / BUNDLE
    fresh = outdir / f".{BUNDLE}.{os.getpid()}.new"
    shutil.rmtree(fresh, ignore_errors=True)
    options = pagefind_options(language)
    current, full = None, True
    words = variants = None
    deferred = None
    if pages is not None and state_file is not None:
        state = load_state(state_file)
        current = snapshot(outdir, pages, state)
        try:
            deferred = [] if ready is not None else None
            count = update(exe, options, outdir, bundle, fresh, current, state,
                           state_file, deferred)
            log("search index: %d of %d pages re-indexed", count, len(pages))
            report.update(mode="incremental", pages=count)
            full = False
        except (Fallback, *UNEXPECTED) as why:
            log("search index: indexing every page (%s)", why)
            report["fallback"] = str(why)
            deferred = None
            shutil.rmtree(fresh, ignore_errors=True)
    if full:
        report["mode"] = "full"
        if state_file is not None:
            forget(state_file)
        batch, jobs = full_batches(len(pages)) if pages is not None else (0, 1)
        if pages is not None and batch < len(pages):
            # a large site: Pagefind over about 150 pages at a time, two runs at a
            # time, merged (its memory grows with the pages it holds, and one run
            # leaves a CPU idle for about half of it)
            try:
                words, variants = index_in_batches(exe, options, outdir, pages, fresh,
                                                   batch, jobs)
                report["batches"] = -(-len(pages) // batch)
            except (Fallback, *UNEXPECTED) as why:
                log("search index: one Pagefind run over the whole site (%s)", why)
                report["batches"] = str(why)
                shutil.rmtree(fresh, ignore_errors=True)
    if full and words is None:
        run = run_pagefind(exe, outdir, fresh, options)
        if run.returncode != 0 or not (fresh / "pagefind-entry.json").is_file():
            shutil.rmtree(fresh, ignore_errors=True)
            return (f"Pagefind could not build the search index (exit {run.returncode}): "
                    f"{(run.stderr or run.stdout).strip()[-2000:]}")
        # the site's chunk layout: a first search fetches about its own words' postings
        # (pagefind_delta's docstring); an update writes the same
        try:
            words, variants = relayout(fresh)
        except (Fallback, *UNEXPECTED) as why:
            log("search index: Pagefind's own chunk layout kept (%s)", why)
            report["layout"] = str(why)
            words = variants = None
    for name in (DATA_FILE, VOCAB_DIR):  # linked from the last bundle: written anew
        target = fresh / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    for name, text in files.items():
        (fresh / name).parent.mkdir(parents=True, exist_ok=True)
        (fresh / name).write_text(text, encoding="utf-8")
    # Unused Pagefind interfaces: the site ships its own (kb-search.js).
    for name in ("pagefind-ui.js", "pagefind-ui.css", "pagefind-modular-ui.js",
                 "pagefind-modular-ui.css", "pagefind-component-ui.js",
                 "pagefind-component-ui.css", "pagefind-highlight.js"):
        (fresh / name).unlink(missing_ok=True)
    old = outdir / f".{BUNDLE}.{os.getpid()}.old"
    shutil.rmtree(old, ignore_errors=True)
    if bundle.exists():
        bundle.rename(old)
    fresh.rename(bundle)
    if ready is not None:
        ready()
    for record in deferred or ():
        record()
    shutil.rmtree(old, ignore_errors=True)
    if full and current is not None:
        why = (record_state(state_file, bundle, options, current, words=words,
                            variants=variants)
               if words is not None else report["layout"])
        if words is None:
            forget(state_file)  # an update would write the other layout
        if why:
            log("search index: the next index is a full run too (%s)", why)
            report["not_recorded"] = why
    return None


# -- The index as a job of its own -----------------------------------------------------------
#
# ``make html`` (kb/build.py) indexes after Sphinx has exited, so that Pagefind and the
# merge do not share the machine's memory with the build's (at 2,000 articles Sphinx holds
# 800 MB when it finishes); the live preview indexes in the background. Sphinx writes what
# the index needs into a job file, and this module, run as a script, does the rest. As a
# script it imports nothing of the extension (standard library, cbor2, pagefind-bin):
# importing ``kb`` costs more than a second.

def write_job(job: Path, outdir: Path, language: str, files: dict[str, str],
              pages: list[str], state_file: Path, quiet: bool = False) -> None:
    tmp = job.with_name(f"{job.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"outdir": str(outdir), "language": language,
                               "files": files, "pages": pages,
                               "state_file": str(state_file), "quiet": quiet}),
                   encoding="utf-8")
    tmp.replace(job)


def job_command(job: Path) -> list[str]:
    """The command that runs *job*: this file as a script, by the running Python."""
    return [sys.executable, str(Path(__file__).resolve()), str(job)]


def log_timing(started: float, report: dict) -> None:
    """make bench: the index's share of the build, and whether an edit was merged or
    fell back to a full run, and why (the bench fails on a fallback after an edit)."""
    if os.environ.get("KB_SEARCH_TIMING_FILE"):
        with open(os.environ["KB_SEARCH_TIMING_FILE"], "a", encoding="utf-8") as log:
            log.write(json.dumps({"s": round(time.perf_counter() - started, 3),
                                  **report}) + "\n")


def run_job(job_file: str, ready=None) -> int:
    """Index the site as *job_file* says. Exit status 1, with the reason on stderr, when
    the index could not be built. *ready*: see :func:`index_site`."""
    started = time.perf_counter()
    job = json.loads(Path(job_file).read_text(encoding="utf-8"))
    exe = pagefind_executable()

    def log(message, *args):
        if not job.get("quiet"):
            print(message % args, flush=True)

    report: dict = {}
    error = "Pagefind is not installed" if exe is None else index_site(
        exe, Path(job["outdir"]), job["language"], job["files"], job.get("pages"),
        Path(job["state_file"]) if job.get("state_file") else None, report, log, ready)
    if error:
        print(f"search index: {error}", file=sys.stderr)
        return 1
    log_timing(started, report)
    return 0


def serve(job_file: str, commands=sys.stdin, outdir: str | None = None,
          ready_fd: int | None = None) -> int:
    """``--serve JOB [OUTDIR [READY_FD]]``: started by make html beside Sphinx, read
    ahead what the job will need (the last index's record; the size and time of its
    files, if its output folder is given), then take one command a line: ``words`` reads the saved words ahead (sent once
    Sphinx has read few pages: after a large read the job may not use them, and they
    would add to the build's memory), ``go`` runs the job (Sphinx has written it). End
    of input without ``go``: the build stopped, nothing to do. With READY_FD, the job
    writes ``ready`` there once the new index is in place, before it saves what the
    index was made from (make html publishes meanwhile)."""
    state_file = Path(job_file).with_name(STATE_FILE)
    with contextlib.suppress(Fallback):
        _cbor()
    pagefind_executable()
    read_ahead(state_file, _load_state)
    if outdir is not None:  # the last index, which nothing but this process changes
        read_ahead(Path(outdir) / BUNDLE, _fingerprint)
    for line in commands:
        if line.strip() == "words":
            read_ahead(state_file.with_name(WORDS_FILE), _load_words)
        elif line.strip() == "go":
            return run_job(job_file, None if ready_fd is None else functools.partial(
                os.write, ready_fd, b"ready\n"))
    return 0


if __name__ == "__main__":
    try:
        if sys.argv[1:2] == ["--serve"]:
            outdir, ready_fd = (sys.argv[3:] + [None, None])[:2]
            sys.exit(serve(sys.argv[2], outdir=outdir,
                           ready_fd=None if ready_fd is None else int(ready_fd)))
        sys.exit(run_job(sys.argv[1]))
    except KeyboardInterrupt:  # Ctrl-C reaches make html too, which says what it means
        sys.exit(130)
