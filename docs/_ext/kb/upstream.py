"""Small overrides of upstream hot spots, each for the exact upstream version it was
measured on; on any other version the upstream code is left alone.

pybtex 0.26.1: plugin look-ups scan every installed distribution
-----------------------------------------------------------------------
``pybtex.plugin.find_plugin`` is called for every entry parsed (``parse_string``) and
every text rendered (``Text.render_as``), and each call runs
``importlib.metadata.entry_points(group=..., name=...)``, which on Python 3.11 reads the
metadata of every installed distribution: 10-30 ms a call. A clean build of 500 articles
made about 600 such calls (over 6 s), and every change to references.bib about 600 again.
The set of installed distributions does not change during a build, so the look-up is
memoised per (group, name). Plugins registered at run time (``register_plugin``) are
looked up before entry points by pybtex itself and are not affected.

pybtex 0.26.1 with latexcodec 3.0.1: plain text decoded character by character
---------------------------------------------------------------------------------
``Text.from_latex`` runs every field and every part of every name through latexcodec's
decoder, which tokenises the text and looks each run of tokens up in its table, in
Python, one character at a time: at 500 articles, 8,600 decodes took 0.5 s of the 0.8 s
that formatting the reference lists takes (``env-updated``, in the main process, while
the second CPU waits). Most fields are plain text that the decoder returns unchanged. A
value with none of the characters the decoder acts on (a backslash, a brace, ``%``,
``$``, ``~``, a backquote, any space but single spaces between words) and none of the
pairs it translates (``--``, ``''``, ``,,``) goes straight to pybtex's parser
(``PLAIN_LATEX``); every other value is decoded as before. ``tests/test_upstream.py``
checks the claim against the decoder itself: every string of up to two characters, and
random longer ones.

docutils 0.22.4: every search of a page's tree makes a generator per node
----------------------------------------------------------------------------
``Node.findall`` with a node class (how nearly every transform looks for its nodes) runs
``_fast_findall``, a recursive generator: each node of the page starts a generator, and
each node found is passed up through one generator per level. About sixty transforms
search every page, several times each; at 500 articles the searches were 9% of a clean
build's CPU time. The same search here walks the tree with one generator and a stack of
the children lists' iterators (``_findall``, and ``_findall_all`` for ``findall()``
without a condition). The order is the same, and so is what a transform sees when it
changes the tree while searching it: a node's children are read after the node has been
handed over, and each list is iterated by position, as before.
``tests/test_upstream.py`` compares both on the site's pages and on random trees changed
during the search.

MyST-Parser 5.2.0: docutils' settings built again for every page, and thrown away
-----------------------------------------------------------------------------------
``DocutilsRenderer.setup_render`` takes the page's document from its options with
``options.get("document", make_document())``: the default is built before the look-up, so
every page builds a whole docutils option parser for a document it never uses (1.4% of a
clean build's CPU at 500 articles). ``make_document`` here builds the default settings
once per parser class and gives each document its own copy of them, as docutils' own
``get_default_settings`` gives each call its own (a fresh ``record_dependencies`` list,
the same default values).

docutils 0.22.4: smart quotes worked out for text that has none
----------------------------------------------------------------------
``SmartQuotes`` (Sphinx's ``smartquotes``: quotes, dashes and ellipses) takes every block
of text on a page, asks Sphinx of each piece of text whether quotes may be changed in it
(a walk up its ancestors), runs the result through every replacement, and puts each
piece back as a new node: 6% of a clean build's CPU at 500 articles. Most blocks hold
nothing it replaces: MyST has already curled the quotes of the Markdown it parsed. A block
none of whose text holds a character or pair it acts on (``SMARTQUOTES_ACTIVE``: quotes,
backquotes, a backslash, ``&``, docutils' escape character, ``--``, ``..``, ``. .``)
keeps its pieces, each set as docutils' new copy would be (the document's current source
and line: ``_as_replaced``). Every other block goes through docutils' own code
(``_smartquotes_apply`` is docutils' ``apply`` with that one step added; the "stupefy"
action, which changes curly quotes back, always goes through it). Each block's language
is looked up with a loop up its parents (``get_language_code`` recurses and ends with a
caught ``AttributeError``), and what a language tag gives (the quotes' language, after
a warning once for one that has none) is worked out once per page: 1.2% more.
``tests/test_upstream.py`` checks the claim against docutils' replacements on random
text, and both versions of the transform on random reStructuredText and MyST documents.

docutils 0.22.4: every page searched from top to bottom for nodes it does not have
------------------------------------------------------------------------------------
Even walked with a stack (above), the searches were still the largest single cost of a
clean build: about sixty transforms each walk the whole page for their nodes, and most
look for nodes a page does not have (images, tables, code blocks, footnotes, index
entries, substitutions, math): 8% of its CPU at 500 articles. Here a document keeps a
census: the set of node classes that have been in it (``_kb_census``), taken by one walk
at its first search, and kept up to date by ``_setup_child``, which docutils runs for
every node put in a tree through its methods (``append``, ``insert``, ``extend``,
``replace``, ``replace_self``, item and slice assignment): the node's class, and when it
comes with children, the classes of the whole subtree, are added to the census of the
tree's root, found through the parents (not through ``node.document``, which a subtree
copied or moved from another document still points to). A search of a document for a
class none of whose census classes is (a subclass of) returns at once; any other search
walks as before. A node taken out leaves its class in the census, which only costs a
walk; the census is never pickled or copied with its document (a doctree file holds
none, and the document takes a new one at its first search). What the census cannot
see is a node put in a tree without docutils' methods (``node.children.append(x)``,
``node.children = [...]``) while the tree's root already has a census: no code that
builds this site's HTML pages or its book does that to a page. Sphinx's
``inline_all_toctrees`` does (the single-page, LaTeX, Texinfo and manual page
builders): the census is used only while the HTML or EPUB builder runs
(``CENSUS_BUILDERS``). The translations' ``Locale`` does too; it never runs here
(``INERT_TRANSFORMS``). With ``KB_CENSUS_CHECK=1`` in the environment (the test suite
sets it, so every build its tests run checks), every search the census answers is
walked as well, and a node found there raises ``CensusError``. About 4% of a clean
build's CPU at 500 articles. ``tests/test_upstream.py`` compares census and walk over
random documents changed by random sequences of docutils' operations.

docutils 0.22.4: every piece of text split three times to take out what it does not hold
---------------------------------------------------------------------------------------------
``Text.astext`` (the HTML writer asks it of every piece of text, and so does anything
that reads a node's text) runs ``unescape``, which splits and joins the text three times
to remove docutils' escape character (``\x00``) in its three forms: 1% of a clean
build's CPU at 500 articles. Text without that character comes out of the three splits
as it went in; ``_text_astext`` gives such text as it is (a plain ``str``, as
``unescape`` gives), and any other text to docutils' own code.
``tests/test_upstream.py`` compares both on random text.

docutils 0.22.4: a node asks for its document four times to take a child
--------------------------------------------------------------------------
``Node.setup_child``, run for every node put in a tree, reads ``self.document`` (a walk up
the parents until one knows its document) up to four times. ``_setup_child`` reads it
once (2% of a clean build's CPU at 500 articles was in that property); nothing between
the reads can change it. It reads it in the walk up to the tree's root that the census
(above) needs anyway, as a loop: the property recurses once per level, and in a tree that
is in no document yet (a node built before it is placed) it ends by raising and catching
an ``AttributeError`` at the top, every time (another 1.7%).

Sphinx 9.0: each asset's checksum path resolved again on every page
-------------------------------------------------------------------
Every page's template asks ``_file_checksum`` for each stylesheet and script, which
resolves the file's path on the disk (``Path.resolve``: a system call per part of the
path) before looking the checksum up in its cache of resolved paths. The answer for an
output folder and file name is kept (``_asset_checksum``); a name Sphinx refuses (a
query string) still raises every time.

Sphinx 9.0: ``-j`` forks workers for any number of pages
------------------------------------------------------------
With ``-j N`` Sphinx reads and writes in worker processes whatever the number of pages:
one edited article is read by a forked worker that pickles the whole environment back to
the main process (0.5 s at 500 articles, growing with the site), and the dozen pages of a
no-change rebuild are written by forked workers too. Below ``MIN_PARALLEL_PAGES`` pages
the builder here reads or writes them in the main process, exactly as ``-j 1`` does
(``_read_serial`` / ``_write_serial``); from that number on, Sphinx's own parallel code
runs unchanged. The decision is per build and per phase, so a clean ``-j auto`` build is
still parallel.

Sphinx 9.0: a parallel read sends the environment back once per chunk
---------------------------------------------------------------------
``_read_parallel`` cuts the pages into chunks of about sqrt(10·N/nproc) (10 chunks at 500
pages on 2 CPUs, 20 at 2,000) and forks a worker per chunk as a slot frees up. Each
worker sends back the whole environment it has, which includes every chunk the main
process had merged before the fork, and the main process unpickles it: the transfers
grow as N^1.5. Here a large read is cut into one chunk per process instead, all forked
at once from the environment as it was before the read, so the environment comes back
``nproc`` times, each part once. Only ``make_chunks`` as the read calls it is replaced;
the write keeps Sphinx's chunks.

Sphinx 9.0: the main process waits while the workers read
------------------------------------------------------------
Once a large read has forked its workers (one per process), the main process only waits
for them; once they are done, it merges what they read and runs the ``env-updated``
handlers while the other CPUs wait (0.9 s at 500 articles on 2 CPUs, of which 0.5 s
making ``references.bib``'s entries ready and formatting them, which does not depend
on the pages). Here the main process emits ``kb-reading-in-workers`` after the fork,
before it waits: work that needs no page (``kb.citations``: the entries of a changed
.bib formatted ahead) is done beside the reading.

Sphinx 9.0: a parallel write resolves every page in the main process
----------------------------------------------------------------------
``_write_parallel`` forks workers only to turn resolved doctrees into HTML; the main
process loads, resolves (the post-transforms: citations, reference lists, related
articles, cross-references) and hands over every page itself, one after another. At 500
articles on 2 CPUs the resolving took longer than the workers' share of the writing, so
the write phase ran at the speed of one process: 14.8 s with ``-j 2`` against 20.3 s
with ``-j 1``. For the HTML builder without Sphinx's own search index (this site's:
Pagefind indexes the built pages), each worker here loads, resolves and writes its pages
itself (Sphinx's ``_write_docname``, as ``-j 1`` does for every page). There is one
worker per ``-j`` process, forked once, and each takes the next page when it is free, so
the workers finish together and each keeps the citations it has rendered for the whole
write (``kb.citations``). Pages that the ``kb-write-first`` event names (the bibliography
page: 1.8 s of a 12 s write at 500 articles) are taken first. What resolving changes
outside the page goes back to the main process: the images a page uses (``images``, so
they are copied), and the warnings (Sphinx sends a worker's log back, as for any task).
Sphinx writes the first page in the main process before the fork, so that the
templates are compiled once; here the workers take every page and each compiles the
templates for itself, at the same time, rather than leaving the other CPUs to wait (0.3-
0.4 s at 500 articles). Any other builder, or Sphinx's search index switched on, keeps
Sphinx's own ``_write_parallel``.

Sphinx 9.0: transforms that walk every page for nodes this site cannot have
-------------------------------------------------------------------------------
Each transform walks the whole page for its nodes. Eleven of those Sphinx registers for
every project act only on nodes that this site's pages can never hold: nodes made only by
directives, roles or reStructuredText syntax that ``kb.allowlist`` refuses before they
run (glossaries, C and C++ aliases, module targets, doctest blocks, reStructuredText
citations, the inline nodes of field lists and version notes), the translation of pages
when no folder of translations exists (``locale_dirs``), and the ``docname`` of a
footnote, which only the LaTeX and Texinfo writers read. They took 0.55 s of a clean
build's CPU at 500 articles. :data:`INERT_TRANSFORMS` lists them with the reason; for
the HTML and EPUB builders, with no translations folder, they are taken out of Sphinx's
registry when the builder starts (``skip_inert_transforms``), so no page runs them.
``tests/test_upstream.py`` builds pages with and without them (the same, byte for byte)
and checks that what would make their nodes is refused.

Sphinx 9.0: docutils' settings built again for every page read
-------------------------------------------------------------------
``_parse_str_to_doctree`` builds a docutils option parser for every page (and looks for
docutils configuration files again) to get the page's settings, always from the same
components (a new parser object of the same class for each page) and the same default
values (the environment's settings): 1.3 ms a page, about 2.5% of a clean build's CPU at
500 articles. Here the settings made for one set of components and defaults are kept
(the last ones only: an environment is one of the defaults), and each page gets its own
copy of them, as ``OptionParser.get_default_values`` gives each call its own (a fresh
``record_dependencies`` list, the same values). The components are compared by their
class and the specification docutils reads from them, the defaults by identity, value
by value, so a new value of any setting (another configuration) makes new settings.
Other callers of ``_get_settings`` (the HTML builder's, once a build) keep Sphinx's own.

Sphinx 9.0: every page walked to find code blocks it does not have
---------------------------------------------------------------------
``HighlightLanguageTransform`` walks every page's whole tree with a visitor that acts
only on code blocks (and on the ``highlight`` settings before them), then removes those
settings' nodes. On a page with no code block the walk changes nothing: there, only the
settings' nodes are removed (1.8% of a clean build's CPU at 500 articles).

Sphinx 9.0: every page's pickled doctree is kept until the build ends
----------------------------------------------------------------------
``BuildEnvironment.get_doctree`` keeps the bytes of every doctree it reads
(``_pickled_doctree_cache``) for the rest of the build. When pages are written, each is
read once, resolved and written, so at 2,000 articles the main process ends the build
holding about 120 MB it will not read again (with ``sphinx-build`` the search index
then runs beside it). Once a page is resolved (``doctree-resolved``) its bytes are
dropped; a later ``get_doctree`` of the same page reads the file again.

Sphinx 9.0: the titles of the pages around a page rendered again for every page
-----------------------------------------------------------------------------------
For each page, ``get_doc_context`` renders the titles of the next and previous pages
and of its parents (``render_partial``: a new docutils document, its transforms and an
HTML translator for each title), so each title is rendered about three times a build:
1.2% of a clean build's CPU at 500 articles. A title held by the environment
(``env.titles``, ``env.longtitles``: the same node every time, and nothing changes it
while pages are written) is rendered once per process here and its parts given again
(a new dict each time); anything else (the page's own table of contents, made anew for
every page) is rendered as before. ``tests/test_upstream.py`` builds the site with and
without it: the same pages, byte for byte.

Jinja 3.1: every template's file looked at again for every page
----------------------------------------------------------------
Sphinx's template environment keeps Jinja's default ``auto_reload``: each time a page
asks for a template (the page's and each one it includes or extends), Jinja looks at the
file's time on the disk to see whether to compile it again (0.5% of a clean build's CPU
at 500 articles). Templates do not change while a build runs, and every build is a new
process (``make html``, the live preview's rebuilds): the builder's environment is set
not to look (``auto_reload = False``).

MyST-Parser 5.2.0: every page's words counted for a substitution the site cannot use
--------------------------------------------------------------------------------------
MyST's Markdown parser always runs ``mdit_py_plugins``' word count over every token of a
page, to define the ``wordcount-words`` and ``wordcount-minutes`` substitutions and to
put the count in the page's metadata (0.9% of a clean build's CPU at 500 articles).
Nothing on this site reads them: substitutions are used only through MyST's
``substitution`` syntax extension (or reStructuredText, refused in articles), which
``docs/conf.py`` does not enable, and the article header counts its own words
(``kb.articles``). With ``substitution`` not enabled, Sphinx's Markdown parser here has
the count switched off; with it enabled, the count runs as before.

Sphinx 9.0: every event's arguments written out for a message nobody sees
---------------------------------------------------------------------------
``EventManager.emit`` makes the ``repr`` of every event's arguments for a debug message
(``[app] emitting event: ...``), whether or not the message can be shown: for every page,
that is the whole template context of ``html-page-context`` (the page's HTML, its table
of contents, the navigation) and its doctree, about 1.7% of a clean build's CPU at 500
articles. Sphinx shows debug messages only from ``-vv`` on (``verbosity`` 2). Here
``emit`` is Sphinx's own, but the ``repr`` and the message are made only at that
verbosity; the handlers run as before, in the same order, with the same errors.

Sphinx 9.0: every link's path resolved on the disk again
---------------------------------------------------------
For every Markdown link that is not a URL (a link to another article, an anchor), MyST
asks ``BuildEnvironment.relfn2path`` where it points, and that resolves the path on the
disk (``Path.resolve``: a system call for each part of the path): 1.2% of a clean
build's CPU at 500 articles, where the articles link to the same few dozen pages. The
answer for a file name, a page's folder and the source folder (what Sphinx resolves a
name from) is kept for the rest of the build
(``_relfn2path``; the files do not move while a build runs, and each build starts with
none kept: ``builder-inited``); a call that raises (no page to resolve from) raises
every time.

Sphinx 9.0: every template is compiled again in every build
------------------------------------------------------------
Sphinx's template loader gives Jinja no bytecode cache, so each build compiles the
theme's templates and the site's from their source again: about 0.15 s of a 1.8 s edit
rebuild at 500 articles. Jinja's own ``FileSystemBytecodeCache`` is set on the builder's
template environment, in the doctree folder (``TEMPLATE_CACHE``). Jinja keys each entry by
the template's name and file and checks the source's SHA-1 and its own format (which
includes the Python version) before using it, so an edited template is compiled again;
it writes each entry to a temporary file and renames it, so parallel writers are safe.

Sphinx 9.0: the environment saved before the pages are written
----------------------------------------------------------------
``Builder.build`` pickles the environment once the pages are read, and writes the pages
only after that: at 2,000 articles an edit waits 0.6-0.7 s for it (12 MB), a quarter
of the Sphinx part of the rebuild. Under ``make html`` (its driver, ``kb/build.py``,
gives Sphinx the write end of a pipe in ``KB_ENV_SAVE_FD``), when at most
``BACKGROUND_SAVE_SHARE`` of the pages were read, the environment is pickled into the same
file by a forked copy of the process (the environment as it was when Sphinx saved it:
the fork is a snapshot), while the pages are written and the search index is built.
The copy writes ``saving PID`` into the pipe before it starts and ``saved`` once the
file is complete and closed (``failed: why`` if it could not be saved); the driver
reads the pipe to its end before it publishes, so a build whose environment was not
saved fails and publishes nothing, and its mark (``kb/build.py``, step 2) makes the next
build read every page. Without the pipe (``sphinx-build``, the live preview), or when
more pages were read (a clean build: the copy would duplicate most of the memory),
Sphinx saves the environment itself. Only ``pickle.dump`` of the environment, as
``sphinx.builders`` calls it, is replaced (``_EnvironmentSaver``).

CPython: collecting garbage at exit
-----------------------------------
When ``sphinx-build`` returns, the interpreter runs full garbage collections over
everything the build left (the environment, doctrees, the search index's words) before
the process exits: about 0.55 s of a 2.5 s edit rebuild at 500 articles. Nothing needs
collecting then. An ``atexit`` hook (atexit hooks run before that finalisation) freezes
the heap with ``gc.freeze()``, so those collections skip it; objects are still freed as
their modules are torn down, and files are closed by the code that opened them. It runs
only at exit, so a process that builds many times (the test suite) collects as usual
while it runs.

CPython: collecting garbage while the environment is loaded and saved
---------------------------------------------------------------------
Unpickling the saved environment creates a few million objects and no garbage; with the
collector on, its passes walk every object loaded so far, over and over (at 2,000
articles: 1.0-1.1 s to load the environment, 0.4-0.7 s with the collector paused).
Pickling it creates only the pickler's own bookkeeping (1.0-1.4 s, 0.6-0.7 s paused).
So the collector is paused from the extension's setup (which runs before Sphinx loads
the environment) until the builder starts, and again from the end of the read
(``env-updated``) until Sphinx has saved the environment (``env-check-consistency``,
or ``write-started`` when nothing was read). The loaded objects are frozen
(``gc.freeze()``) until the build ends: unfrozen, the first full pass after loading
walks them all anyway (0.4 s at 2,000 articles, spent in the middle of writing a page).
Frozen objects are not collected; when more than ``UNFREEZE_SHARE`` of the pages are
read again, what they replace in the environment could be a lot of garbage, so they are
unfrozen before the read. The collector runs as usual everywhere else, and every window
is closed when the build ends, whatever happened.

CPython: workers walking what they inherit, and a read walking what it has read
------------------------------------------------------------------------------------
A clean build at 500 articles spent 7.4 s of 38 s (``-j 1``) in the collector, and each
``-j 2`` worker 1.4 to 1.9 s: every full pass walks every object, and a forked worker's
objects include everything its main process had. So the main process freezes its objects
while it forks workers (a large parallel read or write), and unfreezes them once they
are done: the workers' passes skip what they inherited, and nothing of the main process
stays frozen. A large read (serial, or in a reading worker) collects and freezes what it
has read every ``FREEZE_EVERY`` pages, so each page's objects are walked about once
instead of at every full pass; the collection first frees the garbage those pages left.
The serial read unfreezes when it ends: the write then frees the pages' doctrees as it
goes (frozen, they would stay until the build ends: 27% more memory at 500 articles).
Measured at 500 articles: the collector's share of the read went from 4.0 to 1.6 s
(``-j 1``), and each worker's from 1.4-1.9 s to 0.6-1.1 s (``-j 2``).

CPython: a worker's young collections
-------------------------------------
A worker builds a page's doctree, tens of thousands of objects that live while the page
is read or written; with CPython's default thresholds (700, 10, 10) a young collection
runs every 700 new objects and walks what is still being built, and the objects that
outlive two of them are walked again by the older generations' passes. So a forked
worker (of a large parallel read or write, not the main process) collects with
``WORKER_GC_THRESHOLDS``: a young collection every 20,000 new objects, the middle one
every 50 of those, and no automatic full pass; instead, like a reading worker, a writing
worker collects everything and freezes what is left every ``FREEZE_EVERY`` pages, which
frees the doctrees of the pages it has written. Measured at 500 articles (``-j 2``, four
builds each, alternated; the collector's CPU time summed over both workers): reading
1.11-1.59 s before, 0.92-1.20 s after; writing 1.48-1.76 s before, 1.17-1.62 s after;
both together 2.91 s on average before, 2.47 s after. The build is noisy on this
machine, and the gain is small: about 0.2 s of a build's time.

CPython: a reading worker's garbage
-----------------------------------
Each page read leaves its trees (the parser's and docutils') as garbage in reference
cycles, which only the collector frees, walking every object of it: 0.3-0.35 s of CPU
for each reading worker at 500 articles. The read is the build's lightest phase for
memory (at 2,000 articles the build's memory peaks at the end of the write, 840-910 MB
summed over its processes, against 340 MB while reading). So a reading worker of a large
parallel read (where ``/proc/self/statm`` tells its size) makes no collection of its
own, and after each page, once it has grown by ``READING_GARBAGE`` since it was forked
or last collected, it collects and freezes what is left. At 500 articles a reading
worker never grows that much (135 MB for its 255 pages), and the build takes 0.5 s of CPU
less; at 2,000 articles (1,000 pages a worker) it collects three or four times, and the
read's memory stays under the write's peak (750-800 MB summed over the processes,
against 740-955 MB at the end of the write, in two builds sampled every 0.5 s; with an
allowance of 192 MB a reading worker reached 506 MB and the build 988 MB).

"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import importlib.metadata
import os
import re
from pathlib import Path

PYBTEX_VERSIONS = ("0.26.1",)


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _pybtex_version() -> str | None:
    return _version("pybtex")


def patch_pybtex_plugin_lookup() -> bool:
    """Memoise pybtex's entry-point look-ups; True if applied (or already applied)."""
    try:
        import pybtex.plugin as plugin
    except ImportError:
        return False
    if getattr(plugin.entry_points, "kb_memoised", False):
        return True
    if (_pybtex_version() not in PYBTEX_VERSIONS
            or plugin.entry_points is not importlib.metadata.entry_points
            or not callable(getattr(plugin, "_load_entry_point", None))):
        return False  # another pybtex: its own code, unchanged

    original = plugin.entry_points

    @functools.lru_cache(maxsize=None)
    def _lookup(items: tuple) -> tuple:
        return tuple(original(**dict(items)))

    def entry_points(**params):
        if not params:
            return original()
        return _lookup(tuple(sorted(params.items())))

    entry_points.kb_memoised = True
    entry_points.cache_clear = _lookup.cache_clear
    plugin.entry_points = entry_points
    return True


