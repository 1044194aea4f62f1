"""The embed (app/web/routes/embeds.py): a read-only stage that only other sites' frames may show, with
← / → inside its range; every bad parameter a named 4xx; the Embed menu's snippet."""
from __future__ import annotations

import html
import re

import pytest

from app.web import modelapi, urls

SEED = "lru-writeback-vs-swapoff"


def test_only_the_embed_may_be_framed(client, uaf):
    embed = client.get(urls.embed(SEED, "old", uaf, 50))
    assert embed.status_code == 200
    csp = embed.headers["content-security-policy"]
    assert "frame-ancestors *" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "x-frame-options" not in embed.headers
    for path in (urls.index(), urls.scenario(SEED, "old", uaf), urls.lanes_svg(SEED, "old", uaf),
                 urls.trace_json(SEED, "old", uaf), "/embedded", "/s/embed", "/no-such-page"):
        r = client.get(path)
        assert r.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
    bad = client.get(urls.embed(SEED, "old", "11x"))  # an embed's own error page shows in the frame
    assert bad.status_code == 422 and "frame-ancestors *" in bad.headers["content-security-policy"]


def test_the_embed_is_the_stage_without_chrome_or_step_controls(client, uaf, href):
    page = client.get(urls.embed(SEED, "old", uaf, 50)).text
    assert 'id="stage"' in page and 'id="cpu1"' in page and 'id="pane-lanes"' in page
    assert 'data-steps="55"' in page and "BUG: KASAN: slab-use-after-free" in page
    for absent in ('class="site"', 'id="step-1"', 'id="step-2"', 'id="step-3"', 'id="undo"', 'id="reset"',
                   "htmx-4", 'id="tours-menu"', 'id="pane-schedule"'):
        assert absent not in page, absent
    assert "GPL-2.0" in page  # the quoted kernel lines keep their attribution
    assert href(page, "embed-open") == urls.scenario(SEED, "old", uaf)


def test_left_and_right_stay_between_from_and_t(client, uaf, href):
    page = client.get(urls.embed(SEED, "old", uaf, 53)).text
    assert href(page, "embed-back") == urls.embed(SEED, "old", uaf, 53, 54)
    assert href(page, "embed-forward") is None and 'id="embed-forward" disabled' in page
    first = client.get(urls.embed(SEED, "old", uaf, 53, 53)).text
    assert 'data-steps="53"' in first and href(first, "embed-back") is None and 'id="embed-back" disabled' in first
    assert href(first, "embed-forward") == urls.embed(SEED, "old", uaf, 53, 54)
    assert 'data-hotkey="ArrowRight"' in first and 'data-hotkey="ArrowLeft"' not in first
    # A lane row inside the range stays in the embed; one before `from` opens the visualizer.
    rows = [html.unescape(h) for h in re.findall(r'class="lane-link" href="([^"]*)"', page)]
    assert rows[-1] == urls.embed(SEED, "old", uaf, 53) and rows[-2] == urls.embed(SEED, "old", uaf, 53, 54)
    assert rows[0].startswith("/s/" + SEED)


@pytest.mark.parametrize("query,status,text", [
    ("from=x", 400, "Invalid parameter: query.from"),
    ("from=56", 400, "`from` must be a step number from 0 to 55"),
    ("from=-1", 400, "it is -1."),
    ("from=10&at=9", 400, "`at` must be a step number from 10 to 55"),
    ("at=99", 400, "`at` must be a step number"),
    ("from=٣", 400, "Invalid parameter: query.from"),
])
def test_bad_from_or_at_is_a_named_400(client, uaf, query, status, text):
    r = client.get(urls.embed(SEED, "old", uaf) + "&" + query)
    assert r.status_code == status and text in r.text


def test_bad_scenario_code_or_schedule_is_the_usual_4xx(client):
    assert client.get(urls.embed("no-such", "old", "1")).status_code == 404
    assert client.get(urls.embed(SEED, "nope", "1")).status_code == 400
    r = client.get(urls.embed(SEED, "old", "12x"))
    assert r.status_code == 422 and "Step 3" in r.text


def test_the_scenario_page_offers_the_snippet(client, uaf):
    page = client.get(urls.scenario(SEED, "old", uaf)).text
    assert 'id="embed-button"' in page
    snippet = html.unescape(re.search(r'<textarea id="embed-snippet"[^>]*>([^<]*)</textarea>', page).group(1))
    assert snippet == f'<iframe src="{urls.embed(SEED, "old", uaf)}" width="1280" height="720" ' \
                      f'title="{modelapi.scenario(SEED)["title"]}" loading="lazy"></iframe>'


def test_url_builder():
    assert urls.embed(SEED, "old", "12", 0) == f"/embed/{SEED}?code=old&t=12"
    assert urls.embed(SEED, "new", "121", 1, 2) == f"/embed/{SEED}?code=new&t=121&from=1&at=2"
    assert urls.embed(SEED, "new", "121", 1, 3) == f"/embed/{SEED}?code=new&t=121&from=1"
