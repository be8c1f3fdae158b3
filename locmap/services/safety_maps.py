"""Safety maps: young people's red / amber / green areas, and the perceived-safety surface.

A practitioner, sitting with a young person or a group, draws areas (or picks a whole place,
the keyboard alternative to drawing) and rates each red, amber or green with a reason. The
respondent is a *group* (a description such as "Year 10 group") or an *age band*, never a
name. Each map belongs to a period: the pilot's review period its date falls in (keyed by
the review point's due date), or, outside the pilot's timeline, the calendar quarter
("2024-Q2", the baseline before a pilot).

Individual maps (the reasons are young people's words) are the owning team's
(``evidence.records``); coordinators and practitioners draw, change (optimistic locking on
``version``) and delete them (``evidence.edit``, refused on a closed pilot); every write is
audited. Everyone in the pilot sees the combined surface (:func:`surface`): per grid cell
and per place, the share of red, amber and green areas and the number of maps behind it,
withheld for partners below the suppression threshold
(:mod:`locmap.assessment.perceived_safety`, the one rule KPI (d) uses too).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from geoalchemy2.shape import from_shape
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from locmap import clock, formatting
from locmap.assessment import perceived_safety as ps
from locmap.errors import InvalidData, NotFound
from locmap.geo import parse_geojson_geometry, to_geojson, to_multipolygon
from locmap.models import Pilot, Place, SafetyMap, SafetyMapArea
from locmap.queries import assessment as qa
from locmap.queries import safety_maps as q
from locmap.services import audit
from locmap.services.evidence import check_text, check_vocab, live_place
from locmap.services.permissions import Actor, can, require
from locmap.services.versioning import check_version
from locmap.timeline import review_dates
from locmap.vocab import AGE_BANDS, SAFETY_RATINGS

__all__ = [
    "RESPONDENT_KINDS", "RESPONDENT_AGE_BANDS", "MAX_AREAS", "period_of", "period_label",
    "periods",
    "list_maps", "get_map", "create_map", "update_map", "delete_map", "surface",
    "place_surface",
]

RESPONDENT_KINDS = ("group", "age_band")
RESPONDENT_AGE_BANDS = tuple(b for b in AGE_BANDS if b != "unknown")
_AGE_PREFIX = "age band "
MAX_AREAS = 50
MAX_REASON = 2000


# --- periods -----------------------------------------------------------------------------

def _quarter(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _review_periods(pilot: Pilot) -> list[tuple[dt.date, dt.date, int]]:
    """(first day, last day, review number) of each of the pilot's review periods."""
    dues = review_dates(pilot.start_date, pilot.duration_months, pilot.review_interval_months)
    out, start = [], pilot.start_date
    for n, due in enumerate(dues, start=1):
        out.append((start, due, n))
        start = due + dt.timedelta(days=1)
    return out


def period_of(pilot: Pilot, day: dt.date) -> str:
    """The period a map drawn on ``day`` belongs to: the due date (ISO) of the review point
    closing the review period that holds it, else the calendar quarter ("2024-Q2").

    Examples
    --------
    >>> p = Pilot(start_date=dt.date(2025, 1, 6), duration_months=18, review_interval_months=3)
    >>> [period_of(p, dt.date(*d)) for d in ((2025, 2, 20), (2025, 4, 7), (2024, 5, 16))]
    ['2025-04-06', '2025-07-06', '2024-Q2']
    """
    for start, end, _ in _review_periods(pilot):
        if start <= day <= end:
            return end.isoformat()
    return _quarter(day)


