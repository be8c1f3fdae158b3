import random

import networkx as nx
import pytest

from locmap.network.connectors import betweenness_centrality, find_connectors
from locmap.network.groups import find_peer_groups, group_label
from locmap.network.model import PersonNode, Tie, build_people_graph

from .conftest import clique_ties, young


def test_two_cliques_form_two_groups_with_stable_labels(two_cliques):
    graph = build_people_graph(*two_cliques)
    groups = find_peer_groups(graph, seed=7)
    assert [(g.label, g.members) for g in groups.groups] == [
        ("Group A", (1, 2, 3, 4, 5)),
        ("Group B", (6, 7, 8, 9, 10)),
    ]
    assert groups.components == (tuple(range(1, 11)),)
    assert [g.internal_ties for g in groups.groups] == [10, 10]
    # Weighted (clique ties 2, bridge 1): m = 41, each side holds 20 of it and has total
    # degree 41, so Q = 2 * (20/41 - (41/82) ** 2).
    assert groups.modularity == pytest.approx(2 * (20 / 41 - (41 / 82) ** 2))


def test_larger_group_gets_first_label_then_smallest_pseudonym():
    people = [young(i) for i in range(1, 10)]
    ties = clique_ties(range(7, 10)) + clique_ties(range(1, 3)) + clique_ties(range(4, 6))
    groups = find_peer_groups(build_people_graph(people, ties))
    assert [g.members for g in groups.groups] == [(7, 8, 9), (1, 2), (4, 5)]
    assert groups.ungrouped == (3, 6)
    assert group_label(27) == "Group AB"


def test_adults_do_not_define_groups():
    people = [young(i) for i in range(1, 5)] + [PersonNode(99, "AC-1", "adult_of_concern")]
    ties = [Tie(99, i, "associate", "harmful") for i in range(1, 5)]
    groups = find_peer_groups(build_people_graph(people, ties))
    assert groups.groups == ()
    assert groups.ungrouped == (1, 2, 3, 4)
    assert groups.modularity is None


def test_bridge_endpoints_are_the_connectors(two_cliques):
    graph = build_people_graph(*two_cliques)
    result = find_connectors(graph, find_peer_groups(graph))
    assert result.articulation_points == (5, 6)
    assert [(b.a_id, b.b_id, b.a_group, b.b_group) for b in result.bridges] == [
        (5, 6, "Group A", "Group B")
    ]
    assert [c.person_id for c in result.connectors] == [5, 6]
    top = result.connectors[0]
    # 5 lies on the only shortest path of each pair in {1..4} x {6..10}: 4 * 5 of the
    # C(9, 2) = 36 pairs among the other nine people.
    assert top.betweenness == pytest.approx(20 / 36)
    assert top.groups_reached == ("Group A", "Group B")
    assert top.bridges == 1 and top.is_articulation_point
    assert result.betweenness_exact


@pytest.mark.parametrize("k", [None, 5, 40, 100])  # 64 or more sources: two threads
def test_betweenness_matches_networkx(k):
    graph = nx.gnm_random_graph(120, 300, seed=3)
    graph.add_edges_from([(200, 201), (201, 202)])  # a second component
    ours = betweenness_centrality(graph, k=k, seed=11)
    theirs = nx.betweenness_centrality(graph, k=k, seed=11)
    assert ours.keys() == theirs.keys()
    assert max(abs(ours[n] - theirs[n]) for n in graph) < 1e-12


def test_sampled_connectors_are_reproducible_with_seed():
    rng = random.Random(5)
    people = [young(i) for i in range(60)]
    ties = {tuple(sorted(rng.sample(range(60), 2))) for _ in range(150)}
    graph = build_people_graph(people, [Tie(a, b, "friend", "neutral") for a, b in ties])
    groups = find_peer_groups(graph, seed=3)
    one = find_connectors(graph, groups, exact_max_nodes=10, sample_size=8, seed=3)
    two = find_connectors(graph, groups, exact_max_nodes=10, sample_size=8, seed=3)
    other = find_connectors(graph, groups, exact_max_nodes=10, sample_size=8, seed=4)
    assert one == two and not one.betweenness_exact and one.betweenness_sources == 8
    assert one.connectors != other.connectors
    assert find_peer_groups(graph, seed=3) == groups


def test_validation_errors(two_cliques):
    graph = build_people_graph(*two_cliques)
    groups = find_peer_groups(graph)
    with pytest.raises(ValueError, match="build_people_graph"):
        find_peer_groups(nx.path_graph(3))
    with pytest.raises(ValueError, match="resolution must be > 0"):
        find_peer_groups(graph, resolution=0)
    with pytest.raises(ValueError, match="min_group_size must be >= 2"):
        find_peer_groups(graph, min_group_size=1)
    with pytest.raises(ValueError, match="sample_size must be an int >= 2"):
        find_connectors(graph, groups, sample_size=1)
    with pytest.raises(ValueError, match="k must be an int with 2 <= k <= 3"):
        betweenness_centrality(nx.path_graph(3), k=4)
    with pytest.raises(ValueError, match="undirected"):
        betweenness_centrality(nx.DiGraph())
