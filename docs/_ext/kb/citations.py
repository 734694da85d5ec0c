"""Citations in linear time: per-article reference lists and a site bibliography.

sphinxcontrib-bibtex does the parsing, caching and the ``{cite:p}``/``{cite:t}`` roles; our
APA 7 styles (``kb.apa``) are registered as its pybtex and referencing plugins. What we
replace is the step that decides which entries go in which list: stock sphinxcontrib-bibtex
filters every ``{bibliography}`` against every citation in ``env-updated`` and resolves
each citation by scanning all citations, which is O(N^2) with a list per article. Here:

* ``{references}`` (one per article) lists exactly the works the page cites; the
  ``{cited-works}`` directive (the bibliography page) lists every cited work with
  "Cited in" links.
* ``env-updated`` builds, once, an index key -> citing pages and formats each cited entry
  once; list filling and citation resolving are dictionary look-ups. Cost: O(citations +
  cited entries log entries).
* Only the bibliography page depends on other pages; ``env-updated`` returns it when the
  index changed, so an edit to one article does not rewrite the others.
* No page depends on references.bib as a file: when it changes, ``env-updated`` compares
  each cited work's formatted reference with the last build's and returns the pages
  citing a work that changed. Adding an entry nobody cites rewrites no article.
* Each distinct citation is formatted once per build, not once per occurrence: a work is
  cited dozens of times across the site, and each pass through sphinxcontrib-bibtex's
  templates formats its names again (with LaTeX decoding). What is rendered is kept per
  (builder, role, citation text, where its link points, ``kb_`` marks on the citation
  node) and per reference-list entry (``RENDER_CACHE``; the pages are the same byte for
  byte without it, tests/test_citations.py). For the HTML builder what is kept is the
  HTML the page's translator writes for the rendered nodes, and each use is one
  ``prerendered`` node holding that HTML and its text (at 500 articles, 12,000 citations
  and as many reference-list entries: copying each one's dozen nodes, and translating
  them again on every page, took a tenth of a clean build). For any other builder each
  use gets a copy of the rendered nodes.
"""

from __future__ import annotations

import contextlib

import functools
import pickle

import re

from collections import defaultdict
from pathlib import Path
from typing import Iterable

import docutils.nodes as nodes
import pybtex.plugin
from sphinx import addnodes
from docutils.nodes import make_id
from docutils.utils import new_document
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
import sphinxcontrib.bibtex
from pybtex.backends.plaintext import Backend as TextBackend
from pybtex.database import BibliographyData
from pybtex.database.input.bibtex import Parser
from sphinx.errors import ExtensionError
from sphinxcontrib.bibtex.bibfile import BibData, BibFile, get_mtime, is_bibdata_outdated
from sphinxcontrib.bibtex.citation_target import parse_citation_targets as _parse_targets
from sphinxcontrib.bibtex.plugin import find_plugin
from sphinxcontrib.bibtex.domain import BibtexDomain
from sphinxcontrib.bibtex.roles import CiteRole

from . import apa
from .bibcheck import HEADER

logger = logging.getLogger(__name__)

#: Keep each distinct citation's and reference's rendered nodes for the build (see above).
#: Off only in the test that compares the pages with and without it.
RENDER_CACHE = True


#: The classes of a citation's inline.
CITE_CLASSES = ("bibtex-citation", "kb-cite")


@functools.lru_cache(maxsize=None)
def parse_citation_targets(target: str) -> tuple:
    """sphinxcontrib-bibtex's parse of a citation text (keys, pre- and post-text), once
    per distinct text: the role, the list filling and the resolving each need it at every
    use. Raises ValueError on a malformed one (not remembered)."""
    return tuple(_parse_targets(target))


@functools.lru_cache(maxsize=None)
def entry_id(key: str) -> str:
    """The HTML id of a reference-list entry (the same on every page)."""
    return make_id("ref-" + key)


class references_list(nodes.General, nodes.Element):
    """Placeholder for an article's reference list, filled after reading."""


class cited_works(nodes.General, nodes.Element):
    """Placeholder for the site bibliography, filled after reading."""


class citation_tip(nodes.Inline, nodes.TextElement):
    """The full reference shown on hover and keyboard focus of a citation."""


class prerendered(nodes.Inline, nodes.TextElement):
    """Citation or reference content already translated to HTML (``kb_html``), for the
    HTML builder only; its one child is its text, for ``astext()``."""


