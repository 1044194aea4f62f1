"""Time `python -m app scenarios` as a user waits for it: the whole process (start-up, imports,
reading and checking the nine scenario files, replaying their tours, printing the list).

    .venv/bin/python bench/bench_startup.py [--repeat N]

Prints the median CPU time (user + system) and wall time of N processes after a discarded one
(the bytecode cache on, whatever PYTHONDONTWRITEBYTECODE says here: see bench_explore.whole_process),
against issue 12's target of 0.1 s, with the load average (the machine's 2 cores are shared).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_explore import SCENARIOS_TARGET, whole_process  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    wall, cpu = whole_process(["scenarios"], args.repeat)
    print(f"python -m app scenarios: {cpu:.3f} s CPU, {wall:.3f} s wall (median of {args.repeat}; "
          f"target {SCENARIOS_TARGET} s of CPU: {'met' if cpu <= SCENARIOS_TARGET else 'missed'}); "
          f"load average {load:.2f} -> {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
