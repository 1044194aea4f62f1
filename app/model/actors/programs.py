"""Each actor's program listing: the steps it runs, in source order and nested by call depth,
as the stage shows them. Checked at import against the registered actors and steps."""
from __future__ import annotations

from app.model.kernel.engine import ACTORS, STEPS
from app.model import actors as _actors  # noqa: F401  (registers every step and actor)

Listing = tuple[tuple[str, int], ...]  # (step id, nesting depth)


_R = ("R1", "R2", "R3", "R4", "R5", "R5w", "R6", "R7", "R8", "R9")
_I = ("I1", "I2", "I3", "I4", "I5", "I6")
_L = ("L4", "L5", "L6", "L7", "L8", "L9", "L10", "L4d")

def _nest(items: tuple[object, ...], depth: int = 0) -> Listing:
    out: list[tuple[str, int]] = []
    for item in items:
        if isinstance(item, tuple):
            out.extend(_nest(item, depth + 1))
        else:
            out.append((str(item), depth))
    return tuple(out)


_OLD_CB = (
    "O1", "O2", "O3", "O4", "O5", "O6", "O7", "O8", "O9", "O10", "O11", "O12", _R,
    "O13", "O14", "O15a", "O15b", "O15x", _I, "O15y", "O16", "O17a", "O17b", "O17c",
    "O18", "O19", "O20", "O21", "O22", "O23",
)
_NEW_CB = (
    "N1", "N2", "N3", "N4", "N5", _R, "N6", "N7", "N8", "N9", "N10", "N10x", _I, "N10y",
    "N11", "N12", "N13", "N14", "N15", "N16", "N17", "N18", "N19", "N20", "N21", "N22", "N23",
)


def _walker(callback: tuple[object, ...]) -> tuple[object, ...]:
    return ("K1", "K2", "K3", callback, "K4", "K5")


def _replace(items: tuple[object, ...], old: str, new: tuple[object, ...]) -> tuple[object, ...]:
    out: list[object] = []
    for item in items:
        if item == old:
            out.extend(new)
        else:
            out.append(item)
    return tuple(out)


def _without(items: tuple[object, ...], drop: set[str]) -> tuple[object, ...]:
    out: list[object] = []
    skip_next_block = False
    for item in items:
        if isinstance(item, tuple):
            if not skip_next_block:
                out.append(item)
            skip_next_block = False
            continue
        if item in drop:
            skip_next_block = True
            continue
        skip_next_block = False
        out.append(item)
    return tuple(out)


_PRE_SCAN = _nest(_walker(_replace(_OLD_CB, "O19", ("O19p", "O19s"))))

PROGRAMS: dict[str, Listing] = {
    "writeback-old": _nest(_walker(_OLD_CB)),
    "writeback-new": _nest(_walker(_NEW_CB)),
    "writeback-new-no-rotate": _nest(_walker(_replace(_NEW_CB, "N2", ("N2i",)))),
    "writeback-new-tree-before-folio": _nest(
        _walker(_replace(_replace(_NEW_CB, "N5", ("V1", "V2", "V3")), "V3", ("V3",)))
    ),
    "writeback-new-no-recheck": _nest(_walker(_without(_replace(_NEW_CB, "N10", ("N10n",)), {"N10x", "N10y"}))),
    # before patch 1/3: shrink_worker() runs the old code's steps, the memcg shrinker its own O19
    "writeback-pre-lru-skip-fix": _nest(_walker(_OLD_CB)),
    # zswap_shrinker_scan() before 1/3, from kswapd0 or from a task's direct reclaim alike
    "shrinker-pre-lru-skip-fix": _PRE_SCAN,
    "reclaim-pre-lru-skip-fix": _PRE_SCAN,
    "swapoff": _nest(
        (
            "S1", "S2", "S3", "S3a", "S3c", "S3d", _R, "S3d2", _L, "S3e", "S3f", "S3g", "S3h",
            "S3i", _I, "S3j", "S3k", "S3k2", "S3k3", "S3k4", _I, "S3k5", "S3l", "S3m",
            "S4", "S5", "S5b", "S5c", "S6", "S8", "S9",
        )
    ),
    "exit": _nest(("X1", "X2", _I, "X3", _I, "X4", "X5")),
    "swapin": _nest(("L1", "L2", "L3", _R, "L3b", _L, "L11a", "L11b", "L11c")),
    "store": _nest(("T1", "T2", "T3", "T4", "T5", "T6")),
    "io": _nest(("W1",)),
}


# A twin runs its actor's steps (shrinker_scan.py): the same listing.
PROGRAMS.update({a.id: PROGRAMS[a.same_as] for a in ACTORS.values() if a.same_as})


def _check_programs() -> None:
    for actor in ACTORS:
        if actor not in PROGRAMS:
            raise RuntimeError(f"no program listing for actor {actor}")
    for actor, listing in PROGRAMS.items():
        for step, _ in listing:
            if step not in STEPS:
                raise RuntimeError(f"program of {actor} lists unknown step {step}")


_check_programs()
