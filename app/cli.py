"""Command line: serve, list scenarios, replay a schedule, check a scenario.

`python -m app` in a checkout, `zswap-race` once the wheel is installed (its console script):

    python -m app [serve] [--host H] [--port P] [--workers N]   serve (same as `make run`)
    python -m app scenarios [--json]
    python -m app replay SCENARIO --code old|new|VARIANT --schedule 1112... [--format text|json|kasan|diagram|diagram-full]
    python -m app check SCENARIO --code CODE [--json] [--max-states N] [--exact] [--cached]
    python -m app check --all [--json]

Bad input exits with status 2 and one line on stderr that names what is wrong.
`check` exits 1 when some interleaving reaches a violation (a livelock, where no run can end,
counts as one), 0 when none does, and
3 when a search stopped at its state budget without finding one (no verdict).
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from typing import Any

# Only what every command needs: each command imports its own part of the model (and only the
# server imports the web stack), so `python -m app scenarios` starts in a fraction of the time.
from app.model.errors import ModelInputError
from app.model.scenarios.scenario import ScenarioFileError


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size() gives it ($COLUMNS, else the terminal
    on stdout, else 80), without importing shutil and the compression modules it pulls in (2.5 ms
    of every command's start-up: argparse asks for the width at every add_argument)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, at the width argparse would find itself (see _columns)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _prog() -> str:
    """The name the user typed: the console script's, else `python -m app`."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name.startswith("zswap-race") else "python -m app"


def _server_options(p: argparse.ArgumentParser, with_defaults: bool) -> None:
    """--host, --port, --workers. The `serve` subcommand repeats them with no defaults of its own
    (argparse.SUPPRESS), so `--port 9000 serve` keeps the port given before the subcommand."""

    def default(value: Any) -> Any:
        return value if with_defaults else argparse.SUPPRESS

    p.add_argument("--host", default=default("127.0.0.1"))
    p.add_argument("--port", type=int, default=default(8000))
    p.add_argument("--workers", type=int, default=default(None), help="uvicorn worker processes (default: "
                   "$ZSWAP_WEB_WORKERS or 1)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=_prog(), description="zswap LRU-writeback vs. swapoff race visualizer "
                "(serves the web app when no command is given)")
    _server_options(p, with_defaults=True)
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    _server_options(sub.add_parser("serve", help="serve the web app (the default)"), with_defaults=False)
    s = sub.add_parser("scenarios", help="list the scenarios, their codes and tours")
    s.add_argument("--json", action="store_true")
    r = sub.add_parser("replay", help="replay a schedule and print the resulting state")
    r.add_argument("scenario")
    r.add_argument("--code", default="old")
    r.add_argument("--schedule", "-t", default="")
    r.add_argument("--format", choices=("text", "json", "kasan", "diagram", "diagram-full"), default="text",
                   help="diagram: the race as a commit message tells it (the story of its violation); "
                        "diagram-full: every step that takes a lock or touches zswap state")
    c = sub.add_parser("check", help="explore every interleaving of a scenario")
    c.add_argument("scenario", nargs="?")
    c.add_argument("--code", default=None)
    c.add_argument("--all", action="store_true")
    c.add_argument("--json", action="store_true")
    c.add_argument("--max-states", type=int, default=2_000_000)
    c.add_argument("--exact", action="store_true",
                   help="no reduction: every interleaving (the 3-CPU scenarios are otherwise reduced)")
    c.add_argument("--cached", action="store_true",
                   help="use the disk cache of verdicts (ZSWAP_VERDICT_CACHE_DIR): read a stored verdict, "
                        "store a computed one; without it, check always searches")
    return p


def _print_scenarios(as_json: bool) -> int:
    from app.model.api import list_scenarios

    data = list_scenarios()
    if as_json:
        import json  # only this form prints JSON

        print(json.dumps(data, indent=2))
        return 0
    for s in data:
        print(f"{s['id']}: {s['title']}")
        print("  cpus:  " + ", ".join(f"CPU{c['id']} {c['actor']}" for c in s["cpus"]))
        print("  codes: " + ", ".join(s["codes"]))
        for t in s["tours"]:
            print(f"  tour {t['name']} ({t['code']}, {len(t['schedule'])} steps): {t['title']}")
    return 0


def _where(line: dict[str, Any]) -> str:
    label = line.get("line_label") or ""
    return f"{line['function']} {line['file']}{(' ' + label) if label else ''}"


def _print_text(view: dict[str, Any]) -> None:
    print(f"{view['title']}  [{view['scenario']}, code={view['code']}, t={view['schedule'] or '(empty)'}]")
    for ev in view["events"]:
        print(f"  {ev['index'] + 1:3} CPU{ev['cpu']} {ev['step']:5} {ev['text']}")  # 1-based, as the UI numbers steps
        print(f"        {ev['narration']}")
    print()
    for cpu in view["cpus"]:
        print(f"CPU{cpu['id']} {cpu['actor']}: {cpu['status_text']}")
        if cpu["next"]:
            print(f"  next: {cpu['next']['text']}   ({_where(cpu['next'])})")
    print(f"enabled: {' '.join(f'CPU{c}' for c in view['enabled']) or 'none'}")
    for v in view["violations"]:
        print()
        print(v["report"])


def _replay(args: argparse.Namespace) -> int:
    from app.model.api import build_view

    view = build_view(args.scenario, args.code, args.schedule)
    if args.format == "json":
        import json

        print(json.dumps(view, indent=2))
    elif args.format == "diagram":  # the race as a commit message draws it (<= 72 columns)
        from app.model.views.diagram import commit_diagram

        sys.stdout.write(commit_diagram(view))
    elif args.format == "diagram-full":  # every race step, nested as in the kernel
        from app.model.views.diagram import full_diagram

        sys.stdout.write(full_diagram(view))
    elif args.format == "kasan":
        from app.model.trace import kasan_text  # the same text as /s/ID/kasan.txt

        text = kasan_text(view)
        sys.stdout.write(text if text else "no KASAN report: no memory error in this run\n")
    else:
        _print_text(view)
    return 0


def _check(args: argparse.Namespace) -> int:
    from app.model.api import with_stories
    from app.model.explorer.explore import check_command

    return check_command(args.scenario, args.code, args.all, args.json, args.max_states, args.exact, args.cached,
                         annotate=with_stories)


def console() -> int:
    """The `zswap-race` console script: main() with the collector off for start-up, as
    app/__main__.py runs it for `python -m app` (the server turns it back on)."""
    gc.disable()
    return main()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command in (None, "serve"):
            from app.model.scenarios.loader import load_all
            from app.web.http.server import serve

            from app.web.rooms.store import refuse_unreachable_store

            load_all()  # a bad scenario file stops the server before it starts, named (exit 2)
            refuse_unreachable_store()  # so does an unreachable ZSWAP_REDIS_URL (each worker checks too)
            gc.enable()  # off for start-up (app/__main__.py); a server runs for long
            serve(args.host, args.port, args.workers)
            return 0
        if args.command == "scenarios":
            return _print_scenarios(args.json)
        if args.command == "replay":
            return _replay(args)
        if args.command == "check":
            return _check(args)
    except ModelInputError as err:
        sys.stderr.write(f"error: {err.message}\n")
        return 2
    except ScenarioFileError as err:
        sys.stderr.write(f"error: bad scenario file: {err}\n")
        return 2
    except BrokenPipeError:
        return 0
    return 2
