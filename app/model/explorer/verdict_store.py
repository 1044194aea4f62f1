"""Computed verdicts kept on disk, so a restarted server or a second worker does not search again.

A verdict is deterministic: it depends only on the model's code, the scenario file, the code id
(old, new, a variant), the prefix it starts from and the reduction. The key is a SHA-256 over
exactly those: every file of app/model (sources and the quoted kernel lines), the scenario
file's text as it was parsed, and the rest. Change any of them and the key changes, so a stale
verdict can never be served; the old file is simply never asked for again and ages out.

Bounded: at most ZSWAP_VERDICT_CACHE_ENTRIES files (default 512) and ZSWAP_VERDICT_CACHE_MB
megabytes (default 32); past either, the least recently used go (a hit refreshes the file's
time). Where: ZSWAP_VERDICT_CACHE_DIR, by default .cache/verdicts in a checkout (gitignored),
$XDG_CACHE_HOME/zswap-race/verdicts for an installed wheel (app/paths.py); ZSWAP_VERDICT_CACHE=0 turns it off. Only complete searches are stored (a search
cut by a budget says more about the machine than about the model). A file that cannot be read
or parsed counts as a miss and is removed; a cache that cannot be written is skipped silently:
the verdict is still computed and served.

The server reads and writes it; `python -m app check` searches unless asked (`--cached`), and
the benchmarks never read it.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from app import paths

MODEL_DIR = paths.MODEL  # every module of the model
DEFAULT_DIR = paths.cache_dir() / "verdicts"
VERSION = "1"  # of the file layout below


def enabled() -> bool:
    return os.environ.get("ZSWAP_VERDICT_CACHE", "1") not in ("0", "", "off", "no")


def directory() -> Path:
    return Path(os.environ.get("ZSWAP_VERDICT_CACHE_DIR") or DEFAULT_DIR)


def max_entries() -> int:
    return max(1, int(os.environ.get("ZSWAP_VERDICT_CACHE_ENTRIES", "512")))


def max_bytes() -> int:
    return max(1, int(float(os.environ.get("ZSWAP_VERDICT_CACHE_MB", "32")) * (1 << 20)))


@lru_cache(maxsize=1)
def model_hash() -> str:
    """SHA-256 over every file of the model package (path and bytes), read once per process."""
    digest = hashlib.sha256()
    for path in sorted(MODEL_DIR.rglob("*")):
        if path.suffix not in (".py", ".toml") or "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(MODEL_DIR)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def key(scenario_source: str, code: str, prefix: str, reduction: str, model: str | None = None) -> str:
    """The file name stem of one verdict; ``scenario_source`` is the hash of the scenario text."""
    parts = (VERSION, model or model_hash(), scenario_source, code, prefix, reduction)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def get(name: str) -> dict[str, Any] | None:
    """The stored verdict, or None (no file, cache off, or a file that does not parse)."""
    if not enabled():
        return None
    path = directory() / f"{name}.json"
    try:
        with path.open("rb") as f:
            result = json.loads(f.read())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        _remove(path)
        return None
    if not isinstance(result, dict) or not result.get("complete"):
        _remove(path)
        return None
    try:
        os.utime(path)  # recently used: pruned last
    except OSError:
        pass
    return result


def put(name: str, result: dict[str, Any]) -> None:
    """Store a complete verdict (atomically: readers see the old file or the new one), then prune."""
    if not enabled() or not result.get("complete"):
        return
    folder = directory()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        data = json.dumps(result, separators=(",", ":")).encode()
        if len(data) > max_bytes():
            return
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, folder / f"{name}.json")
        except BaseException:
            _remove(Path(tmp))
            raise
        prune(folder)
    except OSError:
        return


def prune(folder: Path | None = None) -> None:
    """Drop the least recently used verdicts until both bounds hold."""
    folder = folder or directory()
    files = []
    for path in folder.glob("*.json"):
        if path.name.startswith(".tmp-"):
            continue
        try:
            st = path.stat()
        except OSError:
            continue
        files.append((st.st_mtime, st.st_size, path))
    files.sort(reverse=True)  # newest first
    total = 0
    for n, (_mtime, size, path) in enumerate(files):
        total += size
        if n >= max_entries() or total > max_bytes():
            _remove(path)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
