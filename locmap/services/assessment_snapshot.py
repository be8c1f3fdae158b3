"""The computed side of an assessment: the indicators snapshot and the plain-language summary.

``compute_indicators`` runs the queries of :mod:`locmap.queries.assessment` and the pure
analysis of :mod:`locmap.assessment` (place indicators, Gi* hot spots, risk terrain) for
one place and returns JSON-ready data; a submitted assessment stores it so that what the
partnership agreed on stays readable when new incidents arrive. ``write_summary`` turns
the factors, the context weighting and that snapshot into sentences, including what the
data shows that no factor names yet. Nothing here checks permissions or writes: the use
cases in :mod:`locmap.services.assessments` do.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import asdict, is_dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment.hotspots import getis_ord_gi_star
from locmap.assessment.indicators import (
    LONDON,
    Exposure,
    Incident,
    place_indicators_from_counts,
)
from locmap.assessment.risk_terrain import fit_risk_terrain, terrain_covariates
from locmap.queries import assessment as q
from locmap.queries.at_place import PLACE_REACH_M
from locmap.services.limits import analysis_time_limit

__all__ = ["INFLUENCE_M", "compute_indicators", "jsonable", "write_summary"]

# RTM's "spatial influence" of a feature: one short walk (Caplan & Kennedy use 1-3 blocks).
INFLUENCE_M = 200.0
# Analytic Gi* z with Benjamini-Hochberg: on overdispersed incident counts esda-style
# conditional permutations over a few hundred cells leave nothing significant after FDR,
# while the analytic test still separates the clusters partners can see on the map.
_HOT_PERMUTATIONS = 0


def jsonable(value: Any) -> Any:
    """Return dataclasses, numpy values and non-finite floats as plain JSON values.

    JSONB refuses NaN and Infinity, so those become None.
    """
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _month(t: dt.datetime) -> dt.date:
    local = t.astimezone(LONDON)
    return dt.date(local.year, local.month, 1)


def compute_indicators(
    session: Session, place: q.PlaceRow, *, ring_m: float = q.RING_M,
    cell_m: float = q.CELL_M, place_m: float = PLACE_REACH_M,
    as_of: dt.datetime | None = None,
) -> dict[str, Any]:
    """Everything the data says about one place, JSON-ready.

    Parameters
    ----------
    session : Session
    place : PlaceRow
        The place (an online context has no geometry: only people present are given).
    ring_m, cell_m, place_m : float
        Ring width, grid cell side and the radius standing for a point or line place.
    as_of : datetime, optional
        Count incidents before this instant only (default: all).

    Returns
    -------
    dict
        ``settings``, ``incidents`` (place/ring/locality counts and the linked ids),
        ``indicators`` (:class:`~locmap.assessment.indicators.PlaceIndicators`),
        ``hotspots`` (hot cells with polygons, the place's own cell), ``risk_terrain``,
        ``safety_maps`` (by period, areas covering the place), ``people_present``
        (counts by kind and pseudonyms) and ``notes`` on what could not be computed.
    """
    with analysis_time_limit(session, "the place's indicators"):
        return _compute_indicators(session, place, ring_m=ring_m, cell_m=cell_m,
                                   place_m=place_m, as_of=as_of)


def _compute_indicators(
    session: Session, place: q.PlaceRow, *, ring_m: float, cell_m: float, place_m: float,
    as_of: dt.datetime | None,
) -> dict[str, Any]:
    notes: list[str] = []
    today = (as_of or clock.now()).date()
    out: dict[str, Any] = {
        "settings": {"ring_m": ring_m, "cell_m": cell_m, "place_m": place_m,
                     "crs": f"EPSG:{q.BNG_SRID}", "computed_at": clock.now()},
        "place": {"id": place.id, "name": place.name, "geometry": place.geojson},
        "incidents": None, "indicators": None, "hotspots": None, "risk_terrain": None,
        "safety_maps": None, "people_present": _people(session, place.id, today),
        "notes": notes,
    }
    if place.geojson is None:
        notes.append("An online context has no map location: no spatial indicators.")
        return jsonable(out)

    found = q.place_incidents(session, place.id, ring_m=ring_m, place_m=place_m, until=as_of)
    sizes = q.area_sizes(session, place.id, ring_m=ring_m, place_m=place_m)
    out["incidents"] = {"place": found.count("place"), "ring": found.count("ring"),
                        "locality": found.count("locality"),
                        "place_ids": [r.id for r in found.at_place]}
    if (found.first_at is not None and found.last_at is not None and sizes is not None
            and sizes.place_km2 > 0 and sizes.ring_km2 > 0):
        exposure = Exposure(_month(found.first_at), _month(found.last_at), sizes.place_km2,
                            sizes.ring_km2,
                            max(sizes.locality_km2, sizes.place_km2 + sizes.ring_km2 + 1e-9))
        at_place = [Incident(r.occurred_at, r.precision, r.category, r.severity, r.area)
                    for r in found.at_place]
        out["indicators"] = place_indicators_from_counts(
            at_place, found.ring, found.rest_of_locality, exposure).to_dict()
        out["areas_km2"] = asdict(sizes)
    else:
        notes.append("No incidents in the locality yet: no rates or trend.")

    grid = q.grid_counts(session, place.pilot_id, cell_m=cell_m, until=as_of)
    out["hotspots"] = _hotspots(session, place, grid, notes)
    out["risk_terrain"] = _risk_terrain(session, place.pilot_id, grid, notes)
    out["safety_maps"] = _safety_maps(session, place.id, place_m)
    return jsonable(out)


def _hotspots(session: Session, place: q.PlaceRow, grid: q.Grid,
              notes: list[str]) -> dict[str, Any] | None:
    if len(grid.cells) < 9 or sum(c.count for c in grid.cells) == 0:
        notes.append("Too few grid cells or incidents for Gi* hot spots.")
        return None
    res = getis_ord_gi_star(
        ([c.row for c in grid.cells], [c.col for c in grid.cells],
         [c.count for c in grid.cells]),
        cell_size_m=grid.cell_m, permutations=_HOT_PERMUTATIONS, seed=0,
    )
    hot, cold = res.hot_cells(), res.cold_cells()
    polys = q.cell_polygons(session, grid, hot)
    cells = {(c.row, c.col): i for i, c in enumerate(grid.cells)}
    own = q.place_cell(session, place.id, grid)
    place_cells = []
    if own is not None:
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                i = cells.get((own[0] + dr, own[1] + dc))
                if i is not None:
                    place_cells.append({
                        "row": own[0] + dr, "col": own[1] + dc, "own": dr == dc == 0,
                        "count": int(res.counts[i]), "z": float(res.z[i]),
                        "q": float(res.q[i]), "classification": res.classification[i]})
    return {
        "statistic": "Getis-Ord Gi*", "cell_m": grid.cell_m, "weights": "queen",
        "permutations": _HOT_PERMUTATIONS, "fdr": "Benjamini-Hochberg", "alpha": res.alpha,
        "n_cells": len(grid.cells), "n_hot": len(hot), "n_cold": len(cold),
        "hot_cells": polys, "place_cells": place_cells,
        "place_is_hot": any(c["classification"] == "hot" for c in place_cells if c["own"]),
        "place_near_hot": any(c["classification"] == "hot" for c in place_cells),
    }


def _risk_terrain(session: Session, pilot_id: int, grid: q.Grid,
                  notes: list[str]) -> dict[str, Any] | None:
    features = q.feature_points(session, pilot_id)
    if not features or not grid.cells:
        notes.append("No point feature layers: no risk terrain.")
        return None
    xy = np.array([[c.x, c.y] for c in grid.cells])
    y = np.array([c.count for c in grid.cells])
    cov = terrain_covariates(xy, features, influence_m=INFLUENCE_M).design()
    usable = {k: v for k, v in cov.items() if v.min() != v.max()}
    for k in sorted(set(cov) - set(usable)):
        notes.append(f"Risk terrain leaves out {k!r}: every cell has the same exposure.")
    if not usable:
        return None
    try:
        # fit_risk_terrain reads convergence from its fits and lets no warning out, so
        # nothing here touches the process-wide warnings filters.
        res = fit_risk_terrain(y, usable)
    except ValueError as exc:
        notes.append(f"Risk terrain could not be fitted: {exc}")
        return None
    data: dict[str, Any] = res.to_dict()
    data["influence_m"] = INFLUENCE_M
    data["layers"] = {k: len(v) for k, v in features.items()}
    return data


def _safety_maps(session: Session, place_id: int, place_m: float) -> dict[str, Any]:
    areas = q.safety_map_areas(session, place_id, place_m=place_m)
    periods: dict[str, dict[str, Any]] = {}
    for a in areas:
        p = periods.setdefault(a.period, {"period": a.period, "maps": set(),
                                          "at_place": Counter(), "all": Counter()})
        p["maps"].add(a.safety_map_id)
        p["all"][a.rating] += 1
        if a.touches_place:
            p["at_place"][a.rating] += 1
    summary = [{"period": k, "maps": len(v["maps"]),
                "at_place": {r: v["at_place"][r] for r in ("red", "amber", "green")},
                "all": {r: v["all"][r] for r in ("red", "amber", "green")}}
               for k, v in sorted(periods.items())]
    return {"periods": summary,
            "areas": [{"period": a.period, "rating": a.rating, "at_place": a.touches_place,
                       "geometry": a.geojson} for a in areas]}


def _people(session: Session, place_id: int, as_of: dt.date) -> dict[str, Any]:
    rows = q.presences_in_force(session, place_id, as_of)
    return {"as_of": as_of, "by_kind": dict(Counter(r.kind for r in rows)),
            "young_people": [r.pseudonym for r in rows if r.kind == "young_person"],
            "note": "Pseudonyms only. Spending time at a place is not membership of anything."}


def write_summary(factors: list[dict[str, Any]], contexts: list[dict[str, Any]],
                  snapshot: dict[str, Any] | None, place_name: str) -> str:
    """Plain-language summary of an assessment from its data (no score of a place or child).

    ``factors`` are dicts with quadrant, statement, weight, voice and ``evidence``
    counts; ``contexts`` dicts with name, share and reason.
    """
    parts: list[str] = []
    weighty = sorted((f for f in factors if f["weight"] >= 2),
                     key=lambda f: (-f["weight"], f["quadrant"], f["statement"]))
    if weighty:
        lines = []
        for f in weighty[:5]:
            ev = f["evidence"]
            total = ev["incidents"] + ev["observations"] + ev["engagements"]
            basis = (f"{ev['incidents']} incidents, {ev['observations']} site visits, "
                     f"{ev['engagements']} listening records" if total
                     else "no linked evidence yet")
            lines.append(f"{f['statement']} ({f['quadrant']}, weight {f['weight']}, "
                         f"{f['voice']} voice; {basis})")
        parts.append(f"The factors that weigh most at {place_name}: " + "; ".join(lines) + ".")
    else:
        parts.append(f"No factor at {place_name} has been weighted medium or high yet.")
    unevidenced = [f for f in factors if not sum(f["evidence"].values())]
    if unevidenced:
        parts.append(f"{len(unevidenced)} of {len(factors)} factors have no linked evidence.")
    if contexts:
        top = max(c["share"] for c in contexts)
        names = [c for c in contexts if c["share"] == top]
        if len(names) == 1:
            parts.append(f"The weightiest context is {names[0]['name']} ({top} of 100): "
                         f"{names[0]['reason']}.")
        else:
            parts.append("Contexts tied as weightiest at " f"{top} of 100: "
                         + ", ".join(c["name"] for c in names) + ".")
    parts.extend(_unnamed(factors, snapshot))
    return "\n\n".join(parts)


def _unnamed(factors: list[dict[str, Any]], snap: dict[str, Any] | None) -> list[str]:
    """What the data shows that no factor names yet."""
    if not snap:
        return []
    out: list[str] = []
    incident_factors = [f for f in factors if f["evidence"]["incidents"]]
    linked = {i for f in factors for i in f.get("incident_ids", [])}
    inc = snap.get("incidents") or {}
    unlinked = [i for i in inc.get("place_ids", []) if i not in linked]
    if unlinked:
        out.append(f"{len(unlinked)} of {len(inc.get('place_ids', []))} incidents at the "
                   "place are not linked to any factor.")
    ind = snap.get("indicators") or {}
    monthly = ind.get("monthly") or {}
    low, trend = monthly.get("trend_ci_low"), monthly.get("trend_per_year")
    if trend is not None and low is not None and low > 0:
        rising = f"Incidents at the place are rising (about {trend:+.0%} a year)"
        out.append(rising + ("; no factor cites incidents as evidence."
                             if not incident_factors else "."))
    ratio = ((ind.get("overall") or {}).get("place_vs_ring") or {})
    if ratio.get("ci_low") and ratio["ci_low"] > 1:
        if ratio.get("ratio") is None or ratio.get("ci_high") is None:
            # No incident in the ring: the ratio is unbounded, only its lower limit is known.
            out.append("Incidents per km2 at the place are at least "
                       f"{ratio['ci_low']:.1f} times the ring around it (95% lower limit; "
                       "the ring has no incident).")
        else:
            out.append(f"Incidents per km2 at the place are {ratio['ratio']:.1f} times the "
                       f"ring around it (95% interval {ratio['ci_low']:.1f} to "
                       f"{ratio['ci_high']:.1f}).")
    hot = snap.get("hotspots") or {}
    if hot.get("place_near_hot") and not incident_factors:
        out.append("The place is in or next to a Gi* hot spot, and no factor names it.")
    elif hot.get("place_near_hot"):
        out.append("The place is in or next to a Gi* hot spot of incidents.")
    rt = snap.get("risk_terrain") or {}
    for f in rt.get("features", []):
        if f.get("ci_low") and f["ci_low"] > 1:
            out.append(f"Data-derived: cells within {rt.get('influence_m', INFLUENCE_M):.0f} m "
                       f"of {f['feature']} have {f['relative_risk']:.1f} times the incidents "
                       "(an association, not a cause).")
    periods = (snap.get("safety_maps") or {}).get("periods") or []
    if periods and periods[-1]["at_place"]["red"]:
        voiced = any(f["voice"] == "child" for f in factors)
        out.append(f"In the latest safety maps ({periods[-1]['period']}) young people coloured "
                   "the place red" + ("." if voiced else "; no factor gives a child's voice."))
    return out
