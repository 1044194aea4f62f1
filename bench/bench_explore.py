"""Time the explorer's full verdict for every bundled scenario under old and new code.

    .venv/bin/python bench/bench_explore.py [--repeat N] [--all-codes] [--no-exact]

Per scenario and code: the states of the exact search and the worlds the search the product runs
keeps (the 3-CPU scenarios with the local-step reduction, and symmetry between the two shrinkers
of two-shrinkers-vs-swapoff: one world per relabelling of them), the in-process search time, and the time of the
whole process a user waits for, `python -m app check SCENARIO --code CODE` (start-up, imports,
loading the scenarios and the search; the median of --repeat runs), against issue 12's targets
(2 CPUs: 0.2 s, 3 CPUs: 0.3 s). Then the whole-process time of `python -m app scenarios` (0.1 s).

The benchmark never reads the disk cache of verdicts: `check` searches unless given --cached,
and the child processes also run with ZSWAP_VERDICT_CACHE=0. They run with Python's bytecode
cache on (as a user's machine does; the first, discarded run compiles it), whatever this
environment says about PYTHONDONTWRITEBYTECODE. Timings are noisy on a shared 2-core machine:
the load average is printed with the figures.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.model.explorer.explore import explore, reduced  # noqa: E402
from app.model.scenarios.scenario import all_codes
from app.model.scenarios.loader import load_all  # noqa: E402

TARGET = {2: 0.2, 3: 0.3}  # seconds, by the number of CPUs (the I/O completion not counted)
SCENARIOS_TARGET = 0.1


def _env() -> dict[str, str]:
    env = dict(os.environ, ZSWAP_VERDICT_CACHE="0")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def whole_process(args: list[str], repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of `python -m app ARGS`, after one
    discarded run (bytecode compiled). The process is single-threaded: on an idle machine its
    wall time is its CPU time, and on a loaded one the CPU time is the better estimate of it."""
    walls, cpus = [], []
    for n in range(repeat + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode not in (0, 1):
            raise SystemExit(f"python -m app {' '.join(args)}: exit {done.returncode}: {done.stderr}")
        if n:
            walls.append(elapsed)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--all-codes", action="store_true")
    parser.add_argument("--no-exact", action="store_true", help="skip the exact searches of the reduced scenarios")
    args = parser.parse_args()
    codes = all_codes() if args.all_codes else ["old", "new"]
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores)")
    print(f"{'scenario':32} {'code':22} {'cpus':>4} {'reduction':11} {'exact states':>12} {'states':>8} "
          f"{'search s':>9} {'process s':>9} {'proc cpu s':>10} {'target':>6}")
    met = total = 0
    for scenario in load_all().values():
        reduce = reduced(scenario)
        cpus = sum(1 for c in scenario.cpus if c.actor != "io")
        for code in codes:
            times = []
            for _ in range(1 if reduce else args.repeat):
                started = time.perf_counter()
                result = explore(scenario, code, reduction=reduce)
                times.append(time.perf_counter() - started)
            exact = result.states if not reduce else (None if args.no_exact else explore(scenario, code).states)
            process, cpu = whole_process(["check", scenario.id, "--code", code], args.repeat)
            target = TARGET.get(cpus, TARGET[3])
            total += 1
            met += process <= target
            kind = ("local+symm" if result.symmetric else "local-steps") if reduce else "none"
            print(f"{scenario.id:32} {code:22} {cpus:>4} {kind:11} "
                  f"{exact if exact is not None else '-':>12} {result.searched:>8} {statistics.median(times):>9.3f} "
                  f"{process:>9.3f} {cpu:>10.3f} {target:>6.1f}{'' if process <= target else '  (missed)'}", flush=True)
    listing, listing_cpu = whole_process(["scenarios"], max(args.repeat, 5))
    print(f"python -m app scenarios: {listing:.3f} s wall, {listing_cpu:.3f} s CPU "
          f"(target {SCENARIOS_TARGET} s{'' if listing <= SCENARIOS_TARGET else ', missed'})")
    print(f"check targets met (wall time): {met} of {total}; load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