def _html_of(children: list[nodes.Node], holder: nodes.Element, builder,
             document) -> str:
    """What *builder*'s translator writes for *children*, placed in *holder* (their
    parent on the page: an inline or a paragraph)."""
    holder.extend(children)
    # one translator per builder and process, with the settings the pages are written
    # with (HTML builders set them as they write a page); making one is most of the cost
    # of a short citation. What it writes goes to a fresh body each time; the inline
    # content of a citation leaves nothing else behind, and a translator that fails
    # half-way is not used again.
    translator = getattr(builder, "_kb_translator", None)
    if translator is None or translator.settings is not builder.docsettings:
        source = document.get("source", "") if document is not None else ""
        page = new_document(source, builder.docsettings)
        translator = builder.create_translator(page, builder)
    builder._kb_translator = None
    translator.body = []
    for child in holder.children:
        child.walkabout(translator)
    builder._kb_translator = translator
    return "".join(translator.body)


class KBCiteRole(CiteRole):
    """sphinxcontrib-bibtex's cite roles; a malformed citation (a brace of the pre- or
    post-text left open) is a warning at its line, where sphinxcontrib-bibtex stops the
    build with a traceback."""

    def result_nodes(self, document, env, node, is_ref):
        try:
            list(parse_citation_targets(self.target))
        except ValueError:
            logger.warning(
                f"malformed citation `{self.target}` (write {{cite:p}}`key`, or with "
                "words before or after it {cite:p}`{see}key{p. 96}`: every { closed by })",
                location=(env.docname, self.lineno), type="kb", subtype="citation")
            return [nodes.inline(self.rawtext, self.rawtext)], []
        return super().result_nodes(document, env, node, is_ref)


