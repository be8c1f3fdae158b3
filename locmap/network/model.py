"""Input records of a peer network and the builders that turn them into NetworkX graphs.

A peer assessor records people (young people, adults of concern, trusted adults),
relationships between them and the places where they spend time. This module holds those
records as small frozen dataclasses, validates each field as it is made, and builds two
graphs from them: the *people graph* (one node per person, one edge per related pair) and
the *presence graph* (a bipartite person–place graph). Both can be taken "as of" a date, so
that only relationships and presences in force on that day are drawn. Everything else in
``locmap.network`` reads these two graphs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import networkx as nx

__all__ = [
    "FREQUENCY_WEIGHT",
    "PERSON_KINDS",
    "TIE_TYPES",
    "VALENCES",
    "NodeId",
    "PersonNode",
    "PlaceNode",
    "Presence",
    "Tie",
    "build_people_graph",
    "build_presence_graph",
    "check_graph",
    "in_force",
    "person_node",
    "place_node",
]

NodeId = int | str
"""Identifier of a person or a place (the database primary key, as int or str)."""

PERSON_KINDS: Final = frozenset({"young_person", "adult_of_concern", "trusted_adult"})
TIE_TYPES: Final = frozenset(
    {"friend", "sibling", "partner", "school_peer", "online", "associate", "exploitative"}
)
VALENCES: Final = frozenset({"protective", "neutral", "harmful"})
FREQUENCY_WEIGHT: Final[Mapping[str, int]] = {
    "daily": 4,
    "weekly": 3,
    "monthly": 2,
    "occasional": 1,
}
"""Weight of a presence edge by how often the person is at the place."""

_PEOPLE_GRAPH: Final = "locmap.people"
_PRESENCE_GRAPH: Final = "locmap.presence"


def _check_id(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{what} must be an int or a str, got {value!r}")


def _check_period(since: dt.date | None, until: dt.date | None, what: str) -> None:
    if since is not None and until is not None and until <= since:
        raise ValueError(f"{what}: until ({until}) must be after since ({since})")


@dataclass(frozen=True, slots=True)
class PersonNode:
    """A person in a peer network, known by pseudonym only (never by name)."""

    id: NodeId
    pseudonym: str
    kind: str
    age_band: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.id, "person id")
        if not self.pseudonym:
            raise ValueError(f"person {self.id!r} has an empty pseudonym")
        if self.kind not in PERSON_KINDS:
            raise ValueError(
                f"person {self.id!r}: kind must be one of {sorted(PERSON_KINDS)}, "
                f"got {self.kind!r}"
            )


@dataclass(frozen=True, slots=True)
class Tie:
    """A relationship between two people, in force on ``[since, until)``."""

    a_id: NodeId
    b_id: NodeId
    type: str
    valence: str
    strength: int = 1
    since: dt.date | None = None
    until: dt.date | None = None

    def __post_init__(self) -> None:
        _check_id(self.a_id, "tie a_id")
        _check_id(self.b_id, "tie b_id")
        if self.a_id == self.b_id:
            raise ValueError(f"tie from person {self.a_id!r} to itself")
        if self.type not in TIE_TYPES:
            raise ValueError(f"tie type must be one of {sorted(TIE_TYPES)}, got {self.type!r}")
        if self.valence not in VALENCES:
            raise ValueError(
                f"tie valence must be one of {sorted(VALENCES)}, got {self.valence!r}"
            )
        if isinstance(self.strength, bool) or self.strength not in (1, 2, 3):
            raise ValueError(f"tie strength must be 1, 2 or 3, got {self.strength!r}")
        _check_period(self.since, self.until, f"tie {self.a_id!r}-{self.b_id!r}")


@dataclass(frozen=True, slots=True)
class PlaceNode:
    """A place (or an online context) where people spend time."""

    id: NodeId
    name: str

    def __post_init__(self) -> None:
        _check_id(self.id, "place id")


@dataclass(frozen=True, slots=True)
class Presence:
    """A person's time at a place, in force on ``[since, until)``."""

    person_id: NodeId
    place_id: NodeId
    frequency: str = "occasional"
    since: dt.date | None = None
    until: dt.date | None = None

    def __post_init__(self) -> None:
        _check_id(self.person_id, "presence person_id")
        _check_id(self.place_id, "presence place_id")
        if self.frequency not in FREQUENCY_WEIGHT:
            raise ValueError(
                f"presence frequency must be one of {list(FREQUENCY_WEIGHT)}, "
                f"got {self.frequency!r}"
            )
        _check_period(
            self.since, self.until, f"presence {self.person_id!r}@{self.place_id!r}"
        )


