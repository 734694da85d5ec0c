"""Front matter: every problem reported with file:line, in one place, failing the build."""

from __future__ import annotations

import pytest
import yaml

from helpers import html, warnings_of

W = "articles/bad.md:{line}: WARNING: {msg} [kb.frontmatter]"


@pytest.mark.parametrize("case, line, message", [
    ("unknown-key", 5, "unknown front-matter key 'topic' (did you mean 'topics'? allowed "
                       "keys: title, description, topics, author, published, updated, "
                       "last_reviewed, next_review, reviewed_by, content_note, status, "
                       "quick_exit)"),
    ("bad-date", 7, "'updated' is not a valid date: '2026-13-45' (write it as YYYY-MM-DD, "
                    "e.g. 2026-11-29)"),
    ("review-order", 9, "'next_review' (2025-12-01) must be after 'last_reviewed' "
                         "(2026-01-10)"),
    ("review-too-late", 9, "'next_review' (2030-01-11) is more than 3 years after "
                            "'last_reviewed' (2026-01-10); set it to 2029-01-10 or earlier"),
    ("unknown-topic", 4, "unknown topic 'greif' (did you mean 'grief'? known topics: grief, "
                         "anxiety; add new topics to docs/_data/topics.yaml)"),
    ("unknown-author", 5, "unknown author 'dr-smith' (known authors: editorial-team; "
                          "authors are listed in docs/_data/authors.yaml)"),
    ("missing-description", 10, "front matter is missing 'description': add 'description: "
                                "...' (one or two sentences, used in listings and search "
                                "results)"),
    ("bad-status", 10, "'status' must be 'draft' or 'published', not 'live'"),
    # libyaml's words (kb/datafiles.py uses it where PyYAML has it, as its wheels do)
    ("malformed-yaml", 2, "front matter is not valid YAML: mapping values are not allowed "
                          + ("in this context" if yaml.__with_libyaml__ else "here")
                          + " (check quotes, colons and indentation; a value with a colon "
                          "needs quotes)"),
])
def test_each_front_matter_mistake_is_reported_at_its_line(build_root, case, line, message):
    app = build_root(f"frontmatter_{case}")
    assert warnings_of(app) == [W.format(line=line, msg=message)]


def test_every_problem_in_one_file_is_listed_in_line_order(build_root):
    app = build_root("frontmatter_many")
    assert warnings_of(app) == [
        W.format(line=5, msg="unknown author 'nobody' (known authors: editorial-team; "
                             "authors are listed in docs/_data/authors.yaml)"),
        W.format(line=6, msg="'published' is not a valid date: 'yesterday' (write it as "
                             "YYYY-MM-DD, e.g. 2026-11-29)"),
        W.format(line=10, msg="'status' must be 'draft' or 'published', not 'done'"),
        W.format(line=11, msg="unknown front-matter key 'tpoics' (did you mean 'topics'? "
                              "allowed keys: title, description, topics, author, published, "
                              "updated, last_reviewed, next_review, reviewed_by, "
                              "content_note, status, quick_exit)"),
    ]


def test_a_valid_article_builds_clean_and_its_metadata_is_stored(build_root):
    app = build_root(None)
    assert warnings_of(app) == []
    article = app.env.kb_articles["articles/good"]
    assert article.topics == ("grief",)
    assert str(article.next_review) == "2027-02-01"
    page = html(app, "articles/good.html")
    assert page.select_one(".kb-description").get_text() == "A short description of a good article."
    byline = " ".join(page.select_one(".kb-byline").get_text().split())
    assert "By Test editorial team" in byline
    assert "Published January 10, 2026" in byline and "Updated February 1, 2026" in byline
    assert "1 min read" in byline
    times = {t["datetime"] for t in page.select(".kb-review time")}
    assert times == {"2026-02-01", "2027-02-01"}
    review = " ".join(page.select_one(".kb-review").get_text().split())
    assert review == "Last reviewed February 1, 2026. Next review due February 1, 2027."
