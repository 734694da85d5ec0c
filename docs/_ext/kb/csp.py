"""A Content-Security-Policy on every page, and every written page checked against an
allow-list: nothing reaches a reader that the site did not ship.

**The policy.** Scripts may come only from the site's own origin, and an inline script
only if its SHA-256 hash is in the policy; styles likewise: the site's stylesheets, the
theme's one ``<style>`` element (furo's colour variables, hashed as rendered for the page)
and the few fixed ``style`` attributes of the theme's icons (``'unsafe-hashes'`` with the
hash of each, so no other ``style=`` applies). No ``'unsafe-inline'``, no ``eval``
(``'wasm-unsafe-eval'`` only lets the browser compile the search engine's WebAssembly),
``base-uri 'none'``, ``object-src 'none'``, ``form-action 'self'``; everything else is
limited to the site itself. A ``<meta>`` policy cannot name the site's own paths (that
needs the host's address, which differs between a preview and the hosted site), so
``script-src`` is ``'self'``; the output check below is what keeps every script element
pointing at the site's own ``_static/`` and ``pagefind/`` files, which no page can write.

Read the Docs' addons (flyout, its search, analytics, ads) are blocked by this policy:
their bundle needs ``eval``. A practice that wants them sets
``kb_csp_allow_readthedocs_addons = True`` in conf.py, which adds ``'unsafe-eval'`` to
``script-src`` on every page: any script that does run may then turn text into code.

**The output check.** After writing, every page written by this build is parsed
(:class:`PageAudit`): elements and attributes outside the allow-list, any ``<script>``
that is not the site's own (an ``src`` outside ``_static/`` or ``pagefind/``, or an
inline script the policy does not hash), a ``<meta http-equiv>`` other than the policy,
a second or different referrer policy, ``<base>``, an event-handler attribute, a
``style`` the policy does not allow, and a link or resource with a scheme other than
http(s), mailto, tel or sms are each a warning naming the page. Content cannot produce
these (``kb.allowlist`` refuses them in the source); the check makes sure no template,
extension or upgrade does either.

A ``<meta>`` policy cannot set ``frame-ancestors`` or reporting; a host that can send
headers should send this policy as a header too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
import posixpath
from html import escape, unescape
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

from .errors import guarded
from .navigation import page_paths
from .urls import redirect_page_target

logger = logging.getLogger(__name__)

SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.S | re.I)
TYPE = re.compile(r"""\btype\s*=\s*["']?([^"'\s>]+)""", re.I)
JS_TYPES = {"", "module", "text/javascript", "application/javascript", "text/ecmascript",
            "application/ecmascript", "text/jscript", "text/livescript"}
TEMPLATE_CODE = ("{{", "{%", "{#")


def is_executable(attrs: str) -> bool:
    """An inline <script> the browser runs (JSON-LD and other data blocks are not)."""
    if re.search(r"\bsrc\s*=", attrs, re.I):
        return False
    match = TYPE.search(attrs)
    return (match.group(1).lower() if match else "") in JS_TYPES


def inline_scripts(html: str) -> list[str]:
    return [m.group(2) for m in SCRIPT.finditer(html) if is_executable(m.group(1))]


def sha256(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


STYLE_ELEMENT = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.S | re.I)
STYLE_ATTRIBUTE = re.compile(r"""\sstyle\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)


def template_hashes(dirs) -> set[str]:
    """Hashes of the inline scripts in the templates (those without template code, whose
    text is the same on every page)."""
    return _hashes(dirs, lambda text: inline_scripts(text))


def template_style_hashes(dirs) -> tuple[set[str], set[str]]:
    """Hashes of the templates' fixed ``<style>`` elements and ``style`` attributes."""
    elements = _hashes(dirs, lambda text: [m.group(1) for m in STYLE_ELEMENT.finditer(text)])
    attributes = _hashes(dirs, lambda text: [m.group(1) if m.group(1) is not None
                                             else m.group(2)
                                             for m in STYLE_ATTRIBUTE.finditer(text)])
    return elements, attributes


def _hashes(dirs, pieces) -> set[str]:
    hashes = set()
    for directory in dirs:
        for path in sorted(Path(directory).rglob("*.html")):
            text = path.read_text(encoding="utf-8", errors="replace")
            for body in pieces(text):
                if not any(code in body for code in TEMPLATE_CODE):
                    hashes.add(sha256(body))
    return hashes


def policy(hashes, style_hashes=(), eval_allowed: bool = False) -> str:
    styles = " ".join(sorted(style_hashes))
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' " + ("'unsafe-eval' " if eval_allowed else "")
        + "'wasm-unsafe-eval' " + " ".join(sorted(hashes)),
        "style-src 'self'" + (f" 'unsafe-hashes' {styles}" if styles else ""),
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "frame-src 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ])


def live_reload_hashes() -> set[str]:
    """``make livehtml`` (sphinx-autobuild) adds an inline script that reloads the page
    after each rebuild; the Makefile sets KB_LIVE_RELOAD to the address it serves on, so
    the preview's pages allow that one script. Published builds never set it."""
    address = os.environ.get("KB_LIVE_RELOAD")
    if not address:
        return set()
    try:
        from sphinx_autobuild.middleware import web_socket_script
    except ImportError:
        return set()
    return {sha256(body) for body in inline_scripts(web_socket_script(address))}


def _builder_inited(app: Sphinx) -> None:
    app.kb_build_started = time.time()
    if app.builder.format != "html":
        return
    dirs = getattr(app.builder.templates, "pathchain", [])
    app.kb_csp_hashes = template_hashes(dirs) | live_reload_hashes()
    elements, attributes = template_style_hashes(dirs)
    app.kb_csp_style_elements = elements
    app.kb_csp_style_attributes = attributes
    app.kb_csp_rendered_styles = {}
    app.kb_csp = policy(app.kb_csp_hashes, elements | attributes,
                        app.config.kb_csp_allow_readthedocs_addons)
    _audit_as_written(app)
    _load_passed(app)


#: The theme's partial that writes its one <style> element, rendered with each page's
#: context so that its hash is exactly what the page carries.
THEME_STYLE_PARTIAL = "partials/_head_css_variables.html"


def _rendered_style_hashes(app: Sphinx, context) -> set[str]:
    key = repr((context.get("theme_light_css_variables"),
                context.get("theme_dark_css_variables"), context.get("furo_pygments")))
    cache = app.kb_csp_rendered_styles
    if key not in cache:
        try:
            text = app.builder.templates.render(THEME_STYLE_PARTIAL, context)
        except Exception:  # noqa: BLE001 - another theme: no such partial
            text = ""
        cache[key] = {sha256(m.group(1)) for m in STYLE_ELEMENT.finditer(text)}
    return cache[key]


def page_policy(app: Sphinx, context) -> str:
    styles = (app.kb_csp_style_elements | app.kb_csp_style_attributes
              | _rendered_style_hashes(app, context))
    return policy(app.kb_csp_hashes, styles, app.config.kb_csp_allow_readthedocs_addons)


def _page_context(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if getattr(app, "kb_csp", None):
        csp = page_policy(app, context)
        tag = f'<meta http-equiv="Content-Security-Policy" content="{escape(csp)}">'
        context["metatags"] = tag + "\n" + context.get("metatags", "")


# -- what a written page may contain --------------------------------------------------------

#: Elements a page may contain: what the theme, the templates and Markdown produce.
ELEMENTS = frozenset("""
a abbr article aside b blockquote body br button caption cite circle code col colgroup dd
del details dfn div dl dt em figcaption figure footer form g h1 h2 h3 h4 h5 h6 head header
hr html i img input ins kbd label li line link main mark meta nav noscript ol optgroup
option p path polygon polyline pre q rect s samp script section select small span strong
style sub summary sup svg symbol table tbody td tfoot th thead time title tr u ul use var
wbr ellipse defs
""".split())
#: Attributes that hold an address, and the schemes an address may have.
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "poster", "srcset",
                            "xlink:href", "data", "background", "cite", "ping", "manifest",
                            "longdesc", "usemap", "codebase", "archive", "dynsrc", "lowsrc"})
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "sms"})
SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*):")
#: <link> relations that make the browser fetch something: same origin only.
FETCHING_RELS = frozenset({"stylesheet", "icon", "shortcut", "preload", "prefetch",
                           "modulepreload", "manifest", "dns-prefetch", "preconnect",
                           "prerender", "apple-touch-icon", "mask-icon"})
