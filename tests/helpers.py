"""Helpers shared by the tests: paths, building the real site and tiny test projects,
reading warnings and HTML."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from bs4 import BeautifulSoup
from sphinx.testing.util import SphinxTestApp

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
ROOTS = REPO / "tests" / "roots"
if str(DOCS / "_ext") not in sys.path:
    sys.path.insert(0, str(DOCS / "_ext"))

ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: What ``make`` needs at the top of a copy of the repository.
MAKE_FILES = ("Makefile", "references.bib", "requirements.txt", "requirements-writer.txt",
              "requirements-test.txt")


def copy_repository(dest: Path, files: tuple[str, ...] = MAKE_FILES) -> Path:
    """*dest*: a copy of docs/ (without build output) and of the top-level *files*."""
    shutil.copytree(DOCS, dest / "docs", ignore=shutil.ignore_patterns("_build", "__pycache__"))
    for name in files:
        shutil.copy2(REPO / name, dest / name)
    return dest


def run_make(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """``make ARGS`` in *repo* with this test run's virtual environment, strict as CI."""
    venv = Path(sys.executable).parent.parent
    return subprocess.run(["make", *args, f"VENV={venv}"], cwd=repo, capture_output=True,
                          text=True, env={**os.environ, "SPHINXOPTS": "-n -W --keep-going -q"})


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


def lay_root(dest: Path, name: str | None) -> Path:
    """A tiny project: the common skeleton, then tests/roots/test-<name>/ on top.
    A file ``_remove.txt`` in the root lists skeleton files to leave out."""
    shutil.copytree(ROOTS / "common", dest)
    if name:
        shutil.copytree(ROOTS / f"test-{name}", dest, dirs_exist_ok=True)
        removals = dest / "_remove.txt"
        if removals.exists():
            for rel in removals.read_text().split():
                (dest / rel).unlink()
            removals.unlink()
    return dest
