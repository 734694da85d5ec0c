"""A small knowledge base kept as data, written to disk as a writer would leave it, and
built with ``make html``'s own driver (``docs/_ext/kb/build.py``). Used by the incremental
build property test and the fault tests.

Only files whose text changed are written (Sphinx decides what to read again from file
times, as it does for a writer). Each edit is what a writer does, including what the
writers' guide asks when a page's address goes away: a redirect in
``_data/redirects.yaml`` to where the page went.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

from helpers import DOCS, ROOTS

from kb.search import BUNDLE

DRIVER = DOCS / "_ext" / "kb" / "build.py"
# The real site's configuration (theme, templates, extensions, identity), with the
# project's own .bib, drafts shown as in a local build.
CONF = (DOCS / "conf.py").read_text(encoding="utf-8") + f"""
# -- the test project -------------------------------------------------------------------
templates_path = [{str(DOCS / "_templates")!r}]
html_static_path = [{str(DOCS / "_static")!r}]
html_favicon = {str(DOCS / "_static" / "favicon.svg")!r}
bibtex_bibfiles = ["refs.bib"]
html_baseurl = ogp_site_url = "https://kb.example.org/"
kb_show_drafts = True
"""
# The tiny projects' crisis resources (the notice on every page is built from them).
CRISIS_RESOURCES = (ROOTS / "common" / "_data" / "crisis-resources.yaml").read_text(
    encoding="utf-8")
FIXED_PAGES = {
    "crisis.md": "---\ntitle: Crisis resources\ndescription: Help now.\n---\n\n# Crisis "
                 "resources\n\n(emergency)=\n## In an emergency\n\n"
                 "```{kb-crisis-resources} emergency\n```\n",
    "about/index.md": "---\ntitle: About us\ndescription: Who we are.\n---\n\n# About us\n"
                      "\n## How to book a free phone consultation\n\nCall us.\n",
}
WORDS = ("calm steady breath friend listen morning walk honest gentle rest voice hope "
         "sleep trust garden letter patient kind simple light river quiet").split()

BIB_ENTRIES = {
    "rogers1957necessary": dict(
        author="Rogers, Carl R.", year="1957", journal="Journal of Consulting Psychology",
        title="The necessary and sufficient conditions of therapeutic personality change",
        volume="21", number="2", pages="95--103", doi="10.1037/h0045357"),
    "norcross2018psychotherapy": dict(
        author="Norcross, John C. and Lambert, Michael J.", year="2018",
        title="Psychotherapy relationships that work {III}", journal="Psychotherapy",
        volume="55", number="4", pages="303--315", doi="10.1037/pst0000193"),
    "fluckiger2018alliance": dict(
        author="Flückiger, Christoph and Del Re, A. C. and Wampold, Bruce E. and "
               "Horvath, Adam O.", year="2018",
        title="The alliance in adult psychotherapy: {A} meta-analytic synthesis",
        journal="Psychotherapy", volume="55", number="4", pages="316--340",
        doi="10.1037/pst0000172"),
}


def sphinx_env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("READTHEDOCS") and k not in ("KB_DRAFTS", "KB_SEARCH_INDEX")}
    env["PYTHONPATH"] = str(DOCS / "_ext")
    return env


def make_html(src: Path, builddir: Path, **popen) -> subprocess.CompletedProcess | subprocess.Popen:
    """``make html``: the driver, with the Makefile's Sphinx options."""
    command = [sys.executable, str(DRIVER), "html", str(builddir), str(src), "--",
               "-n", "-W", "--keep-going", "-q"]
    if popen:
        return subprocess.Popen(command, env=sphinx_env(), **popen)
    return subprocess.run(command, env=sphinx_env(), capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)


