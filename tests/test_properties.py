"""Property-based: whatever a writer puts in front matter or references.bib, the build
ends with a clean result or clear located messages, never a traceback."""

from __future__ import annotations

import re
import shutil

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import lay_root, warnings_of
from kb.frontmatter import ARTICLE_KEYS

MESSAGE = re.compile(r"^\S.*?(:\d+)?: WARNING: .+ \[[a-z]+\.[a-z_-]+\]$")

values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=30),
    st.dates().map(str), st.lists(st.text(max_size=10), max_size=3),
    st.sampled_from(["grief", "anxiety", "draft", "published", "editorial-team",
                     "2026-01-10", "2030-13-01", "[unclosed", "a: b: c"]),
)
front_matter = st.one_of(
    st.dictionaries(st.sampled_from(sorted(ARTICLE_KEYS) + ["topik", "x"]), values,
                    max_size=12).map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
    st.text(max_size=200),
)
bib_text = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["@article{", "@article{a,", "@article{k2020x, title = {A", "}",
                     "@book{b2020x, author = {A, B}, year = 2020}", "doi = {x}", "@@@",
                     "@techreport{t2020x, author = {{Group}}, title = {T}}"]),
)
SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def check(app) -> None:
    warnings = warnings_of(app)
    for line in warnings:
        assert MESSAGE.match(line), line
        assert "[kb.internal]" not in line, line  # an internal error is our bug


@SETTINGS
@given(front_matter)
def test_random_front_matter_never_crashes(build_root, tmp_path_factory, fm):
    src = lay_root(tmp_path_factory.mktemp("fm") / "p", None)
    (src / "articles/random.md").write_text(f"---\n{fm}\n---\n\n# Random\n\nSome text.\n",
                                            encoding="utf-8")
    check(build_root(None, srcdir=src))
    shutil.rmtree(src)


@SETTINGS
@given(bib_text)
def test_random_bib_text_never_crashes(build_root, tmp_path_factory, extra):
    src = lay_root(tmp_path_factory.mktemp("bib") / "p", None)
    with (src / "refs.bib").open("a", encoding="utf-8") as bib:
        bib.write("\n" + extra + "\n")
    check(build_root(None, srcdir=src))
    shutil.rmtree(src)


yaml_pieces = st.lists(st.sampled_from([
    "a: 1\n", "- x\n", "  - y\n", "&a ", "*a", "!!str ", "!!python/name:os.system ", "[", "]",
    "{", "}", ": ", "\"\\a\"", "'", "\t", "\x07", "\ufeff", "#c\n", "key: [1, [2, [3]]]\n",
    "? k\n", "--- \n", "...\n", "|\n  text\n", ">-\n  more\n", "\\", "%YAML 1.1\n",
]), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(yaml_pieces, st.text(max_size=200)))
def test_any_yaml_text_is_read_or_refused_with_a_line(text):
    """kb.datafiles.load_yaml, which reads front matter and every data file: whatever the
    text, it returns plain data or refuses with a line inside the text, never raising
    anything else."""
    from kb.datafiles import YamlProblem, load_yaml

    try:
        load_yaml(text)
    except YamlProblem as problem:
        assert 1 <= problem.line <= text.count("\n") + 2, (problem.line, text)
        assert problem.message
