"""Kernel source text that wraps where a reader would: at spaces and punctuation, never inside
an identifier ("swap_zswap_tree(swp_e" / "ntry" is what a browser does on its own when a line
has no space where it has to break)."""
from __future__ import annotations

import re

from markupsafe import Markup, escape

# A break is allowed after "(", "[" and ",", and before "->" and ".": the places a kernel line
# folds when it is too long for the screen. (On escaped text: "->" is "-&gt;".)
_AFTER = re.compile(r"([(\[,])(?=\S)")
_BEFORE = re.compile(r"(?<=[\w)\]])(-&gt;|\.(?=[A-Za-z_]))")


def breakable(text: str) -> Markup:
    """`text` escaped, with <wbr> where a line of code may break besides its spaces; "->" is kept
    whole (a browser may break after any hyphen: "tree-" / ">lock")."""
    s = str(escape(text))
    s = _AFTER.sub(r"\1<wbr>", s)
    s = _BEFORE.sub(r"<wbr>\1", s)
    s = s.replace("-&gt;", '<span class="op">-&gt;</span>')
    return Markup(s)

