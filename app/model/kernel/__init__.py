"""The kernel state machine: the world's records, the step engine and its primitives, the quoted lines."""
