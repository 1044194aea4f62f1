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

  // ---- polls (both roles): a tour's predict stop in a room is a poll, and so is a question the
  // presenter asks at any state (#ask) -------------------------------------------------------
  // The stop's HTML is the same cached page for everyone; this decorates it: a block below the
  // choices (templates/_live.html's #poll-template), the choices turned into votes (no step), and
  // the tally from /api/rooms/CODE/poll and the stream's "poll" events. An asked question has no
  // HTML of its own: #ask is filled in from the poll's JSON (openAsk) and emptied when the room
  // moves on (closeAsk); its tallies carry "ask", its kind.
  var pollApi = live.getAttribute("data-poll");
  var tally = null;  // the newest tally of the poll shown
  var askBox = document.getElementById("ask");
  function asking() { return askBox && !askBox.hidden ? askBox.getAttribute("data-ask") : null; }
  // The poll shown: the asked question's box, else the predict stop's.
  function host() { return asking() ? askBox : document.getElementById("predict"); }
  // A tally is the shown poll's when it names the state shown and the same question.
  function ours(t, url) { return t.url === url && (t.ask || null) === asking(); }
  function keyOf(t) { return t.url + (t.ask ? "#ask=" + t.ask : ""); }
  function pollBox() {
    var p = host();
    if (!p) return null;
    var box = document.getElementById("poll");
    if (!box) {
      box = document.getElementById("poll-template").content.firstElementChild.cloneNode(true);
      p.insertBefore(box, p.querySelector("#ask-explain"));  // an asked question's line comes last
      p.classList.add("polling");
      // A vote, not a step: the choice links make no request (and app.js does not wait for one).
      p.querySelectorAll(".choices [id^=pick-]").forEach(function (a) { a.removeAttribute("hx-get"); });
      tally = null;
    }
    return box;
  }
  function openAsk(t, voting) {
    if (asking() === t.ask && askBox.getAttribute("data-url") === t.url) return;
    closeAsk();
    askBox.setAttribute("data-ask", t.ask);
    askBox.setAttribute("data-url", t.url);
    document.getElementById("ask-q").textContent = t.question;
    var list = document.getElementById("ask-choices");
    t.choices.forEach(function (text, i) {
      var li = document.createElement("li"), c = document.createElement(voting ? "button" : "span");
      var k = document.createElement("kbd"), key = "abcdefgh".charAt(i);
      c.className = voting ? "btn choice" : "choice";
      c.setAttribute("data-choice", String(i));
      if (voting) { c.type = "button"; c.setAttribute("data-hotkey", key); }
      k.textContent = key;
      c.appendChild(k);
      c.appendChild(document.createTextNode(" " + text));
      li.appendChild(c);
      list.appendChild(li);
    });
    askBox.hidden = false;
    pollBox();
  }
  function closeAsk() {
    if (!askBox || askBox.hidden) return;
    askBox.hidden = true;
    askBox.classList.remove("revealed", "tallied");
    askBox.removeAttribute("data-ask");
    document.getElementById("ask-choices").textContent = "";  // no choice keeps a hotkey
    document.getElementById("ask-explain").hidden = true;
    var box = document.getElementById("poll");
    if (box && askBox.contains(box)) box.remove();
    tally = null;
  }
  // The explorer's line and its schedule, once revealed (from the poll's JSON: a stream's tally
  // does not carry them, so the reveal fetches the poll).
  function explain(t) {
    var e = document.getElementById("ask-explain");
    if (!t.ask || !t.revealed || !e) return;
    if (typeof t.explain !== "string") return setTimeout(function () {
      fetchTally(function (full) { if (full.revealed && ours(full, t.url)) explain(full); });
    }, role === "presenter" ? 0 : Math.random() * 1000);  // 2,000 phones do not ask at once
    document.getElementById("ask-explain-text").textContent = t.explain;
    var a = document.getElementById("ask-link");
    a.hidden = !t.link;
    if (t.link) a.setAttribute("href", t.link);
    e.hidden = false;
  }
  function choiceItems() {
    var p = host();
    return p ? Array.prototype.slice.call(p.querySelectorAll(".choices > li")) : [];
  }
  function mark(li, text) {
    var m = li.querySelector(".poll-mark");
    if (!m) {
      m = document.createElement("strong");
      m.className = "mark poll-mark";
      (li.querySelector(".choice") || li).appendChild(m);
    }
    m.textContent = text;
  }
  // The answer, once revealed, and how many answered: both roles alike.
  function showTally(t) {
    tally = t;
    var n = document.getElementById("poll-answered");
    if (n) n.textContent = String(t.answered);
    var p = host();
    if (p) p.classList.toggle("revealed", !!t.revealed);
    if (t.revealed) choiceItems().forEach(function (li, i) {
      li.classList.toggle("answer", i === t.answer);
      if (i === t.answer) mark(li, t.ask ? " ✔ the explorer's answer" : " ✔ what happens");
    });
    explain(t);
  }
  function fetchTally(then) {
    fetch(pollApi, { cache: "no-store" }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (t) { if (t) then(t); }, function () { /* the stream's next tally */ });
  }
  function pickIndex(el) {
    var a = el.closest && el.closest("#predict.polling .choices [id^=pick-], #ask .choices [data-choice]");
    return !a ? -1 : parseInt(a.hasAttribute("data-choice") ? a.getAttribute("data-choice") : a.id.slice(5), 10);
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
        if (r.ok) { published = url; return r.json().then(function (b) { showCount(b); presenterPoll(); }); }
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
    // The poll of the state shown: a bar per choice under each choice, how many answered, Reveal.
    // A state with no predict stop may have the room's asked question (back at it): the poll says.
    function presenterPoll() {
      if (ended || here() !== published) return;
      if (asking() && askBox.getAttribute("data-url") !== published) closeAsk();
      if (!document.getElementById("predict") && !asking()) {
        return fetchTally(function (t) { if (t.ask && t.url === published && here() === published) presenterAsk(t); });
      }
      if (!pollBox()) return;
      bars();
      fetchTally(presenterTally);
    }
    function presenterAsk(t) {
      openAsk(t, false);
      bars();
      presenterTally(t);
    }
    function bars() {
      host().classList.add("tallied");
      choiceItems().forEach(function (li) {
        if (li.querySelector(".poll-bar")) return;
        var bar = document.createElement("span"), fill = document.createElement("span"), n = document.createElement("span");
        bar.className = "poll-bar"; fill.className = "poll-fill"; n.className = "poll-n";
        bar.appendChild(fill); bar.appendChild(n); li.appendChild(bar);
      });
    }
    function presenterTally(t) {
      if (!ours(t, published) || !document.getElementById("poll")) return;
      showTally(t);
      choiceItems().forEach(function (li, i) {
        var k = t.counts[i] || 0, pct = t.answered ? Math.round(100 * k / t.answered) : 0;
        var fill = li.querySelector(".poll-fill"), n = li.querySelector(".poll-n");
        if (fill) fill.style.width = pct + "%";  // the CSSOM, which the CSP allows (no style attribute)
        if (n) n.textContent = k + " · " + pct + "%";
      });
      var b = document.getElementById("poll-reveal");
      if (b) b.hidden = !!t.revealed;
      document.getElementById("poll-note").textContent = !t.revealed ? ""
        : t.ask ? "Revealed to the room." : "Revealed to the room. Press → to watch it happen.";
    }
    // Ask (k, s): the explorer answers at the server, which keeps the answer until the reveal.
    var asked = document.getElementById("ask-status");
    function askStatus(text, error) {
      asked.hidden = !text;
      asked.textContent = text;
      asked.toggleAttribute("data-error", !!error);
    }
    function askRoom(kind) {
      if (ended || here() !== published) return askStatus("Wait for this state to reach the room, then ask.", true);
      askStatus("Asking the explorer…");
      fetch(live.getAttribute("data-ask"), {
        method: "POST", headers: Object.assign({ "Content-Type": "application/json" }, auth),
        body: JSON.stringify({ question: kind, url: published }), cache: "no-store"
      }).then(function (r) {
        return r.json().then(function (b) {
          if (!r.ok) return askStatus("✖ " + (b.message || "The question was not asked."), true);
          askStatus("");
          if (b.url === published) presenterAsk(b);
        });
      }, function () { askStatus("✖ No connection: the question was not asked.", true); });
    }
    document.addEventListener("click", function (ev) {
      var t = ev.target.closest ? ev.target : ev.target.parentElement;
      if (pickIndex(t) >= 0) {  // the presenter's page counts the room's answers, it gives none
        ev.preventDefault();
        ev.stopImmediatePropagation();
      } else if (t.closest("[data-ask-kind]")) {
        askRoom(t.closest("[data-ask-kind]").getAttribute("data-ask-kind"));
      } else if (t.closest("#poll-reveal")) {
        fetch(live.getAttribute("data-reveal"), { method: "POST", headers: auth, cache: "no-store" })
          .then(function (r) { return r.ok ? r.json() : null; }).then(function (b) { if (b) presenterTally(b); });
      }
    }, true);
    // The tallies come on the room's own stream (the control link's: not counted as a follower).
    var tallies = new EventSource(live.getAttribute("data-stream"));
    tallies.addEventListener("poll", function (ev) { presenterTally(JSON.parse(ev.data)); });
    document.addEventListener("htmx:after:settle", function () { if (here() !== published) askStatus(""); });
    tallies.addEventListener("end", function () { tallies.close(); });
    document.addEventListener("htmx:after:settle", presenterPoll);
    publish();
    presenterPoll();
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
    live.setAttribute("data-ready", "");  // every handler is on (tests wait for it, not for the markup)
    return;
  }

  // ---- the audience --------------------------------------------------------------------------
  var joinPath = live.getAttribute("data-join");
  var latest = live.getAttribute("data-url"), shown = latest;
  var following = true, connected = true, ended2 = false, loading = false, source = null;
  var rejoined = false;  // the next state followed may have the room's asked question: ask the poll
  // The room's asked question heard for a state still loading (the presenter came back to it):
  // opened once that state is shown.
  var askWaiting = null;
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
      audiencePoll(rejoined);
      rejoined = false;
      var waiting = askWaiting;
      askWaiting = null;
      if (waiting && waiting.url === shown) audienceAsk(waiting);
    }, function () { /* the next state or a rejoin tries again */ }).then(function () {
      loading = false;
      follow();
    });
  }

  // ---- the audience's vote ----
  var voteApi = live.getAttribute("data-vote");
  var voter = (function () {
    var id = null;
    try { id = sessionStorage.getItem("zswap-voter"); } catch (e) { /* ignore */ }
    if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
      var b = new Uint8Array(12);
      crypto.getRandomValues(b);
      id = Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
      try { sessionStorage.setItem("zswap-voter", id); } catch (e) { /* the id lives as long as the page */ }
    }
    return id;
  })();
  var picks = {};  // stop -> my choice, also in sessionStorage (a reload keeps it)
  function myPick(stop) {
    if (stop in picks) return picks[stop];
    try { var v = sessionStorage.getItem("zswap-pick:" + code + ":" + stop); if (v !== null) return parseInt(v, 10); } catch (e) { /* ignore */ }
    return -1;
  }
  // `first`: the page's first state, where the room's asked question may wait for a late joiner.
  function audiencePoll(first) {
    if (asking() && (!following || askBox.getAttribute("data-url") !== shown)) closeAsk();
    if (!following || ended2 || shown !== latest) return;
    if (first && !document.getElementById("predict")) return fetchTally(audienceAsk);
    if (!pollBox()) return;
    audienceTally(tally && ours(tally, shown) ? tally : { url: shown, answered: 0, counts: [], revealed: false, answer: null });
    fetchTally(audienceTally);
  }
  // An asked question (on the stream, or waiting at the state a late joiner lands on).
  function audienceAsk(t) {
    if (!t.ask || !following || t.url !== shown) return;
    if (!t.question) return fetchTally(audienceAsk);  // the stream's tally: the poll has the question
    openAsk(t, true);
    audienceTally(t);
  }
  function audienceTally(t) {
    if (!following || !ours(t, shown) || !document.getElementById("poll")) return;
    showTally(t);
    var mine = myPick(keyOf(t)), note;
    choiceItems().forEach(function (li, i) {
      li.classList.toggle("voted", i === mine && !t.revealed);
      li.classList.toggle("picked", i === mine && !!t.revealed);
      var a = li.querySelector("[id^=pick-]");
      if (a) a.setAttribute("aria-pressed", i === mine ? "true" : "false");
      if (i === mine && t.revealed && i !== t.answer) mark(li, " ✖ your choice");
      else if (i === mine && !t.revealed) mark(li, " ● your answer");
      else if (i !== t.answer) { var m = li.querySelector(".poll-mark"); if (m) m.remove(); }
    });
    if (t.revealed) note = mine < 0 ? "The answer is out (you did not answer)." : mine === t.answer ? "✔ Right." : "✖ Not this time: see the marked answer.";
    else note = mine < 0 ? "Pick an answer: the presenter reveals it to everyone." : "Your answer is in (you may change it). The presenter reveals the answer.";
    document.getElementById("poll-note").textContent = note;
  }
  function vote(choice, tries) {
    if (tally && tally.revealed) return;
    var stop = shown, key = stop + (asking() ? "#ask=" + asking() : "");
    tries = tries || 0;
    fetch(voteApi, { method: "POST", headers: { "Content-Type": "application/json" }, cache: "no-store",
                     body: JSON.stringify({ voter: voter, choice: choice, url: stop }) }).then(function (r) {
      if (r.ok) {
        picks[key] = choice;
        try { sessionStorage.setItem("zswap-pick:" + code + ":" + key, String(choice)); } catch (e) { /* ignore */ }
        return r.json().then(audienceTally);
      }
      if (r.status === 409) return fetchTally(audienceTally);
      var n = document.getElementById("poll-note");
      if ((r.status === 429 || r.status === 503) && tries < 3) {
        // A busy server or room: send it again after Retry-After, spread so that a room does not
        // come back at once.
        var wait = (parseInt(r.headers.get("Retry-After"), 10) || 1) * 1000 * (1 + Math.random());
        if (n) n.textContent = "Many answers at once: sending yours again…";
        return setTimeout(function () { if (shown === stop) vote(choice, tries + 1); }, wait);
      }
      if (n) n.textContent = "Your answer did not go through: pick again.";
    }, function () {
      var n = document.getElementById("poll-note");
      if (n) n.textContent = "No connection: pick again.";
    });
  }
  // A choice at a stop the room is at is a vote (in the capture phase: before htmx makes it a step).
  document.addEventListener("click", function (ev) {
    var i = pickIndex(ev.target.closest ? ev.target : ev.target.parentElement);
    if (i < 0 || !following) return;
    ev.preventDefault();
    ev.stopImmediatePropagation();
    vote(i);
  }, true);

  function detach() {
    if (!following) return;
    following = false;
    closeAsk();  // exploring on one's own: the room's question is the room's state's
    render();
  }

  function rejoin() {
    following = true;
    rejoined = true;
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
    source.addEventListener("poll", function (ev) {
      var t = JSON.parse(ev.data);
      if (t.ask && t.url === shown && asking() !== t.ask) audienceAsk(t);
      else if (ours(t, shown)) audienceTally(t);
      else if (t.ask && t.url === latest) askWaiting = t;
      else if (t.url === latest) tally = t;
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
  audiencePoll(true);
  live.setAttribute("data-ready", "");
})();
