"""Trace files in real Chromium: download one at the use-after-free from the scenario page, open
it from the index by upload, and land on the same state; a pasted edited file names its step."""
from __future__ import annotations

import json

import pytest

from app.web import modelapi, urls
from tests.web.clicks import click_settled

pytestmark = pytest.mark.browser

SEED = "lru-writeback-vs-swapoff"


def uaf() -> str:
    return next(t["schedule"] for t in modelapi.scenario(SEED)["tours"] if t["name"] == "uaf-a")


def test_download_at_the_uaf_then_upload_on_the_index_lands_on_the_same_state(projector, server_url, tmp_path):
    page, t = projector, uaf()
    page.goto(server_url + urls.scenario(SEED, "old", t))
    with page.expect_download() as got:
        click_settled(page, "#download-trace")
    path = tmp_path / "trace.json"
    got.value.save_as(path)
    assert got.value.suggested_filename == f"trace-{SEED}-old-{len(t)}steps.json"
    assert json.loads(path.read_text())["schedule"] == t
    with page.expect_download() as kasan:
        click_settled(page, "#download-kasan")
    assert kasan.value.suggested_filename.endswith(".txt")

    page.goto(server_url + urls.index())
    page.set_input_files("#trace-file", str(path))
    page.click("#open-trace-button")
    page.wait_for_url("**/s/**")
    assert page.url == server_url + urls.scenario(SEED, "old", t)
    assert page.get_attribute("#state", "data-steps") == str(len(t))
    assert "BUG: KASAN: slab-use-after-free" in page.inner_text(".kasan")


def test_a_pasted_edited_trace_names_the_first_step_that_differs(projector, server_url, client):
    page, t = projector, uaf()
    data = json.loads(client.get(urls.trace_json(SEED, "old", t)).text)
    data["steps"][9]["kernel_line"] = "spin_lock(&tree->lock); /* edited */"
    page.goto(server_url + urls.index())
    page.fill("#trace-text", json.dumps(data))
    page.click("#open-trace-button")
    heading = page.locator(".error h1")
    heading.wait_for()
    assert "422" in heading.inner_text() and "Step 10 (CPU2) differs from the model: its kernel_line" in heading.inner_text()
    page.click(f"text=the model's state before step 10 of the file")
    page.wait_for_url("**/s/**")
    assert page.get_attribute("#state", "data-steps") == "9"
