"""Where the program's files are, in a checkout and in an installed wheel: the one answer.

The repository keeps its data beside the package (`scenarios/`, `templates/`, `static/` at the
top level); the wheel carries them inside it (`app/scenarios/`, ...: pyproject.toml's
`[tool.hatch.build.targets.wheel.force-include]`). Whichever layout this package sits in, the
folder holding `templates/` is the data root. The package folder comes from `__file__` rather
than `importlib.resources.files("app")`: for a package on disk (pip always unpacks a wheel) the two
are the same folder, Jinja and Starlette need a real folder anyway, and importing
importlib.resources would add some 6 ms to every command's start-up (issue 12).

Written files go to the cache: `.cache/` in a checkout (gitignored, as before), and in an
installed wheel, whose site-packages may be read-only and is no place for them, the user's cache
folder, `$XDG_CACHE_HOME/zswap-race` (by default `~/.cache/zswap-race`).

Nothing here imports the rest of the program: every layer may ask it (pyproject.toml's contracts).
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# Installed: the wheel put the data inside the package. A checkout (or an editable install of
# one): the data sits beside the package, at the top of the repository.
INSTALLED = (PACKAGE / "templates").is_dir()
DATA = PACKAGE if INSTALLED else PACKAGE.parent

SCENARIOS = DATA / "scenarios"
TEMPLATES = DATA / "templates"
STATIC = DATA / "static"
MODEL = PACKAGE / "model"  # the model's sources, whose hash keys the verdict cache
KERNEL_LINES = MODEL / "kernel" / "kernel_lines.toml"  # the quoted kernel lines (GPL-2.0)

APP_NAME = "zswap-race"  # the console script, and the user cache folder's name


def cache_dir() -> Path:
    """Where the program may write: the checkout's `.cache/`, else the user's cache folder."""
    if not INSTALLED:
        return DATA / ".cache"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):  # the XDG spec: a relative value is invalid and ignored
        return Path(xdg) / APP_NAME
    home = os.path.expanduser("~")
    if os.path.isabs(home):
        return Path(home) / ".cache" / APP_NAME
    import tempfile  # no home folder at all (rare: a bare service account); not worth its start-up

    return Path(tempfile.gettempdir()) / APP_NAME