class KBBibtexDomain(BibtexDomain):
    """The cite domain with index-based, linear-time list building and resolving."""

    roles = {name: KBCiteRole() for name in BibtexDomain.roles}

    initial_data = {
        **BibtexDomain.initial_data,
        "kb_lists": {},  # docname -> line of its {references}
        "kb_bibpage": {},  # docname -> line of {cited-works}
        "kb_cited_by": {},  # key -> [docnames], computed in env_updated
        "kb_doc_keys": {},  # docname -> [keys], computed in env_updated
        "kb_formatted": {},  # key -> pybtex FormattedEntry, cached while the .bib is unchanged
        "kb_bib_stamp": None,  # (style, (bib path, mtime)...) the cache belongs to
        "kb_order": {},  # key -> position in the APA-sorted list
        "kb_texts": {},  # key -> its formatted reference as text, to see what changed
        "kb_sort_keys": {},  # key -> APA sort key, cached while the .bib is unchanged
        "kb_format_errors": {},  # key -> why the style could not format the entry
    }

    def __init__(self, env) -> None:
        super().__init__(env)
        self._rendered: dict = {}  # this process, this build: not pickled with env
        self._ref_docs = None  # [the citation list, how many seen, their documents]
        self._ahead = None  # what format_ahead made (this process, this build)

    def rendered(self, key, make):
        """A fresh copy of what *make* renders for *key*, made once per build."""
        if not RENDER_CACHE:
            return make()
        frozen = self._rendered.get(key)
        if frozen is None:
            # kept pickled: unpickling (in C) copies a node tree several times faster
            # than Node.deepcopy
            made = make()
            for node in made:
                for part in node.findall():
                    part.__dict__.pop("_document", None)  # never the whole page
            frozen = self._rendered[key] = pickle.dumps(made, pickle.HIGHEST_PROTOCOL)
        return pickle.loads(frozen)

    def prerendered(self, key, make, holder: type[nodes.Element], builder, where):
        """For the HTML *builder*: one ``prerendered`` node with the HTML and the text of
        what *make* renders for *key* (nodes placed in a *holder* on the page of the node
        *where*), made once per build. For any other builder: a fresh copy of the nodes in
        a list (the EPUB's transforms change them after they are resolved: no tooltips in
        the book)."""
        if not RENDER_CACHE or builder.name != "html":
            return self.rendered(key, make)
        made = self._rendered.get(key)
        if made is None:
            parent = holder()
            made = self._rendered[key] = (
                _html_of(make(), parent, builder, where.document), parent.astext())
        return [prerendered("", made[1], kb_html=made[0])]

    def _docs_with_refs(self) -> set[str]:
        """The documents that have citations. Citations are only ever appended to
        ``citation_refs`` (by the cite role and by merging) except here, so only the new
        ones are looked at: purging every document of a clean build stays linear."""
        refs = self.citation_refs
        seen = self._ref_docs
        if seen is None or seen[0] is not refs or seen[1] > len(refs):
            seen = [refs, 0, set()]
        seen[2].update(r.docname for r in refs[seen[1]:])
        seen[1] = len(refs)
        self._ref_docs = seen
        return seen[2]

    def clear_doc(self, docname: str) -> None:
        if docname in self._docs_with_refs():
            self.data["citation_refs"] = [r for r in self.citation_refs
                                          if r.docname != docname]
            self._ref_docs = None  # a new list: counted again when needed
        self.data["kb_lists"].pop(docname, None)
        self.data["kb_bibpage"].pop(docname, None)

    def merge_domaindata(self, docnames, otherdata) -> None:
        for ref in otherdata["citation_refs"]:
            if ref.docname in docnames:
                self.citation_refs.append(ref)
        for name in ("kb_lists", "kb_bibpage"):
            for docname, line in otherdata[name].items():
                if docname in docnames:
                    self.data[name][docname] = line

    def _bib_stamp(self) -> tuple:
        """What the formatted entries depend on: the style, each .bib file's time."""
        return (self.env.config.bibtex_default_style,
                *sorted((str(p), f.mtime) for p, f in self.bibdata.bibfiles.items()))

    def format_ahead(self) -> None:
        """While the pages are read in worker processes (``kb-reading-in-workers``, in
        this process, beside them): when the .bib changed since the entries were last
        formatted, make its entries ready and format every one of them, with its sort
        key, so that :meth:`env_updated` (in this process, once the pages are read,
        while the other CPUs wait) only picks the cited ones. The same entries, made
        ready the same way, give the same result; an entry that cannot be formatted or
        sorted here is done there, as before."""
        self._ahead = None
        stamp = self._bib_stamp()
        if self.data["kb_bib_stamp"] == stamp:
            return
        entries = self.bibdata.data.entries
        apa.prepare(entries.values())
        style = pybtex.plugin.find_plugin("pybtex.style.formatting", stamp[0])()
        sorting_key = getattr(getattr(style.sort, "__self__", None), "sorting_key", None)
        formatted, sort_keys = {}, {}
        for key, entry in entries.items():
            with contextlib.suppress(Exception):  # noqa: BLE001 - done again, reported
                formatted[key] = style.format_entry(key, entry)
                if sorting_key is not None:
                    sort_keys[key] = sorting_key(entry)
        self._ahead = (stamp, entries, formatted, sort_keys)

    def env_updated(self) -> Iterable[str]:
        entries = self.bibdata.data.entries
        cited_by, doc_keys = cited_keys(self.citation_refs, entries)
        stamp = self._bib_stamp()
        style_name = stamp[0]
        bib_changed = self.data["kb_bib_stamp"] != stamp
        ahead_formatted, ahead_sort_keys = {}, {}
        if self._ahead is not None and self._ahead[0] == stamp and self._ahead[1] is entries:
            ahead_formatted, ahead_sort_keys = self._ahead[2], self._ahead[3]
        self._ahead = None
        if bib_changed:
            # references.bib was parsed anew: letters and formatted entries start over;
            # otherwise both are reused, so a rebuild does not pay for the whole .bib
            if not ahead_formatted:  # else made ready already (format_ahead)
                apa.prepare(entries.values())
            self.data.update(kb_bib_stamp=stamp, kb_formatted={}, kb_sort_keys={},
                             kb_format_errors={})
        else:
            ahead_formatted = ahead_sort_keys = {}
        style = pybtex.plugin.find_plugin("pybtex.style.formatting", style_name)()
        formatted = self.data["kb_formatted"]
        # a new build: what was rendered from the last one is dropped
        self._rendered = {}
        apa.forget_names()
        for key in cited_by:
            if key not in formatted:
                if key in ahead_formatted:  # the citation's key as the .bib writes it
                    formatted[key] = ahead_formatted[key]
                    continue
                try:
                    formatted[key] = style.format_entry(key, entries[key])
                except Exception as exc:  # noqa: BLE001 - reported at each citation
                    self.data.setdefault("kb_format_errors", {})[key] = str(exc)
        cited = [entries[key] for key in cited_by]
        sorting_key = getattr(getattr(style.sort, "__self__", None), "sorting_key", None)
        if sorting_key is not None:
            # pybtex sorts with sorted(entries, key=sorting_key); the keys (plain text
            # after LaTeX decoding, slow) are kept while the .bib is unchanged
            sort_keys = self.data.setdefault("kb_sort_keys", {})
            for entry in cited:
                if entry.key not in sort_keys:
                    sort_keys[entry.key] = (ahead_sort_keys[entry.key]
                                            if entry.key in ahead_sort_keys
                                            else sorting_key(entry))
            cited = sorted(cited, key=lambda entry: sort_keys[entry.key])
        else:
            cited = style.sort(cited)
        order = {entry.key: i for i, entry in enumerate(cited)}
        old_index = self.data["kb_cited_by"]
        self.data.update(kb_cited_by={k: list(v) for k, v in cited_by.items()},
                         kb_doc_keys={k: list(v) for k, v in doc_keys.items()},
                         kb_order=order)
        outdated: set[str] = set()
        if bib_changed:
            # Pages do not depend on references.bib as a whole (a new or edited entry
            # would re-read every article): rewrite exactly the pages citing a work whose
            # formatted reference changed, appeared or disappeared (a year letter that
            # moved, a fixed typo, a key that was unknown), and the bibliography page.
            old_texts = self.data.setdefault("kb_texts", {})
            plain = TextBackend()
            texts = {key: formatted[key].text.render(plain) for key in cited_by
                     if key in formatted}
            changed = {key for key in old_texts.keys() | texts.keys()
                       if old_texts.get(key) != texts.get(key)}
            if changed:
                outdated.update(ref.docname for ref in self.citation_refs
                                if any(t.key in changed for t in ref.targets))
                outdated.update(self.data["kb_bibpage"])
            self.data["kb_texts"] = texts
        # "Cited in" shows the citing pages' titles: a retitled page changes it too
        titles = self.env.titles
        cited_titles = {d: titles[d].astext() for d in doc_keys if d in titles}
        if (old_index != self.data["kb_cited_by"]
                or self.data.get("kb_cited_titles") != cited_titles):
            outdated.update(self.data["kb_bibpage"])
        self.data["kb_cited_titles"] = cited_titles
        return sorted(outdated)

    def target_doc(self, fromdocname: str) -> str | None:
        """Where a citation on *fromdocname* links: its own list, else the bibliography."""
        if fromdocname in self.data["kb_lists"]:
            return fromdocname
        return next(iter(self.data["kb_bibpage"]), None)

    def resolve_xref(self, env, fromdocname, builder, typ, target, node, contnode):
        """Each distinct citation is rendered once per build; every use gets a copy.

        The key holds what the rendered nodes depend on besides the formatted entries
        (fixed for the build): the builder, the role, the citation text (keys, pre- and
        post-text), where the link points relative to this page (an id on the same page,
        else a relative URI, as make_refnode writes it), and any ``kb_`` attribute a
        transform put on the citation node (of the works first cited there, only those
        whose first citation reads differently: ``_mark``). A citation with a key that
        cannot be cited is never cached, so its warning is given at every place it
        occurs."""
        entries, formatted = self.bibdata.data.entries, self.data["kb_formatted"]
        if not RENDER_CACHE or not all(t.key in entries and t.key in formatted
                                       for t in parse_citation_targets(target)):
            return self.resolve_citation(env, fromdocname, builder, typ, target, node,
                                         contnode)
        todocname = self.target_doc(fromdocname) or fromdocname
        link = None if todocname == fromdocname else builder.get_relative_uri(
            fromdocname, todocname)
        marks = tuple(sorted((name, repr(self._mark(name, value, entries)))
                             for name, value in node.attributes.items()
                             if name.startswith("kb_")))
        key = ("cite", builder.name, typ, target, link, marks)
        if builder.name != "html":
            return self.rendered(key, lambda: [self.resolve_citation(
                env, fromdocname, builder, typ, target, node, contnode)])[0]
        # the citation's own inline (Sphinx gives it the citation's ids) around its
        # content, prerendered
        inner = self.prerendered(key, lambda: list(self.resolve_citation(
            env, fromdocname, builder, typ, target, node, contnode).children),
            nodes.inline, builder, node)
        return nodes.inline(target, "", *inner, classes=list(CITE_CLASSES))

    def _mark(self, name: str, value, entries):
        """A citation's ``kb_`` mark as far as its rendering depends on it. The works first
        cited on the page (``kb_first``) only matter for a group with an abbreviation
        (APA 8.21): any other work's first citation is the same as its later ones, and
        shares their rendering."""
        if name != "kb_first":
            return value
        return [key for key in value if apa.first_matters(entries[key])]

    def resolve_citation(self, env, fromdocname, builder, typ, target, node, contnode):
        targets = list(parse_citation_targets(target))
        formatted = self.data["kb_formatted"]
        entries = self.bibdata.data.entries
        todocname = self.target_doc(fromdocname)
        references = []
        first_keys = node.get("kb_first")
        for tgt in targets:
            if tgt.key not in entries or tgt.key not in formatted:
                logger.warning(self.uncitable(env, tgt.key, entries), location=node,
                               type="kb", subtype="citation")
                continue
            references.append((entries[tgt.key], formatted[tgt.key], apa.CitationInfo(
                builder, fromdocname, todocname or fromdocname, entry_id(tgt.key), None,
                tgt.pre, tgt.post, first=first_keys is None or tgt.key in first_keys)))
        result = nodes.inline(rawsource=target, classes=list(CITE_CLASSES))
        if not references:
            # never the raw key: the build has failed with the reason above
            result["classes"].append("kb-cite-missing")
            result += nodes.Text("(reference missing)")
            return result
        # several works: in the reference list's order, one name for works by the same
        # authors (APA 8.12); the tooltip lists them in the same order
        order = self.data["kb_order"]
        position = lambda key: order.get(key, len(order))  # noqa: E731
        references = apa.in_citation_order(typ, references, position)
        rendered = apa.format_citation(self.reference_style, typ, references, position,
                                       ordered=True)
        result += rendered.render(self.backend)
        tips = [formatted_entry for _entry, formatted_entry, _info in references]
        tip = citation_tip(classes=["kb-cite-tip"])
        for i, entry in enumerate(tips):
            if i:
                tip += nodes.Text(" ")
            tip += entry.text.render(self.backend)
        result += tip
        return result

    def resolve_any_xref(self, env, fromdocname, builder, target, node, contnode):
        return []

    def uncitable(self, env, key: str, entries) -> str:
        """Why *key* cannot be cited, in the writer's terms: the .bib problem that kept
        its entry out (with file:line), the style's complaint, or an unknown key."""
        found = []
        for path, (_, problems) in sorted(getattr(env, "kb_bib_lint", {}).items()):
            found += [(Path(path).name, p) for p in problems
                      if p.key and p.key.lower() == key.lower()]
        if found:
            where = ", ".join(sorted({f"{name}:{p.line}" for name, p in found}))
            reasons = "; ".join(dict.fromkeys(p.message for _, p in found))
            return (f"cannot cite '{key}': its entry at {where} cannot be used: {reasons}")
        if key in entries:
            error = self.data.get("kb_format_errors", {}).get(key, "it could not be formatted")
            return (f"cannot cite '{key}': the APA style cannot format its entry in "
                    f"references.bib ({error}); run make check for how to fix it")
        return (f"unknown citation key '{key}' ({_suggest(key, entries)}add the work to "
                "references.bib, or fix the key)")


