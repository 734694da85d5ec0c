"""kb.upstream: the memoised pybtex plugin look-up gives the same plugins, looks each up
once, and leaves another pybtex version alone; plain text skips the LaTeX decoder only
where the decoder would return it unchanged."""

from __future__ import annotations

import codecs
import importlib
import importlib.metadata
import itertools
import os
import re
import time

import pybtex.plugin
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from docutils import nodes
from pybtex.richtext import Text
from pathlib import Path

from kb import upstream

importlib.import_module("latexcodec")  # registers the ulatex codec

LOOKUPS = (("pybtex.database.input", "bibtex"), ("pybtex.backends", "text"),
           ("pybtex.style.formatting", "apa7"), ("pybtex.style.formatting", "plain"))


@pytest.fixture
def fresh_plugin_module(monkeypatch):
    """pybtex.plugin with its original entry_points, restored after the test."""
    monkeypatch.setattr(pybtex.plugin, "entry_points", importlib.metadata.entry_points)
    return pybtex.plugin


def test_same_plugins_and_one_lookup_each(fresh_plugin_module, monkeypatch):
    from kb import apa

    apa.register()
    expected = {(g, n): pybtex.plugin.find_plugin(g, n) for g, n in LOOKUPS}
    calls = []
    real = importlib.metadata.entry_points

    def counting(**params):
        calls.append(tuple(sorted(params.items())))
        return real(**params)

    monkeypatch.setattr(pybtex.plugin, "entry_points", counting)
    monkeypatch.setattr(importlib.metadata, "entry_points", counting)
    assert upstream.patch_pybtex_plugin_lookup()
    for _ in range(3):
        for group, name in LOOKUPS:
            assert pybtex.plugin.find_plugin(group, name) is expected[group, name]
    assert len(calls) == len(set(calls))  # one look-up per (group, name), not per call
    with pytest.raises(pybtex.plugin.PluginNotFound):
        pybtex.plugin.find_plugin("pybtex.backends", "no-such-backend")
    assert upstream.patch_pybtex_plugin_lookup()  # applying twice is harmless


def test_runtime_plugins_still_win(fresh_plugin_module):
    upstream.patch_pybtex_plugin_lookup()

    class Mine(pybtex.plugin.Plugin):
        pass

    pybtex.plugin.register_plugin("pybtex.backends", "kb-test-backend", Mine)
    assert pybtex.plugin.find_plugin("pybtex.backends", "kb-test-backend") is Mine


def test_other_pybtex_versions_are_left_alone(fresh_plugin_module, monkeypatch):
    monkeypatch.setattr(upstream, "_pybtex_version", lambda: "0.27.0")
    assert not upstream.patch_pybtex_plugin_lookup()
    assert pybtex.plugin.entry_points is importlib.metadata.entry_points


def test_the_pinned_version_gets_it():
    assert upstream._pybtex_version() in upstream.PYBTEX_VERSIONS
    assert upstream.patch_pybtex_plugin_lookup()
    assert getattr(pybtex.plugin.entry_points, "kb_memoised", False)


# -- plain text and the LaTeX decoder ---------------------------------------------------

#: every printable ASCII character, the whitespace the decoder folds, and a few others
ALPHABET = [chr(i) for i in range(32, 127)] + ["\t", "\n", "\r", "\xa0", "\u2009", "é",
                                                "ß", "\u2014", "\u2019", "Ω", "中"]


def unchanged_by_decoder(text: str) -> bool:
    try:
        return codecs.decode(text, "ulatex") == text
    except (UnicodeDecodeError, ValueError, IndexError):
        return False


def test_plain_latex_is_what_the_decoder_leaves_alone_exhaustively():
    """Every string of up to two characters (and every three-character string over the
    characters and pairs the decoder acts on) that the pattern calls plain is returned
    unchanged by latexcodec, and the pattern still sends the rest to the decoder."""
    plain = 0
    for size in (1, 2):
        for chars in itertools.product(ALPHABET, repeat=size):
            text = "".join(chars)
            if upstream.PLAIN_LATEX.fullmatch(text):
                plain += 1
                assert unchanged_by_decoder(text), repr(text)
    tricky = list(" -',`!?$~%\\{}a.\n")
    for chars in itertools.product(tricky, repeat=3):
        text = "".join(chars)
        if upstream.PLAIN_LATEX.fullmatch(text):
            assert unchanged_by_decoder(text), repr(text)
    assert plain > 8000  # most of them are plain: the fast path is the common one
    for changed in ("a--b", "a---b", "``a''", "a,,b", "a~b", "{\\'e}", "a  b", " a", "a ",
                    "a\nb", "50%", "$x$", "?`", 'Fl{\\"u}ckiger'):
        assert not upstream.PLAIN_LATEX.fullmatch(changed), changed


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET + ["\\'", "--", "''", "  "]), max_size=40)
       .map("".join))
def test_patched_from_latex_gives_what_pybtex_gives(text):
    """For any text, the patched ``Text.from_latex`` returns what pybtex's own does (or
    fails as it fails); the fast path is taken only for plain text."""
    assert upstream.patch_pybtex_plain_latex()
    original = Text.from_latex.kb_original
    try:
        expected = original(Text, text)
    except Exception as error:  # noqa: BLE001 - compared below
        with pytest.raises(type(error)):
            Text.from_latex(text)
        return
    assert Text.from_latex(text) == expected
    if upstream.PLAIN_LATEX.fullmatch(text):
        assert unchanged_by_decoder(text)


def test_plain_latex_patch_only_for_the_pinned_versions(monkeypatch):
    assert upstream.patch_pybtex_plain_latex()
    original = Text.from_latex.kb_original
    monkeypatch.setattr(Text, "from_latex", classmethod(original))
    monkeypatch.setattr(upstream, "_version", lambda name: "9.9")
    assert not upstream.patch_pybtex_plain_latex()  # another latexcodec or pybtex
    assert Text.__dict__["from_latex"].__func__ is original
    monkeypatch.undo()
    monkeypatch.setattr(Text, "from_latex", classmethod(original))
    assert upstream.patch_pybtex_plain_latex()
    assert Text.from_latex.kb_plain and upstream.patch_pybtex_plain_latex()  # once
    assert Text.from_latex.kb_original is original
    assert str(Text.from_latex('Fl{\\"u}ckiger -- a study')) == "Flückiger \u2013 a study"


# -- docutils' tree searches ------------------------------------------------------------

def both_findalls(make_tree, condition, script=None):
    """(docutils' result, the patched result) of a search of ``make_tree()``: the nodes
    found, in order, and the tree left (``script(i, node)`` runs at each node found)."""
    assert upstream.patch_docutils_findall()
    results = []
    try:
        for fast, all_ in ((upstream._findall.kb_original, upstream._findall_all.kb_original),
                           (upstream._findall, upstream._findall_all)):
            nodes.Node._fast_findall, nodes.Node._superfast_findall = fast, all_
            tree = make_tree()
            seen = []
            for i, node in enumerate(tree.findall(condition)):
                seen.append(_label(node))
                if script:
                    script(i, node)
            results.append((seen, tree.pformat()))
    finally:
        nodes.Node._fast_findall = upstream._findall
        nodes.Node._superfast_findall = upstream._findall_all
    return results


def _label(node):
    return str(node) if isinstance(node, nodes.Text) else f"{node.tagname}{node.get('ids')}"


def test_findall_same_on_the_sites_pages(site):
    """Every page of the real site: the same nodes in the same order, for the searches
    transforms make (a class, a base class, no condition)."""
    for docname in sorted(site.env.found_docs):
        for condition in (nodes.Text, nodes.reference, nodes.TextElement, nodes.Element,
                          nodes.section, None):
            old, new = both_findalls(lambda: site.env.get_doctree(docname), condition)
            assert old == new, (docname, condition)
            assert old[0] or condition in (nodes.reference, nodes.section), docname


#: what a transform may do to the tree while it searches it, at the n-th node found
EDITS = ("remove", "replace", "append", "clear", "insert-before", "new-list", "none")


