"""A synthetic knowledge base of any size, for the build benchmark (benchmarks/bench.py).

``make_corpus(dest, n_articles)`` writes a complete Sphinx project in the same layout as
the repository::

    dest/references.bib          n_entries synthetic @article entries
    dest/docs/conf.py, _ext/...  the real site skeleton: everything in docs/ but articles/
    dest/docs/articles/bench-XXXX.md

``sphinx_search=False`` adds a two-line extension that sets ``app.builder.search =
False`` (no searchindex.js), to measure what Sphinx's own search index costs.

The real articles are not copied: they link to each other and cite the real
references.bib. Skeleton pages that link to real articles (crisis.md, about/index.md, and
the home page if it lists articles) get those links turned into plain text, so the corpus
builds without warnings. ``home="minimal"`` replaces the home page with a minimal one that
keeps only the real home page's hidden toctree (no listings, search box or call to action).

Everything is deterministic: article *i* and entry *i* depend only on (seed, i), so the
100-article corpus is the first 100 articles of the 500-article one. ``dest/corpus.json``
records the parameters and a fingerprint of the skeleton; a second call with the same
parameters and an unchanged skeleton returns at once, and anything else regenerates
``dest`` from scratch.

Run on its own: ``python benchmarks/corpus.py DEST N_ARTICLES [--entries 300 ...]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import hashlib
import json
import random
import re
import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"

#: Bump when the generated text changes, so existing corpora are regenerated.
GENERATOR_VERSION = 5

#: Not copied from docs/: the real articles, build output, caches.
# The record of published URLs and the redirects belong to the real site's history, not
# to a generated corpus (its build would refuse the real articles' missing pages).
SKELETON_EXCLUDE = ("articles", "_build", "__pycache__", "*.pyc", ".DS_Store",
                    "published-urls.txt", "redirects.yaml")

LOREM = """
lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt
ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco
laboris nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate
velit esse cillum fugiat nulla pariatur excepteur sint occaecat cupidatat non proident
sunt culpa qui officia deserunt mollit anim id est laborum curabitur pretium tincidunt
lacus nulla gravida orci a odio nullam varius turpis et commodo pharetra est eros
bibendum elit nec luctus magna felis sollicitudin mauris integer lectus nunc nibh
tristique vitae suscipit porta sapien mauris vehicula pellentesque habitant morbi
senectus netus malesuada fames ac turpis egestas vestibulum tortor quam feugiat vitae
ultricies eget tempor sit amet ante donec eu libero sit amet quam egestas semper aenean
ultricies mi vitae est mauris placerat eleifend leo
""".split()

SURNAMES = """
Abbott Bennett Carver Dalton Ellison Fairbanks Garner Hollis Irving Jensen Keller Lang
Mercer Norwood Osborne Prescott Quinlan Radcliffe Sutton Thornton Underwood Vance
Whitaker Yardley Ashford Brennan Calloway Donovan Everett Fletcher Gallagher Harlow
""".split()
#: Names as reference lists write them: accents in UTF-8 and as LaTeX escapes (decoded by
#: pybtex), hyphens, particles. The search index keeps each accented form apart
#: (kb/pagefind_delta.py), and the citation formatter decodes the escapes.
ACCENTED_SURNAMES = [
    "García", "Fl{\\\"u}ckiger", "Müller", "Núñez", "Søndergaard", "Łukasiewicz", "Çelik",
    "Ó Súilleabháin", "Nguyễn", "Murray-García", "Dvo{\\v{r}}{\\'a}k", "Pérez-Sánchez",
    "Jäger", "Kovačević", "Lefèvre",
]
GIVEN = """
Alice Bruno Clara Daniel Elena Felix Grace Henry Ingrid Jonas Karen Lucas Maria Nathan
Olivia Peter Rosa Samuel Tessa Victor
""".split()
JOURNALS = (
    "Journal of Lorem Studies", "Ipsum Quarterly", "Clinical Dolor Review",
    "Annals of Applied Amet", "Psychotherapy Consectetur", "Bulletin of Tempor Research",
)


def entry_key(i: int, year: int, word: str) -> str:
    return f"author{i:04d}y{year}{word}"


def _entry(seed: int, i: int) -> tuple[str, str]:
    """The key and BibTeX text of entry *i*."""
    rng = random.Random(f"entry-{seed}-{i}")
    year = rng.randint(1980, 2024)
    title_words = rng.sample(LOREM, rng.randint(5, 10))
    key = entry_key(i, year, title_words[0])
    # A few distinct author lists recur, so some works share authors and year and get
    # APA year suffixes (2014a, 2014b): that code path runs too.
    surnames = SURNAMES + ACCENTED_SURNAMES
    authors = [f"{rng.choice(surnames)}, {rng.choice(GIVEN)} {chr(65 + rng.randrange(26))}."
               for _ in range(rng.choice((1, 1, 2, 3, 4)))]
    title = " ".join(title_words).capitalize()
    if rng.random() < 0.3:
        title += ": " + " ".join(rng.sample(LOREM, 4))
    first = rng.randint(1, 400)
    fields = [
        ("author", " and ".join(authors)),
        ("year", str(year)),
        ("title", title),
        ("journal", rng.choice(JOURNALS)),
        ("volume", str(rng.randint(1, 80))),
        ("number", str(rng.randint(1, 12))),
        ("pages", f"{first}--{first + rng.randint(5, 30)}"),
        ("doi", f"10.5555/bench.{i:04d}"),
    ]
    body = ",\n".join(f"  {name:<7} = {{{value}}}" for name, value in fields)
    return key, f"@article{{{key},\n{body}\n}}\n"


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(LOREM) for _ in range(rng.randint(8, 16))]
    text = " ".join(words)
    if rng.random() < 0.15:
        cut = rng.randint(3, len(words) - 3)
        text = " ".join(words[:cut]) + ", " + " ".join(words[cut:])
    return text[0].upper() + text[1:]


def _paragraph(rng: random.Random, target_words: int) -> list[str]:
    sentences, count = [], 0
    while count < target_words - 6:  # a sentence averages 12 words
        sentence = _sentence(rng)
        sentences.append(sentence)
        count += len(sentence.split())
    return sentences


def _list_items(rng: random.Random, sentences: list[str]) -> list[str]:
    """3-5 list items made of *sentences* (every sentence kept: they carry citations)."""
    n = min(len(sentences), rng.randint(3, 5))
    cuts = sorted(rng.sample(range(1, len(sentences)), n - 1)) if n > 1 else []
    return [". ".join(sentences[a:b]) + "."
            for a, b in zip([0, *cuts], [*cuts, len(sentences)])]


def _head(title: str, description: str, topics: list[str], dates: dict,
          ascii_only: bool = False) -> list[str]:
    """An article's front matter and title, as lines."""
    return [
        "---",
        f"title: {json.dumps(title, ensure_ascii=ascii_only)}",
        f"description: {json.dumps(description, ensure_ascii=ascii_only)}",
        f"topics: [{', '.join(topics)}]",
        "author: editorial-team",
        *(f"{k}: {v.isoformat()}" for k, v in dates.items()),
        "status: published",
        "---",
        "",
        f"# {title}",
        "",
    ]


