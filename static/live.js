// Live rooms (app/web/routes/live.py): the presenter publishes, the audience follows. Loaded only by a
// room's pages (templates/_live.html), after app.js, whose window.zswapRoom it uses.
// One EventSource and htmx.ajax rather than htmx's SSE extension: the room sends a URL, not HTML
// (the audience fetches the state through the same cached, validated page route and morphs it
// in as a step does), and an attendee who explores on their own keeps the connection, to hear
// that the room ended and to rejoin at once, without applying what the presenter does.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.zswapRoom) return;
  var here = window.zswapRoom.here, isState = window.zswapRoom.isState, store = window.zswapRoom.store;
  var role = live.getAttribute("data-role");
  var code = live.getAttribute("data-code");

  function status(state, text) {
    var s = document.getElementById("live-status");
    if (s) { s.setAttribute("data-state", state); s.textContent = text; }
  }

  // Plain links to a state (the Tours menu, "Start again", the report's steps) would load a new
  // page and leave the room: in a room they swap the state like the step links do.
  document.addEventListener("click", function (ev) {
    if (ev.defaultPrevented || ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
    var a = ev.target.closest && ev.target.closest("a[href]");
    if (!a || a.hasAttribute("hx-get") || a.hasAttribute("download") || !window.htmx) return;
    var u = new URL(a.href, location.href);
    if (u.origin !== location.origin || !isState(u.pathname)) return;
    ev.preventDefault();
    var d = a.closest("details.menu");
    if (d) d.open = false;
    htmx.ajax("GET", u.pathname + u.search, { target: "#state", swap: "outerMorph", push: "true", source: a });
  });

  if (role === "presenter") {
    var token = live.getAttribute("data-token");
    var published = live.getAttribute("data-url");
    var sending = false, ended = false;
    store(JSON.stringify({ code: code, token: token }));
    // The address bar is on the projector too: it shows the state, never the control link (the
    // tab remembers the room, so a reload or a Back into an older page comes back to it, app.js).
    // The page may show another state than the room's (that reload, that Back): publish it.
    if (location.pathname.indexOf("/p/") === 0) {
      try { history.replaceState({ htmx: true }, "", live.getAttribute("data-here") || published); } catch (e) { /* ignore */ }
    }
    var auth = { "Authorization": "Bearer " + token };

    // Publish the state the address bar shows, the newest only: presses faster than the network
    // collapse into one publish of where the presenter is now.
    function publish() {
      var url = here();
      if (ended || sending || !isState(location.pathname) || url === published) return;
      sending = true;
      fetch(live.getAttribute("data-publish"), {
        method: "POST", headers: Object.assign({ "Content-Type": "application/json" }, auth),
        body: JSON.stringify({ url: url }), cache: "no-store"
      }).then(function (r) {
        sending = false;
        if (r.ok) { published = url; return r.json().then(showCount); }
        if (r.status === 404) return over("■ The room has ended");
        setTimeout(publish, r.status === 429 ? 1000 : 3000);
      }, function () { sending = false; setTimeout(publish, 2000); }).then(function () { publish(); });
    }
    function showCount(body) {
      var n = document.getElementById("live-followers");
      if (n && body && typeof body.followers === "number") n.textContent = String(body.followers);
    }
    function over(text) {
      ended = true;
      store(null);
      live.setAttribute("data-state", "over");
      var card = document.getElementById("live-card");
      if (card) card.hidden = true;
      document.querySelectorAll("#live .live-actions, #live .live-count").forEach(function (e) { e.hidden = true; });
      status("over", text);
    }
    // Back and Forward restore #page only (templates/scenario.html): this strip stays, and the
    // state they bring back is published like a step's.
    document.addEventListener("htmx:after:settle", publish);
    document.addEventListener("htmx:after:history:push", publish);
    window.addEventListener("popstate", function () { setTimeout(publish, 0); });
    // Back into this page from the browser's cache: the tab presents this room again.
    window.addEventListener("pageshow", function (ev) {
      if (!ev.persisted || ended) return;
      store(JSON.stringify({ code: code, token: token }));
      publish();
    });
    publish();
    // Followers, every 3 s (a number for the presenter only: no message to every follower).
    function poll() {
      if (ended) return;
      fetch(live.getAttribute("data-api"), { cache: "no-store" }).then(function (r) {
        if (r.status === 404) return over("■ The room has ended");
        return r.ok ? r.json().then(showCount) : null;
      }, function () { /* try again */ }).then(function () { if (!ended) setTimeout(poll, 3000); });
    }
    poll();
    document.addEventListener("click", function (ev) {
      var t = ev.target.closest ? ev.target : ev.target.parentElement;
      if (t.closest("#live-qr-toggle")) {
        var card = document.getElementById("live-card");
        var b = t.closest("#live-qr-toggle");
        card.hidden = !card.hidden;
        b.setAttribute("aria-expanded", card.hidden ? "false" : "true");
        b.firstChild.textContent = card.hidden ? "Show join card " : "Hide join card ";
      } else if (t.closest("#live-end")) {
        ask(true);
      } else if (t.closest("#live-end-no")) {
        ask(false);
      } else if (t.closest("#live-end-yes")) {
        fetch(live.getAttribute("data-api"), { method: "DELETE", headers: auth, cache: "no-store" }).then(function (r) {
          if (!r.ok && r.status !== 404) return;
          ask(false);
          over("■ Room ended: the audience keeps its state");
          var present = document.getElementById("present");  // shown again: a new room is one click away
          if (present) present.focus();
        });
      }
    });
    // "End room" asks once: the question replaces the button until answered (Esc keeps the room).
    function ask(on) {
      var q = document.getElementById("live-end-ask"), end = document.getElementById("live-end");
      q.hidden = !on;
      end.hidden = on;
      end.setAttribute("aria-expanded", on ? "true" : "false");
      (on ? document.getElementById("live-end-no") : end).focus();
    }
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && !document.getElementById("live-end-ask").hidden) ask(false);
    });
    return;
  }

  // ---- the audience --------------------------------------------------------------------------
  var joinPath = live.getAttribute("data-join");
  var latest = live.getAttribute("data-url"), shown = latest;
  var following = true, connected = true, ended2 = false, loading = false, source = null;
  var FOLLOW = "X-Zswap-Follow";

  function render() {
    var rejoin = document.getElementById("live-rejoin");
    if (ended2) { status("over", "■ The room is over: you keep this state"); live.setAttribute("data-state", "over"); }
    else if (!connected) status("lost", "… Reconnecting to the room");
    else if (following) status("following", "● Following presenter");
    else status("detached", "◌ Exploring on your own");
    if (rejoin) rejoin.hidden = ended2 || following;
  }

  // The scenario the page shows (its verdicts below the stage are that scenario's).
  var scenarioShown = latest.split("?")[0];
  function follow() {
    if (!following || ended2 || loading || !latest || latest === shown) return;
    var url = latest, path = url.split("?")[0];
    loading = true;
    var headers = {};
    headers[FOLLOW] = "1";
    // Another scenario: the whole #page (its verdicts too), as a history restore takes it.
    var swap = path === scenarioShown ? { target: "#state", swap: "outerMorph", headers: headers }
      : { target: "#page", select: "#page", swap: "outerMorph", headers: Object.assign({ "HX-Request-Type": "full" }, headers) };
    htmx.ajax("GET", url, swap).then(function () {
      shown = url;
      scenarioShown = path;
    }, function () { /* the next state or a rejoin tries again */ }).then(function () {
      loading = false;
      follow();
    });
  }

  function detach() {
    if (!following) return;
    following = false;
    render();
  }

  function rejoin() {
    following = true;
    shown = null;
    if (location.pathname + location.search !== joinPath) {
      try { history.pushState({ htmx: true }, "", joinPath); } catch (e) { /* ignore */ }
    }
    render();
    follow();
  }

  // Any step of one's own (a click, a key, the lane diagram, the browser's Back) detaches.
  document.addEventListener("htmx:before:request", function (ev) {
    var ctx = ev.detail && ev.detail.ctx;
    if (!ctx || (ctx.request && ctx.request.headers && ctx.request.headers[FOLLOW])) return;
    if (ctx.target && ctx.target.id === "state") detach();
  });
  window.addEventListener("popstate", function () {
    if (location.pathname === joinPath) { following = true; shown = null; render(); setTimeout(follow, 50); }
    else detach();
  });
  document.addEventListener("click", function (ev) {
    var t = ev.target.closest ? ev.target : ev.target.parentElement;
    if (t.closest("#live-rejoin")) rejoin();
  });

  function connect() {
    source = new EventSource(live.getAttribute("data-stream"));
    source.addEventListener("state", function (ev) {
      connected = true;
      latest = ev.data;
      render();
      follow();
    });
    source.addEventListener("end", function () {
      ended2 = true;
      source.close();
      render();
    });
    source.onerror = function () {
      if (ended2) return;
      connected = false;
      render();
      if (source.readyState !== EventSource.CLOSED) return;  // the browser reconnects by itself
      // Refused (the room is gone, or full): ask whether it still exists.
      fetch(live.getAttribute("data-api"), { cache: "no-store" }).then(function (r) {
        if (r.status === 404) { ended2 = true; render(); } else setTimeout(connect, 3000);
      }, function () { setTimeout(connect, 3000); });
    };
  }
  render();
  connect();
})();
