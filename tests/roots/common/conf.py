# Shared skeleton of the tiny test projects: each tests/roots/test-<feature>_<case>/ adds
# or replaces files on top of this one (see tests/conftest.py: build_root).
extensions = ["myst_parser", "sphinx_sitemap", "kb"]
sitemap_url_scheme = "{link}"
bibtex_bibfiles = ["refs.bib"]
exclude_patterns = ["_build", "_data"]
html_theme = "furo"
html_baseurl = "https://kb.example.org/"
nitpicky = True
kb_show_drafts = True
bibtex_default_style = "apa7"
bibtex_reference_style = "apa7"
suppress_warnings = ["myst.header"]
# A production build stops without the practice's contact details (kb/contact.py); the
# tiny projects are built as production by some tests, so they have a test value.
kb_contact = {"booking_url": "https://booking.example.org/test"}
