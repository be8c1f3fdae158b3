"""The peer network as the page draws it: Cytoscape elements and side-panel lists.

Pseudonyms only; which ties are drawn follows the analysis' own date (``as_of``).
"""

from __future__ import annotations

from typing import Any

from locmap.network import NetworkAnalysis
from locmap.network.model import in_force

__all__ = ["graph_data", "table_data"]


def graph_data(result: NetworkAnalysis, records: dict[str, list[Any]]) -> dict[str, Any]:
    """Cytoscape elements and side-panel lists from an analysis (pseudonyms only)."""
    group_of = result.groups.group_of
    pseudonym = {p.id: p.pseudonym for p in records["people"]}
    labels = [g.label for g in result.groups.groups]
    connectors = {c.person_id: c for c in result.connectors.connectors}
    articulation = set(result.connectors.articulation_points)
    linked: dict[Any, list[str]] = {}
    for concern in result.concerns.adults_of_concern:
        for yp in concern.young_people:
            linked.setdefault(yp, []).append(concern.pseudonym)
    adults = {a.person_id: a for a in result.concerns.adults_of_concern}
    nodes = []
    for p in records["people"]:
        adult = adults.get(p.id)
        nodes.append({"data": {
            "id": f"p{p.id}", "label": p.pseudonym, "kind": p.kind,
            "age_band": p.age_band, "group": group_of.get(p.id, ""),
            "group_index": labels.index(group_of[p.id]) if p.id in group_of else -1,
            "connector": p.id in connectors, "articulation": p.id in articulation,
            "linked_adults": linked.get(p.id, []),
            "reaches": [pseudonym[y] for y in adult.young_people] if adult else [],
            "groups_reached": list(adult.groups_reached) if adult else [],
        }})
    edges = [
        {"data": {"id": f"t{i}", "source": f"p{t.a_id}", "target": f"p{t.b_id}",
                  "type": t.type, "valence": t.valence, "strength": t.strength}}
        for i, t in enumerate(records["ties"])
        if in_force(t.since, t.until, result.as_of)
    ]
    return {"nodes": nodes, "edges": edges, "groups": labels}


def table_data(result: NetworkAnalysis, records: dict[str, list[Any]]) -> dict[str, Any]:
    """The network as tables: people, groups with members, ties, places (pseudonyms only).

    Built from :func:`graph_data` (the graph's people and ties) and the analysis' own groups
    and place profiles (the map's), so every count here is the one the graph and the map
    show. A person's places are those where their presence is in force on ``as_of``; a
    tie's places are those where both of its people spend time.
    """
    graph = graph_data(result, records)
    place_name = {pl.id: pl.name for pl in records["places"]}
    where: dict[Any, set[str]] = {}
    for pr in records["presences"]:
        if pr.place_id in place_name and in_force(pr.since, pr.until, result.as_of):
            where.setdefault(pr.person_id, set()).add(place_name[pr.place_id])
    person_of = {f"p{p.id}": p.id for p in records["people"]}
    people = []
    for node in graph["nodes"]:
        d = node["data"]
        pid = person_of[d["id"]]
        people.append({"pseudonym": d["label"], "kind": d["kind"], "age_band": d["age_band"],
                       "group": d["group"], "connector": d["connector"],
                       "articulation": d["articulation"],
                       "places": sorted(where.get(pid, ()))})
    label = {n["data"]["id"]: n["data"]["label"] for n in graph["nodes"]}
    ties = []
    for edge in graph["edges"]:
        d = edge["data"]
        a, b = person_of[d["source"]], person_of[d["target"]]
        ties.append({"a": label[d["source"]], "b": label[d["target"]], "type": d["type"],
                     "valence": d["valence"], "strength": d["strength"],
                     "places": sorted(where.get(a, set()) & where.get(b, set()))})
    groups = [{"label": g.label, "members": list(g.pseudonyms),
               "places": [(p.name, next(x.members_present for x in p.groups
                                        if x.label == g.label))
                          for p in result.places.places
                          if any(x.label == g.label for x in p.groups)]}
              for g in result.groups.groups]
    places = [{"name": p.name, "young_people": p.young_people,
               "groups": [(x.label, x.members_present) for x in p.groups],
               "adults_of_concern": p.adults_of_concern, "trusted_adults": p.trusted_adults,
               "shared": p.shared}
              for p in result.places.places]
    return {"people": people, "groups": groups, "ties": ties, "places": places}
