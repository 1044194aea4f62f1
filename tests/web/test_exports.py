"""The exports (app/web/routes/exports.py) through the TestClient, and the lane pane partial."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from app.model.views.diagram import WIDTH, commit_diagram
from app.web.page import context, render
from app.web import modelapi, urls

SEED = "lru-writeback-vs-swapoff"
SVG = "{http://www.w3.org/2000/svg}"
GENERIC_FAMILIES = ("monospace", "sans-serif", "serif")


def schedule(name: str) -> str:
    return next(t["schedule"] for t in modelapi.scenario(SEED)["tours"] if t["name"] == name)


@pytest.fixture(scope="module")
def uaf_a() -> str:
    return schedule("uaf-a")


def svg_of(client, t: str, code: str = "old") -> ET.Element:
    r = client.get(urls.lanes_svg(SEED, code, t))
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"].startswith("image/svg+xml")
    return ET.fromstring(r.content)


# -- lanes.svg ---------------------------------------------------------------------------------

def test_lanes_svg_is_a_standalone_svg_with_one_link_per_row(client, uaf_a):
    root = svg_of(client, uaf_a)
    assert root.tag == f"{SVG}svg" and root.get("viewBox") and int(root.get("width")) > 0
    title = root.find(f"{SVG}title")
    assert title is not None and "lane diagram" in title.text and "old code" in title.text
    rows = modelapi.build_view(SEED, "old", uaf_a)["lanes"]["rows"]
    links = list(root.iter(f"{SVG}a"))
    assert len(links) == len(rows) and len(rows) < len(uaf_a)
    for a, row in zip(links, rows):
        assert a.get("href") == urls.scenario(SEED, "old", uaf_a[: row["last"] + 1])
        text = " ".join("".join(t.itertext()) for t in a.iter(f"{SVG}text"))
        assert row["function"] in text
    texts = ["".join(a.itertext()) for a in links]
    assert "CPU1" in "".join(root.itertext()) and "CPU2" in "".join(root.itertext())
    assert "✖ use-after-free" in texts[-1] and "b:883" in texts[-1]
    assert "#ffd9d6" in [r.get("fill") for r in links[-1].iter(f"{SVG}rect")]  # the crash row is red
    kvfree = next(t for t in texts if "kvfree(trees)" in t)
    assert "✖ frees trees" in kvfree
    assert any("▽ nlru->lock" in t for t in texts)  # CPU1 drops the LRU lock: a row of the story
    # At the crash the rows fold around the story (issue 22): the stretches between its steps are
    # one row each, across every lane, and the SVG is a screen tall, not 1880 px.
    folds = [t for t in texts if "folded" in t]
    assert folds and any("steps 9–39, folded" in t for t in folds)
    assert int(root.get("height")) < 720


def test_lanes_svg_fonts_end_in_a_generic_family_and_it_names_its_file(client, uaf_a):
    r = client.get(urls.lanes_svg(SEED, "old", uaf_a))
    root = ET.fromstring(r.content)
    families = [el.get("font-family") for el in root.iter() if el.get("font-family")]
    assert families and all(f.split(",")[-1].strip() in GENERIC_FAMILIES for f in families)
    assert "<style" not in r.text and " style=" not in r.text  # the CSP allows no inline style
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("inline;") and f'filename="lanes-{SEED}-old-{len(uaf_a)}steps.svg"' in disposition


def test_lanes_svg_current_row_is_highlighted(client, uaf_a):
    t = uaf_a[:20]
    root = svg_of(client, t)
    last = list(root.iter(f"{SVG}a"))[-1]
    assert last.get("href") == urls.scenario(SEED, "old", t)
    assert "#fff1b8" in [r.get("fill") for r in last.iter(f"{SVG}rect")]
    assert "▶" in "".join(last.itertext())


def test_lanes_svg_before_the_first_step(client):
    root = svg_of(client, "")
    assert list(root.iter(f"{SVG}a")) == []
    assert "no step taken yet" in "".join(root.itertext())


# -- diagram.txt -------------------------------------------------------------------------------

def test_diagram_txt_is_the_commit_diagram(client, uaf_a):
    r = client.get(urls.diagram_txt(SEED, "old", uaf_a))
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text == commit_diagram(modelapi.build_view(SEED, "old", uaf_a))
    assert all(len(line) <= WIDTH for line in r.text.splitlines())
    assert r.text.index("kvfree(trees)") < r.text.rindex("spin_lock(&tree->lock)")


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("build", [urls.lanes_svg, urls.diagram_txt])
def test_bad_input_is_a_4xx_that_says_why(client, build):
    r = client.get(build("no-such-scenario", "old", ""))
    assert r.status_code == 404 and "no-such-scenario" in r.text
    r = client.get(build(SEED, "nope", "1"))
    assert r.status_code == 400 and "nope" in r.text
    r = client.get(build(SEED, "old", "11x"))
    assert r.status_code == 422
    assert "Step 3" in r.text and "not a CPU number" in r.text
    r = client.get(build(SEED, "old", "1" * 600))
    assert r.status_code == 422 and "Reason:" in r.text and "has finished" in r.text
    for r in (client.get(build(SEED, "old", "9")), client.get(build("x", "y", "z"))):
        assert r.status_code in (404, 422) and "Traceback" not in r.text and "Internal" not in r.text


def test_url_builders():
    assert urls.lanes_svg(SEED, "new", "12") == f"/s/{SEED}/lanes.svg?code=new&t=12"
    assert urls.diagram_txt(SEED, "old", "") == f"/s/{SEED}/diagram.txt?code=old"


def test_openapi_declares_the_exports(client):
    paths = client.get("/openapi.json").json()["paths"]
    svg = paths["/s/{scenario_id}/lanes.svg"]["get"]["responses"]
    txt = paths["/s/{scenario_id}/diagram.txt"]["get"]["responses"]
    assert "image/svg+xml" in svg["200"]["content"] and "text/plain" in txt["200"]["content"]
    assert {"400", "404", "422"} <= set(svg) and {"400", "404", "422"} <= set(txt)


def test_api_state_carries_the_lanes(client, uaf_a):
    body = client.get(urls.api_scenario(SEED, "old", uaf_a)).json()
    assert body["lanes"]["rows"][-1]["marks"] == ["crash", "current"]
    assert body["events"][0]["locks_taken"] == ["nlru->lock"]


# -- the lane pane (templates/_lanes.html) -----------------------------------------------------

class _Pane(HTMLParser):
    """Collects the lane pane's structure: the scroll list, its rows and their links."""

    def __init__(self) -> None:
        super().__init__()
        self.ol: dict[str, str | None] = {}
        self.scroller: dict[str, str | None] = {}  # the keyboard-reachable scroll region: the <ol> or its box
        self.rows: list[dict] = []
        self.section: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and not self.section:  # the pane (the I/O strip inside is a section too)
            self.section = a
        elif tag == "ol":
            self.ol = a
        if a.get("tabindex") == "0" and not self.rows and not self.scroller:  # the <ol>, or a box around it
            self.scroller = a
        elif tag == "li":
            self.rows.append({"attrs": a, "links": [], "text": ""})
        elif tag == "a" and self.rows:
            self.rows[-1]["links"].append(a)

    def handle_data(self, data: str) -> None:
        if self.rows:
            self.rows[-1]["text"] += data


