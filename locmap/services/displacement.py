"""The displacement watch: whether harm that left a place turned up next door.

For every place under a plan (from its latest plan's start) and every other place with at
least :data:`MIN_INCIDENTS` incidents at it (around the month the coordinator sets) the
nearby places and feature-layer features within a distance the coordinator sets are
scanned for a rise that coincides with the drop at the place
(:func:`locmap.assessment.impact.detect_displacement`, with the locality beyond the scanned
circle as control). A flagged pair reads "possible displacement: <place> →
<place>" with its evidence: both monthly series, the WDQ, the two level changes and, where
the peer network exists, the young people whose presence moved from one to the other
(pseudonyms only). Flags are computed, not stored; confirming or dismissing one (with a
reason) writes a :class:`~locmap.models.DisplacementFlag`, and a confirmed flag links the
two places' latest assessments.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment import impact as analysis
from locmap.errors import InvalidData, NotFound
from locmap.models import DisplacementFlag, Feature, FeatureLayer, Pilot
from locmap.queries import impact as q
from locmap.queries.assessment import place_row
from locmap.queries.at_place import PLACE_REACH_M
from locmap.services import audit
from locmap.services.assessment_snapshot import jsonable
from locmap.services.impact import (
    BAND_TEXT,
    SEASONAL_MONTHS,
    SEASONALITY_NOTE,
    fill_series,
    merge_limits,
    month_label,
    month_range,
)
from locmap.services.limits import Budget, analysis_time_limit
from locmap.services.permissions import Actor, can, require
from locmap.vocab import FLAG_STATUSES

__all__ = ["DEFAULT_DISTANCE_M", "MIN_INCIDENTS", "DENSE_LAYER", "MOVE_WINDOW_MONTHS",
           "watch", "decide", "add_months"]

DEFAULT_DISTANCE_M = 600.0
MIN_INCIDENTS = 20
DENSE_LAYER = 50  # layers with more features (street lights) are scanned only when ticked
MAX_FEATURES = 80
MOVE_WINDOW_MONTHS = 3
MIN_CANDIDATE_INCIDENTS = 10


def add_months(day: dt.date, n: int) -> dt.date:
    """The same day ``n`` months later (clipped to 28 so every month has it)."""
    y, m = divmod(day.year * 12 + day.month - 1 + n, 12)
    return dt.date(y, m + 1, min(day.day, 28))


def _first(day: dt.date) -> dt.date:
    return dt.date(day.year, day.month, 1)


def _layers(session: Session, pilot_id: int,
            layer_ids: tuple[int, ...] | None) -> tuple[list[dict[str, Any]], tuple[int, ...]]:
    layers = q.feature_layers(session, pilot_id)
    known = {la.id for la in layers}
    if layer_ids is None:
        chosen = tuple(la.id for la in layers if la.features <= DENSE_LAYER)
    else:
        unknown = [i for i in layer_ids if i not in known]
        if unknown:
            raise InvalidData(f"Feature layer {unknown[0]} is not a layer of this pilot.")
        chosen = tuple(dict.fromkeys(layer_ids))
    return ([{"id": la.id, "name": la.name, "features": la.features,
              "chosen": la.id in chosen} for la in layers], chosen)


def _pair_series(counts: dict[str, dict[dt.date, int]], key: str,
                 months: list[dt.date]) -> dict[str, int]:
    return fill_series(counts.get(key, {}), months)


def _scan(session: Session, source: q.SourcePlace, month0: dt.date, *, distance_m: float,
          place_m: float, layer_ids: tuple[int, ...],
          only: str | None = None) -> dict[str, Any]:
    """Detection for one source place; ``only`` restricts the candidates to one key."""
    found = q.nearby_candidates(session, source.id, distance_m=distance_m, place_m=place_m,
                                layer_ids=layer_ids)
    overlapping = [c for c in found if c.overlaps_source]
    cands = [c for c in found if not c.overlaps_source and (only is None or c.key == only)]
    notes: list[str] = []
    features = [c for c in cands if c.kind == "feature"]
    if len(features) > MAX_FEATURES:
        notes.append(f"{len(features)} features are within {distance_m:.0f} m; only the "
                     f"nearest {MAX_FEATURES} were scanned.")
        drop = {c.key for c in features[MAX_FEATURES:]}
        cands = [c for c in cands if c.key not in drop]
    if overlapping:
        notes.append("Left out because they overlap the place's own area and share its "
                     "incidents: " + ", ".join(c.name for c in overlapping) + ".")
    out: dict[str, Any] = {"place": {"id": source.id, "name": source.name, "kind": source.kind,
                                     "incidents": source.incidents},
                           "month": month_label(month0), "checked": [], "flags": [],
                           "notes": notes, "candidates": cands}
    if not cands:
        notes.append(f"No other place or chosen feature within {distance_m:.0f} m.")
        return out
    counts = q.subject_month_counts(
        session, source.id, place_ids=tuple(c.id for c in cands if c.kind == "place"),
        feature_ids=tuple(c.id for c in cands if c.kind == "feature"), place_m=place_m,
        distance_m=distance_m)
    seen = [m for series in counts.values() for m in series]
    if not seen:
        notes.append("No incidents in or around this place.")
        return out
    months = month_range(min(min(seen), month0), max(max(seen), month0))
    target = _pair_series(counts, "source", months)
    control = _pair_series(counts, "control", months)
    series = {c.key: _pair_series(counts, c.key, months) for c in cands}
    sparse = [c for c in cands if sum(series[c.key].values()) < MIN_CANDIDATE_INCIDENTS]
    if sparse:
        notes.append(f"{len(sparse)} nearby context(s) with fewer than "
                     f"{MIN_CANDIDATE_INCIDENTS} incidents in all were not tested: too few "
                     "to read a change.")
    out["candidates"] = cands = [c for c in cands if c not in sparse]
    if not cands:
        return out
    try:
        evidence = analysis.detect_displacement(
            target, {c.key: series[c.key] for c in cands}, month_label(month0),
            control=control, seasonality=len(months) >= SEASONAL_MONTHS)
    except ValueError as exc:
        notes.append(f"Not assessed: {exc}.")
        return out
    # Read from the results, not from warnings (catching those swaps the process-wide
    # filters, which the threads of a web process share).
    if any(ev.unstable for ev in evidence):
        notes.append("Some estimates were numerically unstable (a series with almost no "
                      "incidents on one side); their intervals are not shown.")
    out["target_series"] = target
    out["evidence"] = dict(zip((c.key for c in cands), evidence, strict=True))
    return out


def _flag_dict(source: dict[str, Any], cand: q.Candidate, ev: analysis.DisplacementEvidence,
               target: dict[str, int]) -> dict[str, Any]:
    wdq = ev.wdq.to_dict() if ev.wdq is not None else None
    if wdq is not None:
        wdq["band_text"] = BAND_TEXT.get(wdq["band"], wdq["band"])
    return {"source": {"id": source["place"]["id"], "name": source["place"]["name"]},
            "dest": {"key": cand.key, "kind": cand.kind, "id": cand.id, "name": cand.name,
                     "detail": cand.detail, "distance_m": round(cand.distance_m)},
            "label": f"{source['place']['name']} → {cand.name}", "month": source["month"],
            "flagged": ev.flagged, "wdq": wdq,
            "source_level_change": ev.target_level_change.to_dict(),
            "dest_level_change": ev.candidate_level_change.to_dict(),
            "months": list(target), "source_series": list(target.values()),
            "dest_series": [n for _, n in ev.series],
            "limits": merge_limits(ev.limits, () if ev.wdq is None else ev.wdq.limits,
                                   [] if len(target) >= SEASONAL_MONTHS else [SEASONALITY_NOTE])}


def _moved(session: Session, source_id: int, dest_id: int, month0: dt.date) -> list[dict[str, Any]]:
    lo, hi = add_months(month0, -MOVE_WINDOW_MONTHS), add_months(month0, MOVE_WINDOW_MONTHS)
    return [{"pseudonym": m.pseudonym, "kind": m.kind, "left_on": m.left_on.isoformat(),
             "arrived_on": m.arrived_on.isoformat()}
            for m in q.moved_people(session, source_id, dest_id, lo, hi)]


def _decisions(session: Session, pilot_id: int) -> dict[tuple[int, str, str], DisplacementFlag]:
    rows = session.scalars(select(DisplacementFlag).where(DisplacementFlag.pilot_id == pilot_id))
    return {(f.source_place_id, f"place:{f.dest_place_id}" if f.dest_place_id
             else f"feature:{f.dest_feature_id}", month_label(f.intervention_month)): f
            for f in rows}


def _decision_dict(f: DisplacementFlag) -> dict[str, Any]:
    return {"id": f.id, "status": f.status, "reason": f.reason,
            "decided_at": f.decided_at.isoformat(), "decided_by_id": f.decided_by_id,
            "source_assessment_id": f.source_assessment_id,
            "dest_assessment_id": f.dest_assessment_id}


def _validate(distance_m: float, place_m: float) -> None:
    if not 50 <= distance_m <= 3000:
        raise InvalidData("distance_m must be between 50 and 3000 metres.")
    if not 10 <= place_m <= 500:
        raise InvalidData("place_m must be between 10 and 500 metres.")


def watch(session: Session, actor: Actor, pilot_id: int, *,
          distance_m: float = DEFAULT_DISTANCE_M, month: dt.date | None = None,
          layer_ids: tuple[int, ...] | None = None,
          place_m: float = PLACE_REACH_M) -> dict[str, Any]:
    """Scan the watched places for possible displacement to their neighbours.

    Parameters
    ----------
    distance_m : float
        How far from each watched place to look, metres (50-3000).
    month : date, optional
        Intervention month for places without a plan (default: the pilot's start month);
        places under a plan use their latest plan's start. Both are watched together.
    layer_ids : tuple of int, optional
        Feature layers to scan; default every layer of at most :data:`DENSE_LAYER` features.

    Returns
    -------
    dict
        ``selection`` ("plans", "incidents" or "plans_and_incidents") with its rule in
        words, ``places`` (one block per watched place, with ``flags`` and what was
        ``checked``) and ``flags``
        (all flagged pairs, each with its ``decision`` if one was taken).
    """
    require(actor, pilot_id, "assessment.view")
    _validate(distance_m, place_m)
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound("No such pilot, or you are not a member of it.")
    layers, chosen = _layers(session, pilot_id, layer_ids)
    with analysis_time_limit(session, "the displacement watch") as budget:
        out, people_shown, flags = _watch(session, actor, pilot, distance_m=distance_m,
                                          month=month, chosen=chosen, place_m=place_m,
                                          budget=budget)
    audit.record(session, actor, "read", "displacement_watch", pilot_id, pilot_id=pilot_id,
                 personal_data=people_shown,
                 detail={"distance_m": distance_m, "flags": flags})
    out["layers"] = layers
    return jsonable(out)


def _watch(session: Session, actor: Actor, pilot: Pilot, *, distance_m: float,
           month: dt.date | None, chosen: tuple[int, ...], place_m: float,
           budget: Budget) -> tuple[dict[str, Any], bool, int]:
    """The watch itself: the output (without its layers), whether people were shown and
    the number of flags; the budget is checked before each watched place.
    """
    pilot_id = pilot.id
    sources = q.watch_sources(session, pilot_id, place_m=place_m)
    # Both inputs at once: a place under a plan from its latest plan's start; any other
    # place with enough incidents at it around the month set on the page.
    planned = [s for s in sources if s.plan_starts_on is not None]
    unplanned = [s for s in sources if s.plan_starts_on is None and s.incidents >= MIN_INCIDENTS]
    watched = [s for s in sources if s in planned or s in unplanned]  # in name order
    for_plans = "Every place under a plan, from its latest plan's start"
    for_rest = (f"every place without a plan that has at least {MIN_INCIDENTS} incidents at "
                "it, around the month you set")
    if planned and unplanned:
        selection, rule = "plans_and_incidents", f"{for_plans}; and {for_rest}."
    elif planned:
        selection, rule = "plans", f"{for_plans} (no other place has {MIN_INCIDENTS} incidents)."
    else:
        selection, rule = "incidents", f"No place has a plan yet: {for_rest}."
    default_month = _first(month or pilot.start_date)
    show_people = can(actor, pilot_id, "network.view")
    decisions = _decisions(session, pilot_id)
    blocks, flags, people_shown = [], [], False
    for s in watched:
        budget.check()
        month0 = _first(s.plan_starts_on) if s.plan_starts_on else default_month
        scan = _scan(session, s, month0, distance_m=distance_m, place_m=place_m,
                     layer_ids=chosen)
        for cand in scan.pop("candidates"):
            ev = scan.get("evidence", {}).get(cand.key)
            if ev is None:
                continue
            scan["checked"].append({"name": cand.name, "key": cand.key, "flagged": ev.flagged,
                                    "distance_m": round(cand.distance_m),
                                    "level_change": ev.candidate_level_change.to_dict()})
            if not ev.flagged:
                continue
            flag = _flag_dict(scan, cand, ev, scan["target_series"])
            flag["moved_people"] = (_moved(session, s.id, cand.id, month0)
                                    if cand.kind == "place" and show_people else [])
            people_shown = people_shown or bool(flag["moved_people"])
            d = decisions.get((s.id, cand.key, scan["month"]))
            flag["decision"] = None if d is None else _decision_dict(d)
            scan["flags"].append(flag)
            flags.append(flag)
        scan.pop("evidence", None)
        scan.pop("target_series", None)
        blocks.append(scan)
    # Places (where people and presences are recorded) before features, nearest first.
    flags.sort(key=lambda f: (f["source"]["name"], f["dest"]["kind"] != "place",
                              f["dest"]["distance_m"]))
    return ({"selection": selection, "rule": rule, "distance_m": distance_m,
             "place_m": place_m, "default_month": month_label(default_month),
             "layers": [], "places": blocks, "flags": flags,
             "move_window_months": MOVE_WINDOW_MONTHS}, people_shown, len(flags))


def _destination(session: Session, pilot_id: int, kind: str,
                 dest_id: int) -> tuple[str, str, tuple[int, ...]]:
    """Key, name and (for a feature) its layer, or NotFound outside the pilot."""
    if kind == "place":
        row = place_row(session, dest_id)
        if row is None or row.pilot_id != pilot_id:
            raise NotFound("No such place in this pilot.")
        return f"place:{dest_id}", row.name, ()
    if kind == "feature":
        feat = session.get(Feature, dest_id)
        layer = None if feat is None else session.get(FeatureLayer, feat.layer_id)
        if feat is None or layer is None or layer.pilot_id != pilot_id:
            raise NotFound("No such feature in this pilot.")
        return f"feature:{dest_id}", feat.name or f"{layer.name} #{feat.id}", (layer.id,)
    raise InvalidData("dest_kind must be 'place' or 'feature'.")


def decide(session: Session, actor: Actor, pilot_id: int, *, source_place_id: int,
           dest_kind: str, dest_id: int, month: dt.date, status: str, reason: str,
           distance_m: float = DEFAULT_DISTANCE_M,
           place_m: float = PLACE_REACH_M) -> dict[str, Any]:
    """Confirm or dismiss "possible displacement: source → destination", with a reason.

    The evidence is recomputed for the pair and kept (figures, the number of people who
    moved, never their pseudonyms). Deciding again replaces the earlier decision; the
    audit trail keeps both. Confirming links the latest assessment of each place.
    """
    require(actor, pilot_id, "displacement.decide")
    _validate(distance_m, place_m)
    if status not in FLAG_STATUSES:
        raise InvalidData("status must be 'confirmed' or 'dismissed'.")
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise InvalidData("Give a reason for the decision.")
    src = place_row(session, source_place_id)
    if src is None or src.pilot_id != pilot_id:
        raise NotFound("No such place in this pilot.")
    key, dest_name, layer_ids = _destination(session, pilot_id, dest_kind, dest_id)
    month0 = _first(month)
    source = q.SourcePlace(src.id, src.name, src.kind, None, 0)
    scan = _scan(session, source, month0, distance_m=distance_m, place_m=place_m,
                 layer_ids=layer_ids, only=key)
    cand = next((c for c in scan["candidates"] if c.key == key), None)
    ev = scan.get("evidence", {}).get(key)
    if cand is None or ev is None:
        raise InvalidData(f"{dest_name} is not a nearby context of {src.name} that could be "
                          "assessed: " + " ".join(scan["notes"]))
    flag = _flag_dict(scan, cand, ev, scan["target_series"])
    moved = len(_moved(session, src.id, dest_id, month0)) if dest_kind == "place" else 0
    snapshot = {k: flag[k] for k in ("flagged", "wdq", "source_level_change",
                                     "dest_level_change", "months", "source_series",
                                     "dest_series")}
    snapshot = jsonable(snapshot | {"moved_people": moved, "distance_m": distance_m,
                                    "place_m": place_m})
    row = _decisions(session, pilot_id).get((src.id, key, month_label(month0)))
    if row is None:
        row = DisplacementFlag(pilot_id=pilot_id, source_place_id=src.id,
                               dest_place_id=dest_id if dest_kind == "place" else None,
                               dest_feature_id=dest_id if dest_kind == "feature" else None,
                               intervention_month=month0)
        session.add(row)
    row.status, row.reason, row.evidence = status, reason, snapshot
    row.decided_by_id, row.decided_at = actor.user_id, clock.now()
    confirmed = status == "confirmed"
    row.source_assessment_id = q.latest_assessment_id(session, src.id) if confirmed else None
    row.dest_assessment_id = (q.latest_assessment_id(session, dest_id)
                              if confirmed and dest_kind == "place" else None)
    session.flush()
    audit.record(session, actor, "confirm" if confirmed else "dismiss", "displacement_flag",
                 row.id, pilot_id=pilot_id,
                 detail={"source_place_id": src.id, "dest": key, "reason": reason,
                         "month": month_label(month0)})
    return {**_decision_dict(row), "label": f"{src.name} → {dest_name}",
            "month": month_label(month0), "evidence": snapshot}
