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
"""

from __future__ import annotations

import atexit
import functools
import gc
import importlib.metadata

PYBTEX_VERSIONS = ("0.26.1",)


def _pybtex_version() -> str | None:
    try:
        return importlib.metadata.version("pybtex")
    except importlib.metadata.PackageNotFoundError:
        return None


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


SPHINX_VERSIONS = ((9, 0),)
#: Fewer pages than this are read or written serially even with -j N.
MIN_PARALLEL_PAGES = 40


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

    def _read(docnames, nproc):
        if len(docnames) < MIN_PARALLEL_PAGES:
            return builder._read_serial(docnames)
        return read_parallel(docnames, nproc=nproc)

    def _write(docnames, nproc):
        if len(docnames) < MIN_PARALLEL_PAGES:
            return builder._write_serial(docnames)
        return write_parallel(docnames, nproc=nproc)

    builder._read_parallel, builder._write_parallel = _read, _write
    builder.kb_small_builds_serial = True
    return True


def _builder_inited(app) -> None:
    patch_small_parallel_builds(app.builder)


def freeze_heap_at_exit() -> None:
    """Once per process: at exit, freeze the heap so the interpreter's final garbage
    collections skip it (see the module docstring)."""
    if not getattr(freeze_heap_at_exit, "registered", False):
        atexit.register(gc.freeze)
        freeze_heap_at_exit.registered = True


def setup_upstream(app) -> None:
    patch_pybtex_plugin_lookup()
    freeze_heap_at_exit()
    app.connect("builder-inited", _builder_inited, priority=100)
