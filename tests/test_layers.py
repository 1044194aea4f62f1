"""The layers written in pyproject.toml ([tool.importlinter]) hold, and the check catches a crossing.

import-linter counts every import: at module level, inside functions and under TYPE_CHECKING.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")
CONTRACTS = [c["name"] for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]]


def lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first: the checked tree, not the editable install, is the package `app`.
    env = dict(os.environ, PYTHONPATH=str(cwd))
    return subprocess.run([str(LINT), "--config", str(cwd / "pyproject.toml"), "--no-cache"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_every_contract_is_kept() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module, line, contract", [
    # the model reaching up into the web, deferred inside a function
    ("app/model/kernel/state.py", "def _up():\n    from app.web import urls\n", "The program"),
    # the kernel reaching up into the explorer, for a type hint only
    ("app/model/kernel/engine.py",
     "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app.model.explorer import explore\n",
     "The model"),
    # the HTTP plumbing reaching up into the page layer
    ("app/web/http/work.py", "from app.web.page import render\n", "The web"),
])
def test_a_crossed_layer_breaks_its_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / module).open("a") as f:
        f.write("\n" + line)
    result = lint(tmp_path)
    assert result.returncode != 0
    said = " ".join(result.stdout.split())  # lint-imports wraps long contract names
    named = [c for c in CONTRACTS if c.startswith(contract)]
    assert len(named) == 1 and f"{named[0]} BROKEN" in said, result.stdout
