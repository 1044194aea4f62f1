"""Regenerate the README's screenshots of the stage: `.venv/bin/python docs/screenshots.py`.

Starts the real server on a free loopback port, opens the seed scenario's use-after-free tour in
Debian's chromium at 1024x768, 1280x720 and 1920x1080 (light and dark), a few more moments (the
fixed code, a fixed tour's end, the help over the stage, the compact embed), and writes PNGs next
to this file.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from app.localserver import local_server  # noqa: E402
from app.web import modelapi, urls  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SEED = "lru-writeback-vs-swapoff"


def shots() -> list[tuple[str, str, int, int, str, str | None]]:
    """(file name, URL path, width, height, colour scheme, what to do first: None or "help")."""
    tours = {t["name"]: t for t in modelapi.scenario(SEED)["tours"]}
    t = tours["uaf-a"]["schedule"]
    uaf = urls.scenario(SEED, "old", t, "uaf-a")
    fixed = tours["fixed-swapoff-sleeps"]
    out = []
    for w, h in ((1024, 768), (1280, 720), (1920, 1080)):
        for scheme in ("light", "dark"):
            out.append((f"stage-{w}x{h}{'-dark' if scheme == 'dark' else ''}.png", uaf, w, h, scheme, None))
    return out + [
        ("stage-fixed-1280x720.png", urls.scenario(SEED, "new", t), 1280, 720, "light", None),
        ("stage-mid-tour-1280x720.png", urls.scenario(SEED, "old", t[:27], "uaf-a"), 1280, 720, "light", None),
        ("stage-fixed-tour-end-1280x720.png", urls.scenario(SEED, "new", fixed["schedule"], fixed["name"]),
         1280, 720, "light", None),
        ("stage-help-1280x720.png", urls.scenario(SEED, "old", t[:7], "uaf-a"), 1280, 720, "light", "help"),
        ("embed-compact-800x500.png", urls.embed(SEED, "old", t, layout="compact"), 800, 500, "light", None),
    ]


def main() -> None:
    from playwright.sync_api import sync_playwright

    command = ["-m", "uvicorn", "app.web.app:create_app", "--factory", "--host", "127.0.0.1", "--log-level", "warning"]
    with local_server(command, dict(os.environ, ZSWAP_WEB_PRECOMPUTE="0")) as (_, port):
        base = f"http://127.0.0.1:{port}"
        home = tempfile.mkdtemp()
        env = dict(os.environ, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS, env=env)
            for name, path, w, h, scheme, first in shots():
                ctx = browser.new_context(viewport={"width": w, "height": h}, color_scheme=scheme)
                page = ctx.new_page()
                page.goto(base + path)
                page.wait_for_load_state("load")
                if first == "help":
                    page.keyboard.press("?")
                    page.wait_for_selector("dialog#help[open]")
                page.wait_for_timeout(300)
                page.screenshot(path=str(HERE / name))
                ctx.close()
                print("wrote", HERE / name)
            browser.close()


if __name__ == "__main__":
    main()
