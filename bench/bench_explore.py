"""Time the explorer's full verdict for every bundled scenario under old and new code.

    .venv/bin/python bench/bench_explore.py [--repeat N] [--all-codes] [--no-exact] [--only ID ...]
                                            [--repo PATH]

Per scenario and code: the states of the exact search and the worlds the search the product runs
keeps (the scenarios with three CPUs or more and a swapoff with the local-step reduction and
symmetry between interchangeable shrinkers: one world per relabelling of them), the in-process
search time and its worlds per second, and the whole process a user waits for, `python -m app
check SCENARIO --code CODE` (start-up, imports, loading the scenario and the search; the median of
--repeat runs): wall time, CPU time and peak RSS, and the peak RSS over the worlds kept (bytes per
stored world, start-up's RSS included), against the targets (2 CPUs: 0.2 s, 3 CPUs: 0.3 s, the
scaled scenarios of issue 23: 5 s and 300 MB). Where it runs the exact search, it checks that the
reduced search finds the same violation groups with the same shortest lengths. Then the
whole-process time of `python -m app scenarios` (0.1 s).

--repo PATH times the same `check` commands on another checkout (the code before a change), side
by side, with this tree's scenario files (ZSWAP_SCENARIO_DIR); a scenario that checkout cannot
read is shown as refused.

The benchmark never reads the disk cache of verdicts: `check` searches unless given --cached,
and the child processes also run with ZSWAP_VERDICT_CACHE=0. They run with Python's bytecode
cache on (as a user's machine does; the first, discarded run compiles it), whatever this
environment says about PYTHONDONTWRITEBYTECODE. Timings are noisy on a shared 2-core machine:
the load average is printed with the figures.
"""
from __future__ import annotations

import argparse
import os
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
# Issue 23's scaled scenarios: seconds of the whole process and its peak RSS in MB.
SCALED = {"two-entries-two-shrinkers-vs-swapoff": (5.0, 300), "three-shrinkers-vs-swapoff": (120.0, None)}
SCENARIOS_TARGET = 0.1
# Its exact search keeps 2.5 / 6.0 million states (old / new): minutes and gigabytes, skipped.
EXACT_TOO_BIG = {"three-shrinkers-vs-swapoff"}


def _env(scenarios: Path | None = None) -> dict[str, str]:
    env = dict(os.environ, ZSWAP_VERDICT_CACHE="0")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if scenarios is not None:
        env["ZSWAP_SCENARIO_DIR"] = str(scenarios)
    return env


def whole_process(args: list[str], repeat: int, repo: Path = ROOT) -> tuple[float, float, float] | None:
    """Median wall time, median CPU time (user + system) and the largest peak RSS in MB of
    `python -m app ARGS` in ``repo``, after one discarded run (bytecode compiled); None when that
    checkout refuses the scenario (exit 2). The process is single-threaded: on an idle machine
    its wall time is its CPU time, and on a loaded one the CPU time is the better estimate of it."""
    walls, cpus, peaks = [], [], []
    env = _env(ROOT / "scenarios" if repo != ROOT else None)
    env["PYTHONPATH"] = str(repo)
    for n in range(repeat + 1):
        started = time.perf_counter()
        # Through /usr/bin/time: a child forked from this (large) process would report this
        # process's peak RSS as its own (Linux carries it over at exec); time's own is small.
        child = subprocess.Popen(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "app", *args], cwd=repo,
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        stderr = child.stderr.read() if child.stderr else ""
        if code == 1 and stderr.startswith("Command exited with non-zero status"):
            stderr = stderr.split("\n", 1)[1]
        peak_kb = int(stderr.strip().splitlines()[-1]) if stderr.strip() else 0
        if code == 2 and repo != ROOT:
            return None
        if code not in (0, 1):
            raise SystemExit(f"python -m app {' '.join(args)}: exit {code}: {stderr}")
        if n:
            walls.append(elapsed)
            cpus.append(usage.ru_utime + usage.ru_stime)
            peaks.append(peak_kb / 1024)
    return statistics.median(walls), statistics.median(cpus), max(peaks)


def _groups(result: object) -> dict[tuple[str, str | None], int]:
    return {g.key: len(g.shortest) for g in result.groups}  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--all-codes", action="store_true")
    parser.add_argument("--no-exact", action="store_true", help="skip the exact searches of the reduced scenarios")
    parser.add_argument("--only", nargs="*", default=None, help="these scenarios only")
    parser.add_argument("--repo", type=Path, default=None, help="another checkout, timed side by side")
    args = parser.parse_args()
    codes = all_codes() if args.all_codes else ["old", "new"]
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores)")
    base = whole_process(["check", "two-shrinkers", "--code", "old"], 1)
    base_mb = base[2] if base else 0.0
    print(f"{'scenario':38} {'code':6} {'cpus':>4} {'reduction':11} {'exact states':>12} {'worlds':>8} "
          f"{'search s':>9} {'worlds/s':>9} {'process s':>9} {'cpu s':>6} {'peak MB':>7} {'B/world':>7} {'target':>6}"
          + ("   before: process s, cpu s, peak MB" if args.repo else ""))
    met = total = 0
    for scenario in load_all().values():
        if args.only and scenario.id not in args.only:
            continue
        reduce = reduced(scenario)
        cpus = sum(1 for c in scenario.cpus if c.actor != "io")
        for code in codes:
            times = []
            for _ in range(1 if reduce else args.repeat):
                started = time.perf_counter()
                result = explore(scenario, code, reduction=reduce)
                times.append(time.perf_counter() - started)
            exact = result.states if not reduce else None
            same = ""
            if reduce and not args.no_exact and scenario.id not in EXACT_TOO_BIG:
                full = explore(scenario, code)
                exact = full.states
                same = "" if _groups(full) == _groups(result) else "  (VERDICT DIFFERS from the exact search)"
            process, cpu, peak = whole_process(["check", scenario.id, "--code", code], args.repeat)  # type: ignore[misc]
            seconds, mb = SCALED.get(scenario.id, (TARGET.get(cpus, TARGET[3]), None))
            ok = process <= seconds and (mb is None or peak <= mb)
            total += 1
            met += ok
            kind = ("local+symm" if result.symmetric else "local-steps") if reduce else "none"
            search = statistics.median(times)
            per_world = (peak - base_mb) * 1024 * 1024 / max(result.searched, 1)
            before = ""
            if args.repo:
                other = whole_process(["check", scenario.id, "--code", code], args.repeat, repo=args.repo)
                before = "   refused" if other is None else f"   {other[0]:.3f} {other[1]:.3f} {other[2]:.0f}"
            print(f"{scenario.id:38} {code:6} {cpus:>4} {kind:11} "
                  f"{exact if exact is not None else '-':>12} {result.searched:>8} {search:>9.3f} "
                  f"{result.searched / search:>9.0f} {process:>9.3f} {cpu:>6.2f} {peak:>7.0f} {per_world:>7.0f} "
                  f"{seconds:>6.1f}{'' if ok else '  (missed)'}{before}{same}", flush=True)
    listing, listing_cpu, _ = whole_process(["scenarios"], max(args.repeat, 5))  # type: ignore[misc]
    print(f"python -m app scenarios: {listing:.3f} s wall, {listing_cpu:.3f} s CPU "
          f"(target {SCENARIOS_TARGET} s{'' if listing <= SCENARIOS_TARGET else ', missed'})")
    print(f"check targets met (wall time, and peak RSS where there is a target): {met} of {total}; "
          f"peak RSS of a trivial check (B/world subtracts it): {base_mb:.0f} MB; "
          f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
