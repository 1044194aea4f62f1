"""Replay speed: microseconds per step of app.model.scenarios.replay.replay() on long schedules.

Two workloads, each a fixed schedule built once from seeded random choices among
the enabled CPUs, run until no CPU can move:

* the shipped 3-CPU scenario writeback-vs-swapin-vs-swapoff (a whole run is ~70-90
  steps; the longest of several seeds is used), under old and new code;
* a generated 3-CPU scenario with many swap slots (one shrinker, one fault,
  swapoff over every slot) so that one run is >= 200 steps, as issue 2 asks.

Each schedule is replayed REPEAT times per round; the median over ROUNDS rounds
is reported. Single process, no warm caches between replays (replay() keeps no
cache; the api's build_view cache is not used).

    .venv/bin/python bench/bench_replay.py [--rounds 7] [--repeat 20] [--seed 1]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.model.kernel.engine import enabled, step  # noqa: E402
from app.model.scenarios.initial import initial_world  # noqa: E402
from app.model.scenarios.replay import replay  # noqa: E402
from app.model.scenarios.scenario import Scenario, parse_scenario
from app.model.scenarios.loader import load_all  # noqa: E402

SHIPPED = "writeback-vs-swapin-vs-swapoff"


def many_slots(n: int) -> Scenario:
    """CPU1 shrinker, CPU2 fault on process P0, CPU3 swapoff; n slots, each with a zswap entry on the LRU."""
    slots = ", ".join(f'{{ offset = {i + 1}, owner = "P{i}" }}' for i in range(n))
    entries = ", ".join(f'{{ name = "E{i}", slot = {i + 1} }}' for i in range(n))
    lru = ", ".join(f'"E{i}"' for i in range(n))
    text = f'''
id = "bench-many-slots"
title = "benchmark: {n} slots"
summary = "generated for bench/bench_replay.py"
[[cpus]]
id = 1
actor = "writeback"
[[cpus]]
id = 2
actor = "swapin"
process = "P0"
[[cpus]]
id = 3
actor = "swapoff"
[world]
slots = [{slots}]
entries = [{entries}]
lru = [{lru}]
'''
    return parse_scenario(text, "<bench_replay.py>")


def random_schedule(scenario: Scenario, code: str, rng: random.Random) -> str:
    world = initial_world(scenario, code)
    schedule = ""
    while (en := enabled(world)) and len(schedule) < 500:
        cpu = rng.choice(en)
        world = step(world, cpu)
        schedule += str(cpu)
    return schedule


def longest(scenario: Scenario, code: str, seed: int, tries: int = 20) -> str:
    rng = random.Random(seed)
    return max((random_schedule(scenario, code, rng) for _ in range(tries)), key=len)


def measure(scenario: Scenario, code: str, schedule: str, rounds: int, repeat: int) -> tuple[float, float, float]:
    replay(scenario, code, schedule)  # warm imports and code paths
    per_step = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(repeat):
            replay(scenario, code, schedule)
        dt = time.perf_counter() - t0
        per_step.append(dt / repeat / len(schedule) * 1e6)
    return statistics.median(per_step), min(per_step), max(per_step)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--slots", type=int, default=5)
    args = ap.parse_args()

    workloads = []
    shipped = load_all()[SHIPPED]
    for code in ("old", "new"):
        workloads.append((shipped, code, longest(shipped, code, args.seed)))
    big = many_slots(args.slots)
    for code in ("old", "new"):
        sched = longest(big, code, args.seed)
        workloads.append((big, code, sched))

    print(f"replay() speed: median of {args.rounds} rounds x {args.repeat} replays (min..max in brackets)")
    print(f"{'scenario':34} {'code':4} {'steps':>5}  {'us/step':>8}  {'ms/replay':>9}")
    for scenario, code, schedule in workloads:
        med, lo, hi = measure(scenario, code, schedule, args.rounds, args.repeat)
        print(
            f"{scenario.id:34} {code:4} {len(schedule):5}  {med:8.1f}  {med * len(schedule) / 1000:9.2f}"
            f"   [{lo:.1f}..{hi:.1f}]"
        )
    long_ones = [w for w in workloads if len(w[2]) >= 200]
    if not long_ones:
        print("warning: no schedule reached 200 steps; raise --slots", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