LATEXCODEC_VERSIONS = ("3.0.1",)
#: Text that latexcodec 3.0.1's decoder returns unchanged (the module docstring).
PLAIN_LATEX = re.compile(r"(?!.*(?:--|''|,,))[^\s\\{}%$~`]+(?: [^\s\\{}%$~`]+)*", re.S)


def patch_pybtex_plain_latex() -> bool:
    """Plain text skips latexcodec's decoder in ``Text.from_latex``; True if applied (or
    already applied)."""
    try:
        from pybtex.markup import LaTeXParser
        from pybtex.richtext import Text
    except ImportError:
        return False
    if getattr(Text.from_latex, "kb_plain", False):
        return True
    if (_pybtex_version() not in PYBTEX_VERSIONS
            or _version("latexcodec") not in LATEXCODEC_VERSIONS):
        return False  # other versions: their own code, unchanged
    original = Text.from_latex.__func__

    def from_latex(cls, latex):
        if isinstance(latex, str) and PLAIN_LATEX.fullmatch(latex):
            return LaTeXParser(latex).parse()
        return original(cls, latex)

    from_latex.kb_plain = True
    from_latex.kb_original = original
    Text.from_latex = classmethod(from_latex)
    return True


DOCUTILS_VERSIONS = ("0.22.4",)


