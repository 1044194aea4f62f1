"""A verdict's violation groups carry their story on every surface (issue 22): the JSON API, the
verdict pane and diagram.txt (story by default, `detail=full` for the step-level diagram)."""
from __future__ import annotations

import html

from app.web import urls

SEED = "lru-writeback-vs-swapoff"
UAF_A = "1111111122222222222222222222222222222222222222222222221"


def test_api_check_groups_carry_their_story(client):
    r = client.get(f"/api/s/{SEED}/check", params={"code": "old"})
    assert r.status_code == 200
    groups = r.json()["violations"]
    assert groups and all(g["story"] and "// UAF" in g["story"]["text"] for g in groups)
    first = next(g for g in groups if g["line_label"] == "b:883")
    assert first["story"]["end"] == len(first["shortest"]) - 1
    assert "kvfree(trees)" in first["story"]["text"] and first["story"]["kind"] == "use-after-free"
    assert client.get(f"/api/s/{SEED}/check", params={"code": "new"}).json()["violations"] == []


def test_verdict_pane_shows_each_groups_story(client):
    r = client.get(urls.verdict(SEED, "old"))
    assert r.status_code == 200
    page = html.unescape(r.text)
    assert page.count('class="story-text"') >= 4
    assert "spin_lock(&tree->lock)" in page and "  list_lru_isolate" in page


def test_diagram_txt_is_the_story_and_detail_full_the_steps(client):
    story = client.get(f"/s/{SEED}/diagram.txt", params={"code": "old", "t": UAF_A})
    full = client.get(f"/s/{SEED}/diagram.txt", params={"code": "old", "t": UAF_A, "detail": "full"})
    assert story.status_code == full.status_code == 200
    assert len(story.text.splitlines()) <= 12 and story.text.startswith("use-after-free of trees")
    assert len(full.text.splitlines()) > 40 and "swap_range_free()" in full.text
    bad = client.get(f"/s/{SEED}/diagram.txt", params={"code": "old", "t": UAF_A, "detail": "everything"})
    assert bad.status_code == 400 and "detail" in bad.text  # a clear 4xx that names the parameter


def test_a_rows_story_mark_is_its_own_not_a_cached_row_of_another_page(client):
    """Step 6 (CPU1 caches `tree`) is a plain row before the crash and the story's pointer row at
    it: the row cache must not hand one page's row to the other."""
    before = client.get(urls.scenario(SEED, "old", UAF_A[:30]))
    crash = client.get(urls.scenario(SEED, "old", UAF_A))
    again = client.get(urls.scenario(SEED, "old", UAF_A[:30]))
    assert "story-cache" in crash.text
    assert "story-cache" not in before.text and "story-cache" not in again.text
