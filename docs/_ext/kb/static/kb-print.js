/* "Print this article" (docs/_ext/kb/handouts.py). A real <button> after each article's
   byline, so it works with a keyboard and a screen reader; added by this file (the site's
   Content-Security-Policy allows no inline script), so without JavaScript there is no
   button that does nothing. The print stylesheet (kb-print.css) hides it on paper. */
(function () {
  "use strict";

  function addButton() {
    var byline = document.querySelector("article .kb-byline");
    if (!byline || typeof window.print !== "function") return;
    if (document.querySelector(".kb-print-button")) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "kb-print-button";
    button.textContent = "Print this article";
    button.addEventListener("click", function () {
      window.print();
    });
    var holder = document.createElement("p");
    holder.className = "kb-print";
    holder.appendChild(button);
    byline.parentNode.insertBefore(holder, byline.nextSibling);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", addButton);
  } else {
    addButton();
  }
})();
