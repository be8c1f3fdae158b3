"""Connectors: young people whose ties span peer groups, found by betweenness and cut points.

A *connector* is a young person who lies on many of the shortest paths between other young
people (betweenness centrality), whose removal would split their part of the network (an
articulation point), or whose friends sit in two or more groups. Support offered through a
connector can reach several groups at once; that is the whole use of the word here.

Betweenness is computed with Brandes' algorithm run as batched breadth-first searches on a
sparse adjacency matrix (numpy/scipy), giving the same numbers as
``networkx.betweenness_centrality`` — exactly, or with the same ``k`` sampled sources for
the same ``seed`` — at a fraction of the time. Above ``exact_max_nodes`` young people the
sources are sampled; docs/perf/network.md records the error measured against exact values.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp

from locmap.network._serial import to_jsonable
from locmap.network.groups import PeerGroups, young_people_graph
from locmap.network.model import NodeId, check_graph

__all__ = ["Bridge", "Connector", "Connectors", "betweenness_centrality", "find_connectors"]

_BATCH_CELLS = 1 << 21  # n x batch cells per BFS batch: ~16 MB per float64 array


def _is_int(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _brandes_raw(adjacency: sp.csr_array, sources: np.ndarray) -> np.ndarray:
    """Sum Brandes' dependencies over ``sources`` (unnormalised, endpoints excluded)."""
    n = adjacency.shape[0]
    total = np.zeros(n)
    batch = max(1, _BATCH_CELLS // max(n, 1))
    for start in range(0, len(sources), batch):
        src = sources[start : start + batch]
        cols = np.arange(len(src))
        depth = np.full((n, len(src)), -1, dtype=np.int32)
        sigma = np.zeros((n, len(src)))
        depth[src, cols] = 0
        sigma[src, cols] = 1.0
        frontier = np.zeros((n, len(src)))
        frontier[src, cols] = 1.0
        levels: list[tuple[np.ndarray, np.ndarray]] = [(src, cols)]
        while True:
            # Path counts into unvisited nodes from the current frontier (one BFS level).
            reach = adjacency @ frontier
            rows, cs = np.nonzero((reach > 0) & (depth < 0))
            if rows.size == 0:
                break
            depth[rows, cs] = len(levels)
            sigma[rows, cs] = reach[rows, cs]
            frontier[levels[-1]] = 0.0
            frontier[rows, cs] = reach[rows, cs]
            levels.append((rows, cs))
        delta = np.zeros((n, len(src)))
        coeff = np.zeros((n, len(src)))
        for level in range(len(levels) - 1, 0, -1):
            rows, cs = levels[level]
            coeff[rows, cs] = (1.0 + delta[rows, cs]) / sigma[rows, cs]
            back = adjacency @ coeff
            coeff[rows, cs] = 0.0
            prows, pcs = levels[level - 1]
            delta[prows, pcs] += sigma[prows, pcs] * back[prows, pcs]
        delta[src, cols] = 0.0
        total += delta.sum(axis=1)
    return total


def betweenness_centrality(
    graph: nx.Graph, *, k: int | None = None, seed: int = 0
) -> dict[NodeId, float]:
    """Normalised betweenness centrality of an undirected, unweighted graph.

    Parameters
    ----------
    graph : networkx.Graph
        Any undirected graph; edge weights are ignored (every tie is one step).
    k : int, optional
        Number of sampled source nodes (2 <= k <= number of nodes); None for exact.
    seed : int
        Seed of the source sample, drawn exactly as NetworkX draws it.

    Returns
    -------
    dict
        Node -> betweenness, equal (to rounding) to
        ``networkx.betweenness_centrality(graph, k=k, seed=seed)``.

    Examples
    --------
    >>> import networkx as nx
    >>> betweenness_centrality(nx.path_graph(3))
    {0: 0.0, 1: 1.0, 2: 0.0}

    Notes
    -----
    Brandes' accumulation over breadth-first searches from many sources at once: each BFS
    level is one sparse-matrix product with an (n x batch) block. Sampled values are
    rescaled as NetworkX 3.6 does (source nodes by 1/((k-1)(n-2)), others by 1/(k(n-2))).

    References
    ----------
    ``networkx.betweenness_centrality``; Brandes, U. (2001) "A faster algorithm for
    betweenness centrality", J. Math. Sociol. 25(2); Brandes, U. and Pich, C. (2007)
    "Centrality estimation in large networks", Int. J. Bifurcation and Chaos 17(7).
    """
    if not isinstance(graph, nx.Graph) or graph.is_directed() or graph.is_multigraph():
        raise ValueError("graph must be an undirected networkx.Graph")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    nodes = list(graph.nodes())
    n = len(nodes)
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= n):
        raise ValueError(f"k must be an int with 2 <= k <= {n} (the number of nodes), got {k!r}")
    if k is None:
        sources = nodes
    else:
        sources = random.Random(seed).sample(nodes, k)
    index = {node: i for i, node in enumerate(nodes)}
    index = {node: i for i, node in enumerate(nodes)}
    # Self-loops never lie on a shortest path, so they are left out of the adjacency.
    ends = np.array(
        [(index[a], index[b]) for a, b in graph.edges() if a != b], dtype=np.intp
    ).reshape(-1, 2)
    adjacency = sp.csr_array(
        (
            np.ones(2 * len(ends)),
            (np.concatenate([ends[:, 0], ends[:, 1]]), np.concatenate([ends[:, 1], ends[:, 0]])),
        ),
        shape=(n, n),
    )
    raw = _brandes_raw(adjacency, np.array([index[s] for s in sources], dtype=np.intp))
    if n - 1 < 2:
        return dict.fromkeys(nodes, 0.0)
    if k is None:
        raw *= 1.0 / ((n - 1) * (n - 2))
    else:
        sampled = np.zeros(n, dtype=bool)
        sampled[[index[s] for s in sources]] = True
        raw *= np.where(sampled, 1.0 / ((k - 1) * (n - 2)), 1.0 / (k * (n - 2)))
    return {node: float(raw[i]) for i, node in enumerate(nodes)}


