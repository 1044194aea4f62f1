"""The explorer's verdict in the API and on the pages (app.model.api.check, through modelapi)."""
from __future__ import annotations

import json

import pytest
from markupsafe import escape

from app.model import api as model_api
from app.web.page import context
from app.web import modelapi, urls
from app.web.routes import pages

SEED = "lru-writeback-vs-swapoff"


def heavy_scenario() -> str:
    return next(s["id"] for s in modelapi.scenarios() if modelapi.is_heavy(s["id"]))


def test_check_route_is_the_models_verdict_with_exact_counts(client):
    r = client.get(urls.api_check(SEED, "old"))
    assert r.status_code == 200
    body = r.json()
    model = model_api.check(SEED, "old")
    for key in ("scenario", "code", "states", "transitions", "depth", "complete_runs", "terminal_states",
                "deadlocks", "reduction", "complete", "stopped_reason"):
        assert body[key] == model[key], key
    assert body["complete_runs_text"] == str(model["complete_runs"])
    assert model["complete_runs"] > 2**53  # why the text form exists
    assert [v["count_text"] for v in body["violations"]] == [str(v["count"]) for v in model["violations"]]
    uaf = {v["line_label"] for v in body["violations"] if v["kind"] == "use-after-free"}
    assert {"b:883", "b:893"} <= uaf


def test_check_route_new_code_has_no_violation(client):
    body = client.get(urls.api_check(SEED, "new")).json()
    assert body["violations"] == [] and body["states"] > 0 and body["complete"] is True


def test_check_route_bad_input(client):
    r = client.get(urls.api_check("nope", "old"))
    assert r.status_code == 404 and r.json()["error"] == "unknown-scenario" and SEED in r.json()["valid"]
    r = client.get(urls.api_check(SEED, "ancient"))
    assert r.status_code == 400 and r.json()["error"] == "unknown-code" and "new-no-rotate" in r.json()["valid"]


def test_scenario_page_shows_old_and_new_side_by_side_with_find_the_race(client):
    html = client.get(urls.scenario(SEED, "old")).text
    assert 'id="pane-verdict"' in html and 'id="verdict-old"' in html and 'id="verdict-new"' in html
    old = modelapi.verdict(SEED, "old")
    runs = "{:,}".format(old["complete_runs"])
    first = old["violations"][0]
    assert "{:,}".format(first["count"]) + "</span> of " + runs in html
    assert f"shrink_memcg_cb {first['line_label']}" in html
    for v in old["violations"]:
        assert escape(urls.scenario(SEED, "old", v["shortest"])) in html
    new = modelapi.verdict(SEED, "new")
    assert "any of the " + "{:,}".format(new["complete_runs"]) + " complete schedules" in html
    assert "{:,}".format(old["states"]) + " distinct states" in html
    assert "No reduction" in html


def test_variants_are_behind_an_explicit_request_and_marked_not_kernel(client):
    html = client.get(urls.scenario(SEED, "new")).text
    for code in ("new-no-rotate", "new-tree-before-folio", "new-no-recheck"):
        assert f'id="run-verdict-{code}"' in html
        assert escape(urls.verdict(SEED, code)) in html
    assert "not kernel code" in html


def test_verdict_route_gives_htmx_the_block_and_a_browser_a_page(client):
    url = urls.verdict(SEED, "new-tree-before-folio")
    frag = client.get(url, headers={"HX-Request": "true"})
    assert frag.status_code == 200
    assert frag.text.lstrip().startswith('<article class="verdict-code variant bad" id="verdict-new-tree-before-folio"')
    assert "<html" not in frag.text and "not kernel code" in frag.text
    shortest = modelapi.verdict(SEED, "new-tree-before-folio")["violations"][0]["shortest"]
    assert escape(urls.scenario(SEED, "new-tree-before-folio", shortest)) in frag.text
    full = client.get(url)
    assert full.status_code == 200 and "<html" in full.text and 'id="verdict-new-tree-before-folio"' in full.text
    assert client.get(urls.verdict("nope", "old")).status_code == 404
    assert client.get(urls.verdict(SEED, "ancient")).status_code == 400


def test_step_fragment_leaves_the_verdict_pane_alone(client):
    frag = client.get(urls.scenario(SEED, "old", "1"), headers={"HX-Request": "true"}).text
    assert 'id="pane-verdict"' not in frag


