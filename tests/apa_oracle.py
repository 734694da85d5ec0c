"""Compare the site's APA 7 output with citeproc-js and the APA CSL style (the oracle).

The corpus (tests/data/apa-corpus.bib) holds real reference-manager exports. For each
entry three forms are compared: the reference-list entry, the parenthetical citation and
the narrative citation, each reduced to text with italics marked ``_like this_``.

* :func:`site_forms` formats the corpus the way a build does (kb.citations' parse, the
  disambiguation over the whole set of entries, the ``apa7`` styles).
* :func:`oracle_forms` reads the oracle's output: the committed tests/data/apa-oracle.json,
  or a fresh run of ``node tests/oracle/oracle.js``.
* :func:`differences` lists the forms that differ after the normalizations in
  tests/data/apa-oracle-differences.yaml (``rules``), which also lists each remaining
  difference with the APA 7 section that decides it and which side is right.

Run ``python tests/apa_oracle.py`` for a report of the differences as YAML.
"""

from __future__ import annotations

import html as htmllib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "docs" / "_ext") not in sys.path:
    sys.path.insert(0, str(REPO / "docs" / "_ext"))

import docutils.nodes  # noqa: E402
import pybtex_docutils  # noqa: E402
import yaml  # noqa: E402
from sphinxcontrib.bibtex.style.referencing import format_references  # noqa: E402

import kb.apa  # noqa: E402
from kb.apa.formatting import ApaStyle  # noqa: E402
from kb.apa.referencing import ApaReferenceStyle, CitationInfo  # noqa: E402
from kb.bibcheck import check_bib  # noqa: E402
from kb.citations import parse_bibfiles  # noqa: E402

CORPUS = REPO / "tests" / "data" / "apa-corpus.bib"
ORACLE_JSON = REPO / "tests" / "data" / "apa-oracle.json"
KNOWN = REPO / "tests" / "data" / "apa-oracle-differences.yaml"
ORACLE_DIR = REPO / "tests" / "oracle"
FORMS = ("reference", "parenthetical", "narrative")


def _text(node) -> str:
    """Text of a docutils tree, emphasis marked ``_x_``."""
    if isinstance(node, docutils.nodes.Text):
        return str(node)
    inner = "".join(_text(child) for child in node.children)
    if isinstance(node, docutils.nodes.emphasis):
        return f"_{inner}_"
    return inner


def normalize(text: str) -> str:
    """Typography both sides are free to choose: spaces, apostrophes, italic joins."""
    text = text.replace("\u2019", "'").replace("\u00a0", " ")
    text = text.replace("\u2026", ". . .").replace("\u0131\u0301", "\u00ed")  # …, ı́
    text = re.sub(r"\s+", " ", text).strip()
    text = text.replace("__", "")  # adjacent italics
    text = re.sub(r"_, _", ", ", text)  # "_Journal_, _12_" is "_Journal, 12_"
    return text


def _oracle_text(html: str) -> str:
    html = re.sub(r"<i>\s*(.*?)\s*</i>", r"_\1_", html)
    html = re.sub(r"<[^>]+>", "", html)
    return normalize(htmllib.unescape(html))


def _site_formatting(path: Path):
    """The corpus's entries, prepared as a build prepares them, and what formats them:
    (entries, reference-list style, citation style, docutils backend, builder)."""
    entries = parse_bibfiles([path], "utf-8").data.entries
    kb.apa.prepare(entries.values())
    return (entries, ApaStyle(), ApaReferenceStyle(), pybtex_docutils.Backend(),
            SimpleNamespace(name="html"))


def site_forms(path: Path = CORPUS) -> dict[str, dict[str, str]]:
    """key -> {form: text} as the site renders it, or {"error": message}."""
    entries, style, refstyle, backend, builder = _site_formatting(path)
    result = {}
    for key, entry in entries.items():
        try:
            formatted = style.format_entry(key, entry)
        except Exception as error:  # noqa: BLE001 - reported as the entry's result
            result[key] = {"error": str(error)}
            continue
        para = docutils.nodes.paragraph("", "", *formatted.text.render(backend))
        forms = {"reference": normalize(_text(para))}
        info = CitationInfo(builder, "doc", "doc", f"id-{key}", None, "", "")
        for form, role in (("parenthetical", "p"), ("narrative", "t")):
            text = format_references(refstyle, role, [(entry, formatted, info)])
            para = docutils.nodes.paragraph("", "", *text.render(backend))
            forms[form] = normalize(_text(para))
        result[key] = forms
    # entries the site cannot read: the build reports them (kb.guards, and at each
    # citation); here each form is the problem the writer is shown
    index = check_bib(path.read_text(encoding="utf-8"))
    for key in index.entries:
        if key not in result:
            messages = "; ".join(p.message for p in index.problems if p.key == key)
            result[key] = {"error": f"not formatted: {messages}"}
    return result


