"""The zswap race model: a pure, immutable state machine with no web imports."""
