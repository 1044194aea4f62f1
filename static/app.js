// Keyboard shortcuts and "Copy link". No framework; htmx does the swapping.
// A shortcut clicks the real element that carries data-hotkey, so keys and mouse do the same thing.
(function () {
  "use strict";

  function hotkeyTarget(key) {
    var els = document.querySelectorAll("[data-hotkey]");
    for (var i = 0; i < els.length; i++) {
      var keys = els[i].getAttribute("data-hotkey").split(" ");
      if (keys.indexOf(key) !== -1 && !els[i].disabled) return els[i];
    }
    return null;
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    var el = hotkeyTarget(ev.key);
    if (!el) return;
    ev.preventDefault();
    el.click();
  });

  function copyFallback(text) {
    var status = document.getElementById("copy-status");
    var input = document.createElement("input");
    input.value = text;
    input.readOnly = true;
    input.className = "copy-fallback";
    input.setAttribute("aria-label", "Link to this state");
    if (status) { status.textContent = ""; status.appendChild(input); }
    input.focus();
    input.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    if (status) status.insertAdjacentText("beforeend", ok ? " copied" : " press Ctrl+C to copy");
  }

  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("[data-copy-link]");
    if (!btn) return;
    var url = window.location.href;
    var status = document.getElementById("copy-status");
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(url).then(function () {
        if (status) status.textContent = "✔ link copied";
      }, function () { copyFallback(url); });
    } else {
      copyFallback(url);
    }
  });

  // Keep what matters in view inside the scrolling boxes (never scrolls the page itself):
  // each CPU's next (or crashing) line, and the newest event.
  function reveal() {
    document.querySelectorAll(".program").forEach(function (list) {
      var line = list.querySelector("li.crash") || list.querySelector("li.next");
      if (line) list.scrollTop = line.offsetTop - list.offsetTop - list.clientHeight / 3;
    });
    var events = document.querySelector("ol.events");
    if (events) events.scrollTop = events.scrollHeight;
  }
  document.addEventListener("DOMContentLoaded", reveal);
  window.addEventListener("load", reveal);
  document.addEventListener("htmx:after:settle", reveal);
  document.addEventListener("htmx:after:swap", reveal);
})();