def _replace(owner, name: str, replacement, pinned: bool) -> bool:
    """Put *replacement* in place of ``owner.name`` (which it keeps as ``kb_original``)
    if the upstream version is the *pinned* one; True if it is in place (now or before)."""
    if getattr(owner, name) is replacement:
        return True
    if not pinned:
        return False  # another version: its own code, unchanged
    replacement.kb_original = getattr(owner, name)
    setattr(owner, name, replacement)
    return True


#: See the module docstring: documents answer searches for classes they never held.
CENSUS = True
#: Builders whose pages are only ever changed through docutils' methods: the census is
#: used while one of them runs (set when the builder starts). Sphinx's single-page,
#: LaTeX, Texinfo and manual page builders put other pages' trees into a page by
#: assigning ``children`` (``inline_all_toctrees``).
CENSUS_BUILDERS = ("html", "epub")
_CENSUS_BUILDER = [True]
#: Walk as well wherever the census answers (tests), and raise if the walk finds a node.
CENSUS_CHECK = os.environ.get("KB_CENSUS_CHECK") == "1"


class CensusError(AssertionError):
    """A node of a class a document's census does not hold was found in it: it was put
    there without docutils' methods (see the module docstring)."""


def _findall(self, cls):
    """docutils' ``Node._fast_findall``, walked with a stack instead of recursion; a
    document answers at once for a class it has never held (its census)."""
    if CENSUS and _CENSUS_BUILDER[0] and _DOCUMENT_CLASS[0].setup_child is _setup_child:
        census = self.__dict__.get("_kb_census")
        if census is None and self.__class__ is _DOCUMENT_CLASS[0]:
            census = _take_census(self)
        if census is not None:
            held = census[1].get(cls)
            if held is None:
                held = census[1][cls] = any(issubclass(kind, cls) for kind in census[0])
            if not held:
                if CENSUS_CHECK:
                    _check_census(self, cls)
                return
    if isinstance(self, cls):
        yield self
    stack = [iter(self.children)]
    while stack:
        for node in stack[-1]:
            if isinstance(node, cls):
                yield node
            if node.children:  # read once the node is handed over, as docutils does
                stack.append(iter(node.children))
                break
        else:
            stack.pop()


