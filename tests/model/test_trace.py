"""Trace files (app/model/trace.py): what a file holds, and that reading one back checks every
part of it against the model, naming the first step that differs."""
from __future__ import annotations

import json

import pytest

from app.model import api, trace

SEED = "lru-writeback-vs-swapoff"


def tour(name: str) -> str:
    return next(t["schedule"] for s in api.list_scenarios() if s["id"] == SEED
                for t in s["tours"] if t["name"] == name)


@pytest.fixture(scope="module")
def uaf() -> str:
    return tour("uaf-a")


@pytest.fixture(scope="module")
def uaf_trace(uaf) -> dict:
    return json.loads(trace.trace_text(api.build_view(SEED, "old", uaf)))


def refused(data, error: str) -> trace.TraceError:
    text = data if isinstance(data, (str, bytes)) else json.dumps(data)
    with pytest.raises(trace.TraceError) as info:
        trace.read(text)
    assert info.value.error == error, info.value.message
    return info.value


def test_a_trace_holds_the_run_and_reads_back_as_its_state(uaf, uaf_trace):
    view = api.build_view(SEED, "old", uaf)
    assert uaf_trace["format"] == "zswap-race-trace" and uaf_trace["schema_version"] == trace.SCHEMA_VERSION
    assert (uaf_trace["scenario"], uaf_trace["code"], uaf_trace["schedule"]) == (SEED, "old", uaf)
    assert len(uaf_trace["steps"]) == len(uaf)
    first = uaf_trace["steps"][0]
    assert set(first) == {"index", "cpu", "step_id", "function", "file", "line", "line_label", "kernel_line",
                          "narration"}
    assert first["kernel_line"] == view["events"][0]["text"] == "spin_lock(&nlru->lock);"
    assert [s["cpu"] for s in uaf_trace["steps"]] == [int(c) for c in uaf]
    (uaf_v,) = uaf_trace["violations"]
    assert uaf_v["kind"] == "use-after-free" and uaf_v["line_label"] == "b:883"
    assert "BUG: KASAN: slab-use-after-free" in uaf_v["report"]
    assert trace.read(json.dumps(uaf_trace)) == trace.TraceTarget(SEED, "old", uaf)


def test_the_kasan_text_is_the_memory_error_report_and_only_that(uaf):
    text = trace.kasan_text(api.build_view(SEED, "old", uaf))
    assert text is not None and text.startswith("=" * 66 + "\nBUG: KASAN: slab-use-after-free in ")
    assert "\nBUG: KASAN: slab-use-after-free in _raw_spin_lock+0x?/0x? kernel/locking/spinlock.c:154\n" in text
    assert " shrink_memcg_cb+0x?/0x? mm/zswap.c:883\n" in text and "Freed by task" in text
    assert trace.kasan_text(api.build_view(SEED, "old", uaf[:-1])) is None  # one step before the access
    fixed = tour("fixed-swapoff-sleeps")
    assert trace.kasan_text(api.build_view(SEED, "new", fixed)) is None


def test_every_edited_step_field_is_named_with_the_step(uaf_trace):
    for i, key in ((0, "narration"), (7, "kernel_line"), (30, "line_label"), (54, "function"), (12, "step_id")):
        data = json.loads(json.dumps(uaf_trace))
        data["steps"][i][key] = data["steps"][i][key] + "x"
        err = refused(data, "trace-mismatch")
        assert (err.position, err.field) == (i, key)
        assert err.message.startswith(f"Step {i + 1} (CPU{uaf_trace['schedule'][i]}) differs from the model")
        assert err.target == trace.TraceTarget(SEED, "old", uaf_trace["schedule"])


def test_a_missing_or_extra_step_or_violation_is_named(uaf_trace):
    short = dict(uaf_trace, steps=uaf_trace["steps"][:-3])
    err = refused(short, "trace-mismatch")
    assert err.position == len(uaf_trace["steps"]) - 3 and "lists 52 steps, its schedule has 55" in err.message
    none = dict(uaf_trace, violations=[])
    assert "lists 0 violations; the model finds 1" in refused(none, "trace-mismatch").message
    edited = json.loads(json.dumps(uaf_trace))
    edited["violations"][0]["report"] = edited["violations"][0]["report"].replace("883", "884")
    err = refused(edited, "trace-mismatch")
    assert err.field == "violations[0].report" and err.position == 54 and "Violation 1 (use-after-free)" in err.message


def test_a_schedule_that_does_not_replay_names_its_position(uaf_trace):
    data = dict(uaf_trace, schedule=uaf_trace["schedule"] + "2")
    err = refused(data, "trace-bad-schedule")
    assert err.position == 55 and "step 56 is impossible" in err.message and "CPU2 has finished" in err.message
    assert err.target == trace.TraceTarget(SEED, "old", uaf_trace["schedule"])


def test_a_trace_of_another_scenario_or_code_is_refused(uaf_trace):
    assert "'no-such'" in refused(dict(uaf_trace, scenario="no-such"), "trace-unknown-scenario").message
    assert "'older'" in refused(dict(uaf_trace, code="older"), "trace-unknown-code").message
    # A real scenario with this file's steps: its first step is not this file's first step.
    other = refused(dict(uaf_trace, scenario="two-shrinkers"), "trace-bad-schedule")
    assert other.position is not None
    err = refused(dict(uaf_trace, code="new"), "trace-mismatch")
    assert err.position is not None and err.message.startswith(f"Step {err.position + 1} ")


@pytest.mark.parametrize("text,error", [
    ("", "trace-empty"), ("   \n", "trace-empty"), ("{", "trace-not-json"), (b"\xff\xfe{}", "trace-not-json"),
    ("[1, 2]", "trace-not-a-trace"), ('{"format": "svg"}', "trace-not-a-trace"),
    ("[" * 100_000, "trace-not-json"), ("x" * (trace.MAX_TRACE_BYTES + 1), "trace-too-large"),
])
def test_what_is_not_a_trace_file_is_named(text, error):
    refused(text, error)


def test_the_schema_version_and_every_field_type_are_checked(uaf_trace):
    err = refused(dict(uaf_trace, schema_version=2), "trace-version")
    assert "version 2" in err.message and "reads version 1" in err.message
    refused(dict(uaf_trace, schema_version="1"), "trace-version")
    bad = json.loads(json.dumps(uaf_trace))
    bad["steps"][3]["cpu"] = "1"
    assert refused(bad, "trace-field").field == "steps[3].cpu"
    assert refused(dict(uaf_trace, extra=1), "trace-field").field == "extra"
    no_steps = {k: v for k, v in uaf_trace.items() if k != "steps"}
    assert refused(no_steps, "trace-field").field == "steps"
    assert refused(dict(uaf_trace, schedule="1" * 501), "trace-field").field == "schedule"
