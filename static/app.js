// Keyboard shortcuts, projector zoom, listings, history and "Copy link". No framework; htmx
// does the swapping. A shortcut clicks the real element that carries data-hotkey, so keys and
// mouse do the same thing.
(function () {
  "use strict";

  var store = {
    get: function (k) { try { return window.localStorage.getItem(k); } catch (e) { return null; } },
    set: function (k, v) { try { window.localStorage.setItem(k, v); } catch (e) { /* private mode */ } }
  };

  // ---- projector zoom: + / - (or the A+ / A- buttons), remembered in localStorage --------
  var ZOOMS = ["0.9", "1", "1.15", "1.3", "1.5", "1.75", "2"];
  function applyZoom(z) {
    if (ZOOMS.indexOf(z) === -1) z = "1";
    document.documentElement.setAttribute("data-zoom", z);
    return z;
  }
  var zoom = applyZoom(store.get("zswap.zoom") || "1");
  function stepZoom(dir) {
    var i = ZOOMS.indexOf(zoom) + dir;
    zoom = applyZoom(ZOOMS[Math.max(0, Math.min(ZOOMS.length - 1, i))]);
    store.set("zswap.zoom", zoom);
  }

  // ---- the whole listing of every CPU (l), remembered across steps ------------------------
  // The server sends only the window of lines around each CPU's next line unless a request says
  // "HX-Listing: whole" (app/web/page/listing.py): sent while the listings are expanded, and once to
  // fetch them when they are expanded on a page that has only the windows.
  function listingOn() { return store.get("zswap.listing") === "1"; }

  function applyListing() {
    // On <html>, which no swap replaces or morphs: the listings never flash shut between steps.
    var on = listingOn();
    document.documentElement.classList.toggle("expanded", on);
    document.querySelectorAll("[data-listing-toggle]").forEach(function (b) {
      b.setAttribute("aria-expanded", on ? "true" : "false");
    });
    wholeListing();
  }

  function wholeListing() {
    var state = document.getElementById("state");
    if (listingOn() && state && state.getAttribute("data-listing") === "window" && !inflight && window.htmx) {
      // The same state again, with every line (the URL stays: nothing changed but the view).
      busy();
      htmx.ajax("GET", location.pathname + location.search,
                { target: "#state", swap: "outerMorph", headers: { "HX-Listing": "whole" } });
    }
  }
  document.addEventListener("htmx:config:request", function (ev) {
    var ctx = ev.detail && ev.detail.ctx;
    if (!ctx) return;
    if (listingOn()) ctx.request.headers["HX-Listing"] = "whole";
    // The state shown: the answer sends its unchanged regions as empty twins (app/web/page/regions.py).
    var state = document.getElementById("state");
    var key = state && state.getAttribute("data-key");
    if (key && ctx.target === state && !ctx.wholeState) ctx.request.headers["HX-Have"] = key;
  });
  // The morph keeps the element of an empty twin.
  if (window.htmx) {
    htmx.registerExtension("zswap-same", {
      htmx_before_morph_node: function (old, detail) {
        var n = detail && detail.newNode;
        return !(n && n.nodeType === 1 && n.hasAttribute("data-same"));
      }
    });
  }
  // A twin with no element to keep (never seen; a safety net): fetch the state whole.
  function mended() {
    if (!document.querySelector("#state [data-same]") || !window.htmx) return false;
    htmx.ajax("GET", location.pathname + location.search, { target: "#state", swap: "outerMorph", wholeState: true });
    return true;
  }

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
  var waits = 0;

  function settle() {
    inflight = false;
    if (safety) { clearTimeout(safety); safety = null; }
    wholeListing();  // a step answered while the listings were being expanded
    setTimeout(drain, 0);
  }

  function busy() {
    inflight = true;
    safety = setTimeout(settle, 15000);  // never wedge the keyboard if no event arrives
  }

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
      busy();
    }
    el.click();
  }

  function drain() {
    if (!inflight && queue.length) press(queue.shift());
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (document.querySelector("dialog[open]")) return;  // the help is over the stage: its own keys
    var t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    if (ev.key === "Escape") {
      document.querySelectorAll("details.menu[open]").forEach(function (d) { d.open = false; });
      var offer = document.getElementById("present-offer");
      if (offer) offer.hidden = true;
      return;
    }
    if (!hotkeyTarget(ev.key)) return;
    ev.preventDefault();
    if (inflight || queue.length) {
      // A held key's auto-repeat is not queued: only deliberate presses are.
      if (!ev.repeat && queue.length < MAX_QUEUE) queue.push(ev.key);
      return;
    }
    press(ev.key);
  });

  // ---- history: Back one step is the browser's Back when the previous entry is the parent --
  // Every pushed entry remembers the URL it was pushed from. When that is the parent state
  // (what "⟲ Back" links to), going back in history instead of pushing a new entry keeps the
  // browser's Back and Forward buttons meaning undo and redo.
  // The entry the page was loaded into must be restorable too: htmx restores only entries whose
  // state says htmx (a cold load has none), so mark it as one of ours.
  if (!history.state) {
    try { history.replaceState({ htmx: true }, ""); } catch (e) { /* ignore */ }
  }
  // One history write per step, not htmx's push and then ours (live.js hears the push event).
  document.addEventListener("htmx:before:history:update", function (ev) {
    var h = ev.detail && ev.detail.history;
    if (!h || h.type !== "push") return;
    ev.preventDefault();
    // The entry pushed from: the address bar's URL until now (a room's page replaces its control
    // link by its state, static/live.js).
    var prev = location.pathname + location.search;
    try { history.pushState({ htmx: true, zswapPrev: prev }, "", h.path); } catch (e) { return; }
    document.dispatchEvent(new CustomEvent("htmx:after:history:push", { detail: { path: h.path } }));
  });
  document.addEventListener("click", function (ev) {
    var undo = ev.target.closest && ev.target.closest("#undo[href]");
    if (!undo || ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    var st = history.state;
    if (st && st.zswapPrev && st.zswapPrev === undo.getAttribute("href")) {
      ev.preventDefault();
      ev.stopPropagation();  // htmx must not also fetch and push it
      history.back();        // htmx restores the parent state and fires the request events
    }
  }, true);

  // ---- after every swap ---------------------------------------------------------------
  // Keep keyboard focus where it was: the focused control is replaced by its twin with the same id.
  var focusedId = null;
  var fromOutsideStage = false;
  document.addEventListener("htmx:before:request", function (ev) {
    var a = document.activeElement;
    focusedId = a && a !== document.body && a.id ? a.id : null;
    var src = ev.target;
    var stage = document.getElementById("stage");
    // "Find the race" and the event log sit below the stage: after their swap, show the stage.
    fromOutsideStage = !!(src && stage && src.closest && !stage.contains(src) && src.closest("#state, #pane-verdict, .verdict"));
    if (!inflight) busy();
  });

  function announce() {
    var s = document.querySelector("#sentence .say");
    var live = document.getElementById("announce");
    if (s && live) live.textContent = s.textContent.replace(/\s+/g, " ").trim();
  }

  // Keep each CPU's next or crashing line in view inside an expanded listing (never scrolls the
  // page itself).
  function reveal() {
    document.querySelectorAll(".expanded .program").forEach(function (list) {
      var line = list.querySelector("li.crash") || list.querySelector("li.next");
      if (line) list.scrollTop = line.offsetTop - list.offsetTop - list.clientHeight / 3;
    });
    // A CPU's code window that had to scroll (three CPUs, long wrapped lines) shows its line.
    document.querySelectorAll(".arena > .cpu > .program").forEach(function (list) {
      if (list.scrollHeight <= list.clientHeight + 1) return;
      var line = list.querySelector("li.crash") || list.querySelector("li.next");
      if (!line) return;
      var box = list.getBoundingClientRect();
      var top = box.top + list.clientTop, bottom = top + list.clientHeight;
      // The row before the line (its context, or its function's heading) at the top, whole.
      var first = line.previousElementSibling || line;
      list.scrollTop += first.getBoundingClientRect().top - top;
      // Near the end of the listing the box cannot scroll that far, and the row at its top is
      // cut in two: show that row whole (the last row is cut instead) if the line stays in view.
      for (var row = list.firstElementChild; row; row = row.nextElementSibling) {
        var r = row.getBoundingClientRect();
        if (r.bottom <= top + 0.5) continue;
        var cut = top - r.top;
        if (cut > 0.5 && line.getBoundingClientRect().bottom + cut <= bottom + 0.5) list.scrollTop -= cut;
        break;
      }
    });
    // The lane diagram and the event log rest at their end (the newest row) by themselves: their
    // scroll boxes are column-reverse flex boxes. Once a violation's story is told (lanes.py), the
    // row that cached the pointer goes to the top when the box can hold it and the current row.
    document.querySelectorAll(".lanes-scroll").forEach(function (box) {
      var first = box.querySelector(".lane-row.story"), last = document.getElementById("lane-current");
      if (!first || !last || !box.contains(last)) return;
      var b = box.getBoundingClientRect(), top = b.top + box.clientTop;
      var span = last.getBoundingClientRect().bottom - first.getBoundingClientRect().top;
      if (span <= box.clientHeight + 0.5) box.scrollTop += first.getBoundingClientRect().top - top;
      // Else the current row at the bottom (a layout tried before may have scrolled it away).
      else box.scrollTop += last.getBoundingClientRect().bottom - (top + box.clientHeight);
    });
  }

  // The one-screen stage, or (html.flow, app.css) a stage that grows past the screen when the
  // screen cannot hold whole what matters: each CPU's next or crashing line, the banners, the
  // kernel state column, the lane diagram's current row. Measured in the one-screen layout first.
  function holds(inner, box) {
    var r = inner.getBoundingClientRect(), b = box.getBoundingClientRect();
    return r.top >= b.top - 1 && r.bottom <= b.bottom + 1;
  }
  function overfull() {
    var stage = document.getElementById("stage");
    if (!stage || !stage.querySelector(".arena")) return false;
    if (stage.scrollHeight > stage.clientHeight + 1) return true;
    var world = document.getElementById("world");
    if (world && world.scrollHeight > world.clientHeight + 1) return true;
    var cpus = stage.querySelectorAll(".arena > .cpu");
    for (var i = 0; i < cpus.length; i++) {
      if (cpus[i].scrollHeight > cpus[i].clientHeight + 1) return true;
      var list = cpus[i].querySelector(".program");
      var line = list && (list.querySelector("li.crash") || list.querySelector("li.next"));
      if (line && !holds(line, list)) return true;
    }
    var lanes = stage.querySelector(".lanes-scroll"), row = document.getElementById("lane-current");
    return !!(lanes && row && !holds(row, lanes));
  }
  // The height the lane diagram needs to show a told story from its first row to the current one
  // (its heading and column heads included), or 0 when it already has no more than that.
  function storyHeight(arena) {
    var pane = arena.querySelector(".lanes"), box = pane && pane.querySelector(".lanes-scroll");
    var first = box && box.querySelector(".lane-row.story"), last = document.getElementById("lane-current");
    if (!first || !last || !box.contains(last)) return 0;
    var span = last.getBoundingClientRect().bottom - first.getBoundingClientRect().top;
    var need = Math.ceil(span + pane.getBoundingClientRect().height - box.clientHeight + 2);
    return need < pane.getBoundingClientRect().height - 1 ? need : 0;
  }
  // The top bar is one line on a wide screen. When its buttons do not fit (codes the schedule does
  // not replay on), they are made narrower step by step, each only when the one before was not
  // enough: html.bar-tight drops the key hints from the bar (the tooltips and the help keep
  // them); html.bar-tighter shortens a chip's "⚠ replays 49/65" to "⚠ 49/65" (its tooltip says
  // it in a sentence); html.bar-icons keeps only the symbols of Back, Reset, Present, More and
  // the step count (the words stay for screen readers, the tooltips for the mouse); html.bar-wrap
  // gives the bar a second line. Nothing is pushed off the edge.
  // Before the stage's layouts are tried: a second line takes height from the stage.
  var BAR_STEPS = ["bar-tight", "bar-tighter", "bar-icons", "bar-wrap"];
  // (Below 56rem the bar wraps anyway: it never overflows, and no step is taken.)
  function fitBar() {
    var root = document.documentElement, bar = document.querySelector("nav.bar");
    root.classList.remove.apply(root.classList, BAR_STEPS);
    for (var i = 0; bar && i < BAR_STEPS.length && bar.scrollWidth > bar.clientWidth + 1; i++) {
      root.classList.add(BAR_STEPS[i]);
    }
  }
  function fit() {
    var root = document.documentElement, arena = document.querySelector("#stage .arena.story-told");
    root.classList.remove("flow", "roomy", "lanes-fit");
    fitBar();
    if (!window.matchMedia("(min-width: 56rem)").matches) return;
    // Four layouts, tried in turn: a told story's (the lane diagram gets the room); the same with
    // the lane diagram cut to the story's rows, the folded stretch before them scrolled away
    // (html.lanes-fit: the CPU columns get the rest); the usual one (html.roomy: the CPU columns
    // get their room back, the story's first rows may scroll out of view); then html.flow.
    reveal();
    if (overfull() && arena) {
      var need = storyHeight(arena);
      if (need) {
        arena.style.setProperty("--story-lanes", need + "px");
        root.classList.add("lanes-fit");
        reveal();
      }
      if (overfull()) { root.classList.remove("lanes-fit"); root.classList.add("roomy"); reveal(); }
    }
    if (overfull()) { root.classList.add("flow"); reveal(); }
  }
  var fitting = 0;
  window.addEventListener("resize", function () {
    cancelAnimationFrame(fitting);
    fitting = requestAnimationFrame(fit);
  });

  function afterSwap() {
    if (mended()) return;
    // A menu is closed by a step, as when the morph rewrote it (a kept one keeps its open state).
    document.querySelectorAll("#state details.menu[open]").forEach(function (d) { d.open = false; });
    applyListing();
    reopenDrawers();
    fit();
    announce();
    if (focusedId) {
      var el = document.getElementById(focusedId);
      if (el && document.activeElement !== el) el.focus({ preventScroll: true });
    }
    if (fromOutsideStage) {
      fromOutsideStage = false;
      var stage = document.getElementById("stage");
      if (stage) stage.scrollIntoView({ block: "start" });
    }
  }
  document.addEventListener("htmx:after:settle", afterSwap);
  // htmx 4 fires this after the swap (and after an error): the new buttons are in place.
  document.addEventListener("htmx:finally:request", settle);
  document.addEventListener("DOMContentLoaded", function () { applyListing(); reopenDrawers(); fit(); });
  window.addEventListener("load", fit);

  // ---- drawers that load on opening (the event log), and stay open across steps ------------
  function loadDrawer(d) {
    var body = d.querySelector(".events-body");
    var src = d.getAttribute("data-src");
    if (!body || !src || d.getAttribute("data-loaded") === src) return;
    d.setAttribute("data-loaded", src);
    fetch(src, { headers: { "HX-Request": "true" } }).then(function (r) { return r.text(); }).then(function (html) {
      if (d.getAttribute("data-loaded") === src) body.innerHTML = html;
    }, function () { body.textContent = "The event log could not be loaded."; });
  }
  document.addEventListener("toggle", function (ev) {
    var d = ev.target;
    if (!d.matches || !d.matches("details[data-src]")) return;
    try { sessionStorage.setItem("zswap.open." + d.id, d.open ? "1" : "0"); } catch (e) { /* ignore */ }
    if (d.open) loadDrawer(d);
  }, true);
  function reopenDrawers() {
    document.querySelectorAll("details[data-src]").forEach(function (d) {
      var on = false;
      try { on = sessionStorage.getItem("zswap.open." + d.id) === "1"; } catch (e) { /* ignore */ }
      if (on && !d.open) d.open = true;
      else if (d.open) loadDrawer(d);
    });
  }

  // ---- buttons handled here: zoom, listing toggle, copy link -------------------------------
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
    var t = ev.target.closest ? ev.target : ev.target.parentElement;
    var z = t.closest("[data-zoom-step]");
    if (z) { stepZoom(parseInt(z.getAttribute("data-zoom-step"), 10)); fit(); return; }
    if (t.closest("[data-listing-toggle]")) {
      store.set("zswap.listing", store.get("zswap.listing") === "1" ? "0" : "1");
      applyListing();
      fit();
      return;
    }
    var btn = t.closest("[data-copy-link]");
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
})();

