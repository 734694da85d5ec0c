"""A Content-Security-Policy on every page: no script runs unless the site shipped it.

Scripts may come only from the site's own origin (which also lets Read the Docs' addons
work: the host serves them from the same origin, under ``/_/``), and an inline script only
if its SHA-256 hash is in the policy. The hashes are computed at build time from the
inline scripts in the theme's and the project's templates (furo has one: it applies the
reader's saved colour theme before the page paints). After the build, every page written
is checked: an inline script the policy does not cover is a warning naming the page, so
a template change can never silently break the site or weaken the policy.

``'wasm-unsafe-eval'`` lets the browser compile the search engine's WebAssembly (Pagefind);
it allows no JavaScript ``eval``. Styles allow inline ``style`` attributes and elements
(furo sets its colour variables that way); styles cannot run code. Everything else (images,
fonts, connections, workers, frames, forms, ``<base>``) is limited to the site itself.

A ``<meta>`` policy cannot set ``frame-ancestors`` or reporting; a host that can send
headers should send this policy as a header too.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from html import escape
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

from .errors import guarded

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


def template_hashes(dirs) -> set[str]:
    """Hashes of the inline scripts in the templates (those without template code, whose
    text is the same on every page)."""
    hashes = set()
    for directory in dirs:
        for path in sorted(Path(directory).rglob("*.html")):
            text = path.read_text(encoding="utf-8", errors="replace")
            for body in inline_scripts(text):
                if not any(code in body for code in TEMPLATE_CODE):
                    hashes.add(sha256(body))
    return hashes


def policy(hashes) -> str:
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval' " + " ".join(sorted(hashes)),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "frame-src 'none'",
        "object-src 'none'",
        "base-uri 'self'",
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
    app.kb_csp = policy(app.kb_csp_hashes)


def _page_context(app: Sphinx, pagename, templatename, context, doctree) -> None:
    csp = getattr(app, "kb_csp", None)
    if csp:
        tag = f'<meta http-equiv="Content-Security-Policy" content="{escape(csp)}">'
        context["metatags"] = tag + "\n" + context.get("metatags", "")


@guarded("checking pages against the Content-Security-Policy")
def _build_finished(app: Sphinx, exc) -> None:
    if exc is not None or not getattr(app, "kb_csp", None):
        return
    allowed = app.kb_csp_hashes
    started = app.kb_build_started - 1
    outdir = Path(app.outdir)
    sources = {Path(app.builder.get_outfilename(d)).resolve(): d for d in app.env.all_docs}
    for root, dirs, files in os.walk(outdir):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_")) and d != "pagefind"]
        for name in sorted(files):
            path = Path(root, name)
            if not name.endswith(".html") or path.stat().st_mtime < started:
                continue
            html = path.read_text(encoding="utf-8", errors="replace")
            # a page from a source file is reported at that file; a generated one by name
            docname = sources.get(path.resolve())
            page = "this page" if docname else str(path.relative_to(outdir))
            if 'http-equiv="Content-Security-Policy"' not in html:
                logger.warning(
                    "%s has no Content-Security-Policy: its template does not output "
                    "{{ metatags }} in <head>", page, type="kb", subtype="csp",
                    location=docname)
            for body in inline_scripts(html):
                if sha256(body) not in allowed:
                    logger.warning(
                        "%s has an inline script the Content-Security-Policy does not "
                        "allow, so browsers will block it: move it into a file in "
                        "docs/_static and add it to html_js_files (script starts: %r)",
                        page, body.strip()[:60], type="kb", subtype="csp",
                        location=docname)


def setup_csp(app: Sphinx) -> None:
    app.connect("builder-inited", _builder_inited)
    app.connect("html-page-context", _page_context, priority=900)
    app.connect("build-finished", _build_finished)