def run_oracle(path: Path = CORPUS) -> dict:
    """Run citeproc-js now (needs node and ``npm ci --prefix tests/oracle``)."""
    node = shutil.which("node")
    if node is None or not (ORACLE_DIR / "node_modules" / "citeproc").is_dir():
        raise RuntimeError(
            "the APA oracle needs Node.js and its packages: install node, then run "
            "'npm ci --prefix tests/oracle' (make test does this)")
    out = subprocess.run([node, str(ORACLE_DIR / "oracle.js"), str(path)], check=True,
                         capture_output=True, text=True, timeout=300)
    return json.loads(out.stdout)


def oracle_forms(data: dict | None = None) -> dict[str, dict[str, str]]:
    """key -> {form: text} from the oracle's JSON (the committed file by default)."""
    if data is None:
        data = json.loads(ORACLE_JSON.read_text(encoding="utf-8"))
    return {key: {form: _oracle_text(value[form]) for form in FORMS}
            for key, value in data["entries"].items()}


def known() -> dict:
    return yaml.safe_load(KNOWN.read_text(encoding="utf-8"))


def apply_rules(form: str, text: str, rules: list[dict]) -> str:
    """The oracle's text after the documented rules (each a regex replacement)."""
    for rule in rules:
        if form in rule["forms"]:
            text = re.sub(rule["pattern"], rule["replace"], text)
    return text


def differences(site=None, oracle=None, rules=None):
    """(compared, [difference dicts]) between the site and the oracle."""
    site = site_forms() if site is None else site
    oracle = oracle_forms() if oracle is None else oracle
    rules = known()["rules"] if rules is None else rules
    compared, found = 0, []
    for key in sorted(site.keys() | oracle.keys()):
        for form in FORMS:
            compared += 1
            ours = site.get(key, {}).get(form, site.get(key, {}).get("error", "(missing)"))
            theirs = oracle.get(key, {}).get(form, "(missing)")
            theirs = apply_rules(form, theirs, rules)
            if ours != theirs:
                found.append({"key": key, "form": form, "site": ours, "oracle": theirs})
    return compared, found


def cluster_forms(clusters: list[dict], path: Path = CORPUS) -> list[str | None]:
    """Each of the oracle's citations of several works (``{"ids": [...]}``, cited in that
    order) as the site writes it (kb.apa.format_citation, the works' positions in the
    reference list as a build sorts them); None where a work cannot be formatted."""
    entries, style, refstyle, backend, builder = _site_formatting(path)
    formatted = {}
    for key, entry in entries.items():
        try:
            formatted[key] = style.format_entry(key, entry)
        except Exception:  # noqa: BLE001 - such a work is not compared
            pass
    order = {e.key: i for i, e in enumerate(style.sort(
        [entries[key] for key in formatted]))}
    result = []
    for cluster in clusters:
        if not all(key in formatted for key in cluster["ids"]):
            result.append(None)
            continue
        references = [(entries[key], formatted[key], CitationInfo(
            builder, "doc", "doc", f"id-{key}", None, "", "")) for key in cluster["ids"]]
        text = kb.apa.format_citation(refstyle, "p", references, order.get)
        para = docutils.nodes.paragraph("", "", *text.render(backend))
        result.append(normalize(_text(para)))
    return result


if __name__ == "__main__":
    total, diffs = differences()
    listed = {(d["key"], d["form"]): d for d in known()["differences"]}
    new = [d for d in diffs if (d["key"], d["form"]) not in listed
           or listed[(d["key"], d["form"])]["site"] != d["site"]
           or listed[(d["key"], d["form"])]["oracle"] != d["oracle"]]
    print(f"# {len(diffs)} of {total} forms differ; {len(new)} not (exactly) listed",
          file=sys.stderr)
    yaml.safe_dump(new, sys.stdout, allow_unicode=True, sort_keys=False, width=200)
