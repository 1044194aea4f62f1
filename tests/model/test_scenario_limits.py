"""Scenario files within bounds: every malformed file, whatever the cause, is refused with one line
naming the file and the reason (the CLI exits 2, the server does not start); never a traceback."""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import cli
from app.model.scenarios import scenario as sc
from app.model.scenarios.loader import SCENARIO_DIR, load_all, load_file
from app.model.scenarios.scenario import ScenarioFileError

ROOT = Path(__file__).resolve().parents[2]
SEED = SCENARIO_DIR / "lru-writeback-vs-swapoff.toml"
TINY = (ROOT / "tests/model/test_bad_scenarios.py").read_text().split("GOOD = '''")[1].split("'''")[0]


def _refusal(path: Path) -> str:
    with pytest.raises(ScenarioFileError) as info:
        load_file(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    return message


def _write(tmp_path: Path, data: bytes | str, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def test_the_tiny_file_loads(tmp_path: Path) -> None:
    assert load_file(_write(tmp_path, TINY)).id == "tiny"


@pytest.mark.parametrize("data,words", [
    (TINY.encode().replace(b"A tiny", b"A \xff tiny"), "not UTF-8"),
    ("a = " + "[" * 30_000 + "]" * 30_000 + "\n", "nested too deeply"),
    ("n = " + "7" * 5000 + "\n" + TINY, "digits"),
    (TINY + "# " + "x" * (sc.MAX_FILE_BYTES + 1) + "\n", "larger than"),
    ("a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n", "not valid TOML"),
])
def test_malformed_bytes_are_refused_in_one_line(tmp_path: Path, data, words: str) -> None:
    assert words in _refusal(_write(tmp_path, data))


def test_a_directory_named_like_a_scenario_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.toml").mkdir()
    with pytest.raises(ScenarioFileError, match="x.toml: not a regular file"):
        load_all(tmp_path)


@pytest.mark.parametrize("old,new,words", [
    ("[world]", "[world]\n", None),  # unchanged: the control
    ('slots = [{ offset = 3, owner = "A" }]',
     "slots = [" + ", ".join(f'{{ offset = {i}, owner = "A" }}' for i in range(sc.MAX_SLOTS + 1)) + "]",
     "world.slots"),
    ('note = "One step each."', f'note = "{"n" * (sc.MAX_NOTE + 1)}"', "note"),
    ('summary = "One shrinker, one process exit."', f'summary = "{"s" * (sc.MAX_SUMMARY + 1)}"', "summary"),
    ('[world]', "".join(f'[[cpus]]\nid = {i}\nactor = "writeback"\n' for i in range(3, sc.MAX_CPUS + 2)) + "[world]",
     "cpus"),
    ('cpus = "12"', 'cpus = "1" ', "tours[0]"),  # CPU2 never steps: still replays
    ('cpus = "12"', 'cpus = "12222222222"', "tours[0] (one): step 7 cannot be replayed on new: CPU2 cannot step"),
])
def test_limits_and_tours_that_do_not_replay(tmp_path: Path, old: str, new: str, words: str | None) -> None:
    assert old in TINY
    path = _write(tmp_path, TINY.replace(old, new))
    if words is None or words == "tours[0]":
        load_file(path)
    else:
        assert words in _refusal(path)


def test_too_many_tours_and_too_much_narration(tmp_path: Path) -> None:
    head, tour = TINY.split("[[tours]]")
    many = head + "".join("[[tours]]" + tour.replace('name = "one"', f'name = "t{i}"')
                          for i in range(sc.MAX_TOURS + 1))
    assert "tours" in _refusal(_write(tmp_path, many))
    # Narration (a note times its steps) is checked before any replay: two tours of 500 steps
    # with the longest notes are twice the bound.
    steps = "1" * sc.MAX_TOUR_STEPS
    loud = tour.replace('cpus = "12"', f'cpus = "{steps}"').replace("One step each.", "x" * sc.MAX_NOTE)
    text = head + "[[tours]]" + loud + "[[tours]]" + loud.replace('name = "one"', 'name = "two"')
    with pytest.raises(ScenarioFileError, match="characters of narration"):
        sc.parse_scenario(text, "loud.toml")


# -- fuzzing: mutated copies of a shipped file --------------------------------------------------

SEED_BYTES = SEED.read_bytes()
_mutation = st.one_of(
    st.tuples(st.just("replace"), st.integers(0, len(SEED_BYTES)), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("insert"), st.integers(0, len(SEED_BYTES)), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, len(SEED_BYTES)), st.integers(1, 64)),
    st.tuples(st.just("text"), st.integers(0, len(SEED_BYTES)),
              st.sampled_from(["[", "]", "{", "=", '"', "\n", "[[tours]]\n", "1" * 5000, "-1", "99999999999",
                               "[world]\n", "\\u0000", "'''", "\n[[cpus]]\nid = 4\n", "\xe9"])),
    st.tuples(st.just("repeat"), st.integers(0, len(SEED_BYTES)), st.integers(1, 200)),
)


def _mutate(data: bytes, mutations: list[tuple]) -> bytes:
    for kind, at, arg in mutations:
        at = min(at, len(data))
        if kind == "replace":
            data = data[:at] + arg + data[at + len(arg):]
        elif kind == "insert":
            data = data[:at] + arg + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + arg:]
        elif kind == "text":
            data = data[:at] + arg.encode() + data[at:]
        else:  # repeat a line many times
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            line = data[start:end if end >= 0 else len(data)] + b"\n"
            data = data[:start] + line * arg + data[start:]
    return data