// ---- help: the keys and the words (templates/_help.html) ---------------------------------------
// ? (or the bar's ? link) opens the help over the stage; a marked term (.term, app/web/page/glossary.py)
// shows its definition beside it while hovered or focused, and a click opens the help at it.
// Without JavaScript both are links to the help page.
(function () {
  "use strict";
  var dialog = document.getElementById("help");
  var tip = null, tipFor = null;

  function open(term) {
    if (!dialog || !dialog.showModal) return false;
    hideTip();
    if (!dialog.open) dialog.showModal();
    var entry = term && document.getElementById("g-" + term);
    if (entry) {
      entry.scrollIntoView({ block: "center" });
      entry.focus({ preventScroll: true });
    }
    return true;
  }

  function showTip(a) {
    var def = document.getElementById("g-" + a.getAttribute("data-term") + "-d");
    if (!def) return;
    if (!tip) {
      tip = document.createElement("div");
      tip.id = "term-tip";
      tip.className = "term-tip";
      tip.setAttribute("role", "tooltip");
      tip.hidden = true;
      document.body.appendChild(tip);
    }
    tip.textContent = def.textContent;
    tip.hidden = false;
    tipFor = a;
    var r = a.getBoundingClientRect(), t = tip.getBoundingClientRect();
    var left = Math.max(8, Math.min(r.left, window.innerWidth - t.width - 8));
    var top = r.bottom + 6;
    if (top + t.height > window.innerHeight - 8) top = Math.max(8, r.top - t.height - 6);
    tip.style.left = left + "px";
    tip.style.top = top + "px";
  }
  function hideTip() {
    if (tip) tip.hidden = true;
    tipFor = null;
  }

  document.addEventListener("click", function (ev) {
    if (ev.defaultPrevented || ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    var t = ev.target.closest ? ev.target : ev.target.parentElement;
    var a = t && t.closest("a.term[data-term], #help-open");
    if (!a || !dialog) return;
    if (open(a.getAttribute("data-term"))) ev.preventDefault();
  });
  ["mouseover", "focusin"].forEach(function (kind) {
    document.addEventListener(kind, function (ev) {
      var a = ev.target.closest && ev.target.closest("a.term[data-term]");
      if (a && a !== tipFor && !(dialog && dialog.open)) showTip(a);
    });
  });
  ["mouseout", "focusout"].forEach(function (kind) {
    document.addEventListener(kind, function (ev) {
      var a = ev.target.closest && ev.target.closest("a.term[data-term]");
      if (a && a === tipFor && !(ev.relatedTarget && a.contains(ev.relatedTarget))) hideTip();
    });
  });
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") hideTip(); });
  // A swap may remove the word the definition stands beside.
  document.addEventListener("htmx:before:swap", hideTip);
  window.addEventListener("scroll", hideTip, true);
})();

// ---- live rooms (app/web/routes/live.py): what every page needs ----------------------------------
// The room itself (publishing, following) is static/live.js, which only a room's pages load; here
// are its helpers and the one thing a plain state page does for a room.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var PRESENTING = "zswap.present";
  function here() { return location.pathname + location.search; }
  function isState(path) { return /^\/s\/[^/]+$/.test(path); }
  function store(v) {
    try { if (v) sessionStorage.setItem(PRESENTING, v); else sessionStorage.removeItem(PRESENTING); } catch (e) { /* ignore */ }
  }
  function stored() { try { return sessionStorage.getItem(PRESENTING); } catch (e) { return null; } }
  window.zswapRoom = { here: here, isState: isState, store: store };

  function mine() {
    var m = stored();
    try { m = m && JSON.parse(m); } catch (e) { m = null; }
    return m && m.code && m.token ? m : null;
  }
  var offer = document.getElementById("present-offer");
  function controlLink(room) {
    return offer.getAttribute("data-control") + encodeURIComponent(room.token) + "?at=" + encodeURIComponent(here());
  }
  // Whether the tab's room is still open: yes(room), or no (forgotten). Offline: neither.
  function roomOpen(yes, no) {
    var room = mine();
    if (!room || !offer) { if (no) no(); return; }
    fetch(offer.getAttribute("data-api") + "/" + encodeURIComponent(room.code), { cache: "no-store" }).then(function (r) {
      if (r.ok) yes(room);
      else if (r.status === 404) { store(null); if (no) no(); }
    }, function () { /* offline: stay */ });
  }

  // A presenter's tab that reloads a state page (the address bar shows the state, not the
  // control link), or goes Back or Forward into a page of its own from before the room, comes
  // back to the room's control page, showing (and so publishing) the state of that entry.
  function returning(persisted) {
    if (persisted) return true;
    var nav = window.performance && performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
    return !!nav && (nav.type === "reload" || nav.type === "back_forward");
  }
  window.addEventListener("pageshow", function (ev) {
    if (live || !isState(location.pathname) || !returning(ev.persisted)) return;
    roomOpen(function (room) { location.replace(controlLink(room)); });
  });

  // Present in a tab that already presents a room (it went to another page on purpose): offer
  // that room first, rather than opening a second one the audience does not know.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.matches || !form.matches("form.present") || !mine() || !offer) return;
    ev.preventDefault();
    roomOpen(function (room) {
      document.getElementById("present-offer-code").textContent = room.code;
      offer.hidden = false;
      document.getElementById("present-return").focus();
    }, function () { form.submit(); });
  });
  document.addEventListener("click", function (ev) {
    var t = ev.target.closest ? ev.target : ev.target.parentElement;
    var room = mine();
    if (!offer || !t) return;
    if (t.closest("#present-return") && room) {
      location.assign(controlLink(room));
    } else if (t.closest("#present-new") && room) {
      fetch(offer.getAttribute("data-api") + "/" + encodeURIComponent(room.code), {
        method: "DELETE", headers: { "Authorization": "Bearer " + room.token }, cache: "no-store"
      }).then(function () {
        store(null);
        var form = document.querySelector("form.present");
        if (form) form.submit();
      });
    } else if (t.closest("#present-cancel")) {
      offer.hidden = true;
      var p = document.getElementById("present");
      if (p) p.focus();
    }
  });
})();

