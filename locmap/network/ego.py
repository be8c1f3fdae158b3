"""Ego view: one person's network out to a few steps, for the peer assessor's close-up.

Returns the people within ``radius`` ties of a chosen person (young person or adult), each
with their distance, and the ties among them, so a practitioner can see whom support for
that person would also reach and which adults sit near them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

from locmap.network._serial import to_jsonable
from locmap.network.model import NodeId, check_graph

__all__ = ["EgoPerson", "EgoTie", "EgoView", "ego_view"]


@dataclass(frozen=True, slots=True)
class EgoPerson:
    """A person in an ego view and their distance (in ties) from the centre."""

    person_id: NodeId
    pseudonym: str
    kind: str
    distance: int


@dataclass(frozen=True, slots=True)
class EgoTie:
    """A pair related in the ego view, with the types and valences recorded for it."""

    a_id: NodeId
    b_id: NodeId
    types: tuple[str, ...]
    valences: tuple[str, ...]
    strength: int


@dataclass(frozen=True, slots=True)
class EgoView:
    """The people within ``radius`` ties of ``centre`` and the ties among them."""

    centre: NodeId
    radius: int
    people: tuple[EgoPerson, ...]
    ties: tuple[EgoTie, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        out: dict[str, Any] = to_jsonable(self)
        return out


def ego_view(graph: nx.Graph, person_id: NodeId, *, radius: int = 2) -> EgoView:
    """Return the ego view of ``person_id`` out to ``radius`` steps.

    Parameters
    ----------
    graph : networkx.Graph
        A people graph from :func:`~locmap.network.model.build_people_graph`.
    person_id : int or str
        The centre; must be in the graph.
    radius : int
        How many ties out to go (1 to 3: further views show most of a network and
        serve no close-up purpose).

    Returns
    -------
    EgoView
        People ordered by distance then pseudonym; all ties between them.

    Examples
    --------
    >>> from locmap.network.model import PersonNode, Tie, build_people_graph
    >>> people = [PersonNode(i, f"YP-{i}", "young_person") for i in range(4)]
    >>> g = build_people_graph(people, [Tie(0, 1, "friend", "neutral"),
    ...     Tie(1, 2, "friend", "neutral"), Tie(2, 3, "friend", "neutral")])
    >>> [(p.pseudonym, p.distance) for p in ego_view(g, 0).people]
    [('YP-0', 0), ('YP-1', 1), ('YP-2', 2)]

    References
    ----------
    ``networkx.ego_graph(graph, person_id, radius=radius)``.
    """
    check_graph(graph, "people")
    if person_id not in graph:
        raise ValueError(f"person {person_id!r} is not in the network")
    if isinstance(radius, bool) or not isinstance(radius, int) or not 1 <= radius <= 3:
        raise ValueError(f"radius must be an int from 1 to 3, got {radius!r}")
    distance = nx.single_source_shortest_path_length(graph, person_id, cutoff=radius)
    people = sorted(
        (
            EgoPerson(n, graph.nodes[n]["pseudonym"], graph.nodes[n]["kind"], d)
            for n, d in distance.items()
        ),
        key=lambda p: (p.distance, p.pseudonym),
    )
    ties = tuple(
        EgoTie(
            a,
            b,
            tuple(t.type for t in recs),
            tuple(t.valence for t in recs),
            max(t.strength for t in recs),
        )
        for a, b, recs in graph.subgraph(distance).edges(data="ties")
    )
    return EgoView(person_id, radius, tuple(people), ties)
