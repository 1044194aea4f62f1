"""Tours' "predict" stops: before a marked step the page asks what will happen, each choice is a
URL (`pick=`), and the answer is revealed once one is picked; a stray `pick` is a named 400."""
from __future__ import annotations

import re

import pytest

from app.model.scenarios.scenario import ScenarioFileError, parse_scenario
from app.model.scenarios.loader import SCENARIO_DIR
from app.web import modelapi, urls

SEED = "lru-writeback-vs-swapoff"


def predict_box(page: str) -> str:
    m = re.search(r'<div class="predict.*?</div>', page, re.S)
    assert m, "no predict box"
    return m.group(0)


def test_the_question_comes_before_the_marked_step(client, uaf, href):
    t = uaf[:-1]
    page = client.get(urls.scenario(SEED, "old", t, "uaf-a")).text
    box = predict_box(page)
    assert "What happens?" in box and box.count('class="btn choice"') == 3
    assert href(page, "pick-2") == urls.scenario(SEED, "old", t, "uaf-a", pick=2)
    assert 'data-hotkey="a"' in box and 'data-hotkey="c"' in box
    assert href(page, "tour-next") == urls.scenario(SEED, "old", uaf, "uaf-a")  # → still goes on
    assert "KASAN reports" in box and "✔" not in box  # the answer is not given away
    earlier = client.get(urls.scenario(SEED, "old", uaf[:-2], "uaf-a")).text
    assert 'class="predict' not in earlier and 'id="tour-next"' in earlier
    off_tour = client.get(urls.scenario(SEED, "old", t)).text
    assert 'class="predict' not in off_tour


def test_a_pick_reveals_the_answer_then_next_goes_on(client, uaf, href):
    t = uaf[:-1]
    wrong = client.get(urls.scenario(SEED, "old", t, "uaf-a", pick=0)).text
    box = predict_box(wrong)
    assert "answered wrong" in box and "✖ your choice" in box and "✔ what happens" in box
    assert re.search(r'KASAN reports a use-after-free: swapoff freed the trees array <strong class="mark">✔', box)
    assert href(wrong, "tour-next") == urls.scenario(SEED, "old", uaf, "uaf-a")
    right = predict_box(client.get(urls.scenario(SEED, "old", t, "uaf-a", pick=2)).text)
    assert "answered right" in right and "✔ Right." in right and "your choice" not in right


@pytest.mark.parametrize("query,text", [
    ("pick=3", "`pick` must be 0-2"),
    ("pick=9", "`pick` must be 0-2"),
])
def test_a_pick_out_of_range_is_a_named_400(client, uaf, query, text):
    r = client.get(urls.scenario(SEED, "old", uaf[:-1], "uaf-a") + "&" + query)
    assert r.status_code == 400 and text in r.text


def test_a_pick_where_no_question_is_asked_is_a_named_400(client, uaf):
    for url in (urls.scenario(SEED, "old", uaf[:5], "uaf-a", pick=0), urls.scenario(SEED, "old", uaf[:-1], pick=0)):
        r = client.get(url)
        assert r.status_code == 400 and "asks none" in r.text
    assert client.get(urls.scenario(SEED, "old", uaf[:-1], "uaf-a") + "&pick=-1").status_code == 400
    assert client.get(urls.scenario(SEED, "old", uaf[:-1], "uaf-a") + "&pick=x").status_code == 400


def test_the_api_lists_the_stops():
    tour = next(t for t in modelapi.scenario(SEED)["tours"] if t["name"] == "uaf-a")
    (stop,) = tour["predict"]
    assert stop["step"] == len(tour["schedule"]) - 1 and stop["answer"] == 2 and len(stop["choices"]) == 3


SEED_TEXT = (SCENARIO_DIR / f"{SEED}.toml").read_text()
CHOICES = 'choices = ["It takes the lock: the tree is still there", "It waits: swapoff still holds tree->lock", ' \
          '"KASAN reports a use-after-free: swapoff freed the trees array"]\nanswer = 2'


@pytest.mark.parametrize("stop,where", [
    (CHOICES.replace("answer = 2", "answer = 3"), "predict: Value error, answer: 3 is not the index of a choice (0-2)"),
    (CHOICES.replace("answer = 2", "answer = 7"), "predict.answer: Input should be less than 5"),
    ('choices = ["only one"]\nanswer = 0', "predict.choices: List should have at least 2 items"),
    (CHOICES + '\nhint = "x"', "predict.hint: Extra inputs are not permitted"),
])
def test_a_bad_predict_stop_is_refused_naming_its_field(stop, where):
    assert CHOICES in SEED_TEXT
    with pytest.raises(ScenarioFileError) as info:
        parse_scenario(SEED_TEXT.replace(CHOICES, stop), "bad.toml")
    assert str(info.value).startswith("bad.toml: tours.0.segments.14.") and where in str(info.value), str(info.value)


@pytest.mark.browser
def test_a_room_answers_with_a_key_then_watches_it_happen(projector, server_url, uaf):
    page = projector
    page.goto(server_url + urls.scenario(SEED, "old", uaf[:-1], "uaf-a"))
    page.wait_for_function("() => document.querySelector('#pick-2')?.dataset.htmxPowered === 'true'")
    page.keyboard.press("c")
    page.wait_for_selector("#predict-result")
    assert "✔ Right." in page.inner_text("#predict-result")
    box = page.locator("#predict").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 720
    page.wait_for_function("() => document.querySelector('#tour-next')?.dataset.htmxPowered === 'true'")
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#crash-banner")
    assert page.get_attribute("#state", "data-steps") == str(len(uaf))