@st.composite
def trees_and_edits(draw):
    counter = iter(range(10**6))

    def make(depth):
        node = nodes.inline(ids=[f"n{next(counter)}"]) if depth else nodes.paragraph(
            ids=[f"n{next(counter)}"])
        for _ in range(draw(st.integers(0, 3 if depth < 4 else 0))):
            if draw(st.integers(0, 3)) == 0:
                node += nodes.Text(f"t{next(counter)}")
            else:
                node += make(depth + 1)
        return node

    shape_seed = draw(st.integers(0, 2**32))
    tree = make(0)
    edits = draw(st.lists(st.tuples(st.integers(0, 15), st.sampled_from(EDITS)),
                          min_size=1, max_size=6))
    return shape_seed, tree, dict(edits)


def _edit(what, node):
    parent = node.parent
    if what == "remove" and parent is not None:
        parent.remove(node)
    elif what == "replace" and parent is not None:
        parent.replace(node, nodes.emphasis(ids=["new"], text="x"))
    elif what == "append" and isinstance(node, nodes.Element):
        node += nodes.strong(ids=["added"], text="y")
    elif what == "clear" and isinstance(node, nodes.Element):
        node.clear()
    elif what == "insert-before" and parent is not None:
        parent.insert(parent.index(node), nodes.literal(ids=["before"], text="z"))
    elif what == "new-list" and isinstance(node, nodes.Element):
        node.children = [nodes.Text("fresh")]


@settings(max_examples=300, deadline=None)
@given(trees_and_edits(), st.sampled_from([nodes.Text, nodes.inline, nodes.Element,
                                           nodes.TextElement, None]))
def test_findall_same_while_the_tree_changes(case, condition):
    """Random trees, changed while they are searched (a node removed, replaced, given
    children or new ones, a sibling inserted): the same nodes found, the same tree left."""
    _seed, tree, edits = case

    def script(i, node):
        if i in edits:
            _edit(edits[i], node)

    old, new = both_findalls(lambda: tree.deepcopy(), condition, script)
    assert old == new


# -- a document's census of node classes ------------------------------------------------

from sphinx import addnodes  # noqa: E402

#: Classes the random documents are made of, and classes searched (with base classes).
CENSUS_CLASSES = [nodes.paragraph, nodes.inline, nodes.emphasis, nodes.strong,
                  nodes.literal, nodes.section, nodes.title, nodes.reference, nodes.image,
                  nodes.table, nodes.footnote, nodes.literal_block, nodes.bullet_list,
                  nodes.list_item, nodes.note, addnodes.pending_xref]
SEARCHED = CENSUS_CLASSES + [nodes.Text, nodes.Element, nodes.TextElement, nodes.Inline,
                             nodes.Body, nodes.General, nodes.Admonition, nodes.Invisible,
                             nodes.document, nodes.target]
CENSUS_OPS = ("append", "insert", "replace", "replace_self", "remove", "clear",
              "slice", "extend", "search", "pickle", "deepcopy", "build-then-attach")


def _subtree(kinds: list, text: str):
    """A detached node of kinds[0] holding a chain of kinds[1:], text at the bottom."""
    top = node = kinds[0]()
    for kind in kinds[1:]:
        child = kind()
        node += child
        node = child
    node += nodes.Text(text)
    return top


@st.composite
def census_scripts(draw):
    kinds = st.lists(st.sampled_from(CENSUS_CLASSES), min_size=1, max_size=3)
    return draw(st.lists(st.tuples(st.sampled_from(CENSUS_OPS), st.integers(0, 40), kinds,
                                   st.sampled_from(SEARCHED)),
                         min_size=1, max_size=25))


def _walked(document, cls) -> list:
    return list(upstream._findall.kb_original(document, cls))


@settings(max_examples=400, deadline=None)
@given(census_scripts())
def test_a_documents_census_answers_as_a_walk_would(script):
    """Random documents changed by random sequences of docutils' own operations (nodes and
    whole subtrees appended, inserted, replaced, removed, cleared, slices assigned, the
    document pickled or copied), searched in between for classes and base classes: a
    search that the census answers finds exactly what a walk finds, and the census holds
    every class in the document."""
    import pickle

    from docutils.utils import new_document

    assert upstream.patch_docutils_findall() and upstream.patch_docutils_setup_child()
    document = new_document("census-test")
    document += _subtree([nodes.section, nodes.title], "Title")
    document += _subtree([nodes.paragraph, nodes.emphasis], "text")
    for n, (op, at, kinds, searched) in enumerate(script):
        elements = [node for node in _walked(document, nodes.Element)
                    if node is not document]
        target = elements[at % len(elements)] if elements else None
        new = _subtree(kinds, f"t{n}")
        if op == "append" and target is not None:
            target += new
        elif op == "insert" and target is not None:
            target.insert(at % (len(target) + 1), new)
        elif op == "replace" and target is not None and target.parent is not None:
            target.parent.replace(target, new)
        elif op == "replace_self" and target is not None and target.parent is not None:
            target.replace_self([new, _subtree(kinds[::-1], "r")])
        elif op == "remove" and target is not None and target.parent is not None:
            target.parent.remove(target)
        elif op == "clear" and target is not None:
            target.clear()
        elif op == "slice" and target is not None:
            target[0:1] = [new]
        elif op == "extend" and target is not None:
            target.extend([new, nodes.Text("more")])
        elif op == "pickle":
            document = pickle.loads(pickle.dumps(document, pickle.HIGHEST_PROTOCOL))
            assert document.__dict__.get("_kb_census") is None  # never kept with it
        elif op == "deepcopy":
            document = document.deepcopy()
        elif op == "build-then-attach":  # a subtree built apart, then put in at once
            holder = nodes.container()
            holder += new
            holder += _subtree(kinds, "b")
            (target if target is not None else document).append(holder)
        found = list(document.findall(searched))  # census or walk
        assert [id(n) for n in found] == [id(n) for n in _walked(document, searched)], (
            op, searched)
        census = document.__dict__.get("_kb_census")
        if census is not None:
            assert {node.__class__ for node in _walked(document, nodes.Node)} <= census[0]


def test_the_census_answers_without_walking_for_a_class_the_document_never_held():
    from docutils.utils import new_document

    assert upstream.patch_docutils_findall() and upstream.patch_docutils_setup_child()
    document = new_document("census-test")
    document += _subtree([nodes.section, nodes.paragraph], "text")
    assert list(document.findall(nodes.image)) == []  # takes the census
    walks = []
    original = upstream._findall_all

    class Counting(nodes.Node):
        pass

    try:
        upstream._findall_all = lambda node: walks.append(node) or original(node)
        for _ in range(3):
            assert list(document.findall(nodes.image)) == []
            assert list(document.findall(nodes.table)) == []
        assert walks == []  # answered from the census
        paragraph = next(iter(document.findall(nodes.paragraph)))
        paragraph += nodes.image(uri="x.png")
        assert [n["uri"] for n in document.findall(nodes.image)] == ["x.png"]
    finally:
        upstream._findall_all = original


def test_a_node_put_in_without_docutils_methods_is_caught_by_the_check(monkeypatch):
    """The census's limit, and the check the test suite runs every build with: a node
    put straight into a ``children`` list after the census was taken is not counted;
    with the check on, the search that would miss it raises, naming it."""
    from docutils.utils import new_document

    assert upstream.patch_docutils_findall() and upstream.patch_docutils_setup_child()
    document = new_document("census-test")
    document += _subtree([nodes.paragraph], "text")
    assert list(document.findall(nodes.image)) == []
    document.children[0].children.append(nodes.image(uri="sneaked.png"))
    monkeypatch.setattr(upstream, "CENSUS_CHECK", True)
    with pytest.raises(upstream.CensusError, match="<image> node"):
        list(document.findall(nodes.image))
    monkeypatch.setattr(upstream, "CENSUS_CHECK", False)
    assert list(document.findall(nodes.image)) == []  # what the check guards against
    monkeypatch.setattr(upstream, "CENSUS", False)
    assert len(list(document.findall(nodes.image))) == 1


