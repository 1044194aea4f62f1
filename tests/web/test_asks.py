"""The presenter's ad-hoc questions in a room (issue 24): "Which CPU crashes first?" at any state
and "Safe or not?", answered by the explorer when asked. The explorer's per-CPU shortest crash
(the model), the questions' answers on known states, the stores (in-process and Redis), and the
JSON API with every error, including that nothing of the answer shows before the reveal."""
from __future__ import annotations

import asyncio
import json

import pytest

from app.model.explorer.explore import verdict
from app.model.scenarios.loader import load_one
from app.model.scenarios.replay import replay
from app.web import modelapi, rooms, urls
from app.web.routes import questions
from tests.web.test_polls import STOP, error, fresh, make_store, vote  # noqa: F401
from tests.web.test_rooms import auth, open_room, run_async

SEED = "lru-writeback-vs-swapoff"
START_OLD = urls.scenario(SEED, "old", "")
START_NEW = urls.scenario(SEED, "new", "")


# ---- the model: each CPU's shortest crash ----------------------------------------------------------

def crash_by(scenario_id: str, code: str, schedule: str) -> int | None:
    """The CPU whose step made the run's first memory error, replayed step by step."""
    world = replay(load_one(scenario_id), code, schedule).world
    errors = [v for v in world.violations if v.kind in modelapi.MEMORY_ERRORS]
    return errors[0].cpu if errors else None


@pytest.mark.parametrize("scenario_id", [SEED, "two-shrinkers-vs-swapoff"])
def test_each_crashing_cpus_shortest_crash_is_real_and_none_is_shorter(scenario_id):
    v = verdict(load_one(scenario_id), "old")
    crashes = v["crashes"]
    assert crashes, "the old code crashes"
    for c in crashes:
        assert len(c["shortest"]) == c["steps"]
        assert crash_by(scenario_id, "old", c["shortest"]) == c["cpu"]  # that CPU crashes, at the last step
        assert crash_by(scenario_id, "old", c["shortest"][:-1]) is None
        assert c["kind"] in modelapi.MEMORY_ERRORS and c["file"] == "mm/zswap.c"
    # Shortest first: no violation group's crash is shorter than the first CPU's.
    shortest = min(len(g["shortest"]) for g in v["violations"] if g["kind"] in modelapi.MEMORY_ERRORS)
    assert crashes[0]["steps"] == shortest
    assert [(c["steps"], c["cpu"]) for c in crashes] == sorted((c["steps"], c["cpu"]) for c in crashes)
    if scenario_id == SEED:  # swapoff (CPU2) frees; only the writeback CPU touches the freed tree
        assert [c["cpu"] for c in crashes] == [1]
    else:  # two interchangeable shrinkers: both crash as soon; the tie goes to CPU1
        assert [c["cpu"] for c in crashes[:2]] == [1, 2] and crashes[0]["steps"] == crashes[1]["steps"]


def test_the_fixed_code_has_no_crash_from_the_start_nor_from_a_later_state():
    assert verdict(load_one(SEED), "new")["crashes"] == []
    assert verdict(load_one(SEED), "new", "1111")["crashes"] == []


def test_the_questions_answers_on_known_states():
    old = modelapi.verdict(SEED, "old")
    lanes = modelapi.shared_view(SEED, "old", "")["cpus"]
    q = questions.crash(SEED, "old", "", lanes, old)
    assert q.choices == ["CPU1", "CPU2", questions.NO_CRASH] and q.answer == 0  # the I/O lane is no choice
    assert "CPU1" in q.explain and "mm/zswap.c:883" in q.explain and "after 54 steps" in q.explain
    assert q.link == urls.scenario(SEED, "old", old["crashes"][0]["shortest"])
    new = modelapi.verdict(SEED, "new")
    q = questions.crash(SEED, "new", "", modelapi.shared_view(SEED, "new", "")["cpus"], new)
    assert q.answer == 2 and q.choices[q.answer] == questions.NO_CRASH and q.link is None
    assert questions.safe(SEED, "new", "fixed code", new).answer == 0  # Safe
    runs = new["complete_runs_text"]
    assert f"({runs} complete runs)" in questions.safe(SEED, "new", "fixed code", new).explain
    # Without a count of runs (a reduced search's) it names the states, never calls them runs.
    unknown = questions.safe(SEED, "new", "fixed code", dict(new, complete_runs_text=None)).explain
    assert f"({new['states']:,} states)" in unknown and "complete runs" not in unknown
    q = questions.safe(SEED, "old", "old code", old)
    assert q.answer == 1 and "use-after-free at mm/zswap.c:883" in q.explain and q.link
    # A search cut by its budget decides nothing: never "None", never "Safe".
    cut = dict(new, complete=False, stopped_reason="stopped at the state budget of 10 states")
    with pytest.raises(questions.Undecided):
        questions.crash(SEED, "new", "", lanes, cut)
    with pytest.raises(questions.Undecided):
        questions.safe(SEED, "new", "fixed code", cut)
    # ... but what a cut search found is real: not safe.
    assert questions.safe(SEED, "old", "old code", dict(old, complete=False, stopped_reason="cut")).answer == 1