def _suggest(key: str, entries) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(entries), n=1)
    return f"did you mean '{close[0]}'? " if close else ""


class ReferencesDirective(SphinxDirective):
    """``{references}``: the works this article cites, in APA order."""

    def run(self) -> list[nodes.Node]:
        # No dependency on references.bib: env_updated rewrites the pages whose works
        # changed, so a new entry does not re-read every article.
        domain = self.env.get_domain("cite")
        if self.env.docname in domain.data["kb_lists"]:
            logger.warning("a page can have only one {references} list",
                           location=self.get_location(), type="kb", subtype="citation")
            return []
        domain.data["kb_lists"][self.env.docname] = self.lineno
        return [references_list(classes=["kb-references"])]


class CitedWorksDirective(SphinxDirective):
    """``{cited-works}``: every work cited on the site, with links to its articles."""

    def run(self) -> list[nodes.Node]:
        domain = self.env.get_domain("cite")  # rewritten by env_updated, not re-read
        domain.data["kb_bibpage"][self.env.docname] = self.lineno
        return [cited_works(classes=["kb-references", "kb-bibliography"])]


class FillReferenceLists(SphinxPostTransform):
    """Replace the placeholders with entries, and resolve the page's citations; runs
    before Sphinx resolves the other references.

    Each citation is resolved here as Sphinx's ``ReferencesResolver`` would resolve it
    (the domain's ``resolve_xref``, with the same arguments, its result put in the
    citation's place), without what that transform does for any reference first: a deep
    copy of the citation's content, which the domain never uses, and a look for a
    ``pending_xref_condition``. A citation the domain does not resolve (it always does:
    an uncitable key gets a warning and a "reference missing" text) is left to Sphinx."""

    default_priority = 5

    def run(self, **kwargs) -> None:
        domain = self.env.get_domain("cite")
        docname = self.env.docname
        seen: set[str] = set()  # each work's first citation on the page (APA 8.21)
        citations = []
        for xref in self.document.findall(addnodes.pending_xref):
            if xref.get("refdomain") == "cite":
                keys = [t.key for t in parse_citation_targets(xref["reftarget"])]
                xref["kb_first"] = [k for k in keys if k not in seen]
                seen.update(keys)
                citations.append(xref)
        for node in list(self.document.findall(references_list)):
            keys = domain.data["kb_doc_keys"].get(docname, [])
            node.replace_self(self.entry_list(domain, keys, docname, cited_in=False))
        for node in list(self.document.findall(cited_works)):
            keys = list(domain.data["kb_cited_by"])
            node.replace_self(self.entry_list(domain, keys, docname, cited_in=True))
        builder = self.env._app.builder
        for xref in citations:
            if not len(xref) or isinstance(xref[0], addnodes.pending_xref_condition):
                continue
            resolved = domain.resolve_xref(self.env, xref.get("refdoc", docname), builder,
                                           xref["reftype"], xref["reftarget"], xref, xref[0])
            if resolved is not None:
                xref.replace_self(resolved)

    def entry_list(self, domain, keys, docname, cited_in: bool) -> nodes.Element:
        order = domain.data["kb_order"]
        formatted = domain.data["kb_formatted"]
        result = nodes.bullet_list(classes=["kb-reflist"])
        for key in sorted((k for k in keys if k in formatted), key=order.__getitem__):
            item = nodes.list_item(ids=[entry_id(key)], classes=["kb-ref"])
            para = nodes.paragraph()
            para += domain.prerendered(("entry", key), lambda key=key: formatted[
                key].text.render(domain.backend), nodes.paragraph, self.env._app.builder,
                self.document)
            item += para
            if cited_in:
                item += self.cited_in(domain.data["kb_cited_by"][key], docname)
            result += item
        return result

    def cited_in(self, docnames, fromdocname) -> nodes.paragraph:
        para = nodes.paragraph(classes=["kb-cited-in"])
        para += nodes.Text("Cited in: ")
        titles = self.env.titles
        for i, target in enumerate(sorted(docnames, key=lambda d: titles[d].astext())):
            if i:
                para += nodes.Text("; ")
            xref = addnodes.pending_xref("", refdomain="std", reftype="doc",
                                         reftarget="/" + target, refexplicit=True,
                                         refdoc=fromdocname)
            xref += nodes.inline("", titles[target].astext())
            para += xref
        return para


