"""Property and schema fuzzing of the web layer: no input ever produces a 500."""
from __future__ import annotations

import schemathesis
from schemathesis.checks import CHECKS, load_all_checks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.web import urls
from app.web.app import create_app

SEED = "lru-writeback-vs-swapoff"

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
load_all_checks()


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_schema(case):
    """Every route with every check schemathesis has: declared status codes (503 included),
    content types, response headers and schemas; never a server error."""
    # A trace file is valid only when it matches the model step by step, which no schema can
    # say: every generated body is rightly refused there (tests/web/test_traces.py covers it).
    excluded = ([c for c in CHECKS.get_all() if c.__name__ == "positive_data_acceptance"]
                if case.path == urls.api_open_trace() else [])
    case.call_and_validate(checks=CHECKS.get_all(), excluded_checks=excluded)


schedules = st.text(alphabet="0123456789x<>&\"' %", max_size=40)


@given(t=schedules, code=st.sampled_from(["old", "new", "", "<b>", "OLD"]))
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_schedule_is_a_page_or_a_4xx_that_names_the_position(client, t, code):
    page = client.get(urls.scenario(SEED, code, t))
    assert page.status_code in (200, 400, 422), (t, code, page.status_code)
    j = client.get(urls.api_scenario(SEED, code, t))
    assert j.status_code == page.status_code
    if j.status_code == 422:
        body = j.json()
        assert t.startswith(body["valid_prefix"]) and body["position"] == len(body["valid_prefix"])
        assert client.get(body["valid_prefix_url"]).status_code == 200
    if j.status_code == 200:
        assert j.json()["schedule"] == t
