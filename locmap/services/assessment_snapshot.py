"""The computed side of an assessment: the indicators snapshot and the plain-language summary.

``compute_indicators`` runs the queries of :mod:`locmap.queries.assessment` and the pure
analysis of :mod:`locmap.assessment` (place indicators, Gi* hot spots, risk terrain) for
one place and returns JSON-ready data; a submitted assessment stores it so that what the
partnership agreed on stays readable when new incidents arrive
(:mod:`locmap.services.assessment_summary` puts it into sentences). Nothing here checks
permissions or writes: the use cases in :mod:`locmap.services.assessments` do.
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
from locmap.assessment import perceived_safety as ps
from locmap.assessment.disclosure import MARK
from locmap.assessment.hotspots import getis_ord_gi_star
from locmap.assessment.indicators import (
    LONDON,
    Exposure,
    Incident,
    PlaceIndicators,
    place_indicators_from_counts,
)
from locmap.assessment.risk_terrain import (
    RiskTerrainResult,
    fit_risk_terrain,
    terrain_covariates,
)
from locmap.queries import assessment as q
from locmap.queries.at_place import PLACE_REACH_M
from locmap.services.limits import analysis_time_limit

__all__ = ["INFLUENCE_M", "compute_indicators", "jsonable", "safety_maps_view"]

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


# The result types of the snapshot's analysis blocks: the API types its answer from them
# (web does not import the analysis package itself).
INDICATORS_RESULT = PlaceIndicators
RISK_TERRAIN_RESULT = RiskTerrainResult


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
    """Every rated area of the pilot's safety maps (the individual maps, without the young
    people's reasons) and, per period, the tallies at the place and over the pilot.
    """
    areas = q.safety_map_areas(session, place_id, place_m=place_m)
    periods: dict[str, dict[str, list[tuple[int, str]]]] = {}
    for a in areas:
        p = periods.setdefault(a.period, {"all": [], "at_place": []})
        p["all"].append((a.safety_map_id, a.rating))
        if a.touches_place:
            p["at_place"].append((a.safety_map_id, a.rating))
    summary = []
    for k, v in sorted(periods.items()):
        everywhere, here = ps.tally(v["all"]), ps.tally(v["at_place"])
        summary.append({"period": k, "maps": everywhere.maps, "place_maps": here.maps,
                        "at_place": {r: getattr(here, r) for r in ps.RATINGS},
                        "all": {r: getattr(everywhere, r) for r in ps.RATINGS}})
    return {"periods": summary,
            "areas": [{"safety_map_id": a.safety_map_id, "period": a.period,
                       "rating": a.rating, "at_place": a.touches_place,
                       "geometry": a.geojson} for a in areas]}


def _period_figures(period: dict[str, Any], areas: list[dict[str, Any]] | None, *,
                    partner: bool, threshold: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A stored period's figures at the place and over the pilot, by the one perceived-
    safety rule (:func:`locmap.assessment.perceived_safety.figure`).

    A snapshot stored before ``place_maps`` was kept counts the maps at the place from its
    areas' map ids; one without those either cannot say how many maps are behind the
    figure, so a partner gets it withheld.
    """
    here, everywhere = period.get("at_place") or {}, period.get("all") or {}

    def fig(c: dict[str, Any], maps: int | None) -> dict[str, Any]:
        t = ps.Tally(int(c.get("red", 0)), int(c.get("amber", 0)), int(c.get("green", 0)),
                     maps or 0)
        if maps is not None:
            return ps.figure(t, partner=partner, threshold=threshold)
        if partner and t.areas:  # how many maps is unknown: never enough to show
            return {"maps": MARK, "areas": None, "shares": None, "score": None,
                    "mostly": None, "withheld": True}
        return {**ps.figure(t, partner=partner, threshold=threshold), "maps": None}

    place_maps = period.get("place_maps")
    if place_maps is None:
        ids = {a.get("safety_map_id") for a in areas or []
               if a.get("period") == period.get("period") and a.get("at_place")}
        place_maps = None if None in ids else len(ids)
    return fig(here, place_maps), fig(everywhere, int(period.get("maps") or 0))


def safety_maps_view(block: dict[str, Any] | None, *, individual: bool, partner: bool,
                     threshold: int) -> dict[str, Any] | None:
    """A stored snapshot's safety-map block as one reader may see it.

    Every reader gets, per period, the figure at the place and over the whole pilot
    (``place``, ``pilot``: shares, score, maps — withheld for a partner below
    ``threshold`` maps, counts rounded). Only a reader who may see individual safety maps
    (``individual``) also gets the raw tallies and the rated ``areas``; anyone else gets
    ``areas`` None and ``individual_withheld`` True.
    """
    if block is None:
        return None
    areas = block.get("areas")
    periods = []
    for p in block.get("periods") or []:
        place, pilot = _period_figures(p, areas, partner=partner, threshold=threshold)
        row: dict[str, Any] = {"period": p.get("period"), "place": place, "pilot": pilot}
        if individual:
            row.update({k: p.get(k) for k in ("maps", "place_maps", "at_place", "all")})
        periods.append(row)
    return {"periods": periods, "areas": areas if individual else None,
            "individual_withheld": not individual, "threshold": threshold,
            "partner": partner}


def _people(session: Session, place_id: int, as_of: dt.date) -> dict[str, Any]:
    rows = q.presences_in_force(session, place_id, as_of)
    return {"as_of": as_of, "by_kind": dict(Counter(r.kind for r in rows)),
            "young_people": [r.pseudonym for r in rows if r.kind == "young_person"],
            "note": "Pseudonyms only. Spending time at a place is not membership of anything."}
