"""An assessment's indicators snapshot as one reader may read it.

The snapshot stored at submission (:func:`locmap.services.assessment_snapshot.compute_indicators`)
is the owning team's working picture: exact incident counts with the ids behind them,
rates, time and month profiles and harm categories of the incidents at the place, the
hot-spot cells' counts, the individual safety maps and the pseudonyms of the people
present. A partner reads it under the partners' disclosure control, by the rules that
already exist (docs/decisions.md, "2026-12-07 privacy gaps"):

- each incident count that stands alone (at the place, in the ring, in the rest of the
  locality; a hot-spot cell's count) and each count of people present, by
  :func:`locmap.assessment.disclosure.partner_value` — 0, withheld below the threshold
  (``"[c]"``), else rounded to base 5, as the PDF report and the online-context section
  already publish them;
- no breakdown and nothing derived from exact counts: the rates and their intervals, the
  time-of-day, monthly and category profiles, the Gi* z-scores. Each of them gives the
  exact counts back (a rate ratio with the areas and its interval is two equations in the
  two counts), and a breakdown would need the tables' joint protection
  (:func:`locmap.assessment.disclosure.protect`), so they stay with the owning team
  (as the online-context section does);
- no incident ids and no pseudonyms of the people present (records and pseudonyms of a
  place are the owning team's); the incidents linked to each factor as a count by the
  same rule (:func:`partner_factors`);
- perceived safety by :func:`~locmap.services.assessment_snapshot.safety_maps_view`.
"""

from __future__ import annotations

from typing import Any

from locmap.assessment.disclosure import partner_value
from locmap.models import Pilot
from locmap.services import safety_maps
from locmap.services.assessment_snapshot import safety_maps_view

__all__ = ["snapshot_view", "partner_factors", "key_figure_changes", "PARTNER_NOTE"]

PARTNER_NOTE = ("Partner version: incident and people counts rounded to the nearest 5, "
                "small numbers withheld ([c]); rates, profiles and pseudonyms are the "
                "owning team's.")


def _partner_counts(snap: dict[str, Any], threshold: int) -> dict[str, Any]:
    out = dict(snap)
    inc = snap.get("incidents")
    if inc is not None:
        out["incidents"] = {**{k: partner_value(inc.get(k), threshold)
                               for k in ("place", "ring", "locality")}, "place_ids": None}
    out["indicators"] = None
    hot = snap.get("hotspots")
    if hot is not None:
        out["hotspots"] = {**hot, "place_cells": [
            {**c, "count": partner_value(c.get("count"), threshold), "z": None, "q": None}
            for c in hot.get("place_cells") or []]}
    people = snap.get("people_present")
    if people is not None:
        out["people_present"] = {
            **people, "young_people": None, "pseudonyms_withheld": True,
            "by_kind": {k: partner_value(n, threshold)
                        for k, n in (people.get("by_kind") or {}).items()},
            "note": "Counts only (rounded, small numbers withheld): the pseudonyms of the "
                    "people present are the owning team's."}
    return out


def snapshot_view(snap: dict[str, Any] | None, pilot: Pilot | None, *, individual: bool,
                  partner: bool, threshold: int) -> dict[str, Any] | None:
    """A stored (or live) indicators snapshot as one reader may read it.

    Parameters
    ----------
    snap : dict or None
        The snapshot as stored.
    pilot : Pilot or None
        For the perceived-safety periods' labels.
    individual : bool
        The reader may see individual safety maps (``evidence.records``).
    partner : bool
        The reader gets the partner version (no ``aggregate.unsuppressed``).
    threshold : int
        Counts from 1 to ``threshold - 1`` are withheld for a partner.

    Returns
    -------
    dict or None
        The snapshot with ``suppressed`` (whether it is the partner version).
    """
    if snap is None:
        return None
    out = _partner_counts(snap, threshold) if partner else dict(snap)
    block = safety_maps_view(snap.get("safety_maps"), individual=individual,
                             partner=partner, threshold=threshold)
    if block is not None and pilot is not None:
        for p in block["periods"]:
            p["label"] = safety_maps.period_label(pilot, str(p["period"]))
    out["safety_maps"] = block
    out["suppressed"] = partner
    if partner:
        out["notes"] = [*(snap.get("notes") or []), PARTNER_NOTE]
    return out


def partner_factors(factors: list[dict[str, Any]], threshold: int) -> list[dict[str, Any]]:
    """An assessment version's factors as a partner reads them: the number of incidents
    linked as each factor's evidence by :func:`partner_value` (site visits and listening
    records are not counts of incidents or children), and no incident ids.
    """
    return [{**f, "incident_ids": None,
             "evidence": {**f["evidence"],
                          "incidents": partner_value(f["evidence"]["incidents"], threshold)}}
            for f in factors]


def _key_figures(snap: dict[str, Any] | None) -> dict[str, Any]:
    if not snap:
        return {}
    ind = snap.get("indicators") or {}
    overall = (ind.get("overall") or {}).get("place_vs_ring") or {}
    monthly = ind.get("monthly") or {}
    hot = snap.get("hotspots") or {}
    return {"incidents at the place": (snap.get("incidents") or {}).get("place"),
            "rate ratio, place vs ring": overall.get("ratio"),
            "trend per year": monthly.get("trend_per_year"),
            "hot cells in the locality": hot.get("n_hot"),
            "place in or next to a hot spot": hot.get("place_near_hot")}


def key_figure_changes(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The key figures of two snapshots side by side (each as its reader may read it)."""
    fa, fb = _key_figures(a), _key_figures(b)
    return [{"figure": k, "before": fa.get(k), "after": fb.get(k)}
            for k in dict.fromkeys([*fa, *fb])]
