"""The wheel as a user gets it: built from this checkout, installed in a fresh virtualenv with the
locked dependencies (requirements/run.txt, hashes required), and run from a folder that is not the
checkout, with nothing of the checkout on the path.

Bounded: every command has a timeout; the server is stopped through its process object.
"""
from __future__ import annotations

import http.client
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app.localserver import HOST, local_server

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[1]
DATA_FOLDERS = ("scenarios", "templates", "static")  # top-level in the checkout, app/<folder>/ in the wheel


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build --wheel` of the checkout, with the locked hatchling (no build isolation)."""
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty folder to run from, far from the checkout."""
    return tmp_path_factory.mktemp("elsewhere")


@pytest.fixture(scope="module")
def user_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH (ours points at the checkout), a home and
    a cache folder of its own, and none of the project's settings."""
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "ZSWAP_", "VIRTUAL_ENV")) and k != "XDG_CACHE_HOME"}
    return {**env, "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache")}


@pytest.fixture(scope="module")
def venv_bin(wheel: Path, outside: Path, user_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding the locked run dependencies and the wheel: its bin/ folder."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120, env=user_env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    for args in (["--require-hashes", "-r", str(ROOT / "requirements" / "run.txt")], ["--no-deps", str(wheel)]):
        r = subprocess.run(pip + args, cwd=outside, env=user_env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return venv / "bin"


def test_the_wheel_holds_every_module_scenario_template_and_static_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {"app/" + p.relative_to(ROOT).as_posix() for folder in DATA_FOLDERS for p in _files(ROOT / folder)}
    wanted |= {p.relative_to(ROOT).as_posix() for p in _files(ROOT / "app")}  # modules and kernel_lines.toml
    assert any(n.startswith("app/scenarios/") for n in wanted) and "app/model/kernel/kernel_lines.toml" in wanted
    assert sorted(wanted - names) == []
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "zswap-race = app.cli:console" in zipfile.ZipFile(wheel).read(entry_points).decode()


def _run(program: Path, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(program), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_installed_package_finds_its_data_inside_itself_and_caches_in_the_users_folder(venv_bin, outside,
                                                                                             user_env):
    r = _run(venv_bin / "python", "-c", "from app import paths; print(paths.INSTALLED, paths.DATA, paths.cache_dir())",
             cwd=outside, env=user_env)
    assert r.returncode == 0, r.stderr
    installed, data, cache = r.stdout.split()
    assert installed == "True"
    assert Path(data).is_relative_to(venv_bin.parent.resolve()) and Path(data).name == "app"
    assert cache == str(Path(user_env["XDG_CACHE_HOME"]) / "zswap-race")


def test_zswap_race_scenarios_runs_outside_the_checkout(venv_bin, outside, user_env):
    r = _run(venv_bin / "zswap-race", "scenarios", cwd=outside, env=user_env)
    assert r.returncode == 0, r.stderr
    listed = {line.split(":")[0] for line in r.stdout.splitlines() if line and not line.startswith(" ")}
    assert listed == {p.stem for p in (ROOT / "scenarios").glob("*.toml")}
    bad = _run(venv_bin / "zswap-race", "replay", "no-such-scenario", cwd=outside, env=user_env)
    assert bad.returncode == 2 and "no-such-scenario" in bad.stderr and "Traceback" not in bad.stderr


def _get(port: int, path: str) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.getheader("content-type") or "", r.read()
    finally:
        conn.close()


def test_zswap_race_serve_answers_a_page_and_a_static_file(venv_bin, outside, user_env):
    with local_server(["serve", "--host", HOST], env=user_env, cwd=outside, program=[str(venv_bin / "zswap-race")],
                      timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as (_, port):
        status, kind, body = _get(port, "/")
        assert status == 200 and kind.startswith("text/html"), body[:300]
        stage = _get(port, "/s/lru-writeback-vs-swapoff?code=old&t=1")
        assert stage[0] == 200 and b"shrink_memcg_cb" in stage[2]
        status, kind, body = _get(port, "/static/app.css")
        assert status == 200 and "css" in kind and body == (ROOT / "static" / "app.css").read_bytes()