def _article(seed: int, i: int, keys: list[str], topics: list[str], cites: int,
             words: int) -> tuple[str, list[str]]:
    """The Markdown of article *i* and the keys it cites, in order of first citation."""
    rng = random.Random(f"article-{seed}-{i}")
    title = f"Bench article {i:04d}: " + " ".join(rng.sample(LOREM, 3))
    description = _sentence(rng) + ". " + _sentence(rng) + "."
    chosen_topics = rng.sample(topics, min(len(topics), rng.choice((1, 1, 2))))
    published = dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(2500))
    updated = published + dt.timedelta(days=rng.choice((0, 0, rng.randrange(1, 300))))
    dates = {"published": published, "updated": updated, "last_reviewed": updated,
             "next_review": updated + dt.timedelta(days=365)}
    cited = [keys[j % len(keys)] for j in rng.sample(range(max(len(keys), cites)), cites)]

    n_paragraphs = max(1, round(words / 80))
    paragraphs = [_paragraph(rng, words // n_paragraphs) for _ in range(n_paragraphs)]
    # Spread the citations evenly; each goes at the end of a sentence.
    for c, key in enumerate(cited):
        para = paragraphs[int((c + 0.5) * n_paragraphs / max(cites, 1))]
        s = rng.randrange(len(para))
        para[s] += f" {{cite:p}}`{key}`"

    lines = _head(title, description, chosen_topics, dates, ascii_only=True)
    intro = min(2, n_paragraphs)
    admonition_at = rng.randrange(intro, n_paragraphs) if n_paragraphs > intro else -1
    for p, para in enumerate(paragraphs):
        if p >= intro and (p - intro) % 3 == 0:
            heading = " ".join(rng.sample(LOREM, 3)).capitalize()
            lines += [f"## Part {(p - intro) // 3 + 1}: {heading}", ""]
        if p == admonition_at:
            # One admonition per article, like a "note" or "tip" box in the real ones.
            kind = rng.choice(("note", "tip", "important"))
            lines += [f"```{{{kind}}}", ". ".join(para) + ".", "```", ""]
        elif p >= intro and (p - intro) % 3 == 1:
            # A bulleted list in every section: a lead-in sentence, then 3-5 short items.
            lines += [para[0] + ":", ""]
            lines += [f"- {item}" for item in _list_items(rng, para[1:] or ["Lorem ipsum"])]
            lines += [""]
        else:
            lines += [". ".join(para) + ".", ""]
    lines += ["## References", "", "```{references}", "```", ""]
    return "\n".join(lines), list(dict.fromkeys(cited))


# -- Articles made of the real articles' text ---------------------------------------------

_CITE = re.compile(r"\{cite:(\w+)\}`([^`]*)`")
_LOCAL_LINK = re.compile(r"\[([^\]]+)\]\(([a-z0-9-]+)\.md\)")
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)])\.(?=\s|$)")