def warnings(result: subprocess.CompletedProcess, src: Path) -> list[str]:
    """The build's warning lines, paths relative to the source folder, sorted."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stderr)
    return sorted(line.replace(str(src) + "/", "") for line in text.splitlines()
                  if "WARNING" in line or "ERROR" in line)


class Project:
    """The sources, as data."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.counter = 0
        self.topics = {"grief": ["Grief and loss", "Living with loss."],
                       "anxiety": ["Anxiety", "What anxiety is and what helps."],
                       "sleep": ["Sleep", "Rest and the mind."]}
        self.authors = {"editorial-team": "Test editorial team",
                        "reviewers": "Test review board"}
        self.bib = copy.deepcopy(BIB_ENTRIES)
        self.articles: dict[str, dict] = {}
        self.pages: dict[str, dict] = {}
        self.redirects: dict[str, str] = {}
        self.conf_extra = ""
        self.recorded: set[str] = set()  # lines seen in the record of published URLs
        for _ in range(3):
            self._new_article()
        for _ in range(2):
            self._new_page()

    # -- names and text ----------------------------------------------------------------
    def _name(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}-{self.counter}"

    def _words(self, n: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(n))

    def _new_article(self, status: str = "published") -> str:
        slug = self._name("article")
        self.articles[slug] = {
            "title": f"About {self._words(2)} {self.counter}",
            "description": f"A short note on {self._words(3)}.",
            "topics": self.rng.sample(sorted(self.topics), self.rng.randint(1, 2)),
            "author": "editorial-team", "status": status, "day": self.rng.randint(1, 28),
            "cites": self.rng.sample(sorted(self.bib), self.rng.randint(1, 2))}
        return slug

    def _new_page(self) -> str:
        slug = self._name("page")
        self.pages[slug] = {"title": f"Page {self._words(1)} {self.counter}",
                            "text": self._words(12)}
        return slug

    def redirect(self, old: str, new: str) -> None:
        """Where the guide sends a writer whose page's address goes away."""
        self.redirects = {o: (new if n == old else n) for o, n in self.redirects.items()}
        self.redirects[old] = new

    # -- rendering ---------------------------------------------------------------------
    def files(self) -> dict[str, str]:
        files = {"conf.py": CONF + self.conf_extra, **FIXED_PAGES,
                 "bibliography.md": "# Sources\n\n```{cited-works}\n```\n"}
        toctree = "".join(f"about/{slug}\n" for slug in self.pages)
        files["index.md"] = ("# Test knowledge base\n\n```{kb-search}\n```\n\n"
                             "```{toctree}\n:hidden:\n:caption: About\n\ncrisis\nabout/index\n"
                             f"{toctree}bibliography\n```\n\n```{{kb-topic-grid}}\n"
                             "```\n\n```{kb-latest}\n```\n\n```{kb-cta}\n```\n")
        for slug, page in self.pages.items():
            files[f"about/{slug}.md"] = (f"---\ntitle: {page['title']}\ndescription: The "
                                         f"{page['title']} page.\n---\n\n# {page['title']}"
                                         f"\n\n{page['text'].capitalize()}.\n")
        for slug, art in self.articles.items():
            cites = " ".join(f"{{cite:p}}`{key}`" for key in art["cites"])
            files[f"articles/{slug}.md"] = (
                f"---\ntitle: {art['title']}\ndescription: {art['description']}\n"
                f"topics: [{', '.join(art['topics'])}]\nauthor: {art['author']}\n"
                f"published: 2026-01-{art['day']:02d}\nupdated: 2026-02-01\n"
                "last_reviewed: 2026-02-01\nnext_review: 2027-02-01\n"
                f"status: {art['status']}\n---\n\n# {art['title']}\n\n"
                f"Some words about {art['title'].lower()} {cites}.\n\n## References\n\n"
                "```{references}\n```\n")
        files["_data/topics.yaml"] = "".join(
            f"{slug}:\n  title: {title}\n  description: {desc}\n"
            for slug, (title, desc) in self.topics.items())
        files["_data/authors.yaml"] = "".join(
            f"{key}:\n  name: {name}\n  type: Organization\n"
            for key, name in self.authors.items())
        files["refs.bib"] = "\n".join(
            f"@article{{{key},\n" + "".join(f"  {field} = {{{value}}},\n"
                                             for field, value in entry.items()) + "}\n"
            for key, entry in self.bib.items())
        files["_data/crisis-resources.yaml"] = CRISIS_RESOURCES
        files["_data/redirects.yaml"] = "".join(f"{old}: {new}\n"
                                                for old, new in self.redirects.items())
        return files

    def write(self, src: Path) -> None:
        files = self.files()
        for rel, text in files.items():
            path = src / rel
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
        for path in list(src.rglob("*.md")):
            if path.relative_to(src).as_posix() not in files:
                path.unlink()

    # -- the edits a writer makes ------------------------------------------------------
    def _published(self) -> list[str]:
        return sorted(s for s, a in self.articles.items() if a["status"] == "published")

    def add_article(self):
        return f"add article {self._new_article()}"

    def rename_article(self):
        old = self.rng.choice(sorted(self.articles))
        new = self._name("article")
        self.articles[new] = self.articles.pop(old)
        if self.articles[new]["status"] == "published":
            self.redirect(f"articles/{old}.html", f"articles/{new}.html")
        for source, target in list(self.redirects.items()):
            if target == f"articles/{old}.html":  # it pointed at the draft
                self.redirects[source] = f"articles/{new}.html"
        return f"rename article {old} -> {new}"

    def delete_article(self):
        if len(self.articles) < 2:
            return self.add_article()
        old = self.rng.choice(sorted(self.articles))
        del self.articles[old]
        self.redirect(f"articles/{old}.html", "articles/index.html")
        return f"delete article {old}"

    def retitle_article(self):
        slug = self.rng.choice(sorted(self.articles))
        self.articles[slug]["title"] = f"On {self._words(2)} {self._name('t')}"
        return f"retitle article {slug}"

    def change_topics(self):
        slug = self.rng.choice(sorted(self.articles))
        self.articles[slug]["topics"] = self.rng.sample(sorted(self.topics),
                                                        self.rng.randint(1, 2))
        return f"topics of {slug}: {self.articles[slug]['topics']}"

    def toggle_draft(self):
        slug = self.rng.choice(sorted(self.articles))
        art, url = self.articles[slug], f"articles/{slug}.html"
        if art["status"] == "published":
            if any(target == url for target in self.redirects.values()):
                return f"{slug} stays published (a redirect leads to it)"
            art["status"] = "draft"
            self.redirect(url, "articles/index.html")
        else:
            art["status"] = "published"
            self.redirects.pop(url, None)
        return f"{slug} is now {art['status']}"

    def change_description(self):
        slug = self.rng.choice(sorted(self.articles))
        self.articles[slug]["description"] = f"A new note on {self._words(4)}."
        return f"describe {slug}"

    def change_citations(self):
        slug = self.rng.choice(sorted(self.articles))
        cites = self.articles[slug]["cites"]
        missing = [k for k in sorted(self.bib) if k not in cites]
        if len(cites) > 1 and (not missing or self.rng.random() < 0.5):
            cites.remove(self.rng.choice(cites))
            return f"a citation removed from {slug}"
        cites.append(self.rng.choice(missing))
        return f"a citation added to {slug}"

    def change_bib(self):
        key = self.rng.choice(sorted(self.bib))
        field = self.rng.choice(["title", "year", "author"])
        entry = self.bib[key]
        if field == "title":
            entry["title"] = f"{entry['title'].split(':')[0]}: {self._words(2)}"
        elif field == "year":
            entry["year"] = str(self.rng.randint(1950, 2025))
        else:
            entry["author"] = f"{self.rng.choice(['Smith', 'Jones', 'Rogers'])}, Ann"
        return f"bib {key}.{field}"

    def add_topic(self):
        slug = self._name("topic")
        self.topics[slug] = [f"Topic {self._words(1)} {self.counter}", "A new topic."]
        return f"add topic {slug}"

    def rename_topic(self):
        old = self.rng.choice(sorted(self.topics))
        new = self._name("topic")
        title, desc = self.topics[old]
        self.topics = {(new if s == old else s): ((f"{title} renamed", desc) if s == old
                                                  else v) for s, v in self.topics.items()}
        for art in self.articles.values():
            art["topics"] = [new if t == old else t for t in art["topics"]]
        self.redirect(f"topics/{old}.html", f"topics/{new}.html")
        return f"rename topic {old} -> {new}"

    def change_author(self):
        if self.rng.random() < 0.5:
            key = self.rng.choice(sorted(self.authors))
            self.authors[key] = f"Team {self._words(1)} {self._name('a')}"
            return f"author {key} renamed"
        slug = self.rng.choice(sorted(self.articles))
        art = self.articles[slug]
        art["author"] = "reviewers" if art["author"] == "editorial-team" else "editorial-team"
        return f"author of {slug}: {art['author']}"

    def add_page(self):
        return f"add page {self._new_page()}"

    def rename_page(self):
        old = self.rng.choice(sorted(self.pages))
        new = self._name("page")
        self.pages = {(new if s == old else s): v for s, v in self.pages.items()}
        self.redirect(f"about/{old}.html", f"about/{new}.html")
        return f"rename page {old} -> {new}"

    def delete_page(self):
        if len(self.pages) < 2:
            return self.add_page()
        old = self.rng.choice(sorted(self.pages))
        del self.pages[old]
        self.redirect(f"about/{old}.html", "index.html")
        return f"delete page {old}"

    def retitle_page(self):
        slug = self.rng.choice(sorted(self.pages))
        self.pages[slug]["title"] = f"Page {self._words(1)} {self._name('t')}"
        return f"retitle page {slug}"

    EDITS = ("add_article", "rename_article", "delete_article", "retitle_article",
             "change_topics", "toggle_draft", "change_description", "change_citations",
             "change_bib", "add_topic", "rename_topic", "change_author", "add_page",
             "rename_page", "delete_page", "retitle_page")


def output(builddir: Path) -> dict[str, bytes]:
    """The published site, file by file; the search index decoded (Pagefind numbers its
    pages in the order it finishes them, and names files by their content)."""
    from test_search_incremental import decode

    site = builddir / "html"
    files = {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*")
             if p.is_file() and BUNDLE not in p.relative_to(site).parts[:1]}
    bundle = site / BUNDLE
    if (bundle / "pagefind-entry.json").is_file():
        files["pagefind (decoded)"] = json.dumps(decode(bundle), sort_keys=True,
                                                 default=repr).encode()
        files["pagefind (file names of the query layer)"] = "\n".join(sorted(
            p.relative_to(bundle).as_posix() for p in bundle.rglob("kb-*"))).encode()
    return files
