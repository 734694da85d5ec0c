"""Shared fixtures: Sphinx's test fixtures, tiny test roots, the real site built once,
and a guard that fails any test that tries to reach the network."""

from __future__ import annotations

import io
import ipaddress
import re
import socket
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from sphinx.testing.util import SphinxTestApp

pytest_plugins = ["sphinx.testing.fixtures"]

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="session")
def rootdir() -> Path:
    return REPO / "tests" / "roots"


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


def warnings_of(app) -> list[str]:
    """The build's warning lines, without colour codes, paths relative to the source."""
    text = ANSI.sub("", app._warning.getvalue())
    src = str(app.srcdir) + "/"
    return [line.replace(src, "") for line in text.splitlines() if line.strip()]


def html(app, page: str) -> BeautifulSoup:
    return BeautifulSoup((Path(app.outdir) / page).read_text(encoding="utf-8"), "lxml")


def build_site(builddir: Path, **kwargs) -> SphinxTestApp:
    """Build the real docs/ (in place, output under *builddir*)."""
    app = SphinxTestApp("html", srcdir=DOCS, builddir=builddir, status=io.StringIO(),
                        warning=io.StringIO(), freshenv=True, **kwargs)
    app.build()
    return app


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The real knowledge base, built once per test session."""
    app = build_site(tmp_path_factory.mktemp("site"))
    yield app
    app.cleanup()
