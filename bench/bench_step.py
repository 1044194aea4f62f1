"""Server CPU of one click on a state nobody asked for before: the htmx fragment of a schedule
whose parent (the schedule less its last step) was rendered just before, as the previous click
did. In-process, no HTTP: `pages.state_gzip` (replay, view, render, gzip), timed with
`time.process_time`, so the figure holds on a machine other work shares.

Walks of 3-25 random steps over every scenario and code (seeded); for each, the parent is
rendered untimed, then the child timed, asked for as a click asks (HX-Have naming the parent). Reports the median and the 95th percentile.

    .venv/bin/python bench/bench_step.py [--walks 300] [--seed 5] [--repo PATH]

`--repo` measures another checkout of this project (e.g. an older commit) with this venv, for
before/after comparisons: run it on both and compare medians.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--walks", type=int, default=300)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--repo", type=Path, default=REPO)
    ap.add_argument("--parts", action="store_true",
                    help="also split each step's CPU into its stages (model, page context, render, regions, gzip)")
    args = ap.parse_args()
    repo = args.repo.resolve()
    sys.path.insert(0, str(repo))
    os.chdir(repo)
    os.environ.setdefault("ZSWAP_WEB_CACHE", "512")
    from app.web import modelapi
    from app.web.routes import pages
    try:
        from app.web.page import regions
    except ImportError:  # an older --repo
        regions = None  # type: ignore[assignment]

    rng = random.Random(args.seed)
    ids = [s["id"] for s in modelapi.scenarios()]
    walks = []
    for _ in range(args.walks):
        sid, code = rng.choice(ids), rng.choice(["old", "new"])
        t = ""
        for _ in range(rng.randint(3, 25)):
            view = modelapi.replay(sid, code, t)
            if not view["enabled"]:
                break
            t += str(rng.choice(view["enabled"]))
        if t:
            walks.append((sid, code, t))
    walks = list(dict.fromkeys(walks))
    pages.clear_caches()
    if hasattr(modelapi, "clear_model_caches"):  # an older --repo lacks it
        modelapi.clear_model_caches()  # the walks above replayed every state: forget them
    stages = Stages(pages) if args.parts else None
    times = []
    for sid, code, t in walks:
        pages.state_gzip(True, sid, code, t[:-1], None)  # the previous click
        # The page names the state it shows, as static/app.js does (an older --repo ignores it).
        have = regions.state_key(sid, code, t[:-1], None, False, None) if regions else None
        if stages:
            stages.start_step()
        start = time.process_time()
        pages.state_gzip(True, sid, code, t, None, False, None, have) if regions else pages.state_gzip(True, sid, code, t, None)
        times.append((time.process_time() - start) * 1000)
        if stages:
            stages.end_step(times[-1])
    times.sort()
    print(f"{repo}: {len(times)} never-seen steps, parent rendered just before: CPU per step "
          f"median {statistics.median(times):.2f} ms, p95 {times[int(len(times) * 0.95)]:.2f} ms, "
          f"mean {statistics.fmean(times):.2f} ms")
    if stages:
        stages.report()


class Stages:
    """Splits each timed step's CPU into the stages of app.web.routes.pages.state_parts, by wrapping the
    functions it calls (outermost call only: a pane's own render counts as render)."""

    NAMES = {"run_page_view": "model: replay and view", "page_context": "page context",
             "render": "render (Jinja)", "split": "regions: split", "against": "regions: compare",
             "compress": "gzip"}

    def __init__(self, pages: object) -> None:
        import gzip

        from app.web.page import context, regions, render

        self.spent: dict[str, float] = dict.fromkeys(self.NAMES, 0.0)
        self.per_step: dict[str, list[float]] = {name: [] for name in [*self.NAMES, "other"]}
        self.depth = 0
        for owner, name in ((pages, "run_page_view"), (context, "page_context"), (render, "render"),
                            (regions, "split"), (regions.Parts, "against"), (gzip, "compress")):
            setattr(owner, name, self.timed(name, getattr(owner, name)))

    def timed(self, name: str, fn: object) -> object:
        def wrapper(*a: object, **k: object) -> object:
            if self.depth:
                return fn(*a, **k)  # type: ignore[operator]
            self.depth += 1
            start = time.process_time()
            try:
                return fn(*a, **k)  # type: ignore[operator]
            finally:
                self.spent[name] += time.process_time() - start
                self.depth -= 1
        return wrapper

    def start_step(self) -> None:
        """Forget what the untimed calls before the timed step spent."""
        self.spent = dict.fromkeys(self.NAMES, 0.0)

    def end_step(self, total_ms: float) -> None:
        """Close one timed step: what the wrapped stages took, the rest is 'other'."""
        known = 0.0
        for name, seconds in self.spent.items():
            self.per_step[name].append(seconds * 1000)
            known += seconds * 1000
            self.spent[name] = 0.0
        self.per_step["other"].append(max(0.0, total_ms - known))

    def report(self) -> None:
        for name, values in self.per_step.items():
            print(f"  {self.NAMES.get(name, 'other (caches, keys, glue)'):<28} mean {statistics.fmean(values):.2f} ms")


if __name__ == "__main__":
    main()