@dataclass(frozen=True)
class Connector:
    """A young person whose ties reach beyond one group (see the module docstring)."""

    person_id: NodeId
    pseudonym: str
    group: str | None
    betweenness: float
    groups_reached: tuple[str, ...]
    is_articulation_point: bool
    bridges: int


@dataclass(frozen=True)
class Bridge:
    """A tie between young people whose loss would disconnect part of their network."""

    a_id: NodeId
    b_id: NodeId
    a_group: str | None
    b_group: str | None


@dataclass(frozen=True)
class Connectors:
    """Connectors (highest betweenness first), bridges and articulation points."""

    connectors: tuple[Connector, ...]
    connector_count: int
    bridges: tuple[Bridge, ...]
    articulation_points: tuple[NodeId, ...]
    betweenness_exact: bool
    betweenness_sources: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        out: dict[str, Any] = to_jsonable(self)
        return out


def find_connectors(
    graph: nx.Graph,
    groups: PeerGroups,
    *,
    exact_max_nodes: int = 2000,
    sample_size: int = 256,
    seed: int = 0,
    max_connectors: int | None = 50,
) -> Connectors:
    """Find connectors, bridges and articulation points among young people.

    Parameters
    ----------
    graph : networkx.Graph
        A people graph from :func:`~locmap.network.model.build_people_graph`.
    groups : PeerGroups
        Its peer groups, from :func:`~locmap.network.groups.find_peer_groups`.
    exact_max_nodes : int
        Exact betweenness up to this many young people; above it, ``sample_size``
        sampled sources (seeded).
    sample_size : int
        Number of sampled sources (>= 2) when sampling.
    seed : int
        Seed of the source sample.
    max_connectors : int or None
        Keep this many connectors (highest betweenness first); None keeps all.

    Returns
    -------
    Connectors
        A young person is a connector if they are an articulation point of the
        young-people graph or their neighbours (with themselves) span two or more groups.

    Examples
    --------
    >>> from locmap.network.model import PersonNode, Tie, build_people_graph
    >>> from locmap.network.groups import find_peer_groups
    >>> people = [PersonNode(i, f"YP-{i}", "young_person") for i in range(1, 4)]
    >>> g = build_people_graph(people, [Tie(1, 2, "friend", "neutral"),
    ...                                 Tie(2, 3, "friend", "neutral")])
    >>> find_connectors(g, find_peer_groups(g)).articulation_points
    (2,)

    References
    ----------
    ``networkx.betweenness_centrality``, ``networkx.bridges``,
    ``networkx.articulation_points`` on the young-people graph.
    """
    check_graph(graph, "people")
    if not isinstance(groups, PeerGroups):
        raise ValueError("groups must be a PeerGroups from find_peer_groups")
    if not _is_int(exact_max_nodes, 0):
        raise ValueError(f"exact_max_nodes must be an int >= 0, got {exact_max_nodes!r}")
    if not _is_int(sample_size, 2):
        raise ValueError(f"sample_size must be an int >= 2, got {sample_size!r}")
    if max_connectors is not None and not _is_int(max_connectors, 0):
        raise ValueError(f"max_connectors must be None or an int >= 0, got {max_connectors!r}")
    young = young_people_graph(graph)
    n = young.number_of_nodes()
    exact = n <= exact_max_nodes or n <= sample_size
    scores = betweenness_centrality(young, k=None if exact else sample_size, seed=seed)
    cut_points = set(nx.articulation_points(young))
    # An edge is a bridge exactly when it is a biconnected component on its own; this is
    # several times faster than nx.bridges' chain decomposition on large graphs.
    bridge_edges = [
        c[0] for c in nx.biconnected_component_edges(young) if len(c) == 1
    ]
    bridge_count: dict[NodeId, int] = {}
    for a, b in bridge_edges:
        bridge_count[a] = bridge_count.get(a, 0) + 1
        bridge_count[b] = bridge_count.get(b, 0) + 1
    group_of = groups.group_of
    found: list[Connector] = []
    for person in young:
        reached = {group_of[m] for m in (person, *young[person]) if m in group_of}
        if person in cut_points or len(reached) >= 2:
            found.append(
                Connector(
                    person_id=person,
                    pseudonym=young.nodes[person]["pseudonym"],
                    group=group_of.get(person),
                    betweenness=scores[person],
                    groups_reached=tuple(sorted(reached, key=lambda lbl: (len(lbl), lbl))),
                    is_articulation_point=person in cut_points,
                    bridges=bridge_count.get(person, 0),
                )
            )
    found.sort(key=lambda c: (-c.betweenness, c.pseudonym))
    rank = {node: i for i, node in enumerate(young)}
    bridges = sorted(
        (tuple(sorted(e, key=rank.__getitem__)) for e in bridge_edges),
        key=lambda e: (rank[e[0]], rank[e[1]]),
    )
    return Connectors(
        connectors=tuple(found if max_connectors is None else found[:max_connectors]),
        connector_count=len(found),
        bridges=tuple(Bridge(a, b, group_of.get(a), group_of.get(b)) for a, b in bridges),
        articulation_points=tuple(sorted(cut_points, key=rank.__getitem__)),
        betweenness_exact=exact,
        betweenness_sources=n if exact else sample_size,
    )
