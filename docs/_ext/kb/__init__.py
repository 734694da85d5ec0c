"""The knowledge-base extension: turns MyST articles into a knowledge base.

One module per concept; ``setup()`` only wires them together.
"""

from sphinx.application import Sphinx

from .citations import setup_citations
from .frontmatter import setup_frontmatter
from .identity import setup_identity

__version__ = "0.1.0"


def setup(app: Sphinx) -> dict:
    setup_identity(app)
    setup_frontmatter(app)
    setup_citations(app)
    return {
        "version": __version__,
        "env_version": 1,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