#: Folders of the site's own scripts (the theme's and the extension's static files, and the
#: search engine); no page can write into them.
SCRIPT_FOLDERS = ("_static/", "pagefind/")
REFERRER_POLICY = "no-referrer"

#: Elements :meth:`PageAudit.element` checks only by their attributes (no element of its
#: own rules), and attributes it never refuses, whatever their value, except ``href``
#: and ``src``, refused only with a scheme (so never without a colon). An element of
#: these with only these, and no colon in those two, passes: ``feed`` skips it.
#: tests/test_security.py checks both sets against ``element`` itself.
PLAIN_ELEMENTS = ELEMENTS - {"meta", "link", "script", "style", "form", "button", "input"}
PLAIN_ATTRIBUTES = frozenset("""
class id role title lang dir hidden tabindex alt width height colspan rowspan datetime for
href src viewBox xmlns d fill stroke stroke-width stroke-linecap stroke-linejoin x1 y1 x2
y2 cx cy r points aria-hidden aria-label aria-labelledby aria-describedby aria-level
aria-live aria-current aria-expanded aria-controls data-pagefind-body data-pagefind-filter
data-pagefind-weight data-pagefind-ignore data-pagefind-meta data-content_root
""".split())


class PageAudit:
    """Parse one written page; ``problems`` lists what the allow-list refuses.

    The page is parsed as browsers parse it (the HTML standard's algorithm, by lexbor
    through selectolax): the elements and attributes checked are the ones a browser
    builds, whatever the markup's quirks (``<image>`` is an ``<img>``, a ``<noscript>``'s
    content is checked as elements, a stray ``<`` is text)."""

    def __init__(self, page: str, csp: str | None, scripts: set[str], styles: set[str],
                 root: str = "/"):
        self.page, self.csp, self.scripts, self.styles = page, csp, scripts, styles
        self.root = root  # the URL path the site is served at, "/" or e.g. "/en/latest/"
        self.problems: list[str] = []
        self.policies = self.referrers = 0

    def problem(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)

    def feed(self, html: str) -> None:
        # imported here: a build whose pages all passed before never parses one (30 ms)
        from selectolax.lexbor import LexborHTMLParser

        for node in LexborHTMLParser(html).root.traverse(include_text=False):
            tag = node.tag
            if tag.startswith("-"):
                continue  # a comment or the doctype, not an element
            attributes = node.attributes
            if tag in PLAIN_ELEMENTS and attributes.keys() <= PLAIN_ATTRIBUTES:
                # nothing :meth:`element` could refuse (most of a page's elements)
                href, src = attributes.get("href"), attributes.get("src")
                if (not href or ":" not in href) and (not src or ":" not in src):
                    continue
            attrs = {name.lower(): value or "" for name, value in attributes.items()}
            self.element(tag.lower(), attrs)
            if tag in ("script", "style") and "src" not in attrs:
                self.content(tag, attrs, node.text(deep=True))

    def element(self, tag: str, attrs_d: dict[str, str]) -> None:
        if tag not in ELEMENTS:
            self.problem(f"<{tag}> is not an element the site allows")
        for name, value in attrs_d.items():
            if name.startswith("on"):
                self.problem(f"<{tag} {name}=...>: event-handler attributes are not allowed")
            elif name == "style" and sha256(value) not in self.styles:
                self.problem(f"<{tag} style={value[:40]!r}>: a style the site's templates do "
                             "not set")
            elif name in URL_ATTRIBUTES:
                self._address(tag, name, value)
            elif name in ("srcdoc", "formtarget", "http-equiv") and tag != "meta":
                self.problem(f"<{tag} {name}=...> is not allowed")
        if tag == "meta":
            self._meta(attrs_d)
        elif tag == "link":
            rels = set(attrs_d.get("rel", "").lower().split())
            href = attrs_d.get("href", "")
            if rels & FETCHING_RELS and (SCHEME.match(href) or href.startswith("//")):
                self.problem(f"<link rel={' '.join(sorted(rels))!r}> loads {href[:60]!r} from "
                             "another site")
        elif tag == "script" and "src" in attrs_d:
            self._script_src(attrs_d["src"])
        elif tag in ("form", "button", "input") and "action" in attrs_d:
            if SCHEME.match(attrs_d["action"]) or attrs_d["action"].startswith("//"):
                self.problem(f"<{tag} action={attrs_d['action'][:60]!r}> sends to another site")

    def content(self, tag: str, attrs: dict[str, str], body: str) -> None:
        """An inline script's or style element's text."""
        if tag == "script":
            kind = attrs.get("type", "").lower()
            if kind == "application/ld+json":
                pass  # a data block, never run
            elif kind not in JS_TYPES:
                self.problem(f"<script type={kind!r}> is not a script type the site uses")
            elif sha256(body) not in self.scripts:
                self.problem("an inline script the Content-Security-Policy does not allow, so "
                             "browsers will block it: move it into a file in docs/_static and "
                             f"add it to html_js_files (script starts: {body.strip()[:60]!r})")
        elif sha256(body) not in self.styles:
            self.problem(f"a <style> element the site's templates do not write "
                         f"(starts: {body.strip()[:40]!r})")

    def _address(self, tag, name, value):
        values = [part.strip().split()[0] for part in value.split(",") if part.strip()] \
            if name == "srcset" else [value]
        for address in values:
            scheme = SCHEME.match(address)
            if not scheme:
                continue
            scheme = scheme.group(1).lower()
            if scheme == "data" and tag == "img" and name == "src" and re.match(
                    r"\s*data:image/(png|gif|jpeg|webp)[;,]", address, re.I):
                continue
            if scheme not in URL_SCHEMES:
                self.problem(f"<{tag} {name}={address[:40]!r}>: '{scheme}:' addresses are "
                             "not allowed")
            elif tag in ("img", "source", "video", "audio", "iframe", "embed", "track") \
                    and name in ("src", "srcset", "poster"):
                self.problem(f"<{tag} {name}={address[:60]!r}> loads a file from another site")

    def _script_src(self, src):
        if SCHEME.match(src) or src.startswith("//"):
            self.problem(f"<script src={src[:60]!r}> loads a script from another site")
            return
        target = src.split("?", 1)[0].split("#", 1)[0]
        if target.startswith("/"):  # the 404 page addresses files from the site's root
            if not target.startswith(self.root):
                self.problem(f"<script src={src[:60]!r}> is outside the site, which is "
                             f"served at {self.root}")
                return
            path = posixpath.normpath(target[len(self.root):])
        else:
            path = posixpath.normpath(posixpath.join(posixpath.dirname(self.page), target))
        if not path.startswith(SCRIPT_FOLDERS):
            self.problem(f"<script src={src[:60]!r}> is not one of the site's own scripts "
                         f"(they live in {' and '.join(SCRIPT_FOLDERS)})")

    def _meta(self, attrs):
        equiv = attrs.get("http-equiv", "").lower()
        if equiv:
            if equiv == "content-security-policy" and self.policies == 0 \
                    and attrs.get("content") == self.csp:
                self.policies += 1
            else:
                self.problem(f"<meta http-equiv={attrs.get('http-equiv')!r}> is not allowed "
                             "(the only one a page has is the site's Content-Security-Policy)")
        if attrs.get("name", "").lower() == "referrer":
            self.referrers += 1
            if attrs.get("content") != REFERRER_POLICY or self.referrers > 1:
                self.problem(f"<meta name='referrer' content={attrs.get('content')!r}> "
                             f"changes the site's referrer policy ({REFERRER_POLICY})")


