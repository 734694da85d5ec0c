"""Test-only Sphinx extension: stop a build at a chosen phase so that a test can kill it
there (tests/test_build_faults.py).

KB_TEST_STOP_AT names an event (``doctree-read``, ``env-updated``, ``html-page-context``,
``build-finished``); the first time it fires, the file KB_TEST_STOP_FILE is written and
the build waits until KB_TEST_GO_FILE exists (at most two minutes). KB_TEST_STOP_CALL=N
stops at the N-th time instead (html-page-context: after N-1 pages were written).

KB_TEST_SAVE_LOG names a file that gets a line for each save of the environment (who
pickled it, when it started and ended) and for each page written (by whom, when).
KB_TEST_UNPICKLABLE_ENV=1 puts something that cannot be pickled in the environment once
the pages are read."""

import os
import time
from pathlib import Path


CALLS = [0]


def _stop(*_args):
    stop = os.environ.get("KB_TEST_STOP_FILE")
    CALLS[0] += 1
    if not stop or Path(stop).exists() or CALLS[0] < int(os.environ.get("KB_TEST_STOP_CALL",
                                                                         "1")):
        return None
    Path(stop).write_text(str(os.getpid()))
    go = Path(os.environ.get("KB_TEST_GO_FILE", "/nonexistent"))
    deadline = time.monotonic() + 120
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return None


def _log(what):
    with open(os.environ["KB_TEST_SAVE_LOG"], "a", encoding="utf-8") as out:
        out.write(f"{what} {os.getpid()} {time.monotonic()}\n")


class _LoggedPickle:
    """``pickle`` for the saver of kb/upstream.py: each dump of the environment logged."""

    def __init__(self, module):
        self.module = module

    def dump(self, obj, *args, **kwargs):
        environment = type(obj).__name__ == "BuildEnvironment"
        if environment:
            _log("save-start")
        self.module.dump(obj, *args, **kwargs)
        if environment:
            _log("save-end")


def _page_written(app, *_args):
    _log("page")


def _unpicklable(app, env):
    env.kb_test_unpicklable = lambda: None
    return []


def setup(app):
    if os.environ.get("KB_TEST_SAVE_LOG"):
        import sphinx.builders

        saver = sphinx.builders.pickle
        saver.kb_module = _LoggedPickle(saver.kb_module)
        app.connect("html-page-context", _page_written)
    if os.environ.get("KB_TEST_UNPICKLABLE_ENV"):
        app.connect("env-updated", _unpicklable)
    event = os.environ.get("KB_TEST_STOP_AT")
    if event:
        # html-page-context: after some pages were written; build-finished: before the
        # sitemap and the search index (priority 500)
        app.connect(event, _stop, priority=450 if event == "build-finished" else 500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