def _findall_all(self):
    """docutils' ``Node._superfast_findall``, walked with a stack instead of recursion."""
    yield self
    stack = [iter(self.children)]
    while stack:
        for node in stack[-1]:
            yield node
            if node.children:
                stack.append(iter(node.children))
                break
        else:
            stack.pop()


def patch_docutils_findall() -> bool:
    """Tree searches without a generator per node; True if applied (or already)."""
    from docutils import nodes

    if nodes.Node._fast_findall is _findall:
        return True
    if _version("docutils") not in DOCUTILS_VERSIONS:
        return False  # another docutils: its own code, unchanged
    _findall.kb_original = nodes.Node._fast_findall
    _findall_all.kb_original = nodes.Node._superfast_findall
    nodes.Node._fast_findall = _findall
    nodes.Node._superfast_findall = _findall_all
    return True


#: docutils' ``nodes.document``, set when ``setup_child`` is patched (which keeps the
#: census): until then, and whenever it is not ours, no census is used.
_DOCUMENT_CLASS: list = [type("_NoDocument", (), {"setup_child": None})]


class _Census(tuple):
    """``(classes, {class searched: held})``. Never pickled or copied with its document
    (a doctree file, ``copy.deepcopy``): that gives ``None``, and the document takes a
    new census at its next search."""

    def __reduce__(self):
        return (type(None), ())


def _take_census(document) -> _Census:
    """The classes of every node in *document*, kept on it with a cache of the answers
    for each class searched."""
    census = _Census(({node.__class__ for node in _findall_all(document)}, {}))
    document._kb_census = census
    return census


def _counted(census: _Census, node) -> None:
    """Add *node*'s class, and its subtree's, to *census*."""
    classes = census[0]
    for item in _findall_all(node) if node.children else (node,):
        if item.__class__ not in classes:
            classes.add(item.__class__)
            census[1].clear()  # an answer "not held" may now be wrong


def _check_census(document, cls) -> None:
    for node in _findall.kb_original(document, cls):
        raise CensusError(
            f"a <{node.tagname}> node is in the document "
            f"{document.get('source')!r} but not in its census of node classes: it "
            "was put there without docutils' methods (kb/upstream.py)")


def _setup_child(self, child) -> None:
    """docutils' ``Node.setup_child``, reading ``self.document`` once; the census of the
    tree's root (if it has one) counts the child and what it holds."""
    child.parent = self
    # One walk up the parents gives both ``self.document`` (the first ``_document`` set
    # on the way: docutils' property, without its recursion and the exception it ends
    # with at the top of a tree that is in no document) and the tree's root, whose census
    # counts the child (a node's ``document`` can be another one: a subtree copied or
    # moved from another document keeps it).
    node, document = self, self._document
    while node.parent is not None:
        node = node.parent
        if document is None:
            document = node._document
    census = node.__dict__.get("_kb_census")
    if census is not None and (child.children or child.__class__ not in census[0]):
        _counted(census, child)
    if document:
        child.document = document
        if child.source is None:
            child.source = document.current_source
        if child.line is None:
            child.line = document.current_line


def _text_astext(self) -> str:
    """docutils' ``Text.astext``, without ``unescape`` for text that has no escape
    character (see the module docstring)."""
    if "\x00" in self:
        return _text_astext.kb_original(self)
    return str.__str__(self)  # a plain str, as unescape returns


def patch_docutils_text_astext() -> bool:
    """``Text.astext`` skips ``unescape`` where it changes nothing; True if applied (or
    already applied)."""
    from docutils import nodes

    return _replace(nodes.Text, "astext", _text_astext,
                    _version("docutils") in DOCUTILS_VERSIONS)


def patch_docutils_setup_child() -> bool:
    """``setup_child`` asks for the document once; True if applied (or already)."""
    from docutils import nodes

    if not _replace(nodes.Node, "setup_child", _setup_child,
                    _version("docutils") in DOCUTILS_VERSIONS):
        return False
    _DOCUMENT_CLASS[0] = nodes.document  # the census is kept from now on
    return True


#: What docutils' smart quotes act on (any action but "stupefy", ``-1``): text with none
#: of these comes out of ``educate_tokens`` unchanged (the module docstring).
SMARTQUOTES_ACTIVE = re.compile(r"[\"'`\\&\x00]|--|\.\.|\. \.")


def _language_code(node, fallback: str) -> str:
    """docutils' ``Element.get_language_code``, as a loop up the parents (the method
    recurses, and ends by raising and catching ``AttributeError`` above the root)."""
    while node is not None:
        for cls in node.get("classes", ()):
            if cls.startswith("language-"):
                return cls.removeprefix("language-")
        node = node.parent
    return fallback