def test_the_test_suite_runs_every_build_with_the_census_check():
    assert os.environ.get("KB_CENSUS_CHECK") == "1" and upstream.CENSUS_CHECK


# -- docutils' Text.astext ------------------------------------------------------------------

@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", " ", "\n", "\x00", "\\", "é", "\u2019"]),
               max_size=12))
@example("")
@example("plain text")
@example("\x00 \x00\n\x00")
def test_text_astext_gives_what_docutils_gives(text):
    assert upstream.patch_docutils_text_astext()
    node = nodes.Text(text)
    ours, theirs = node.astext(), upstream._text_astext.kb_original(node)
    assert ours == theirs and type(ours) is str and type(theirs) is str


# -- docutils' smart quotes --------------------------------------------------------------

SMART_ALPHABET = [chr(i) for i in range(32, 127)] + [
    "\u201c", "\u201d", "\u2018", "\u2019", "\u2013", "\u2014", "\u2026", "\xa0",
    "\n", "é", "ß"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(SMART_ALPHABET), max_size=20),
                min_size=1, max_size=4),
       st.sampled_from(["qDe", "1", "2", "3", "qbBdDiew", "qDew", "b", "e"]),
       st.sampled_from(["en", "de", "fr", "en-x-altquot", ""]))
def test_smart_quotes_leave_text_without_active_characters_alone(texts, action, language):
    """What the fast path assumes: docutils' replacements return text that holds none of
    SMARTQUOTES_ACTIVE as it is, whatever the action (but stupefy) and language."""
    from docutils.utils.smartquotes import educate_tokens

    texts = [text for text in texts if not upstream.SMARTQUOTES_ACTIVE.search(text)]
    tokens = [("plain" if i % 3 else "literal", text) for i, text in enumerate(texts)]
    assert list(educate_tokens(tokens, attr=action, language=language)) == texts


#: pieces of reStructuredText and of Markdown for random documents: plain words, quotes,
#: dashes, ellipses, escapes, inline markup, literals, another language (rST)
PIECES = {
    "rst": ["word", "Words here", "\"quoted\"", "'single'", "it's", "--", "---", "...",
            ". . .", "\\\"", "``code 'x' --``", "*emph \"a\"*", "**b**", "&quot;", "`ref`_",
            "a-b", "x..y", "1980s", "(see)", ":literal:`'x'`", "\u201ccurly\u201d"],
    "md": ["word", "Words here", "\"quoted\"", "'single'", "it's", "--", "---", "...",
           ". . .", "\\\"", "`code 'x' --`", "*emph \"a\"*", "**b**", "&quot;", "&amp;",
           "[a link](https://example.org)", "a-b", "x..y", "1980s", "(see)",
           "\u201ccurly\u201d", "\n"],
}


@st.composite
def documents(draw, syntax):
    paragraphs = []
    for _ in range(draw(st.integers(1, 4))):
        words = draw(st.lists(st.sampled_from(PIECES[syntax]), min_size=1, max_size=8))
        paragraph = " ".join(words)
        if syntax == "rst" and draw(st.integers(0, 3)) == 0:
            # a language with quotes of its own, and one with none (a warning, once)
            language = draw(st.sampled_from(["de", "fr", "xx", "de-x-altquot"]))
            paragraph = f".. class:: language-{language}\n\n" + paragraph
        paragraphs.append(paragraph)
    links = "\n\n.. _ref: https://example.org\n" if syntax == "rst" else "\n"
    return "\n\n".join(paragraphs) + links


def _smart_doctree(source: str, syntax: str, action: str) -> str:
    from docutils.core import publish_doctree
    from docutils.transforms.universal import SmartQuotes
    from myst_parser.docutils_ import Parser as MystParser

    import io

    SmartQuotes.smartquotes_action = action
    warnings = io.StringIO()
    try:
        doctree = publish_doctree(
            source, parser=MystParser() if syntax == "md" else None, settings_overrides={
                "smart_quotes": True, "report_level": 2, "halt_level": 5,
                "warning_stream": warnings})
    finally:
        del SmartQuotes.smartquotes_action  # back to the class's own
    texts = [(str(t), t.source, t.line, t.parent.tagname, t.document is doctree)
             for t in doctree.findall(nodes.Text)]
    return doctree.pformat() + repr(texts) + warnings.getvalue()


@settings(max_examples=150, deadline=None)
@example(("md", "[a link](https://example.org) [a link](https://example.org) [a](x)\n"),
         "qDe")  # equal pieces of text side by side: docutils replaces the first twice
@given(st.sampled_from(["rst", "md"]).flatmap(
           lambda syntax: st.tuples(st.just(syntax), documents(syntax))),
       st.sampled_from(["qDe", "qbBdDiew", "-1", "1"]))
def test_smart_quotes_patched_transform_gives_docutils_result(document, action):
    """docutils' own transform and the patched one give the same tree, from
    reStructuredText and from MyST Markdown: the same text, and each piece of text with
    the same source, line, parent and document."""
    from docutils.transforms.universal import SmartQuotes

    syntax, source = document
    assert upstream.patch_docutils_smartquotes()
    original = upstream._smartquotes_apply.kb_original
    SmartQuotes.apply = original
    try:
        want = _smart_doctree(source, syntax, action)
    finally:
        SmartQuotes.apply = upstream._smartquotes_apply
    assert _smart_doctree(source, syntax, action) == want


# -- MyST's default document ---------------------------------------------------------------

def test_myst_default_document_settings_as_docutils_gives_them():
    """The cached ``make_document`` gives what MyST's own gives: the same settings (a
    dependency list of its own each time), for each parser class, and documents that
    share no settings object."""
    from docutils.parsers.rst import Parser as RSTParser
    from myst_parser.docutils_ import Parser as MystParser
    from myst_parser.mdit_to_docutils import base

    assert upstream.patch_myst_make_document()
    assert upstream.patch_myst_make_document()  # once
    original = base.make_document.kb_original
    for parser_cls in (RSTParser, MystParser, RSTParser):
        for _ in range(2):
            want = vars(original("here.md", parser_cls).settings)
            first = base.make_document("here.md", parser_cls)
            got = vars(first.settings)
            assert set(got) == set(want)
            assert {k: v for k, v in got.items() if k != "record_dependencies"} == {
                k: v for k, v in want.items() if k != "record_dependencies"}
            assert type(got["record_dependencies"]) is type(want["record_dependencies"])
            assert first["source"] == "here.md"
            second = base.make_document(parser_cls=parser_cls)
            assert second.settings is not first.settings
            assert (second.settings.record_dependencies
                    is not first.settings.record_dependencies)
            first.settings.report_level = 99  # a document's own change stays its own
            assert base.make_document(parser_cls=parser_cls).settings.report_level != 99


# -- Sphinx's per-page settings and code-block walk ----------------------------------------

