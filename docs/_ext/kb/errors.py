"""No traceback ever reaches a writer: handlers report unexpected errors as warnings."""

from __future__ import annotations

import functools

from sphinx.util import logging

logger = logging.getLogger(__name__)


def guarded(what: str, default=None):
    """Turn an unexpected exception in a handler into a clear warning, never a traceback."""

    def wrap(func):
        @functools.wraps(func)
        def handler(app, *args, **kwargs):
            try:
                return func(app, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - reported, build goes on and fails
                docname = getattr(app.env, "docname", None) if hasattr(app, "env") else None
                logger.warning(
                    f"the knowledge-base extension failed while {what}: "
                    f"{type(exc).__name__}: {exc} (this is a bug in the site's tooling, not "
                    "in your writing; please report it with this message)",
                    location=docname, type="kb", subtype="internal")
                return default
        return handler
    return wrap