def _smartquotes_apply(self) -> None:
    """docutils 0.22.4's ``SmartQuotes.apply``, skipping blocks with nothing to change."""
    from docutils import nodes, utils
    from docutils.utils import smartquotes

    smart_quotes = self.document.settings.setdefault('smart_quotes', False)
    if not smart_quotes:
        return
    try:
        alternative = smart_quotes.startswith('alt')
    except AttributeError:
        alternative = False

    document_language = self.document.settings.language_code
    lc_smartquotes = self.document.settings.smartquotes_locales
    if lc_smartquotes:
        smartquotes.smartchars.quotes.update(dict(lc_smartquotes))
    may_skip = self.smartquotes_action != '-1'
    languages: dict[str, str] = {}  # a node's language tag -> the quotes' language

    for node in self.document.findall(nodes.TextElement):
        if isinstance(node, self.nodes_to_skip):
            continue
        if isinstance(node.parent, nodes.TextElement):
            continue

        txtnodes = [txtnode for txtnode in node.findall(nodes.Text)
                    if not isinstance(txtnode.parent, nodes.option_string)]

        lang = asked = _language_code(node, document_language)
        known = languages.get(asked)  # each language tag worked out once per page
        if known is not None:
            lang = known
        else:
            if alternative:
                if '-x-altquot' in lang:
                    lang = lang.replace('-x-altquot', '')
                else:
                    lang += '-x-altquot'
            for tag in utils.normalize_language_tag(lang):
                if tag in smartquotes.smartchars.quotes:
                    lang = tag
                    break
            else:  # language not supported -- keep ASCII quotes
                if lang not in self.unsupported_languages:
                    self.document.reporter.warning(
                        'No smart quotes defined for language "%s".' % lang,
                        base_node=node)
                self.unsupported_languages.add(lang)
                lang = ''
            languages[asked] = lang

        if may_skip and not any(SMARTQUOTES_ACTIVE.search(text) for text in txtnodes):
            # nothing to educate: each piece kept, as the new node below would be
            for txtnode in txtnodes:
                _as_replaced(txtnode)
            continue

        teacher = smartquotes.educate_tokens(
            self.get_tokens(txtnodes),
            attr=self.smartquotes_action, language=lang)

        for txtnode, newtext in zip(txtnodes, teacher):
            txtnode.parent.replace(txtnode, nodes.Text(newtext))

    self.unsupported_languages.clear()


def _as_replaced(txtnode) -> None:
    """What ``parent.replace(txtnode, Text(str(txtnode)))`` does, without a new node: the
    piece of text it replaces (the first of the parent's children equal to *txtnode*, as
    ``list.index`` finds it) is set as the new node would be, with the document's
    current source and line (``setup_child``)."""
    parent = txtnode.parent
    target = parent.children[parent.index(txtnode)]
    document = parent.document
    if document:
        target.document = document
        target.source = document.current_source
        target.line = document.current_line
    else:
        target.source = target.line = None


def patch_docutils_smartquotes() -> bool:
    """Smart quotes skip blocks with nothing to change; True if applied (or already)."""
    from docutils.transforms.universal import SmartQuotes

    if SmartQuotes.apply is _smartquotes_apply:
        return True
    if _version("docutils") not in DOCUTILS_VERSIONS:
        return False  # another docutils: its own code, unchanged
    _smartquotes_apply.kb_original = SmartQuotes.apply
    SmartQuotes.apply = _smartquotes_apply
    return True


def _settings_values(settings) -> dict:
    """A docutils settings object's values, without its ``record_dependencies`` list:
    each copy (:func:`_settings_copy`) gets a list of its own, as docutils gives each
    settings object it makes."""
    return {name: value for name, value in vars(settings).items()
            if name != "record_dependencies"}


def _settings_copy(values: dict):
    """A new docutils settings object holding *values* (docutils' ``Values`` warns that
    it will be replaced; it is what docutils itself still makes)."""
    import warnings

    from docutils import frontend

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return frontend.Values(dict(values))


MYST_VERSIONS = ("5.2.0",)


def patch_myst_make_document() -> bool:
    """MyST's ``make_document`` with the default settings built once per parser class;
    True if applied (or already applied)."""
    try:
        from myst_parser.mdit_to_docutils import base
    except ImportError:
        return False
    if getattr(base.make_document, "kb_cached", False):
        return True
    if _version("myst-parser") not in MYST_VERSIONS:
        return False  # another MyST-Parser: its own code, unchanged
    from docutils import frontend
    from docutils.parsers.rst import Parser as RSTParser
    from docutils.utils import new_document

    defaults: dict = {}

    def make_document(source_path="notset", parser_cls=RSTParser):
        known = defaults.get(parser_cls)
        if known is None:
            known = defaults[parser_cls] = _settings_values(
                frontend.get_default_settings(parser_cls))
        return new_document(source_path, settings=_settings_copy(known))

    make_document.kb_cached = True
    make_document.kb_original = base.make_document
    base.make_document = make_document
    return True


SPHINX_VERSIONS = ((9, 0),)

#: What docutils' option parser takes from a component (a parser, a reader): a new
#: parser object per page (Sphinx's) with its class's specification is the same.
_SETTINGS_SPEC = ("settings_spec", "relative_path_settings", "settings_defaults",
                  "settings_default_overrides", "config_section",
                  "config_section_dependencies")


def _settings_parts(component) -> tuple:
    if component is None:
        return (None,)
    kind = component if isinstance(component, type) else type(component)
    return (kind, *(getattr(component, name, None) for name in _SETTINGS_SPEC))


def patch_sphinx_page_settings() -> bool:
    """Each page's docutils settings copied from the last ones made from the same
    components and defaults; True if applied (or already applied)."""
    import sphinx
    import sphinx.util.docutils as sphinx_docutils

    if getattr(sphinx_docutils._get_settings, "kb_kept", False):
        return True
    if sphinx.version_info[:2] not in SPHINX_VERSIONS:
        return False  # another Sphinx: its own code, unchanged
    original = sphinx_docutils._get_settings
    # the last settings made: ((option, names, size), the objects they were made from,
    # settings); one only, so that an environment (a default value) is not kept after
    # its build
    kept: list = [None]

    def _get_settings(*components, defaults, read_config_files=False):
        names = tuple(defaults)
        objects = (*[part for component in components
                     for part in _settings_parts(component)], *defaults.values())
        shape = (read_config_files, names, len(objects))
        last = kept[0]
        if (last is None or last[0] != shape
                or any(a is not b for a, b in zip(last[1], objects))):
            settings = original(*components, defaults=defaults,
                                read_config_files=read_config_files)
            last = kept[0] = (shape, objects, _settings_values(settings))
        return _settings_copy(last[2])

    _get_settings.kb_kept = True
    _get_settings.kb_original = original
    _get_settings.cache_clear = lambda: kept.__setitem__(0, None)
    sphinx_docutils._get_settings = _get_settings
    return True


def _highlight_apply(self, **kwargs) -> None:
    """Sphinx 9.0's ``HighlightLanguageTransform.apply``, without the walk on a page with
    no code block."""
    from docutils import nodes
    from sphinx import addnodes

    if next(self.document.findall(nodes.literal_block), None) is not None:
        _highlight_apply.kb_original(self, **kwargs)
        return
    for node in list(self.document.findall(addnodes.highlightlang)):
        node.parent.remove(node)


def patch_sphinx_highlight() -> bool:
    """No code-block walk on pages without code; True if applied (or already)."""
    import sphinx
    from sphinx.transforms.post_transforms.code import HighlightLanguageTransform

    if HighlightLanguageTransform.apply is _highlight_apply:
        return True
    if sphinx.version_info[:2] not in SPHINX_VERSIONS:
        return False
    _highlight_apply.kb_original = HighlightLanguageTransform.apply
    HighlightLanguageTransform.apply = _highlight_apply
    return True


def patch_sphinx_asset_checksums() -> bool:
    """Each asset's checksum looked up once per output folder and name; True if applied
    (or already applied)."""
    import sphinx
    import sphinx.builders.html as html

    if getattr(html._file_checksum, "kb_kept", False):
        return True
    if sphinx.version_info[:2] not in SPHINX_VERSIONS:
        return False
    original = html._file_checksum

    kept = functools.lru_cache(maxsize=4096)(original)

    def _asset_checksum(outdir, filename) -> str:
        try:
            return kept(outdir, filename)
        except TypeError:  # a name that cannot be a key
            return original(outdir, filename)

    _asset_checksum.kb_kept = True
    _asset_checksum.cache_clear = kept.cache_clear
    _asset_checksum.kb_original = original
    html._file_checksum = _asset_checksum
    return True

#: Fewer pages than this are read or written serially even with -j N.
MIN_PARALLEL_PAGES = 40


