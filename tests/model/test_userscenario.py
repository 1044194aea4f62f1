"""A user's scenario in a link (app/model/scenarios/userscenario.py): the link round-trips, decoding is
bounded, errors land on their lines, and the limits keep it no costlier than a shipped scenario."""
from __future__ import annotations

import zlib

import pytest

from app.model import api
from app.model.scenarios import userscenario as u
from app.model.scenarios.loader import SCENARIO_DIR, load_all

SEED = "lru-writeback-vs-swapoff"


def test_every_shipped_scenario_fits_in_a_link_and_round_trips():
    for sid in load_all():
        text = (SCENARIO_DIR / f"{sid}.toml").read_text()
        user = u.scenario_id(text)
        assert len(user) - 2 <= u.MAX_LINK and u.decode(user[2:]) == text
        s = api.scenario(user)
        assert s.id == user and s.cpus == load_all()[sid].cpus and s.tours == load_all()[sid].tours


def test_a_user_scenario_replays_like_the_shipped_one():
    user = u.scenario_id((SCENARIO_DIR / f"{SEED}.toml").read_text())
    t = next(x.schedule for x in load_all()[SEED].tours if x.name == "uaf-a")
    assert api.build_view(user, "old", t)["violations"] == api.build_view(SEED, "old", t)["violations"]


def test_decoding_never_inflates_past_the_bound():
    bomb = u.PREFIX + __import__("base64").urlsafe_b64encode(zlib.compress(b"a" * 5_000_000, 9)).decode().rstrip("=")
    assert len(bomb) < u.MAX_LINK
    with pytest.raises(u.UserScenarioError) as info:
        api.scenario(bomb)
    assert info.value.error == "scenario-too-large"


def test_key_lines_follow_array_tables():
    text = (SCENARIO_DIR / f"{SEED}.toml").read_text()
    lines = u.key_lines(text)
    numbered = text.splitlines()
    assert numbered[lines[("cpus", 1, "actor")] - 1] == 'actor = "swapoff"'
    assert numbered[lines[("tours", 1, "segments", 0, "cpus")] - 1] == 'cpus = "111"'
    assert numbered[lines[("tours", 1)] - 1] == "[[tours]]" and lines[("tours", 1)] > lines[("tours", 0)]
    assert u.line_of(lines, ("world", "slots", 0, "offset")) == lines[("world", "slots")]
    assert numbered[lines[("challenges", 2, "goal")] - 1].startswith("goal = { kind = \"blocked\"")


def test_the_limits_name_the_field_and_its_line():
    text = (SCENARIO_DIR / "slot-reuse-same-address.toml").read_text()
    assert len(load_all()["three-shrinkers-vs-swapoff"].cpus) == u.USER_LIMITS["cpus"]  # the largest shipped
    more = text.replace('slots = [{ offset = 3, owner = "A" }]',
                        'slots = [{ offset = 3, owner = "A" }, { offset = 4, owner = "X" }, { offset = 5, owner = "Y" }]')
    with pytest.raises(u.UserScenarioError) as info:
        u.check(more)
    ((line, message),) = info.value.problems
    assert message == "world.slots: 3 slots; a scenario in a link may have at most 2"
    assert more.splitlines()[line - 1].startswith("slots = ")
