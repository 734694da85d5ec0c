"""Test-only Sphinx extension: records, at a few events, whether the garbage collector
runs and how many objects are frozen (tests/test_upstream.py). Its handlers run after
the site's own (priority 1000). ``RAISE`` set: the build fails once its pages are read."""

import gc

SEEN: list[tuple[str, bool, int]] = []
RAISE = [False]


def _record(event):
    def handler(app, *args):
        SEEN.append((event, gc.isenabled(), gc.get_freeze_count()))
        if event == "env-updated" and RAISE[0]:
            raise RuntimeError("the probe stops the build")
    return handler


def setup(app):
    for event in ("env-before-read-docs", "env-updated", "write-started"):
        app.connect(event, _record(event), priority=1000)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