#: Transforms with nothing to act on in this site's pages (module, class: the reason).
INERT_TRANSFORMS = {
    ("sphinx.domains.c", "AliasTransform"): "c:alias is a refused directive",
    ("sphinx.domains.cpp", "AliasTransform"): "cpp:alias is a refused directive",
    ("sphinx.transforms", "GlossarySorter"): "glossary is a refused directive",
    ("sphinx.transforms", "MoveModuleTargets"): "module directives are refused",
    ("sphinx.transforms", "DoctestTransform"): "doctest blocks are reStructuredText only",
    ("sphinx.domains.citation", "CitationDefinitionTransform"):
        "citations are reStructuredText only (eval-rst is refused)",
    ("sphinx.domains.citation", "CitationReferenceTransform"):
        "citations are reStructuredText only (eval-rst is refused)",
    ("sphinx.transforms.i18n", "RemoveTranslatableInline"):
        "only field lists and version notes make them: refused directives",
    ("sphinx.transforms.i18n", "Locale"): "no translations folder",
    ("sphinx.transforms.i18n", "TranslationProgressTotaliser"):
        "no translations folder; only |translation progress| reads it (refused)",
    ("sphinx.builders.latex.transforms", "FootnoteDocnameUpdater"):
        "only the LaTeX and Texinfo writers read a footnote's docname",
}
#: Builders whose pages never use what the transforms above make.
INERT_FOR_BUILDERS = ("html", "epub")
#: Off only in the test that compares the pages with and without the transforms.
SKIP_INERT_TRANSFORMS = True


def skip_inert_transforms(app, version_info=None) -> list[str]:
    """Take :data:`INERT_TRANSFORMS` out of *app*'s registry, transforms and
    post-transforms (for the HTML and EPUB builders of Sphinx 9.0, with no translations
    folder); the names taken out."""
    import sphinx

    version = tuple((version_info or sphinx.version_info)[:2])
    if (not SKIP_INERT_TRANSFORMS or version not in SPHINX_VERSIONS
            or app.builder.name not in INERT_FOR_BUILDERS
            or any((Path(app.srcdir) / folder).exists()
                   for folder in app.config.locale_dirs)):
        return []
    skipped = []
    for transforms in (app.registry.transforms, app.registry.post_transforms):
        kept = [t for t in transforms if (t.__module__, t.__name__) not in INERT_TRANSFORMS]
        skipped += [f"{t.__module__}.{t.__name__}" for t in transforms if t not in kept]
        transforms[:] = kept
    return skipped


def patch_small_parallel_builds(builder, version_info=None) -> bool:
    """Read and write fewer than MIN_PARALLEL_PAGES pages serially on this *builder*
    (the instance only); True if applied."""
    import sphinx

    version = tuple((version_info or sphinx.version_info)[:2])
    needed = ("_read_parallel", "_read_serial", "_write_parallel", "_write_serial")
    if version not in SPHINX_VERSIONS or not all(
            callable(getattr(builder, name, None)) for name in needed):
        return False  # another Sphinx: its own code, unchanged
    if getattr(builder, "kb_small_builds_serial", False):
        return True
    read_parallel, write_parallel = builder._read_parallel, builder._write_parallel
    read_serial = builder._read_serial

    def _read(docnames, nproc):
        if len(docnames) < MIN_PARALLEL_PAGES:
            return builder._read_serial(docnames)
        with one_chunk_per_process(), frozen_for_workers(), frozen_as_read(builder), \
                working_while_reading(builder):
            return read_parallel(docnames, nproc=nproc)

    def _write(docnames, nproc):
        if len(docnames) < MIN_PARALLEL_PAGES:
            return builder._write_serial(docnames)
        with frozen_for_workers():
            if resolves_in_workers(builder):
                return write_resolving_in_workers(builder, docnames, nproc)
            return write_parallel(docnames, nproc=nproc)

    def _read_one_by_one(docnames):
        if len(docnames) < MIN_PARALLEL_PAGES:
            return read_serial(docnames)
        with frozen_as_read(builder):
            return read_serial(docnames)

    builder._read_parallel, builder._write_parallel = _read, _write
    builder._read_serial = _read_one_by_one
    builder.kb_small_builds_serial = True
    return True


#: A forked worker's collector thresholds (see the module docstring): young, middle, full.
WORKER_GC_THRESHOLDS = (20000, 50, 1000)
_FORKING_WORKERS = [False]  # whether a process forked now is a build's worker
#: A reading worker collects once it has grown by this many bytes (see the module
#: docstring); the test of the collection sets it lower (``KB_TEST_READING_GARBAGE``).
READING_GARBAGE = int(os.environ.get("KB_TEST_READING_GARBAGE", 150 * 2**20))
#: A reading worker's young-generation threshold: no collection of its own.
READING_YOUNG = 2**30
_FORKING_READERS = [False]  # whether a process forked now reads pages
#: In a reading worker that collects by its size: its size (bytes) when forked or last
#: collected; None elsewhere.
_READER_SIZE: list = [None]
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _resident_bytes() -> int | None:
    """This process's resident size, from /proc (None where there is none)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


def _worker_forked() -> None:
    """In a newly forked process: a worker's thresholds, if the fork made a worker."""
    _READER_SIZE[0] = None
    if _FORKING_WORKERS[0] and gc.isenabled():
        size = _resident_bytes() if _FORKING_READERS[0] else None
        if size is not None:
            _READER_SIZE[0] = size
            gc.set_threshold(READING_YOUNG, *WORKER_GC_THRESHOLDS[1:])
        else:
            gc.set_threshold(*WORKER_GC_THRESHOLDS)


def _collect_read_garbage(count: int) -> None:
    """After a page is read: in a reading worker, a collection once it has grown by
    READING_GARBAGE; anywhere else, every FREEZE_EVERY pages. What is left is frozen."""
    if _READER_SIZE[0] is None:
        if count % FREEZE_EVERY:
            return
    else:
        size = _resident_bytes()
        if size is None or size - _READER_SIZE[0] < READING_GARBAGE:
            return
    gc.collect()
    gc.freeze()
    if _READER_SIZE[0] is not None:
        _READER_SIZE[0] = _resident_bytes() or _READER_SIZE[0]


if hasattr(os, "register_at_fork"):  # once per process, when this module is imported
    os.register_at_fork(after_in_child=_worker_forked)


@contextlib.contextmanager
def frozen_for_workers():
    """While worker processes are forked: the main process's objects frozen, so that the
    workers' collections never walk what they inherit, and each worker collecting with
    ``WORKER_GC_THRESHOLDS`` (see the module docstring). The main process unfreezes them
    once its workers are done, unless something was frozen before (the loaded
    environment of an edit rebuild, unfrozen when the build ends); its own thresholds
    never change."""
    if not gc.isenabled():
        yield
        return
    with _unfrozen_after():
        gc.freeze()
        _FORKING_WORKERS[0] = True
        try:
            yield
        finally:
            _FORKING_WORKERS[0] = False


@contextlib.contextmanager
def _unfrozen_after():
    """Unfreeze at the end what was frozen in between, unless something was frozen
    before (the loaded environment of an edit rebuild, unfrozen when the build ends)."""
    already = gc.get_freeze_count() > 0
    try:
        yield
    finally:
        if not already:
            gc.unfreeze()


#: A large serial read collects and freezes what it has read every this many pages.
FREEZE_EVERY = 20


@contextlib.contextmanager
def frozen_as_read(builder):
    """During a large read: every ``FREEZE_EVERY`` pages (a reading worker: once it has
    grown by ``READING_GARBAGE``), a collection (of what is not frozen: the last pages'
    objects) and a freeze, so that no collection walks the pages read before (see the
    module docstring). Unfrozen when the read ends, unless something was frozen
    before."""
    read_doc = getattr(builder, "read_doc", None)
    if read_doc is None or not gc.isenabled():
        yield
        return
    count = [0]

    def read_and_freeze(docname, *args, **kwargs):
        result = read_doc(docname, *args, **kwargs)
        count[0] += 1
        _collect_read_garbage(count[0])
        return result

    builder.read_doc = read_and_freeze
    _FORKING_READERS[0] = True  # a worker forked meanwhile reads pages
    try:
        with _unfrozen_after():
            yield
    finally:
        _FORKING_READERS[0] = False
        builder.read_doc = read_doc


def resolves_in_workers(builder) -> bool:
    """Whether *builder*'s parallel write can resolve pages in the workers: Sphinx's
    HTML builder (not a subclass such as EPUB's) with its search index off."""
    from sphinx.builders.html import StandaloneHTMLBuilder

    return type(builder) is StandaloneHTMLBuilder and builder.indexer is None


#: Event whose handlers name pages to write before the others in a parallel write (pages
#: that list the whole site take longest; left for last, one worker writes on alone).
WRITE_FIRST_EVENT = "kb-write-first"