@given(mutations=st.lists(_mutation, min_size=1, max_size=4))
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_a_mutated_file_loads_or_is_refused_in_one_line_naming_it(tmp_path_factory, mutations) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / SEED.name
    path.write_bytes(_mutate(SEED_BYTES, mutations))
    try:
        load_file(path)
        refused = None
    except ScenarioFileError as err:
        refused = str(err)
        assert "\n" not in refused and refused.startswith(f"{path}: "), refused
    # The CLI on that folder: exit 2 and one line naming the file, or a listing.
    err, out = io.StringIO(), io.StringIO()
    with mock.patch("app.model.api.load_all", lambda: load_all(folder)), \
            contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = cli.main(["scenarios"])
    if refused is None:
        assert code == 0 and not err.getvalue()
    else:
        assert code == 2 and err.getvalue() == f"error: bad scenario file: {refused}\n"


# -- the CLI and the server: exit 2, one line ---------------------------------------------------

def _run(args: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ZSWAP_SCENARIO_DIR=str(folder))
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("data", [b"id = \xff\n", ("n = " + "9" * 5000).encode(), b"a = " + b"[" * 100_000])
def test_cli_and_server_exit_2_with_one_line(tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path, data, "bad.toml")
    for args in (["-m", "app", "scenarios"], ["-m", "app", "--port", "1"],
                 ["-m", "uvicorn", "app.web.app:create_app", "--factory", "--port", "1"]):
        r = _run(args, tmp_path)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert r.returncode == 2, (args, r.stderr)
        assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in r.stderr, (args, r.stderr)


def test_check_of_one_scenario_reads_only_its_file(tmp_path: Path) -> None:
    """`check SCENARIO` parses only that file (start-up, issue 12); listing them all still refuses
    the folder's bad file, and an unknown id lists the ids the file names give."""
    _write(tmp_path, TINY, "tiny.toml")
    _write(tmp_path, b"id = \xff\n", "bad.toml")
    r = _run(["-m", "app", "check", "tiny", "--code", "new"], tmp_path)
    assert r.returncode in (0, 1) and "tiny" in r.stdout, r.stderr
    assert _run(["-m", "app", "scenarios"], tmp_path).returncode == 2
    r = _run(["-m", "app", "check", "nope"], tmp_path)
    assert r.returncode == 2 and "bad, tiny" in r.stderr
