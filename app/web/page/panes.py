"""The kernel-state panes as HTML, memoised by what each one shows.

A pane is a function of a few parts of the state's view (the tree pane: the trees, the entries,
the `zswap_trees` pointer), of what the last step changed in it, and of the names the heap gives
the addresses it links. A step leaves most panes' parts as they were, so the page of a state
nobody asked for reuses the HTML its parent's page rendered for them: an unchanged part is
unchanged HTML. Each pane's inputs are listed below next to the template that reads them; a test
renders random walks with the memo and without it and compares every byte.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

from markupsafe import Markup

from app.model.cache import BoundedCache, share, text_size
from app.web.page import render


class PaneContext(Protocol):
    """What a pane reads of the page it is on (app/web/page/context.py's PageContext)."""

    changes: dict[str, list[str]]

    @property
    def linked_names(self) -> tuple[tuple[Any, ...], ...]: ...

    def step_url(self, index: int) -> str: ...


Inputs = Callable[[PaneContext, dict[str, Any]], tuple[Any, ...]]


def _step_urls(ctx: PaneContext, heap: list[dict[str, Any]]) -> tuple[str, ...]:
    """The links of the heap table's "allocated"/"freed" steps."""
    steps = {o[k] for o in heap for k in ("alloc_step", "free_step") if o[k] is not None}
    return tuple(ctx.step_url(s) for s in sorted(steps))


INPUTS: dict[str, Inputs] = {
    "_tree.html": lambda ctx, w: (w["swap"]["type"], w["zswap_trees"], w["trees"], w["entries"],
                                  ctx.changes.get("tree"), ctx.linked_names),
    "_lru.html": lambda ctx, w: (w["lru"], ctx.changes.get("lru"), ctx.linked_names),
    "_swapcache.html": lambda ctx, w: (w["swapcache"], ctx.changes.get("swapcache"), ctx.linked_names),
    "_locks.html": lambda ctx, w: (w["locks"], ctx.changes.get("locks"), ctx.linked_names),
    "_heap_live.html": lambda ctx, w: (w["heap"], ctx.changes.get("heap")),
    "_swap.html": lambda ctx, w: (w["swap"], w["ptes"], ctx.changes.get("swap"), ctx.linked_names),
    "_heap.html": lambda ctx, w: (w["heap"], ctx.changes.get("heap"), _step_urls(ctx, w["heap"])),
}

# A pane is 0.3-3 kB of HTML: 2 % of the cache budget holds about a thousand.
_html = BoundedCache(2048, share(0.02), text_size)
ENABLED = True  # tests turn it off to compare


def html(ctx: PaneContext, view: dict[str, Any], name: str) -> Markup:
    """The rendered pane `name` (one of INPUTS) of this state."""
    if not ENABLED:
        return Markup(render.render(name, ctx=ctx, view=view))
    # repr, not the values: the view's parts are lists and dicts (JSON-shaped, so repr is exact).
    key = (name, repr(INPUTS[name](ctx, view["world"])))
    hit, text = _html.get(key)
    if not hit:
        text = render.render(name, ctx=ctx, view=view)
        _html.put(key, text)
    return Markup(text)


def clear() -> None:
    _html.clear()