def test_page_settings_as_sphinx_makes_them():
    """Each page's settings: what Sphinx's own gives (a dependency list of their own), a
    copy of their own, and new settings when a default is a new value."""
    from docutils.readers import standalone
    from myst_parser.parsers.sphinx_ import MystParser
    import sphinx.util.docutils as sphinx_docutils

    assert upstream.patch_sphinx_page_settings()
    assert upstream.patch_sphinx_page_settings()  # once
    patched = sphinx_docutils._get_settings
    original = patched.kb_original
    locales: list = []
    defaults = {"traceback": True, "language_code": "en", "smartquotes_locales": locales,
                "halt_level": 5}
    want = vars(original(standalone.Reader, MystParser, defaults=dict(defaults),
                         read_config_files=True))
    first = patched(standalone.Reader, MystParser, defaults=dict(defaults),
                    read_config_files=True)
    second = patched(standalone.Reader, MystParser, defaults=dict(defaults),
                     read_config_files=True)
    for got in (vars(first), vars(second)):
        assert set(got) == set(want)
        assert {k: v for k, v in got.items() if k != "record_dependencies"} == {
            k: v for k, v in want.items() if k != "record_dependencies"}
    assert first is not second
    assert first.record_dependencies is not second.record_dependencies
    assert first.smartquotes_locales is locales  # the defaults' own objects, as Sphinx's
    first.report_level = 99
    assert patched(standalone.Reader, MystParser, defaults=dict(defaults),
                   read_config_files=True).report_level != 99
    changed = patched(standalone.Reader, MystParser,
                      defaults={**defaults, "language_code": "de"}, read_config_files=True)
    assert changed.language_code == "de"
    other = patched(standalone.Reader, MystParser,
                    defaults={**defaults, "smartquotes_locales": [("de", "<>")]},
                    read_config_files=True)
    assert other.smartquotes_locales == [("de", "<>")]  # a new value, not an equal key
    assert patched(standalone.Reader, defaults=dict(defaults)).__dict__.keys() == vars(
        original(standalone.Reader, defaults=dict(defaults))).keys()
    # a new parser object for each page, as Sphinx makes them: made once (a settings
    # object made again has a list of configuration files of its own)
    pages = [patched(standalone.Reader, MystParser(), defaults=dict(defaults),
                     read_config_files=True) for _ in range(3)]
    assert pages[0]._config_files is pages[1]._config_files is pages[2]._config_files
    assert vars(pages[0]).keys() == want.keys()

    class OtherParser(MystParser):
        settings_spec = MystParser.settings_spec + ("More", None, (
            ("An extra setting", ["--kb-extra"], {"default": "x"}),))

    other = patched(standalone.Reader, OtherParser(), defaults=dict(defaults),
                    read_config_files=True)
    assert other.kb_extra == "x" and other._config_files is not pages[0]._config_files


def _with_code(doctree):
    """*doctree* with a ``highlight`` setting and two code blocks after it."""
    from sphinx import addnodes

    doctree += addnodes.highlightlang(lang="python", force=False, linenothreshold=2)
    doctree += nodes.literal_block("x = 1\ny = 2\n", "x = 1\ny = 2\n")
    doctree += nodes.literal_block("a", "a", language="text")
    return doctree


def test_code_block_walk_skipped_only_where_it_changes_nothing(site):
    """Every page of the site, as read and with code blocks added: the same tree after
    the patched transform as after Sphinx's."""
    from sphinx.transforms.post_transforms.code import HighlightLanguageTransform

    assert upstream.patch_sphinx_highlight() and upstream.patch_sphinx_highlight()
    original = upstream._highlight_apply.kb_original
    with_code = 0
    for docname in sorted(site.env.found_docs):
        for make in (lambda: site.env.get_doctree(docname),
                     lambda: _with_code(site.env.get_doctree(docname))):
            trees = []
            for apply in (original, upstream._highlight_apply):
                doctree = make()
                apply(HighlightLanguageTransform(doctree))
                trees.append(doctree.pformat())
            assert trees[0] == trees[1], docname
            with_code += "literal_block" in trees[1]
    assert with_code >= len(site.env.found_docs)
    assert "highlightlang" not in trees[1] and 'language="python"' in trees[1]


# -- docutils' setup_child and Sphinx's asset checksums --------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10),
                          st.sampled_from(["append", "insert", "text", "adopt"]),
                          st.booleans()), max_size=25),
       st.booleans())
def test_setup_child_gives_children_what_docutils_gives(steps, attached):
    """Trees built node by node, under a document (with a current source and line) or
    not, with subtrees adopted from another document (whose nodes still name it): each
    node gets the same parent, document, source and line from both versions."""
    assert upstream.patch_docutils_setup_child() and upstream.patch_docutils_setup_child()
    results = []
    for setup in (upstream._setup_child.kb_original, upstream._setup_child):
        nodes.Node.setup_child = setup
        try:
            doc = nodes.document(None, None)
            doc.current_source, doc.current_line = "here.md", 7
            other = nodes.document(None, None)
            other.current_source, other.current_line = "there.md", 3
            names = {id(doc): "doc", id(other): "other", id(None): None}
            root = nodes.section()
            if attached:
                doc += root
            made = [root]
            for i, (where, how, sourced) in enumerate(steps):
                parent = made[where % len(made)]
                if not isinstance(parent, nodes.Element):
                    parent = root
                if how == "adopt":  # built in the other document, then moved here
                    holder = nodes.paragraph(ids=[f"h{i}"])
                    other += holder
                    holder += nodes.inline(ids=[f"n{i}"])
                    other.remove(holder)
                    parent.append(holder)
                    made += [holder, holder[0]]
                    continue
                child = nodes.Text(f"t{i}") if how == "text" else nodes.inline(ids=[f"n{i}"])
                if sourced and how != "text":
                    child.source, child.line = "own.md", i
                if how == "insert":
                    parent.insert(0, child)
                else:
                    parent.append(child)
                made.append(child)
            results.append([(_label(n), n.parent is not None and _label(n.parent),
                             names[id(n.document)], n.source, n.line) for n in made])
        finally:
            nodes.Node.setup_child = upstream._setup_child
    assert results[0] == results[1]


def test_asset_checksums_as_sphinx_gives_them(tmp_path):
    import sphinx.builders.html as html
    from sphinx.errors import ThemeError

    assert upstream.patch_sphinx_asset_checksums() and upstream.patch_sphinx_asset_checksums()
    original = html._file_checksum.kb_original
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "a.css").write_text("body {}\r\n")
    for name in ("_static/a.css", "_static/missing.js", "https://example.org/x.js",
                 Path("_static/a.css")):
        assert html._file_checksum(tmp_path, name) == original(tmp_path, name)
        assert html._file_checksum(tmp_path, name) == original(tmp_path, name)  # kept
    assert html._file_checksum(tmp_path, "_static/a.css") != ""
    for _ in range(2):  # refused every time, not kept
        with pytest.raises(ThemeError):
            html._file_checksum(tmp_path, "_static/a.css?v=1")


# -- every patch: applied once, for the pinned versions only -------------------------------

def _patched_places(patch: str) -> list:
    """Where *patch* (applied) puts its code: (owner, attribute, the upstream original)."""
    for name in PATCHES:  # each entry below names the original its patch kept
        assert getattr(upstream, name)()
    import sphinx.builders.html as html
    import sphinx.util.docutils as sphinx_docutils
    from docutils.transforms.universal import SmartQuotes
    import myst_parser.parsers.sphinx_ as sphinx_parser
    from myst_parser.mdit_to_docutils import base
    from sphinx.environment import BuildEnvironment
    from sphinx.events import EventManager
    from sphinx.transforms.post_transforms.code import HighlightLanguageTransform

    return {
        "patch_docutils_findall": [
            (nodes.Node, "_fast_findall", upstream._findall.kb_original),
            (nodes.Node, "_superfast_findall", upstream._findall_all.kb_original)],
        "patch_docutils_smartquotes": [
            (SmartQuotes, "apply", upstream._smartquotes_apply.kb_original)],
        "patch_docutils_setup_child": [
            (nodes.Node, "setup_child", upstream._setup_child.kb_original)],
        "patch_myst_make_document": [
            (base, "make_document", base.make_document.kb_original)],
        "patch_sphinx_page_settings": [
            (sphinx_docutils, "_get_settings", sphinx_docutils._get_settings.kb_original)],
        "patch_sphinx_highlight": [
            (HighlightLanguageTransform, "apply", upstream._highlight_apply.kb_original)],
        "patch_sphinx_asset_checksums": [
            (html, "_file_checksum", html._file_checksum.kb_original)],
        "patch_sphinx_partial_titles": [
            (html.StandaloneHTMLBuilder, "render_partial",
             upstream._rendered_title_parts.kb_original)],
        "patch_myst_wordcount": [
            (sphinx_parser, "create_md_parser", _wordcount_wrapper().kb_original)],
        "patch_sphinx_event_messages": [
            (EventManager, "emit", EventManager.emit.kb_original)],
        "patch_docutils_text_astext": [
            (nodes.Text, "astext", upstream._text_astext.kb_original)],
        "patch_sphinx_relfn2path": [
            (BuildEnvironment, "relfn2path", upstream._relfn2path.kb_original)],
    }[patch]


