"""Challenge pages (app/web/routes/challenges.py): the goal over the stage, the steps counted, success
compared with the shortest schedule, "Give up" showing the explorer's answer, bad input a named 4xx."""
from __future__ import annotations

import pytest

from app.model import challenges
from app.web import modelapi, urls

SEED = "lru-writeback-vs-swapoff"


def test_the_index_lists_every_challenge(client):
    page = client.get(urls.index()).text
    for s in modelapi.scenarios():
        for ch in s["challenges"]:
            assert f'href="{urls.challenge(s["id"], ch["name"])}"' in page
    body = client.get(urls.api_scenarios()).json()
    seed = next(s for s in body if s["id"] == SEED)
    assert {"name": "crash-the-old-code", "code": "old", "goal": "violation", "violation": "use-after-free"}.items() \
        <= next(c for c in seed["challenges"] if c["name"] == "crash-the-old-code").items()


def test_the_start_shows_the_goal_and_the_stage_steps_inside_the_challenge(client, href):
    page = client.get(urls.challenge(SEED, "crash-the-old-code")).text
    assert "Challenge: Crash the old code." in page and "Steps taken: <strong>0</strong>" in page
    assert href(page, "give-up") == urls.challenge(SEED, "crash-the-old-code", "", answer=True)
    assert href(page, "step-1") == urls.challenge(SEED, "crash-the-old-code", "1")
    assert href(page, "step-2") == urls.challenge(SEED, "crash-the-old-code", "2")
    assert 'id="tours-menu"' not in page and 'id="code-new"' not in page  # no tour, no other code to peek at
    assert 'id="pane-verdict"' not in page and 'id="pane-from-here"' not in page  # nor the explorer
    later = client.get(urls.challenge(SEED, "crash-the-old-code", "1112")).text
    assert "Steps taken: <strong>4</strong>" in later
    assert href(later, "undo") == urls.challenge(SEED, "crash-the-old-code", "111")
    assert 'id="challenge-done"' not in later and 'id="challenge-over"' not in later


def test_success_compares_with_the_shortest_schedule(client, uaf, href):
    page = client.get(urls.challenge(SEED, "crash-the-old-code", uaf)).text
    assert "Done in 55 steps." in page and "The explorer's shortest schedule takes 54" in page
    best = challenges.shortest(SEED, "crash-the-old-code").schedule
    assert href(page, "best-schedule") == urls.scenario(SEED, "old", best)
    assert href(page, "challenge-lanes") == urls.lanes_svg(SEED, "old", uaf)
    assert 'id="give-up"' not in page and "tree-&gt;lock is taken in freed memory" in page
    exact = client.get(urls.challenge(SEED, "crash-the-old-code", best)).text
    assert "Done in 54 steps." in exact and "yours is as short as it gets" in exact


def test_a_run_that_can_go_no_further_says_so(client):
    t = next(x["schedule"] for x in modelapi.scenario(SEED)["tours"] if x["name"] == "fixed-swapoff-sleeps")
    page = client.get(urls.challenge(SEED, "crash-the-fixed-code", t)).text
    assert 'id="challenge-over"' in page and "No CPU can move any more" in page


def test_giving_up_on_the_fixed_code_shows_the_explorers_verdict(client):
    page = client.get(urls.challenge(SEED, "crash-the-fixed-code", "11", answer=True)).text
    verdict = modelapi.verdict(SEED, "new")
    assert "No schedule reaches a use-after-free on this code." in page
    assert f"{int(verdict['complete_runs_text']):,} complete runs ({verdict['states']} states)" in page
    assert "You cannot:" in page and 'id="give-up"' not in page


def test_giving_up_on_a_possible_goal_shows_a_shortest_schedule(client, href):
    page = client.get(urls.challenge(SEED, "swapoff-sleeps-on-the-folio", answer=True)).text
    best = challenges.shortest(SEED, "swapoff-sleeps-on-the-folio").schedule
    assert href(page, "answer-schedule") == urls.scenario(SEED, "new", best)
    assert f"takes {len(best)} steps" in page


def test_an_htmx_step_swaps_the_state_with_the_challenge_box(client):
    r = client.get(urls.challenge(SEED, "crash-the-old-code", "1"), headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.text.lstrip().startswith("<main id=\"state\"")
    assert "Steps taken: <strong>1</strong>" in r.text


@pytest.mark.parametrize("path,status,text", [
    (urls.challenge(SEED, "no-such"), 404, "There is no challenge &#39;no-such&#39;"),
    (urls.challenge("no-such", "crash-the-old-code"), 404, "There is no scenario"),
    (urls.challenge("two-shrinkers", "anything"), 404, "There is no challenge"),
    (urls.challenge(SEED, "crash-the-old-code", "11x"), 422, "Step 3 of the schedule is impossible"),
    (urls.challenge(SEED, "crash-the-old-code", "9"), 422, "there is no CPU9"),
    (urls.challenge(SEED, "crash-the-old-code") + "?answer=maybe", 400, "Invalid parameter"),
])
def test_bad_input_is_a_named_4xx(client, path, status, text):
    r = client.get(path)
    assert r.status_code == status and text in r.text, r.text[:400]


def test_an_unknown_challenge_lists_the_real_ones(client):
    r = client.get(urls.challenge(SEED, "no-such"))
    for ch in modelapi.scenario(SEED)["challenges"]:
        assert f'href="{urls.challenge(SEED, ch["name"])}"' in r.text


def test_url_builder():
    assert urls.challenge(SEED, "c") == f"/challenge/{SEED}/c"
    assert urls.challenge(SEED, "c", "12", answer=True) == f"/challenge/{SEED}/c?t=12&answer=1"
