"""Shared fixtures: Sphinx's test fixtures, tiny test roots, the real site built once,
and a guard that fails any test that tries to reach the network."""

from __future__ import annotations

import io
import ipaddress
import os
import socket
from pathlib import Path

# Every build the tests run (in this process and in the ones they start) walks the pages
# as well wherever a document's census of node classes answers a search, and fails if
# the walk finds a node (kb/upstream.py).
os.environ["KB_CENSUS_CHECK"] = "1"

import pytest
from sphinx.testing.util import SphinxTestApp

from helpers import ROOTS, build_site, lay_root

pytest_plugins = ["sphinx.testing.fixtures"]


@pytest.fixture(scope="session")
def rootdir() -> Path:
    return ROOTS


@pytest.fixture(autouse=True, scope="session")
def no_network():
    """Any connection to a non-loopback address fails the test that made it."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None:
            try:
                ip = ipaddress.ip_address(socket.gethostbyname(host))
            except (OSError, ValueError):
                raise AssertionError(f"test tried to reach the network: {host}") from None
            if not ip.is_loopback:
                raise AssertionError(f"test tried to reach the network: {host}")
        return real_connect(self, address)

    socket.socket.connect = guarded
    yield
    socket.socket.connect = real_connect


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The real knowledge base, built once per test session (warnings in _warning)."""
    app = build_site(tmp_path_factory.mktemp("site"))
    # Unregister its docutils nodes now, so tests that build tiny projects in the same
    # session start clean; the output and the environment stay available.
    app.cleanup()
    return app


@pytest.fixture
def build_root(tmp_path):
    """Build a tiny test project; returns the app (warnings via warnings_of)."""
    apps = []

    def build(name: str | None, buildername: str = "html", srcdir: Path | None = None,
              parallel: int = 0, freshenv: bool = True, dest: str | None = None,
              **confoverrides) -> SphinxTestApp:
        src = srcdir or lay_root(tmp_path / (dest or name or "common"), name)
        while apps:  # one registered app at a time; earlier results stay readable
            apps.pop().cleanup()
        app = SphinxTestApp(buildername, srcdir=src, builddir=src / "_build",
                            status=io.StringIO(), warning=io.StringIO(), freshenv=freshenv,
                            parallel=parallel, confoverrides=confoverrides or None)
        apps.append(app)
        app.build()
        return app

    yield build
    for app in apps:
        app.cleanup()
