"""docs/conf.py on Read the Docs and locally."""

from __future__ import annotations

import runpy

from helpers import DOCS


def load_conf(monkeypatch, **env):
    for name in ("READTHEDOCS", "READTHEDOCS_CANONICAL_URL", "READTHEDOCS_VERSION_TYPE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(DOCS / "conf.py"))


def test_local_build_uses_the_local_preview_url(monkeypatch):
    conf = load_conf(monkeypatch)
    assert conf["html_baseurl"] == "http://localhost:8000/"
    assert conf["ogp_site_url"] == conf["html_baseurl"]


def test_read_the_docs_build_uses_its_canonical_url(monkeypatch):
    url = "https://rfc-counseling-kb.readthedocs.io/en/latest/"
    conf = load_conf(monkeypatch, READTHEDOCS="True", READTHEDOCS_CANONICAL_URL=url,
                     READTHEDOCS_VERSION_TYPE="branch")
    assert conf["html_baseurl"] == url
    assert conf["ogp_site_url"] == url


def test_site_identity_is_in_one_place(monkeypatch):
    conf = load_conf(monkeypatch)
    assert conf["kb_practice_name"] == "RFC Counseling"
    assert conf["kb_practice_location"] == "Denver, Colorado"
    assert conf["kb_cta_text"] == "Book a free phone consultation"
    # crisis resources are data, each with its source and check date (tests/test_frontdoor.py)
    assert conf["kb_crisis_file"] == "_data/crisis-resources.yaml"
    assert (DOCS / conf["kb_crisis_file"]).is_file()
    # the practice's contact details are not known: unset, never invented
    assert set(conf["kb_contact"]) == {"booking_url", "phone", "email", "hours",
                                       "reply_time", "address", "service_area"}
    assert not any(conf["kb_contact"].values())
    assert conf["language"] == "en"