def real_pool(articles: Path) -> dict:
    """The real articles' text, cut into blocks: titles, descriptions, ``##`` headings,
    paragraphs and lists (each block as written, with its citations and links)."""
    pool = {"titles": [], "descriptions": [], "headings": [], "paragraphs": [], "lists": []}
    for path in sorted(articles.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        _, front, body = text.split("---", 2)
        meta = yaml.safe_load(front)
        pool["titles"].append(str(meta["title"]))
        pool["descriptions"].append(str(meta["description"]))
        for block in re.split(r"\n\s*\n", body):
            block = block.strip()
            if not block or block.startswith(("# ", "```", ":::", "(", "<", "|")):
                continue
            if block.startswith("## "):
                if block[3:].strip() != "References":
                    pool["headings"].append(block[3:].strip())
            elif block.startswith("- ") or re.match(r"\d+\. ", block):
                pool["lists"].append(block)
            elif not block.startswith("#") and "{" not in _CITE.sub("", block):
                pool["paragraphs"].append(block)
    if not pool["paragraphs"] or not pool["headings"]:
        raise RuntimeError(f"{articles}: no real articles to make the corpus from")
    return pool


def _cite(rng: random.Random, role: str, target: str, pick) -> str:
    """A citation of the real text with other works: the same role, pre- and post-text
    kept, as many works as it had."""
    pre = re.match(r"\{([^}]*)\}", target)
    post = re.search(r"\{([^}]*)\}$", target)
    core = target[pre.end() if pre else 0: post.start() if post else len(target)]
    keys = ",".join(pick() for _ in core.split(","))
    return (f"{{cite:{role}}}`" + (f"{{{pre.group(1)}}}" if pre else "") + keys
            + (f"{{{post.group(1)}}}" if post else "") + "`")


def _real_article(seed: int, i: int, keys: list[str], real_keys: list[str],
                  topics: list[str], cites: int, words: int, pool: dict
                  ) -> tuple[str, list[str]]:
    """Article *i* made of the real articles' paragraphs, lists and headings: their
    citations point to works of the corpus's references.bib (the real works more
    often), their links to earlier articles of the corpus; citations are added to reach
    *cites*, a few with several works or pre- and post-text; one paragraph is an
    admonition."""
    rng = random.Random(f"real-article-{seed}-{i}")
    # a few hundred distinct works site-wide; an article cites a dozen, some repeatedly
    own = rng.sample(real_keys, min(len(real_keys), 4)) + rng.sample(keys, min(len(keys), 8))
    cited: list[str] = []

    def pick() -> str:
        cited.append(rng.choice(own))
        return cited[-1]

    def link(match: re.Match) -> str:
        if i == 0:
            return match.group(1)
        return f"[{match.group(1)}](bench-{rng.randrange(i):04d}.md)"

    def rewrite(block: str) -> str:
        block = _CITE.sub(lambda m: _cite(rng, m.group(1), m.group(2), pick), block)
        return _LOCAL_LINK.sub(link, block)

    title = f"Bench article {i:04d}: {rng.choice(pool['titles'])}"
    description = rng.choice(pool["descriptions"])
    chosen_topics = rng.sample(topics, min(len(topics), rng.choice((1, 1, 2))))
    published = dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(2500))
    updated = published + dt.timedelta(days=rng.choice((0, 0, rng.randrange(1, 300))))
    dates = {"published": published, "updated": updated, "last_reviewed": updated,
             "next_review": updated + dt.timedelta(days=365)}

    # Sections: a heading, then paragraphs and now and then a list, to about *words*.
    sections: list[list[str]] = [[]]
    headings = [rng.choice(pool["headings"])]
    count = 0
    while count < words:
        if count and len(sections[-1]) >= rng.randint(3, 5):
            sections.append([])
            headings.append(rng.choice(pool["headings"]))
        kind = "lists" if rng.random() < 0.2 else "paragraphs"
        block = rewrite(rng.choice(pool[kind]))
        sections[-1].append(block)
        count += len(block.split())
    if i:  # a link to an earlier article, as the real ones have
        sections[0].append(f"You can also read [an earlier article](bench-{rng.randrange(i):04d}.md).")

    # More citations, at the end of sentences of the paragraphs, up to *cites*.
    paragraphs = [(s, b) for s, blocks in enumerate(sections) for b, text in enumerate(blocks)
                  if not text.startswith(("- ", "1. "))]
    marks = sum(len(_CITE.findall(block)) for blocks in sections for block in blocks)
    while marks < cites and paragraphs:
        s, b = rng.choice(paragraphs)
        inside = [m.span() for m in _CITE.finditer(sections[s][b])]  # not in a citation
        ends = [m.start() for m in _SENTENCE_END.finditer(sections[s][b])
                if not any(a <= m.start() < z for a, z in inside)]
        if not ends:
            paragraphs.remove((s, b))
            continue
        at = rng.choice(ends)
        roll = rng.random()
        if roll < 0.06:
            mark = f"{{cite:p}}`{pick()},{pick()}`"
        elif roll < 0.12:
            mark = f"{{cite:p}}`{{see}}{pick()}{{p. {rng.randint(2, 400)}}}`"
        else:
            mark = f"{{cite:p}}`{pick()}`"
        text = sections[s][b]
        sections[s][b] = f"{text[:at]} {mark}{text[at:]}"
        marks += 1

    lines = _head(title, description, chosen_topics, dates)
    admonition = rng.randrange(1, len(sections)) if len(sections) > 1 else -1
    for s, blocks in enumerate(sections):
        if s:
            lines += [f"## {headings[s]}", ""]
        for b, block in enumerate(blocks):
            if s == admonition and b == 0 and not block.startswith(("- ", "1. ")):
                kind = rng.choice(("note", "tip", "important"))
                lines += [f"```{{{kind}}}", block, "```", ""]
            else:
                lines += [block, ""]
    lines += ["## References", "", "```{references}", "```", ""]
    return "\n".join(lines), list(dict.fromkeys(cited))


