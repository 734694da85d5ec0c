"""The article library meets the bar: front matter, length, sources, reading level and
safe messaging, measured on the real articles."""

from __future__ import annotations

import re

import pytest

from helpers import DOCS, html
from kb import lint, readability
from kb.frontmatter import split_front_matter

ARTICLES = sorted((DOCS / "articles").glob("*.md"))
SPECIALTIES = {
    "therapeutic-relationship", "first-therapy-session", "choosing-a-therapist",
    "understanding-trauma", "complex-trauma", "trauma-informed-care", "anxiety",
    "self-esteem", "grief-and-loss", "couples-therapy", "family-therapy",
    "person-centered-therapy", "culturally-responsive-therapy", "strengths-based-therapy",
    "getting-help-now",
}


def test_every_specialty_has_an_article():
    assert SPECIALTIES <= {p.stem for p in ARTICLES}


@pytest.mark.parametrize("path", ARTICLES, ids=[p.stem for p in ARTICLES])
def test_article_meets_the_content_bar(path, site):
    text = path.read_text(encoding="utf-8")
    fm, _ = split_front_matter(text)
    for key in ("description", "topics", "author", "published", "updated",
                "last_reviewed", "next_review", "status"):
        assert fm.data.get(key), f"{path.name}: {key}"
    assert fm.data["author"] == "editorial-team"  # no invented person
    assert readability.word_count(text) >= 800
    assert readability.grade(text) <= 8.0
    keys = {key for _, key in lint.cited_keys(text)}
    assert len(keys) >= 3
    page = html(site, f"articles/{path.stem}.html")
    listed = {li["id"] for li in page.select("section#references li.kb-ref")}
    assert listed == {f"ref-{key}" for key in keys}  # every citation resolved and listed


@pytest.mark.parametrize("path", ARTICLES, ids=[p.stem for p in ARTICLES])
def test_no_phrase_that_safe_messaging_guidance_rules_out(path):
    text = path.read_text(encoding="utf-8")
    assert lint.check_safe_messaging(text) == []
    for phrase in ("committed suicide", "successful suicide", "failed attempt",
                   "completed suicide", "unsuccessful attempt", "suicide epidemic"):
        assert phrase not in text.lower()


@pytest.mark.parametrize("path", ARTICLES, ids=[p.stem for p in ARTICLES])
def test_suicide_is_never_mentioned_without_a_crisis_resource_and_a_note(path):
    text = path.read_text(encoding="utf-8")
    body = text.split("\n---\n", 1)[1]
    if re.search(r"\bsuicid", body, re.I):
        assert "988" in body, path.name
        fm, _ = split_front_matter(text)
        assert "suicide" in fm.data.get("content_note", "").lower(), path.name


def test_the_readability_scorer_removes_everything_but_body_prose():
    text = ("---\ntitle: T\n---\n\n# A very long heading with extraordinarily complicated "
            "words\n\nA cat sat. {cite:p}`rogers1957necessary`\n\n- an item in a list that "
            "is long\n\n```{references}\n```\n\nA [dog](other.md) ran.\n")
    assert readability.body_prose(text) == "A cat sat.\n\nA dog ran."
    assert readability.word_count(text) == 6


def test_reading_time_counts_the_words_outside_the_references_section(site):
    """_body_words: the words of every paragraph but those inside a section whose ids
    hold 'references' (checked against a walk up each paragraph's ancestors)."""
    from docutils import nodes

    from kb import articles

    def by_ancestors(doctree):
        words = 0
        for para in doctree.findall(nodes.paragraph):
            node, inside = para.parent, False
            while node is not None:
                inside |= isinstance(node, nodes.section) and "references" in node["ids"]
                node = node.parent
            if not inside:
                words += len(para.astext().split())
        return words

    counted = 0
    for docname in sorted(site.env.found_docs):
        doctree = site.env.get_doctree(docname)
        assert articles._body_words(doctree) == by_ancestors(doctree), docname
        counted += bool(doctree.next_node(
            lambda n: isinstance(n, nodes.section) and "references" in n["ids"]))
    assert counted >= 15  # every article has its references section