// ---- embeds (templates/embed.html, _embed_menu.html) ----------------------------------------
(function () {
  "use strict";
  // Framed by another site, a link that leaves the embed's range opens the visualizer in a new
  // tab: the visualizer refuses to be framed, so in the frame it would show nothing.
  document.addEventListener("click", function (ev) {
    if (!document.body.classList.contains("embed-page")) return;
    var a = ev.target.closest ? ev.target.closest("a[href]") : null;
    if (!a || a.origin !== location.origin || a.pathname.indexOf("/embed/") === 0) return;
    if (a.pathname === location.pathname && a.search === location.search) return;  // an anchor on this page
    a.target = "_blank";
    a.rel = "noopener";
  });

  // The Embed menu: the snippet with this server's origin and the chosen first step.
  function snippet() {
    var box = document.getElementById("embed-snippet");
    var from = document.getElementById("embed-from");
    if (!box || !from) return;
    var n = parseInt(from.value, 10);
    var size = document.getElementById("embed-size");
    var chosen = size ? size.options[size.selectedIndex] : null;
    var compact = chosen && chosen.value === "compact";
    var src = location.origin + box.getAttribute("data-embed-path") + (n > 0 ? "&from=" + n : "") +
      (compact ? "&layout=compact" : "");
    var title = box.getAttribute("data-embed-title").replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
    box.value = '<iframe src="' + src + '" width="' + (chosen ? chosen.getAttribute("data-width") : "1280") +
      '" height="' + (chosen ? chosen.getAttribute("data-height") : "720") + '" title="' + title +
      '" loading="lazy"></iframe>';
    var preview = document.getElementById("embed-preview");
    if (preview) preview.href = src;
  }
  document.addEventListener("toggle", function (ev) {
    if (ev.target.id === "embed-menu" && ev.target.open) {
      snippet();
      document.getElementById("embed-snippet").select();
    }
  }, true);
  ["input", "change"].forEach(function (kind) {
    document.addEventListener(kind, function (ev) {
      if (ev.target.hasAttribute && ev.target.hasAttribute("data-embed-from")) snippet();
    });
  });
})();