def _describe(pilot: Pilot, key: str) -> dict[str, Any]:
    """A period key with its label and first and last day (for sorting and comparing)."""
    for start, end, n in _review_periods(pilot):
        if key == end.isoformat():
            return {"key": key, "label": f"Review {n}: {formatting.day(start)} – "
                                         f"{formatting.day(end)}",
                    "start": start.isoformat(), "end": end.isoformat(), "review": n}
    if len(key) == 7 and key[4:6] == "-Q" and key[:4].isdigit() and key[6] in "1234":
        y, qn = int(key[:4]), int(key[6])
        start = dt.date(y, 3 * qn - 2, 1)
        end = (dt.date(y + (qn == 4), (3 * qn) % 12 + 1, 1) - dt.timedelta(days=1))
        where = "before the pilot" if start < pilot.start_date else "after the review points"
        return {"key": key, "label": f"{y} Q{qn} ({where})", "start": start.isoformat(),
                "end": end.isoformat(), "review": None}
    try:  # a review period of an earlier timeline (the pilot's dates have changed since)
        end = dt.date.fromisoformat(key)
        return {"key": key, "label": f"Period to {formatting.day(end)}",
                "start": end.isoformat(), "end": end.isoformat(), "review": None}
    except ValueError:
        return {"key": key, "label": key, "start": "", "end": "", "review": None}


def period_label(pilot: Pilot, key: str) -> str:
    """How pages and reports name a period key ("Review 2: 7 Apr 2025 – 6 Jul 2025")."""
    return str(_describe(pilot, key)["label"])


def periods(session: Session, actor: Actor, pilot_id: int) -> list[dict[str, Any]]:
    """The pilot's periods, oldest first: every review period, and any other period a map
    belongs to; each with the number of maps drawn in it.
    """
    pilot = _pilot(session, actor, pilot_id, "evidence.view")
    counts: dict[str, int] = defaultdict(int)
    for key in session.scalars(select(SafetyMap.period).where(SafetyMap.pilot_id == pilot_id)):
        counts[key] += 1
    keys = {end.isoformat() for _, end, _ in _review_periods(pilot)} | set(counts)
    out = [{**_describe(pilot, k), "maps": counts.get(k, 0)} for k in keys]
    return sorted(out, key=lambda p: (p["start"], p["key"]))


def _pilot(session: Session, actor: Actor, pilot_id: int, permission: str) -> Pilot:
    require(actor, pilot_id, permission)
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound("No such pilot.")
    return pilot


# --- maps --------------------------------------------------------------------------------

def _respondent(smap: SafetyMap) -> dict[str, str]:
    text = smap.respondent_group or ""
    if text.startswith(_AGE_PREFIX):
        band = text[len(_AGE_PREFIX):]
        return {"respondent_kind": "age_band", "respondent": band,
                "respondent_label": f"A young person aged {band.replace('_', ' ')}"}
    return {"respondent_kind": "group", "respondent": text,
            "respondent_label": text or "A group (not described)"}


def _dict(smap: SafetyMap, pilot: Pilot | None = None) -> dict[str, Any]:
    areas = [{"id": a.id, "rating": a.rating, "reason": a.reason,
              "geometry": to_geojson(a.geom)} for a in smap.areas]
    counts = {r: sum(1 for a in smap.areas if a.rating == r) for r in SAFETY_RATINGS}
    out = {"id": smap.id, "drawn_on": smap.drawn_on.isoformat(), "period": smap.period,
           **_respondent(smap), "areas": areas, "counts": counts, "version": smap.version}
    if pilot is not None:
        out["period_label"] = _describe(pilot, smap.period)["label"]
    return out


def _map(session: Session, pilot_id: int, map_id: int) -> SafetyMap:
    smap = session.scalar(select(SafetyMap).where(SafetyMap.id == map_id,
                                                  SafetyMap.pilot_id == pilot_id)
                          .options(selectinload(SafetyMap.areas)))
    if smap is None:
        raise NotFound("No such safety map in this pilot.")
    return smap


def list_maps(session: Session, actor: Actor, pilot_id: int, *, period: str | None = None
              ) -> list[dict[str, Any]]:
    """The pilot's safety maps (of one period), newest first: the owning team's."""
    pilot = _pilot(session, actor, pilot_id, "evidence.records")
    stmt = (select(SafetyMap).where(SafetyMap.pilot_id == pilot_id)
            .options(selectinload(SafetyMap.areas))
            .order_by(SafetyMap.drawn_on.desc(), SafetyMap.id.desc()))
    if period:
        stmt = stmt.where(SafetyMap.period == period)
    return [_dict(m, pilot) for m in session.scalars(stmt)]


