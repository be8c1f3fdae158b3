"""Risks and strengths in a peer network: linked adults of concern, harmful and protective ties.

Reads the people graph together with its peer groups and lists (1) *linked adults of
concern* — adults of concern tied to two or more young people, with the groups they reach
and the valences of those ties; (2) every harmful tie, placed as within a group, between
groups (or to an ungrouped young person), or involving an adult; (3) the strengths:
protective ties, and trusted adults with the young people and groups they reach. A tie is
a fact recorded about a relationship; nothing here labels the young people in it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import networkx as nx

from locmap.network._serial import to_jsonable
from locmap.network.groups import PeerGroups
from locmap.network.model import NodeId, Tie, check_graph

__all__ = ["LinkedAdult", "NetworkConcerns", "TieInContext", "find_concerns"]


@dataclass(frozen=True, slots=True)
class LinkedAdult:
    """An adult (of concern or trusted) and the young people and groups they reach."""

    person_id: NodeId
    pseudonym: str
    kind: str
    young_people: tuple[NodeId, ...]
    groups_reached: tuple[str, ...]
    valences: dict[str, int]


@dataclass(frozen=True, slots=True)
class TieInContext:
    """A recorded tie with the groups of its two ends and where it sits."""

    a_id: NodeId
    b_id: NodeId
    type: str
    valence: str
    strength: int
    a_group: str | None
    b_group: str | None
    scope: str  # "within_group" | "between_groups" | "involves_adult"


@dataclass(frozen=True, slots=True)
class NetworkConcerns:
    """Linked adults of concern, harmful ties, and the network's strengths."""

    adults_of_concern: tuple[LinkedAdult, ...]
    harmful_ties: tuple[TieInContext, ...]
    protective_ties: tuple[TieInContext, ...]
    trusted_adults: tuple[LinkedAdult, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        out: dict[str, Any] = to_jsonable(self)
        return out


def _label_order(labels: set[str]) -> tuple[str, ...]:
    return tuple(sorted(labels, key=lambda lbl: (len(lbl), lbl)))


def _in_context(graph: nx.Graph, tie: Tie, group_of: dict[NodeId, str]) -> TieInContext:
    a_group, b_group = group_of.get(tie.a_id), group_of.get(tie.b_id)
    kinds = {graph.nodes[tie.a_id]["kind"], graph.nodes[tie.b_id]["kind"]}
    if kinds != {"young_person"}:
        scope = "involves_adult"
    elif a_group is not None and a_group == b_group:
        scope = "within_group"
    else:
        scope = "between_groups"
    return TieInContext(
        tie.a_id, tie.b_id, tie.type, tie.valence, tie.strength, a_group, b_group, scope
    )


def _linked_adult(
    graph: nx.Graph, adult: NodeId, group_of: dict[NodeId, str], rank: dict[NodeId, int]
) -> LinkedAdult:
    young = sorted(
        (n for n in graph[adult] if graph.nodes[n]["kind"] == "young_person"),
        key=rank.__getitem__,
    )
    valences: Counter[str] = Counter(
        t.valence for n in young for t in graph[adult][n]["ties"]
    )
    return LinkedAdult(
        person_id=adult,
        pseudonym=graph.nodes[adult]["pseudonym"],
        kind=graph.nodes[adult]["kind"],
        young_people=tuple(young),
        groups_reached=_label_order({group_of[n] for n in young if n in group_of}),
        valences={v: valences[v] for v in ("harmful", "neutral", "protective") if valences[v]},
    )


def find_concerns(
    graph: nx.Graph, groups: PeerGroups, *, min_young_people: int = 2
) -> NetworkConcerns:
    """List linked adults of concern, harmful ties, protective ties and trusted adults.

    Parameters
    ----------
    graph : networkx.Graph
        A people graph from :func:`~locmap.network.model.build_people_graph`.
    groups : PeerGroups
        Its peer groups, from :func:`~locmap.network.groups.find_peer_groups`.
    min_young_people : int
        An adult of concern is listed when tied to at least this many (>= 1) young people.

    Returns
    -------
    NetworkConcerns
        Adults ordered by number of young people reached (most first), then pseudonym;
        ties ordered by the pseudonyms of their ends. Trusted adults are listed when tied
        to at least one young person by a tie that is not harmful.

    Examples
    --------
    >>> from locmap.network.model import PersonNode, Tie, build_people_graph
    >>> from locmap.network.groups import find_peer_groups
    >>> people = [PersonNode(0, "AC-1", "adult_of_concern")] + [
    ...     PersonNode(i, f"YP-{i}", "young_person") for i in (1, 2)]
    >>> g = build_people_graph(people, [Tie(0, 1, "associate", "harmful"),
    ...                                 Tie(0, 2, "associate", "neutral")])
    >>> adult = find_concerns(g, find_peer_groups(g)).adults_of_concern[0]
    >>> adult.young_people, adult.valences
    ((1, 2), {'harmful': 1, 'neutral': 1})

    References
    ----------
    Degree of each adult in the people graph (``networkx.Graph.degree`` restricted to
    young-person neighbours).
    """
    check_graph(graph, "people")
    if not isinstance(groups, PeerGroups):
        raise ValueError("groups must be a PeerGroups from find_peer_groups")
    if isinstance(min_young_people, bool) or not isinstance(min_young_people, int):
        raise ValueError(f"min_young_people must be an int, got {min_young_people!r}")
    if min_young_people < 1:
        raise ValueError(f"min_young_people must be >= 1, got {min_young_people}")
    rank = {n: i for i, n in enumerate(graph)}
    group_of = groups.group_of
    concern: list[LinkedAdult] = []
    trusted: list[LinkedAdult] = []
    for person, kind in graph.nodes(data="kind"):
        if kind == "adult_of_concern":
            linked = _linked_adult(graph, person, group_of, rank)
            if len(linked.young_people) >= min_young_people:
                concern.append(linked)
        elif kind == "trusted_adult":
            linked = _linked_adult(graph, person, group_of, rank)
            if any(
                t.valence != "harmful"
                for n in linked.young_people
                for t in graph[person][n]["ties"]
            ):
                trusted.append(linked)
    concern.sort(key=lambda a: (-len(a.young_people), a.pseudonym))
    trusted.sort(key=lambda a: (-len(a.young_people), a.pseudonym))
    harmful: list[TieInContext] = []
    protective: list[TieInContext] = []
    for _, _, ties in graph.edges(data="ties"):
        for tie in ties:
            if tie.valence == "harmful":
                harmful.append(_in_context(graph, tie, group_of))
            elif tie.valence == "protective":
                protective.append(_in_context(graph, tie, group_of))
    return NetworkConcerns(
        adults_of_concern=tuple(concern),
        harmful_ties=tuple(harmful),
        protective_ties=tuple(protective),
        trusted_adults=tuple(trusted),
    )
