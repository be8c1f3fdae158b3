"""One entry point for the whole peer-network analysis, returning one serialisable result.

``analyse_network`` builds the people and presence graphs from plain records (optionally as
of a date) and runs every analysis of this package on them: peer groups, connectors,
linked adults and ties, places shared between groups, an optional ego view and an optional
comparison with an earlier date. The web layer, the assessment engine and notebooks call
this and read :class:`NetworkAnalysis` or its ``to_dict()``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from locmap.network._serial import to_jsonable
from locmap.network.change import NetworkChange, network_change
from locmap.network.concern import NetworkConcerns, find_concerns
from locmap.network.connectors import Connectors, find_connectors
from locmap.network.ego import EgoView, ego_view
from locmap.network.groups import PeerGroups, find_peer_groups, young_people_graph
from locmap.network.model import (
    NodeId,
    PersonNode,
    PlaceNode,
    Presence,
    Tie,
    build_people_graph,
    build_presence_graph,
)
from locmap.network.places import PlaceNetwork, find_places

__all__ = ["NetworkAnalysis", "analyse_network"]


@dataclass(frozen=True, slots=True)
class NetworkAnalysis:
    """Everything ``analyse_network`` found, as of one date (None: dates ignored)."""

    as_of: dt.date | None
    people: int
    young_people: int
    ties: int
    groups: PeerGroups
    connectors: Connectors
    concerns: NetworkConcerns
    places: PlaceNetwork
    ego: EgoView | None
    change: NetworkChange | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``json.dumps`` accepts it as is)."""
        out: dict[str, Any] = to_jsonable(self)
        return out


def analyse_network(
    people: Iterable[PersonNode],
    ties: Iterable[Tie],
    places: Iterable[PlaceNode] = (),
    presences: Iterable[Presence] = (),
    *,
    as_of: dt.date | None = None,
    seed: int = 0,
    resolution: float = 1.0,
    min_group_size: int = 2,
    exact_max_nodes: int | None = None,
    sample_size: int | None = None,
    max_connectors: int | None = 50,
    min_shared_people: int = 1,
    ego_of: NodeId | None = None,
    ego_radius: int = 2,
    compare_with: dt.date | None = None,
) -> NetworkAnalysis:
    """Analyse a peer network: groups, connectors, concerns, places, ego view, change.

    Parameters
    ----------
    people, ties, places, presences : iterables of the records in ``model``
    as_of : datetime.date, optional
        Analyse the ties and presences in force on this day; None ignores their dates.
    seed, resolution, min_group_size
        See :func:`~locmap.network.groups.find_peer_groups`.
    exact_max_nodes, sample_size, max_connectors
        See :func:`~locmap.network.connectors.find_connectors`.
    min_shared_people
        See :func:`~locmap.network.places.find_places`.
    ego_of, ego_radius
        If ``ego_of`` is given, include :func:`~locmap.network.ego.ego_view` of that person.
    compare_with : datetime.date, optional
        If given (with ``as_of`` later than it), include
        :func:`~locmap.network.change.network_change` from it to ``as_of``.

    Returns
    -------
    NetworkAnalysis

    Raises
    ------
    ValueError
        On invalid records or parameters (raised by the step that checks them), or
        ``compare_with`` without ``as_of``.

    Examples
    --------
    >>> people = [PersonNode(i, f"YP-{i}", "young_person") for i in range(3)]
    >>> result = analyse_network(people, [Tie(0, 1, "friend", "neutral"),
    ...                                   Tie(1, 2, "friend", "protective")])
    >>> result.groups.groups[0].pseudonyms, result.connectors.articulation_points
    (('YP-0', 'YP-1', 'YP-2'), (1,))
    >>> sorted(result.to_dict())[:3]
    ['as_of', 'change', 'concerns']

    References
    ----------
    The functions above and the NetworkX algorithms each cites.
    """
    if compare_with is not None and as_of is None:
        raise ValueError("compare_with needs as_of (the later date to compare with)")
    if ego_of is not None and isinstance(ego_radius, bool):
        raise ValueError(f"ego_radius must be an int, got {ego_radius!r}")
    people, ties = list(people), list(ties)
    graph = build_people_graph(people, ties, as_of=as_of)
    presence = build_presence_graph(people, places, presences, as_of=as_of)
    # Groups and connectors both work on the young people only: build that graph once.
    young = young_people_graph(graph)
    # A NetworkX graph whose edge view has been used holds a reference cycle (the cached
    # view refers back to the graph), so reference counting alone never frees it: the
    # collector, back on, would walk every node and edge dict. The graphs are emptied on
    # the way out, which frees their contents at once (the result holds none of them).
    try:
        groups = find_peer_groups(
            young, seed=seed, resolution=resolution, min_group_size=min_group_size
        )
        return NetworkAnalysis(
            as_of=as_of,
            people=graph.number_of_nodes(),
            young_people=young.number_of_nodes(),
            ties=graph.graph["tie_records"],
            groups=groups,
            connectors=find_connectors(
                young,
                groups,
                exact_max_nodes=exact_max_nodes,
                sample_size=sample_size,
                seed=seed,
                max_connectors=max_connectors,
            ),
            concerns=find_concerns(graph, groups),
            places=find_places(presence, groups, min_shared_people=min_shared_people),
            ego=None if ego_of is None else ego_view(graph, ego_of, radius=ego_radius),
            change=(
                None
                if compare_with is None or as_of is None
                else network_change(
                    people, ties, compare_with, as_of, seed=seed, resolution=resolution
                )
            ),
        )
    finally:
        for g in (graph, presence, young):
            g.clear()
