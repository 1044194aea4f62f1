"""Scenario files: every shipped file loads; bad ones are refused naming the file, the field path and the reason."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.model.scenarios.loader import SCENARIO_DIR, load_all, load_file
from app.model.scenarios.scenario import ScenarioFileError, parse_scenario

GOOD = '''
id = "tiny"
title = "A tiny scenario"
summary = "One shrinker, one process exit."

[[cpus]]
id = 1
actor = "writeback"

[[cpus]]
id = 2
actor = "exit"
process = "A"

[world]
slots = [{ offset = 3, owner = "A" }]
entries = [{ name = "E", slot = 3 }]
lru = ["E"]

[[tours]]
name = "one"
title = "A tour"
code = "new"

[[tours.segments]]
cpus = "12"
note = "One step each."
'''


def _refused(text: str, origin: str = "bad.toml") -> str:
    with pytest.raises(ScenarioFileError) as info:
        parse_scenario(text, origin)
    message = str(info.value)
    assert message.startswith(f"{origin}: "), message
    return message


def test_the_good_text_parses() -> None:
    s = parse_scenario(GOOD, "good.toml")
    assert s.id == "tiny" and [c.actor for c in s.cpus] == ["writeback", "exit"]
    assert s.tours[0].schedule == "12"


@pytest.mark.parametrize("path", sorted(SCENARIO_DIR.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_file_loads(path: Path) -> None:
    s = load_file(path)
    assert s.id == path.stem
    assert s.title and " ".join(s.summary.split())


def test_load_all_has_every_file() -> None:
    assert sorted(load_all()) == sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


@pytest.mark.parametrize(
    "old,new,path",
    [
        ('title = "A tiny scenario"', 'title = "A tiny scenario"\ncolour = "red"', "colour"),
        ('lru = ["E"]', 'lru = ["E"]\nswappiness = 60', "world.swappiness"),
        ('actor = "exit"', 'actor = "exit"\nnice = 5', "cpus.1.nice"),
        ('note = "One step each."', 'note = "One step each."\ndelay = 3', "tours.0.segments.0.delay"),
        ('slots = [{ offset = 3, owner = "A" }]', 'slots = [{ offset = 3, owner = "A", size = 4 }]', "world.slots.0.size"),
    ],
)
def test_unknown_field(old: str, new: str, path: str) -> None:
    message = _refused(GOOD.replace(old, new))
    assert f"{path}:" in message
    assert "Extra inputs are not permitted" in message


@pytest.mark.parametrize(
    "drop,path",
    [
        ('title = "A tiny scenario"\n', "title"),
        ('summary = "One shrinker, one process exit."\n', "summary"),
        ('actor = "writeback"\n', "cpus.0.actor"),
        ('lru = ["E"]\n', "world.lru"),
        ('code = "new"\n', "tours.0.code"),
    ],
)
def test_missing_field(drop: str, path: str) -> None:
    assert drop in GOOD
    message = _refused(GOOD.replace(drop, ""))
    assert f"{path}: Field required" in message


def test_missing_world() -> None:
    text = GOOD.split("[world]")[0] + GOOD.split('lru = ["E"]')[1]
    assert "world: Field required" in _refused(text)


def test_unknown_actor() -> None:
    message = _refused(GOOD.replace('actor = "writeback"', 'actor = "teleport"'))
    assert "cpus.0.actor:" in message
    assert "'writeback'" in message and "'swapoff'" in message  # says what was expected


@pytest.mark.parametrize(
    "old,new,path,words",
    [
        ('entries = [{ name = "E", slot = 3 }]', 'entries = [{ name = "E", slot = 7 }]', "world.entries[0].slot", ["7"]),
        ('lru = ["E"]', 'lru = ["E", "Z"]', "world.lru[1]", ["'Z'"]),
        ('process = "A"', 'process = "Nobody"', "cpus[1].process", ["'Nobody'"]),
        ('cpus = "12"', 'cpus = "1232"', "tours[0].segments", ["CPU3"]),
        ('code = "new"', 'code = "newer"', "tours[0].code", ["'newer'", "'old'"]),
    ],
)
def test_dangling_reference(old: str, new: str, path: str, words: list[str]) -> None:
    assert old in GOOD
    message = _refused(GOOD.replace(old, new))
    assert path in message
    for w in words:
        assert w in message


def test_store_on_a_missing_slot() -> None:
    text = GOOD.replace('actor = "exit"\nprocess = "A"', 'actor = "store"\nprocess = "B"\nslot = 9')
    message = _refused(text)
    assert "cpus[1].slot" in message and "9" in message


def test_cpu_ids_must_count_from_one() -> None:
    message = _refused(GOOD.replace("id = 2\n", "id = 3\n"))
    assert "cpus" in message and "[1, 3]" in message


@pytest.mark.parametrize(
    "old,new,path",
    [
        ('id = "tiny"', "id = 7", "id"),  # strict types: no coercion
        ("id = 1\n", 'id = "1"\n', "cpus.0.id"),
        ("id = 1\n", "id = 0\n", "cpus.0.id"),
        ('cpus = "12"', 'cpus = "1x"', "tours.0.segments.0.cpus"),
    ],
)
def test_wrong_types_and_values(old: str, new: str, path: str) -> None:
    assert f"{path}:" in _refused(GOOD.replace(old, new, 1))


def test_not_toml() -> None:
    message = _refused(GOOD + "\n[[[\n")
    assert "not valid TOML" in message


def test_several_problems_are_all_reported() -> None:
    text = GOOD.replace('title = "A tiny scenario"\n', "").replace('lru = ["E"]', 'lru = ["E"]\nextra = 1')
    message = _refused(text)
    assert "title: Field required" in message and "world.extra:" in message


def test_file_name_must_match_id(tmp_path: Path) -> None:
    path = tmp_path / "other-name.toml"
    path.write_text(GOOD)
    with pytest.raises(ScenarioFileError) as info:
        load_file(path)
    assert str(path) in str(info.value) and "id:" in str(info.value) and "'tiny'" in str(info.value)


def test_load_all_of_a_directory_names_the_bad_file(tmp_path: Path) -> None:
    (tmp_path / "tiny.toml").write_text(GOOD)
    assert list(load_all(tmp_path)) == ["tiny"]
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    (bad_dir / "tiny.toml").write_text(GOOD.replace('lru = ["E"]', 'lru = ["Q"]'))
    with pytest.raises(ScenarioFileError) as info:
        load_all(bad_dir)
    assert str(bad_dir / "tiny.toml") in str(info.value) and "world.lru[0]" in str(info.value)