def test_a_hang_or_a_leak_is_not_safe_and_never_called_a_crash():
    leak = modelapi.verdict("slot-reuse", "new-no-rotate")
    assert {v["kind"] for v in leak["violations"]} == {"leak"}
    q = questions.safe("slot-reuse", "new-no-rotate", "a variant", leak)
    assert q.answer == 1 and "though nothing crashes" in q.explain and "leak" in q.explain
    livelock = {"complete": True, "states": 9, "violations": [
        {"kind": "livelock", "step_id": None, "file": "", "line": None, "function": "", "detail": "CPU1 spins",
         "shortest": "1212"}]}
    q = questions.safe(SEED, "new", "a variant", livelock)
    assert q.answer == 1 and q.explain.startswith("Not safe, though nothing crashes: a livelock (the CPUs hang")


# ---- the stores ----------------------------------------------------------------------------------------

def test_asking_tells_everyone_and_a_room_holds_one_asked_question(make_store):  # noqa: F811
    async def go():
        s = make_store(rooms.Limits())
        c = await s.create(START_OLD, "10.0.0.1")
        audience = await s.join(c.code)  # an attendee hears of the question (no votes yet)
        crash, safe = rooms.ask_key(START_OLD, "crash"), rooms.ask_key(START_OLD, "safe")
        try:
            assert await s.asked(c.code) is None
            t = await s.ask(c.code, crash, 3, '{"q": 1}')
            assert t.body() == {"url": START_OLD, "answered": 0, "counts": [0, 0, 0], "revealed": False,
                                "answer": None, "ask": "crash"}
            kind, data = await asyncio.wait_for(audience.next(), 5)
            while kind != "poll":
                kind, data = await asyncio.wait_for(audience.next(), 5)
            assert json.loads(data)["ask"] == "crash" and json.loads(data)["answer"] is None
            assert await s.asked(c.code) == (crash, '{"q": 1}')
            await s.vote(c.code, crash, 3, "alice", 1)
            assert (await s.ask(c.code, crash, 3, '{"q": 1}')).answered == 1  # asked again: its votes stay
            await s.ask(c.code, safe, 2, '{"q": 2}')  # another question: the first one's votes go
            assert await s.asked(c.code) == (safe, '{"q": 2}')
            assert (await s.tally(c.code, crash, 3)).answered == 0
        finally:
            await s.leave(c.code, audience)
            await s.end(c.code)
            assert await s.asked(c.code) is None
            await s.close()
    run_async(go)


def test_back_at_the_asked_questions_state_everyone_hears_of_it_again(make_store):  # noqa: F811
    """The presenter asks, steps on, comes back: the audience gets the question again (its votes
    as they were); a step to another state sends nothing of it."""
    async def go():
        s = make_store(rooms.Limits())
        c = await s.create(START_OLD, "10.0.0.1")
        audience = await s.join(c.code)
        crash = rooms.ask_key(START_OLD, "crash")
        later, other = urls.scenario(SEED, "old", "1"), urls.scenario(SEED, "old", "2")

        async def heard() -> list[tuple[str, str]]:
            """What the attendee has received once nothing more comes for half a second."""
            got = []
            while True:
                try:
                    got.append(await asyncio.wait_for(audience.next(), 0.5))
                except asyncio.TimeoutError:
                    return [m for m in got if m[0] != "ping"]

        try:
            await s.ask(c.code, crash, 3, '{"q": 1}')
            await s.vote(c.code, crash, 3, "alice", 2)
            await heard()
            await s.publish(c.code, later)
            assert await heard() == [("state", later)]
            await s.publish(c.code, other)  # elsewhere: nothing of the question
            assert await heard() == [("state", other)]
            await s.publish(c.code, START_OLD)  # back
            got = await heard()
            assert got[0] == ("state", START_OLD) and [k for k, _ in got] == ["state", "poll"]
            t = json.loads(got[1][1])
            assert t["ask"] == "crash" and t["url"] == START_OLD
            assert t["answered"] == 1 and t["counts"] == [0, 0, 1] and t["answer"] is None
        finally:
            await s.leave(c.code, audience)
            await s.end(c.code)
            await s.close()
    run_async(go)


# ---- the JSON API ----------------------------------------------------------------------------------------

def ask(client, room: dict, question, url: str | None = None, token: str | None = None):
    body = {"question": question, **({"url": url} if url else {})}
    return client.post(urls.api_room_ask(room["code"]), json=body, headers=auth(token or room["token"]))


