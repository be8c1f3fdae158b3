"""A map of a place's assessment to share: one HTML file that opens offline (issue 17).

For board packs and partners without a login: the place's outline, the incidents around it
as partners see them (whole cells of :data:`~locmap.services.incidents.PARTNER_CELL_ZOOM`'s
grid at their centres, over whole quarters, withheld below the suppression threshold and
rounded to base 5 — :func:`locmap.services.incidents.incident_map`'s partner rule, whoever
downloads it) and the assessment's key figures rounded the same way. No person appears in
it, by name or pseudonym. It is drawn with folium; Leaflet's script and style are inlined
from ``static/vendor/leaflet`` and every other asset folium links to a CDN is removed, so
the file needs no network. Every download is audited as an export.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from shapely.geometry import shape
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import Conflict
from locmap.formatting import day
from locmap.services import audit, incidents
from locmap.services.assessments import assessment_view
from locmap.services.permissions import Actor, require
from locmap.services.report import key_figures
from locmap.vocab import label

__all__ = ["share_map_html", "RING_DEG"]

_LEAFLET = Path(__file__).resolve().parent.parent / "web" / "static" / "vendor" / "leaflet"
# How far around the place the incident cells reach (about 500 m at 52° N).
RING_DEG = 0.006
_CELL_ZOOM = incidents.PARTNER_CELL_ZOOM


def _offline(page: str) -> str:
    """Folium's page with every CDN asset removed and Leaflet inlined."""
    page = re.sub(r'<script[^>]+src="https?://[^"]*"[^>]*>\s*</script>', "", page)
    page = re.sub(r'<link[^>]+href="https?://[^"]*"[^>]*/?>', "", page)
    css = (_LEAFLET / "leaflet.css").read_text(encoding="utf-8")
    js = (_LEAFLET / "leaflet.js").read_text(encoding="utf-8").replace("</script", "<\\/script")
    inline = f"<style>{css}</style>\n<script>{js}</script>\n"
    return page.replace("<head>", "<head>\n" + inline, 1)


def share_map_html(
    session: Session, actor: Actor, pilot_id: int, assessment_id: int, *, threshold: int,
) -> str:
    """The share map of one assessment version as a self-contained HTML page."""
    import folium

    require(actor, pilot_id, "export.run")
    view = assessment_view(session, actor, pilot_id, assessment_id, threshold=threshold)
    place = view["place"]
    if not place["geometry"]:
        raise Conflict("An online context has no place on a map to share.")
    geom = shape(place["geometry"])
    w, s, e, n = geom.bounds
    bbox = (w - RING_DEG, s - RING_DEG * 0.6, e + RING_DEG, n + RING_DEG * 0.6)
    cells = incidents.partner_map(session, pilot_id, bbox, _CELL_ZOOM, incidents.IncidentFilter(),
                                  threshold)
    name = html.escape(place["name"])
    fmap = folium.Map(location=[(s + n) / 2, (w + e) / 2], tiles=None, control_scale=True,
                      zoom_control=True)
    fmap.fit_bounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]])
    for f in cells["features"]:
        lon, lat = f["geometry"]["coordinates"]
        count = f["properties"]["count"]
        folium.CircleMarker(
            [lat, lon], radius=4 + min(16, count ** 0.5 * 1.5), color="#8e2b1f", weight=1,
            fill=True, fill_color="#d9534f", fill_opacity=0.55,
            tooltip=f"about {count} incidents").add_to(fmap)
    if place["geometry"]["type"] == "Point":  # a circle: Leaflet's marker is an image file
        folium.CircleMarker([geom.y, geom.x], radius=9, color="#1a4f8b", weight=3, fill=True,
                            fill_color="#4f86c6", fill_opacity=0.6, tooltip=name).add_to(fmap)
    else:
        folium.GeoJson(
            {"type": "Feature", "geometry": place["geometry"], "properties": {}},
            style_function=lambda _: {"color": "#1a4f8b", "weight": 3, "fillColor": "#4f86c6",
                                      "fillOpacity": 0.25},
            tooltip=name).add_to(fmap)
    figures = "".join(
        f"<tr><th scope='row' style='text-align:left;font-weight:600;padding-right:8px'>"
        f"{html.escape(str(k))}</th><td style='text-align:right'>{html.escape(str(v))}</td></tr>"
        for k, v, _ in key_figures(view, True, threshold))
    panel = f"""
<div id="share-panel" style="position:absolute;top:10px;right:10px;z-index:1000;
  max-width:min(340px,80vw);background:#fff;padding:10px 12px;border:1px solid #999;
  font:14px/1.4 system-ui,sans-serif;box-shadow:0 1px 4px rgba(0,0,0,.3)">
<h1 style="font-size:16px;margin:0 0 4px">{name}</h1>
<p style="margin:0 0 6px">{html.escape(label(place["kind"]))} · assessment version
{view["version_no"]} ({html.escape(label(view["status"]))}) · made {day(clock.today())}</p>
<table style="border-collapse:collapse;font-size:13px">{figures}</table>
<p style="margin:6px 0 0;font-size:12px">Partner version: incidents in cells of about
350 m over whole quarters, rounded to the nearest 5; fewer than {threshold} are not shown.
Blue: the place. Red circles: incidents around it.</p></div>"""
    fmap.get_root().html.add_child(folium.Element(panel))  # type: ignore[attr-defined]
    page = _offline(fmap.get_root().render())
    audit.record(session, actor, "export", "assessment_share_map", assessment_id,
                 pilot_id=pilot_id, detail={"format": "html", "suppressed": True,
                                            "cells": len(cells["features"])})
    return page