def _visit_tip(self, node) -> None:
    self.body.append('<span class="kb-cite-tip" role="tooltip">')


def _depart_tip(self, node) -> None:
    self.body.append("</span>")


def _skip(self, node) -> None:
    raise nodes.SkipNode


def _visit_prerendered(self, node) -> None:
    self.body.append(node["kb_html"])
    raise nodes.SkipNode


def parse_bibfiles(bibfilenames: list[Path], encoding: str) -> BibData:
    """Parse each entry on its own, so one broken entry (reported with its line by
    kb.guards) does not stop the build or hide the other entries. Replaces
    sphinxcontrib-bibtex's parse, which stops at the first syntax error."""
    data = BibliographyData()
    bibfiles = {}
    seen: set[str] = set()
    for filename in bibfilenames:
        keys: dict[str, None] = {}
        try:
            text = filename.read_text(encoding=encoding)
        except (OSError, UnicodeDecodeError):
            text = ""  # reported by kb.guards
        starts = [m.start() for m in HEADER.finditer(text)] + [len(text)]
        macros = Parser(encoding)  # @string macros, in file order, as BibTeX reads them
        for start, end in zip(starts, starts[1:]):
            try:
                if re.match(r"\s*@\s*string\b", text[start:end], re.I):
                    macros.parse_string(text[start:end])
                    continue
                parsed = Parser(encoding, macros=macros.macros).parse_string(text[start:end])
            except Exception:  # noqa: BLE001 - the entry's problem is reported with its line
                continue
            for key, entry in parsed.entries.items():
                if key.lower() in seen:
                    continue  # duplicate: reported by kb.guards
                seen.add(key.lower())
                data.add_entry(key, entry)
                keys[key] = None
        bibfiles[filename] = BibFile(mtime=get_mtime(filename), keys=keys)
    return BibData(encoding=encoding, bibfiles=bibfiles, data=data)


