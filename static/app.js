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

  // While a swap is in flight the old buttons are still on the page: a second key press would
  // click the same link again and a step would be lost. Queue keys until the swap has settled,
  // so a presenter can press → → → as fast as they like and every press is one step.
  // `inflight` is set in the same tick as the click: htmx fires its request events only after an
  // await, and a key pressed in between must already see the swap as pending.
  var inflight = false;
  var safety = null;
  var queue = [];
  var MAX_QUEUE = 100;

  function settle() {
    inflight = false;
    if (safety) { clearTimeout(safety); safety = null; }
    setTimeout(drain, 0);
  }

  var waits = 0;

  function press(key) {
    var el = hotkeyTarget(key);
    if (!el) return;
    if (el.hasAttribute("hx-get")) {
      // Clicked before htmx has processed it, the link would load a whole new page and the queued
      // keys would be lost: wait for htmx (marked by data-htmx-powered), up to 3 s, then click anyway.
      if (el.getAttribute("data-htmx-powered") !== "true" && waits < 100) {
        waits++;
        queue.unshift(key);
        setTimeout(drain, 30);
        return;
      }
      waits = 0;
      inflight = true;
      safety = setTimeout(settle, 15000);  // never wedge the keyboard if no event arrives
    }
    el.click();
  }

  function drain() {
    if (!inflight && queue.length) press(queue.shift());
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    if (!hotkeyTarget(ev.key)) return;
    ev.preventDefault();
    if (inflight || queue.length) {
      // A held key's auto-repeat is not queued: only deliberate presses are.
      if (!ev.repeat && queue.length < MAX_QUEUE) queue.push(ev.key);
      return;
    }
    press(ev.key);
  });

  // Keep keyboard focus where it was across a swap: the focused control is replaced by its
  // twin with the same id, so focus (and its visible outline) moves to the twin.
  var focusedId = null;
  document.addEventListener("htmx:before:request", function () {
    var a = document.activeElement;
    focusedId = a && a !== document.body && a.id ? a.id : null;
  });
  document.addEventListener("htmx:after:settle", function () {
    if (focusedId) {
      var el = document.getElementById(focusedId);
      if (el && document.activeElement !== el) el.focus({ preventScroll: true });
    }
  });
  // htmx 4 fires this after the swap (and after an error): the new buttons are in place.
  document.addEventListener("htmx:finally:request", settle);

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
