"""Test-only Sphinx extension: records which process reads and resolves each page, and
how many objects the garbage collector has frozen then and its young generation's
threshold (tests/test_parallel_write.py). KB_TEST_WRITE_LOG names a file; each line is
``event pid name frozen threshold``: ``main`` when the builder starts, ``read`` and ``resolved`` for each page, ``updated`` when the read ends
and ``finished`` when the build ends."""

import gc
import os


def _log(event, name):
    path = os.environ.get("KB_TEST_WRITE_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{event} {os.getpid()} {name} {gc.get_freeze_count()} "
                      f"{gc.get_threshold()[0]}\n")


def setup(app):
    app.connect("builder-inited", lambda app: _log("main", "-"))
    app.connect("doctree-read", lambda app, doctree: _log("read", app.env.docname))
    app.connect("doctree-resolved", lambda app, doctree, docname: _log("resolved", docname))
    app.connect("env-updated", lambda app, env: _log("updated", "-"), priority=1000)
    app.connect("build-finished", lambda app, exc: _log("finished", "-"), priority=1000)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