def _builder_inited_cite(app: Sphinx) -> None:
    """sphinxcontrib-bibtex's own handler, with the robust parse above."""
    domain = app.env.get_domain("cite")
    domain.reference_style = find_plugin("sphinxcontrib.bibtex.style.referencing",
                                         app.config.bibtex_reference_style)()
    if app.config.bibtex_bibfiles is None:
        raise ExtensionError("You must configure the bibtex_bibfiles setting")
    bibfiles = [(Path(app.confdir) / f).resolve() for f in app.config.bibtex_bibfiles]
    encoding = app.config.bibtex_encoding
    if is_bibdata_outdated(domain.bibdata, bibfiles, encoding):
        domain.data["bibdata"] = parse_bibfiles(bibfiles, encoding)


def _line(ref) -> int:
    return ref.line or 0


def cited_keys(refs, entries) -> tuple[dict, dict]:
    """From the citations *refs*, in page order and in the order of the lines of each
    page: each key of *entries* cited, with the pages citing it ({key: {page: None}},
    ordered sets), and each page's keys ({page: {key: None}}). Unknown keys are left
    out (reported where they are cited). Each page's citations are sorted apart, and
    each key looked up once (pybtex's case-insensitive look-up is Python code): at 2,000
    articles, 48,000 citations sorted as one list and 50,000 look-ups took most of this
    step's 0.2 s in every build."""
    by_page: dict[str, list] = defaultdict(list)
    for ref in refs:
        by_page[ref.docname].append(ref)
    known: dict[str, bool] = {}
    cited_by: dict[str, dict[str, None]] = defaultdict(dict)
    doc_keys: dict[str, dict[str, None]] = {}
    for docname in sorted(by_page):
        page = by_page[docname]
        page.sort(key=_line)  # stable, as the one sort by (page, line) was
        keys: dict[str, None] = {}
        for ref in page:
            for target in ref.targets:
                key = target.key
                found = known.get(key)
                if found is None:
                    found = known[key] = key in entries
                if found:
                    keys[key] = None
        if keys:
            doc_keys[docname] = keys
            for key in keys:
                cited_by[key][docname] = None
    return cited_by, doc_keys


