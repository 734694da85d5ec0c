"""Crisis and support resources, as verified data: ``docs/_data/crisis-resources.yaml``.

Each resource carries the page it was checked against and the day it was checked. The
file is read with an allow-list: known keys only, links only ``tel:`` (digits), ``sms:``
(digits, optionally a ``?&body=`` word) or ``https:``, a real date not in the future.
Every problem is reported with the file's line; a broken file never reaches a reader.

The notice at the top of every page shows the resources marked ``notice: true`` and one
link to the crisis page's list of situations; ``{kb-crisis-resources} group-id`` renders
one group on a page (its heading, with the group's id as anchor, is written on the page).
A group that no page shows is a warning, so a reader can always find it.

``make check`` (``stale_resources``) warns when a resource was last checked more than
12 months ago.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from .datafiles import YamlProblem, load_yaml
from .frontmatter import Problem, _as_date

logger = logging.getLogger(__name__)

STALE_AFTER_DAYS = 365
TOP_KEYS = {"notice", "groups"}
NOTICE_KEYS = {"heading", "more"}
GROUP_KEYS = {"id", "title", "resources"}
RESOURCE_KEYS = {"id", "text", "href", "detail", "source", "checked", "notice", "lang"}
REQUIRED_RESOURCE_KEYS = ("id", "text", "href", "detail", "source", "checked")
HREF = re.compile(r"tel:\+?[0-9]{3,15}|sms:\+?[0-9]{3,15}(\?&body=[A-Za-z0-9]{1,20})?"
                  r"|https://[A-Za-z0-9.-]+(/[^\s\"'<>]*)?")
SOURCE = re.compile(r"https?://[A-Za-z0-9.-]+(/[^\s\"'<>]*)?")
SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
LANG = re.compile(r"[a-z]{2,3}(-[A-Z]{2})?")


@dataclass(frozen=True)
class Resource:
    id: str
    text: str
    href: str
    detail: str
    source: str
    checked: dt.date
    line: int
    notice: bool = False
    lang: str | None = None


@dataclass(frozen=True)
class Group:
    id: str
    title: str
    resources: tuple[Resource, ...]
    line: int


@dataclass(frozen=True)
class CrisisData:
    heading: str
    more: str
    groups: tuple[Group, ...]

    def notice_resources(self) -> list[Resource]:
        return [r for g in self.groups for r in g.resources if r.notice]

    def group(self, group_id: str) -> Group | None:
        return next((g for g in self.groups if g.id == group_id), None)


EMPTY = CrisisData("In crisis?", "More help now", ())


def _line(node) -> int:
    return node.start_mark.line + 1


def _mapping(node) -> dict[str, tuple[int, object]]:
    """A YAML mapping node as {key: (line of the key, value node)}."""
    return {str(k.value): (_line(k), v) for k, v in node.value}


def load_crisis(path: Path, today: dt.date | None = None
                ) -> tuple[CrisisData, list[Problem]]:
    """Read and check the crisis file; return what is valid and every problem found."""
    today = today or dt.date.today()
    try:
        text = path.read_text(encoding="utf-8")
        _, node = load_yaml(text)  # plain YAML only (kb/datafiles.py)
    except FileNotFoundError:
        return EMPTY, [Problem(1, f"crisis resources file not found: {path} (the crisis "
                                  "notice on every page is built from it)")]
    except UnicodeDecodeError:
        return EMPTY, [Problem(1, "crisis resources file is not UTF-8 text: save it as "
                                  "UTF-8 in your editor")]
    except YamlProblem as exc:
        return EMPTY, [Problem(exc.line, f"crisis resources file: {exc.message}")]
    problems: list[Problem] = []
    if not isinstance(node, yaml.MappingNode):
        return EMPTY, [Problem(1, "crisis resources file must have 'notice:' and 'groups:'")]
    top = _mapping(node)
    for key, (line, _) in top.items():
        if key not in TOP_KEYS:
            problems.append(Problem(line, f"unknown key '{key}' (allowed: notice, groups)"))
    heading, more = EMPTY.heading, EMPTY.more
    if "notice" not in top or not isinstance(top["notice"][1], yaml.MappingNode):
        problems.append(Problem(1, "'notice:' with 'heading:' and 'more:' is required"))
    else:
        notice = _mapping(top["notice"][1])
        for key, (line, value) in notice.items():
            if key not in NOTICE_KEYS:
                problems.append(Problem(line, f"unknown notice key '{key}' (allowed: "
                                              "heading, more)"))
            elif not isinstance(value, yaml.ScalarNode) or not str(value.value).strip():
                problems.append(Problem(line, f"notice '{key}' must be a short text"))
        for key in NOTICE_KEYS:
            if key not in notice:
                problems.append(Problem(top["notice"][0], f"notice needs '{key}:'"))
        heading = _scalar(notice.get("heading"), heading)
        more = _scalar(notice.get("more"), more)
    groups: list[Group] = []
    if "groups" not in top or not isinstance(top["groups"][1], yaml.SequenceNode):
        problems.append(Problem(top.get("groups", (1,))[0], "'groups:' must be a list"))
    else:
        seen_groups: set[str] = set()
        seen_resources: set[str] = set()
        for group_node in top["groups"][1].value:
            group = _group(group_node, today, problems, seen_groups, seen_resources)
            if group is not None:
                groups.append(group)
    data = CrisisData(heading, more, tuple(groups))
    if groups and not data.notice_resources():
        problems.append(Problem(1, "no resource has 'notice: true': the notice on every "
                                   "page needs at least one (e.g. 988 and 911)"))
    return data, problems


def _scalar(entry, default: str) -> str:
    if entry and isinstance(entry[1], yaml.ScalarNode) and str(entry[1].value).strip():
        return str(entry[1].value).strip()
    return default


def _group(node, today, problems, seen_groups, seen_resources) -> Group | None:
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(_line(node), "each group needs id, title and resources"))
        return None
    fields = _mapping(node)
    ok = True
    for key, (line, _) in fields.items():
        if key not in GROUP_KEYS:
            problems.append(Problem(line, f"unknown group key '{key}' (allowed: "
                                          f"{', '.join(sorted(GROUP_KEYS))})"))
    group_id = _scalar(fields.get("id"), "")
    title = _scalar(fields.get("title"), "")
    if not SLUG.fullmatch(group_id) or group_id in seen_groups:
        problems.append(Problem(_line(node), f"group id '{group_id}' must be a unique "
                                             "lowercase-hyphenated slug (it is the anchor "
                                             "on the crisis page)"))
        ok = False
    seen_groups.add(group_id)
    if not title:
        problems.append(Problem(_line(node), f"group '{group_id}' needs a title"))
        ok = False
    resources = []
    res_entry = fields.get("resources")
    if res_entry is None or not isinstance(res_entry[1], yaml.SequenceNode) \
            or not res_entry[1].value:
        problems.append(Problem(_line(node), f"group '{group_id}' needs a list of resources"))
        ok = False
    else:
        for res_node in res_entry[1].value:
            res = _resource(res_node, today, problems, seen_resources)
            if res is not None:
                resources.append(res)
    return Group(group_id, title, tuple(resources), _line(node)) if ok else None


def _resource(node, today, problems, seen) -> Resource | None:
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(_line(node), "each resource needs "
                                             + ", ".join(REQUIRED_RESOURCE_KEYS)))
        return None
    fields = _mapping(node)
    start = _line(node)
    bad = len(problems)
    for key, (line, value) in fields.items():
        if key not in RESOURCE_KEYS:
            problems.append(Problem(line, f"unknown resource key '{key}' (allowed: "
                                          f"{', '.join(sorted(RESOURCE_KEYS))})"))
        elif key != "notice" and not isinstance(value, yaml.ScalarNode):
            problems.append(Problem(line, f"'{key}' must be a single value"))
    values = {k: str(v.value).strip() for k, (_, v) in fields.items()
              if isinstance(v, yaml.ScalarNode)}
    where = lambda key: fields[key][0] if key in fields else start  # noqa: E731
    for key in REQUIRED_RESOURCE_KEYS:
        if not values.get(key):
            problems.append(Problem(start, f"resource '{values.get('id', '?')}' needs "
                                           f"'{key}:'"))
    rid = values.get("id", "")
    if rid and (not SLUG.fullmatch(rid) or rid in seen):
        problems.append(Problem(where("id"), f"resource id '{rid}' must be a unique "
                                             "lowercase-hyphenated slug"))
    seen.add(rid)
    href = values.get("href", "")
    if href and not HREF.fullmatch(href):
        problems.append(Problem(where("href"), f"href '{href}' is not allowed: use "
                                               "tel:DIGITS, sms:DIGITS (optionally "
                                               "?&body=WORD) or an https:// address"))
    source = values.get("source", "")
    if source and not SOURCE.fullmatch(source):
        problems.append(Problem(where("source"), "source must be the web address of the "
                                                 "page the resource was checked against"))
    checked = _as_date(values.get("checked")) if values.get("checked") else None
    if values.get("checked") and checked is None:
        problems.append(Problem(where("checked"), f"checked '{values['checked']}' is not a "
                                                  "date: use YYYY-MM-DD"))
    elif checked and checked > today:
        problems.append(Problem(where("checked"), f"checked {checked} is in the future"))
    notice = False
    if "notice" in fields:
        raw = fields["notice"][1]
        if not (isinstance(raw, yaml.ScalarNode) and raw.value in ("true", "false")):
            problems.append(Problem(where("notice"), "notice must be true or false"))
        notice = isinstance(raw, yaml.ScalarNode) and raw.value == "true"
    lang = values.get("lang")
    if lang is not None and not LANG.fullmatch(lang):
        problems.append(Problem(where("lang"), f"lang '{lang}' must be a language code "
                                               "such as es"))
    if len(problems) > bad:
        return None
    return Resource(rid, values["text"], href, values["detail"], source, checked, start,
                    notice, lang)


def stale_resources(data: CrisisData, today: dt.date) -> list[Resource]:
    """Resources not checked for more than 12 months."""
    return [r for g in data.groups for r in g.resources
            if (today - r.checked).days > STALE_AFTER_DAYS]


# -- Sphinx wiring -------------------------------------------------------------------------

def crisis_path(app: Sphinx) -> Path:
    return Path(app.srcdir) / app.config.kb_crisis_file


def _config_inited(app: Sphinx, config) -> None:
    # The notice is on every page: any change to the file rewrites every page (a config
    # value that changes with the file's content does that).
    path = crisis_path(app)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        digest = ""
    config.kb_crisis_digest = digest
    data, problems = load_crisis(path)
    app._kb_crisis_loaded = (data, problems)  # reported in builder-inited
    # What every other part reads (the notice, the EPUB's and the handout's crisis block):
    # the notice's resources from the file, unless conf.py sets kb_crisis_resources or
    # kb_crisis_heading itself (a list of {"text", "href", "detail"}).
    if config.kb_crisis_resources is None:
        config.kb_crisis_resources = [
            {"text": r.text, "href": r.href, "detail": r.detail,
             **({"lang": r.lang} if r.lang else {})}
            for r in data.notice_resources()]
    if config.kb_crisis_heading is None:
        config.kb_crisis_heading = data.heading


def _builder_inited(app: Sphinx) -> None:
    path = crisis_path(app)
    data, problems = getattr(app, "_kb_crisis_loaded", None) or load_crisis(path)
    app.env.kb_crisis = data
    for problem in problems:
        logger.warning(problem.message, location=f"{path}:{problem.line}", type="kb",
                       subtype="crisis")


def _page_context(app: Sphinx, pagename, templatename, context, doctree) -> None:
    data: CrisisData = getattr(app.env, "kb_crisis", EMPTY)
    context["kb_crisis_heading"] = app.config.kb_crisis_heading or data.heading
    context["kb_crisis_more"] = data.more
    context["kb_crisis_resources"] = [
        r for r in (app.config.kb_crisis_resources or [])
        if isinstance(r, dict) and r.get("text") and r.get("href")]


def _check_consistency(app: Sphinx, env) -> None:
    if app.config.kb_crisis_page not in env.all_docs:
        return  # a project without a crisis page (the tiny test projects)
    data: CrisisData = getattr(env, "kb_crisis", EMPTY)
    shown = set().union(*getattr(env, "kb_crisis_shown", {}).values()) \
        if getattr(env, "kb_crisis_shown", None) else set()
    for group in data.groups:
        if group.id not in shown:
            logger.warning(f"crisis group '{group.id}' is on no page: add "
                           f"'```{{kb-crisis-resources}} {group.id}' to "
                           f"{app.config.kb_crisis_page}.md under a heading with the "
                           f"anchor ({group.id})=", location=f"{crisis_path(app)}:"
                           f"{group.line}", type="kb", subtype="crisis")


def _purge(app, env, docname) -> None:
    if hasattr(env, "kb_crisis_shown"):
        env.kb_crisis_shown.pop(docname, None)


def _merge(app, env, docnames, other) -> None:
    if not hasattr(env, "kb_crisis_shown"):
        env.kb_crisis_shown = {}
    for docname in docnames:
        if docname in getattr(other, "kb_crisis_shown", {}):
            env.kb_crisis_shown[docname] = other.kb_crisis_shown[docname]


def resource_paragraph(res: Resource) -> nodes.paragraph:
    para = nodes.paragraph()
    ref = nodes.reference("", res.text, refuri=res.href, internal=False)
    para += nodes.strong("", "", ref)
    para += nodes.Text(f": {res.detail}")
    if res.lang:  # docutils writes a "language-xx" class as lang="xx"
        para["classes"].append(f"language-{res.lang}")
    return para


class CrisisResourcesDirective(SphinxDirective):
    """``{kb-crisis-resources}`` with a group id: that group's resources as a list;
    without one: the resources of the notice on every page."""

    optional_arguments = 1
    option_spec = {"class": directives.class_option}

    def run(self) -> list[nodes.Node]:
        data: CrisisData = getattr(self.env, "kb_crisis", EMPTY)
        self.env.note_dependency(str(Path(self.env.srcdir) / self.config.kb_crisis_file))
        if self.arguments:
            group = data.group(self.arguments[0])
            if group is None:
                known = ", ".join(g.id for g in data.groups) or "none"
                logger.warning(f"unknown crisis group '{self.arguments[0]}' (groups in "
                               f"{self.config.kb_crisis_file}: {known})",
                               location=self.get_location(), type="kb", subtype="crisis")
                return []
            if not hasattr(self.env, "kb_crisis_shown"):
                self.env.kb_crisis_shown = {}
            self.env.kb_crisis_shown.setdefault(self.env.docname, set()).add(group.id)
            resources = group.resources
        else:
            resources = tuple(data.notice_resources())
        items = nodes.bullet_list(classes=["kb-crisis-list"])
        for res in resources:
            items += nodes.list_item("", resource_paragraph(res))
        return [items]


def setup_crisis(app: Sphinx) -> None:
    app.add_config_value("kb_crisis_file", "_data/crisis-resources.yaml", "env", str)
    app.add_config_value("kb_crisis_page", "crisis", "html", str)
    app.add_config_value("kb_crisis_digest", "", "html", str)
    # Filled from the file's notice resources unless conf.py sets them (see _config_inited).
    app.add_config_value("kb_crisis_resources", None, "html", (list, type(None)))
    app.add_config_value("kb_crisis_heading", None, "html", (str, type(None)))
    app.connect("config-inited", _config_inited)
    app.connect("builder-inited", _builder_inited)
    app.connect("html-page-context", _page_context)
    app.connect("env-check-consistency", _check_consistency)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.add_directive("kb-crisis-resources", CrisisResourcesDirective)