def audit_page(html: str, page: str, csp: str | None, scripts: set[str],
               styles: set[str], root: str = "/") -> list[str]:
    """Problems of one written page (*page*: its path in the output, with '/'; *root*:
    the URL path the site is served at, which the 404 page's addresses start with)."""
    audit = PageAudit(page, csp, scripts, styles, root)
    audit.feed(html)
    if csp is not None and audit.policies == 0:
        audit.problem("no Content-Security-Policy: its template does not output "
                      "{{ metatags }} in <head>")
    return audit.problems


CSP_META = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)"')


def site_root(app: Sphinx) -> str:
    """The URL path the site is served at, from which the 404 page addresses its files:
    sphinx-notfound-page's prefix, which kb/structured.py sets from ``html_baseurl``
    ("/en/latest/" on Read the Docs)."""
    return getattr(app.config, "notfound_urls_prefix", None) or "/"


@guarded("checking the written pages")
def audit_written(app: Sphinx, path: Path, docname: str | None) -> None:
    """Check one written page; each problem is a warning naming the page (a page from a
    source file at that file, a generated one by its path in the output)."""
    html = path.read_text(encoding="utf-8", errors="replace")
    if redirect_page_target(html) is not None:
        return  # the site's redirect page: exactly kb/urls.py's template
    outdir = Path(app.outdir)
    page = "this page" if docname else str(path.relative_to(outdir))
    found = CSP_META.search(html)
    csp = unescape(found.group(1)) if found else app.kb_csp
    styles = app.kb_csp_style_elements | app.kb_csp_style_attributes
    rendered = set().union(*app.kb_csp_rendered_styles.values()) if \
        app.kb_csp_rendered_styles else set()
    relpath = path.relative_to(outdir).as_posix()
    allowed = styles | rendered
    root = site_root(app)
    key = audit_key(html, relpath, csp, app.kb_csp_hashes, allowed, root)
    passed = getattr(app, "kb_csp_passed", None)
    if passed is not None and key in passed["before"]:
        passed["now"].add(key)  # this exact page passed this exact check before
        return
    problems = audit_page(html, relpath, csp, app.kb_csp_hashes, allowed, root)
    for problem in problems:
        logger.warning("%s: %s", page, problem, type="kb", subtype="csp", location=docname)
    if not problems and passed is not None:
        passed["now"].add(key)