def _bibliography_pages(app: Sphinx, env) -> list[str]:
    """The site bibliography lists every cited work: written first in a parallel write
    (kb.upstream)."""
    return list(env.get_domain("cite").data["kb_bibpage"])


def _format_ahead(app: Sphinx) -> None:
    """kb-reading-in-workers (kb.upstream): the .bib formatted beside the reading."""
    app.env.get_domain("cite").format_ahead()


def setup_citations(app: Sphinx) -> None:
    apa.register()
    app.setup_extension("sphinxcontrib.bibtex")
    for listener in list(app.events.listeners["builder-inited"]):
        if listener.handler is sphinxcontrib.bibtex.builder_inited_cite:
            app.disconnect(listener.id)
    app.connect("builder-inited", _builder_inited_cite)
    app.add_domain(KBBibtexDomain, override=True)
    app.add_directive("references", ReferencesDirective)
    app.add_directive("cited-works", CitedWorksDirective)
    app.add_node(references_list)
    app.add_node(cited_works)
    app.add_node(citation_tip, html=(_visit_tip, _depart_tip),
                 text=(_skip, None), latex=(_skip, None), man=(_skip, None),
                 texinfo=(_skip, None))
    app.add_node(prerendered, html=(_visit_prerendered, None))
    app.add_post_transform(FillReferenceLists)
    app.connect("kb-write-first", _bibliography_pages)
    app.connect("kb-reading-in-workers", _format_ahead)
