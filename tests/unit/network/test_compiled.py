"""The compiled ports return exactly what NetworkX returns.

``locmap.network._louvain`` replays ``nx.community.louvain_communities`` step for step
(same shuffles, same gain order, same aggregation, same stop rule): the partition must be
the same list of sets in the same order, and the modularity the same float, on graphs of
every shape the port could get wrong — shuffled node and edge insertion orders (which fix
NetworkX's iteration orders), weights 1-3, self-loops, isolated nodes, several
components, resolutions other than 1, and a graph large enough for several levels.
``cut_points_and_bridges`` must give NetworkX's articulation points and bridges.
"""

from __future__ import annotations

import random

import networkx as nx
import pytest

from locmap.network._louvain import louvain, louvain_communities
from locmap.network.connectors import cut_points_and_bridges


def _random_graph(seed: int) -> nx.Graph:
    rng = random.Random(seed)
    n = rng.randint(2, 150)
    g = nx.gnp_random_graph(n, rng.uniform(0.01, 0.25), seed=seed)
    if rng.random() < 0.3:  # dense clusters joined loosely, as peer groups are
        g = nx.relaxed_caveman_graph(rng.randint(2, 8), rng.randint(3, 12), 0.1, seed=seed)
    h = nx.Graph()
    nodes = list(g)
    rng.shuffle(nodes)
    h.add_nodes_from(nodes)
    edges = list(g.edges())
    rng.shuffle(edges)
    h.add_edges_from((b, a) if rng.random() < 0.5 else (a, b) for a, b in edges)
    for a, b in h.edges():
        h[a][b]["weight"] = rng.randint(1, 3)
    if rng.random() < 0.2:
        h.add_edge(nodes[0], nodes[0], weight=2)
    return h


@pytest.mark.parametrize("seed", range(120))
def test_louvain_is_networkx_louvain(seed: int) -> None:
    g = _random_graph(seed)
    rng = random.Random(-seed)
    resolution = rng.choice([1, 1.0, 0.5, 1.7, 3])
    louvain_seed = rng.randrange(10**6)
    ours, q = louvain(g, resolution=resolution, seed=louvain_seed)
    theirs = nx.community.louvain_communities(g, resolution=resolution, seed=louvain_seed)
    assert ours == theirs
    if g.number_of_edges():
        assert q == nx.community.modularity(g, theirs, resolution=resolution)


def test_louvain_on_a_large_graph_with_several_levels() -> None:
    g = nx.relaxed_caveman_graph(60, 20, 0.15, seed=3)
    rng = random.Random(3)
    for a, b in g.edges():
        g[a][b]["weight"] = rng.randint(1, 3)
    for seed in (0, 1, 2):
        assert louvain_communities(g, seed=seed) == nx.community.louvain_communities(
            g, seed=seed)


def test_louvain_falls_back_to_networkx_for_other_weights() -> None:
    g = nx.karate_club_graph()  # weights are ints; make them fractional
    for a, b in g.edges():
        g[a][b]["weight"] = g[a][b]["weight"] / 3
    ours, q = louvain(g, seed=4)
    theirs = nx.community.louvain_communities(g, seed=4)
    assert ours == theirs
    assert q == nx.community.modularity(g, theirs)


def test_louvain_without_edges_returns_singletons() -> None:
    g = nx.empty_graph(3)
    assert louvain(g) == ([{0}, {1}, {2}], None)


def test_louvain_refuses_directed_graphs() -> None:
    with pytest.raises(ValueError, match="undirected"):
        louvain(nx.DiGraph([(1, 2)]))


@pytest.mark.parametrize("seed", range(60))
def test_cut_points_and_bridges_are_networkx_s(seed: int) -> None:
    rng = random.Random(seed)
    g = _random_graph(seed)
    if rng.random() < 0.4:  # trees and forests: every edge a bridge
        g = nx.random_labeled_tree(rng.randint(1, 60), seed=seed)
        g.add_nodes_from(range(1000, 1000 + rng.randint(0, 3)))
    cut, bridges = cut_points_and_bridges(g)
    assert cut == set(nx.articulation_points(g))
    assert {frozenset(e) for e in bridges} == {frozenset(e) for e in nx.bridges(g)}
    assert len(bridges) == len(set(nx.bridges(g)))
