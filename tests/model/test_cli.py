"""The CLI (python -m app) as a subprocess: the JSON contract of issue 2 and clean error exits."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.model.scenarios.loader import load_all

ROOT = Path(__file__).resolve().parents[2]
SEED = "lru-writeback-vs-swapoff"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _tour(name: str) -> str:
    return next(t for t in load_all()[SEED].tours if t.name == name).schedule


@pytest.fixture(scope="module")
def uaf_a_json() -> dict:
    r = cli("replay", SEED, "--code", "old", "--schedule", _tour("uaf-a"), "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_scenarios_json_contract() -> None:
    r = cli("scenarios", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert isinstance(data, list)
    assert {s["id"] for s in data} == set(load_all())
    for s in data:
        assert {"id", "title", "codes", "cpus", "tours"} <= set(s)
        assert {"old", "new", "new-no-rotate", "new-tree-before-folio", "new-no-recheck"} <= set(s["codes"])
        assert [c["id"] for c in s["code_info"]] == s["codes"] and all(c["description"] for c in s["code_info"])
        assert s["cpus"] and all({"id", "actor"} <= set(c) for c in s["cpus"])
        for t in s["tours"]:
            assert {"name", "schedule"} <= set(t)
            assert t["schedule"].isdigit()
    seed = next(s for s in data if s["id"] == SEED)
    assert {t["name"]: t["schedule"] for t in seed["tours"]}["uaf-a"] == _tour("uaf-a")


def test_scenarios_text() -> None:
    r = cli("scenarios")
    assert r.returncode == 0 and SEED in r.stdout and "uaf-a" in r.stdout


def test_replay_json_top_level(uaf_a_json: dict) -> None:
    v = uaf_a_json
    assert v["scenario"] == SEED and v["code"] == "old" and v["schedule"] == _tour("uaf-a")
    assert v["enabled"] == []
    assert len(v["events"]) == len(_tour("uaf-a"))


def test_replay_json_cpus(uaf_a_json: dict) -> None:
    cpus = {c["id"]: c for c in uaf_a_json["cpus"]}
    assert set(cpus) == {1, 2, 3}  # CPU3: the I/O completion
    assert (cpus[3]["actor"], cpus[3]["status"]) == ("io", "idle")
    for c in cpus.values():
        assert {"id", "actor", "status", "next", "blocked_on"} <= set(c)
        assert c["status"] in ("runnable", "waiting", "sleeping", "idle", "done", "crashed")
    assert cpus[1]["status"] == "crashed" and cpus[2]["status"] == "done"
    assert cpus[1]["actor"] == "writeback-old" and cpus[2]["actor"] == "swapoff"


def test_replay_json_next_and_blocked_on() -> None:
    s = _tour("fixed-swapoff-sleeps")
    from app.model.scenarios.replay import replay

    run = replay(load_all()[SEED], "new", s)
    k = next(i for i, w in enumerate(run.worlds) if w.cpu(2).pc == "S3f" and w.folio(w.cpu(2).local("folio")).locked_by == 1)
    r = cli("replay", SEED, "--code", "new", "--schedule", s[:k], "--format", "json")
    assert r.returncode == 0, r.stderr
    v = json.loads(r.stdout)
    cpus = {c["id"]: c for c in v["cpus"]}
    assert v["enabled"] == [1]
    assert cpus[2]["status"] == "sleeping"
    assert "folio_lock" in cpus[2]["blocked_on"] and "CPU1" in cpus[2]["blocked_on"]
    assert cpus[1]["status"] == "runnable" and cpus[1]["blocked_on"] is None
    for c in cpus.values():
        assert {"function", "file", "line", "text"} <= set(c["next"])
    assert cpus[2]["next"]["text"].strip().startswith("folio_lock(")


def test_replay_json_violation(uaf_a_json: dict) -> None:
    (viol,) = uaf_a_json["violations"]
    assert {"kind", "cpu", "function", "file", "line", "object", "step", "report"} <= set(viol)
    assert viol["kind"] == "use-after-free"
    assert (viol["cpu"], viol["function"], viol["file"], viol["line"]) == (1, "shrink_memcg_cb", "mm/zswap.c", 883)
    assert viol["step"] == len(_tour("uaf-a")) - 1
    assert isinstance(viol["object"], str) and viol["object"].startswith("0x")
    assert "BUG: KASAN: slab-use-after-free in _raw_spin_lock+0x" in viol["report"]
    assert " shrink_memcg_cb+0x" in viol["report"]


def test_replay_json_events(uaf_a_json: dict) -> None:
    schedule = _tour("uaf-a")
    for i, ev in enumerate(uaf_a_json["events"]):
        assert {"cpu", "function", "line", "text", "narration"} <= set(ev)
        assert ev["cpu"] == int(schedule[i])
        assert ev["narration"].strip()
    assert (uaf_a_json["events"][-1]["function"], uaf_a_json["events"][-1]["line"]) == ("shrink_memcg_cb", 883)


def test_replay_kasan_format() -> None:
    r = cli("replay", SEED, "--code", "old", "--schedule", _tour("uaf-a"), "--format", "kasan")
    assert r.returncode == 0, r.stderr
    assert r.stdout.lstrip("=\n").startswith("BUG: KASAN: slab-use-after-free in instrument_atomic_read_write ")
    assert "\nBUG: KASAN: slab-use-after-free in _raw_spin_lock+0x?/0x? kernel/locking/spinlock.c:154\n" in r.stdout
    assert "Freed by" in r.stdout and "zswap_swapoff" in r.stdout


def test_replay_text_format() -> None:
    r = cli("replay", SEED, "--code", "new", "--schedule", _tour("fixed-swapoff-sleeps"))
    assert r.returncode == 0, r.stderr
    assert "CPU1" in r.stdout and "CPU2" in r.stdout and "KASAN" not in r.stdout


UAF_A = _tour("uaf-a")


@pytest.mark.parametrize(
    "args,words",
    [
        (["replay", SEED, "--code", "old", "--schedule", "11a2"], ["position 2", "'a'"]),
        (["replay", SEED, "--code", "old", "--schedule", "13"], ["position 1", "CPU3"]),
        (["replay", SEED, "--code", "old", "--schedule", "1" * 501], ["position", "CPU1", "finished"]),
        (["replay", SEED, "--code", "old", "--schedule", UAF_A + "2"], [f"position {len(UAF_A)}", "CPU2", "finished"]),
        (["replay", SEED, "--code", "old", "--schedule", UAF_A + "1"], [f"position {len(UAF_A)}", "CPU1", "crashed"]),
        (["replay", "no-such-scenario", "--code", "old"], ["no-such-scenario"]),
        (["replay", SEED, "--code", "ancient"], ["ancient"]),
        (["replay", SEED, "--format", "yaml"], ["yaml"]),
        (["frobnicate"], ["frobnicate"]),
    ],
)
def test_bad_input_exits_nonzero_with_one_line(args: list[str], words: list[str]) -> None:
    r = cli(*args)
    assert r.returncode != 0
    assert r.stdout == ""
    err = r.stderr.strip()
    assert "Traceback" not in r.stderr
    assert len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, err


# --- check (the explorer) -----------------------------------------------------------


def test_check_json_contract_and_exit_1_when_a_violation_exists() -> None:
    r = cli("check", SEED, "--code", "old", "--json")
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    for key in ("scenario", "code", "states", "transitions", "complete_runs", "seconds", "violations"):
        assert key in data
    assert data["scenario"] == SEED and data["code"] == "old" and data["states"] > 1000
    uaf = [v for v in data["violations"] if v["kind"] == "use-after-free" and v["line"] == 883]
    assert uaf and uaf[0]["function"] == "shrink_memcg_cb" and uaf[0]["file"] == "mm/zswap.c"
    assert 0 < uaf[0]["count"] < data["complete_runs"]
    assert set(uaf[0]["shortest"]) <= {"1", "2"}


def test_check_exit_0_for_the_fixed_code_and_the_table_says_so() -> None:
    r = cli("check", SEED, "--code", "new")
    assert r.returncode == 0, r.stderr
    assert "no violation in any interleaving" in r.stdout


def test_check_says_which_cpus_it_took_as_interchangeable_and_how_many_worlds_it_searched() -> None:
    r = cli("check", "two-shrinkers-vs-swapoff", "--code", "new")
    assert r.returncode == 0, r.stderr
    assert "representative schedules" in r.stdout
    line = next(line for line in r.stdout.splitlines() if "symmetry:" in line)
    searched = int(line.split("; ")[1].split()[0])
    states = int(next(line for line in r.stdout.splitlines() if line.startswith("two-shrinkers-vs-swapoff")).split()[2])
    assert "CPU1/CPU2 are interchangeable" in line and 0 < searched < states
    r = cli("check", SEED, "--code", "new")
    assert "symmetry" not in r.stdout  # two CPUs that run different actors


def test_check_bad_input_exits_2_listing_the_valid_names() -> None:
    r = cli("check", "no-such-scenario")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert SEED in r.stderr
    r = cli("check", SEED, "--code", "newest")
    assert r.returncode == 2 and "new-no-recheck" in r.stderr and "Traceback" not in r.stderr


def test_check_state_budget_stops_without_a_verdict() -> None:
    r = cli("check", SEED, "--code", "new", "--max-states", "50", "--json")
    assert r.returncode == 3, r.stderr
    data = json.loads(r.stdout)
    assert data["complete"] is False and "50" in data["stopped_reason"]


def test_check_stopped_after_finding_violations_says_found_with_no_count() -> None:
    r = cli("check", SEED, "--code", "old", "--max-states", "3000")
    assert r.returncode == 1, r.stderr  # a violation was found: that much is a verdict
    row = next(line for line in r.stdout.splitlines() if line.startswith(SEED))
    assert "stopped at the state budget of 3000 states" in row
    assert "use-after-free at shrink_memcg_cb b:883: found, count unknown (the search stopped after 3,000 states)" in row
    assert " of None" not in row and " 0 of " not in row and "None" not in row
    data = json.loads(cli("check", SEED, "--code", "old", "--max-states", "3000", "--json").stdout)
    assert [v["count"] for v in data["violations"]] == [None] * len(data["violations"]) != []


def test_a_bad_scenario_file_is_named_with_its_field_path_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text('id = "broken"\ntitle = "t"\nsummary = "s"\ncolour = 1\n')
    env = {**__import__("os").environ, "ZSWAP_SCENARIO_DIR": str(tmp_path)}
    r = subprocess.run(
        [sys.executable, "-m", "app", "scenarios"], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "broken.toml" in r.stderr and "colour" in r.stderr and "cpus" in r.stderr


@pytest.mark.parametrize("args", [["scenarios"], ["check", "two-shrinkers", "--code", "old"],
                                  ["replay", "two-shrinkers", "--schedule", "11"]])
def test_the_model_commands_never_import_the_web_stack(args: list[str]) -> None:
    """Start-up (issue 12): a model command loads neither the web stack nor pydantic."""
    probe = ("import sys\nfrom app.cli import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"
             "heavy = {'fastapi', 'starlette', 'uvicorn', 'jinja2', 'pydantic', 'pydantic_core'}\n"
             "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n") % (args,)
    r = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_listing_the_scenarios_imports_no_dataclasses_machinery() -> None:
    """Start-up (issue 12): the model's records are built without the dataclasses module (and the
    inspect, ast and dis modules it imports), 8 ms of `python -m app scenarios`."""
    probe = ("import sys\nfrom app.cli import main\nmain(['scenarios'])\n"
             "print(sorted({'dataclasses', 'inspect', 'ast', 'dis'} & set(sys.modules)))\n")
    r = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_a_tour_that_does_not_replay_is_refused_by_the_command(tmp_path: Path) -> None:
    """Start-up work (issue 12) left every check in place: `scenarios` still replays each tour and
    refuses one that stops, with the step, the code and the reason, and exit status 2."""
    good = (ROOT / "tests/model/test_bad_scenarios.py").read_text().split("GOOD = '''")[1].split("'''")[0]
    path = tmp_path / "tiny.toml"
    path.write_text(good.replace('cpus = "12"', 'cpus = "12222222222"'))
    env = {**__import__("os").environ, "ZSWAP_SCENARIO_DIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "app", "scenarios"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == (f"error: bad scenario file: {path}: tours[0] (one): step 7 cannot be replayed on new: "
                        "CPU2 cannot step: it is waiting for the LRU lock (inside zswap_lru_del), held by CPU1\n")
    path.write_text(good)  # the control: the same file with its own tour lists
    r = subprocess.run([sys.executable, "-m", "app", "scenarios"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0 and r.stdout.startswith("tiny: "), r.stderr


@pytest.mark.parametrize(("argv", "host", "port", "workers"), [
    ([], "127.0.0.1", 8000, None),  # serving is the default
    (["serve"], "127.0.0.1", 8000, None),
    (["serve", "--host", "0.0.0.0", "--port", "9001", "--workers", "2"], "0.0.0.0", 9001, 2),
    (["--port", "9000", "serve"], "127.0.0.1", 9000, None),  # options before the subcommand are kept
    (["--host", "::1", "serve", "--port", "9002"], "::1", 9002, None),
])
def test_serve_is_the_default_command_and_takes_the_server_options(argv, host, port, workers):
    from app.cli import _parser

    args = _parser().parse_args(argv)
    assert args.command in (None, "serve") and (args.host, args.port, args.workers) == (host, port, workers)


def test_serve_refuses_a_bad_port_by_name():
    r = cli("serve", "--port", "eighty")
    assert r.returncode == 2 and "--port" in r.stderr and "Traceback" not in r.stderr


def test_the_usage_names_the_command_the_user_typed(monkeypatch):
    from app import cli as cli_module

    monkeypatch.setattr(sys, "argv", ["/home/u/.local/bin/zswap-race"])
    assert cli_module._parser().prog == "zswap-race"
    monkeypatch.setattr(sys, "argv", [str(ROOT / "app" / "__main__.py")])
    assert cli_module._parser().prog == "python -m app"