def pane(t: str) -> _Pane:
    scenario = modelapi.scenario(SEED)
    view = modelapi.build_view(SEED, "old", t)
    html = render.render("_lanes.html", view=view, ctx=context.page_context(scenario, view, None))
    p = _Pane()
    p.feed(html)
    return p


def test_lane_pane_rows_are_time_travel_links(uaf_a):
    p = pane(uaf_a)
    assert p.section["id"] == "pane-lanes" and p.section["aria-label"] == "Lane diagram"
    assert p.scroller.get("tabindex") == "0" and p.scroller.get("aria-label"), "a keyboard-reachable scroll box"
    top = modelapi.build_view(SEED, "old", uaf_a)["lanes"]["rows"]
    rows = [q for r in top for q in (r["fold"] or [r])]  # a fold's rows are in the page, inside it
    folds = [li for li in p.rows if "lane-fold" in li["attrs"]["class"].split()]
    assert [li["attrs"]["id"] for li in folds] == [f"lane-fold-{r['first'] + 1}" for r in top if r["fold"]]
    assert all(li["links"] == [] and "steps" in li["text"] for li in folds)  # a <summary>: opens, goes nowhere
    lis = [li for li in p.rows if li not in folds]
    assert len(lis) == len(rows)
    for li, row in zip(lis, rows):
        (link,) = li["links"]
        url = urls.scenario(SEED, "old", uaf_a[: row["last"] + 1])
        assert link["href"] == link["hx-get"] == url
        assert link["hx-target"] == "#state" and link["hx-push-url"] == "true"
    current = [li for li in p.rows if li["attrs"].get("id") == "lane-current"]
    assert current == [p.rows[-1]]
    classes = current[0]["attrs"]["class"].split()
    assert {"current", "crash"} <= set(classes)
    assert "✖ use-after-free" in current[0]["text"] and "b:883" in current[0]["text"]
    texts = [li["text"] for li in lis]
    assert any("▲ takes nlru->lock" in t for t in texts) and any("▽ drops nlru->lock" in t for t in texts)
    assert any("✖ frees trees" in t and "kvfree(trees)" in t for t in texts)
    assert any("×" in t and "steps" in t for t in texts), "folded stretches"


def test_lane_pane_before_the_first_step():
    p = pane("")
    assert len(p.rows) == 1 and p.rows[0]["attrs"]["id"] == "lane-current"
    assert "no step taken yet" in p.rows[0]["text"] and p.rows[0]["links"] == []
