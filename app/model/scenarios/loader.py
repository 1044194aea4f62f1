"""Reading the scenario files of a folder (scenarios/ by default): each file parsed, checked and
its tours replayed; a file that cannot be used is refused with a named ScenarioFileError."""
from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from app import paths
from app.model.scenarios.scenario import MAX_FILE_BYTES, Scenario, ScenarioFileError, one_line, parse_scenario

# The bundled scenarios; ZSWAP_SCENARIO_DIR points the CLI and the server at another folder.
SCENARIO_DIR = Path(os.environ.get("ZSWAP_SCENARIO_DIR") or paths.SCENARIOS)


def read_text(path: Path) -> str:
    """The file's text, refused (named) when it is not a regular file, too large or not UTF-8."""
    try:
        if not path.is_file():
            raise ScenarioFileError(f"{path}: not a regular file")
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ScenarioFileError(f"{path}: cannot be read: {one_line(err.strerror or err)}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioFileError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ScenarioFileError(f"{path}: not UTF-8 text (byte {err.start})") from None


def check_tours(scenario: Scenario, origin: str) -> None:
    """Every tour must replay on its code: a tour that stops early would mislead a room."""
    from app.model.scenarios.replay import ScheduleError, replay

    for i, tour in enumerate(scenario.tours):
        try:
            replay(scenario, tour.code, tour.schedule)
        except ScheduleError as err:
            raise ScenarioFileError(f"{origin}: tours[{i}] ({tour.name}): step {err.position + 1} cannot be "
                                    f"replayed on {tour.code}: {one_line(err.reason)}") from None


def load_file(path: Path) -> Scenario:
    scenario = parse_scenario(read_text(path), str(path))
    if scenario.id != path.stem:
        raise ScenarioFileError(f"{path}: id: expected {path.stem!r} (the file name); got {scenario.id!r}")
    check_tours(scenario, str(path))
    return scenario


@cache
def load_all(directory: Path = SCENARIO_DIR) -> dict[str, Scenario]:
    scenarios: dict[str, Scenario] = {}
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise ScenarioFileError(f"{directory}: no scenario files (*.toml) found")
    for path in paths:
        scenario = load_file(path)
        scenarios[scenario.id] = scenario
    return scenarios


@cache
def load_one(scenario_id: str, directory: Path = SCENARIO_DIR) -> Scenario | None:
    """One scenario by id, reading and checking only its own file (what `check SCENARIO` needs:
    parsing every file and replaying every tour was a third of its start-up); None when no file
    in the folder has that id."""
    import re

    path = directory / f"{scenario_id}.toml"
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,60}", scenario_id) or not path.exists():
        return None
    return load_file(path)


def scenario_ids(directory: Path = SCENARIO_DIR) -> list[str]:
    """The ids of the folder's scenarios, from the file names alone."""
    return sorted(p.stem for p in directory.glob("*.toml"))

