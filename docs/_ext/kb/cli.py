"""Writer commands: ``make new`` and ``make check``.

``python -m kb.cli new --title "..." --topics "grief,anxiety"`` starts an article;
``python -m kb.cli check`` prints ``path:line: message`` for every problem it finds, fast
and without building the site, and exits non-zero if any is an error. Both run from the
repository root (the Makefile sets ``PYTHONPATH=docs/_ext``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import lint
from .bibcheck import NOTE_CODES, check_bib, unused_keys
from .crisis import STALE_AFTER_DAYS, load_crisis, stale_resources
from .frontmatter import (FrontMatterError, _add_years, load_vocabulary, split_front_matter,
                          validate_article, validate_page)
from .lint import ARTICLE_PREFIX

READABILITY_TARGET = 8.0
MIN_WORDS = 800
REVIEW_SOON_DAYS = 60
SKIP_DIRS = {"_build", "_templates", "_static", "_ext", "_data"}


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    message: str
    error: bool = True

    def __str__(self) -> str:
        kind = "" if self.error else "note: "
        return f"{self.path}:{self.line}: {kind}{self.message}"


class Repo:
    """Where things are, relative to the repository root."""

    def __init__(self, root: Path):
        self.root = root
        self.docs = root / "docs"
        self.articles = self.docs / "articles"
        self.bib = root / "references.bib"
        self.topics_file = self.docs / "_data" / "topics.yaml"
        self.authors_file = self.docs / "_data" / "authors.yaml"
        self.wordlist = self.docs / "_data" / "wordlist.txt"
        self.crisis_file = self.docs / "_data" / "crisis-resources.yaml"

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def pages(self) -> list[Path]:
        return sorted(p for p in self.docs.rglob("*.md")
                      if not SKIP_DIRS & set(p.relative_to(self.docs).parts))


# -- make new ------------------------------------------------------------------------------

def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")


def article_template(title: str, topics: list[str], today: dt.date, author: str) -> str:
    quoted = title.replace('"', '\\"')
    return f"""---
title: "{quoted}"
description: "One or two plain sentences: what will the reader learn? (Shown in listings.)"
topics: [{", ".join(topics)}]
author: {author}
published: {today.isoformat()}
updated: {today.isoformat()}
last_reviewed: {today.isoformat()}
next_review: {_add_years(today, 3).isoformat()}
status: draft
---

# {title}

Start with what the reader may be feeling or asking, in plain words. Keep sentences short.

## What the research says

Say what the research found, and cite the work it comes from, using its key in
references.bib (the contributing guide shows how). Run make check to see every problem
at once.

## References

```{{references}}
```
"""


def cmd_new(repo: Repo, title: str, topics_arg: str, today: dt.date, interactive: bool) -> int:
    topics_vocab, _ = load_vocabulary(repo.topics_file, "topic", ("title", "description"))
    if not title.strip() and interactive:
        title = input("Title of the new article: ")
        print("Topics: " + ", ".join(topics_vocab))
        topics_arg = input("Topics (comma-separated): ")
    title = " ".join(title.split())
    if not title:
        print('make new needs a title: make new TITLE="Coping with panic" TOPICS="anxiety"',
              file=sys.stderr)
        return 2
    topics = [t.strip() for t in topics_arg.split(",") if t.strip()]
    unknown = [t for t in topics if t not in topics_vocab]
    if not topics or unknown:
        what = f"unknown topic(s): {', '.join(unknown)}" if unknown else "no topics given"
        print(f"{what}; choose from: {', '.join(topics_vocab)} "
              '(e.g. TOPICS="grief,families"; new topics go in docs/_data/topics.yaml)',
              file=sys.stderr)
        return 2
    slug = slugify(title)
    if not slug:
        print("the title has no letters or digits to make a file name from", file=sys.stderr)
        return 2
    path = repo.articles / f"{slug}.md"
    try:
        with path.open("x", encoding="utf-8") as handle:  # never overwrites
            handle.write(article_template(title, topics, today, "editorial-team"))
    except FileExistsError:
        print(f"{repo.rel(path)} already exists and was left untouched; choose another "
              "title, or edit that file", file=sys.stderr)
        return 1
    print(f"Created {repo.rel(path)} (status: draft). Preview it with 'make livehtml'.")
    print(f"Once published, its address is articles/{slug}.html. Rename the file freely "
          "while it is a draft; after that, renaming needs a redirect (writers' guide: "
          "\"Renaming, moving or removing a page\").")
    return 0


# -- make check ----------------------------------------------------------------------------

def check_spelling(repo: Repo, paths: list[Path]) -> list[Finding]:
    """codespell, with the project's word list; codespell prints path:line: word ==> fix."""
    cmd = [sys.executable, "-m", "codespell_lib", "--quiet-level", "2"]
    if repo.wordlist.exists():
        cmd += ["--ignore-words", str(repo.wordlist)]
    result = subprocess.run(cmd + [str(p) for p in paths], capture_output=True, text=True,
                            cwd=repo.root)
    findings = []
    for line in result.stdout.splitlines():
        match = re.match(r"(.+?):(\d+): (.+?) ==> (.+)", line)
        if match:
            path = Path(match.group(1))
            rel = repo.rel(path if path.is_absolute() else repo.root / path)
            findings.append(Finding(rel, int(match.group(2)),
                                    f"spelling: '{match.group(3)}' may be a misspelling of "
                                    f"{match.group(4)} (fix it, or add the word to "
                                    "docs/_data/wordlist.txt)"))
    return findings


