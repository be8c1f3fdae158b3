"""The plain-language summary of an assessment: its weightiest factors, its weightiest
context, and what the indicators snapshot shows that no factor names yet.

The owning team's summary is written once, from the stored snapshot, when the version is
submitted; a partner's is written on reading from the partner version of that snapshot
(:mod:`locmap.services.snapshot_view`), so it tells no count, rate or single safety map a
partner may not see.
"""

from __future__ import annotations

from typing import Any

from locmap.formatting import count
from locmap.services.assessment_snapshot import INFLUENCE_M

__all__ = ["write_summary"]


def write_summary(factors: list[dict[str, Any]], contexts: list[dict[str, Any]],
                  snapshot: dict[str, Any] | None, place_name: str, *,
                  partner: bool = False) -> str:
    """Plain-language summary of an assessment from its data (no score of a place or child).

    ``factors`` are dicts with quadrant, statement, weight, voice and ``evidence``
    counts; ``contexts`` dicts with name, share and reason. With ``partner`` the
    ``snapshot`` is the partner version (:mod:`locmap.services.snapshot_view`) and the
    text speaks of perceived safety only through the combined picture of the latest
    period, and only when it is not withheld (never of one young person's map).
    """
    parts: list[str] = []
    weighty = sorted((f for f in factors if f["weight"] >= 2),
                     key=lambda f: (-f["weight"], f["quadrant"], f["statement"]))
    if weighty:
        lines = []
        for f in weighty[:5]:
            ev = f["evidence"]
            basis = (f"{ev['incidents']} incidents, {ev['observations']} site visits, "
                     f"{ev['engagements']} listening records" if _evidenced(f)
                     else "no linked evidence yet")
            lines.append(f"{f['statement']} ({f['quadrant']}, weight {f['weight']}, "
                         f"{f['voice']} voice; {basis})")
        parts.append(f"The factors that weigh most at {place_name}: " + "; ".join(lines) + ".")
    else:
        parts.append(f"No factor at {place_name} has been weighted medium or high yet.")
    unevidenced = [f for f in factors if not _evidenced(f)]
    if unevidenced:
        parts.append(f"{len(unevidenced)} of {count(len(factors), 'factor')} "
                     f"{'has' if len(unevidenced) == 1 else 'have'} no linked evidence.")
    if contexts:
        top = max(c["share"] for c in contexts)
        names = [c for c in contexts if c["share"] == top]
        if len(names) == 1:
            parts.append(f"The weightiest context is {names[0]['name']} ({top} of 100): "
                         f"{names[0]['reason']}.")
        else:
            parts.append("Contexts tied as weightiest at " f"{top} of 100: "
                         + ", ".join(c["name"] for c in names) + ".")
    parts.extend(_unnamed(factors, snapshot, partner=partner))
    return "\n\n".join(parts)


def _evidenced(f: dict[str, Any]) -> bool:
    """Whether a factor has linked evidence (a partner's incident count may be "[c]")."""
    return any(v for v in f["evidence"].values())


def _unnamed(factors: list[dict[str, Any]], snap: dict[str, Any] | None, *,
             partner: bool = False) -> list[str]:
    """What the data shows that no factor names yet."""
    if not snap:
        return []
    out: list[str] = []
    incident_factors = [f for f in factors if f["evidence"]["incidents"]]
    linked = {i for f in factors for i in f.get("incident_ids") or []}
    inc = snap.get("incidents") or {}
    ids = inc.get("place_ids") or []  # None in the partner version: no records
    unlinked = [i for i in ids if i not in linked]
    if unlinked:
        out.append(f"{len(unlinked)} of {len(ids)} incidents at the "
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
    out.extend(_perceived_sentence(factors, snap, partner=partner))
    return out


def _perceived_sentence(factors: list[dict[str, Any]], snap: dict[str, Any], *,
                        partner: bool) -> list[str]:
    """The latest safety maps at the place in one sentence: for the owning team from the
    tallies (any red area), for a partner from the combined figure only (mostly red, and
    resting on at least the threshold's number of maps: a withheld figure says nothing).
    """
    periods = (snap.get("safety_maps") or {}).get("periods") or []
    if not periods:
        return []
    latest = periods[-1]
    voiced = any(f["voice"] == "child" for f in factors)
    tail = "." if voiced else "; no factor gives a child's voice."
    if partner:
        fig = latest.get("place") or {}
        if fig.get("withheld") or fig.get("mostly") != "red":
            return []
        when = latest.get("label") or latest["period"]
        return [f"In the combined picture of the latest safety maps ({when}, {fig['maps']} "
                "maps, rounded) the place is mostly red" + tail]
    if (latest.get("at_place") or {}).get("red"):
        return [f"In the latest safety maps ({latest['period']}) young people coloured "
                "the place red" + tail]
    return []
