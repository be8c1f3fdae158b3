import datetime as dt
import json

import pytest

from locmap.network.analysis import analyse_network
from locmap.network.change import network_change
from locmap.network.ego import ego_view
from locmap.network.model import PersonNode, PlaceNode, Presence, Tie, build_people_graph

from .conftest import clique_ties, young

JAN, JUN = dt.date(2024, 1, 1), dt.date(2024, 6, 1)


def _dated(ties: list[Tie], since: dt.date | None = None, until: dt.date | None = None):
    return [Tie(t.a_id, t.b_id, t.type, t.valence, t.strength, since, until) for t in ties]


def test_two_groups_merge_when_ties_join_them():
    people = [young(i) for i in range(1, 9)]
    ties = clique_ties(range(1, 5)) + clique_ties(range(5, 9))
    joining = _dated([Tie(a, b, "friend", "neutral", 3) for a in range(1, 5) for b in range(5, 9)],
                     since=dt.date(2024, 3, 1))
    change = network_change(people, ties + joining, JAN, JUN)
    assert len(change.ties_added) == 16 and change.ties_ended == ()
    assert [(e.kind, e.before, e.after) for e in change.events] == [
        ("merged", ("Group A", "Group B"), ("Group A",))
    ]
    assert {o.jaccard for o in change.overlaps} == {0.5}


def test_group_splits_when_ties_end():
    people = [young(i) for i in range(1, 9)]
    cross = _dated([Tie(a, b, "friend", "neutral", 3) for a in range(1, 5) for b in range(5, 9)],
                   until=dt.date(2024, 3, 1))
    change = network_change(people, clique_ties(range(1, 5)) + clique_ties(range(5, 9)) + cross,
                            JAN, JUN)
    assert len(change.ties_ended) == 16
    assert [(e.kind, e.before, e.after) for e in change.events] == [
        ("split", ("Group A",), ("Group A", "Group B"))
    ]


def test_change_rejects_dates_out_of_order():
    with pytest.raises(ValueError, match="must be before"):
        network_change([], [], JUN, JAN)


def test_ego_view_stops_at_radius():
    people = [young(i) for i in range(6)] + [PersonNode(9, "AC-1", "adult_of_concern")]
    ties = [Tie(i, i + 1, "friend", "neutral") for i in range(5)] + [
        Tie(9, 1, "associate", "harmful"), Tie(9, 1, "online", "harmful", 3)]
    view = ego_view(build_people_graph(people, ties), 2, radius=2)
    # Distance order, then pseudonym ("AC-1" sorts before "YP-..."); 5 is three steps away.
    assert [(p.person_id, p.distance) for p in view.people] == [
        (2, 0), (1, 1), (3, 1), (9, 2), (0, 2), (4, 2)
    ]
    assert {(t.a_id, t.b_id) for t in view.ties} >= {(1, 2), (2, 3)}
    adult_tie = next(t for t in view.ties if 9 in (t.a_id, t.b_id))
    assert adult_tie.valences == ("harmful", "harmful") and adult_tie.strength == 3
    with pytest.raises(ValueError, match="not in the network"):
        ego_view(build_people_graph(people, ties), 42)
    with pytest.raises(ValueError, match="radius must be an int from 1 to 3"):
        ego_view(build_people_graph(people, ties), 2, radius=4)


def test_analyse_network_is_reproducible_and_json_ready(two_cliques):
    people, ties = two_cliques
    places = [PlaceNode(1, "Library")]
    presences = [Presence(3, 1, "weekly", since=JAN), Presence(8, 1, "daily")]
    kwargs = {"as_of": JUN, "compare_with": JAN, "ego_of": 5, "seed": 3}
    one = analyse_network(people, ties, places, presences, **kwargs)
    two = analyse_network(people[::-1], ties[::-1], places, presences, **kwargs)
    assert one == two
    data = json.loads(json.dumps(one.to_dict()))
    assert data["as_of"] == "2024-06-01"
    assert data["places"]["shared_places"] == [1]
    assert [g["label"] for g in data["groups"]["groups"]] == ["Group A", "Group B"]
    assert data["change"]["events"][0]["kind"] == "continued"
    assert "gang" not in json.dumps(data).lower()


def test_analyse_network_validates_arguments(two_cliques):
    with pytest.raises(ValueError, match="compare_with needs as_of"):
        analyse_network(*two_cliques, compare_with=JAN)
    with pytest.raises(ValueError, match="unknown person 7"):
        analyse_network([young(1)], [], [PlaceNode(1, "Park")], [Presence(7, 1)])