_ARTICLE_LINK = re.compile(r"\[([^\]]+)\]\((?:\.\./)*articles/[^)]*\)")


def _unlink_articles(text: str) -> str:
    """``[text](../articles/x.md)`` -> ``text``: the real articles are not in the corpus."""
    return _ARTICLE_LINK.sub(r"\1", text)


def _home_page(source: Path) -> str:
    """A minimal home page with the real home page's toctree (read from docs/index.md)."""
    real = (source / "index.md").read_text(encoding="utf-8")
    toctrees = re.findall(r"^```\{toctree\}.*?^```[ \t]*$", real, re.M | re.S)
    if not toctrees:
        raise RuntimeError("docs/index.md has no ```{toctree} block to copy")
    return "\n".join([
        "---",
        "title: Benchmark knowledge base",
        "description: A generated corpus for measuring build time and memory.",
        "---",
        "",
        "# Benchmark knowledge base",
        "",
        "A generated corpus. The articles are reached through their own pages.",
        "",
        *(block + "\n" for block in toctrees),
    ])


def _skeleton_files(source: Path) -> list[Path]:
    def excluded(path: Path) -> bool:
        return any(fnmatch.fnmatch(part, pattern) for part in path.relative_to(source).parts
                   for pattern in SKELETON_EXCLUDE)

    return [p for p in sorted(source.rglob("*")) if p.is_file() and not excluded(p)]