def _wordcount_wrapper():
    """patch_myst_wordcount's wrapper, wherever it is in the chain of wrappers of MyST's
    create_md_parser (kb.allowlist wraps it too)."""
    import myst_parser.parsers.sphinx_ as sphinx_parser

    wrapper = sphinx_parser.create_md_parser
    while not getattr(wrapper, "kb_no_wordcount", False):
        wrapper = wrapper.kb_original
    return wrapper


PATCHES = ["patch_docutils_findall", "patch_docutils_smartquotes",
           "patch_docutils_setup_child", "patch_myst_make_document",
           "patch_sphinx_page_settings", "patch_sphinx_highlight",
           "patch_sphinx_asset_checksums", "patch_sphinx_partial_titles",
           "patch_myst_wordcount", "patch_sphinx_event_messages",
           "patch_docutils_text_astext", "patch_sphinx_relfn2path"]


@pytest.mark.parametrize("patch", PATCHES)
def test_each_patch_applies_once_and_only_to_its_pinned_version(monkeypatch, patch):
    import sphinx

    apply = getattr(upstream, patch)
    assert apply() and apply()  # applied, and applying again changes nothing
    places = _patched_places(patch)
    patched = [getattr(owner, name) for owner, name, _ in places]
    assert all(now is not original for now, (_, _, original) in zip(patched, places))
    for owner, name, original in places:
        monkeypatch.setattr(owner, name, original)
    monkeypatch.setattr(upstream, "_version", lambda name: "99.0")
    monkeypatch.setattr(sphinx, "version_info", (99, 0, 0, "final", 0))
    assert not apply()  # another version: its own code
    assert all(getattr(owner, name) is original for owner, name, original in places)
    monkeypatch.undo()
    assert [getattr(owner, name) for owner, name, _ in places] == patched


def test_the_pinned_versions_are_installed():
    import sphinx

    assert upstream._version("docutils") in upstream.DOCUTILS_VERSIONS
    assert upstream._version("myst-parser") in upstream.MYST_VERSIONS
    assert upstream._version("latexcodec") in upstream.LATEXCODEC_VERSIONS
    assert sphinx.version_info[:2] in upstream.SPHINX_VERSIONS


class FakeBuilder:
    """Records which of Sphinx's read/write paths ran."""

    def __init__(self):
        self.calls = []

    def _read_parallel(self, docnames, nproc):
        import sphinx.builders  # how Sphinx's _read_parallel would cut the pages

        self.calls.append(("read parallel", len(docnames), nproc))
        self.read_chunks = sphinx.builders.make_chunks(docnames, nproc)

    def _read_serial(self, docnames):
        self.calls.append(("read serial", len(docnames)))

    def _write_parallel(self, docnames, nproc):
        self.calls.append(("write parallel", len(docnames), nproc))

    def _write_serial(self, docnames):
        self.calls.append(("write serial", len(docnames)))


def test_small_parallel_builds_run_serially_on_sphinx_9_0():
    import sphinx

    assert sphinx.version_info[:2] in upstream.SPHINX_VERSIONS  # the pinned Sphinx
    builder = FakeBuilder()
    assert upstream.patch_small_parallel_builds(builder)
    few, many = ["a"] * (upstream.MIN_PARALLEL_PAGES - 1), ["a"] * upstream.MIN_PARALLEL_PAGES
    builder._read_parallel(few, nproc=2)
    builder._read_parallel(many, nproc=2)
    builder._write_parallel(few, nproc=1)
    builder._write_parallel(many, nproc=1)
    assert builder.calls == [("read serial", len(few)), ("read parallel", len(many), 2),
                             ("write serial", len(few)), ("write parallel", len(many), 1)]


def test_a_large_parallel_read_is_cut_into_one_chunk_per_process():
    """Sphinx 9.0 cuts 500 pages into 10 chunks for 2 processes (chunk size
    sqrt(500 / 2 * 10) = 50); each chunk sends the environment back. Here: 2 chunks of
    250, while reading only."""
    import sphinx.builders
    from sphinx.util.parallel import make_chunks

    pages = [f"p{i}" for i in range(500)]
    assert len(make_chunks(pages, 2)) == 10
    builder = FakeBuilder()
    assert upstream.patch_small_parallel_builds(builder)
    builder._read_parallel(pages, nproc=2)
    assert [len(c) for c in builder.read_chunks] == [250, 250]
    assert [p for c in builder.read_chunks for p in c] == pages
    assert sphinx.builders.make_chunks is make_chunks  # restored after the read
    builder._write_parallel(pages, nproc=1)
    assert sphinx.builders.make_chunks is make_chunks
    assert upstream.chunks_per_process(list(range(10)), 3) == [[0, 1, 2, 3], [4, 5, 6],
                                                               [7, 8, 9]]
    assert upstream.chunks_per_process(["a", "b"], 8) == [["a"], ["b"]]


def test_other_sphinx_versions_keep_their_parallel_code():
    builder = FakeBuilder()
    assert not upstream.patch_small_parallel_builds(builder, version_info=(9, 1, 0))
    builder._read_parallel(["a"], nproc=2)
    assert builder.calls == [("read parallel", 1, 2)]
    # a builder without the private methods is left alone too
    assert not upstream.patch_small_parallel_builds(object())


def test_sitemap_override_only_for_the_known_sphinx_sitemap(monkeypatch):
    from kb import sitemap

    assert sitemap._sitemap_module() is not None  # the pinned 2.9.0
    monkeypatch.setattr("importlib.metadata.version", lambda name: "2.10.0")
    assert sitemap._sitemap_module() is None

    class App:
        extensions = {"sphinx_sitemap": None}

    assert sitemap.setup_sitemap(App()) is False  # nothing disconnected or connected