def write_resolving_in_workers(builder, docnames, nproc: int) -> None:
    """Sphinx 9.0's ``_write_parallel``, with each page loaded and resolved by the worker
    that writes it (see the module docstring). *nproc* is what Sphinx passes: ``-j``
    minus one."""
    import multiprocessing

    import sphinx.builders
    from sphinx.util.parallel import ParallelTasks

    write_docname = sphinx.builders._write_docname
    env, tags = builder.env, builder.tags
    # every page is written by a worker: Sphinx writes the first page in the main process
    # before the fork to compile the templates and warm caches once, but the other CPUs
    # wait meanwhile (0.3-0.4 s at 500 articles), where each worker compiles them for
    # itself at the same time
    pages = list(docnames)
    images_before = dict(builder.images)
    first = set()
    for names in builder.events.emit(WRITE_FIRST_EVENT, env):
        first.update(names or ())
    order = [d for d in pages if d in first] + [d for d in pages if d not in first]
    taken = multiprocessing.get_context("fork").Value("q", 0)  # the next page to write
    written = [0]  # pages this process has written

    def write_pages(_worker: int) -> dict:
        while True:
            with taken.get_lock():
                i = taken.value
                taken.value += 1
            if i >= len(order):
                break
            write_docname(order[i], env=env, builder=builder, tags=tags)
            written[0] += 1
            if written[0] % FREEZE_EVERY == 0 and gc.isenabled():
                # the written pages' doctrees are garbage: freed here, as a reading
                # worker frees its pages' (see the module docstring)
                gc.collect()
                gc.freeze()
        # the images these pages use, for the main process to copy
        return {uri: name for uri, name in builder.images.items()
                if images_before.get(uri) != name}

    def worker_done(_worker: int, images: dict) -> None:
        builder.images.update(images)

    # Sphinx passes -j minus one (its main process resolves); here the main process only
    # waits, so every one of the -j processes writes; each takes the next page when it
    # is free, so they finish together
    workers = max(1, min(nproc + 1, len(order)))
    tasks = ParallelTasks(workers)
    for worker in range(workers):
        tasks.add_task(write_pages, worker, worker_done)
    tasks.join()


def chunks_per_process(arguments, nproc: int, maxbatch: int = 10) -> list:
    """*arguments* in ``nproc`` contiguous chunks as equal as can be (fewer if there are
    fewer arguments), in order."""
    count = max(1, min(nproc, len(arguments)))
    size, extra = divmod(len(arguments), count)
    chunks, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        chunks.append(list(arguments[start:end]))
        start = end
    return chunks


@contextlib.contextmanager
def _in_sphinx_builders(name: str, value):
    """While in the block: ``sphinx.builders.<name>`` (a name ``_read_parallel`` calls)
    is *value*."""
    import sphinx.builders

    original = getattr(sphinx.builders, name)
    setattr(sphinx.builders, name, value)
    try:
        yield
    finally:
        setattr(sphinx.builders, name, original)


def one_chunk_per_process():
    """While reading: ``sphinx.builders.make_chunks`` gives one chunk per process."""
    return _in_sphinx_builders("make_chunks", chunks_per_process)


READING_EVENT = "kb-reading-in-workers"


def working_while_reading(builder):
    """While reading in workers: once ``_read_parallel`` has forked them all (one chunk
    per process), before it waits for them, the main process emits ``READING_EVENT``
    (see the module docstring). Only ``ParallelTasks`` as the read calls it is
    replaced."""
    import sphinx.builders

    class TasksThenWork(sphinx.builders.ParallelTasks):
        def join(self) -> None:
            builder.events.emit(READING_EVENT)
            super().join()

    return _in_sphinx_builders("ParallelTasks", TasksThenWork)


def _builder_inited(app) -> None:
    _CENSUS_BUILDER[0] = app.builder.name in CENSUS_BUILDERS
    _RESOLVED_PATHS.clear()  # a new build: the files may have moved since the last
    skip_inert_transforms(app)
    patch_small_parallel_builds(app.builder)
    cache_compiled_templates(app)
    templates_loaded_once(app)


TEMPLATE_CACHE = "kb-jinja-cache"


def cache_compiled_templates(app) -> bool:
    """Give the builder's Jinja environment a bytecode cache in the doctree folder (see
    the module docstring); True if set."""
    environment = getattr(getattr(app.builder, "templates", None), "environment", None)
    if environment is None or environment.bytecode_cache is not None:
        return False
    from jinja2 import FileSystemBytecodeCache

    folder = Path(app.doctreedir) / TEMPLATE_CACHE
    folder.mkdir(parents=True, exist_ok=True)
    environment.bytecode_cache = FileSystemBytecodeCache(str(folder))
    return True


def freeze_heap_at_exit() -> None:
    """Once per process: at exit, freeze the heap so the interpreter's final garbage
    collections skip it (see the module docstring)."""
    if not getattr(freeze_heap_at_exit, "registered", False):
        atexit.register(gc.freeze)
        freeze_heap_at_exit.registered = True


def pause_collector_around_environment(app) -> None:
    """Pause the collector while the environment is loaded and while it is saved, and
    keep the loaded environment out of its passes (see the module docstring). Not if the
    collector is off already (someone else's choice), unless a build of this process
    paused it and stopped before resuming it."""
    if _PAUSED[0]:
        _resume_collector(app)
    gc.unfreeze()
    if not gc.isenabled():
        return
    gc.disable()
    _PAUSED[0] = True
    app.connect("builder-inited", _environment_loaded, priority=0)
    app.connect("env-before-read-docs", _pages_to_read, priority=999)
    app.connect("env-updated", _saving_environment, priority=999)
    for event in ("env-check-consistency", "write-started"):
        app.connect(event, _resume_collector, priority=0)
    app.connect("build-finished", _build_finished, priority=0)


_PAUSED = [False]  # whether the collector is off because this module turned it off
#: More pages than this share of the site re-read: the loaded environment is unfrozen
#: before reading, so that what the pages replace can be collected during the build.
UNFREEZE_SHARE = 0.1


def _environment_loaded(app) -> None:
    gc.freeze()
    _resume_collector(app)


def _pages_to_read(app, env, docnames) -> None:
    if len(docnames) > UNFREEZE_SHARE * max(len(env.all_docs), 1):
        gc.unfreeze()


def _saving_environment(app, env) -> None:
    if gc.isenabled():
        gc.disable()
        _PAUSED[0] = True


def _resume_collector(app, *_args) -> None:
    if _PAUSED[0]:
        _PAUSED[0] = False
        gc.enable()


def _build_finished(app, exc) -> None:
    gc.unfreeze()
    _resume_collector(app)


SAVE_FD = "KB_ENV_SAVE_FD"  # make html's driver: the write end of a pipe (see above)
#: At most this share of the site's pages read: the environment is saved in the
#: background. The forked copy touches every object it pickles, and so copies most of
#: the memory it shares with the main process: after a large read that would be as much
#: again as the main process holds, while the pages are written.
BACKGROUND_SAVE_SHARE = 0.25
_READ_SHARE = [1.0]  # the share of the site's pages this build reads (env-before-read-docs)


def _save_in_background(dump, env, file, protocol, fd: int) -> None:
    """Pickle *env* into *file* in a forked copy of this process, reporting into *fd*."""
    file.flush()
    pid = os.fork()
    if pid:
        return  # the caller closes its copy of the file, having written nothing into it
    status = 1
    try:
        os.write(fd, f"saving {os.getpid()}\n".encode())
        dump(env, file, protocol)
        file.close()
        os.write(fd, b"saved\n")
        status = 0
    except BaseException as error:  # noqa: BLE001 - reported to the driver, then exit
        with contextlib.suppress(BaseException):
            os.write(fd, f"failed: {type(error).__name__}: {error}\n".encode(
                "utf-8", "replace")[:4000])
    finally:
        os._exit(status)


class _EnvironmentSaver:
    """``sphinx.builders``' ``pickle``: the module itself, but a ``dump`` of the build's
    environment, under ``make html``, after a small read, saved in the background."""

    def __init__(self, module):
        self.__dict__.update(vars(module))
        del self.__dict__["dump"]  # this class's
        self.kb_module = module

    def dump(self, obj, file, protocol=None, **kwargs):
        from sphinx.environment import BuildEnvironment

        fd = os.environ.get(SAVE_FD, "")
        if (isinstance(obj, BuildEnvironment) and not kwargs and fd.isdigit()
                and _READ_SHARE[0] <= BACKGROUND_SAVE_SHARE):
            with contextlib.suppress(OSError):
                os.fstat(int(fd))  # the pipe is there: this process is make html's Sphinx
                return _save_in_background(self.kb_module.dump, obj, file, protocol,
                                           int(fd))
        return self.kb_module.dump(obj, file, protocol, **kwargs)


