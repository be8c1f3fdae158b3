"""The peer network as the page draws it: Cytoscape elements and side-panel lists.

Pseudonyms only; which ties are drawn follows the analysis' own date (``as_of``).
"""

from __future__ import annotations

from typing import Any

from locmap.network import NetworkAnalysis
from locmap.network.model import in_force

__all__ = ["graph_data"]


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