def get_map(session: Session, actor: Actor, pilot_id: int, map_id: int) -> dict[str, Any]:
    pilot = _pilot(session, actor, pilot_id, "evidence.records")
    return _dict(_map(session, pilot_id, map_id), pilot)


def _clean(session: Session, pilot: Pilot, data: dict[str, Any]) -> dict[str, Any]:
    """Check a whole map (date, respondent, areas) and return the values to store."""
    drawn = data.get("drawn_on")
    if isinstance(drawn, str):
        try:
            drawn = dt.date.fromisoformat(drawn)
        except ValueError:
            drawn = None
    if not isinstance(drawn, dt.date):
        raise InvalidData("drawn_on: the date the map was drawn is required.",
                          details={"drawn_on": ["A date (YYYY-MM-DD)."]})
    if problem := clock.event_date_problem(drawn):
        raise InvalidData(f"drawn_on: {problem}.", details={"drawn_on": [f"{problem}."]})
    kind = check_vocab("respondent_kind", data.get("respondent_kind"), RESPONDENT_KINDS)
    if kind == "age_band":
        band = check_vocab("respondent", data.get("respondent"), RESPONDENT_AGE_BANDS)
        respondent = _AGE_PREFIX + band
    else:
        respondent = check_text("respondent", data.get("respondent"), 200, required=True)
        if respondent.startswith(_AGE_PREFIX):
            raise InvalidData("respondent: choose the age band as the respondent instead.",
                              details={"respondent": ["Use respondent_kind age_band."]})
    raw = data.get("areas")
    if not isinstance(raw, list) or not raw:
        raise InvalidData("areas: draw or choose at least one area and rate it.",
                          details={"areas": ["At least one area."]})
    if len(raw) > MAX_AREAS:
        raise InvalidData(f"areas: at most {MAX_AREAS} areas on one map.",
                          details={"areas": [f"At most {MAX_AREAS}."]})
    areas = []
    for i, a in enumerate(raw, start=1):
        if not isinstance(a, dict):
            raise InvalidData(f"areas: area {i} is not an object.")
        rating = check_vocab(f"area {i} rating", a.get("rating"), SAFETY_RATINGS)
        reason = check_text(f"area {i} reason", a.get("reason"), MAX_REASON, required=True)
        place_id, geometry = a.get("place_id"), a.get("geometry")
        if (place_id is None) == (geometry is None):
            raise InvalidData(f"areas: area {i} needs either a drawn shape or a place, not both.",
                              details={"areas": [f"Area {i}: geometry or place_id."]})
        if place_id is not None:
            if isinstance(place_id, bool) or not isinstance(place_id, int):
                raise InvalidData(f"areas: area {i} place_id must be a number.")
            live_place(session, pilot.id, place_id)
            geometry = q.place_as_area(session, place_id)
            if geometry is None:
                raise InvalidData(f"areas: area {i}: the place has no map location to rate.",
                                  details={"areas": [f"Area {i}: place without a shape."]})
        shape = to_multipolygon(parse_geojson_geometry(geometry or {},
                                                       allowed=("Polygon", "MultiPolygon")))
        areas.append({"rating": rating, "reason": reason,
                      "geom": from_shape(shape, srid=4326)})
    return {"drawn_on": drawn, "respondent_group": respondent,
            "period": period_of(pilot, drawn), "areas": areas}


