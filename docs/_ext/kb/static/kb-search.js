/* RFC Counseling knowledge base: the search page (search.html).

   The engine is Pagefind (docs/_ext/kb/search.py builds its index after each build): its
   index is split into small chunks, so a query fetches only the pieces it needs. Pagefind
   matches words, their stems and prefixes. This file adds what readers need on top:

   - the query lives in the URL fragment (#q=...&topic=...), which is never sent to any
     server; the form field has no name, so even a plain submit sends nothing;
   - filler words are dropped ("my", "vs", "how to"), lay words and abbreviations are
     expanded with the editors' synonym list (dad -> father, parent; ptsd -> trauma), and
     a misspelt word is corrected against the site's own vocabulary (anxeity -> anxiety);
     the lists come from pagefind/kb-search.json and the vocabulary from
     pagefind/kb-vocab/<first letter>.txt, all written at build time. The vocabulary is
     fetched only for a word whose stem Pagefind's index lacks (a typo, most likely): a
     search for words the site uses downloads none of it (issue 18: the bytes of a
     first search);
   - results are ranked by Pagefind's score for each of the reader's words (a synonym
     counts for less than the word itself) plus its score for all of them together, and
     can be filtered by topic;
   - every string from the index is inserted as text: only Pagefind's <mark> around
     matched words is kept, so nothing in a page, a query or a URL can run as markup.

   window.kbSearchTimings records, per query, the milliseconds from the query to the
   ranked list ("rank") and to the rendered results ("render"), for the tests and the
   benchmark. */
