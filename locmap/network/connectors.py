"""Connectors: young people whose ties span peer groups, found by betweenness and cut points.

A *connector* is a young person who lies on many of the shortest paths between other young
people (betweenness centrality), whose removal would split their part of the network (an
articulation point), or whose friends sit in two or more groups. Support offered through a
connector can reach several groups at once; that is the whole use of the word here.

Betweenness is computed with Brandes' algorithm — one breadth-first search per source over
a compressed sparse adjacency, compiled with numba — giving the same numbers as
``networkx.betweenness_centrality`` — exactly, or with the same ``k`` sampled sources for
the same ``seed`` — at a fraction of the time. Above :data:`EXACT_MAX_NODES` young people
(the largest network computed exactly within 2 s) :data:`SAMPLE_SIZE` sources are sampled
and the result says "approximate"; docs/performance.md records the measured time and error.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
from numba import njit

from locmap.network._serial import to_jsonable
from locmap.network.groups import PeerGroups, young_people_graph
from locmap.network.model import NodeId, check_graph

__all__ = [
    "EXACT_MAX_NODES",
    "SAMPLE_SIZE",
    "Bridge",
    "Connector",
    "Connectors",
    "betweenness_centrality",
    "cut_points_and_bridges",
    "find_connectors",
]

_PARALLEL_MIN_SOURCES = 64  # below this a second thread costs more than it saves

# Exact betweenness up to the largest network whose exact computation runs within 2 s on
# the reference machine (2 cores; bench/bench_betweenness_exact.py, docs/performance.md);
# above it SAMPLE_SIZE sources are sampled and the connectors are labelled approximate.
EXACT_MAX_NODES = 4_000
SAMPLE_SIZE = 256
# Measured error of the sampled values against exact on 4,500 young people, 5 seeds (ibid.).
SAMPLED_ERROR = "max abs error 5e-3, mean 3e-4; 26-31 of the top 50 the same"


def _is_int(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


@njit(cache=True, nogil=True)
def _brandes_raw(indptr: np.ndarray, nbr: np.ndarray,
                 sources: np.ndarray) -> np.ndarray:  # pragma: no cover (compiled)
    """Sum Brandes' dependencies over ``sources`` (unnormalised, endpoints excluded).

    One breadth-first search per source over the CSR adjacency ``indptr/nbr``; the
    visited nodes are kept in BFS order so the dependencies accumulate in reverse of it.
    """
    n = indptr.shape[0] - 1
    total = np.zeros(n)
    sigma = np.zeros(n)
    delta = np.zeros(n)
    dist = np.full(n, -1, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    for s in sources:
        sigma[s] = 1.0
        dist[s] = 0
        order[0] = s
        head, tail = 0, 1
        while head < tail:
            v = order[head]
            head += 1
            for j in range(indptr[v], indptr[v + 1]):
                w = nbr[j]
                if dist[w] < 0:
                    dist[w] = dist[v] + 1
                    order[tail] = w
                    tail += 1
                if dist[w] == dist[v] + 1:
                    sigma[w] += sigma[v]
        for i in range(tail - 1, 0, -1):
            w = order[i]
            coeff = (1.0 + delta[w]) / sigma[w]
            for j in range(indptr[w], indptr[w + 1]):
                v = nbr[j]
                if dist[v] == dist[w] - 1:
                    delta[v] += sigma[v] * coeff
            total[w] += delta[w]
        for i in range(tail):  # reset only what this search touched
            w = order[i]
            sigma[w] = 0.0
            delta[w] = 0.0
            dist[w] = -1
    return total


@njit(cache=True)
def _cut_points_and_bridges(
    indptr: np.ndarray, nbr: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover (compiled)
    """Articulation points (a mask) and bridges (rows of two node indices) of a simple
    undirected graph in CSR form: Hopcroft and Tarjan's low-point depth-first search,
    iterative, one pass for both.
    """
    n = indptr.shape[0] - 1
    disc = np.full(n, -1, dtype=np.int64)
    low = np.zeros(n, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    nxt = np.zeros(n, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)
    cut = np.zeros(n, dtype=np.bool_)
    bridges = np.empty((n, 2), dtype=np.int64)  # a forest has fewer than n bridges
    nb = 0
    clock = 0
    for root in range(n):
        if disc[root] >= 0:
            continue
        disc[root] = clock
        low[root] = clock
        clock += 1
        nxt[root] = indptr[root]
        stack[0] = root
        top = 0
        root_children = 0
        while top >= 0:
            v = stack[top]
            if nxt[v] < indptr[v + 1]:
                w = nbr[nxt[v]]
                nxt[v] += 1
                if w == v or w == parent[v]:
                    continue
                if disc[w] < 0:
                    parent[w] = v
                    disc[w] = clock
                    low[w] = clock
                    clock += 1
                    nxt[w] = indptr[w]
                    top += 1
                    stack[top] = w
                    if v == root:
                        root_children += 1
                elif disc[w] < low[v]:
                    low[v] = disc[w]
            else:
                top -= 1
                if top >= 0:
                    p = stack[top]
                    if low[v] < low[p]:
                        low[p] = low[v]
                    if low[v] > disc[p]:
                        bridges[nb, 0] = p
                        bridges[nb, 1] = v
                        nb += 1
                    if p != root and low[v] >= disc[p]:
                        cut[p] = True
        if root_children >= 2:
            cut[root] = True
    return cut, bridges[:nb]


# Nodes, node -> index, and the CSR adjacency (indptr, neighbour indices).
_Csr = tuple[list[NodeId], dict[NodeId, int], np.ndarray, np.ndarray]


def _csr(graph: nx.Graph) -> _Csr:
    """Nodes, their indices and the CSR adjacency (self-loops left out) of ``graph``."""
    nodes = list(graph.nodes())
    index = {node: i for i, node in enumerate(nodes)}
    ends = np.array(
        [(index[a], index[b]) for a, b in graph.edges() if a != b], dtype=np.int64
    ).reshape(-1, 2)
    adjacency = sp.csr_array(
        (
            np.ones(2 * len(ends)),
            (np.concatenate([ends[:, 0], ends[:, 1]]), np.concatenate([ends[:, 1], ends[:, 0]])),
        ),
        shape=(len(nodes), len(nodes)),
    )
    return nodes, index, adjacency.indptr.astype(np.int64), adjacency.indices.astype(np.int64)


def cut_points_and_bridges(graph: nx.Graph) -> tuple[set[NodeId], list[tuple[NodeId, NodeId]]]:
    """The articulation points and the bridges of an undirected graph, in one pass.

    The same sets as ``set(nx.articulation_points(graph))`` and ``set(nx.bridges(graph))``
    (each bridge as a pair in either order), from one compiled depth-first search instead
    of NetworkX's two pure-Python ones.

    Examples
    --------
    >>> cut, bridges = cut_points_and_bridges(nx.path_graph(3))
    >>> cut, sorted(bridges)
    ({1}, [(0, 1), (1, 2)])

    References
    ----------
    Hopcroft, J. and Tarjan, R. (1973) "Algorithm 447: efficient algorithms for graph
    manipulation", Comm. ACM 16(6); ``networkx.articulation_points``, ``networkx.bridges``.
    """
    return _cut_points_and_bridges_of(_csr(graph))



def _cut_points_and_bridges_of(csr: _Csr) -> tuple[set[NodeId], list[tuple[NodeId, NodeId]]]:
    nodes, _, indptr, nbr = csr
    cut, bridges = _cut_points_and_bridges(indptr, nbr)
    return ({nodes[i] for i in np.flatnonzero(cut).tolist()},
            [(nodes[a], nodes[b]) for a, b in bridges.tolist()])


def _dependencies(indptr: np.ndarray, nbr: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """:func:`_brandes_raw` over ``sources``, split in two halves run on two threads.

    The compiled kernel releases the GIL, so on two cores the halves run side by side;
    the split is fixed, so the sum (and its rounding) is the same on every run.
    """
    if len(sources) < _PARALLEL_MIN_SOURCES:
        return _brandes_raw(indptr, nbr, sources)
    half = len(sources) // 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(_brandes_raw, indptr, nbr, sources[:half])
        second = pool.submit(_brandes_raw, indptr, nbr, sources[half:])
        return first.result() + second.result()


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
    Brandes' accumulation over one breadth-first search per source on the CSR adjacency
    (compiled with numba; pure-Python NetworkX spends most of its time in dict lookups
    here). Sampled values are
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
    return _betweenness_of(_csr(graph), k, seed)


def _betweenness_of(csr: _Csr, k: int | None, seed: int) -> dict[NodeId, float]:
    nodes, index, indptr, nbr = csr
    n = len(nodes)
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= n):
        raise ValueError(f"k must be an int with 2 <= k <= {n} (the number of nodes), got {k!r}")
    if k is None:
        sources = nodes
    else:
        sources = random.Random(seed).sample(nodes, k)
    # Self-loops never lie on a shortest path: _csr leaves them out of the adjacency.
    raw = _dependencies(indptr, nbr, np.array([index[s] for s in sources], dtype=np.int64))
    if n - 1 < 2:
        return dict.fromkeys(nodes, 0.0)
    if k is None:
        raw *= 1.0 / ((n - 1) * (n - 2))
    else:
        sampled = np.zeros(n, dtype=bool)
        sampled[[index[s] for s in sources]] = True
        raw *= np.where(sampled, 1.0 / ((k - 1) * (n - 2)), 1.0 / (k * (n - 2)))
    return {node: float(raw[i]) for i, node in enumerate(nodes)}


@dataclass(frozen=True, slots=True)
class Connector:
    """A young person whose ties reach beyond one group (see the module docstring)."""

    person_id: NodeId
    pseudonym: str
    group: str | None
    betweenness: float
    groups_reached: tuple[str, ...]
    is_articulation_point: bool
    bridges: int


@dataclass(frozen=True, slots=True)
class Bridge:
    """A tie between young people whose loss would disconnect part of their network."""

    a_id: NodeId
    b_id: NodeId
    a_group: str | None
    b_group: str | None


@dataclass(frozen=True, slots=True)
class Connectors:
    """Connectors (highest betweenness first), bridges and articulation points."""

    connectors: tuple[Connector, ...]
    connector_count: int
    bridges: tuple[Bridge, ...]
    articulation_points: tuple[NodeId, ...]
    betweenness_exact: bool
    betweenness_sources: int
    betweenness_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        out: dict[str, Any] = to_jsonable(self)
        return out


def find_connectors(
    graph: nx.Graph,
    groups: PeerGroups,
    *,
    exact_max_nodes: int | None = None,
    sample_size: int | None = None,
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
    exact_max_nodes : int, optional
        Exact betweenness up to this many young people (default :data:`EXACT_MAX_NODES`);
        above it, ``sample_size`` sampled sources (seeded) and the result says
        "approximate" in ``betweenness_note``.
    sample_size : int, optional
        Number of sampled sources (>= 2) when sampling (default :data:`SAMPLE_SIZE`).
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
    exact_max_nodes = EXACT_MAX_NODES if exact_max_nodes is None else exact_max_nodes
    sample_size = SAMPLE_SIZE if sample_size is None else sample_size
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
    csr = _csr(young)  # one adjacency for both compiled passes
    scores = _betweenness_of(csr, None if exact else sample_size, seed)
    cut_points, bridge_edges = _cut_points_and_bridges_of(csr)
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
        betweenness_note=(
            f"Exact betweenness over all {n:,} young people." if exact else
            f"Approximate: betweenness estimated from {sample_size:,} of {n:,} young people "
            f"(sampled sources; measured {SAMPLED_ERROR} against exact on a network of this "
            "size). Read the connectors as young people with high betweenness; cut points "
            "and bridges are exact."),
    )
