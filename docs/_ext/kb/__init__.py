"""The knowledge-base extension: turns MyST articles into a knowledge base.

One module per concept; ``setup()`` only wires them together.
"""

from sphinx.application import Sphinx

from .allowlist import setup_allowlist
from .build import record_inputs
from .errors import guarded
from .articles import setup_articles
from .citations import setup_citations
from .contact import setup_contact
from .crisis import setup_crisis
from .csp import setup_csp
from .drafts import setup_drafts
from .epub import setup_epub
from .frontmatter import setup_frontmatter
from .handouts import setup_handouts
from .guards import setup_guards
from .identity import setup_identity
from .listings import setup_listings
from .navigation import setup_navigation
from .pagenotfound import setup_pagenotfound
from .quickexit import setup_quick_exit
from .search import setup_search
from .sharing import setup_sharing
from .sitemap import setup_sitemap
from .structured import setup_structured
from .upstream import setup_upstream
from .urls import setup_urls

__version__ = "0.1.0"


def setup(app: Sphinx) -> dict:
    setup_upstream(app)
    setup_crisis(app)
    setup_contact(app)
    setup_identity(app)
    setup_frontmatter(app)
    setup_allowlist(app)
    setup_citations(app)
    setup_drafts(app)
    setup_articles(app)
    setup_listings(app)
    setup_structured(app)
    setup_quick_exit(app)
    setup_navigation(app)
    setup_pagenotfound(app)
    setup_sharing(app)
    setup_search(app)
    setup_csp(app)
    setup_guards(app)
    setup_sitemap(app)
    setup_epub(app)
    setup_handouts(app)
    setup_urls(app)
    # for make html's "nothing changed" check (kb/build.py)
    app.connect("build-finished", guarded("recording what the build read")(record_inputs))
    return {
        "version": __version__,
        "env_version": 3,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
