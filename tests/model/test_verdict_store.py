"""The disk cache of verdicts: served when the model, the scenario file and the code are those it
was computed for, never after any of them changed; bounded in entries and bytes; `check` reads it
only with --cached."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app import cli
from app.model.explorer import verdict_store
from app.model.explorer.explore import explore, stored_name, verdict
from app.model.scenarios.loader import load_file

ROOT = Path(__file__).resolve().parents[2]
TINY = (ROOT / "tests/model/test_bad_scenarios.py").read_text().split("GOOD = '''")[1].split("'''")[0]


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "verdicts"
    monkeypatch.setenv("ZSWAP_VERDICT_CACHE_DIR", str(folder))
    monkeypatch.delenv("ZSWAP_VERDICT_CACHE", raising=False)
    return folder


def _scenario(tmp_path: Path, text: str = TINY):  # type: ignore[no-untyped-def]
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    return load_file(path)


def _planted(result: dict) -> dict:  # type: ignore[type-arg]
    """A verdict no search can produce: served only if it was read from the cache."""
    return dict(result, states=424242)


def test_a_stored_verdict_is_served_and_equals_the_search(tmp_path: Path, store: Path) -> None:
    s = _scenario(tmp_path)
    computed = verdict(s, "old", cached=True)
    assert len(list(store.glob("*.json"))) == 1
    again = verdict(s, "old", cached=True)
    assert again == json.loads(json.dumps(computed))  # the very result, through JSON
    fresh = explore(s, "old").to_dict()
    assert (again["states"], again["violations"]) == (fresh["states"], fresh["violations"])


def test_a_changed_scenario_file_is_never_served_the_old_verdict(tmp_path: Path) -> None:
    s = _scenario(tmp_path)
    real = verdict(s, "old")
    verdict_store.put(stored_name(s, "old", "", False), _planted(real))
    assert verdict(s, "old", cached=True)["states"] == 424242  # the planted one: the cache is read
    changed = _scenario(tmp_path, TINY.replace("One shrinker, one process exit.", "One shrinker, one exit."))
    assert changed.source_sha != s.source_sha
    assert verdict(changed, "old", cached=True)["states"] == real["states"]


def test_a_changed_model_is_never_served_the_old_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "model"
    shutil.copytree(verdict_store.MODEL_DIR, model, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(verdict_store, "MODEL_DIR", model)
    verdict_store.model_hash.cache_clear()
    try:
        s = _scenario(tmp_path)
        real = verdict(s, "old")
        verdict_store.put(stored_name(s, "old", "", False), _planted(real))
        assert verdict(s, "old", cached=True)["states"] == 424242
        engine = model / "kernel" / "engine.py"
        engine.write_text(engine.read_text() + "\n# a change to the model\n")
        verdict_store.model_hash.cache_clear()  # as a new process would compute it
        assert verdict(s, "old", cached=True)["states"] == real["states"]
    finally:
        verdict_store.model_hash.cache_clear()


def test_code_prefix_and_reduction_are_part_of_the_key(tmp_path: Path) -> None:
    s = _scenario(tmp_path)
    names = {stored_name(s, c, p, r) for c in ("old", "new") for p in ("", "1") for r in (False, True)}
    assert len(names) == 8


def test_the_cache_is_bounded_in_entries_and_bytes(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZSWAP_VERDICT_CACHE_ENTRIES", "3")
    for n in range(5):
        verdict_store.put(f"k{n}", {"complete": True, "n": n})
    assert sorted(p.stem for p in store.glob("*.json")) == ["k2", "k3", "k4"]
    monkeypatch.setenv("ZSWAP_VERDICT_CACHE_MB", str(250 / (1 << 20)))  # 250 bytes
    verdict_store.put("big", {"complete": True, "pad": "x" * 150})
    total = sum(p.stat().st_size for p in store.glob("*.json"))
    assert total <= 250 and (store / "big.json").exists()


def test_unreadable_or_incomplete_files_are_misses_and_removed(store: Path) -> None:
    store.mkdir(parents=True)
    (store / "bad.json").write_text("{not json")
    assert verdict_store.get("bad") is None and not (store / "bad.json").exists()
    verdict_store.put("cut", {"complete": False})
    assert not (store / "cut.json").exists()


def test_the_cache_can_be_turned_off(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZSWAP_VERDICT_CACHE", "0")
    verdict_store.put("k", {"complete": True})
    assert verdict_store.get("k") is None and not store.exists()


def test_check_searches_unless_asked_for_the_cache(capsys: pytest.CaptureFixture[str]) -> None:
    from app.model.scenarios.loader import load_all

    s = load_all()["two-shrinkers"]
    real = verdict(s, "old")
    verdict_store.put(stored_name(s, "old", "", False), _planted(real))
    assert cli.main(["check", "two-shrinkers", "--code", "old", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["states"] == real["states"]
    assert cli.main(["check", "two-shrinkers", "--code", "old", "--json", "--cached"]) == 0
    assert json.loads(capsys.readouterr().out)["states"] == 424242


def test_exact_turns_the_reduction_off(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from app.model.explorer import explore as explore_module

    monkeypatch.setattr(explore_module, "REDUCED", {"two-shrinkers"})
    assert cli.main(["check", "two-shrinkers", "--code", "new", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reduction"] == "local-steps"
    assert cli.main(["check", "two-shrinkers", "--code", "new", "--json", "--exact"]) == 0
    assert json.loads(capsys.readouterr().out)["reduction"] == "none"
