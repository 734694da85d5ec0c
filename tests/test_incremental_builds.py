"""An incremental build equals a clean build, whatever the writer did in between.

Random sequences of the edits a writer makes (tests/project_model.py: articles and site
pages added, renamed, deleted, retitled; topics, draft status, description, citations,
a .bib field, topics.yaml and authors.yaml changed), each followed by ``make html``
(``python -m kb.build``), then compared, file by file, with a clean build of the same
sources: every page, the feed, the sitemap, the redirect pages, and the search index
decoded word by word and page by page.

``make test`` runs one sequence that makes every kind of edit once, in random order;
KB_PROPERTY_SEQUENCES=N runs N sequences (the first as before, the others of
KB_PROPERTY_LENGTH random edits each, 12 by default); KB_PROPERTY_SEED changes the seed.
"""

from __future__ import annotations

import difflib
import json
import os
import random
import shutil

import pytest

from project_model import Project, make_html, output, warnings

from kb.urls import BUILD_RECORD, read_record

SEQUENCES = int(os.environ.get("KB_PROPERTY_SEQUENCES", "1"))
LENGTH = int(os.environ.get("KB_PROPERTY_LENGTH", "12"))
SEED = int(os.environ.get("KB_PROPERTY_SEED", "14"))


def recorded(src) -> set[str]:
    return {url for _line, url in read_record(src / "_data/published-urls.txt")}


def assert_same_site(got: dict, want: dict, history: list[str]) -> None:
    assert sorted(got) == sorted(want), (
        f"after {history}: only in the incremental build: {sorted(set(got) - set(want))}; "
        f"only in the clean build: {sorted(set(want) - set(got))}")
    different = [name for name in want if got[name] != want[name]]
    diffs = []
    for name in different[:3]:
        lines = difflib.unified_diff(
            want[name].decode(errors="replace").splitlines(),
            got[name].decode(errors="replace").splitlines(),
            "clean build", "incremental build", n=1, lineterm="")
        diffs.append(f"--- {name}:\n" + "\n".join(list(lines)[:30]))
    assert different == [], (f"after {history}: these differ from a clean build: "
                              f"{different}\n" + "\n".join(diffs))


@pytest.mark.parametrize("sequence", range(SEQUENCES))
def test_incremental_builds_equal_clean_builds(tmp_path, sequence):
    rng = random.Random(SEED * 1000 + sequence)
    project = Project(rng)
    src, build = tmp_path / "src", tmp_path / "build"
    project.write(src)
    first = make_html(src, build)
    assert first.returncode == 0, first.stderr
    if sequence == 0:
        kinds = list(Project.EDITS)
        rng.shuffle(kinds)
    else:
        kinds = [rng.choice(Project.EDITS) for _ in range(LENGTH)]
    history = []
    for kind in kinds:
        history.append(getattr(project, kind)())
        project.write(src)
        result = make_html(src, build)
        assert result.returncode == 0, f"after {history}:\n{result.stderr}"
        clean_dir = tmp_path / "clean"
        shutil.rmtree(clean_dir, ignore_errors=True)
        clean = make_html(src, clean_dir)
        assert clean.returncode == 0, f"after {history}:\n{clean.stderr}"
        assert warnings(result, src) == warnings(clean, src) == []
        assert_same_site(output(build), output(clean_dir), history)
        project.recorded |= recorded(src)
    # every published page of every build was recorded, and no line was ever removed
    record = recorded(src)
    published = json.loads((build / "doctrees" / BUILD_RECORD).read_text())["published"]
    assert set(published) <= record
    assert record - set(published) <= set(project.redirects)
    assert project.recorded <= record