def snapshot_skeleton(dest: Path, source: Path = DOCS) -> Path:
    """Copy the skeleton of *source* to *dest* (replacing it), so that several corpora
    can be made from one version of a docs/ that is being edited meanwhile."""
    if dest.exists():
        shutil.rmtree(dest)
    for path in _skeleton_files(source):
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return dest


def skeleton_fingerprint(source: Path = DOCS) -> str:
    digest = hashlib.sha256()
    for path in _skeleton_files(source):
        digest.update(str(path.relative_to(source)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


NO_SPHINX_SEARCH = '''"""Benchmark only: no searchindex.js (what the site's own search needs)."""


def _off(app):
    app.builder.search = False


def setup(app):
    app.connect("builder-inited", _off)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
'''


def make_corpus(dest: Path, n_articles: int, n_entries: int = 300,
                cites_per_article: int = 24, words: int = 1200, seed: int = 0,
                home: str = "real", source: Path = DOCS, sphinx_search: bool = True,
                text: str = "real", articles_source: Path = DOCS / "articles") -> dict:
    """Write (or reuse) the corpus in *dest*; return its manifest.

    The skeleton is read from *source* (default: the repository's docs/). The manifest
    (also ``dest/corpus.json``) holds the parameters, the skeleton fingerprint, the pages
    whose article links were unlinked and, per article, the keys it cites (``articles``:
    docname -> keys).
    """
    if home not in ("real", "minimal"):
        raise ValueError(f"home must be 'real' or 'minimal', not {home!r}")
    if text not in ("real", "lorem"):
        raise ValueError(f"text must be 'real' or 'lorem', not {text!r}")
    real_text = text == "real"
    if n_articles < 1 or n_entries < 1 or cites_per_article < 0 or words < 1:
        raise ValueError("n_articles, n_entries and words must be positive, "
                         "cites_per_article non-negative")
    dest = Path(dest)
    params = {
        "generator_version": GENERATOR_VERSION,
        "n_articles": n_articles,
        "n_entries": n_entries,
        "cites_per_article": cites_per_article,
        "words": words,
        "seed": seed,
        "home": home,
        "sphinx_search": sphinx_search,
        "text": text,
        "skeleton": skeleton_fingerprint(source),
    }
    if real_text:
        params["articles"] = skeleton_fingerprint(articles_source)
    manifest_path = dest / "corpus.json"
    if manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
        except ValueError:
            old = {}
        if old.get("params") == params:
            return old
    if dest.exists():
        shutil.rmtree(dest)
    docs = dest / "docs"
    (docs / "articles").mkdir(parents=True)

    # The site skeleton.
    for path in _skeleton_files(source):
        target = docs / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    unlinked = []
    for page in sorted(docs.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        if _unlink_articles(text) != text:
            page.write_text(_unlink_articles(text), encoding="utf-8")
            unlinked.append(page.relative_to(docs).as_posix())
    if home == "minimal":
        (docs / "index.md").write_text(_home_page(source), encoding="utf-8")
    if not sphinx_search:
        (docs / "_ext" / "bench_nosearch.py").write_text(NO_SPHINX_SEARCH, encoding="utf-8")
        with open(docs / "conf.py", "a", encoding="utf-8") as conf:
            conf.write('\n# Benchmark: Sphinx\'s search index off (bench.py --sphinx-search off)\n'
                       'extensions.append("bench_nosearch")\n')

    # references.bib: with real text, the real references.bib first (its works are the
    # ones the real sentences cite), then synthetic entries up to n_entries.
    keys, bib = [], ["% Synthetic entries for the build benchmark (benchmarks/corpus.py).\n"]
    real_keys: list[str] = []
    if real_text:
        real_bib = (REPO / "references.bib").read_text(encoding="utf-8")
        real_keys = re.findall(r"^@\w+\{([^,\s]+),", real_bib, re.M)
        bib.append(real_bib)
    for i in range(max(0, n_entries - len(real_keys))):
        key, entry_text = _entry(seed, i)
        keys.append(key)
        bib.append(entry_text)
    (dest / "references.bib").write_text("\n".join(bib), encoding="utf-8")

    # Articles.
    topics_data = yaml.safe_load((source / "_data" / "topics.yaml").read_text("utf-8"))
    topics = list(topics_data)
    pool = real_pool(articles_source) if real_text else None
    articles = {}
    for i in range(n_articles):
        if pool is not None:
            article, cited = _real_article(seed, i, keys, real_keys, topics,
                                           cites_per_article, words, pool)
        else:
            article, cited = _article(seed, i, keys, topics, cites_per_article, words)
        name = f"bench-{i:04d}"
        (docs / "articles" / f"{name}.md").write_text(article, encoding="utf-8")
        articles[f"articles/{name}"] = cited

    manifest = {"params": params, "unlinked": unlinked, "articles": articles,
                "cited_keys": sorted({k for ks in articles.values() for k in ks})}
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


STOCK_CONF = """\
# The stock stack, for comparison (benchmarks/bench.py): plain Sphinx, myst-parser,
# sphinxcontrib-bibtex and furo; a flat toctree of every article and one filtered
# {bibliography} per article. No kb extension.
project = "Stock benchmark"
extensions = ["myst_parser", "sphinxcontrib.bibtex"]
root_doc = "index"
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "deflist", "smartquotes"]
suppress_warnings = ["myst.header"]
bibtex_bibfiles = ["../references.bib"]
bibtex_reference_style = "author_year"
html_theme = "furo"
"""

STOCK_BIBLIOGRAPHY = "```{bibliography}\n:filter: docname in docnames\n```"


def stock_article(text: str) -> str:
    """An article of the corpus for the stock stack: its ``{references}`` block becomes
    a ``{bibliography}`` filtered to the works cited on the page."""
    return text.replace("```{references}\n```", STOCK_BIBLIOGRAPHY)


def make_stock(corpus: Path) -> Path:
    """The same articles and .bib as the kb corpus in *corpus*, as a stock project in
    ``corpus/stock`` (``docs/`` and ``references.bib``, the same layout). Rewritten from
    the corpus each time, so it always matches it; returns the project folder."""
    corpus = Path(corpus)
    dest = corpus / "stock"
    docs = dest / "docs"
    if docs.exists():
        shutil.rmtree(docs)
    (docs / "articles").mkdir(parents=True)
    shutil.copy2(corpus / "references.bib", dest / "references.bib")
    (docs / "conf.py").write_text(STOCK_CONF, encoding="utf-8")
    names = sorted(p.stem for p in (corpus / "docs" / "articles").glob("bench-*.md"))
    for name in names:
        text = (corpus / "docs" / "articles" / f"{name}.md").read_text(encoding="utf-8")
        (docs / "articles" / f"{name}.md").write_text(stock_article(text), encoding="utf-8")
    (docs / "index.md").write_text(
        "# Stock benchmark\n\nA generated corpus on the stock stack.\n\n```{toctree}\n"
        ":maxdepth: 1\n\n" + "".join(f"articles/{n}\n" for n in names) + "```\n",
        encoding="utf-8")
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("n_articles", type=int)
    parser.add_argument("--entries", type=int, default=300)
    parser.add_argument("--cites", type=int, default=24)
    parser.add_argument("--text", choices=("real", "lorem"), default="real")
    parser.add_argument("--words", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--home", choices=("real", "minimal"), default="real")
    args = parser.parse_args()
    manifest = make_corpus(args.dest, args.n_articles, args.entries, args.cites,
                           args.words, args.seed, args.home, text=args.text)
    print(f"{args.dest}: {len(manifest['articles'])} articles, "
          f"{len(manifest['cited_keys'])} distinct works cited")


if __name__ == "__main__":
    main()
