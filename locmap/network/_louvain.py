"""NetworkX's Louvain community detection, step for step, compiled with numba.

``networkx.community.louvain_communities`` is pure Python over dicts: on the 10,000-person
benchmark it was the largest single cost of ``analyse_network`` (docs/perf/network.md).
This module runs the *same* algorithm — the same node order, the same shuffles drawn
from the same ``random.Random(seed)``, the same gains compared in the same order with the
same floating-point expressions, the same aggregation of communities into the next
level's graph and the same modularity stop rule — on arrays, with the inner loop
compiled by numba. It returns exactly what NetworkX returns (the same list of sets, in
the same order); ``tests/unit/network/test_compiled.py`` checks that on many graphs, seeds
and resolutions.

Exactness needs integer edge weights (locmap's tie strengths are 1, 2 or 3): every sum
of weights and degrees is then exact in any order, so only the order-sensitive steps
(the gain comparisons, the modularity sums) have to be replayed in NetworkX's order,
and they are. Graphs with other weights are handed to NetworkX itself.

What NetworkX does, and this replays (networkx 3.6, ``algorithms/community/louvain.py``):

* the level-0 graph is a fresh graph with ``G``'s nodes and ``G.edges(data=weight)``
  added in order, so a node's neighbours are listed in the order their edges were added;
* ``_one_level`` visits the nodes in one shuffled order, repeatedly until no node moves;
  for a node it sums the weights to each neighbouring community in the order the
  neighbours are listed (a dict in insertion order), adds its own community last if no
  neighbour is in it, and moves to the first community with the largest positive gain;
* the next level's graph has one node per non-empty community (in index order) and its
  edges added in the order ``G.edges()`` lists the current level's edges;
* it stops when a level's modularity gains no more than ``threshold`` over the last, or a
  level moves nothing, and returns the last partition it yielded.
"""

from __future__ import annotations

import random
from typing import Any

import networkx as nx
import numpy as np
from numba import njit

__all__ = ["louvain", "louvain_communities"]

_EXACT = 2**31  # integer weights and degree sums below this stay exact in float64 products


@njit(cache=True)
def _one_level(indptr: np.ndarray, nbr: np.ndarray, wts: np.ndarray, degree: np.ndarray,
               order: np.ndarray, m: float, two_m2: float,
               resolution: float) -> tuple[np.ndarray, bool]:  # pragma: no cover (compiled)
    """``networkx.algorithms.community.louvain._one_level`` (undirected) on arrays.

    ``indptr/nbr/wts``: each node's neighbours other than itself, in adjacency order.
    Returns each node's community (an index of a node of this level) and whether any
    node moved.
    """
    n = degree.shape[0]
    node2com = np.arange(n)
    stot = degree.copy()
    acc = np.zeros(n)
    listed = np.zeros(n, dtype=np.bool_)
    touched = np.empty(n + 1, dtype=np.int64)
    improvement = False
    nb_moves = 1
    while nb_moves > 0:
        nb_moves = 0
        for u in order:
            best_mod = 0.0
            best_com = node2com[u]
            k = 0
            for j in range(indptr[u], indptr[u + 1]):
                c = node2com[nbr[j]]
                if not listed[c]:
                    listed[c] = True
                    acc[c] = 0.0
                    touched[k] = c
                    k += 1
                acc[c] += wts[j]
            if not listed[best_com]:  # the defaultdict lookup of the own community adds it
                listed[best_com] = True
                acc[best_com] = 0.0
                touched[k] = best_com
                k += 1
            d = degree[u]
            stot[best_com] -= d
            remove_cost = -acc[best_com] / m + resolution * (stot[best_com] * d) / two_m2
            for t in range(k):
                c = touched[t]
                gain = remove_cost + acc[c] / m - resolution * (stot[c] * d) / two_m2
                if gain > best_mod:
                    best_mod = gain
                    best_com = c
            stot[best_com] += d
            for t in range(k):
                listed[touched[t]] = False
            if best_com != node2com[u]:
                improvement = True
                nb_moves += 1
                node2com[u] = best_com
    return node2com, improvement


