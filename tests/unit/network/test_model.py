import datetime as dt

import pytest

from locmap.network.model import (
    PersonNode,
    PlaceNode,
    Presence,
    Tie,
    build_people_graph,
    build_presence_graph,
    person_node,
    place_node,
)

from .conftest import young


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PersonNode(1, "YP-1", "gang_member"), "kind must be one of"),
        (lambda: PersonNode(1, "", "young_person"), "empty pseudonym"),
        (lambda: PersonNode(True, "YP-1", "young_person"), "int or a str"),
        (lambda: Tie(1, 1, "friend", "neutral"), "to itself"),
        (lambda: Tie(1, 2, "enemy", "neutral"), "tie type"),
        (lambda: Tie(1, 2, "friend", "bad"), "tie valence"),
        (lambda: Tie(1, 2, "friend", "neutral", 4), "strength must be 1, 2 or 3"),
        (
            lambda: Tie(1, 2, "friend", "neutral", 1, dt.date(2024, 5, 1), dt.date(2024, 5, 1)),
            "must be after since",
        ),
        (lambda: Presence(1, 2, "hourly"), "frequency"),
    ],
)
def test_records_reject_invalid_fields(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_builder_rejects_bad_references():
    with pytest.raises(ValueError, match="unknown person 3"):
        build_people_graph([young(1), young(2)], [Tie(1, 3, "friend", "neutral")])
    with pytest.raises(ValueError, match="duplicate person id 1"):
        build_people_graph([young(1), PersonNode(1, "YP-X", "young_person")], [])
    with pytest.raises(ValueError, match="duplicate pseudonym"):
        build_people_graph([young(1), PersonNode(2, "YP-001", "young_person")], [])
    with pytest.raises(ValueError, match="unknown place 8"):
        build_presence_graph([young(1)], [PlaceNode(9, "Park")], [Presence(1, 8)])
    with pytest.raises(ValueError, match="duplicate place id 9"):
        build_presence_graph([], [PlaceNode(9, "Park"), PlaceNode(9, "Library")], [])
    with pytest.raises(ValueError, match="must be Tie records"):
        build_people_graph([young(1)], [("1", "2")])  # type: ignore[list-item]


def test_as_of_keeps_ties_in_force_on_half_open_period():
    ties = [
        Tie(1, 2, "friend", "neutral", until=dt.date(2024, 3, 1)),
        Tie(2, 3, "friend", "neutral", since=dt.date(2024, 3, 1)),
    ]
    people = [young(1), young(2), young(3)]
    feb = build_people_graph(people, ties, as_of=dt.date(2024, 2, 29))
    march = build_people_graph(people, ties, as_of=dt.date(2024, 3, 1))
    assert sorted(feb.edges()) == [(1, 2)]
    assert sorted(march.edges()) == [(2, 3)]
    assert march.number_of_nodes() == 3  # people stay even without ties
    assert build_people_graph(people, ties).number_of_edges() == 2


def test_two_records_for_one_pair_merge_with_strongest_weight():
    ties = [Tie(2, 1, "sibling", "protective", 1), Tie(1, 2, "friend", "neutral", 3)]
    graph = build_people_graph([young(1), young(2)], ties)
    assert graph[1][2]["weight"] == 3
    assert graph[1][2]["ties"] == tuple(ties)


def test_builders_do_not_mutate_inputs_and_ignore_input_order():
    people = [young(3), young(1), young(2)]
    ties = [Tie(3, 1, "friend", "neutral"), Tie(1, 2, "friend", "neutral")]
    before = (list(people), list(ties))
    one = build_people_graph(people, ties)
    two = build_people_graph(people[::-1], ties[::-1])
    assert (people, ties) == before
    assert list(one.nodes) == list(two.nodes) == [1, 2, 3]
    assert list(one.edges) == list(two.edges)


def test_presence_graph_is_bipartite_with_frequency_weights():
    graph = build_presence_graph(
        [young(1), young(2)],
        [PlaceNode(1, "Library")],  # same id as a person: kept apart by node naming
        [Presence(1, 1, "daily"), Presence(2, 1, "monthly", until=dt.date(2024, 1, 1))],
        as_of=dt.date(2024, 6, 1),
    )
    assert graph[person_node(1)][place_node(1)]["weight"] == 4
    assert not graph.has_edge(person_node(2), place_node(1))
    assert graph.nodes[place_node(1)]["bipartite"] == 1