def create_map(session: Session, actor: Actor, pilot_id: int, data: dict[str, Any]
               ) -> dict[str, Any]:
    """Record a safety map with its rated areas."""
    pilot = _pilot(session, actor, pilot_id, "evidence.edit")
    v = _clean(session, pilot, data)
    smap = SafetyMap(pilot_id=pilot_id, drawn_on=v["drawn_on"], period=v["period"],
                     respondent_group=v["respondent_group"], created_by_id=actor.user_id,
                     areas=[SafetyMapArea(**a) for a in v["areas"]])
    session.add(smap)
    session.flush()
    audit.record(session, actor, "create", "safety_map", smap.id, pilot_id=pilot_id,
                 detail={"period": smap.period, "areas": len(v["areas"])})
    return get_map(session, actor, pilot_id, smap.id)


def update_map(session: Session, actor: Actor, pilot_id: int, map_id: int,
               data: dict[str, Any], version: int | None) -> dict[str, Any]:
    """Replace a map's date, respondent and areas; ``version`` must be the one edited."""
    pilot = _pilot(session, actor, pilot_id, "evidence.edit")
    smap = _map(session, pilot_id, map_id)
    check_version(session, "safety map", smap, version,
                  current=lambda m: _dict(m, pilot))
    current = _dict(smap)
    base = {"drawn_on": current["drawn_on"], "respondent_kind": current["respondent_kind"],
            "respondent": current["respondent"],
            "areas": [{"rating": a["rating"], "reason": a["reason"],
                       "geometry": a["geometry"]} for a in current["areas"]]}
    v = _clean(session, pilot, {**base, **data})
    smap.drawn_on, smap.period = v["drawn_on"], v["period"]
    smap.respondent_group = v["respondent_group"]
    smap.areas = [SafetyMapArea(**a) for a in v["areas"]]
    # The areas are replaced; the map row's version must move even if nothing else did.
    smap.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "update", "safety_map", smap.id, pilot_id=pilot_id,
                 detail={"fields": sorted(data), "areas": len(v["areas"])})
    return get_map(session, actor, pilot_id, smap.id)


def delete_map(session: Session, actor: Actor, pilot_id: int, map_id: int,
               version: int | None = None) -> None:
    """Delete a map with its areas."""
    pilot = _pilot(session, actor, pilot_id, "evidence.edit")
    smap = _map(session, pilot_id, map_id)
    if version is not None:
        check_version(session, "safety map", smap, version,
                      current=lambda m: _dict(m, pilot))
    period = smap.period
    session.delete(smap)
    session.flush()
    audit.record(session, actor, "delete", "safety_map", map_id, pilot_id=pilot_id,
                 detail={"period": period})


# --- the combined surface -------------------------------------------------------------------

def _figures(session: Session, actor: Actor, pilot: Pilot, keys: list[str], threshold: int,
             place_ids: list[int] | None = None, cells: bool = True,
             around: tuple[int, float] | None = None
             ) -> tuple[dict[str, dict[int, dict[str, Any]]],
                        dict[str, dict[tuple[int, int], dict[str, Any]]],
                        dict[tuple[int, int], dict[str, Any]]]:
    partner = not can(actor, pilot.id, "aggregate.unsuppressed")
    by_place: dict[str, dict[int, list[tuple[int, str]]]] = defaultdict(lambda: defaultdict(list))
    for r in q.place_ratings(session, pilot.id, keys, place_ids=place_ids):
        by_place[r.period][r.place_id].append((r.safety_map_id, r.rating))
    places = {k: {pid: ps.figure(ps.tally(v), partner=partner, threshold=threshold)
                  for pid, v in by_place[k].items()} for k in keys}
    if not cells:
        return places, {}, {}
    rows, shapes = q.cell_ratings(
        session, pilot.id, keys, cell_m=qa.CELL_M,
        around_place_id=around[0] if around else None, margin_m=around[1] if around else 0.0)
    by_cell: dict[str, dict[tuple[int, int], list[tuple[int, str]]]] = defaultdict(
        lambda: defaultdict(list))
    for c in rows:
        by_cell[c.period][(c.row, c.col)].append((c.safety_map_id, c.rating))
    grid = {k: {rc: ps.figure(ps.tally(v), partner=partner, threshold=threshold)
                for rc, v in by_cell[k].items()} for k in keys}
    return places, grid, shapes


