"""Exporting a pilot's peer network as GraphML or GEXF for Gephi, yEd or NetworkX.

The file holds pseudonyms, kinds, age bands, group labels, relationships and place
presences — never a name, date of birth or case reference — and says so in its own
graph attributes. Exports are for the owning team only (``network.export``: partners
see group-level summaries on the network page); every export is audited.
"""

from __future__ import annotations

import datetime as dt
import io
from xml.sax.saxutils import escape

import networkx as nx
from sqlalchemy.orm import Session

from locmap.errors import InvalidData
from locmap.services import audit
from locmap.services.network import analysis
from locmap.services.permissions import Actor, require

__all__ = ["FORMATS", "export_network"]

FORMATS = {"graphml": "application/graphml+xml", "gexf": "application/gexf+xml"}
CONTAINS = ("Pseudonyms, kinds, age bands and group labels of people; relationships (type, "
            "valence, strength, dates); places and how often people are there. No names, "
            "dates of birth or case references.")


def _graph(
    session: Session, actor: Actor, pilot_id: int, as_of: dt.date | None
) -> nx.MultiGraph:
    result, records = analysis(session, actor, pilot_id, as_of=as_of)
    group_of = result.groups.group_of
    pseudonym = {p.id: p.pseudonym for p in records["people"]}
    graph = nx.MultiGraph(contains=CONTAINS, pilot_id=pilot_id,
                          as_of=as_of.isoformat() if as_of else "all dates")
    for p in records["people"]:
        graph.add_node(p.pseudonym, label=p.pseudonym, node_type="person", kind=p.kind,
                       age_band=p.age_band or "unknown", group=group_of.get(p.id, ""))
    used_places = {pr.place_id for pr in records["presences"]}
    for place in records["places"]:
        if place.id in used_places:
            graph.add_node(f"place:{place.id}", label=place.name, node_type="place",
                           kind="place", age_band="", group="")
    for tie in records["ties"]:
        graph.add_edge(pseudonym[tie.a_id], pseudonym[tie.b_id], edge_type="relationship",
                       type=tie.type, valence=tie.valence, weight=tie.strength,
                       since=tie.since.isoformat() if tie.since else "",
                       until=tie.until.isoformat() if tie.until else "")
    for pr in records["presences"]:
        graph.add_edge(pseudonym[pr.person_id], f"place:{pr.place_id}", edge_type="presence",
                       type=pr.frequency, valence="", weight=1,
                       since=pr.since.isoformat() if pr.since else "",
                       until=pr.until.isoformat() if pr.until else "")
    return graph


def export_network(
    session: Session, actor: Actor, pilot_id: int, fmt: str, *, as_of: dt.date | None = None
) -> bytes:
    """Return the pilot's network as a GraphML or GEXF document (bytes, UTF-8)."""
    require(actor, pilot_id, "network.export")
    if fmt not in FORMATS:
        raise InvalidData(f"Export format must be one of {', '.join(FORMATS)}.")
    graph = _graph(session, actor, pilot_id, as_of)
    buffer = io.BytesIO()
    if fmt == "graphml":
        nx.write_graphml(graph, buffer, encoding="utf-8")
    else:
        nx.write_gexf(graph, buffer, encoding="utf-8")
        # GEXF keeps no graph attributes: say what the file holds in its <meta> instead.
        described = f"<description>{escape(CONTAINS)}</description></meta>"
        buffer = io.BytesIO(buffer.getvalue().replace(b"</meta>", described.encode(), 1))
    audit.record(session, actor, "export", "network", None, pilot_id=pilot_id,
                 personal_data=True,
                 detail={"format": fmt, "nodes": graph.number_of_nodes(),
                         "edges": graph.number_of_edges(), "contains": CONTAINS})
    return buffer.getvalue()
