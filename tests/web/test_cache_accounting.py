"""Issue 19, item 3: each cache's accounted bytes are within 1.5x of what it really holds.

"Really holds" is measured with tracemalloc: the cache is filled with random never-seen states
of every scenario, every other cache is emptied (so that what this one shares with them counts
as its own), and the bytes freed by clearing it are compared with its own byte count. The byte
budgets (ZSWAP_CACHE_MB) bound real memory only as well as these counts are right: before this
test, a page's parts counted their characters, not their bytes, and a view twice its size."""
from __future__ import annotations

import copy
import gc
import random
import tracemalloc
from collections.abc import Callable

import pytest

from app.model import api
from app.model import cache as cache_module
from app.model.kernel.engine import enabled, step
from app.model.scenarios import prefix
from app.model.scenarios.initial import initial_world
from app.model.scenarios.loader import load_all
from app.model.views import view as views
from app.web import modelapi
from app.web.page import lanerows, listing, panes, regions
from app.web.routes import api as api_routes, exports, pages

SEED = "lru-writeback-vs-swapoff"
RATIO = 1.5


def _walks(n: int, seed: int) -> list[tuple[str, str, str]]:
    """(scenario, code, schedule) of `n` random walks of 4 to 30 steps over every scenario."""
    rng = random.Random(seed)
    scenarios = load_all()
    out = []
    for _ in range(n):
        sid = rng.choice(sorted(scenarios))
        code = rng.choice(("old", "new"))
        world, t = initial_world(scenarios[sid], code), ""
        for _ in range(rng.randint(4, 30)):
            cpus = [c for c in enabled(world) if not any(x.state == "crashed" for x in world.cpus)]
            if not cpus:
                break
            cpu = rng.choice(cpus)
            world, t = step(world, cpu), t + str(cpu)
        out.append((sid, code, t))
    return list(dict.fromkeys(out))


WALKS = _walks(40, seed=19)


def fresh(walk: tuple[str, str, str]) -> tuple[str, str, str]:
    """New strings, as a request's URL gives (the keys a cache holds are its own, not the test's)."""
    return tuple("".join(list(x)) for x in walk)  # type: ignore[return-value]


def _all_caches() -> list[cache_module.BoundedCache]:
    # Not gc.get_objects(): an app's start-up freezes what exists then (gc.freeze), out of its sight.
    return list(cache_module.EVERY)


def held_and_counted(cache: cache_module.BoundedCache, fill: Callable[[], object]) -> tuple[int, int, int]:
    """(bytes freed by clearing `cache` once filled, bytes it counted, its entries)."""
    for c in _all_caches():
        c.clear()
    gc.collect()
    tracemalloc.start()
    try:
        fill()
        for c in _all_caches():
            if c is not cache:
                c.clear()
        gc.collect()
        filled = tracemalloc.get_traced_memory()[0]
        counted, entries = cache.info()["bytes"], cache.info()["entries"]
        cache.clear()
        gc.collect()
        freed = filled - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return freed, counted, entries


def _page(kind: str) -> Callable[[tuple[str, str, str]], object]:
    return {"parts": lambda w: pages.state_parts(True, *w, None),
            "html": lambda w: pages.state_html(False, *w, None),
            "gzip": lambda w: pages.state_gzip(True, *w, None)}[kind]


KINDS: dict[str, tuple[Callable[[], cache_module.BoundedCache], Callable[[tuple[str, str, str]], object], int]] = {
    # name: (the cache, what fills one entry, how many walks)
    "replays (prefix runs)": (lambda: prefix._runs, lambda w: api.run(*w), 40),
    "views": (lambda: api._cached_view.cache, lambda w: api.shared_view(*w), 40),
    "walks": (lambda: views._walks, lambda w: api.shared_view(*w), 40),
    "listings (programs)": (lambda: views._programs, lambda w: api.shared_view(*w), 40),
    "schedule checks": (lambda: api._validated, lambda w: api.validate(*w), 40),
    # A refused schedule's error is cached too: once it held its replay alive through its traceback.
    "schedule checks, refused": (lambda: api._validated, lambda w: api.validate(w[0], w[1], w[2] + "9"), 40),
    "page parts": (lambda: pages.state_parts.cache, _page("parts"), 15),
    "page text": (lambda: pages.state_html.cache, _page("html"), 15),
    "page gzip": (lambda: pages.state_gzip.cache, _page("gzip"), 15),
    "regions held": (lambda: regions._have, _page("parts"), 15),
    "pane text": (lambda: panes._html, _page("parts"), 15),
    "lane rows": (lambda: lanerows._html, _page("parts"), 15),
    "code listings": (lambda: listing._html, _page("parts"), 15),
    "JSON": (lambda: api_routes.state_json.cache, lambda w: api_routes.state_json(*w), 15),
    "SVG": (lambda: exports.lanes_svg_text.cache, lambda w: exports.lanes_svg_text(*w), 15),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_caches_byte_count_is_within_one_and_a_half_times_what_it_holds(kind):
    cache_of, one, n = KINDS[kind]
    cache = cache_of()
    freed, counted, entries = held_and_counted(cache, lambda: [one(fresh(w)) for w in WALKS[:n]])
    assert entries >= min(n, 10), f"{kind}: {entries} entries: the test measured next to nothing"
    assert freed > 0
    assert freed / RATIO <= counted <= freed * RATIO, f"{kind}: counts {counted:,} bytes, holds {freed:,}"


def test_the_verdicts_from_a_state_count_what_they_hold():
    results = [(t, modelapi._with_texts(api.check(SEED, "old", t))) for t in ("1", "2", "11", "12", "21", "22")]
    modelapi._here.clear()
    modelapi._here_bytes = 0
    gc.collect()
    tracemalloc.start()
    try:
        for t, result in results:
            modelapi._remember((SEED, "old", t), copy.deepcopy(result))
        gc.collect()
        filled = tracemalloc.get_traced_memory()[0]
        counted = modelapi._here_bytes
        modelapi._here.clear()
        gc.collect()
        freed = filled - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        modelapi._here_bytes = 0
    assert freed / RATIO <= counted <= freed * RATIO, f"counts {counted:,} bytes, holds {freed:,}"
