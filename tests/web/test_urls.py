"""The one URL builder writes query strings exactly as urllib's urlencode would (its fast path for
plain values must not change a single link)."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from hypothesis import given, strategies as st

from app.web import urls

values = st.one_of(st.none(), st.text(max_size=12), st.text("0123456789", max_size=40))


@given(code=values, t=values, tour=values)
def test_query_strings_match_urlencode(code, t, tour):
    kept = {k: v for k, v in (("code", code), ("t", t), ("tour", tour)) if v not in (None, "")}
    expected = ("?" + urlencode(kept)) if kept else ""
    assert urls._q(code=code, t=t, tour=tour) == expected


@given(t=st.text("0123456789", max_size=60), tour=values)
def test_a_scenario_url_reads_back_as_its_state(t, tour):
    u = urlsplit(urls.scenario("lru-writeback-vs-swapoff", "new", t, tour))
    assert u.path == "/s/lru-writeback-vs-swapoff"
    expected = [("code", "new")] + ([("t", t)] if t else []) + ([("tour", tour)] if tour else [])
    assert parse_qsl(u.query) == expected
