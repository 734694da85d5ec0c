/* Quick exit, on pages about abuse only (front matter "quick_exit: true").

   The "Quick exit" link (a.kb-quick-exit) leaves for a neutral site. This script makes it
   replace the current page (location.replace), so the Back button does not bring this
   page back, and forgets the search words this tab kept for highlighting. Escape pressed
   twice within a second does the same. Without this script the link still leaves. */
(function () {
  "use strict";

  function leave(url) {
    try {
      window.sessionStorage.clear(); // search words handed between pages (kb.js)
    } catch (e) { /* storage disabled */ }
    window.location.replace(url);
  }

  function link() {
    return document.querySelector("a.kb-quick-exit");
  }

  document.addEventListener("click", function (event) {
    var a = event.target && event.target.closest ? event.target.closest("a.kb-quick-exit") : null;
    if (!a || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    event.preventDefault();
    leave(a.href);
  });

  var lastEscape = 0;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.repeat) {
      return;
    }
    var now = Date.now();
    if (now - lastEscape < 1000 && link()) {
      leave(link().href);
    }
    lastEscape = now;
  });
})();
