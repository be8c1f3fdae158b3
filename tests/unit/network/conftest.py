"""Networks whose answers are known by construction."""

from __future__ import annotations

import pytest

from locmap.network.model import PersonNode, Tie


def young(i: int) -> PersonNode:
    return PersonNode(i, f"YP-{i:03}", "young_person")


def clique_ties(ids: range) -> list[Tie]:
    ids_list = list(ids)
    return [
        Tie(a, b, "friend", "neutral", 2)
        for n, a in enumerate(ids_list)
        for b in ids_list[n + 1 :]
    ]


@pytest.fixture
def two_cliques() -> tuple[list[PersonNode], list[Tie]]:
    """Two 5-cliques (1-5 and 6-10) joined by the single tie 5-6."""
    people = [young(i) for i in range(1, 11)]
    ties = clique_ties(range(1, 6)) + clique_ties(range(6, 11))
    ties.append(Tie(5, 6, "school_peer", "neutral", 1))
    return people, ties
