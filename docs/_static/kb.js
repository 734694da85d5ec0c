/* RFC Counseling knowledge base: small additions to Sphinx and furo. No dependencies, no
   network. Readers may search for words like "suicide" or "abuse"; none of that may leave
   their device or linger on it.

   1. Search privacy. Search forms lose their field names (nothing can be sent as
      ?q=...) and go to search.html#q=<query>: a fragment never reaches the server or its
      logs. The search page itself is kb-search.js. A result that is followed hands its
      words to the next page through this tab's sessionStorage ("kb_highlight_terms");
      this file gives them to Sphinx's highlighter ("sphinx_highlight_terms"), which
      uses and removes them.
   2. Citation tooltips (WCAG 2.2 SC 1.4.13): each tip is the link's accessible
      description (aria-describedby); Escape hides tips until focus or hover moves.
   3. furo's drawer buttons (the menu and the page contents, on narrow screens) are
      <label>s for hidden checkboxes, which a keyboard cannot reach (WCAG 2.2 SC 2.1.1).
      They become buttons: focusable, Enter or Space opens the drawer and moves focus into
      it, Escape closes it and returns focus, and aria-expanded tells its state. */
(function () {
  "use strict";

  var HIGHLIGHT_KEY = "sphinx_highlight_terms"; // Sphinx 9 searchtools / sphinx_highlight
  var HANDOFF_KEY = "kb_highlight_terms"; // this tab only (sessionStorage)

  function storage(kind) {
    try {
      return window[kind]; // throws when storage is disabled
    } catch (e) {
      return null;
    }
  }
  var local = storage("localStorage");
  var session = storage("sessionStorage");

  function onReady(callback) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", callback);
    } else {
      callback();
    }
  }

  /* -- 1. Search privacy --------------------------------------------------------------- */

  function searchUrl(form, query) {
    var base = form.action || window.location.href; // resolved URL of the action attribute
    base = base.split("#")[0].split("?")[0];
    return query ? base + "#q=" + encodeURIComponent(query) : base;
  }

  // Sphinx's and furo's field is input[name=q]; also match search fields whose name a
  // template has already removed.
  var SEARCH_FIELDS = 'input[name="q"], input.sidebar-search, ' +
    'form[role="search"] input[type="search"]';

  function privatizeForms() {
    var inputs = document.querySelectorAll(SEARCH_FIELDS);
    Array.prototype.forEach.call(inputs, function (input) {
      var form = input.form;
      input.removeAttribute("name");
      input.setAttribute("data-kb-search", "");
      if (!form || form.hasAttribute("data-kb-private")) return;
      form.setAttribute("data-kb-private", "");
      // Sphinx's hidden check_keywords/area fields carry nothing; drop them from the URL.
      Array.prototype.forEach.call(form.querySelectorAll("input[type=hidden][name]"),
        function (hidden) { hidden.removeAttribute("name"); });
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var field = form.querySelector("input[data-kb-search]");
        window.location.assign(searchUrl(form, field ? field.value.trim() : ""));
      });
    });
  }

  // Sphinx's "/" shortcut looks for input[name=q]; point it at the renamed field.
  if (typeof Documentation !== "undefined" && Documentation.focusSearchBar) {
    Documentation.focusSearchBar = function () {
      var input = document.querySelector("input[data-kb-search]");
      if (input) input.focus();
    };
  }


  // On any other page: give the terms of a search made in this tab back to Sphinx for
  // highlighting. This runs before DOMContentLoaded, when sphinx_highlight.js reads them.
  if (session && local && !document.getElementById("kb-search-results")) {
    var handed = session.getItem(HANDOFF_KEY);
    session.removeItem(HANDOFF_KEY);
    if (handed) local.setItem(HIGHLIGHT_KEY, handed);
  }

  privatizeForms(); // now, if the forms are already parsed (furo loads scripts last) ...
  onReady(privatizeForms); // ... and in any case once the page is parsed.
  window.addEventListener("load", function () {
    // Sphinx removes the terms once it has highlighted them; make sure they are gone.
    if (local) local.removeItem(HIGHLIGHT_KEY);
  });

  /* -- 2. Citation tooltips ------------------------------------------------------------ */

  function setUpTips() {
    var cites = document.querySelectorAll(".kb-cite");
    Array.prototype.forEach.call(cites, function (cite, i) {
      var tip = cite.querySelector(".kb-cite-tip");
      if (!tip) return;
      if (!tip.id) tip.id = "kb-cite-tip-" + (i + 1);
      Array.prototype.forEach.call(cite.querySelectorAll("a"), function (link) {
        if (tip.contains(link)) return;
        var ids = (link.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
        if (ids.indexOf(tip.id) === -1) ids.push(tip.id);
        link.setAttribute("aria-describedby", ids.join(" "));
      });
    });

    var root = document.documentElement;
    var hovered = null; // the .kb-cite under the pointer, if any
    function citeOf(node) {
      return node && node.closest ? node.closest(".kb-cite") : null;
    }
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" || event.key === "Esc") root.classList.add("kb-tips-dismissed");
    });
    document.addEventListener("focusin", function (event) {
      root.classList.remove("kb-tips-dismissed");
      place(citeOf(event.target));
    });
    document.addEventListener("mouseover", function (event) {
      var cite = citeOf(event.target);
      if (cite === hovered) return; // moving within the same citation is no change
      hovered = cite;
      if (!cite) return;
      root.classList.remove("kb-tips-dismissed");
      place(cite);
    });
  }

  // Keep a tip inside the viewport: a citation near the right edge would push it out.
  function place(cite) {
    var tip = cite && cite.querySelector(".kb-cite-tip");
    if (!tip) return;
    var margin = 8;
    tip.style.left = "";
    tip.style.visibility = "hidden"; // measure it as shown, without a flash
    tip.style.display = "block";
    var rect = tip.getBoundingClientRect();
    tip.style.display = "";
    tip.style.visibility = "";
    if (!rect.width) return;
    var width = document.documentElement.clientWidth;
    var shift = 0;
    if (rect.right > width - margin) shift = width - margin - rect.right;
    if (rect.left + shift < margin) shift = margin - rect.left;
    if (shift) tip.style.left = Math.round(shift) + "px";
  }
  onReady(setUpTips);

  /* -- 3. Drawer buttons from the keyboard --------------------------------------------- */

  var DRAWERS = {__navigation: ".sidebar-drawer", __toc: ".toc-drawer"};

  function setUpDrawerButtons() {
    var labels = document.querySelectorAll("label.nav-overlay-icon, label.toc-overlay-icon");
    Array.prototype.forEach.call(labels, function (label) {
      var id = label.getAttribute("for");
      var box = document.getElementById(id);
      var drawer = DRAWERS[id] && document.querySelector(DRAWERS[id]);
      if (!box || !drawer) return;
      label.setAttribute("role", "button");
      label.setAttribute("tabindex", "0");
      if (!label.hasAttribute("aria-label")) {
        label.setAttribute("aria-label", id === "__toc" ? "Contents of this page" : "Menu");
      }
      function sync() { label.setAttribute("aria-expanded", box.checked ? "true" : "false"); }
      sync();
      box.addEventListener("change", sync);
      label.addEventListener("keydown", function (event) {
        if (event.key !== "Enter" && event.key !== " ") return;
        event.preventDefault();
        box.checked = !box.checked;
        sync();
        if (box.checked) {
          var first = drawer.querySelector("a[href], input, button");
          if (first) first.focus();
        }
      });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" && event.key !== "Esc") return;
      Object.keys(DRAWERS).forEach(function (id) {
        var box = document.getElementById(id);
        if (!box || !box.checked) return;
        box.checked = false;
        box.dispatchEvent(new Event("change"));
        var button = document.querySelector('label[role="button"][for="' + id + '"]');
        if (button && button.offsetParent !== null) button.focus();
      });
    });
  }
  onReady(setUpDrawerButtons);
})();