def test_heavy_scenario_page_never_runs_the_explorer(client, monkeypatch):
    sid = heavy_scenario()

    def boom(*a):
        raise AssertionError("the explorer ran on a page load")

    monkeypatch.setattr(modelapi, "check", boom)
    monkeypatch.setattr(modelapi, "_verdicts", {})
    pages.clear_caches()
    r = client.get(urls.scenario(sid, "old"))
    assert r.status_code == 200
    assert 'id="run-verdict-old"' in r.text and 'id="run-verdict-new"' in r.text
    assert f"{modelapi.cost_hint(sid)} the first time" in r.text
    assert client.get("/").status_code == 200
    pages.clear_caches()


def test_index_shows_computed_verdicts_and_says_when_not_yet(client, monkeypatch):
    monkeypatch.setattr(modelapi, "_verdicts", {})
    html = client.get("/").text
    assert "still computing" in html and "run the explorer on the scenario page" in html
    modelapi.verdict(SEED, "old")
    modelapi.verdict(SEED, "new")
    html = client.get("/").text
    card = html[html.index(f'id="scenario-{SEED}"'):]
    card = card[: card.index("</section>")]
    assert "use-after-free at shrink_memcg_cb b:883" in card and "no violation in any schedule" in card


def test_concurrent_requests_compute_a_verdict_once(monkeypatch):
    import threading

    calls = []

    def slow(sid, code):
        calls.append((sid, code))
        threading.Event().wait(0.2)
        return {"complete_runs": 1, "violations": []}

    monkeypatch.setattr(modelapi, "check", slow)
    monkeypatch.setattr(modelapi, "_verdicts", {})
    monkeypatch.setenv("ZSWAP_VERDICT_CACHE", "0")  # this process's memo alone, not the disk
    threads = [threading.Thread(target=modelapi.verdict, args=(SEED, "old")) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert calls == [(SEED, "old")]


@pytest.mark.parametrize("count,total,text", [
    (6303726, 9057545163294664698, "about 1 in 1.4 trillion"),
    (18911178, 9057545163294664698, "about 1 in 480 billion"),
    (1, 50, "about 1 in 50"),
    (3, 4, "75% of them"),
    (1, 10**40, "about 1 in 1 × 10^40"),
])
def test_one_in_reads_aloud(count, total, text):
    assert context.one_in(count, total) == text


def test_kernel_labels():
    assert context.is_kernel_label("b:883") and context.is_kernel_label("f:1427")
    assert not context.is_kernel_label("V2") and not context.is_kernel_label("")


def test_check_json_round_trips_big_counts(client):
    raw = client.get(urls.api_check(SEED, "old")).content
    assert json.loads(raw)["complete_runs"] == model_api.check(SEED, "old")["complete_runs"]


# -- "from this state": the explorer on the continuations of a schedule --------------------------

PREFIX = "11111111" + "2" * 40  # old code: CPU1 has dropped the LRU lock, swapoff is nearly done


def test_check_from_a_prefix_explores_only_its_continuations(client):
    whole = client.get(urls.api_check(SEED, "old")).json()
    r = client.get(urls.api_check(SEED, "old", PREFIX))
    assert r.status_code == 200
    here = r.json()
    assert here["prefix"] == PREFIX and here["states"] < whole["states"]
    assert here["complete_runs"] < whole["complete_runs"]
    assert here["violations"] and all(v["shortest"].startswith(PREFIX) for v in here["violations"])
    # Searched in another process: the same verdict, in its own time.
    same = json.loads(json.dumps(modelapi._with_texts(model_api.check(SEED, "old", PREFIX))))
    assert {**here, "seconds": 0} == {**same, "seconds": 0}


def test_check_from_a_bad_prefix_names_the_position(client):
    r = client.get(urls.api_check(SEED, "old", "12x"))
    assert r.status_code in (400, 422)
    body = r.json()
    assert body["position"] == 2 and "CPU" in body["reason"] and body["valid_prefix"] == "12"


def test_a_state_page_offers_the_explorer_from_here_and_the_start_page_does_not(client):
    with_t = client.get(urls.scenario(SEED, "old", PREFIX, None)).text
    assert 'id="pane-from-here"' in with_t
    assert escape(urls.verdict(SEED, "old", PREFIX)) in with_t
    assert 'id="pane-from-here"' not in client.get(urls.scenario(SEED, "old")).text


def test_the_from_here_verdict_fragment_links_races_that_start_with_the_prefix(client):
    r = client.get(urls.verdict(SEED, "old", PREFIX), headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert 'id="verdict-old-here"' in r.text and "continue from this state" in r.text
    races = [m for m in r.text.split('href="')[1:] if m.startswith("/s/")]
    assert races and all(f"t={PREFIX}" in m.split('"')[0] for m in races)


def test_a_verdict_on_disk_is_served_without_a_search(client, monkeypatch):
    """A restarted server or a second worker (a process with an empty memo) reads the verdict
    another process stored (app/model/explorer/verdict_store.py) instead of searching again; and what
    the server computes, it stores."""
    key = ("two-shrinkers", "new-no-recheck")
    monkeypatch.delitem(modelapi._verdicts, key, raising=False)
    real = model_api.check(*key)
    model_api.store_verdict(*key, "", dict(real, states=424242))  # no search gives this count

    async def no_search(*args, **kwargs):
        raise AssertionError("searched although the verdict was on disk")

    monkeypatch.setattr(modelapi.searches.pool, "run", no_search)
    body = client.get(urls.api_check(*key)).json()
    assert body["states"] == 424242 and body["complete_runs_text"] == str(real["complete_runs"])
    monkeypatch.undo()
    fresh = ("two-shrinkers", "new-tree-before-folio")
    modelapi._verdicts.pop(fresh, None)
    assert model_api.stored_verdict(*fresh) is None or model_api.stored_verdict(*fresh)["complete"]
    body = client.get(urls.api_check(*fresh)).json()
    assert model_api.stored_verdict(*fresh)["states"] == body["states"]


def test_a_livelock_verdict_reads_as_states_no_run_leaves_never_as_no_violation():
    """A search in which no run can end (issue 18): the pane names the livelock, counts states,
    not schedules, and links the shortest schedule into the loop."""
    from app.web.page import render

    scenario = modelapi.scenario(SEED)
    info = next(c for c in scenario["code_info"] if c["id"] == "old")
    result = {
        "scenario": SEED, "code": "old", "states": 13, "transitions": 13, "depth": 12, "complete_runs": None,
        "terminal_states": 0, "deadlocks": 0, "livelock_states": 13, "seconds": 0.01, "reduction": "none",
        "complete": True, "stopped_reason": None, "prefix": "",
        "violations": [{"kind": "livelock", "step_id": "S3l", "function": "try_to_unuse", "file": "mm/swapfile.c",
                        "line": None, "line_label": "", "count": 13, "count_text": "13", "shortest": "22222",
                        "detail": "swapoff never finishes: CPU2 loops in try_to_unuse() and no run from here ends"}],
    }
    v = context.code_verdict(scenario, info, result)
    html = render.render("_verdict_code.html", v=v, standalone=True, urls=urls)
    assert "No violation" not in html
    assert "13</span> states from which no run ever ends" in html and "<strong>livelock</strong>" in html
    assert "swapoff never finishes" in html and "schedule into the loop, 5 steps" in html
    assert str(escape(urls.scenario(SEED, "old", "22222"))) in html
    assert "try_to_unuse" in html and "variant line" not in html  # mm/swapfile.c: kernel code, no b:/f: label


def test_a_search_cut_at_its_budget_says_found_count_unknown_never_zero(client, monkeypatch):
    """A search stopped early found its groups but could not count their runs: the JSON has no
    count (null, and why) and the pane says "found; count unknown", never "0 of ..."."""
    monkeypatch.setattr(modelapi.searches, "MAX_STATES", 3000)
    # A verdict cut at the state budget is memoised (the budget, not the load, cut it): the
    # monkeypatch's undo then forgets it, so no later test sees the cut one.
    monkeypatch.setattr(modelapi, "_here", modelapi.OrderedDict())
    # Nor the disk's store: an earlier test may have stored this state's complete verdict there.
    monkeypatch.setattr(modelapi.api, "stored_verdict", lambda *args, **kwargs: None)
    body = client.get(urls.api_check(SEED, "old", "1")).json()
    assert body["complete"] is False and body["violations"]
    for v in body["violations"]:
        assert v["count"] is None and v["count_text"] is None
        assert v["count_unknown"] == "the search stopped after 3,000 states"
    html = client.get(urls.verdict(SEED, "old", "1"), headers={"HX-Request": "true"}).text
    assert html.count('<span class="k">Found</span>') == len(body["violations"])
    assert html.count("(count unknown: the search stopped after 3,000 states)") == len(body["violations"])
    assert '<span class="k">0</span>' not in html and "The search stopped early" in html


def test_cost_hints_follow_the_estimated_search_cost():
    # The bands docs/performance.md measured: one-entry 3-CPU scenarios about a second, the
    # two-entry one 10-20 s, three shrinkers and swapoff 15-40 s; a 2-CPU one under half a second.
    assert modelapi.cost_hint("lru-writeback-vs-swapoff") == "under half a second"
    assert modelapi.cost_hint("two-shrinkers-vs-swapoff") == "1–3 s"
    assert modelapi.cost_hint("two-entries-two-shrinkers-vs-swapoff") == "10–20 s"
    assert modelapi.cost_hint("three-shrinkers-vs-swapoff") == "15–40 s"
