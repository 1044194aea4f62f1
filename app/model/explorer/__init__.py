"""The explorer: every interleaving of a scenario searched, with symmetry, interned worlds and a disk cache."""