def check_readability(rel: str, text: str, target: float) -> list[Finding]:
    from . import readability

    findings = []
    words = readability.word_count(text)
    if words < MIN_WORDS:
        findings.append(Finding(rel, 1, f"body prose is {words} words; articles need at "
                                        f"least {MIN_WORDS} (lists and headings do not count)"))
    score = readability.grade(text)
    if score > target:
        hard = "; ".join(f"line {s.line}: \"{s.text[:70]}\" (grade {g:.0f})"
                         for s, g in readability.hardest(text))
        findings.append(Finding(rel, 1, f"reading grade {score:.1f} is above the target "
                                        f"{target:g}; shorten these sentences: {hard}"))
    return findings


def check_reviews(rel: str, fm, article, today: dt.date) -> list[Finding]:
    line = fm.lines.get("next_review", 1)
    due = article.next_review
    if due < today:
        return [Finding(rel, line, f"review overdue since {due}: review the article against "
                                   "its sources, then update last_reviewed and next_review")]
    if (due - today).days <= REVIEW_SOON_DAYS:
        return [Finding(rel, line, f"review due on {due} (in {(due - today).days} days)",
                        error=False)]
    return []


def check_crisis(repo: Repo, today: dt.date) -> list[Finding]:
    """The crisis resources file: its problems (errors), and a note for each resource not
    checked against its source for 12 months."""
    rel = repo.rel(repo.crisis_file)
    data, problems = load_crisis(repo.crisis_file)  # "in the future": against the real date
    findings = [Finding(rel, p.line, p.message) for p in problems]
    findings += [Finding(rel, r.line, f"crisis resource '{r.id}' was last checked on "
                                      f"{r.checked} (over {STALE_AFTER_DAYS} days ago): "
                                      f"open {r.source}, compare its number, code and "
                                      "link, and set 'checked' to today", error=False)
                 for r in stale_resources(data, today)]
    return findings


def cmd_check(repo: Repo, today: dt.date, spelling: bool = True) -> int:
    findings: list[Finding] = []
    topics, problems = load_vocabulary(repo.topics_file, "topic", ("title", "description"))
    findings += [Finding(repo.rel(repo.topics_file), p.line, p.message) for p in problems]
    authors, problems = load_vocabulary(repo.authors_file, "author", ("name",))
    findings += [Finding(repo.rel(repo.authors_file), p.line, p.message) for p in problems]

    findings += check_crisis(repo, today)

    bib_rel = repo.rel(repo.bib)
    index = check_bib(repo.bib.read_text(encoding="utf-8")) if repo.bib.exists() else None
    if index is None:
        findings.append(Finding(bib_rel, 1, "references.bib is missing"))
    else:
        findings += [Finding(bib_rel, p.line, p.message, error=p.code not in NOTE_CODES)
                     for p in index.problems]
    known_keys = set(index.entries) if index else set()
    cited: set[str] = set()

    existing = {p.relative_to(repo.docs).as_posix() for p in repo.docs.rglob("*")}

    def exists(rel: str) -> bool:
        return rel in existing or rel + ".md" in existing

    pages = repo.pages()
    for path in pages:
        rel = repo.rel(path)
        docpath = PurePosixPath(path.relative_to(repo.docs).as_posix())
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            findings.append(Finding(rel, line, "the file is not UTF-8 text: save it as "
                                               "UTF-8 in your editor"))
            continue
        is_article = docpath.as_posix().startswith(ARTICLE_PREFIX)
        try:
            fm, _ = split_front_matter(text)
        except FrontMatterError as exc:
            findings.append(Finding(rel, exc.line, str(exc)))
            fm = None
            if is_article:
                continue
        if is_article:
            article, problems = validate_article(fm, docpath.with_suffix("").as_posix(),
                                                 topics, authors, "editorial-team")
            findings += [Finding(rel, p.line, p.message) for p in problems]
            if article is not None:
                findings += check_reviews(rel, fm, article, today)
            findings += check_readability(rel, text, READABILITY_TARGET)
        else:
            _, problems = validate_page(fm)
            findings += [Finding(rel, p.line, p.message) for p in problems]
        findings += [Finding(rel, p.line, p.message)
                     for p in lint.check_source(text, docpath, exists, repo.docs)]
        for line, key in lint.cited_keys(text):
            cited.add(key)
            if key not in known_keys:
                findings.append(Finding(rel, line, f"unknown citation key '{key}' (add the "
                                                   "work to references.bib, or fix the key)"))
    if index is not None:
        findings += [Finding(bib_rel, p.line, p.message, error=False)
                     for p in unused_keys(index, cited)]
    if spelling:
        findings += check_spelling(repo, pages + ([repo.bib] if repo.bib.exists() else []))

    for finding in sorted(set(findings)):
        print(finding)
    errors = sum(1 for f in findings if f.error)
    notes = len(set(findings)) - errors
    print(f"make check: {errors} problem(s), {notes} note(s) in {len(pages)} page(s)",
          file=sys.stderr)
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kb")
    sub = parser.add_subparsers(dest="command", required=True)
    new = sub.add_parser("new", help="start a new article")
    new.add_argument("--title", default="")
    new.add_argument("--topics", default="")
    check = sub.add_parser("check", help="check every page, without building")
    check.add_argument("--no-spelling", action="store_true")
    for cmd in (new, check):
        cmd.add_argument("--root", default=".", help="repository root")
        cmd.add_argument("--today", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repo = Repo(Path(args.root).resolve())
    today = dt.date.fromisoformat(args.today) if args.today else dt.date.today()
    try:
        if args.command == "new":
            return cmd_new(repo, args.title, args.topics, today, sys.stdin.isatty())
        return cmd_check(repo, today, spelling=not args.no_spelling)
    except (EOFError, KeyboardInterrupt):
        print("stopped; nothing was written", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