(function () {
  "use strict";

  var PAGE_SIZE = 5; // each result's preview is one more download: few, then "more"
  var SYNONYM_WEIGHT = 0.6; // an article that uses the reader's own word ranks higher
  var CORRECTED_WEIGHT = 0.9;
  var HANDOFF_KEY = "kb_highlight_terms"; // read by kb.js on the next page (highlighting)

  window.kbSearchTimings = window.kbSearchTimings || [];

  var form = document.getElementById("kb-search-form");
  var input = document.getElementById("kb-search-input");
  var topicSelect = document.getElementById("kb-search-topic");
  var statusEl = document.getElementById("kb-search-status");
  var resultsEl = document.getElementById("kb-search-results");
  if (!form || !input || !resultsEl) return;

  var pagefindUrl = new URL(form.getAttribute("data-pagefind"), window.location.href);
  var siteRoot = new URL(form.getAttribute("data-site-root") || "./", window.location.href);

  /* -- The query, in the fragment only ------------------------------------------------- */

  function readHash() {
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    return {q: (params.get("q") || "").trim(), topic: (params.get("topic") || "").trim()};
  }

  function writeHash(q, topic) {
    var params = new URLSearchParams();
    if (q) params.set("q", q);
    if (topic) params.set("topic", topic);
    var hash = params.toString();
    var url = window.location.pathname + (hash ? "#" + hash : "");
    if (url !== window.location.pathname + window.location.hash) {
      history.pushState(null, "", url);
    }
    run();
  }

  // An old-style search.html?q=... link: the query already reached the server once;
  // move it to the fragment so it is not sent again (reload) or kept in the address.
  (function migrateQueryString() {
    var params = new URLSearchParams(window.location.search);
    var old = params.get("q");
    if (old === null) return;
    var fresh = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    if (!fresh.get("q") && old.trim()) fresh.set("q", old.trim());
    var hash = fresh.toString();
    history.replaceState(null, "", window.location.pathname + (hash ? "#" + hash : ""));
  })();

  form.setAttribute("data-kb-private", ""); // kb.js: this form is handled here
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    writeHash(input.value.trim(), topicSelect ? topicSelect.value : "");
  });
  if (topicSelect) {
    topicSelect.addEventListener("change", function () {
      writeHash(input.value.trim(), topicSelect.value);
    });
  }
  window.addEventListener("hashchange", run);

  /* -- Engine and word lists, loaded on the first query -------------------------------- */

  var ready = null;
  function load() {
    if (ready) return ready;
    ready = Promise.all([
      import(pagefindUrl.href).then(function (pagefind) {
        // noWorker: searches take milliseconds here, and the worker would be another
        // 12 KB to download before the first result.
        return pagefind.options({baseUrl: siteRoot.pathname, excerptLength: 28,
                                 noWorker: true})
          .then(function () { return pagefind.init(); })
          .then(function () { return pagefind; });
      }),
      fetchText("kb-search.json").then(function (text) {
        return prepareLexicon(JSON.parse(text));
      }),
    ]).then(function (parts) { return {pagefind: parts[0], lexicon: parts[1]}; });
    ready.catch(function () { ready = null; }); // a failed load may be retried
    return ready;
  }

  function fetchText(name) {
    return fetch(new URL(name, pagefindUrl).href, {credentials: "same-origin"})
      .then(function (response) {
        if (response.status === 404) return "";
        if (!response.ok) throw new Error(name + ": HTTP " + response.status);
        return response.text();
      });
  }

  function prepareLexicon(data) {
    var synonyms = Object.create(null);
    var longest = 1;
    Object.keys(data.synonyms || {}).forEach(function (key) {
      var norm = normalize(key.replace(/-/g, " ")).join(" ");
      if (!norm) return;
      synonyms[norm] = data.synonyms[key];
      longest = Math.max(longest, norm.split(" ").length);
    });
    var stop = Object.create(null);
    (data.stopwords || []).forEach(function (w) { stop[normalize(w).join("") || w] = true; });
    // the synonym list's words that no page uses (search.py works it out at build time)
    var absent = Object.create(null);
    (data.absent || []).forEach(function (w) { absent[w] = true; });
    return {synonyms: synonyms, longest: longest, stop: stop, absent: absent,
            letters: Object.create(null)};
  }

  // The site's words, by first letter (pagefind/kb-vocab/<letter>.txt, most frequent
  // first): fetched only for the letters of the words Pagefind did not find.
  function vocabularyKey(word) {
    var first = word.charAt(0);
    return first >= "a" && first <= "z" ? first : /[0-9]/.test(first) ? "0" : "_";
  }

  function loadLetters(words, lexicon) {
    var keys = [];
    words.forEach(function (w) {
      var key = vocabularyKey(w);
      if (!(key in lexicon.letters) && keys.indexOf(key) === -1) keys.push(key);
    });
    return Promise.all(keys.map(function (key) {
      return fetchText("kb-vocab/" + key + ".txt").then(function (text) {
        var words = text.split(" ").filter(Boolean);
        var rank = Object.create(null);
        words.forEach(function (word, i) { if (!(word in rank)) rank[word] = i; });
        lexicon.letters[key] = {words: words, rank: rank};
      });
    }));
  }

  function inVocabulary(word, lexicon) {
    var letter = lexicon.letters[vocabularyKey(word)];
    return !!letter && word in letter.rank;
  }

  /* -- Query analysis ------------------------------------------------------------------ */

  function normalize(text) {
    return text.toLowerCase()
      .replace(/[\u2018\u2019\u02bc]/g, "'")
      .replace(/'/g, "")
      .split(/[^a-z0-9\u00c0-\u024f]+/)
      .filter(Boolean);
  }

  // Damerau-Levenshtein (optimal string alignment) distance, giving up beyond `max`.
  function distance(a, b, max) {
    if (Math.abs(a.length - b.length) > max) return max + 1;
    var prev2 = null, prev = [], cur, i, j;
    for (j = 0; j <= b.length; j++) prev[j] = j;
    for (i = 1; i <= a.length; i++) {
      cur = [i];
      var best = i;
      for (j = 1; j <= b.length; j++) {
        var cost = a[i - 1] === b[j - 1] ? 0 : 1;
        var v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
        if (prev2 && i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
          v = Math.min(v, prev2[j - 2] + 1);
        }
        cur[j] = v;
        if (v < best) best = v;
      }
      if (best > max) return max + 1;
      prev2 = prev;
      prev = cur;
    }
    return prev[b.length];
  }

  function known(word, lexicon) {
    return inVocabulary(word, lexicon) || word in lexicon.synonyms || /^[0-9]+$/.test(word);
  }

  // Whether a word could be corrected at all (correct() leaves the others alone).
  function correctable(word, lexicon) {
    return word.length >= 4 && !(word in lexicon.synonyms) && !/^[0-9]+$/.test(word);
  }

  // Of the words that could be corrected, those whose stem is no word of the index (a
  // quoted term is Pagefind's exact search: the stem itself, no longer word it starts
  // and no shorter word that starts it, as "the" for "theraphy"). Only these need the
  // vocabulary. The chunk it loads is the one the query needs anyway.
  function unfound(words, pagefind) {
    return Promise.all(words.map(function (word) {
      return pagefind.search('"' + word + '"').then(function (found) {
        return found && found.results && found.results.length ? null : word;
      });
    })).then(function (missing) { return missing.filter(Boolean); });
  }

  // The site's word closest to a word it does not use: fewest edits (one for short
  // words, two for longer ones), then the most frequent, among the site's words with
  // the same first letter (typos rarely change it). A word that starts another word of
  // the site (a reader still typing) is left for Pagefind's prefix match.
  function correct(word, lexicon) {
    if (word.length < 4 || known(word, lexicon)) return word;
    var max = word.length <= 5 ? 1 : 2;
    var letter = lexicon.letters[vocabularyKey(word)];
    var candidates = letter ? letter.words : [];
    var best = null, bestDistance = max + 1;
    for (var i = 0; i < candidates.length; i++) {
      var candidate = candidates[i];
      if (candidate.length > word.length && candidate.lastIndexOf(word, 0) === 0) return word;
      if (candidate.length < 3) continue;
      var d = distance(word, candidate, Math.min(max, bestDistance - 1));
      if (d < bestDistance) { best = candidate; bestDistance = d; }
    }
    return best || word;
  }

  // The reader's words as groups: each group is one word or phrase of the query and the
  // words that may stand for it ([their word or its correction, ...synonyms]).
  function analyse(query, engine) {
    var lexicon = engine.lexicon;
    var parts = split(normalize(query.replace(/-/g, " ")), lexicon);
    var words = [];
    parts.forEach(function (part) {
      if (!part.phrase && correctable(part.text, lexicon) &&
          words.indexOf(part.text) === -1) words.push(part.text);
    });
    return unfound(words, engine.pagefind).then(function (missing) {
      return loadLetters(missing, lexicon).then(function () {
        var groups = [];
        var corrections = [];
        parts.forEach(function (part) {
          if (part.phrase) {
            groups.push(group(part.text, part.text, lexicon));
            return;
          }
          var fixed = missing.indexOf(part.text) === -1 ? part.text : correct(part.text, lexicon);
          if (fixed !== part.text) corrections.push([part.text, fixed]);
          groups.push(group(part.text, fixed, lexicon));
        });
        return {groups: groups, corrections: corrections};
      });
    });
  }

  // The query's words and the synonym list's phrases in it, small words dropped.
  function split(tokens, lexicon) {
    var allSmall = tokens.every(function (t) { return lexicon.stop[t]; });
    var parts = [];
    for (var i = 0; i < tokens.length;) {
      // A phrase of the synonym list first ("hate myself", "passed away"), small words
      // included; then a small word is dropped, unless the query has nothing else.
      var matched = false;
      for (var n = Math.min(lexicon.longest, tokens.length - i); n > 1; n--) {
        var phrase = tokens.slice(i, i + n).join(" ");
        if (phrase in lexicon.synonyms) {
          parts.push({text: phrase, phrase: true});
          i += n;
          matched = true;
          break;
        }
      }
      if (matched) continue;
      var word = tokens[i++];
      if (lexicon.stop[word] && !allSmall) continue;
      parts.push({text: word, phrase: false});
    }
    return parts;
  }

  function group(typed, word, lexicon) {
    var terms = [{text: word, weight: word === typed ? 1 : CORRECTED_WEIGHT}];
    (lexicon.synonyms[word] || []).forEach(function (alt) {
      var text = normalize(alt.replace(/-/g, " ")).join(" ");
      if (text && text !== word) terms.push({text: text, weight: SYNONYM_WEIGHT});
    });
    // A phrase of the synonym list, or a word the site never uses: search only for what
    // it stands for (Pagefind would match the phrase's words anywhere on a page).
    if (terms.length > 1 && (word.indexOf(" ") !== -1 || lexicon.absent[word])) {
      terms.shift();
    }
    return {typed: typed, word: word, terms: terms};
  }

  /* -- Ranking ------------------------------------------------------------------------- */

  function rank(pagefind, plan, topic) {
    var options = topic ? {filters: {topic: topic}} : {};
    var jobs = [];
    var seen = Object.create(null);
    function add(text, groupIndex, weight) {
      var key = groupIndex + "\u0000" + text;
      if (seen[key]) return;
      seen[key] = true;
      jobs.push({text: text, group: groupIndex, weight: weight});
    }
    if (plan.groups.length > 1) {
      add(plan.groups.map(function (g) { return g.terms[0].text; }).join(" "), -1, 1);
    }
    plan.groups.forEach(function (g, gi) {
      g.terms.forEach(function (t) { add(t.text, gi, t.weight); });
    });
    return Promise.all(jobs.map(function (job) {
      return pagefind.search(job.text, options).then(function (found) {
        return {job: job, results: (found && found.results) || []};
      });
    })).then(function (answers) {
      // Per page: its scores for each of the reader's words (the word and its synonyms,
      // synonyms weighted down) plus its score for all the words at once.
      // Pagefind's scores already weigh rare words above common ones.
      var pages = Object.create(null);
      answers.forEach(function (answer) {
        var g = answer.job.group;
        answer.results.forEach(function (result) {
          var page = pages[result.id] ||
            (pages[result.id] = {result: result, groups: Object.create(null), all: 0});
          var score = (result.score || 0) * answer.job.weight;
          if (g === -1) {
            page.all = score;
          } else {
            (page.groups[g] = page.groups[g] || []).push(score);
          }
        });
      });
      return Object.keys(pages).map(function (id) {
        var page = pages[id];
        var value = page.all;
        Object.keys(page.groups).forEach(function (g) {
          // the best of the word's alternatives, plus half of the others: a page that
          // says "death", "grief" and "loss" is more about "died" than one with one of them
          var scores = page.groups[g];
          var best = Math.max.apply(null, scores);
          var rest = scores.reduce(function (a, b) { return a + b; }, 0) - best;
          value += best + 0.5 * rest;
        });
        return {result: page.result, score: value};
      }).sort(function (a, b) { return b.score - a.score; });
    });
  }

  /* -- Rendering (text only, plus <mark>) ---------------------------------------------- */

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

  function excerptNodes(html) {
    // Parsed in an inert document (no scripts run, nothing loads), then rebuilt from
    // its text: only <mark> survives, as a fresh element holding plain text.
    var doc = new DOMParser().parseFromString("<body>" + (html || ""), "text/html");
    var out = document.createDocumentFragment();
    Array.prototype.forEach.call(doc.body.childNodes, function (node) {
      if (node.nodeType === 1 && node.tagName === "MARK") {
        var mark = document.createElement("mark");
        mark.textContent = node.textContent;
        out.appendChild(mark);
      } else {
        out.appendChild(document.createTextNode(node.textContent));
      }
    });
    return out;
  }

  function safeUrl(url) {
    try {
      var resolved = new URL(url, siteRoot);
      if (resolved.origin !== window.location.origin) return null;
      return resolved.href;
    } catch (e) {
      return null;
    }
  }

  function say(parts) {
    clear(statusEl);
    parts.forEach(function (part) {
      if (typeof part === "string") {
        statusEl.appendChild(document.createTextNode(part));
      } else {
        var el = document.createElement(part.tag);
        el.textContent = part.text;
        statusEl.appendChild(el);
      }
    });
  }

  function renderItem(data, terms) {
    var li = document.createElement("li");
    li.className = "kb-search-result";
    var href = safeUrl(data.url);
    var title = (data.meta && data.meta.title) || data.url;
    var heading = document.createElement("h2");
    heading.className = "kb-search-title";
    if (href) {
      var link = document.createElement("a");
      link.href = href;
      link.textContent = title;
      link.addEventListener("click", function () {
        try { sessionStorage.setItem(HANDOFF_KEY, terms.join(" ")); } catch (e) { /* off */ }
      });
      heading.appendChild(link);
    } else {
      heading.textContent = title;
    }
    li.appendChild(heading);
    var topics = (data.filters && data.filters.topic) || [];
    if (topics.length) {
      var meta = document.createElement("p");
      meta.className = "kb-search-topics";
      meta.textContent = (topics.length > 1 ? "Topics: " : "Topic: ") + topics.join(", ");
      li.appendChild(meta);
    }
    if (data.excerpt) {
      var excerpt = document.createElement("p");
      excerpt.className = "kb-search-excerpt";
      excerpt.appendChild(excerptNodes(data.excerpt));
      li.appendChild(excerpt);
    }
    return li;
  }

  var generation = 0;

  function run() {
    var state = readHash();
    input.value = state.q;
    if (topicSelect) topicSelect.value = state.topic;
    if (topicSelect && topicSelect.value !== state.topic) topicSelect.value = "";
    var mine = ++generation;
    clear(resultsEl);
    if (!state.q) {
      say([]);
      resultsEl.setAttribute("data-state", "idle");
      return;
    }
    resultsEl.setAttribute("data-state", "loading");
    say(["Searching\u2026"]);
    var started;
    load().then(function (engine) {
      started = performance.now();
      return analyse(state.q, engine).then(function (plan) {
        return rank(engine.pagefind, plan, topicSelect ? topicSelect.value : "")
          .then(function (ranked) { return {plan: plan, ranked: ranked}; });
      });
    }).then(function (found) {
      if (mine !== generation) return null;
      var ranked = found.ranked;
      var rankedAt = performance.now();
      // Words to highlight on the page a reader opens: theirs (or its correction), or
      // what a phrase of theirs stands for; not every synonym.
      var terms = [];
      found.plan.groups.forEach(function (g) {
        terms = terms.concat(g.terms[0].text.split(" "));
      });
      var list = document.createElement("ol");
      list.className = "kb-search-list";
      resultsEl.appendChild(list);
      var shown = 0;
      function more() {
        var batch = ranked.slice(shown, shown + PAGE_SIZE);
        shown += batch.length;
        return Promise.all(batch.map(function (r) { return r.result.data(); }))
          .then(function (datas) {
            if (mine !== generation) return;
            datas.forEach(function (data) { list.appendChild(renderItem(data, terms)); });
            var button = resultsEl.querySelector(".kb-search-more");
            if (button) button.remove();
            if (shown < ranked.length) {
              button = document.createElement("button");
              button.type = "button";
              button.className = "kb-search-more";
              button.textContent = "Show more results";
              button.addEventListener("click", function () {
                var first = list.children.length;
                more().then(function () {
                  var next = list.children[first] && list.children[first].querySelector("a");
                  if (next) next.focus();
                });
              });
              resultsEl.appendChild(button);
            }
          });
      }
      return more().then(function () {
        if (mine !== generation) return;
        var parts = [];
        var n = ranked.length;
        parts.push(n === 0 ? "No pages match " : n + (n === 1 ? " page matches " : " pages match "));
        parts.push({tag: "q", text: state.q});
        if (topicSelect && topicSelect.value) parts.push(" in the topic " + topicSelect.value);
        parts.push(".");
        if (found.plan.corrections.length) {
          parts.push(" Showing results for ");
          parts.push({tag: "strong", text: found.plan.corrections.map(function (c) {
            return c[1];
          }).join(", ")});
          parts.push(" (you typed " + found.plan.corrections.map(function (c) {
            return c[0];
          }).join(", ") + ").");
        }
        if (n === 0) {
          parts.push(" Try other or fewer words, or browse the articles by topic. If you " +
                     "need help right now, the crisis resources are at the top of the page.");
        }
        say(parts);
        resultsEl.setAttribute("data-state", "done");
        window.kbSearchTimings.push({query: state.q, rank: rankedAt - started,
                                     render: performance.now() - started});
      });
    }).catch(function (error) {
      if (mine !== generation) return;
      resultsEl.setAttribute("data-state", "error");
      say(["Search could not be loaded. You can browse the articles by topic instead."]);
      if (window.console) console.warn("kb-search:", error); // eslint-disable-line no-console
    });
  }

  // For tests and the curious: how a query is read (its words looked up), without
  // ranking or showing results.
  window.kbSearch = {
    analyse: function (query) {
      return load().then(function (engine) { return analyse(query, engine); });
    },
  };

  run();
})();
