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
"""

from __future__ import annotations

import functools
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


def setup_upstream(app) -> None:
    patch_pybtex_plugin_lookup()
