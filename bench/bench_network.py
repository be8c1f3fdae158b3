"""Benchmark the peer-network analysis on a seeded synthetic network of 10,000 people.

Run ``python bench/bench_network.py`` (add ``--error`` to also measure sampled betweenness
against exact values, ~30 s more). Prints markdown tables: the full ``analyse_network``
beside the plain NetworkX calls it wraps, so the overhead (or saving) is visible.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import networkx as nx

from locmap.network import (
    PersonNode,
    PlaceNode,
    Presence,
    Tie,
    analyse_network,
    betweenness_centrality,
    build_people_graph,
    build_presence_graph,
    young_people_graph,
)
from locmap.network._louvain import louvain as compiled_louvain
from locmap.network.connectors import cut_points_and_bridges
from locmap.network.model import place_node

N_PEOPLE, N_TIES, N_PLACES = 10_000, 50_000, 2_000
AS_OF = dt.date(2025, 6, 1)
TYPES = ["friend", "sibling", "partner", "school_peer", "online", "associate"]


def synthetic(
    seed: int = 42,
) -> tuple[list[PersonNode], list[Tie], list[PlaceNode], list[Presence]]:
    """Young people in neighbourhoods of ~25, adults reaching across, places near home."""
    rng = random.Random(seed)
    kinds = ["young_person"] * 8_800 + ["adult_of_concern"] * 400 + ["trusted_adult"] * 800
    people = [
        PersonNode(i, f"P-{i:05}", kind, rng.choice(["10-13", "14-15", "16-17", "18+"]))
        for i, kind in enumerate(kinds)
    ]
    hood = {i: i // 25 for i in range(8_800)}
    pairs: set[tuple[int, int]] = set()
    ties: list[Tie] = []
    while len(ties) < N_TIES:
        r = rng.random()
        if r < 0.80:  # within a neighbourhood
            a = rng.randrange(8_800)
            b = hood[a] * 25 + rng.randrange(25)
        elif r < 0.90:  # across the town
            a, b = rng.randrange(8_800), rng.randrange(8_800)
        else:  # an adult and a young person
            a, b = rng.randrange(8_800, N_PEOPLE), rng.randrange(8_800)
        if a == b or b >= 8_800 and a >= 8_800 or (min(a, b), max(a, b)) in pairs:
            continue
        pairs.add((min(a, b), max(a, b)))
        adult_kind = kinds[a] if a >= 8_800 else None
        if adult_kind == "adult_of_concern":
            ttype, valence = "exploitative", rng.choice(["harmful", "neutral"])
        elif adult_kind == "trusted_adult":
            ttype, valence = "associate", "protective"
        else:
            ttype = rng.choice(TYPES)
            valence = rng.choices(["neutral", "protective", "harmful"], [80, 15, 5])[0]
        since = dt.date(2023, 7, 1) + dt.timedelta(days=rng.randrange(700))
        until = since + dt.timedelta(days=rng.randrange(60, 900)) if rng.random() < 0.1 else None
        ties.append(Tie(a, b, ttype, valence, rng.randint(1, 3), since, until))
    places = [PlaceNode(p, f"Place {p:04}") for p in range(N_PLACES)]
    presences = []
    for person in range(N_PEOPLE):
        home = (hood.get(person, rng.randrange(352)) * N_PLACES) // 352
        for _ in range(rng.randint(1, 4)):
            place = (
                (home + rng.randrange(-3, 4)) % N_PLACES
                if rng.random() < 0.8
                else rng.randrange(N_PLACES)
            )
            presences.append(
                Presence(person, place, rng.choice(["daily", "weekly", "monthly", "occasional"]))
            )
    return people, ties, places, presences


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Median wall time of ``repeat`` runs and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--error", action="store_true", help="measure sampled betweenness error")
    parser.add_argument(
        "--nx-betweenness",
        action="store_true",
        help="also time networkx.betweenness_centrality(k=256) (~20 s)",
    )
    args = parser.parse_args()
    people, ties, places, presences = synthetic()
    print(
        f"machine: nproc={os.cpu_count()}, Python {platform.python_version()}, "
        f"networkx {nx.__version__}, {platform.machine()}\n"
    )
    load0 = os.getloadavg()[0]
    # One untimed call first: it loads the compiled kernels (numba's on-disk cache; in a
    # fresh install the first call in any process compiles them, once, ~4 s here).
    start = time.perf_counter()
    analyse_network(people, ties, places, presences, as_of=AS_OF, ego_of=17, seed=1)
    first = time.perf_counter() - start
    # CPU seconds beside wall seconds: on a machine shared with other engineers' test runs
    # wall time swings with the load, the process's own CPU time much less.
    runs, cpu = [], []
    for _ in range(7):
        start, cpu0 = time.perf_counter(), time.process_time()
        result = analyse_network(people, ties, places, presences, as_of=AS_OF, ego_of=17, seed=1)
        runs.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu0)
    full = statistics.median(runs)
    # For comparison only: the same call with the cyclic garbage collector switched off,
    # as locmap did until it ran under a threaded server (gc.disable is process-wide, so
    # locmap no longer does it). Shows what the collector still costs on this network.
    off_wall, off_cpu = [], []
    for _ in range(7):
        gc.disable()
        try:
            start, cpu0 = time.perf_counter(), time.process_time()
            analyse_network(people, ties, places, presences, as_of=AS_OF, ego_of=17, seed=1)
            off_wall.append(time.perf_counter() - start)
            off_cpu.append(time.process_time() - cpu0)
        finally:
            gc.enable()
    graph = build_people_graph(people, ties, as_of=AS_OF)
    presence = build_presence_graph(people, places, presences, as_of=AS_OF)
    young = young_people_graph(graph)
    louvain = nx.community.louvain_communities(young, weight="weight", seed=1)
    place_nodes = [place_node(p.id) for p in places]
    rows: list[tuple[str, Callable[[], Any]]] = [
        (
            "build_people_graph + build_presence_graph (locmap)",
            lambda: (
                build_people_graph(people, ties, as_of=AS_OF),
                build_presence_graph(people, places, presences, as_of=AS_OF),
            ),
        ),
        (
            "nx.community.louvain_communities (young people)",
            lambda: nx.community.louvain_communities(young, weight="weight", seed=1),
        ),
        (
            "locmap louvain (compiled port: same partition, with modularity)",
            lambda: compiled_louvain(young, weight="weight", seed=1),
        ),
        (
            "nx.community.modularity",
            lambda: nx.community.modularity(young, louvain, weight="weight"),
        ),
        ("nx.connected_components", lambda: list(nx.connected_components(young))),
        (
            "locmap betweenness_centrality k=256 (compiled Brandes)",
            lambda: betweenness_centrality(young, k=256, seed=1),
        ),
        (
            "locmap cut_points_and_bridges (compiled, one DFS)",
            lambda: cut_points_and_bridges(young),
        ),
        ("nx.articulation_points", lambda: list(nx.articulation_points(young))),
        ("nx.bridges", lambda: list(nx.bridges(young))),
        (
            "nx.biconnected_component_edges (bridges as used)",
            lambda: list(nx.biconnected_component_edges(young)),
        ),
        (
            "nx.bipartite.weighted_projected_graph (places)",
            lambda: nx.bipartite.weighted_projected_graph(presence, place_nodes),
        ),
        ("nx.ego_graph radius 2", lambda: nx.ego_graph(graph, 17, radius=2)),
    ]
    print(
        f"{len(people):,} people ({young.number_of_nodes():,} young people), {len(ties):,} "
        f"relationships ({graph.number_of_edges():,} pairs in force on {AS_OF}), "
        f"{len(places):,} places, {len(presences):,} presences; "
        f"{len(result.groups.groups)} groups, modularity {result.groups.modularity:.3f}, "
        f"{len(result.places.shared_places)} shared places\n"
    )
    print(f"1-minute load average {load0:.2f} at the start; analyse_network: first call in this "
          f"process {first:.3f} s, then 7 runs {', '.join(f'{t:.3f}' for t in runs)}\n")
    print(f"CPU seconds of the process (both Brandes threads count), median of 7: "
          f"{statistics.median(cpu):.3f} with the collector running, "
          f"{statistics.median(off_cpu):.3f} with it off (comparison only)\n")
    print("| step | seconds (median of 3) |\n|---|---:|")
    print(f"| **analyse_network (everything, as of a date, with ego view; median of 7)** | "
          f"**{full:.3f}** |")
    print(f"| the same with the cyclic garbage collector off (comparison only; median of 7) | "
          f"{statistics.median(off_wall):.3f} |")
    for name, fn in rows:
        print(f"| {name} | {timed(fn)[0]:.3f} |")
    if args.nx_betweenness:
        seconds, _ = timed(lambda: nx.betweenness_centrality(young, k=256, seed=1), repeat=1)
        print(f"| nx.betweenness_centrality k=256 (1 run) | {seconds:.3f} |")
    if args.error:
        exact_s, exact = timed(lambda: betweenness_centrality(young), repeat=1)
        top = sorted(exact, key=exact.__getitem__, reverse=True)[:50]
        print(f"\nexact betweenness (locmap, {young.number_of_nodes():,} nodes): {exact_s:.1f} s\n")
        print("| k | seconds | max abs error | mean abs error | top-50 overlap |")
        print("|---:|---:|---:|---:|---:|")
        for k in (64, 128, 256, 512):
            seconds, approx = timed(lambda k=k: betweenness_centrality(young, k=k, seed=1), 1)
            errors = [abs(approx[n] - exact[n]) for n in exact]
            overlap = len(set(top) & set(sorted(approx, key=approx.__getitem__, reverse=True)[:50]))
            print(
                f"| {k} | {seconds:.2f} | {max(errors):.2e} | {statistics.fmean(errors):.2e} "
                f"| {overlap}/50 |"
            )
    print(f"\n1-minute load average {os.getloadavg()[0]:.2f} at the end")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