def _choose(pilot: Pilot, known: list[dict[str, Any]], period: str | None
            ) -> dict[str, Any] | None:
    if period:
        return next((p for p in known if p["key"] == period), None) or _describe(pilot, period)
    drawn = [p for p in known if p["maps"]]
    return drawn[-1] if drawn else None


def surface(session: Session, actor: Actor, pilot_id: int, *, period: str | None = None,
            compare_to: str | None = None, threshold: int,
            around: tuple[int, float] | None = None) -> dict[str, Any]:
    """The perceived-safety surface of one period (default: the latest with maps), per
    grid cell and per place, compared with ``compare_to`` when given. With ``around``
    (place id, metres), only that place's figure and the cells within that distance of
    it (:func:`locmap.services.place_map.perceived_layer`).

    Each figure is ``{maps, areas, shares: {red, amber, green}, score, withheld}``;
    partners see it withheld below ``threshold`` maps. With a comparison, each place and
    cell also carries ``before`` and ``change`` (in score points).
    """
    pilot = _pilot(session, actor, pilot_id, "evidence.view")
    known = periods(session, actor, pilot_id)
    chosen = _choose(pilot, known, period)
    before = _describe(pilot, compare_to) if compare_to else None
    out: dict[str, Any] = {
        "periods": known, "period": chosen, "compare_to": before, "threshold": threshold,
        "cell_m": qa.CELL_M, "partner": not can(actor, pilot_id, "aggregate.unsuppressed"),
        "places": [], "cells": []}
    if chosen is None:
        return out
    keys = [chosen["key"]] + ([before["key"]] if before else [])
    places, grid, shapes = _figures(session, actor, pilot, keys, threshold,
                                    place_ids=[around[0]] if around else None, around=around)
    names = dict(session.execute(select(Place.id, Place.name).where(
        Place.pilot_id == pilot_id, Place.deleted_at.is_(None))).tuples().all())
    empty = ps.figure(ps.Tally(0, 0, 0, 0), partner=False, threshold=threshold)

    def rows(now: dict[Any, dict[str, Any]], old: dict[Any, dict[str, Any]]
             ) -> list[tuple[Any, dict[str, Any]]]:
        out_rows = []
        for ident in sorted(set(now) | set(old), key=str):
            row = dict(now.get(ident) or empty)
            if before:
                row["before"] = old.get(ident)
                row["change"] = ps.compare(now.get(ident), old.get(ident))
            out_rows.append((ident, row))
        return out_rows

    old_places = places[keys[1]] if before else {}
    for pid, row in rows(dict(places[keys[0]]), dict(old_places)):
        if pid in names:
            out["places"].append({**row, "place_id": pid, "name": names[pid]})
    old_cells = grid[keys[1]] if before else {}
    for rc, row in rows(dict(grid[keys[0]]), dict(old_cells)):
        out["cells"].append({**row, "row": rc[0], "col": rc[1], "geometry": shapes.get(rc)})
    out["places"].sort(key=lambda r: r["name"])
    return out


def place_surface(session: Session, actor: Actor, pilot_id: int, place_id: int, *,
                  threshold: int) -> list[dict[str, Any]]:
    """Perceived safety at one place in every period with maps, oldest first, each with
    the change from the period before it (for the place page).
    """
    pilot = _pilot(session, actor, pilot_id, "evidence.view")
    live_place(session, pilot_id, place_id)
    known = [p for p in periods(session, actor, pilot_id) if p["maps"]]
    if not known:
        return []
    places, _, _ = _figures(session, actor, pilot, [p["key"] for p in known], threshold,
                            place_ids=[place_id], cells=False)
    out: list[dict[str, Any]] = []
    prev: dict[str, Any] | None = None
    for p in known:
        fig = places[p["key"]].get(place_id)
        if fig is None:
            continue
        out.append({"period": p, **fig, "change": ps.compare(fig, prev)})
        prev = fig
    return out
