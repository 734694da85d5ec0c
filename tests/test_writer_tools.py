"""make new and make check: what a writer types, and what they see."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import DOCS, REPO, copy_repository, warnings_of

TODAY = "2026-11-29"


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(DOCS / "_ext")}
    return subprocess.run([sys.executable, "-m", "kb.cli", *args, "--root", str(root),
                           "--today", TODAY], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def repo_copy(tmp_path):
    """A copy of the repository's content (docs/ and references.bib)."""
    return copy_repository(tmp_path / "repo", ("references.bib",))


def test_make_new_writes_a_complete_draft_that_builds_clean(repo_copy, build_root):
    result = run_cli(repo_copy, "new", "--title", "Coping with panic attacks",
                     "--topics", "anxiety")
    assert result.returncode == 0, result.stderr
    path = repo_copy / "docs/articles/coping-with-panic-attacks.md"
    text = path.read_text()
    assert text.startswith('---\ntitle: "Coping with panic attacks"\n')
    for line in ("topics: [anxiety]", "author: editorial-team", f"published: {TODAY}",
                 f"updated: {TODAY}", f"last_reviewed: {TODAY}", "next_review: 2029-11-29",
                 "status: draft", "## References", "```{references}"):
        assert line in text
    app = build_root(None, srcdir=repo_copy / "docs")
    assert warnings_of(app) == []
    assert app.env.kb_articles["articles/coping-with-panic-attacks"].is_draft


def test_make_new_refuses_to_overwrite(repo_copy):
    first = run_cli(repo_copy, "new", "--title", "Coping with panic", "--topics", "anxiety")
    assert first.returncode == 0
    path = repo_copy / "docs/articles/coping-with-panic.md"
    path.write_text(path.read_text() + "\nMy own words.\n")
    before = path.read_bytes()
    second = run_cli(repo_copy, "new", "--title", "Coping with panic", "--topics", "grief")
    assert second.returncode == 1
    assert "docs/articles/coping-with-panic.md already exists and was left untouched" in \
        second.stderr
    assert path.read_bytes() == before


def test_make_new_explains_missing_title_and_unknown_topics(repo_copy):
    no_title = run_cli(repo_copy, "new", "--title", "", "--topics", "anxiety")
    assert no_title.returncode == 2
    assert 'make new TITLE="Coping with panic" TOPICS="anxiety"' in no_title.stderr
    bad_topic = run_cli(repo_copy, "new", "--title", "X y", "--topics", "anxeity")
    assert bad_topic.returncode == 2
    assert "unknown topic(s): anxeity; choose from: therapy, trauma" in bad_topic.stderr
    assert not list((repo_copy / "docs/articles").glob("x-y.md"))


def test_make_check_passes_on_the_real_repository():
    result = run_cli(REPO, "check")
    assert result.returncode == 0, result.stdout
    assert result.stdout == ""
    assert "make check: 0 problem(s)" in result.stderr


def test_make_check_lists_every_problem_with_file_line_and_advice(repo_copy):
    article = repo_copy / "docs/articles/anxiety.md"
    lines = article.read_text().split("\n")
    topics_line = lines.index("topics: [anxiety]")
    lines[topics_line] = "topics: [anxeity]"
    article.write_text("\n".join(lines) + "\nThey said he commited suicide, teh poor man "
                       "{cite:p}`nobody2020missing`. See [x](gone.md).\n"
                       '\n<base href="https://example.com/">\n')
    last = len(lines) + 1
    (repo_copy / "references.bib").write_text(
        (repo_copy / "references.bib").read_text()
        + "\n@article{extra2020unused,\n  author = {Extra, Ann},\n  year = {2020},\n"
        "  title = {An Unused Title In Title Case},\n  journal = {J},\n  doi = {doi:10.1/x},\n}\n")
    result = run_cli(repo_copy, "check")
    assert result.returncode == 1
    out = result.stdout.splitlines()
    assert (f"docs/articles/anxiety.md:{topics_line + 1}: unknown topic 'anxeity' (did you mean 'anxiety'? "
            "known topics: therapy, trauma, anxiety, depression, self-esteem, grief, relationships, "
            "families, approaches, crisis; add new topics to docs/_data/topics.yaml)") in out
    assert (f"docs/articles/anxiety.md:{last}: unknown citation key 'nobody2020missing' (add "
            "the work to references.bib, or fix the key)") in out
    assert (f"docs/articles/anxiety.md:{last}: link target 'gone.md' does not exist (check "
            "the file name; article links look like 'other-article.md')") in out
    assert (f"docs/articles/anxiety.md:{last}: spelling: 'teh' may be a misspelling of the "
            "(fix it, or add the word to docs/_data/wordlist.txt)") in out
    # raw HTML the line-based check did not know (it looked for five tag names)
    assert (f"docs/articles/anxiety.md:{last + 2}: raw HTML is not allowed in a page (it "
            "could run code in readers' browsers, cover the crisis notice or send readers "
            "elsewhere): write Markdown instead") in out
    assert any(line.startswith("references.bib:") and "title looks like Title Case" in line
               for line in out)
    assert any(line.startswith("references.bib:") and "doi 'doi:10.1/x'" in line
               for line in out)
    assert any("note: 'extra2020unused' is not cited by any article" in line for line in out)
    where = [(line.split(":")[0], int(line.split(":")[1])) for line in out]
    assert where == sorted(where)  # by file, then line


