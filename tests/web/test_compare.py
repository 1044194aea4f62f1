"""The compare page (app/web/routes/compare.py): both runs, the parting step marked, the differences,
stepping together and apart, and every bad side a named 4xx."""
from __future__ import annotations

import html
import re

import pytest

from app.web import modelapi, urls

SEED = "lru-writeback-vs-swapoff"


def test_old_and_new_side_by_side_mark_where_they_part(client, uaf, href):
    r = client.get(urls.compare(SEED, "old", uaf, "new", uaf))
    assert r.status_code == 200
    page = r.text
    assert 'data-parting="4"' in page and "The runs part at step 5." in page
    assert '<tr id="row-4" class="first-diff">' in page and '<tr id="row-3" class="">' in page
    assert '<tr id="row-5" class="parted">' in page
    assert "swpoffset = swp_offset(entry-&gt;swpentry);" in page and "list_move_tail(item, &amp;l-&gt;list);" in page
    assert href(page, "to-parting") == urls.compare(SEED, "old", uaf[:5], "new", uaf[:5])
    side_a = page[page.index('id="side-a"'):page.index('id="side-b"')]
    side_b = page[page.index('id="side-b"'):page.index('id="steps"')]
    assert "use-after-free" in side_a and "What differs from B" in side_a
    assert "<code class=\"mine\">use-after-free in shrink_memcg_cb b:883</code>" in side_a
    assert "<code class=\"mine\">none</code>" in side_b and "(A: use-after-free in shrink_memcg_cb b:883)" in side_b
    assert href(page, "open-a") == urls.scenario(SEED, "old", uaf)
    assert href(page, "swap-sides") == urls.compare(SEED, "new", uaf, "old", uaf)


def test_both_sides_step_together_or_apart(client, uaf, href):
    t = uaf[:10]
    page = client.get(urls.compare(SEED, "old", t, "new", t)).text
    assert href(page, "both-1") == urls.compare(SEED, "old", t + "1", "new", t + "1")
    assert href(page, "both-2") == urls.compare(SEED, "old", t + "2", "new", t + "2")
    assert 'id="both-1" href' in page and 'data-hotkey="1"' in page
    assert href(page, "a-step-2") == urls.compare(SEED, "old", t + "2", "new", t)
    assert href(page, "b-step-1") == urls.compare(SEED, "old", t, "new", t + "1")
    assert href(page, "back-both") == urls.compare(SEED, "old", t[:-1], "new", t[:-1])
    assert href(page, "a-back") == urls.compare(SEED, "old", t[:-1], "new", t)
    crashed = client.get(urls.compare(SEED, "old", uaf, "new", uaf)).text
    assert 'id="both-1" disabled' in crashed and href(crashed, "b-step-1") is not None  # CPU1 crashed in A only


def test_the_same_run_says_so(client, uaf):
    page = client.get(urls.compare(SEED, "old", uaf[:20], "old", uaf[:20])).text
    assert "The same run:" in page and 'data-parting=""' in page and 'id="no-diff-a"' in page
    assert "first-diff" not in page


def test_the_defaults_are_both_codes_from_the_start(client):
    page = client.get(f"/compare/{SEED}").text
    assert "old code (before the fix)" in page and "fixed code (5878303c5353)" in page
    assert "No step taken yet on either side." in page


def test_the_scenario_page_links_to_the_fixed_code_for_its_schedule(client, uaf, href):
    page = client.get(urls.scenario(SEED, "old", uaf)).text
    assert href(page, "compare-link") == urls.compare(SEED, "old", uaf, "new", uaf)
    assert ">Compare with the fixed code</a>" in page
    fixed = client.get(urls.scenario(SEED, "new", uaf[:12])).text
    assert href(fixed, "compare-link") == urls.compare(SEED, "new", uaf[:12], "old", uaf[:12])
    assert ">Compare with the old code</a>" in fixed


def test_a_schedule_the_other_code_cannot_replay_is_cut_where_it_stops(client, href):
    s = next(t for t in modelapi.scenario(SEED)["tours"] if t["name"] == "fixed-swapoff-sleeps")["schedule"]
    err = modelapi.validate(SEED, "old", s)
    assert err is not None  # the fixed code's tour does not replay on the old code
    page = client.get(urls.scenario(SEED, "new", s)).text
    assert href(page, "compare-link") == urls.compare(SEED, "new", s, "old", err.valid_prefix)
    assert client.get(href(page, "compare-link")).status_code == 200


@pytest.mark.parametrize("query,status,text", [
    ("a=old", 400, "`a` must be CODE:SCHEDULE"),
    ("b=:12", 400, "`b` must be CODE:SCHEDULE"),
    ("a=nope:1", 400, "Side A (nope): Unknown code"),
    ("b=zz:", 400, "Side B (zz): Unknown code"),
    ("a=old:11x", 422, "Side A (old): Step 3 of the schedule is impossible"),
    ("b=new:" + "1" * 600, 422, "Side B (new): Step"),
    ("a=old:9", 422, "there is no CPU9"),
])
def test_every_bad_side_is_a_named_4xx(client, query, status, text):
    r = client.get(f"/compare/{SEED}?{query}")
    assert r.status_code == status and html.unescape(r.text).count(text) >= 1, r.text[:300]
    assert "Traceback" not in r.text


def test_a_bad_side_links_to_a_compare_that_works(client):
    r = client.get(f"/compare/{SEED}?a=old:11x&b=new:1")
    link = html.unescape(re.search(r'<li><a href="([^"]*)">side A cut', r.text).group(1))
    assert link == urls.compare(SEED, "old", "11", "new", "1") and client.get(link).status_code == 200
    r = client.get(f"/compare/{SEED}?a=old:1&b=nope:1")
    assert f'href="{html.escape(urls.compare(SEED, "old", "1", "new", "1"))}"' in r.text


def test_an_unknown_scenario_is_a_404(client):
    r = client.get("/compare/no-such?a=old:&b=new:")
    assert r.status_code == 404 and "no-such" in r.text


def test_url_builder():
    assert urls.compare(SEED, "old", "12", "new", "") == f"/compare/{SEED}?a=old:12&b=new:"
