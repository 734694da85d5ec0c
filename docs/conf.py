"""Sphinx configuration for the RFC Counseling knowledge base.

Flat and declarative: no logic beyond reading Read the Docs' environment variables, no
network, no file writing. The knowledge-base extension (docs/_ext/kb) does the work; its
settings carry the ``kb_`` prefix.
"""

import os
import sys

sys.path.insert(0, os.path.abspath("_ext"))

# -- Site identity (the one place; templates and pages read it from here) -----------------
project = "RFC Counseling Knowledge Base"
author = "RFC Counseling"
copyright = "2026, RFC Counseling"
language = "en"

kb_practice_name = "RFC Counseling"
kb_practice_location = "Denver, Colorado"
kb_tagline = "Plain, evidence-based articles on therapy and mental health"
# The call to action: the button on the home page, at the end of each article and on the
# About page. It leads to the booking page or the phone number in kb_contact below.
kb_cta_text = "Book a free phone consultation"
kb_cta_anchor = "how-to-book-a-free-phone-consultation"  # About page section (local builds)
# The practice's contact details (the call to action, the About page, the editorial policy,
# the accessibility page and the footer of every page read them). REQUIRED BEFORE GOING
# LIVE: a production build stops until "booking_url" or "phone" is set. Never put an
# example or a guessed value here. Keys: booking_url (https://...), phone (as readers should
# see it), email, hours, reply_time (e.g. "within two working days"), address,
# service_area (e.g. "Colorado, in person and online").
kb_contact = {
    "booking_url": "",
    "phone": "",
    "email": "",
    "hours": "",
    "reply_time": "",
    "address": "",
    "service_area": "",
}
# Crisis and support resources (the notice on every page and the crisis page) are data,
# each with the page it was checked against and the date: docs/_data/crisis-resources.yaml.
# A practice outside the US or Colorado replaces them there. (988's "press 3" option for
# LGBTQ+ youth ended on 17 July 2025 and is deliberately not listed.)
kb_crisis_file = "_data/crisis-resources.yaml"
kb_crisis_page = "crisis"
# Pages about abuse (front matter "quick_exit: true") get a quick-exit button; it replaces
# the page with this neutral site, so the Back button does not return to it.
kb_quick_exit_url = "https://www.weather.gov/"

# -- Knowledge base ------------------------------------------------------------------------
# Controlled vocabularies live in data files, so adding a topic or an author never needs an
# edit here.
kb_topics_file = "_data/topics.yaml"
kb_authors_file = "_data/authors.yaml"
kb_default_author = "editorial-team"
# Drafts (status: draft) are shown locally and in pull-request previews, and left out of
# production builds (Read the Docs builds of branches and tags); KB_DRAFTS=0/1 overrides.
kb_readability_target = 8.0
# Site search (Pagefind, built after each build): what readers type that the articles
# say differently, and the filler words dropped from a query.
kb_search_synonyms_file = "_data/search-synonyms.yaml"
kb_search_stopwords_file = "_data/search-stopwords.txt"
# Pages for writers: built, linked from the editorial policy, but not in the readers'
# sidebar (kb/navigation.py) or search.
kb_writers_pages = ["contributing/*"]
# Pages left out of search (they only repeat article titles, or are for writers).
kb_search_exclude = ["index", "bibliography", "contributing/*"]
# Addresses that never break: every page address ever published (make html adds new ones),
# and where renamed or removed pages went (old.html: new.html). See the writers' guide.
kb_published_urls_file = "_data/published-urls.txt"
kb_redirects_file = "_data/redirects.yaml"

# -- General configuration -----------------------------------------------------------------
extensions = [
    "myst_parser",  # articles are MyST Markdown
    "sphinxcontrib.bibtex",  # citations and reference lists from references.bib
    "sphinxext.opengraph",  # OpenGraph tags for shared links
    "sphinx_sitemap",  # sitemap.xml for search engines
    "notfound.extension",  # a 404 page that works at any URL depth
    "kb",  # the knowledge-base extension: front matter, topics, listings, APA, checks
]
root_doc = "index"
exclude_patterns = ["_build", "_data", "_templates", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]
nitpicky = True
suppress_warnings = ["myst.header"]  # heading levels are checked by kb, with advice

# -- MyST ----------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "smartquotes"]
myst_heading_anchors = 3

# -- Citations -----------------------------------------------------------------------------
bibtex_bibfiles = ["../references.bib"]
bibtex_default_style = "apa7"
bibtex_reference_style = "apa7"
bibtex_tooltips = True

# -- HTML output ---------------------------------------------------------------------------
html_theme = "furo"
html_title = "RFC Counseling Knowledge Base"
html_static_path = ["_static"]
html_css_files = ["kb.css", "kb-layout.css"]
# kb.js keeps searches in the browser (query in the URL fragment, never sent to the host)
# and makes citation tooltips keyboard- and screen-reader-friendly. The search page (its
# template, kb-search.js and kb-search.css) ships with the extension, in docs/_ext/kb/.
html_js_files = ["kb.js"]
html_favicon = "_static/favicon.svg"
html_copy_source = False
html_show_sourcelink = False
html_show_sphinx = False
html_last_updated_fmt = None
# Canonical URL: Read the Docs sets READTHEDOCS_CANONICAL_URL; a local build points at the
# local preview server.
html_baseurl = os.environ.get("READTHEDOCS_CANONICAL_URL", "http://localhost:8000/")
html_theme_options = {
    "navigation_with_keys": False,
    "top_of_page_buttons": [],
}

# -- EPUB (make epub; a download on Read the Docs): the library as one book -----------------
# The articles, in reading order, and the site's parts come from kb (docs/_ext/kb/epub.py).
epub_title = html_title
epub_description = kb_tagline
epub_publisher = kb_practice_name
epub_scheme = "URL"
epub_identifier = html_baseurl
epub_use_index = False  # no index entries: an empty "Index" chapter would only confuse
epub_show_urls = "no"  # references already show their URL; e-readers follow links
epub_tocdepth = 1  # the book's contents: its chapters (pages and articles)
epub_tocscope = "includehidden"  # the about pages are in a hidden toctree
kb_book_exclude = ["contributing/*"]  # pages for writers, not readers: not in the book

# -- Sitemap, OpenGraph, 404 ---------------------------------------------------------------
sitemap_url_scheme = "{link}"
sitemap_excludes = ["search.html", "genindex.html", "404.html"]
ogp_site_url = html_baseurl
ogp_site_name = html_title
ogp_enable_meta_description = True
ogp_social_cards = {"enable": False}  # cards need matplotlib and remote fonts
notfound_urls_prefix = None
