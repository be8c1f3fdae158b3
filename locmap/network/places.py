"""Places that tie groups together: the person–place graph and its projection onto places.

From the bipartite presence graph (who spends time where) this module derives, for every
place, which peer groups meet there and how many of each group's members, how many
adults of concern and trusted adults are present; and the *place projection*: two places
are linked when the same people spend time at both, weighted by how many. A place where
two or more groups meet is *shared* — the library where groups from two estates overlap
after the restaurant turned its WiFi off. Counts are exact here; suppressing small counts
for partner views is the service layer's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp

from locmap.network._serial import to_jsonable
from locmap.network.groups import PeerGroups
from locmap.network.model import NodeId, check_graph

__all__ = [
    "GroupAtPlace",
    "PlaceLink",
    "PlaceNetwork",
    "PlaceProfile",
    "find_places",
    "place_projection",
]


@dataclass(frozen=True, slots=True)
class GroupAtPlace:
    """How many members of one group spend time at a place."""

    label: str
    members_present: int


@dataclass(frozen=True, slots=True)
class PlaceProfile:
    """Who spends time at one place, by group and by kind of person."""

    place_id: NodeId
    name: str
    young_people: int
    groups: tuple[GroupAtPlace, ...]
    ungrouped_young_people: int
    adults_of_concern: int
    trusted_adults: int
    shared: bool


@dataclass(frozen=True, slots=True)
class PlaceLink:
    """Two places linked by the people who spend time at both."""

    a_id: NodeId
    b_id: NodeId
    shared_people: int


@dataclass(frozen=True, slots=True)
class PlaceNetwork:
    """Place profiles (shared places first) and the links of the place projection."""

    places: tuple[PlaceProfile, ...]
    shared_places: tuple[NodeId, ...]
    links: tuple[PlaceLink, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        out: dict[str, Any] = to_jsonable(self)
        return out


def _incidence(presence: nx.Graph) -> tuple[list[Any], list[Any], sp.csr_array]:
    places = [n for n, side in presence.nodes(data="bipartite") if side == 1]
    people = [n for n, side in presence.nodes(data="bipartite") if side == 0]
    p_index = {n: i for i, n in enumerate(places)}
    q_index = {n: i for i, n in enumerate(people)}
    rows, cols = [], []
    for u, v in presence.edges():
        place, person = (u, v) if u in p_index else (v, u)
        rows.append(p_index[place])
        cols.append(q_index[person])
    matrix = sp.csr_array(
        (np.ones(len(rows)), (np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp))),
        shape=(len(places), len(people)),
    )
    return places, people, matrix


def place_projection(presence: nx.Graph) -> nx.Graph:
    """Project the presence graph onto places: edge weight = number of shared people.

    Parameters
    ----------
    presence : networkx.Graph
        A presence graph from :func:`~locmap.network.model.build_presence_graph`.

    Returns
    -------
    networkx.Graph
        Nodes are place ids (with ``name``); an edge joins two places that share at least
        one person, ``weight`` being how many people spend time at both.

    Examples
    --------
    >>> from locmap.network.model import (PersonNode, PlaceNode, Presence,
    ...                                   build_presence_graph)
    >>> b = build_presence_graph(
    ...     [PersonNode(1, "YP-1", "young_person"), PersonNode(2, "YP-2", "young_person")],
    ...     [PlaceNode("lib", "Library"), PlaceNode("park", "Park")],
    ...     [Presence(1, "lib"), Presence(1, "park"), Presence(2, "lib"), Presence(2, "park")])
    >>> place_projection(b)["lib"]["park"]["weight"]
    2

    Notes
    -----
    Computed as the sparse product ``M @ M.T`` of the place × person incidence matrix,
    which is the same graph NetworkX builds node by node.

    References
    ----------
    ``networkx.bipartite.weighted_projected_graph(B, place_nodes)`` (Newman's
    unnormalised count of shared neighbours); Borgatti, S. P. and Halgin, D. S. (2011)
    "Analyzing affiliation networks", in The SAGE Handbook of Social Network Analysis.
    """
    check_graph(presence, "presence")
    places, _, matrix = _incidence(presence)
    shared = sp.triu(matrix @ matrix.T, k=1).tocoo()
    projection = nx.Graph()
    projection.add_nodes_from((p[1], {"name": presence.nodes[p]["name"]}) for p in places)
    projection.add_weighted_edges_from(
        (places[i][1], places[j][1], int(w))
        for i, j, w in zip(
            shared.row.tolist(), shared.col.tolist(), shared.data.tolist(), strict=True
        )
    )
    return projection


def find_places(
    presence: nx.Graph, groups: PeerGroups, *, min_shared_people: int = 1
) -> PlaceNetwork:
    """Describe each place by the groups and kinds of people there, and link places.

    Parameters
    ----------
    presence : networkx.Graph
        A presence graph from :func:`~locmap.network.model.build_presence_graph`.
    groups : PeerGroups
        Peer groups of the same network (as of the same date).
    min_shared_people : int
        Keep place links with at least this many (>= 1) shared people.

    Returns
    -------
    PlaceNetwork
        Places with anyone present, ordered by number of groups meeting there, then
        young people present (most first), then name; links ordered by shared people.

    Examples
    --------
    >>> from locmap.network.model import (PersonNode, PlaceNode, Presence, Tie,
    ...     build_people_graph, build_presence_graph)
    >>> from locmap.network.groups import find_peer_groups
    >>> people = [PersonNode(i, f"YP-{i}", "young_person") for i in range(4)]
    >>> g = build_people_graph(people, [Tie(0, 1, "friend", "neutral"),
    ...                                 Tie(2, 3, "friend", "neutral")])
    >>> b = build_presence_graph(people, [PlaceNode(9, "Library")],
    ...                          [Presence(1, 9), Presence(2, 9), Presence(3, 9)])
    >>> [(m.label, m.members_present) for m in find_places(b, find_peer_groups(g)).places[0].groups]
    [('Group A', 1), ('Group B', 2)]

    References
    ----------
    Neighbourhoods of place nodes in the bipartite graph (``networkx.bipartite``);
    links as in :func:`place_projection`.
    """
    check_graph(presence, "presence")
    if not isinstance(groups, PeerGroups):
        raise ValueError("groups must be a PeerGroups from find_peer_groups")
    if isinstance(min_shared_people, bool) or not isinstance(min_shared_people, int):
        raise ValueError(f"min_shared_people must be an int, got {min_shared_people!r}")
    if min_shared_people < 1:
        raise ValueError(f"min_shared_people must be >= 1, got {min_shared_people}")
    # One incidence matrix serves the profiles and the links: the people at a place are
    # its row, and the projection is M @ M.T (see place_projection).
    places, people, matrix = _incidence(presence)
    group_of = groups.group_of
    kinds = ("young_person", "adult_of_concern", "trusted_adult")
    labels = sorted(set(group_of.values()), key=lambda x: (len(x), x))
    column = {label: len(kinds) + i for i, label in enumerate(labels)}
    ungrouped_col = len(kinds) + len(labels)
    tags_r, tags_c = [], []
    for i, person in enumerate(people):
        kind = presence.nodes[person]["kind"]
        tags_r.append(i)
        tags_c.append(kinds.index(kind))
        if kind == "young_person":
            label = group_of.get(person[1])
            tags_r.append(i)
            tags_c.append(ungrouped_col if label is None else column[label])
    tags = sp.csr_array(
        (np.ones(len(tags_r)), (np.array(tags_r, dtype=np.intp), np.array(tags_c, dtype=np.intp))),
        shape=(len(people), ungrouped_col + 1),
    )
    counts = (matrix @ tags).tocsr()
    present = (np.diff(matrix.indptr) > 0).tolist()
    indptr, indices, data = counts.indptr.tolist(), counts.indices.tolist(), counts.data.tolist()
    profiles: list[PlaceProfile] = []
    for i, node in enumerate(places):
        if not present[i]:
            continue
        lo, hi = indptr[i], indptr[i + 1]
        row = dict(zip(indices[lo:hi], data[lo:hi], strict=True))
        meeting = tuple(
            GroupAtPlace(lbl, int(row[column[lbl]])) for lbl in labels if column[lbl] in row
        )
        profiles.append(
            PlaceProfile(
                place_id=node[1],
                name=presence.nodes[node]["name"],
                young_people=int(row.get(0, 0)),
                groups=meeting,
                ungrouped_young_people=int(row.get(ungrouped_col, 0)),
                adults_of_concern=int(row.get(1, 0)),
                trusted_adults=int(row.get(2, 0)),
                shared=len(meeting) >= 2,
            )
        )
    profiles.sort(key=lambda p: (-len(p.groups), -p.young_people, p.name, str(p.place_id)))
    # Upper triangle: i < j in presence-graph order, the order links are written in.
    shared = sp.triu(matrix @ matrix.T, k=1).tocoo()
    keep = shared.data >= min_shared_people
    weight, row, col = shared.data[keep].astype(np.int64), shared.row[keep], shared.col[keep]
    # Most shared people first, then presence-graph order: sorted on arrays, not on a
    # tuple per link (tens of thousands on a town-sized network, each one more object
    # for the cyclic collector to walk).
    order = np.lexsort((col, row, -weight))
    ids = [place[1] for place in places]
    links = [
        PlaceLink(ids[i], ids[j], w)
        for i, j, w in zip(row[order].tolist(), col[order].tolist(), weight[order].tolist(),
                           strict=True)
    ]
    return PlaceNetwork(
        places=tuple(profiles),
        shared_places=tuple(p.place_id for p in profiles if p.shared),
        links=tuple(links),
    )
