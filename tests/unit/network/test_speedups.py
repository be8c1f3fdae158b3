"""The faster implementations give what the plain NetworkX reading gives.

``find_places`` counts people by group and kind from the incidence matrix it also uses
for the links; here it is checked against the per-node reading of the presence graph and
``nx.bipartite.weighted_projected_graph`` on a random network with every kind of person,
ungrouped young people and places nobody visits. Analyses run in threads of one web
process at once must each give what a run on its own gives, and touch no process-wide
state such as the cyclic garbage collector.
"""

from __future__ import annotations

import gc
import random
import threading

import networkx as nx
import pytest

from locmap.network import analyse_network
from locmap.network.groups import find_peer_groups, young_people_graph
from locmap.network.model import (
    PersonNode,
    PlaceNode,
    Presence,
    Tie,
    build_people_graph,
    build_presence_graph,
    place_node,
)
from locmap.network.places import find_places


def _random_network(seed: int) -> tuple[list[PersonNode], list[Tie], list[PlaceNode],
                                        list[Presence]]:
    rng = random.Random(seed)
    kinds = ["young_person"] * 60 + ["adult_of_concern"] * 6 + ["trusted_adult"] * 8
    people = [PersonNode(i, f"P-{i:03}", k) for i, k in enumerate(kinds)]
    ties = []
    seen = set()
    while len(ties) < 90:
        a, b = rng.randrange(74), rng.randrange(74)
        if a != b and (min(a, b), max(a, b)) not in seen:
            seen.add((min(a, b), max(a, b)))
            ties.append(Tie(a, b, "friend", "neutral", rng.randint(1, 3)))
    places = [PlaceNode(f"p{j}", rng.choice(["Park", "Library", "Shop"])) for j in range(15)]
    presences = [Presence(rng.randrange(74), f"p{rng.randrange(12)}",
                          rng.choice(["daily", "weekly", "occasional"])) for _ in range(150)]
    return people, ties, places, presences


def _reference_profiles(presence: nx.Graph, group_of: dict) -> dict:
    out = {}
    for node, side in presence.nodes(data="bipartite"):
        if side != 1 or not presence.degree(node):
            continue
        kinds = {"young_person": 0, "adult_of_concern": 0, "trusted_adult": 0}
        groups: dict[str, int] = {}
        ungrouped = 0
        for person in presence[node]:
            kind = presence.nodes[person]["kind"]
            kinds[kind] += 1
            if kind == "young_person":
                label = group_of.get(person[1])
                if label is None:
                    ungrouped += 1
                else:
                    groups[label] = groups.get(label, 0) + 1
        out[node[1]] = (kinds["young_person"], kinds["adult_of_concern"],
                        kinds["trusted_adult"], ungrouped,
                        tuple(sorted(groups.items(), key=lambda g: (len(g[0]), g[0]))))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_find_places_matches_the_per_node_reading(seed: int) -> None:
    people, ties, places, presences = _random_network(seed)
    groups = find_peer_groups(young_people_graph(build_people_graph(people, ties)),
                              min_group_size=3)
    assert groups.ungrouped  # ungrouped young people are exercised
    presence = build_presence_graph(people, places, presences)
    result = find_places(presence, groups, min_shared_people=2)
    ours = {p.place_id: (p.young_people, p.adults_of_concern, p.trusted_adults,
                         p.ungrouped_young_people,
                         tuple((g.label, g.members_present) for g in p.groups))
            for p in result.places}
    assert ours == _reference_profiles(presence, groups.group_of)
    assert len(ours) < len(places)  # places nobody visits are left out
    order = {n[1]: i for i, n in enumerate(n for n, s in presence.nodes(data="bipartite") if s)}
    theirs = nx.bipartite.weighted_projected_graph(presence, [place_node(p.id) for p in places])
    expected = sorted(
        ((-w, *sorted((a[1], b[1]), key=order.__getitem__))
         for a, b, w in theirs.edges(data="weight") if w >= 2),
        key=lambda e: (e[0], order[e[1]], order[e[2]]))
    assert [(-k.shared_people, k.a_id, k.b_id) for k in result.links] == expected


def test_concurrent_analyses_match_sequential_runs() -> None:
    networks = [_random_network(seed) for seed in (3, 4)]
    expected = [analyse_network(*net, ego_of=5, seed=1).to_dict() for net in networks]
    barrier = threading.Barrier(4)
    results: dict[int, list[dict]] = {i: [] for i in range(4)}

    def run(i: int) -> None:
        barrier.wait()
        for _ in range(5):
            results[i].append(analyse_network(*networks[i % 2], ego_of=5, seed=1).to_dict())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, got in results.items():
        assert got == [expected[i % 2]] * 5
    assert expected[0] != expected[1]  # two different networks were interleaved
    assert gc.isenabled()
