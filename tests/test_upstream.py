"""kb.upstream: the memoised pybtex plugin look-up gives the same plugins, looks each up
once, and leaves another pybtex version alone."""

from __future__ import annotations

import importlib.metadata

import pybtex.plugin
import pytest

from kb import upstream

LOOKUPS = (("pybtex.database.input", "bibtex"), ("pybtex.backends", "text"),
           ("pybtex.style.formatting", "apa7"), ("pybtex.style.formatting", "plain"))


@pytest.fixture
def fresh_plugin_module(monkeypatch):
    """pybtex.plugin with its original entry_points, restored after the test."""
    monkeypatch.setattr(pybtex.plugin, "entry_points", importlib.metadata.entry_points)
    return pybtex.plugin


def test_same_plugins_and_one_lookup_each(fresh_plugin_module, monkeypatch):
    from kb import apa

    apa.register()
    expected = {(g, n): pybtex.plugin.find_plugin(g, n) for g, n in LOOKUPS}
    calls = []
    real = importlib.metadata.entry_points

    def counting(**params):
        calls.append(tuple(sorted(params.items())))
        return real(**params)

    monkeypatch.setattr(pybtex.plugin, "entry_points", counting)
    monkeypatch.setattr(importlib.metadata, "entry_points", counting)
    assert upstream.patch_pybtex_plugin_lookup()
    for _ in range(3):
        for group, name in LOOKUPS:
            assert pybtex.plugin.find_plugin(group, name) is expected[group, name]
    assert len(calls) == len(set(calls))  # one look-up per (group, name), not per call
    with pytest.raises(pybtex.plugin.PluginNotFound):
        pybtex.plugin.find_plugin("pybtex.backends", "no-such-backend")
    assert upstream.patch_pybtex_plugin_lookup()  # applying twice is harmless


def test_runtime_plugins_still_win(fresh_plugin_module):
    upstream.patch_pybtex_plugin_lookup()

    class Mine(pybtex.plugin.Plugin):
        pass

    pybtex.plugin.register_plugin("pybtex.backends", "kb-test-backend", Mine)
    assert pybtex.plugin.find_plugin("pybtex.backends", "kb-test-backend") is Mine


def test_other_pybtex_versions_are_left_alone(fresh_plugin_module, monkeypatch):
    monkeypatch.setattr(upstream, "_pybtex_version", lambda: "0.27.0")
    assert not upstream.patch_pybtex_plugin_lookup()
    assert pybtex.plugin.entry_points is importlib.metadata.entry_points


def test_the_pinned_version_gets_it():
    assert upstream._pybtex_version() in upstream.PYBTEX_VERSIONS
    assert upstream.patch_pybtex_plugin_lookup()
    assert getattr(pybtex.plugin.entry_points, "kb_memoised", False)
