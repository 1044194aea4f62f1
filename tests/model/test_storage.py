"""The explorer's compact storage (app/model/explorer/storage.py) and its path count: the visited
table answers as a dict would, through its growth, and the count of paths over the graph's flat
arrays agrees with counting every path one by one, with edges back and with cycles."""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.explorer.explore import _count_paths
from app.model.explorer.storage import Graph, Visited


@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=400))
@settings(max_examples=60, deadline=None)
def test_visited_answers_as_a_dict_does(hashes: list[int]) -> None:
    table, expected = Visited(size=8), {}  # tiny: it grows many times
    for n, hashed in enumerate(hashes):
        assert table.setdefault(hashed, n) == expected.setdefault(hashed, n)
    assert len(table) == len(expected)
    for hashed, state in expected.items():
        assert table.setdefault(hashed, -5) == state


def test_visited_keeps_colliding_hashes_apart() -> None:
    # Same low bits: they probe the same slots; -2 is the hash Python gives -1.
    table = Visited(size=16)
    colliding = [5, 5 + 16, 5 + 32, -(2**63) + 5, hash(-1)]
    for n, hashed in enumerate(colliding):
        assert table.setdefault(hashed, n) == n
    assert [table.setdefault(h, 99) for h in colliding] == list(range(len(colliding)))


def _graph(children: list[list[int]]) -> Graph:
    graph = Graph()
    for kids in children:
        graph.append(kids)
    return graph


def test_count_paths_in_a_diamond_with_an_edge_back() -> None:
    # 0 -> 1, 2; 2 -> 1 (an edge to a state numbered before its source); 1 -> 3; 2 -> 3
    graph = _graph([[1, 2], [3], [1, 3], []])
    assert _count_paths(graph) == [1, 2, 1, 3]


def test_count_paths_finds_a_cycle() -> None:
    assert _count_paths(_graph([[1], [2], [1, 3], []])) is None
    assert _count_paths(_graph([[0]])) is None


@given(st.integers(min_value=1, max_value=14), st.integers(min_value=0, max_value=2**32))
@settings(max_examples=80, deadline=None)
def test_count_paths_agrees_with_enumerating_them(n: int, seed: int) -> None:
    rng = random.Random(seed)
    order = list(range(1, n))
    rng.shuffle(order)
    rank = {0: 0, **{s: i + 1 for i, s in enumerate(order)}}  # a topological order unlike the numbering
    children = [[c for c in range(n) if rank[c] > rank[s] and rng.random() < 0.3] for s in range(n)]
    if rng.random() < 0.3 and n > 1:  # now and then a cycle
        a, b = rng.sample(range(n), 2)
        children[a].append(b)
        children[b].append(a)
    graph = _graph(children)
    assert _count_paths(graph) == _enumerated(children)


def _enumerated(children: list[list[int]]) -> list[int] | None:
    """Every path from state 0 walked one by one (small graphs only); None on a cycle reachable or not."""
    def cyclic(s: int, on_path: set[int]) -> bool:
        return s in on_path or any(cyclic(c, on_path | {s}) for c in children[s])

    if any(cyclic(s, set()) for s in range(len(children))):
        return None
    paths = [0] * len(children)

    def walk(s: int) -> None:
        paths[s] += 1
        for c in children[s]:
            walk(c)

    walk(0)
    return paths