def test_ask_vote_and_reveal_which_cpu_crashes_first(fresh):  # noqa: F811
    from app.web.http import limits

    fresh.app.state.room_votes = limits.Allowance(100, 0.001)
    room = open_room(fresh, START_OLD)
    code = room["code"]
    r = ask(fresh, room, "crash", START_OLD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["ask"], body["question"], body["url"]) == ("crash", "Which CPU crashes first?", START_OLD)
    assert body["choices"] == ["CPU1", "CPU2", questions.NO_CRASH] and body["answer"] is None
    # Nothing of the answer before the reveal: not in the poll, not in a vote's answer.
    for r in (fresh.get(urls.api_room_poll(code)), vote(fresh, code, "attendee-1", 1, START_OLD)):
        assert r.status_code == 200 and r.json()["answer"] is None and r.json()["revealed"] is False
        assert "explain" not in r.json() and "link" not in r.json()
        assert "zswap.c" not in r.text and "Shortest" not in r.text and "t=1" not in r.text
    assert error(vote(fresh, code, "attendee-1", 3)) == (400, "bad-choice")  # 3 choices: 0-2
    assert vote(fresh, code, "attendee-1", 0).json()["counts"] == [1, 0, 0]  # changed, not added
    assert vote(fresh, code, "attendee-2", 2).json()["answered"] == 2
    r = fresh.post(urls.api_room_reveal(code), headers=auth(room["token"]))
    assert r.status_code == 200 and r.json()["revealed"] and r.json()["answer"] == 0
    assert r.json()["explain"].startswith("Shortest crash from here: CPU1, use-after-free at mm/zswap.c:883")
    link = r.json()["link"]
    assert fresh.get(link).status_code == 200 and "KASAN" in fresh.get(link).text  # the schedule, crashed
    assert fresh.get(urls.api_room_poll(code)).json()["explain"] == r.json()["explain"]
    assert error(vote(fresh, code, "attendee-3", 0)) == (409, "poll-revealed")
    # The presenter steps on: the question stays with its state.
    on = urls.scenario(SEED, "old", "1")
    assert fresh.post(urls.api_room_state(code), json={"url": on}, headers=auth(room["token"])).status_code == 200
    assert error(vote(fresh, code, "attendee-1", 0, START_OLD)) == (409, "poll-moved")
    assert error(vote(fresh, code, "attendee-1", 0)) == (409, "no-poll")
    # Asked from there, the explorer searches from there.
    r = ask(fresh, room, "crash")
    assert r.status_code == 200 and r.json()["url"] == on and r.json()["answered"] == 0


def test_safe_or_not_on_the_fixed_code(fresh):  # noqa: F811
    room = open_room(fresh, urls.scenario(SEED, "new", "11"))
    r = ask(fresh, room, "safe")
    assert r.status_code == 200 and r.json()["choices"] == questions.SAFE_CHOICES
    vote(fresh, room["code"], "attendee-1", 1)
    r = fresh.post(urls.api_room_reveal(room["code"]), headers=auth(room["token"]))
    assert r.json()["answer"] == 0 and r.json()["explain"].startswith("Safe: the explorer ran every interleaving")
    assert r.json()["counts"] == [0, 1]


def test_every_ask_error_is_named(fresh, monkeypatch):  # noqa: F811
    room = open_room(fresh, START_OLD)
    assert error(ask(fresh, room, "which")) == (400, "bad-question")
    assert error(ask(fresh, room, 3)) == (400, "bad-request")
    r = fresh.post(urls.api_room_ask(room["code"]), content=b"{nope", headers=auth(room["token"]))
    assert error(r) == (400, "bad-request")
    assert error(fresh.post(urls.api_room_ask(room["code"]), json={"question": "crash"})) == (401, "missing-token")
    assert error(ask(fresh, room, "crash", token=room["code"])) == (403, "bad-token")
    assert error(ask(fresh, room, "crash", urls.scenario(SEED, "old", "1"))) == (409, "poll-moved")
    other = "ABCDEF" if room["code"] != "ABCDEF" else "ABCDEG"
    assert error(ask(fresh, dict(room, code=other), "crash")) == (404, "unknown-room")
    # A tour's predict stop already asks the room's question.
    stop = open_room(fresh, STOP)
    assert error(ask(fresh, stop, "crash")) == (409, "poll-exists")
    # A search cut by its state budget cannot say which CPU crashes first, nor that none does.
    from app.web.http import searches

    monkeypatch.setattr(searches, "MAX_STATES", 20)
    # Not from the disk's store either, where an earlier test may have kept this state's complete verdict.
    monkeypatch.setattr(modelapi.api, "stored_verdict", lambda *args, **kwargs: None)
    t = "12"
    cut = open_room(fresh, urls.scenario(SEED, "old", t))
    try:
        r = ask(fresh, cut, "crash")
        assert error(r) == (409, "undecided") and "state budget of 20 states" in r.json()["message"]
        assert error(fresh.get(urls.api_room_poll(cut["code"]))) == (409, "no-poll")  # nothing was asked
    finally:
        modelapi._here.pop((SEED, "old", t), None)  # the cut verdict (cached as deterministic) goes
