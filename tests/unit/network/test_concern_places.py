import networkx as nx

from locmap.network.concern import find_concerns
from locmap.network.groups import find_peer_groups
from locmap.network.model import (
    PersonNode,
    PlaceNode,
    Presence,
    Tie,
    build_people_graph,
    build_presence_graph,
    place_node,
)
from locmap.network.places import find_places, place_projection

from .conftest import young


def test_star_around_adult_reaches_every_young_person(two_cliques):
    people, ties = two_cliques
    adult = PersonNode(50, "AC-001", "adult_of_concern")
    lone = PersonNode(51, "AC-002", "adult_of_concern")
    star = [Tie(50, i, "associate", "harmful" if i % 2 else "neutral") for i in (1, 2, 6, 7, 8)]
    graph = build_people_graph(
        [*people, adult, lone], [*ties, *star, Tie(51, 3, "online", "harmful")]
    )
    concerns = find_concerns(graph, find_peer_groups(graph))
    assert len(concerns.adults_of_concern) == 1  # AC-002 reaches only one young person
    linked = concerns.adults_of_concern[0]
    assert linked.young_people == (1, 2, 6, 7, 8)
    assert linked.groups_reached == ("Group A", "Group B")
    assert linked.valences == {"harmful": 2, "neutral": 3}  # odd ids 1 and 7 harmful
    assert {t.scope for t in concerns.harmful_ties} == {"involves_adult"}
    assert len(concerns.harmful_ties) == 3


def test_harmful_and_protective_ties_placed_within_or_between_groups(two_cliques):
    people, ties = two_cliques
    trusted = PersonNode(60, "TA-001", "trusted_adult")
    extra = [
        Tie(1, 2, "partner", "harmful", 2),
        Tie(4, 9, "online", "harmful"),
        Tie(60, 3, "associate", "protective"),
        Tie(60, 7, "associate", "protective"),
    ]
    graph = build_people_graph([*people, trusted], [*ties, *extra])
    concerns = find_concerns(graph, find_peer_groups(graph))
    assert [(t.a_id, t.b_id, t.scope) for t in concerns.harmful_ties] == [
        (1, 2, "within_group"),
        (4, 9, "between_groups"),
    ]
    assert [t.a_id for t in concerns.protective_ties] == [60, 60]
    (adult,) = concerns.trusted_adults
    assert adult.young_people == (3, 7) and adult.groups_reached == ("Group A", "Group B")


def test_place_shared_by_two_components_shows_both_groups(two_cliques):
    people, ties = two_cliques
    ties = [t for t in ties if (t.a_id, t.b_id) != (5, 6)]  # two components now
    adult = PersonNode(50, "AC-001", "adult_of_concern")
    places = [
        PlaceNode("lib", "Library"), PlaceNode("ff", "Chicken shop"), PlaceNode("x", "Pier")
    ]
    presences = [Presence(i, "lib", "weekly") for i in (1, 2, 7, 8, 9)]
    presences += [Presence(i, "ff", "daily") for i in (1, 2, 3)]
    presences.append(Presence(50, "lib", "occasional"))
    graph = build_people_graph([*people, adult], ties)
    groups = find_peer_groups(graph)
    assert len(groups.components) == 2
    presence = build_presence_graph([*people, adult], places, presences)
    result = find_places(presence, groups)
    assert result.shared_places == ("lib",)
    library = result.places[0]
    assert [(g.label, g.members_present) for g in library.groups] == [
        ("Group A", 2),
        ("Group B", 3),
    ]
    assert (library.young_people, library.adults_of_concern) == (5, 1)
    assert [p.place_id for p in result.places] == ["lib", "ff"]  # nobody at the pier
    assert [(k.a_id, k.b_id, k.shared_people) for k in result.links] == [("ff", "lib", 2)]


def test_place_projection_equals_networkx():
    people = [young(i) for i in range(30)]
    places = [PlaceNode(p, f"Place {p}") for p in range(8)]
    presences = [Presence(i, (i * 7 + j) % 8) for i in range(30) for j in range(i % 3 + 1)]
    presence = build_presence_graph(people, places, presences)
    ours = place_projection(presence)
    theirs = nx.bipartite.weighted_projected_graph(presence, [place_node(p.id) for p in places])
    assert {(frozenset(e), w) for *e, w in ours.edges(data="weight")} == {
        (frozenset((a[1], b[1])), w) for a, b, w in theirs.edges(data="weight")
    }
