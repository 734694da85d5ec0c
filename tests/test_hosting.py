"""Hosting and the Makefile: .readthedocs.yaml is valid against Read the Docs' own schema
and uses the same requirements and flags as `make html`; a failed `make html` never
replaces the last good site."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

from helpers import REPO

# A copy of ../shared/readthedocs-config-schema.json (Read the Docs' schema), kept in the
# repository so the test does not depend on anything outside it.
SCHEMA = REPO / "tests/data/readthedocs-config-schema.json"


def test_readthedocs_config_is_valid_against_the_schema():
    config = yaml.safe_load((REPO / ".readthedocs.yaml").read_text())
    jsonschema.validate(config, json.loads(SCHEMA.read_text()))
    assert config["version"] == 2
    assert config["build"]["os"] and config["build"]["tools"]["python"] == "3.11"
    assert config["sphinx"] == {"configuration": "docs/conf.py", "builder": "html",
                                "fail_on_warning": True}
    assert config["python"]["install"] == [{"requirements": "requirements.txt"}]


def test_requirements_are_exact_pins():
    for name in ("requirements.txt", "requirements-writer.txt", "requirements-test.txt"):
        for line in (REPO / name).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "-r ")):
                assert "==" in line and not any(c in line for c in "<>~*"), (name, line)
    pins = (REPO / "requirements.txt").read_text()
    for package in ("Sphinx==", "myst-parser==", "sphinxcontrib-bibtex==", "furo=="):
        assert package in pins


def test_makefile_builds_with_the_read_the_docs_flags():
    makefile = (REPO / "Makefile").read_text()
    assert "SPHINXOPTS ?= -n -W --keep-going" in makefile
    # ... and every CPU (the pages do not depend on it: tests/test_parallel_write.py)
    assert re.search(r"^JOBS\s+\?= auto$", makefile, re.M)
    assert "build.py html $(BUILDDIR) $(SOURCEDIR) -- \\\n\t  -j $(JOBS) $(SPHINXOPTS)" in makefile
    conf = (REPO / "docs/conf.py").read_text()
    assert "nitpicky = True" in conf  # so Read the Docs' build is nitpicky too


def make(repo: Path, *args: str) -> subprocess.CompletedProcess:
    venv = Path(sys.executable).parent.parent
    return subprocess.run(["make", *args, f"VENV={venv}"], cwd=repo, capture_output=True,
                          text=True, env={**os.environ, "SPHINXOPTS": "-n -W --keep-going -q"})


def test_failed_build_keeps_the_last_good_site(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "docs", repo / "docs",
                    ignore=shutil.ignore_patterns("_build", "__pycache__"))
    for name in ("Makefile", "references.bib", "requirements.txt",
                 "requirements-writer.txt", "requirements-test.txt"):
        shutil.copy2(REPO / name, repo / name)
    good = make(repo, "html")
    assert good.returncode == 0, good.stdout + good.stderr
    published = repo / "_build/html/articles/anxiety.html"
    before = published.read_bytes()

    article = repo / "docs/articles/anxiety.md"
    article.write_text(article.read_text().replace("topics: [anxiety]", "topics: [anxeity]")
                       .replace("# Anxiety", "# Anxiety changed", 1))
    bad = make(repo, "html")
    assert bad.returncode != 0
    assert "unknown topic 'anxeity'" in bad.stderr
    assert "Build failed: the published site in _build/html is unchanged." in bad.stdout
    assert published.read_bytes() == before
    assert not (repo / "_build/doctrees/environment.pickle").exists()

    # the next build reads every page again, so the problem is shown again
    again = make(repo, "html")
    assert again.returncode != 0 and "unknown topic 'anxeity'" in again.stderr
    assert published.read_bytes() == before