def test_make_check_names_the_hardest_sentences_when_grade_is_too_high(repo_copy):
    article = repo_copy / "docs/articles/self-esteem.md"
    text = article.read_text()
    hard = ("Notwithstanding considerable methodological heterogeneity, longitudinal "
            "investigations consistently demonstrate bidirectional associations between "
            "self-evaluative cognitions and subsequent psychopathological manifestations. ")
    body_start = text.index("\n# ") + 1
    heading_end = text.index("\n", body_start) + 1
    article.write_text(text[:heading_end] + "\n" + hard * 60 + "\n" + text[heading_end:])
    result = run_cli(repo_copy, "check", "--no-spelling")
    assert result.returncode == 1
    grade_lines = [l for l in result.stdout.splitlines() if "reading grade" in l]
    assert len(grade_lines) == 1
    assert grade_lines[0].startswith("docs/articles/self-esteem.md:1: reading grade ")
    assert "is above the target 8; shorten these sentences: line " in grade_lines[0]
    assert "Notwithstanding considerable" in grade_lines[0]


def test_make_check_flags_overdue_and_soon_due_reviews(repo_copy):
    late = run_cli(repo_copy, "check", "--no-spelling")
    assert late.returncode == 0
    env = {**os.environ, "PYTHONPATH": str(DOCS / "_ext")}
    soon = subprocess.run([sys.executable, "-m", "kb.cli", "check", "--no-spelling", "--root",
                           str(repo_copy), "--today", "2027-10-15"], capture_output=True,
                          text=True, env=env)
    assert soon.returncode == 0
    # therapeutic-relationship.md: next_review 2027-11-29 (line 9)
    assert ("docs/articles/therapeutic-relationship.md:9: note: review due on 2027-11-29 "
            "(in 45 days)") in \
        soon.stdout.splitlines()
    overdue = subprocess.run([sys.executable, "-m", "kb.cli", "check", "--no-spelling",
                              "--root", str(repo_copy), "--today", "2028-01-01"],
                             capture_output=True, text=True, env=env)
    assert overdue.returncode == 1
    assert ("docs/articles/therapeutic-relationship.md:9: review overdue since 2027-11-29: "
            "review the article "
            "against its sources, then update last_reviewed and next_review") in \
        overdue.stdout.splitlines()


def test_make_livehtml_serves_a_live_preview_with_drafts(repo_copy):
    """The live preview builds the site, serves it on loopback, shows drafts with their
    banner, and injects the reload script."""
    import socket
    import time
    import urllib.request

    for name in ("Makefile", "requirements.txt", "requirements-writer.txt",
                 "requirements-test.txt"):
        shutil.copy2(REPO / name, repo_copy / name)
    made = run_cli(repo_copy, "new", "--title", "A draft in progress", "--topics", "grief")
    assert made.returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    venv = Path(sys.executable).parent.parent
    server = subprocess.Popen(
        ["make", "livehtml", f"VENV={venv}", f"LIVE_PORT={port}"],
        cwd=repo_copy, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/articles/a-draft-in-progress.html"
        deadline = time.monotonic() + 240
        page = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                page = urllib.request.urlopen(url, timeout=5).read().decode()
                break
            except OSError:
                time.sleep(1)
        assert page is not None, "live preview did not start"
        assert 'class="kb-draft-banner"' in page
        assert "/websocket-reload" in page  # the reload script is injected ...
        # ... and the page's Content-Security-Policy lets exactly that script run
        from bs4 import BeautifulSoup
        from kb.csp import inline_scripts, sha256
        policy = BeautifulSoup(page, "lxml").select_one(
            'meta[http-equiv="Content-Security-Policy"]')["content"]
        reload_script = [s for s in inline_scripts(page) if "websocket-reload" in s]
        assert len(reload_script) == 1 and sha256(reload_script[0]) in policy
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def test_make_check_offers_the_certain_fixes_of_an_exported_entry(repo_copy):
    """A Google Scholar-style export: a DOI written as a link is an error with the exact
    fix; a sentence-case journal name is a note with its title-cased name."""
    bib = repo_copy / "references.bib"
    start = bib.read_text().count("\n") + 2  # the line of the new entry's header
    bib.write_text(bib.read_text() + (
        "\n@article{cicchetti1994guidelines,\n"
        "  title={Guidelines, criteria, and rules of thumb for evaluating normed and "
        "standardized assessment instruments in psychology},\n"
        "  author={Cicchetti, Domenic V},\n"
        "  journal={Psychological assessment},\n"
        "  volume={6},\n  number={4},\n  pages={284},\n  year={1994},\n"
        "  publisher={American Psychological Association},\n"
        "  doi={https://doi.org/10.1037/1040-3590.6.4.284}\n}\n"))
    result = run_cli(repo_copy, "check", "--no-spelling")
    assert result.returncode == 1
    out = result.stdout.splitlines()
    assert f"references.bib:{start}: note: 'cicchetti1994guidelines' is not cited" in \
        result.stdout
    assert (f"references.bib:{start + 3}: note: journal name 'Psychological assessment' is in "
            "sentence case; APA writes journal names in title case: journal = {Psychological "
            "Assessment} (Google Scholar and some publishers export it in sentence case)") in out
    assert (f"references.bib:{start + 9}: doi 'https://doi.org/10.1037/1040-3590.6.4.284' "
            "is written as a link; write doi = {10.1037/1040-3590.6.4.284} (the site makes "
            "the https://doi.org/ link itself)") in out
