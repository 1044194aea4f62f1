"""A running search in the web (issue 23): its progress (states, states per second, elapsed time),
its first violation as soon as it is found, with a shortest schedule, and cancelling it."""
from __future__ import annotations

import threading
import time
from typing import Any

from markupsafe import escape

from app.model.scenarios.replay import all_violations, replay
from app.model.scenarios.loader import load_all
from app.web import modelapi, urls
from app.web.http import searches

# Four CPUs, old code, from the state after CPU1's first step: the first use-after-free is found
# within about 20,000 states, the whole search keeps about 740,000 (ten seconds or more here).
BIG = "three-shrinkers-vs-swapoff"
PREFIX = "1"


def _search_in_background(client, url: str) -> tuple[threading.Thread, dict[str, Any]]:
    answer: dict[str, Any] = {}

    def run() -> None:
        r = client.get(url)
        answer["status"], answer["body"] = r.status_code, r.text
        answer["json"] = r.json() if r.headers.get("content-type", "").startswith("application/json") else None

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, answer


def _wait(client, url: str, until, seconds: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if until(body):
            return body
        time.sleep(0.05)
    raise AssertionError(f"no progress like that within {seconds} s: {body}")


def test_a_running_search_shows_its_progress_and_its_first_violation_then_can_be_cancelled(client, monkeypatch):
    monkeypatch.setattr(searches, "MAX_SECONDS", 300.0)  # only the cancel stops it
    progress = urls.api_check_progress(BIG, "old", PREFIX)
    idle = client.get(progress)
    assert idle.status_code == 200 and idle.json()["running"] is False and idle.json()["first"] is None
    thread, answer = _search_in_background(client, urls.api_check(BIG, "old", PREFIX))
    body = _wait(client, progress, lambda b: b["running"] and b["first"] is not None)
    assert body["states"] > 0 and body["seconds"] > 0 and body["per_second"] > 0 and not body["cancelled"]
    first = body["first"]
    assert first["kind"] == "use-after-free" and first["function"] == "shrink_memcg_cb"
    # Streamed before the search ends, and already a real (and shortest) schedule to it.
    assert first["shortest"].startswith(PREFIX)
    world = replay(load_all()[BIG], "old", first["shortest"]).world
    assert (first["kind"], first["step_id"]) in {(v.kind, v.step_id) for v in all_violations(world)}
    later = _wait(client, progress, lambda b: b["states"] > body["states"])
    assert later["seconds"] >= body["seconds"]
    # The HTML the verdict block polls says the same.
    html = client.get(urls.verdict_progress(BIG, "old", PREFIX)).text
    assert "states so far" in html and "states/s" in html and "First problem found" in html
    assert str(escape(urls.scenario(BIG, "old", first["shortest"]))) in html
    assert str(escape(urls.verdict_cancel(BIG, "old", PREFIX))) in html
    assert thread.is_alive()  # still searching
    assert client.post(urls.api_check_cancel(BIG, "old", PREFIX)).status_code == 204
    thread.join(60)
    assert not thread.is_alive() and answer["status"] == 200
    verdict = answer["json"]
    assert verdict["complete"] is False and verdict["stopped_reason"] == "cancelled at your request"
    assert verdict["states_searched"] >= later["states"] and verdict["violations"]  # what it covered
    assert modelapi.cached_verdict(BIG, "old", PREFIX) is None  # a cancelled search is not kept
    assert client.get(progress).json()["running"] is False


def test_the_verdict_block_cancelled_from_the_page_says_what_it_covered(client, monkeypatch):
    monkeypatch.setattr(searches, "MAX_SECONDS", 300.0)
    running = client.get(urls.verdict_running(BIG, "new", PREFIX))
    assert running.status_code == 200
    # The block asks for the verdict once and polls the progress every second, with a cancel button.
    assert f'hx-get="{escape(urls.verdict(BIG, "new", PREFIX))}" hx-trigger="load"' in running.text
    assert 'hx-trigger="every 1s"' in running.text and "Cancel the search" in running.text
    thread, answer = _search_in_background(client, urls.verdict(BIG, "new", PREFIX))
    _wait(client, urls.api_check_progress(BIG, "new", PREFIX), lambda b: b["running"] and b["states"] > 0)
    assert client.post(urls.verdict_cancel(BIG, "new", PREFIX)).status_code == 204
    thread.join(60)
    assert answer["status"] == 200
    assert "The search stopped early: cancelled at your request" in answer["body"]
    assert "distinct states" in answer["body"]


def test_progress_and_cancel_of_no_search_and_bad_input(client):
    assert client.post(urls.verdict_cancel(BIG, "old", "44")).status_code == 204  # nothing to cancel
    assert "Starting the search" in client.get(urls.verdict_progress(BIG, "old", "44")).text
    assert client.get(urls.verdict_progress("nope", "old")).status_code == 404
    assert client.get(urls.api_check_progress(BIG, "ancient")).status_code == 400
    assert client.post(urls.api_check_cancel("nope", "old")).status_code == 404
