"""Actor programs: each module registers its steps (by spec id) and actors."""
from app.model.actors import common, lru_walk, readahead, invalidate, zswap_load  # noqa: F401
from app.model.actors import (
    writeback_old,
    writeback_new,
    writeback_pre,
    variants,
    shrinker_scan,
    swapoff,
    exit_process,
    swapin,
    store,
    io_completion,
)  # noqa: F401
