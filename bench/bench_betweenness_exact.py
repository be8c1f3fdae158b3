"""How large a young-people network gets exact betweenness within 2 s, and the error of
sampling above it.

Run ``PYTHONPATH=. python bench/bench_betweenness_exact.py``. The graphs are the young
people of the synthetic town of ``bench_network.py`` (neighbourhoods of ~25, one tie in
ten across the town), cut to the first ``n`` young people. Prints wall seconds (best of
three) and CPU seconds of the exact computation per size, then the error of the sampled
values (``SAMPLE_SIZE`` sources, as ``find_connectors`` uses) against exact at the first
size above the threshold.
"""

from __future__ import annotations

import os
import sys
import time

import networkx as nx
import numpy as np

from bench.bench_network import synthetic
from locmap.network import betweenness_centrality, build_people_graph, young_people_graph
from locmap.network.connectors import EXACT_MAX_NODES, SAMPLE_SIZE

SIZES = (1_000, 2_000, 3_000, 4_000, 4_500, 5_000)


def main() -> None:
    people, ties, _, _ = synthetic()
    young = young_people_graph(build_people_graph(people, ties))
    betweenness_centrality(nx.path_graph(4))  # compile once
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; exact_max_nodes = {EXACT_MAX_NODES}")
    print("\n| young people | ties | exact s (wall, best of 3) | CPU s |\n|---:|---:|---:|---:|")
    for n in SIZES:
        g = young.subgraph(range(n)).copy()
        best, cpu = float("inf"), 0.0
        for _ in range(3):
            w0, c0 = time.perf_counter(), time.process_time()
            betweenness_centrality(g)
            w, c = time.perf_counter() - w0, time.process_time() - c0
            if w < best:
                best, cpu = w, c
        print(f"| {n:,} | {g.number_of_edges():,} | {best:.2f} | {cpu:.2f} |")
    n = next(s for s in SIZES if s > EXACT_MAX_NODES)
    g = young.subgraph(range(n)).copy()
    exact = betweenness_centrality(g)
    nodes = list(g)
    ex = np.array([exact[v] for v in nodes])
    top = set(sorted(nodes, key=exact.__getitem__, reverse=True)[:50])
    print(f"\nSampled ({SAMPLE_SIZE} sources) against exact on {n:,} young people, 5 seeds:")
    print("\n| seed | max abs error | mean abs error | max error / max value | top-50 overlap |"
          "\n|---:|---:|---:|---:|---:|")
    for seed in range(1, 6):
        est = betweenness_centrality(g, k=SAMPLE_SIZE, seed=seed)
        err = np.abs(np.array([est[v] for v in nodes]) - ex)
        got = set(sorted(nodes, key=est.__getitem__, reverse=True)[:50])
        print(f"| {seed} | {err.max():.2e} | {err.mean():.2e} | {err.max() / ex.max():.1%} "
              f"| {len(top & got)}/50 |")


if __name__ == "__main__":
    main()
