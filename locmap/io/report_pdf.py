"""The printable report of an assessment or plan version: HTML templates to PDF.

Everything is drawn here, offline: the place map is a matplotlib drawing of the place,
the pilot's other places and the locality outline (no map tiles, nothing fetched), KPI
charts are matplotlib PNGs, and WeasyPrint resolves stylesheets against the app's static
folder only (the URL fetcher refuses anything that is not a local file or a data URI).
The data it receives is already checked, suppressed and pseudonymised by the service.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from shapely.geometry import shape

from locmap.formatting import FILTERS

__all__ = ["TEMPLATES", "STATIC", "place_map_png", "kpi_chart_png", "render_html",
           "render_pdf", "render_template_pdf"]

_WEB = Path(__file__).resolve().parents[1] / "web"
TEMPLATES = _WEB / "templates" / "report"
STATIC = _WEB / "static"


def _figure(width: float, height: float) -> tuple[Figure, Any]:
    # A bare Figure on its own Agg canvas, not pyplot: pyplot keeps a process-wide figure
    # manager and backend, which threads of one web process would share. Nothing global
    # to close afterwards either; the figure goes when its last reference does.
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _draw(ax: Any, geom: Any, **style: Any) -> None:
    kind = geom.geom_type
    if kind in ("Polygon", "MultiPolygon"):
        for poly in getattr(geom, "geoms", [geom]):
            x, y = poly.exterior.xy
            ax.fill(x, y, **style)
    elif kind in ("LineString", "MultiLineString"):
        for line in getattr(geom, "geoms", [geom]):
            x, y = line.xy
            ax.plot(x, y, color=style.get("edgecolor", "#333"), linewidth=3)
    elif kind in ("Point", "MultiPoint"):
        for pt in getattr(geom, "geoms", [geom]):
            ax.plot(pt.x, pt.y, "o", markersize=9, color=style.get("facecolor", "#333"),
                    markeredgecolor="#102a43")


def place_map_png(place: dict[str, Any] | None, locality: dict[str, Any],
                  others: Sequence[dict[str, Any]] = ()) -> str | None:
    """A PNG data URI of the place (highlighted) in the locality with the other places.

    ``place`` is a GeoJSON geometry (``None`` for an online context: no map). Longitude is
    scaled by cos(latitude) so shapes keep their proportions at British latitudes.
    """
    if place is None:
        return None
    loc = shape(locality)
    fig, ax = _figure(6.4, 4.2)
    _draw(ax, loc, facecolor="#f5f7fa", edgecolor="#616e7c", linewidth=1.2)
    for g in others:
        _draw(ax, shape(g), facecolor="#bcccdc", edgecolor="#829ab1", linewidth=.6)
    _draw(ax, shape(place), facecolor="#c62828", edgecolor="#7f0000", linewidth=1.2,
          alpha=.85)
    minx, miny, maxx, maxy = loc.bounds
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect(1 / math.cos(math.radians((miny + maxy) / 2)))
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    # A 200 m scale bar, so the drawing can be read without tiles.
    metres_per_deg = 111_320 * math.cos(math.radians((miny + maxy) / 2))
    bar = 200 / metres_per_deg
    x0, y0 = minx + (maxx - minx) * .04, miny + (maxy - miny) * .05
    ax.plot([x0, x0 + bar], [y0, y0], color="#102a43", linewidth=2)
    ax.text(x0 + bar / 2, y0 + (maxy - miny) * .02, "200 m", ha="center", fontsize=8)
    return _data_uri(fig)


def kpi_chart_png(name: str, periods: Sequence[str], values: Sequence[float],
                  baseline: float | None, target: float | None, unit: str = "") -> str | None:
    """A small line chart of a KPI's measurements with its baseline and target."""
    if not values:
        return None
    fig, ax = _figure(5.6, 2.2)
    ax.plot(list(periods), list(values), marker="o", color="#1565c0", linewidth=1.8)
    if baseline is not None:
        ax.axhline(baseline, color="#829ab1", linestyle="--", linewidth=1, label="baseline")
    if target is not None:
        ax.axhline(target, color="#2e7d32", linestyle=":", linewidth=1.4, label="target")
    ax.set_title(name, fontsize=9, loc="left")
    ax.set_ylabel(unit, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_ylim(bottom=0)
    if baseline is not None or target is not None:
        ax.legend(fontsize=7, frameon=False, loc="upper right")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _data_uri(fig)


_env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                   autoescape=select_autoescape(["html"]), trim_blocks=True,
                   lstrip_blocks=True)
_env.filters.update(FILTERS)  # the pages' own date and count filters


def render_html(data: dict[str, Any], template: str = "report.html") -> str:
    """The report (or another template of the report folder, e.g. meeting minutes) as HTML
    (autoescaped: text from users cannot inject markup).
    """
    from locmap.vocab import label

    return _env.get_template(template).render(r=data, label=label)


def render_pdf(data: dict[str, Any], template: str = "report.html") -> bytes:
    """The report as PDF bytes, assets resolved against the static folder only."""
    return _html_to_pdf(render_html(data, template))


def render_template_pdf(name: str, **context: Any) -> bytes:
    """Another printable document of the report folder (e.g. a subject access summary)."""
    from locmap.vocab import label

    return _html_to_pdf(_env.get_template(name).render(label=label, **context))


def _html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # Only local files and data URIs: a report never reaches the network.
    fetcher = URLFetcher(allowed_protocols=("file", "data"), fail_on_errors=True)
    pdf: bytes = HTML(string=html, base_url=str(STATIC) + "/",
                      url_fetcher=fetcher).write_pdf()
    return pdf
