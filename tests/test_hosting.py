"""Hosting and the Makefile: .readthedocs.yaml is valid against Read the Docs' own schema
and uses the same requirements and flags as `make html`; a failed `make html` never
replaces the last good site."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

from helpers import REPO, copy_repository, run_make

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


def makefile_default(name: str) -> str:
    return re.search(rf"^{name}\s+\?= (.*)$", (REPO / "Makefile").read_text(), re.M).group(1)


def readthedocs_html_commands() -> list[str]:
    config = yaml.safe_load((REPO / ".readthedocs.yaml").read_text())
    return config["build"]["jobs"]["build"]["html"]


def test_read_the_docs_builds_the_website_with_the_command_and_flags_of_make_html():
    # `make html` runs build.py html $(BUILDDIR) $(SOURCEDIR) -- -j $(JOBS) $(SPHINXOPTS)
    # (test_makefile_builds_with_the_read_the_docs_flags); Read the Docs the same, with
    # its output folder as the build folder. Without it, Read the Docs would run
    # sphinx-build itself, with no -j.
    [command] = readthedocs_html_commands()
    assert shlex.split(command) == [
        "python", "docs/_ext/kb/build.py", "html", "$READTHEDOCS_OUTPUT", "docs", "--",
        "-j", makefile_default("JOBS"), *makefile_default("SPHINXOPTS").split()]
    assert makefile_default("JOBS") == "auto" and "-W" in makefile_default("SPHINXOPTS")
    assert "'" not in command  # Read the Docs runs it inside /bin/sh -c '...'


def test_read_the_docs_build_publishes_the_whole_site_where_it_uploads_it(tmp_path):
    """The commands of build.jobs.build.html, run as Read the Docs runs them
    (readthedocs.org, doc_builder/director.py run_build_job and environments.py
    DockerBuildCommand: in the checkout, `/bin/sh -c 'PATH=<virtualenv>/bin:$PATH; ...'`,
    with its variables), on a copy of the repository; then Read the Docs' own checks of
    the output (projects/tasks/builds.py get_valid_artifact_types, director.py
    check_old_output_directory)."""
    checkout = copy_repository(tmp_path / "checkout", ("Makefile", "references.bib",
                                                         "requirements.txt", ".readthedocs.yaml"))
    # a production build needs the practice's contact details (tests/test_frontdoor.py);
    # a test value, in the copy only
    conf = checkout / "docs/conf.py"
    conf.write_text(conf.read_text().replace(
        '"booking_url": "",', '"booking_url": "https://booking.example.org/",', 1))
    output = checkout / "_readthedocs"
    venv = Path(sys.executable).parent.parent
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("READTHEDOCS", "KB_", "SPHINX"))}
    env.update(READTHEDOCS="True", READTHEDOCS_VERSION_TYPE="branch",
               READTHEDOCS_CANONICAL_URL="https://kb.example.org/en/latest/",
               READTHEDOCS_OUTPUT=str(output), READTHEDOCS_VIRTUALENV_PATH=str(venv))
    for command in readthedocs_html_commands():
        run = subprocess.run(["/bin/sh", "-c", f"PATH={venv}/bin:$PATH; {command}"],
                             cwd=checkout, env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
    html = output / "html"
    assert (html / "index.html").is_file()               # else Read the Docs fails the build
    assert not (checkout / "_build/html").exists()        # ... and this too
    # the whole site, as `make html` publishes it: every article, the search index
    articles = sorted(p.stem for p in (checkout / "docs/articles").glob("*.md"))
    assert articles and all((html / "articles" / f"{a}.html").is_file() for a in articles)
    assert (html / "pagefind/pagefind-entry.json").is_file()
    page = (html / "articles/anxiety.html").read_text()
    assert '<link rel="canonical" href="https://kb.example.org/en/latest/articles/anxiety.html"' \
        in page
    # then the book (formats: [epub]), by Read the Docs' own command (backends/sphinx.py,
    # BaseSphinx.build: run in the folder of conf.py), beside the website
    assert yaml.safe_load((REPO / ".readthedocs.yaml").read_text())["formats"] == ["epub"]
    epub = subprocess.run(
        ["/bin/sh", "-c", f"PATH={venv}/bin:$PATH; python -m sphinx -T -W --keep-going -b epub "
         f'-d _build/doctrees -D language=en . "$READTHEDOCS_OUTPUT/epub"'],
        cwd=checkout / "docs", env=env, capture_output=True, text=True)
    assert epub.returncode == 0, epub.stdout + epub.stderr
    assert len(list((output / "epub").glob("*.epub"))) == 1
    assert (html / "index.html").is_file() and not (checkout / "_build/html").exists()
    # nothing of the build's working folders is uploaded: Read the Docs uploads only its
    # formats' folders (html, json, htmlzip, pdf, epub)
    uploaded = {p.name for p in output.iterdir() if p.name in
                ("html", "json", "htmlzip", "pdf", "epub")}
    assert uploaded == {"html", "epub"}
    assert not any(p.name.startswith(".") and p.name != ".buildinfo" for p in html.iterdir())


def test_failed_build_keeps_the_last_good_site(tmp_path):
    repo = copy_repository(tmp_path / "repo")
    good = run_make(repo, "html")
    assert good.returncode == 0, good.stdout + good.stderr
    published = repo / "_build/html/articles/anxiety.html"
    before = published.read_bytes()

    article = repo / "docs/articles/anxiety.md"
    article.write_text(article.read_text().replace("topics: [anxiety]", "topics: [anxeity]")
                       .replace("# Anxiety", "# Anxiety changed", 1))
    bad = run_make(repo, "html")
    assert bad.returncode != 0
    assert "unknown topic 'anxeity'" in bad.stderr
    assert "Build failed: the published site in _build/html is unchanged." in bad.stdout
    assert published.read_bytes() == before
    assert not (repo / "_build/doctrees/environment.pickle").exists()

    # the next build reads every page again, so the problem is shown again
    again = run_make(repo, "html")
    assert again.returncode != 0 and "unknown topic 'anxeity'" in again.stderr
    assert published.read_bytes() == before