def in_force(since: dt.date | None, until: dt.date | None, as_of: dt.date | None) -> bool:
    """Tell whether a record with period ``[since, until)`` is in force on ``as_of``.

    Parameters
    ----------
    since, until : datetime.date or None
        Start (inclusive) and end (exclusive) of the record; None means open.
    as_of : datetime.date or None
        The day asked about; None means "ignore dates" (always in force).

    Returns
    -------
    bool

    Examples
    --------
    >>> import datetime as dt
    >>> in_force(dt.date(2024, 1, 1), dt.date(2024, 6, 1), dt.date(2024, 6, 1))
    False
    >>> in_force(None, None, dt.date(2024, 6, 1))
    True
    """
    if as_of is None:
        return True
    return (since is None or since <= as_of) and (until is None or as_of < until)


def _index_people(people: Iterable[PersonNode]) -> list[PersonNode]:
    listed = list(people)
    ids: set[NodeId] = set()
    pseudonyms: set[str] = set()
    for person in listed:
        if not isinstance(person, PersonNode):
            raise ValueError(f"people must be PersonNode records, got {type(person).__name__}")
        if person.id in ids:
            raise ValueError(f"duplicate person id {person.id!r}")
        if person.pseudonym in pseudonyms:
            raise ValueError(f"duplicate pseudonym {person.pseudonym!r}")
        ids.add(person.id)
        pseudonyms.add(person.pseudonym)
    # Insertion order fixes the order Louvain and sampling see the nodes in, so a seed
    # reproduces the same result whatever order the database returned the rows in.
    return sorted(listed, key=lambda p: p.pseudonym)