class _Level:
    """One level's graph: unique edges in the order they were added, and adjacency lists
    in NetworkX's insertion order (self-loops listed once, where they were added).
    """

    def __init__(self, n: int, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> None:
        self.n = n
        loop = a == b
        other = ~loop
        t = np.arange(a.shape[0])
        src = np.concatenate([a, b[other]])
        dst = np.concatenate([b, a[other]])
        tt = np.concatenate([t, t[other]])
        ww = np.concatenate([w, w[other]])
        perm = np.lexsort((tt, src))
        self.src, self.dst, self.w = src[perm], dst[perm], ww[perm]
        self.indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.src, minlength=n), out=self.indptr[1:])
        # Degree as G.degree(weight=...) counts it: a self-loop's weight twice.
        self.degree = (np.bincount(self.src, weights=self.w, minlength=n)
                       + np.bincount(a[loop], weights=w[loop], minlength=n))

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The edges in ``G.edges()`` order: by node, in adjacency order, each once."""
        keep = self.dst >= self.src
        return self.src[keep], self.dst[keep], self.w[keep]

    def one_level(self, rng: random.Random, m: float, two_m2: float,
                  resolution: float) -> tuple[np.ndarray, bool]:
        order = list(range(self.n))
        rng.shuffle(order)  # the permutation NetworkX's shuffle of list(G.nodes) makes
        off = self.src != self.dst
        indptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.src[off], minlength=self.n), out=indptr[1:])
        com, improvement = _one_level(indptr, self.dst[off], self.w[off], self.degree,
                                      np.asarray(order, dtype=np.int64), m, two_m2,
                                      float(resolution))
        _, dense = np.unique(com, return_inverse=True)  # non-empty, in index order
        return dense, bool(improvement)

    def modularity(self, com: np.ndarray, k: int, resolution: float) -> float:
        """``nx.community.modularity`` of this level's graph for the partition ``com``."""
        a, b, w = self.edges()
        inside = com[a] == com[b]
        internal = np.bincount(com[a[inside]], weights=w[inside], minlength=k)
        degree_sum = np.bincount(com, weights=self.degree, minlength=k)
        deg_sum = int(self.degree.sum())
        m = deg_sum / 2
        norm = 1 / deg_sum**2
        # In community order, with Python ints and floats as NetworkX's sum(map(...)) has.
        return sum(int(lc) / m - resolution * int(ds) * int(ds) * norm
                   for lc, ds in zip(internal.tolist(), degree_sum.tolist(), strict=True))

    def aggregate(self, com: np.ndarray, k: int) -> _Level:
        """``_gen_graph``: one node per community, edges added in ``G.edges()`` order."""
        a, b, w = self.edges()
        ca, cb = com[a], com[b]
        lo, hi = np.minimum(ca, cb), np.maximum(ca, cb)
        key = lo * k + hi
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        weight = np.bincount(inverse, weights=w)
        by_first = np.argsort(first, kind="stable")
        return _Level(k, ca[first[by_first]], cb[first[by_first]], weight[by_first])


def louvain_communities(graph: nx.Graph, *, weight: str = "weight", resolution: float = 1,
                        threshold: float = 0.0000001, seed: int = 0) -> list[set[Any]]:
    """Return ``nx.community.louvain_communities(graph, weight, resolution, threshold,
    seed=seed)``, computed as described in the module docstring.

    Examples
    --------
    >>> g = nx.barbell_graph(4, 0)
    >>> louvain_communities(g, seed=1) == nx.community.louvain_communities(g, seed=1)
    True
    """
    return louvain(graph, weight=weight, resolution=resolution, threshold=threshold,
                   seed=seed)[0]


def louvain(graph: nx.Graph, *, weight: str = "weight", resolution: float = 1,
            threshold: float = 0.0000001, seed: int = 0) -> tuple[list[set[Any]], float | None]:
    """:func:`louvain_communities` and the partition's modularity.

    The modularity is ``nx.community.modularity(graph, communities, weight=weight,
    resolution=resolution)`` — the same float, summed in the same order — or None when the
    graph has no edges.

    Examples
    --------
    >>> g = nx.barbell_graph(4, 0)
    >>> parts, q = louvain(g, seed=1)
    >>> q == nx.community.modularity(g, parts)
    True
    """
    if graph.is_directed() or graph.is_multigraph():
        raise ValueError("graph must be an undirected networkx.Graph")
    nodes = list(graph)
    edges = list(graph.edges(data=weight, default=1))
    if not edges:
        return [{u} for u in nodes], None
    weights = [e[2] for e in edges]
    if not all(isinstance(x, int) and not isinstance(x, bool) and 0 < x < _EXACT
               for x in weights) or 2 * sum(weights) >= _EXACT:
        out: list[set[Any]] = nx.community.louvain_communities(
            graph, weight=weight, resolution=resolution, threshold=threshold, seed=seed)
        return out, float(nx.community.modularity(graph, out, weight=weight,
                                                  resolution=resolution))
    index = {u: i for i, u in enumerate(nodes)}
    a = np.fromiter((index[e[0]] for e in edges), dtype=np.int64, count=len(edges))
    b = np.fromiter((index[e[1]] for e in edges), dtype=np.int64, count=len(edges))
    base = level = _Level(len(nodes), a, b, np.asarray(weights, dtype=np.float64))
    rng = random.Random(seed)
    deg_total = int(level.degree.sum())
    m = deg_total / 2  # graph.size(weight="weight"), fixed for every level
    two_m2 = 2 * m**2
    mod = level.modularity(np.arange(level.n), level.n, resolution)
    com, _ = level.one_level(rng, m, two_m2, resolution)
    of_node = com  # each original node's community at the current level
    last = of_node
    improvement = True
    while improvement:
        last = of_node
        k = int(com.max()) + 1
        new_mod = level.modularity(com, k, resolution)
        if new_mod - mod <= threshold:
            break
        mod = new_mod
        level = level.aggregate(com, k)
        com, improvement = level.one_level(rng, m, two_m2, resolution)
        of_node = com[of_node]
    k = int(last.max()) + 1
    groups: list[set[Any]] = [set() for _ in range(k)]
    for u, c in zip(nodes, last.tolist(), strict=True):
        groups[c].add(u)
    return groups, base.modularity(last, k, resolution)
