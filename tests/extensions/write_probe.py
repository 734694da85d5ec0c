"""Test-only Sphinx extension: records which process resolves each page
(tests/test_parallel_write.py). KB_TEST_WRITE_LOG names a file; each line is
``event pid docname`` (``main`` when the builder starts, ``resolved`` for each page)."""

import os


def _log(event, name):
    path = os.environ.get("KB_TEST_WRITE_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{event} {os.getpid()} {name}\n")


def setup(app):
    app.connect("builder-inited", lambda app: _log("main", "-"))
    app.connect("doctree-resolved", lambda app, doctree, docname: _log("resolved", docname))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