#: What the output check is made of: a page that passed under other code is checked again.
AUDIT_CODE = hashlib.sha256(Path(__file__).read_bytes()
                            + Path(__file__).with_name("urls.py").read_bytes()).hexdigest()
#: Pages that passed the check, by :func:`audit_key`, kept in the doctree folder so that an
#: incremental build does not parse again the pages it rewrites unchanged (the topic
#: pages, the search and 404 pages are written in every build). A page with a problem is
#: never recorded, so its problem is reported in every build until it is fixed.
AUDIT_FILE = "kb-checked-pages.json"


def audit_key(html: str, relpath: str, csp: str | None, scripts: set[str],
              styles: set[str], root: str = "/") -> str:
    """Everything :func:`audit_page`'s verdict depends on, hashed."""
    digest = hashlib.sha256()
    for part in (AUDIT_CODE, relpath, root, csp or "", " ".join(sorted(scripts)),
                 " ".join(sorted(styles)), html):
        digest.update(part.encode("utf-8", errors="replace") + b"\0")
    return digest.hexdigest()


def _load_passed(app: Sphinx) -> None:
    try:
        data = json.loads((Path(app.doctreedir) / AUDIT_FILE).read_text(encoding="utf-8"))
        before = {k for k in data.get("passed", []) if isinstance(k, str)}
    except (OSError, ValueError, AttributeError):
        before = set()
    app.kb_csp_passed = {"before": before, "now": set()}


