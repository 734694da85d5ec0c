// Test-only oracle: format every entry of a .bib file with citeproc-js and the APA 7 CSL
// style, after converting BibTeX to CSL-JSON with citation.js. Prints JSON to stdout:
//   {"versions": {...}, "entries": {key: {"reference": html, "parenthetical": html,
//                                         "narrative": html}},
//    "clusters": [{"ids": [key...], "parenthetical": html}]}
// Usage: node tests/oracle/oracle.js tests/data/apa-corpus.bib > tests/data/apa-oracle.json
// Never used by the site build; installed for the tests only (npm ci --prefix tests/oracle).
"use strict";
const fs = require("fs");
const path = require("path");
const { Cite, plugins } = require("@citation-js/core");
require("@citation-js/plugin-bibtex");
const CSL = require("citeproc");
const styles = require("@citation-js/plugin-csl/lib/styles.json");
const locales = require("@citation-js/plugin-csl/lib/locales.json");

function version(name) {
  const file = require.resolve(path.join(name, "package.json"), { paths: [__dirname] });
  return JSON.parse(fs.readFileSync(file, "utf8")).version;
}

const text = fs.readFileSync(process.argv[2], "utf8");
// Entries are parsed one by one, so one entry citation.js cannot read loses only itself.
const chunks = text
  .split(/^(?=[ \t]*@)/m)
  .map((c) => c.replace(/^[ \t]*%.*$/gm, ""))
  .filter((c) => /^[ \t]*@\s*\w+\s*[{(]/.test(c));
const items = {};
const failed = {};
for (const chunk of chunks) {
  const head = /^[ \t]*@\s*(\w+)\s*[{(]\s*([^,\s]+)/.exec(chunk);
  if (!head || /^(comment|string|preamble)$/i.test(head[1])) continue;
  try {
    const data = new Cite(chunk, { forceType: "@biblatex/text" }).data;
    for (const item of data) {
      item.id = head[2];
      items[item.id] = item;
    }
    if (!data.length) failed[head[2]] = "no item";
  } catch (error) {
    failed[head[2]] = String(error.message || error);
  }
}

const sys = {
  retrieveLocale: (lang) => locales[lang] || locales["en-US"],
  retrieveItem: (id) => items[id],
};
const engine = new CSL.Engine(sys, styles.apa, "en-US", true);
engine.setOutputFormat("html");
const ids = Object.keys(items);
engine.updateItems(ids);
const [meta, html] = engine.makeBibliography();
const entries = {};
meta.entry_ids.forEach((entryIds, i) => {
  entries[entryIds[0]] = { reference: html[i].trim() };
});
for (const id of ids) {
  const one = (extra) => engine.makeCitationCluster([{ id, ...extra }]);
  entries[id].parenthetical = one({});
  entries[id].narrative = `${one({ "author-only": true })} ${one({ "suppress-author": true })}`;
}
// Citations of several works (APA 8.12): every set of works whose authors are the same
// people in the same order, and mixed sets picked by a fixed rule; each cited in the order
// listed here, which is not the reference list's.
const byAuthors = {};
for (const id of ids) {
  const people = (items[id].author || items[id].editor || [])
    .map((p) => p.literal || `${p.family || ""}, ${p.given || ""}`).join("; ");
  if (people) (byAuthors[people] = byAuthors[people] || []).push(id);
}
const sorted = [...ids].sort();
const sets = Object.values(byAuthors).filter((group) => group.length > 1)
  .map((group) => [...group].sort().reverse());
for (let i = 0; i < sorted.length; i += 3) {
  const picked = [i, (i * 7 + 3) % sorted.length, (i * 13 + 5) % sorted.length]
    .map((j) => sorted[j]);
  if (new Set(picked).size === picked.length) sets.push(picked);
}
const clusters = sets.map((set) => ({
  ids: set,
  parenthetical: engine.makeCitationCluster(set.map((id) => ({ id }))),
}));
const versions = {};
for (const name of ["citeproc", "@citation-js/core", "@citation-js/plugin-bibtex", "@citation-js/plugin-csl"]) {
  versions[name] = version(name);
}
process.stdout.write(JSON.stringify({ versions, failed, entries, clusters }, null, 1) + "\n");