def build_people_graph(
    people: Iterable[PersonNode], ties: Iterable[Tie], *, as_of: dt.date | None = None
) -> nx.Graph:
    """Build the people graph: one node per person, one edge per related pair.

    Parameters
    ----------
    people : iterable of PersonNode
        Everyone in the network; ids and pseudonyms must be unique.
    ties : iterable of Tie
        Relationships; both ends must be in ``people``.
    as_of : datetime.date, optional
        Keep only ties in force on this day (see :func:`in_force`); people are always kept.

    Returns
    -------
    networkx.Graph
        Nodes are person ids with attributes ``pseudonym``, ``kind``, ``age_band``;
        ``graph.graph["tie_records"]`` counts the Tie records kept. Each
        edge carries ``ties`` (the Tie records between the pair, in input order) and
        ``weight`` (the largest strength among them, so two records for one pair do not
        count as a stronger bond than the strongest of them).

    Raises
    ------
    ValueError
        On duplicate ids or pseudonyms, or a tie naming an unknown person.

    Examples
    --------
    >>> yp = [PersonNode(1, "YP-001", "young_person"), PersonNode(2, "YP-002", "young_person")]
    >>> g = build_people_graph(yp, [Tie(1, 2, "friend", "neutral", 3)])
    >>> g[1][2]["weight"], g.nodes[2]["pseudonym"]
    (3, 'YP-002')
    """
    ordered = _index_people(people)
    rank = {p.id: i for i, p in enumerate(ordered)}
    n = len(ordered)
    # One pass checks each tie and keeps those in force. A pair is keyed by one int
    # (rank_low * n + rank_high: the same order as the rank pair) and holds its Tie alone
    # until a second record for it turns up: on a town-sized network that is a hundred
    # thousand tuples and lists fewer for the cyclic garbage collector to walk.
    pairs: dict[int, Tie | list[Tie]] = {}
    for tie in ties:
        if not isinstance(tie, Tie):
            raise ValueError(f"ties must be Tie records, got {type(tie).__name__}")
        ra, rb = rank.get(tie.a_id), rank.get(tie.b_id)
        if ra is None or rb is None:
            end = tie.a_id if ra is None else tie.b_id
            raise ValueError(f"tie {tie.a_id!r}-{tie.b_id!r} names unknown person {end!r}")
        if in_force(tie.since, tie.until, as_of):
            key = ra * n + rb if ra < rb else rb * n + ra
            recs = pairs.get(key)
            if recs is None:
                pairs[key] = tie
            elif isinstance(recs, Tie):
                pairs[key] = [recs, tie]
            else:
                recs.append(tie)
    graph = nx.Graph()
    graph.graph["locmap"] = _PEOPLE_GRAPH
    graph.graph["as_of"] = as_of
    graph.add_nodes_from(
        (p.id, {"pseudonym": p.pseudonym, "kind": p.kind, "age_band": p.age_band})
        for p in ordered
    )
    graph.graph["tie_records"] = sum(
        1 if isinstance(recs, Tie) else len(recs) for recs in pairs.values()
    )
    graph.add_edges_from(
        (
            ordered[key // n].id,
            ordered[key % n].id,
            {"ties": (recs,), "weight": recs.strength}
            if isinstance(recs, Tie)
            else {"ties": tuple(recs), "weight": max(t.strength for t in recs)},
        )
        for key, recs in sorted(pairs.items())
    )
    return graph


def person_node(person_id: NodeId) -> tuple[str, NodeId]:
    """Name a person's node in the presence graph (kept apart from place ids)."""
    return ("person", person_id)


def place_node(place_id: NodeId) -> tuple[str, NodeId]:
    """Name a place's node in the presence graph (kept apart from person ids)."""
    return ("place", place_id)


def build_presence_graph(
    people: Iterable[PersonNode],
    places: Iterable[PlaceNode],
    presences: Iterable[Presence],
    *,
    as_of: dt.date | None = None,
) -> nx.Graph:
    """Build the bipartite person–place graph of who spends time where.

    Parameters
    ----------
    people : iterable of PersonNode
    places : iterable of PlaceNode
        Place ids must be unique.
    presences : iterable of Presence
        Both ends must be known; several presences of one person at one place merge.
    as_of : datetime.date, optional
        Keep only presences in force on this day.

    Returns
    -------
    networkx.Graph
        Nodes ``("person", id)`` with ``bipartite=0`` and the person attributes, nodes
        ``("place", id)`` with ``bipartite=1`` and ``name``; edge ``weight`` is the
        highest :data:`FREQUENCY_WEIGHT` of the merged presences.

    Raises
    ------
    ValueError
        On duplicate place ids or a presence naming an unknown person or place.

    Examples
    --------
    >>> b = build_presence_graph(
    ...     [PersonNode(1, "YP-001", "young_person")],
    ...     [PlaceNode(9, "Library")],
    ...     [Presence(1, 9, "weekly"), Presence(1, 9, "daily")],
    ... )
    >>> b[person_node(1)][place_node(9)]["weight"]
    4
    """
    ordered = _index_people(people)
    place_list = list(places)
    place_ids: set[NodeId] = set()
    for place in place_list:
        if not isinstance(place, PlaceNode):
            raise ValueError(f"places must be PlaceNode records, got {type(place).__name__}")
        if place.id in place_ids:
            raise ValueError(f"duplicate place id {place.id!r}")
        place_ids.add(place.id)
    person_ids = {p.id for p in ordered}
    weights: dict[tuple[NodeId, NodeId], int] = {}
    for presence in presences:
        if not isinstance(presence, Presence):
            raise ValueError(
                f"presences must be Presence records, got {type(presence).__name__}"
            )
        if presence.person_id not in person_ids:
            raise ValueError(f"presence names unknown person {presence.person_id!r}")
        if presence.place_id not in place_ids:
            raise ValueError(f"presence names unknown place {presence.place_id!r}")
        if in_force(presence.since, presence.until, as_of):
            key = (presence.person_id, presence.place_id)
            weights[key] = max(weights.get(key, 0), FREQUENCY_WEIGHT[presence.frequency])
    graph = nx.Graph()
    graph.graph["locmap"] = _PRESENCE_GRAPH
    graph.graph["as_of"] = as_of
    graph.add_nodes_from(
        (
            person_node(p.id),
            {"bipartite": 0, "pseudonym": p.pseudonym, "kind": p.kind, "age_band": p.age_band},
        )
        for p in ordered
    )
    graph.add_nodes_from(
        (place_node(pl.id), {"bipartite": 1, "name": pl.name})
        for pl in sorted(place_list, key=lambda pl: (pl.name, str(pl.id)))
    )
    graph.add_edges_from(
        (person_node(person), place_node(place), {"weight": w})
        for (person, place), w in weights.items()
    )
    return graph


def check_graph(graph: object, which: str) -> Any:
    """Raise ValueError unless ``graph`` came from the named builder ("people"/"presence")."""
    tag = _PEOPLE_GRAPH if which == "people" else _PRESENCE_GRAPH
    if not isinstance(graph, nx.Graph) or graph.graph.get("locmap") != tag:
        builder = "build_people_graph" if which == "people" else "build_presence_graph"
        raise ValueError(f"graph must be built by {builder}")
    return graph