def _save_passed(app: Sphinx) -> None:
    """The pages checked in this (main) process that passed; pages that writing processes
    checked (``-j``) are not recorded and are checked again when next rewritten."""
    path = Path(app.doctreedir) / AUDIT_FILE
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"passed": sorted(app.kb_csp_passed["now"])}),
                   encoding="utf-8")
    tmp.replace(path)


def _audit_as_written(app: Sphinx) -> None:
    """Check each page right after the builder writes it, in the process that writes it:
    with ``-j``, Sphinx's writing processes check their own pages (their warnings reach
    the main process). ``build-finished`` then checks only the pages written some other
    way (redirect pages, or anything an extension writes itself)."""
    builder = app.builder
    handle_page, write_documents = builder.handle_page, builder.write_documents
    app.kb_csp_handled = set()  # output files checked in this process
    app.kb_csp_dispatched = set()  # documents given to the writers (any process)

    def checked_handle_page(pagename, addctx, templatename="page.html", *args, **kwargs):
        handle_page(pagename, addctx, templatename, *args, **kwargs)
        outfilename = kwargs.get("outfilename")
        path = Path(outfilename or builder.get_outfilename(pagename))
        if path.suffix == ".html" and path.is_file():  # as build-finished: not an EPUB's
            docname = pagename if pagename in app.env.all_docs else None
            audit_written(app, path, docname)
            app.kb_csp_handled.add(os.path.normpath(path))

    def recorded_write_documents(docnames):
        app.kb_csp_dispatched.update(docnames)
        return write_documents(docnames)

    builder.handle_page = checked_handle_page
    builder.write_documents = recorded_write_documents


@guarded("checking the written pages")
def _build_finished(app: Sphinx, exc) -> None:
    if exc is not None or not getattr(app, "kb_csp", None):
        return
    started = app.kb_build_started - 1
    outdir = Path(app.outdir)
    # paths compared as written (all under app.outdir), not resolved: no file system
    # call per page
    sources = {path: d for d, path in page_paths(app, app.env.all_docs).items()}
    checked = set(getattr(app, "kb_csp_handled", ())) | set(
        page_paths(app, getattr(app, "kb_csp_dispatched", ())).values())
    for root, dirs, files in os.walk(outdir):  # strings, not a Path per page
        dirs[:] = [d for d in dirs if not d.startswith((".", "_")) and d != "pagefind"]
        for name in sorted(files):
            if not name.endswith(".html"):
                continue
            key = os.path.normpath(os.path.join(root, name))
            if key not in checked and os.stat(key).st_mtime >= started:
                audit_written(app, Path(key), sources.get(key))
    if app.builder.name in ("html", "dirhtml"):
        _save_passed(app)


def setup_csp(app: Sphinx) -> None:
    app.add_config_value("kb_csp_allow_readthedocs_addons", False, "html", bool)
    app.connect("builder-inited", _builder_inited)
    app.connect("html-page-context", _page_context, priority=900)
    app.connect("build-finished", _build_finished)
