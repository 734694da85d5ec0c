"""The catalogue of writer mistakes: each is caught by the build with a clear message at
its file and line, the build fails, and a file with several mistakes lists them all.

Front-matter and citation mistakes of the catalogue have their own detailed tests in
test_frontmatter.py and test_citations.py; they are listed here too, by their first line,
so the catalogue is complete in one place.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from helpers import DOCS, lay_root, warnings_of

RAW_HTML = ("raw HTML is not allowed in a page (it could run code in readers' browsers, cover "
            "the crisis notice or send readers elsewhere): write Markdown instead "
            "[kb.not-allowed]")

# libyaml's words where PyYAML has it (kb/datafiles.py uses it), else PyYAML's own
LIBYAML_HERE = "in this context" if yaml.__with_libyaml__ else "here"

CATALOGUE = [
    # (root, expected warning lines)
    ("frontmatter_malformed-yaml", ["articles/bad.md:2: WARNING: front matter is not valid "
     "YAML: mapping values are not allowed " + LIBYAML_HERE + " (check quotes, colons and indentation; a "
     "value with a colon needs quotes) [kb.frontmatter]"]),
    ("frontmatter_unknown-key", ["articles/bad.md:5: WARNING: unknown front-matter key "
     "'topic' (did you mean 'topics'? allowed keys: title, description, topics, author, "
     "published, updated, last_reviewed, next_review, reviewed_by, content_note, status, "
     "quick_exit) [kb.frontmatter]"]),
    ("frontmatter_bad-date", ["articles/bad.md:7: WARNING: 'updated' is not a valid date: "
     "'2026-13-45' (write it as YYYY-MM-DD, e.g. 2026-11-29) [kb.frontmatter]"]),
    ("frontmatter_review-order", ["articles/bad.md:9: WARNING: 'next_review' (2025-12-01) "
     "must be after 'last_reviewed' (2026-01-10) [kb.frontmatter]"]),
    ("frontmatter_unknown-topic", ["articles/bad.md:4: WARNING: unknown topic 'greif' (did "
     "you mean 'grief'? known topics: grief, anxiety; add new topics to "
     "docs/_data/topics.yaml) [kb.frontmatter]"]),
    ("frontmatter_unknown-author", ["articles/bad.md:5: WARNING: unknown author 'dr-smith' "
     "(known authors: editorial-team; authors are listed in docs/_data/authors.yaml) "
     "[kb.frontmatter]"]),
    ("citations_unknown-key", [
        "articles/bad.md:15: WARNING: unknown citation key 'rogers1975necessary' (did you "
        "mean 'rogers1957necessary'? add the work to references.bib, or fix the key) "
        "[kb.citation]",
        "articles/bad.md:17: WARNING: unknown citation key 'smith2020nothing' (add the work "
        "to references.bib, or fix the key) [kb.citation]"]),
    ("mistake_bib-duplicate-key", ["refs.bib:50: WARNING: duplicate key "
     "'rogers1957necessary' (first defined on line 1); give each work one entry [kb.bib]"]),
    ("mistake_bib-syntax", ["refs.bib:53: WARNING: the value of 'title' is not closed: a '}' "
     "is missing before the field on line 54; balance the braces [kb.bib]"]),
    ("mistake_bib-missing-field", ["refs.bib:50: WARNING: @article 'nojournal2020entry' has "
     "no 'journal' field (required for APA); add the journal's name: journal = "
     "{Psychotherapy Research} (BibLaTeX: journaltitle) [kb.bib]"]),
    ("mistake_bib-bad-doi", ["refs.bib:55: WARNING: doi 'https://doi.org/10.1000/xyz' "
     "is written as a link; write doi = {10.1000/xyz} (the site makes the https://doi.org/ "
     "link itself) [kb.bib]"]),
    ("mistake_broken-link", ["articles/bad.md:13: WARNING: 'myst' cross-reference target "
     "not found: 'missing-article.md' [myst.xref_missing]"]),
    ("mistake_missing-image", ["articles/bad.md:15: WARNING: image file not readable: "
     "articles/lake.png [image.not_readable]"]),
    ("mistake_duplicate-slug", [
        "articles/Grief-Guide.md:1: WARNING: article file name 'Grief-Guide' is not a slug: "
        "rename it to 'grief-guide.md' (lowercase words joined by hyphens) [kb.slug]",
        "articles/grief-guide.md:1: WARNING: duplicate article slug: 'articles/grief-guide' "
        "and 'articles/Grief-Guide' differ only in capitals; keep one file and rename or "
        "delete the other [kb.slug]"]),
    ("mistake_bad-filename", ["articles/My Article.md:1: WARNING: article file name 'My "
     "Article' is not a slug: rename it to 'my-article.md' (lowercase words joined by "
     "hyphens) [kb.slug]"]),
    ("mistake_non-utf8", ["articles/bad.md:13: WARNING: the file is not UTF-8 text (byte "
     "0xe9 at this line); save it as UTF-8 in your editor [kb.encoding]"]),
    ("mistake_empty-article", ["articles/bad.md:1: WARNING: the article has no text yet: "
     "write at least a paragraph, or set 'status: draft' while you work on it [kb.empty]"]),
    ("mistake_not-in-toctree", ["stray.md: WARNING: document isn't included in any toctree "
     "[toc.not_included]"]),
    # raw HTML is refused as a node of the parsed page (kb/allowlist.py) and removed, so
    # the Content-Security-Policy check has nothing left to report
    ("mistake_script-tag", ["articles/bad.md:15: WARNING: " + RAW_HTML]),
    ("mistake_event-handler", ["articles/bad.md:13: WARNING: " + RAW_HTML]),
    ("mistake_javascript-link", ["articles/bad.md:13: WARNING: 'javascript:' links are not "
     "allowed: link to a page of the site or an https:// address [kb.not-allowed]"]),
    ("mistake_heading-skip", ["articles/bad.md:19: WARNING: heading level skipped (H2 to "
     "H4); use ### here [kb.heading]"]),
    ("mistake_second-title", ["articles/bad.md:15: WARNING: a second '# ' heading: an "
     "article has one title; use '## ' for sections [kb.heading]"]),
    ("mistake_unsafe-phrase", ["articles/bad.md:13: WARNING: 'committed suicide' goes "
     "against safe-messaging guidance: say 'died by suicide' or 'ended their life' "
     "[kb.safe-messaging]"]),
    ("mistake_no-references", ["articles/bad.md:13: WARNING: the article cites sources but "
     "has no reference list: end it with '## References' and a ```{references}``` block "
     "[kb.references]"]),
]


def test_the_catalogue_has_at_least_twenty_mistakes():
    assert len(CATALOGUE) >= 20


@pytest.mark.parametrize("root, expected", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_each_mistake_is_reported_at_its_file_and_line(build_root, root, expected):
    app = build_root(root)
    assert warnings_of(app) == expected


def test_a_file_with_several_mistakes_lists_them_all(build_root):
    app = build_root("mistake_many")
    assert warnings_of(app) == [
        "articles/bad.md:4: WARNING: unknown front-matter key 'topik' (did you mean "
        "'topics'? allowed keys: title, description, topics, author, published, updated, "
        "last_reviewed, next_review, reviewed_by, content_note, status, quick_exit) "
        "[kb.frontmatter]",
        "articles/bad.md:14: WARNING: 'committed suicide' goes against safe-messaging "
        "guidance: say 'died by suicide' or 'ended their life' [kb.safe-messaging]",
        "articles/bad.md:18: WARNING: heading level skipped (H2 to H4); use ### here "
        "[kb.heading]",
        "articles/bad.md:20: WARNING: 'javascript:' links are not allowed: link to a page "
        "of the site or an https:// address [kb.not-allowed]",
    ]


EXPECTED_COUNT = {"mistake_many": 4, "mistake_bib-syntax": 1, "mistake_non-utf8": 1}


@pytest.mark.parametrize("root", sorted(EXPECTED_COUNT))
def test_the_build_exits_non_zero_after_listing_every_problem(tmp_path, root):
    src = lay_root(tmp_path / root, root)
    env = {**os.environ, "PYTHONPATH": str(DOCS / "_ext")}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-n", "-W", "--keep-going", "-q",
         str(src), str(tmp_path / "out")], capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "WARNING:" in line]
    assert len(warnings) == EXPECTED_COUNT[root], result.stderr


def test_bib_problems_are_reported_again_on_a_rebuild_with_no_change(build_root, tmp_path):
    src = lay_root(tmp_path / "again", "mistake_bib-duplicate-key")
    first = build_root(None, srcdir=src)
    second = build_root(None, srcdir=src, freshenv=False)
    expected = ["refs.bib:50: WARNING: duplicate key 'rogers1957necessary' (first defined on "
                "line 1); give each work one entry [kb.bib]"]
    assert warnings_of(first) == expected
    assert warnings_of(second) == expected
