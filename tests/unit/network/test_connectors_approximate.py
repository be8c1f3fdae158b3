"""Above the exact limit, connectors come from sampled betweenness, labelled approximate,
with an error against exact that stays small (NetworkX as the reference)."""

from __future__ import annotations

import random

import networkx as nx
import numpy as np

from locmap.network import build_people_graph, find_connectors, find_peer_groups
from locmap.network.connectors import EXACT_MAX_NODES, SAMPLE_SIZE, betweenness_centrality
from locmap.network.model import PersonNode, Tie


def _town(n: int, seed: int = 7) -> nx.Graph:
    """Young people in neighbourhoods of 25 with one tie in ten across the town."""
    rng = random.Random(seed)
    people = [PersonNode(i, f"YP-{i:04}", "young_person") for i in range(n)]
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < 3 * n:
        a = rng.randrange(n)
        b = (a // 25) * 25 + rng.randrange(25) if rng.random() < 0.9 else rng.randrange(n)
        if a != b and b < n:
            pairs.add((min(a, b), max(a, b)))
    return build_people_graph(people, [Tie(a, b, "friend", "neutral") for a, b in pairs])


def test_the_defaults_are_the_measured_ones() -> None:
    assert EXACT_MAX_NODES >= 1_000 and SAMPLE_SIZE == 256


def test_sampled_connectors_are_labelled_approximate_with_a_small_error() -> None:
    graph = _town(250)
    groups = find_peer_groups(graph, seed=1)
    exact = find_connectors(graph, groups, max_connectors=None)
    assert exact.betweenness_exact and exact.betweenness_note.startswith("Exact")
    sampled = find_connectors(graph, groups, exact_max_nodes=200, sample_size=60, seed=2,
                              max_connectors=None)
    assert not sampled.betweenness_exact and sampled.betweenness_sources == 60
    assert sampled.betweenness_note.startswith("Approximate: betweenness estimated from 60 "
                                               "of 250 young people")
    # Sampled values equal NetworkX's k-sample estimate; against exact the error is small.
    reference = nx.betweenness_centrality(graph, k=60, seed=2)
    truth = nx.betweenness_centrality(graph)
    ours = betweenness_centrality(graph, k=60, seed=2)
    assert max(abs(ours[v] - reference[v]) for v in graph) < 1e-12
    err = np.array([abs(ours[v] - truth[v]) for v in graph])
    top = max(truth.values())
    assert err.max() < 0.5 * top and err.mean() < 0.05 * top, (err.max(), err.mean(), top)
    # The connectors found are the same people; only their betweenness (order) differs.
    assert {c.person_id for c in sampled.connectors} == {c.person_id for c in exact.connectors}