def _read_share(app, env, docnames) -> None:
    _READ_SHARE[0] = len(docnames) / len(env.all_docs) if env.all_docs else 1.0


def patch_sphinx_background_save(app) -> bool:
    """Save the environment in the background under make html (see the module
    docstring); True if applied (or already applied)."""
    import sphinx
    import sphinx.builders

    if sphinx.version_info[:2] not in SPHINX_VERSIONS:
        return False
    if not isinstance(sphinx.builders.pickle, _EnvironmentSaver):
        sphinx.builders.pickle = _EnvironmentSaver(sphinx.builders.pickle)
    app.connect("env-before-read-docs", _read_share, priority=0)
    return True


def drop_resolved_doctree(app, doctree, docname) -> None:
    """doctree-resolved: the page's pickled doctree is not needed again (see above)."""
    cache = getattr(app.env, "_pickled_doctree_cache", None)
    if isinstance(cache, dict):
        cache.pop(docname, None)


#: Off only in the test that compares the pages with and without the three changes below.
TITLES_ONCE = True  # patch_sphinx_partial_titles
TEMPLATES_LOOKED_AT_AGAIN = False  # templates_loaded_once
WORD_COUNT = False  # patch_myst_wordcount


def _rendered_title_parts(self, node) -> dict[str, str]:
    """``render_partial`` of a title node the environment holds: rendered once per
    builder, its parts copied each time (see the module docstring)."""
    from docutils import nodes

    if not TITLES_ONCE or node.__class__ is not nodes.title or not _held_title(self, node):
        return _rendered_title_parts.kb_original(self, node)
    kept = self.__dict__.setdefault("_kb_rendered_titles", {})
    held = kept.get(id(node))
    if held is None or held[0] is not node:
        held = kept[id(node)] = (node, _rendered_title_parts.kb_original(self, node))
    return dict(held[1])


def _held_title(builder, node) -> bool:
    """Whether *node* is a title the builder's environment holds, by identity. The ids of
    those titles are kept on the builder (never pickled, unlike the environment) and
    made again whenever the environment's title dicts are others or change size."""
    env = builder.env
    titles, longtitles = env.titles, env.longtitles
    known = builder.__dict__.get("_kb_title_ids")
    if known is None or known[0] is not titles or known[1] is not longtitles \
            or known[2] != (len(titles), len(longtitles)):
        ids = {id(t): t for t in titles.values()}
        ids.update((id(t), t) for t in longtitles.values())
        known = (titles, longtitles, (len(titles), len(longtitles)), ids)
        builder._kb_title_ids = known
    return known[3].get(id(node)) is node


def patch_sphinx_partial_titles() -> bool:
    """The HTML builder's ``render_partial`` renders each title the environment holds
    once; True if applied (or already applied)."""
    import sphinx
    from sphinx.builders.html import StandaloneHTMLBuilder

    return _replace(StandaloneHTMLBuilder, "render_partial", _rendered_title_parts,
                    sphinx.version_info[:2] in SPHINX_VERSIONS)


def templates_loaded_once(app) -> bool:
    """The builder's Jinja environment does not look at the templates' files again for
    every page (see the module docstring); True if set."""
    environment = getattr(getattr(app.builder, "templates", None), "environment", None)
    if environment is None or TEMPLATES_LOOKED_AT_AGAIN:
        return False
    environment.auto_reload = False
    return True


def patch_myst_wordcount() -> bool:
    """Sphinx's MyST parser without the word count when the ``substitution`` extension is
    off (see the module docstring); True if applied (or already applied)."""
    try:
        import myst_parser.parsers.sphinx_ as sphinx_parser
    except ImportError:
        return False
    original = sphinx_parser.create_md_parser
    if getattr(original, "kb_no_wordcount", False):
        return True
    if _version("myst-parser") not in MYST_VERSIONS:
        return False

    def create_md_parser(config, renderer):
        md = original(config, renderer)
        if not WORD_COUNT and "substitution" not in config.enable_extensions:
            md.disable("wordcount")
        return md

    create_md_parser.kb_no_wordcount = True
    create_md_parser.kb_original = original
    sphinx_parser.create_md_parser = create_md_parser
    return True


def _make_emit():
    """Sphinx 9.0's ``EventManager.emit``, with the arguments' ``repr`` made only when the
    debug message can be shown (see the module docstring)."""
    from operator import attrgetter

    from sphinx.errors import ExtensionError, SphinxError
    from sphinx.events import logger
    from sphinx.locale import __
    from sphinx.util.inspect import safe_getattr

    priority = attrgetter("priority")

    def emit(self, name, *args, allowed_exceptions=()):
        if getattr(self._app, "verbosity", DEBUG_VERBOSITY) >= DEBUG_VERBOSITY:
            # not every object likes to be repr()'d (as Sphinx says)
            try:
                repr_args = repr(args)
            except Exception:  # noqa: BLE001, S110 - Sphinx's own handling
                pass
            else:
                logger.debug("[app] emitting event: %r%s", name, repr_args)
        results = []
        for listener in sorted(self.listeners[name], key=priority):
            try:
                results.append(listener.handler(self._app, *args))
            except allowed_exceptions:
                raise  # pass through the errors specified as allowed_exceptions
            except SphinxError:
                raise
            except Exception as exc:
                if self._reraise_errors:
                    raise
                modname = safe_getattr(listener.handler, "__module__", None)
                msg = __("Handler %r for event %r threw an exception")
                raise ExtensionError(msg % (listener.handler, name), exc,
                                     modname=modname) from exc
        return results

    return emit


#: Sphinx's verbosity from which its debug messages are shown (``-vv``).
DEBUG_VERBOSITY = 2


def patch_sphinx_event_messages() -> bool:
    """``EventManager.emit`` without the arguments' ``repr`` below ``-vv``; True if applied
    (or already applied)."""
    import sphinx
    from sphinx.events import EventManager

    if getattr(EventManager.emit, "kb_quiet", False):
        return True
    if sphinx.version_info[:2] not in SPHINX_VERSIONS:
        return False
    emit = _make_emit()
    emit.kb_quiet = True
    emit.kb_original = EventManager.emit
    EventManager.emit = emit
    return True


#: relfn2path's answers: (file name, page's folder, source folder) -> (relative, absolute).
_RESOLVED_PATHS: dict = {}
_RESOLVED_PATHS_MAX = 20_000


def _relfn2path(self, filename, docname=None):
    """Sphinx's ``BuildEnvironment.relfn2path``, its answer kept (see the module
    docstring)."""
    page = docname or self.docname
    if not page:
        return _relfn2path.kb_original(self, filename, docname)  # raises, as Sphinx's
    # Sphinx resolves a relative name from the page's folder: pages in one folder share
    # the answer (a docname's folder is its source file's, relative to the source folder)
    key = (os.fspath(filename), page.rpartition("/")[0], self.srcdir)
    found = _RESOLVED_PATHS.get(key)
    if found is None:
        found = _relfn2path.kb_original(self, filename, docname)
        if len(_RESOLVED_PATHS) >= _RESOLVED_PATHS_MAX:
            _RESOLVED_PATHS.clear()
        _RESOLVED_PATHS[key] = found
    return found


def patch_sphinx_relfn2path() -> bool:
    """``relfn2path`` answers each file name once per folder and build; True if applied
    (or already applied)."""
    import sphinx
    from sphinx.environment import BuildEnvironment

    return _replace(BuildEnvironment, "relfn2path", _relfn2path,
                    sphinx.version_info[:2] in SPHINX_VERSIONS)


def setup_upstream(app) -> None:
    app.add_event(WRITE_FIRST_EVENT)
    app.add_event(READING_EVENT)
    patch_pybtex_plugin_lookup()
    patch_pybtex_plain_latex()
    patch_docutils_findall()
    patch_docutils_smartquotes()
    patch_myst_make_document()
    patch_sphinx_page_settings()
    patch_sphinx_highlight()
    patch_docutils_setup_child()
    patch_docutils_text_astext()
    patch_sphinx_asset_checksums()
    patch_sphinx_partial_titles()
    patch_myst_wordcount()
    patch_sphinx_event_messages()
    patch_sphinx_relfn2path()
    freeze_heap_at_exit()
    pause_collector_around_environment(app)
    patch_sphinx_background_save(app)
    app.connect("builder-inited", _builder_inited, priority=100)
    app.connect("doctree-resolved", drop_resolved_doctree, priority=900)
