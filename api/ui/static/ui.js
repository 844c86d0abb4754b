// Casebook UI: keyboard shortcuts for the review queue and the case page. No dependencies.
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function click(id) {
    var el = document.getElementById(id);
    if (el) { el.click(); return true; }
    return false;
  }

  function follow(id) {
    var el = document.getElementById(id);
    if (el && el.href) { window.location.href = el.href; return true; }
    return false;
  }

  // j/k in the queue table: move focus between the case links.
  function moveInQueue(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("a.queue-link"));
    if (!links.length) return false;
    var at = links.indexOf(document.activeElement);
    var next = at < 0 ? (step > 0 ? 0 : links.length - 1)
                      : Math.min(Math.max(at + step, 0), links.length - 1);
    links[next].focus();
    return true;
  }

  // A page waiting for a server-side computation reloads itself until the result is there.
  var waiting = document.querySelector("[data-refresh-after]");
  if (waiting) {
    var seconds = parseFloat(waiting.getAttribute("data-refresh-after")) || 3;
    window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var handled = false;
    switch (event.key) {
      case "a": handled = click("btn-accept"); break;
      case "r": handled = click("btn-reject"); break;
      case "e": {
        var queue = document.getElementById("review-queue");
        if (queue) { queue.focus(); handled = true; }
        break;
      }
      case "j": handled = moveInQueue(1) || follow("next-case"); break;
      case "k": handled = moveInQueue(-1) || follow("prev-case"); break;
    }
    if (handled) event.preventDefault();
  });
})();
