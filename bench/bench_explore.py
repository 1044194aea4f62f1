"""Time the explorer's full verdict for every bundled scenario under old and new code.

    .venv/bin/python bench/bench_explore.py [--repeat N] [--all-codes]

Prints states, transitions, wall time and states/second per scenario and code.
Timings are noisy on a shared 2-core machine: compare runs of one invocation.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.model.explore import REDUCED, explore  # noqa: E402
from app.model.scenario import all_codes, load_all  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--all-codes", action="store_true")
    args = parser.parse_args()
    codes = all_codes() if args.all_codes else ["old", "new"]
    print(f"{'scenario':32} {'code':22} {'reduction':11} {'states':>8} {'transitions':>11} {'median s':>9} {'states/s':>9}")
    for scenario in load_all().values():
        reduce = scenario.id in REDUCED
        repeat = 1 if reduce else args.repeat
        for code in codes:
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                result = explore(scenario, code, reduction=reduce)
                times.append(time.perf_counter() - started)
            median = statistics.median(times)
            print(
                f"{scenario.id:32} {code:22} {'local-steps' if reduce else 'none':11} {result.states:>8} "
                f"{result.transitions:>11} {median:>9.3f} {result.states / median:>9.0f}"
            )


if __name__ == "__main__":
    main()