def test_the_heap_is_frozen_at_exit_only_and_the_hook_registered_once():
    """A sphinx-build process freezes its heap when it exits, so the interpreter's final
    collections skip it; while the process runs (a test session building many times),
    garbage is collected as usual."""
    import subprocess
    import sys

    from helpers import DOCS

    script = (
        "import atexit, gc, sys\n"
        f"sys.path.insert(0, {str(DOCS / '_ext')!r})\n"
        "from kb import upstream\n"
        "before = atexit._ncallbacks()\n"
        "upstream.freeze_heap_at_exit(); upstream.freeze_heap_at_exit()\n"
        "print(atexit._ncallbacks() - before, gc.get_freeze_count())\n"
        "atexit._run_exitfuncs()\n"
        "print(gc.get_freeze_count() > 1000)\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    assert run.stdout.split() == ["1", "0", "True"]


def test_a_written_page_does_not_keep_its_pickled_doctree(build_root):
    """The main process keeps no page's pickled doctree once the page is written
    (kb/upstream.py): only pages read again later (none here) would be in the cache."""
    app = build_root(None, dest="doctree-cache")
    written = {"articles/good", "index", "bibliography"}
    assert written <= set(app.env.all_docs)
    assert not written & set(app.env._pickled_doctree_cache)
    # and the pages are whole: the article has its text and its reference list
    page = (Path(app.outdir) / "articles/good.html").read_text()
    assert "Some words about grief" in page and 'id="ref-' in page


def test_the_collector_is_paused_only_while_the_environment_is_loaded_and_saved(
        build_root, tmp_path, monkeypatch):
    """An edit rebuild: the loaded environment is frozen while the page is read, the
    collector is off while the environment is saved, and everything is as before once
    the build ends; a clean build (every page read) freezes nothing; a build that fails
    leaves the collector on and nothing frozen."""
    import gc

    from helpers import REPO, lay_root

    monkeypatch.syspath_prepend(str(REPO / "tests" / "extensions"))
    import gc_probe

    # the tiny project has a few pages: one of them is "a small share" below a half
    monkeypatch.setattr(upstream, "UNFREEZE_SHARE", 0.5)

    src = lay_root(tmp_path / "gc", None)
    with (src / "conf.py").open("a") as conf:
        conf.write(f"\nimport sys as _sys\n_sys.path.insert(0, "
                   f"{str(REPO / 'tests' / 'extensions')!r})\n"
                   "extensions = [*extensions, 'gc_probe']\n")
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc_probe.SEEN.clear()
    app = build_root(None, srcdir=src)
    seen = dict((event, (on, frozen)) for event, on, frozen in gc_probe.SEEN)
    assert seen["env-before-read-docs"] == (True, 0)   # nothing loaded, nothing frozen
    assert seen["env-updated"] == (False, 0)           # saving: collector off
    assert seen["write-started"][0] is True
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert len(app.env.all_docs) >= 3

    article = sorted((src / "articles").glob("*.md"))[0]
    article.write_text(article.read_text() + "\nOne more sentence.\n")
    gc_probe.SEEN.clear()
    app = build_root(None, srcdir=src, freshenv=False)
    seen = dict((event, (on, frozen)) for event, on, frozen in gc_probe.SEEN)
    on, frozen = seen["env-before-read-docs"]
    assert on and frozen > 10000                       # the loaded environment
    # still frozen (a few frozen objects are freed as the page replaces them)
    assert seen["env-updated"][0] is False and seen["env-updated"][1] > frozen - 1000
    assert seen["write-started"][0] is True and seen["write-started"][1] > frozen - 1000
    assert "One more sentence." in (Path(app.outdir) / "articles" /
                                    f"{article.stem}.html").read_text()
    assert gc.isenabled() and gc.get_freeze_count() == 0

    article.write_text(article.read_text() + "\nAnd another.\n")
    gc_probe.RAISE[0] = True
    try:
        with pytest.raises(Exception, match="the probe stops the build"):
            build_root(None, srcdir=src, freshenv=False)
    finally:
        gc_probe.RAISE[0] = False
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_compiled_templates_are_kept_between_builds_and_compiled_again_when_edited(
        build_root, tmp_path):
    """Jinja's bytecode cache in the doctree folder: a build with no template change
    compiles nothing (no entry is written again); an edited template is compiled again
    and the pages show the edit."""
    from helpers import lay_root

    src = lay_root(tmp_path / "tpl", None)
    (src / "conf.py").write_text((src / "conf.py").read_text()
                                 + "\ntemplates_path = ['_templates']\n")
    template = src / "_templates" / "page.html"
    template.parent.mkdir(exist_ok=True)
    template.write_text('{% extends "!page.html" %}{% block content %}{{ super() }}'
                        "<p>First version of the template</p>{% endblock %}")
    app = build_root(None, srcdir=src)
    page = Path(app.outdir) / "articles" / "good.html"
    assert "First version of the template" in page.read_text()
    cache = Path(app.doctreedir) / upstream.TEMPLATE_CACHE
    entries = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert len(entries) >= 5  # furo's templates and the site's

    article = src / "articles" / "good.md"
    article.write_text(article.read_text() + "\nOne more sentence.\n")
    app = build_root(None, srcdir=src, freshenv=False)
    assert "One more sentence." in page.read_text()
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == entries

    template.write_text(template.read_text().replace("First", "Second"))
    app = build_root(None, srcdir=src, freshenv=False)
    text = page.read_text()
    assert "Second version of the template" in text and "First version" not in text
    # the edited template's entry (same name and file) was written again, and only it
    after = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert set(after) == set(entries)
    assert len([name for name in after if after[name] != entries[name]]) == 1


def _environment(**attributes):
    from sphinx.environment import BuildEnvironment

    env = BuildEnvironment.__new__(BuildEnvironment)
    env.__dict__.update(attributes)
    return env


@pytest.fixture
def saver(monkeypatch):
    """kb.upstream's ``pickle`` for sphinx.builders, with a pipe as make html gives it;
    yields (saver, read end of the pipe)."""
    import pickle

    read_end, write_end = os.pipe()
    monkeypatch.setenv(upstream.SAVE_FD, str(write_end))
    monkeypatch.setattr(upstream, "_READ_SHARE", [0.01])
    yield upstream._EnvironmentSaver(pickle), read_end
    os.close(write_end)
    os.close(read_end)


def _reaped(report: str) -> str:
    for line in report.splitlines():
        if line.startswith("saving "):
            os.waitpid(int(line.split()[1]), 0)
    return report


def _report(read_end) -> str:
    """What the saving process wrote into the pipe, once it has exited."""
    import select

    text, deadline = b"", time.monotonic() + 60
    while not text.endswith(b"saved\n") and not re.search(rb"failed: .*\n", text):
        assert time.monotonic() < deadline, text
        if select.select([read_end], [], [], 1)[0]:
            text += os.read(read_end, 4096)
    return _reaped(text.decode())


def test_after_a_small_read_the_environment_is_saved_by_a_forked_process(saver, tmp_path):
    import pickle

    saver, read_end = saver
    assert saver.HIGHEST_PROTOCOL == pickle.HIGHEST_PROTOCOL and saver.loads is pickle.loads
    path = tmp_path / "environment.pickle"
    with open(path, "wb") as file:
        saver.dump(_environment(titles={"a": "A title"}, all_docs={"a": 1}), file,
                   pickle.HIGHEST_PROTOCOL)
        assert file.tell() == 0  # this process wrote nothing
    report = _report(read_end)
    pid = int(report.split()[1])
    assert report == f"saving {pid}\nsaved\n" and pid != os.getpid()
    saved = pickle.loads(path.read_bytes())
    assert (type(saved).__name__, saved.titles) == ("BuildEnvironment", {"a": "A title"})
    # anything else Sphinx pickles (doctrees) is pickled here, at once
    with open(tmp_path / "page.doctree", "wb") as file:
        saver.dump(nodes.paragraph("", "text"), file, pickle.HIGHEST_PROTOCOL)
    assert pickle.loads((tmp_path / "page.doctree").read_bytes()).astext() == "text"


@pytest.mark.parametrize("why", ["large read", "no pipe", "not a pipe"])
def test_otherwise_the_environment_is_saved_by_sphinx_itself(saver, tmp_path, monkeypatch,
                                                              why):
    import pickle

    saver, read_end = saver
    if why == "large read":
        monkeypatch.setattr(upstream, "_READ_SHARE", [upstream.BACKGROUND_SAVE_SHARE + 0.01])
    elif why == "no pipe":
        monkeypatch.delenv(upstream.SAVE_FD)
    else:
        monkeypatch.setenv(upstream.SAVE_FD, "9999")  # no such file descriptor
    path = tmp_path / "environment.pickle"
    with open(path, "wb") as file:
        saver.dump(_environment(titles={"a": "A"}), file, pickle.HIGHEST_PROTOCOL)
    assert pickle.loads(path.read_bytes()).titles == {"a": "A"}
    os.set_blocking(read_end, False)
    with pytest.raises(BlockingIOError):  # nothing reported: no saving process
        os.read(read_end, 100)


def test_a_save_that_fails_in_the_background_is_reported_through_the_pipe(saver,
                                                                         tmp_path):
    import pickle

    from kb import build

    saver, read_end = saver
    with open(tmp_path / "environment.pickle", "wb") as file:
        saver.dump(_environment(hook=lambda: None), file, pickle.HIGHEST_PROTOCOL)
    report = _report(read_end)
    assert report.splitlines()[1] == ("failed: AttributeError: Can't pickle local object "
                                      "'test_a_save_that_fails_in_the_background_is_reported"
                                      "_through_the_pipe.<locals>.<lambda>'")
    assert build.SAVE_FD == upstream.SAVE_FD


@pytest.mark.parametrize("report,expected", [
    ("", None),  # Sphinx saved it itself (or read nothing)
    ("saving 1\nsaved\n", None),
    ("saving 1\nfailed: OSError: [Errno 28] No space left on device\n",
     "OSError: [Errno 28] No space left on device"),
    ("saving 1\n", "the saving process stopped before it had finished"),  # killed
])
def test_the_driver_reads_how_the_save_went(report, expected, tmp_path):
    from kb import build

    assert build.environment_saved(report.encode()) == expected


# -- Sphinx's transforms with nothing to act on in this site's pages -------------------------

def _lay_site(dest: Path) -> Path:
    """The real docs/ and references.bib, with footnotes, a definition list and code in
    one article (what the skipped transforms might have touched)."""
    import shutil

    from helpers import DOCS

    shutil.copytree(DOCS, dest / "docs", ignore=shutil.ignore_patterns("_build"))
    shutil.copy(DOCS.parent / "references.bib", dest / "references.bib")
    article = dest / "docs" / "articles" / "anxiety.md"
    article.write_text(article.read_text().replace("\n## ", (
        "\nA sentence with a note[^one] and another[^two].\n\n[^one]: The first note.\n\n"
        "[^two]: The second note, with *emphasis*.\n\nTerm\n: Its definition.\n\n"
        "```python\n>>> print('x')  # doctest: +SKIP\nx\n```\n\n## "), 1))
    return dest / "docs"


def test_pages_are_the_same_without_the_inert_transforms(tmp_path, monkeypatch):
    """The site with the transforms of INERT_TRANSFORMS taken out, and with them: every
    page the same, byte for byte; and they were taken out of the first build only."""
    import io

    from sphinx.testing.util import SphinxTestApp

    skipped = []
    skip = upstream.skip_inert_transforms
    monkeypatch.setattr(upstream, "skip_inert_transforms",
                        lambda app: skipped.append(skip(app)) or skipped[-1])
    outs = []
    for name, on in (("without", True), ("with", False)):
        monkeypatch.setattr(upstream, "SKIP_INERT_TRANSFORMS", on)
        src = _lay_site(tmp_path / name)
        app = SphinxTestApp("html", srcdir=src, builddir=src / "_build",
                            status=io.StringIO(), warning=io.StringIO(), freshenv=True)
        try:
            app.build()
            assert app.statuscode == 0
        finally:
            app.cleanup()
        outs.append(Path(app.outdir))
    assert sorted(name.rsplit(".", 1)[1] for name in skipped[0]) == sorted(
        name for _module, name in upstream.INERT_TRANSFORMS)
    assert skipped[1] == []
    pages = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*.html"))
    assert pages == sorted(p.relative_to(outs[1]) for p in outs[1].rglob("*.html"))
    assert len(pages) > 20
    for page in pages:
        assert (outs[0] / page).read_bytes() == (outs[1] / page).read_bytes(), page
    anxiety = (outs[0] / "articles" / "anxiety.html").read_text()
    assert "The second note" in anxiety and "footnote" in anxiety and "<dt" in anxiety


def test_inert_transforms_stay_for_other_builders_translations_and_versions(tmp_path):
    class Registry:
        def __init__(self):
            from sphinx.builders.latex.transforms import FootnoteDocnameUpdater
            from sphinx.domains.c import AliasTransform
            from sphinx.transforms import SphinxSmartQuotes

            self.transforms = [FootnoteDocnameUpdater, SphinxSmartQuotes]
            self.post_transforms = [AliasTransform]

    class App:
        def __init__(self, builder, srcdir):
            self.builder = type("Builder", (), {"name": builder})()
            self.srcdir, self.registry = srcdir, Registry()
            self.config = type("Config", (), {"locale_dirs": ["locales"]})()

    assert upstream.skip_inert_transforms(App("html", tmp_path)) == [
        "sphinx.builders.latex.transforms.FootnoteDocnameUpdater",
        "sphinx.domains.c.AliasTransform"]
    app = App("html", tmp_path)
    upstream.skip_inert_transforms(app)
    assert [t.__name__ for t in app.registry.transforms] == ["SphinxSmartQuotes"]
    assert app.registry.post_transforms == []
    assert upstream.skip_inert_transforms(App("latex", tmp_path)) == []
    assert upstream.skip_inert_transforms(App("html", tmp_path), (9, 1, 0)) == []
    (tmp_path / "locales").mkdir()  # a folder of translations: translating may happen
    assert upstream.skip_inert_transforms(App("html", tmp_path)) == []


#: What would make each inert transform's nodes in a page, and is refused there.
MAKES_THE_NODES = {
    "AliasTransform": "```{c:alias} f\n```",
    "GlossarySorter": "```{glossary}\nterm\n   definition\n```",
    "MoveModuleTargets": "```{py:module} m\n```",
    "DoctestTransform": "```{eval-rst}\n>>> 1\n1\n```",
    "CitationDefinitionTransform": "```{eval-rst}\n.. [CIT] A citation.\n```",
    "CitationReferenceTransform": "```{eval-rst}\nSee [CIT]_.\n```",
    "RemoveTranslatableInline": "```{versionadded} 1.0\nNew.\n```",
    "TranslationProgressTotaliser": "{sub-ref}`translation progress`",
}


@pytest.mark.parametrize("transform", sorted(MAKES_THE_NODES))
def test_what_would_feed_an_inert_transform_is_refused(build_root, tmp_path, transform):
    from helpers import lay_root, warnings_of

    src = lay_root(tmp_path / "src", None)
    page = next((src / "articles").glob("*.md"))
    page.write_text(page.read_text() + "\n\n" + MAKES_THE_NODES[transform] + "\n")
    app = build_root(None, srcdir=src)
    refused = [w for w in warnings_of(app) if "[kb.not-allowed]" in w]
    assert refused and all(w.startswith(f"articles/{page.name}:") for w in refused), \
        warnings_of(app)


# -- titles rendered once, templates not looked at again, no word count ------------------

def test_pages_are_the_same_with_titles_once_templates_kept_and_no_word_count(tmp_path,
                                                                            monkeypatch):
    """The site with the three changes (each title the environment holds rendered once,
    the templates' files not looked at again, MyST's word count off) and without them:
    every page the same, byte for byte; and each change was in effect only in the first
    build."""
    import io

    import sphinx.builders.html as html
    from sphinx.testing.util import SphinxTestApp

    assert upstream.patch_sphinx_partial_titles() and upstream.patch_myst_wordcount()
    original = upstream._rendered_title_parts.kb_original
    rendered: list = []

    def counting(self, node):
        rendered.append(node)
        return original(self, node)

    monkeypatch.setattr(upstream._rendered_title_parts, "kb_original", counting)
    outs, facts = [], []
    for name, on in (("with", True), ("without", False)):
        monkeypatch.setattr(upstream, "TITLES_ONCE", on)
        monkeypatch.setattr(upstream, "TEMPLATES_LOOKED_AT_AGAIN", not on)
        monkeypatch.setattr(upstream, "WORD_COUNT", not on)
        rendered.clear()
        src = _lay_site(tmp_path / name)
        app = SphinxTestApp("html", srcdir=src, builddir=src / "_build",
                            status=io.StringIO(), warning=io.StringIO(), freshenv=True,
                            parallel=0)
        try:
            app.build()
            assert app.statuscode == 0
            titles = [n for n in rendered if isinstance(n, nodes.title)]
            facts.append({
                "titles rendered": len(titles),
                "distinct titles rendered": len({id(n) for n in titles}),
                "auto reload": app.builder.templates.environment.auto_reload,
                "word counts": sum("wordcount" in meta
                                   for meta in app.env.metadata.values()),
            })
        finally:
            app.cleanup()
        outs.append(Path(app.outdir))
    with_, without = facts
    # once each (the site has more titles than that, so the second build rendered more)
    assert with_["titles rendered"] == with_["distinct titles rendered"] > 10
    assert without["titles rendered"] > without["distinct titles rendered"]
    assert (with_["auto reload"], without["auto reload"]) == (False, True)
    assert with_["word counts"] == 0 and without["word counts"] > 20
    pages = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*.html"))
    assert pages == sorted(p.relative_to(outs[1]) for p in outs[1].rglob("*.html"))
    assert len(pages) > 20
    for page in pages:
        assert (outs[0] / page).read_bytes() == (outs[1] / page).read_bytes(), page
    assert html.StandaloneHTMLBuilder.render_partial is upstream._rendered_title_parts


def test_a_title_is_rendered_once_per_builder_and_anything_else_every_time():
    """Titles the environment holds: rendered once, each caller gets its own dict. Other
    nodes (a title the environment does not hold, a table of contents): every time."""
    from sphinx.builders.html import StandaloneHTMLBuilder

    assert upstream.patch_sphinx_partial_titles()
    held = nodes.title("", "Held")
    other_title = nodes.title("", "Other")
    toc = nodes.bullet_list()

    class Builder:
        render_partial = StandaloneHTMLBuilder.render_partial

        def __init__(self):
            self.env = type("Env", (), {})()
            self.env.titles, self.env.longtitles = {"a": held}, {"a": held}
            self.calls = []

    original = upstream._rendered_title_parts.kb_original
    try:
        upstream._rendered_title_parts.kb_original = lambda self, node: (
            self.calls.append(node) or {"title": node.astext(), "fragment": ""})
        first, second = Builder(), Builder()
        one, two = first.render_partial(held), first.render_partial(held)
        assert one == two == {"title": "Held", "fragment": ""} and one is not two
        one["title"] = "changed by a caller"
        assert first.render_partial(held)["title"] == "Held"
        first.render_partial(other_title), first.render_partial(other_title)
        first.render_partial(toc), first.render_partial(toc)
        assert first.calls == [held, other_title, other_title, toc, toc]
        second.render_partial(held)
        assert second.calls == [held]  # another builder renders it for itself
        # the environment's titles change (a page read again): the new title is held
        new = nodes.title("", "New")
        first.env.titles["b"] = new
        first.render_partial(new), first.render_partial(new)
        assert first.calls.count(new) == 1
    finally:
        upstream._rendered_title_parts.kb_original = original


@pytest.mark.parametrize("extensions, counted", [
    ((), False), (("colon_fence", "deflist", "smartquotes"), False),
    (("substitution",), True)])
def test_mysts_word_count_runs_only_where_a_substitution_could_use_it(extensions, counted):
    import myst_parser.parsers.sphinx_ as sphinx_parser
    from myst_parser.config.main import MdParserConfig
    from myst_parser.mdit_to_docutils.sphinx_ import SphinxRenderer

    assert upstream.patch_myst_wordcount()
    md = sphinx_parser.create_md_parser(
        MdParserConfig(enable_extensions=set(extensions)), SphinxRenderer)
    env: dict = {}
    md.parse("# Title\n\nSome words to count here.\n", env)
    assert ("wordcount" in env) is counted
    if counted:
        assert env["wordcount"]["words"] == 6


# -- event arguments written out only for -vv ----------------------------------------------

class _Watched:
    """An event argument that records every repr made of it."""

    def __init__(self):
        self.reprs = 0

    def __repr__(self):
        self.reprs += 1
        return "<watched>"


@pytest.mark.parametrize("verbosity, shown", [(0, False), (1, False), (2, True), (3, True)])
def test_events_write_out_their_arguments_only_when_the_debug_message_is_shown(
        verbosity, shown):
    """Sphinx's debug message about an event (and the repr of its arguments, which can be
    a whole page's template context) only from -vv; the handlers run as Sphinx runs
    them: by priority, with what they return, and their errors wrapped as Sphinx wraps
    them."""
    import logging

    from sphinx.errors import ExtensionError
    from sphinx.events import EventManager

    assert upstream.patch_sphinx_event_messages()
    app = type("App", (), {"verbosity": verbosity, "pdb": False})()
    events = EventManager(app)
    events.add("kb-test-event")
    calls = []
    events.connect("kb-test-event", lambda app, arg: calls.append("late") or "late", 900)
    events.connect("kb-test-event", lambda app, arg: calls.append("early") or None, 100)
    watched = _Watched()
    records = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    events_logger = logging.getLogger("sphinx.sphinx.events")
    old_level = events_logger.level
    events_logger.addHandler(handler)
    events_logger.setLevel(logging.DEBUG)
    try:
        assert events.emit("kb-test-event", watched) == [None, "late"]
        assert events.emit_firstresult("kb-test-event", watched) == "late"
    finally:
        events_logger.removeHandler(handler)
        events_logger.setLevel(old_level)
    assert calls == ["early", "late", "early", "late"]
    assert watched.reprs == (2 if shown else 0)
    messages = [r.getMessage() for r in records if "emitting event" in r.getMessage()]
    assert messages == (["[app] emitting event: 'kb-test-event'(<watched>,)"] * 2
                        if shown else [])

    def fails(app, arg):
        raise ValueError("broken handler")

    events.connect("kb-test-event", fails, 500)
    with pytest.raises(ExtensionError, match="threw an exception"):
        events.emit("kb-test-event", watched)
    with pytest.raises(ValueError):
        events.emit("kb-test-event", watched, allowed_exceptions=(ValueError,))


def test_the_census_is_used_only_while_the_html_or_epub_builder_runs(build_root, tmp_path):
    """Sphinx's single-page builder assigns other pages' trees into the master page's
    (``inline_all_toctrees``): it builds without the census (with the suite's check on,
    a census would raise there); the HTML builder after it uses the census again."""
    from helpers import lay_root

    src = lay_root(tmp_path / "src", None)
    single = build_root(None, buildername="singlehtml", srcdir=src, dest="single")
    assert single.statuscode == 0 and upstream._CENSUS_BUILDER == [False]
    assert "<h1" in (Path(single.outdir) / "index.html").read_text()
    web = build_root(None, srcdir=src, dest="web")
    assert web.statuscode == 0 and upstream._CENSUS_BUILDER == [True]


def test_relfn2path_answers_as_sphinx_once_per_name_folder_and_build(tmp_path):
    """The same answers as Sphinx's (absolute and relative names, a page's own folder,
    ``..``), each worked out once for the pages of a folder; without a page it raises as
    Sphinx does; a new build (builder-inited) starts with nothing kept."""
    from sphinx.environment import BuildEnvironment

    assert upstream.patch_sphinx_relfn2path()
    original = upstream._relfn2path.kb_original
    (tmp_path / "articles").mkdir()
    class Env:  # what relfn2path reads of an environment
        relfn2path = BuildEnvironment.relfn2path

        def __init__(self):
            self.srcdir, self.docname = tmp_path, "articles/grief"

        def doc2path(self, docname, base=True):
            return Path(docname + ".md")

    env = Env()
    calls = []
    upstream._RESOLVED_PATHS.clear()
    try:
        upstream._relfn2path.kb_original = lambda self, f, d=None: (
            calls.append((f, d)) or original(self, f, d))
        cases = [("anxiety.md", None), ("/about/index.md", None), ("../crisis.md", None),
                 (Path("anxiety.md"), None), ("anxiety.md", "index"), ("x.png", "a/b"),
                 ("anxiety.md", "articles/grief"), ("anxiety.md", "articles/sleep"),
                 ("x.png", "a/c"), ("x.png", "a")]
        for name, page in cases * 2:
            assert env.relfn2path(name, page) == original(env, name, page)
        # Path("anxiety.md") is the name "anxiety.md" again, and the pages of
        # articles/ (the environment's own, grief, sleep) share their folder's answer
        assert [(str(f), d) for f, d in calls] == [
            ("anxiety.md", None), ("/about/index.md", None), ("../crisis.md", None),
            ("anxiety.md", "index"), ("x.png", "a/b"), ("x.png", "a")]
        assert env.relfn2path("x.png", "a") != env.relfn2path("x.png", "a/b")
        env.docname = None
        with pytest.raises(KeyError):
            env.relfn2path("anxiety.md")
        with pytest.raises(KeyError):
            env.relfn2path("anxiety.md")
        upstream._RESOLVED_PATHS.clear()
        env.docname = "articles/grief"
        env.relfn2path("anxiety.md")
        assert len(calls) == 9  # two raising calls, then worked out again
    finally:
        upstream._relfn2path.kb_original = original
