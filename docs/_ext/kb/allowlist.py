"""What a page may contain: an allow-list, checked where the parser has done its work.

A page is refused piece by piece, never by searching its source text:

* **Directives and roles** are allowed by name. The check sits in the dispatcher that the
  parsers (MyST, and reStructuredText inside MyST) ask for every directive and role, so
  nesting and ``{eval-rst}`` cannot hide one. A refused directive or role is dropped and
  reported at its ``file:line`` with what to use instead. Articles get a short list
  (:data:`ARTICLE_DIRECTIVES`, :data:`ARTICLE_ROLES`); the site's own pages (home, about,
  crisis, the writers' guide) also get the navigation and the knowledge base's own
  directives. ``{eval-rst}`` is refused in articles.
* **No file insertion, no raw output.** docutils' ``file_insertion_enabled`` and
  ``raw_enabled`` settings are off for every page, so ``include``, ``literalinclude``,
  ``raw :file:``/``:url:`` and ``csv-table :file:`` can read nothing and fetch nothing, even
  where a directive were allowed.
* **The doctree** after parsing: raw HTML (MyST turns inline and block HTML into ``raw``
  nodes, whatever hides it) is refused, except the two fixed pieces MyST itself writes for a
  hard line break; a link may use only ``http``, ``https``, ``mailto``, ``tel`` and ``sms``
  or point inside the site; images and downloads must be files inside ``docs/``, of safe
  types (:data:`IMAGE_TYPES`, :data:`DOWNLOAD_TYPES`); every node must be of a type in the
  allow-list (:func:`allowed_node`). Refused nodes are removed before Sphinx collects
  images and downloads, so nothing refused is copied into the output.

Only ``.md`` sources are read (``source_suffix``), so every page goes through the same
front matter, draft and allow-list rules; another file under ``docs/articles/`` is
reported.

Every refusal is a warning (``type="kb", subtype="not-allowed"``), so ``-W --keep-going``
lists them all and fails the build. ``kb.csp`` checks the written HTML as well.

The lists, the file rule and the messages live in ``kb.lint`` (which needs no Sphinx), so
that ``make check`` refuses the same things in an article, found the same way (MyST's
parser), before a build: one list and one message for both.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, sphinx_domains

from .errors import guarded
from .lint import (ARTICLE_DIRECTIVES, ARTICLE_PREFIX, ARTICLE_ROLES, DEFAULT_INSTEAD,
                   DOWNLOAD_TYPES, IMAGE_TYPES, LINK_SCHEMES, RAW_HTML, SCHEME, file_problem,
                   is_article, refusal)

logger = logging.getLogger(__name__)

#: What the site's own pages may use besides an article's (kb.lint: ARTICLE_DIRECTIVES,
#: ARTICLE_ROLES): navigation and the reference list of the whole site. Directives and
#: roles of the knowledge-base extension itself (module ``kb.*``: topic grid, latest
#: articles, search box, crisis resources, call to action) are allowed there too.
SITE_DIRECTIVES = ARTICLE_DIRECTIVES | {"toctree", "bibliography", "cited-works"}
SITE_ROLES = ARTICLE_ROLES | {"cited-works"}

#: The raw pieces MyST writes by itself for a hard line break (a backslash at a line end).
MYST_RAW = {("html", "<br />\n"), ("latex", "\\\\\n")}


def _current_docname(dispatcher) -> str | None:
    current = getattr(dispatcher, "current_document", None)
    return getattr(current, "docname", None)


def _own(obj) -> bool:
    """A directive class or role function defined by the knowledge-base extension."""
    module = getattr(obj, "__module__", "") or ""
    return module == "kb" or module.startswith("kb.")


def allowed(kind: str, docname: str | None, name: str, obj) -> bool:
    """Whether the page may use the directive or role *name* (*kind*: "directive" or
    "role"; *obj*: its class or function)."""
    if docname is None:
        return True
    name = name.lower()
    if is_article(docname):
        return name in (ARTICLE_DIRECTIVES if kind == "directive" else ARTICLE_ROLES)
    return name in (SITE_DIRECTIVES if kind == "directive" else SITE_ROLES) or _own(obj)


def _refusal(kind: str, name: str, docname: str) -> str:
    return refusal(kind, name, is_article(docname))


class _AnyOptions(dict):
    """An option spec that accepts every option, so a refused directive is reported once,
    for what it is, and not for its options."""

    def __contains__(self, key) -> bool:
        return True

    def __getitem__(self, key):
        return directives.unchanged

    def get(self, key, default=None):
        return directives.unchanged


def refused_directive(name: str):
    class RefusedDirective(SphinxDirective):
        has_content = True
        optional_arguments = 1
        final_argument_whitespace = True
        option_spec = _AnyOptions()

        def run(self) -> list[nodes.Node]:
            logger.warning(_refusal("directive", name, self.env.docname),
                           location=self.get_location(), type="kb", subtype="not-allowed")
            return []

    RefusedDirective.__name__ = f"Refused_{re.sub(r'[^A-Za-z0-9]', '_', name)}"
    return RefusedDirective


def refused_role(name: str, docname: str):
    def role(role_name, rawtext, text, lineno, inliner, options=None, content=None):
        source, line = inliner.reporter.get_source_and_line(lineno)
        logger.warning(_refusal("role", role_name, docname), location=f"{source}:{line}",
                       type="kb", subtype="not-allowed")
        return [], []

    return role


# -- the dispatcher every parser asks -------------------------------------------------------

_original_directive = sphinx_domains.directive
_original_role = sphinx_domains.role


def _directive(self, directive_name, language_module, document):
    directive_class, messages = _original_directive(self, directive_name, language_module,
                                                    document)
    docname = _current_docname(self)
    if directive_class is not None and not allowed("directive", docname, directive_name,
                                                     directive_class):
        return refused_directive(directive_name.lower()), messages
    return directive_class, messages


def _role(self, role_name, language_module, lineno, reporter):
    role_func, messages = _original_role(self, role_name, language_module, lineno, reporter)
    docname = _current_docname(self)
    if role_func is not None and not allowed("role", docname, role_name, role_func):
        return refused_role(role_name.lower(), docname), messages
    return role_func, messages


def _install_dispatcher() -> None:
    if sphinx_domains.directive is not _directive:
        sphinx_domains.directive = _directive
        sphinx_domains.role = _role


def _install_eval_rst_guard() -> None:
    """``{eval-rst}`` is handled by MyST itself, not looked up as a directive."""
    from myst_parser.mdit_to_docutils.base import DocutilsRenderer

    original = DocutilsRenderer.render_restructuredtext
    if getattr(original, "kb_guarded", False):
        return

    def render_restructuredtext(self, token):
        env = getattr(self, "sphinx_env", None)
        docname = getattr(env, "docname", None) if env is not None else None
        if docname is not None and is_article(docname):
            line = token.map[0] if token.map else 1  # as MyST reports a directive's line
            logger.warning(_refusal("directive", "eval-rst", docname),
                           location=(docname, line), type="kb", subtype="not-allowed")
            return None
        return original(self, token)

    render_restructuredtext.kb_guarded = True
    DocutilsRenderer.render_restructuredtext = render_restructuredtext


def _install_link_validation() -> None:
    """markdown-it turns a ``javascript:`` (or ``vbscript:``, ``file:``, ``data:``) link into
    plain text without a word; here every link reaches the doctree, where the scheme
    allow-list refuses it with its line, so the writer learns what happened."""
    import myst_parser.parsers.sphinx_ as sphinx_parser

    original = sphinx_parser.create_md_parser
    if getattr(original, "kb_all_links", False):
        return

    def create_md_parser(config, renderer):
        md = original(config, renderer)
        md.validateLink = lambda url: True
        return md

    create_md_parser.kb_all_links = True
    create_md_parser.kb_original = original
    sphinx_parser.create_md_parser = create_md_parser


# -- the doctree ----------------------------------------------------------------------------

#: Node types a page's doctree may hold after parsing (docutils' body and inline elements
#: that Markdown produces, admonitions, figures, citations and the site's own nodes).
ALLOWED_NODES = frozenset({
    nodes.document, nodes.section, nodes.title, nodes.subtitle, nodes.paragraph,
    nodes.Text, nodes.emphasis, nodes.strong, nodes.literal, nodes.reference,
    nodes.target, nodes.inline, nodes.subscript, nodes.superscript, nodes.abbreviation,
    nodes.bullet_list, nodes.enumerated_list, nodes.list_item, nodes.definition_list,
    nodes.definition_list_item, nodes.term, nodes.definition, nodes.classifier,
    nodes.field_list, nodes.field, nodes.field_name, nodes.field_body,
    nodes.block_quote, nodes.attribution, nodes.literal_block, nodes.line_block, nodes.line,
    nodes.transition, nodes.comment, nodes.footnote, nodes.footnote_reference, nodes.label,
    nodes.table, nodes.tgroup, nodes.colspec, nodes.thead, nodes.tbody, nodes.row,
    nodes.entry, nodes.image, nodes.figure, nodes.caption, nodes.legend,
    nodes.admonition, nodes.note, nodes.tip, nodes.hint, nodes.important, nodes.warning,
    nodes.caution, nodes.attention, nodes.danger, nodes.error, nodes.system_message,
    nodes.problematic, nodes.container, nodes.compound, nodes.rubric,
    nodes.substitution_definition,
    nodes.raw,  # checked by content below
    addnodes.pending_xref, addnodes.download_reference, addnodes.seealso,
    addnodes.toctree, addnodes.compact_paragraph, addnodes.only, addnodes.index,
    addnodes.literal_strong, addnodes.literal_emphasis,
})


def allowed_node(node: nodes.Node) -> bool:
    if type(node) in ALLOWED_NODES:
        return True
    module = type(node).__module__ or ""
    # sphinxcontrib-bibtex's citation nodes, and the knowledge base's own
    return module.startswith(("sphinxcontrib.bibtex", "kb.", "myst_parser"))


def _line(node: nodes.Node) -> int | None:
    while node is not None:
        if getattr(node, "line", None):
            return node.line
        node = node.parent
    return None


def doctree_problems(doctree: nodes.document, docname: str, srcdir: Path):
    """Yield (node, message) for every node the allow-list refuses."""
    for node in list(doctree.findall(nodes.Element)):
        if not allowed_node(node):
            yield node, (f"a '{node.tagname}' element is not allowed in a page "
                         f"(from {type(node).__module__}): {DEFAULT_INSTEAD}")
        elif isinstance(node, nodes.raw):
            if (node.get("format", ""), node.astext()) not in MYST_RAW:
                yield node, RAW_HTML
        elif ((isinstance(node, nodes.reference) and node.get("refuri"))
              or (isinstance(node, addnodes.pending_xref) and node.get("reftype") == "myst")):
            uri = node.get("refuri") or node.get("reftarget", "")
            scheme = SCHEME.match(uri)
            if scheme and scheme.group(1).lower() not in LINK_SCHEMES:
                yield node, (f"'{scheme.group(1).lower()}:' links are not allowed: link to "
                             "a page of the site or an https:// address")
        elif isinstance(node, nodes.image):
            uri = node.get("uri", "")
            problem = file_problem(srcdir, docname, uri, IMAGE_TYPES, "image")
            if problem:
                yield node, problem
        elif isinstance(node, addnodes.download_reference):
            target = node.get("reftarget", "")
            problem = file_problem(srcdir, docname, target, DOWNLOAD_TYPES, "download")
            if problem:
                yield node, problem


@guarded("checking what the page contains")
def _doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    docname = app.env.docname
    srcdir = Path(app.srcdir)
    reported = set()
    for node, message in doctree_problems(doctree, docname, srcdir):
        line = _line(node)
        if (line, message) not in reported:  # '<span ...>' and '</span>': one problem
            reported.add((line, message))
            logger.warning(message, location=(docname, line) if line else docname,
                           type="kb", subtype="not-allowed")
        if node.parent is not None:
            # neutralised: a refused link keeps its text, anything else goes
            if isinstance(node, (nodes.reference, addnodes.pending_xref)):
                # the link's words stay; an address shown as its own text goes with it
                uri = node.get("refuri") or node.get("reftarget", "")
                kept = [] if node.astext().strip() == uri.strip() else node.children
                node.replace_self(nodes.inline("", "", *kept))
            else:
                node.parent.remove(node)


# -- settings and sources -------------------------------------------------------------------

def _config_inited(app: Sphinx, config) -> None:
    dropped = sorted(s for s in config.source_suffix if s != ".md")
    config.source_suffix = {".md": "markdown"}
    app.kb_dropped_suffixes = dropped


def _builder_inited(app: Sphinx) -> None:
    app.env.settings["file_insertion_enabled"] = False
    app.env.settings["raw_enabled"] = False
    articles = Path(app.srcdir) / ARTICLE_PREFIX
    if articles.is_dir():
        for path in sorted(articles.iterdir()):
            if path.is_file() and path.suffix != ".md" and not path.name.startswith("."):
                logger.warning(
                    f"'{path.name}' is not a Markdown file, so it is not built: articles "
                    "are '.md' files (rename it, or move it out of docs/articles/)",
                    location=f"{path}:1", type="kb", subtype="not-allowed")


def setup_allowlist(app: Sphinx) -> None:
    _install_dispatcher()
    _install_eval_rst_guard()
    _install_link_validation()
    app.connect("config-inited", _config_inited, priority=900)
    app.connect("builder-inited", _builder_inited)
    # before Sphinx's collectors (priority 500) note images and downloads to copy
    app.connect("doctree-read", _doctree_read, priority=300)
