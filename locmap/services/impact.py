"""Impact of a response at a place: before and after, next door, and against the rest.

Around an intervention date (the latest plan's start, the pilot's start when the place has
no plan, or any date the user sets) the incidents of the pilot are counted per month in
three areas — the *target* (the place), a *buffer* (a ring round it, or nearby places the
user picks) and a *control* (the rest of the locality, or a polygon the user draws) — in
one query, then read two ways by :mod:`locmap.assessment.impact`: the weighted
displacement quotient and an interrupted time series of the target. Every figure comes
with its limits in plain words.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

from shapely.geometry import mapping

from locmap import clock
from locmap.assessment import impact as analysis
from locmap.errors import InvalidData, NotFound
from locmap.geo import parse_geojson_geometry
from locmap.queries import impact as q
from locmap.queries.assessment import PlaceRow, place_row
from locmap.queries.at_place import PLACE_REACH_M
from locmap.services import audit
from locmap.services.assessment_snapshot import jsonable
from locmap.services.limits import analysis_time_limit
from locmap.services.permissions import Actor, require

__all__ = [
    "DEFAULT_BUFFER_M", "PLACE_REACH_M", "SEASONAL_MONTHS", "SEASONALITY_NOTE", "BAND_TEXT",
    "place_impact",
    "month_label", "month_range", "fill_series", "intervention_default", "its_text", "merge_limits",
]

DEFAULT_BUFFER_M = 400.0
# Month-of-year terms need 3 years: with two, and the change at the turn of the year, the
# seasonal terms and the step are collinear (t - 12 * post is a month-of-year function).
SEASONAL_MONTHS = 36
SEASONALITY_NOTE = ("Month-of-year seasonality is modelled only with 36 months or more of "
                    "data; with less, a change that lines up with the school year or darker "
                    "evenings may be seasonal.")
MAX_BUFFER_M = 5000.0

BAND_TEXT = {
    "diffusion_greater_than_benefit": "Diffusion of benefit: harm fell in the buffer too, "
    "by more than at the place itself.",
    "diffusion_of_benefits": "Diffusion of benefit: harm fell in the buffer as well as at the "
    "place.",
    "no_displacement_or_diffusion": "No displacement and no diffusion: the buffer did not "
    "change relative to the control.",
    "displacement_less_than_benefit": "Some displacement: harm rose in the buffer, but by "
    "less than it fell at the place — a net benefit.",
    "displacement_equals_benefit": "Displacement equal to the benefit: the rise in the "
    "buffer matches the fall at the place — no net benefit.",
    "displacement_greater_than_benefit": "Displacement greater than the benefit: harm rose "
    "in the buffer by more than it fell at the place.",
    "no_success": "No success at the place: harm did not fall there relative to the "
    "control, so the quotient is not to be read.",
    "no_change_at_target": "No change at the place relative to the control: the quotient "
    "is undefined.",
    "control_empty": "The control area has no incidents in one of the periods: the measures "
    "are undefined. Choose a larger control.",
}

_OWN_LIMITS = (
    "These are known, recorded incidents: a change in reporting, patrols or recording "
    "practice changes the counts without any change in harm.",
    "Other things changed at the same time (the season, other responses, the people "
    "involved); neither measure proves the response caused the change.",
)


def month_label(day: dt.date) -> str:
    """``"YYYY-MM"`` of a date."""
    return f"{day.year:04d}-{day.month:02d}"


def month_range(first: dt.date, last: dt.date) -> list[dt.date]:
    """First days of every month from ``first`` to ``last`` inclusive."""
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(dt.date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def fill_series(counts: Mapping[dt.date, int], months: list[dt.date]) -> dict[str, int]:
    """Counts keyed ``"YYYY-MM"`` over ``months``, zero where there were none."""
    return {month_label(m): int(counts.get(m, 0)) for m in months}


def merge_limits(*groups: Any) -> list[str]:
    """Limits from several results, each said once, in order."""
    out: list[str] = []
    for group in groups:
        for text in group or ():
            if text not in out:
                out.append(text)
    return out


def its_text(its: analysis.ItsResult) -> str:
    """One sentence on the level change at the target."""
    lc = its.level_change
    if not 0 < lc.estimate < math.inf:  # not identified: no incidents on one side
        return ("The change at the intervention cannot be estimated: one side of the date "
                "has no incidents at the place (see the limits).")
    pct = (lc.estimate - 1) * 100
    word = "fell" if pct < 0 else "rose"
    sure = ("the interval excludes no change" if lc.ci_high < 1 or lc.ci_low > 1
            else "the interval includes no change")
    return (f"At the intervention, incidents at the place {word} by {abs(pct):.0f}% "
            f"(rate ratio {lc.estimate:.2f}, 95% CI {lc.ci_low:.2f}–{lc.ci_high:.2f}; {sure}).")


def _place(session: Any, pilot_id: int, place_id: int) -> PlaceRow:
    place = place_row(session, place_id)
    if place is None or place.pilot_id != pilot_id:
        raise NotFound("No such place in this pilot.")
    if place.geojson is None:
        raise InvalidData("An online context has no map location, so incidents cannot be "
                          "counted around it.")
    return place


def intervention_default(session: Any, place_id: int,
                         pilot_start: dt.date) -> tuple[dt.date, str]:
    """The latest plan's start at the place, else the pilot's start, with which it was."""
    start = q.latest_plan_start(session, place_id)
    return (start, "plan") if start is not None else (pilot_start, "pilot_start")


def _control_geojson(control: str, geometry: Any) -> str | None:
    if control == "locality":
        if geometry not in (None, "", {}):
            raise InvalidData("A control polygon was given but control is 'locality'; "
                              "set control=drawn to use it.")
        return None
    if control != "drawn":
        raise InvalidData("control must be 'locality' or 'drawn'.")
    if geometry in (None, "", {}):
        raise InvalidData("control=drawn needs a control polygon (GeoJSON).")
    geom = parse_geojson_geometry(geometry, allowed=("Polygon", "MultiPolygon"))
    return json.dumps(mapping(geom))


def place_impact(
    session: Any, actor: Actor, pilot_id: int, place_id: int, *,
    intervention: dt.date | None = None, buffer_m: float = DEFAULT_BUFFER_M,
    buffer_place_ids: tuple[int, ...] = (), control: str = "locality",
    control_geometry: Any = None, place_m: float = PLACE_REACH_M,
) -> dict[str, Any]:
    """Before/after counts and rates, the WDQ and the target's time series around a date.

    Parameters
    ----------
    session, actor
    pilot_id, place_id : int
    intervention : date, optional
        Default: the latest plan's ``starts_on`` at the place, else the pilot's start.
    buffer_m : float
        Displacement ring round the place in metres (0 to use only ``buffer_place_ids``).
    buffer_place_ids : tuple of int
        Nearby places that make up (or add to) the buffer.
    control : {"locality", "drawn"}
        The rest of the locality, or ``control_geometry`` (a GeoJSON polygon).
    place_m : float
        Radius standing for a point or line place (as in the assessment).

    Returns
    -------
    dict
        ``months``, ``series`` (per area), ``wdq`` (with ``band_text``), ``its`` (or None
        with the reason in ``limits``), ``limits`` and the settings used.
    """
    require(actor, pilot_id, "assessment.view")
    from locmap.models import Pilot

    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound("No such pilot, or you are not a member of it.")
    place = _place(session, pilot_id, place_id)
    if not 0 <= buffer_m <= MAX_BUFFER_M:
        raise InvalidData(f"buffer_m must be between 0 and {MAX_BUFFER_M:.0f} metres.")
    if not 10 <= place_m <= 500:
        raise InvalidData("place_m must be between 10 and 500 metres.")
    buffer_places = []
    for pid in dict.fromkeys(buffer_place_ids):
        other = place_row(session, pid)
        if other is None or other.pilot_id != pilot_id:
            raise InvalidData(f"Buffer place {pid} is not a place of this pilot.")
        if pid == place_id or other.geojson is None:
            raise InvalidData(f"{other.name} cannot be in the buffer (it is the place itself "
                              "or has no map location).")
        buffer_places.append(other)
    if buffer_m == 0 and not buffer_places:
        raise InvalidData("Set a buffer ring (buffer_m > 0) or choose nearby places for it.")
    control_json = _control_geojson(control, control_geometry)
    source = "user"
    if intervention is None:
        intervention, source = intervention_default(session, place_id, pilot.start_date)

    with analysis_time_limit(session, "the impact analysis"):
        rows = q.area_month_counts(session, place_id, place_m=place_m, buffer_m=buffer_m,
                                   buffer_place_ids=tuple(p.id for p in buffer_places),
                                   control_geojson=control_json)
    month0 = dt.date(intervention.year, intervention.month, 1)
    if not rows:
        raise InvalidData("There are no incidents in this pilot's area to compare.")
    months = month_range(min(min(r.month for r in rows), month0),
                         max(max(r.month for r in rows), month0))
    per_area: dict[str, dict[dt.date, int]] = {"target": {}, "buffer": {}, "control": {}}
    for r in rows:
        per_area[r.area][r.month] = r.count
    series = {area: fill_series(c, months) for area, c in per_area.items()}
    label = month_label(month0)
    if months[0] == month0 or months[-1] < month0:
        raise InvalidData(f"The intervention month {label} needs months with data before and "
                          f"after it (data cover {month_label(months[0])} to "
                          f"{month_label(months[-1])}).")
    wdq = analysis.weighted_displacement(series["target"], series["buffer"],
                                         series["control"], label)
    its_limits: list[str] = []
    its: analysis.ItsResult | None
    try:
        its = analysis.interrupted_time_series(
            series["target"], label, seasonality=len(months) >= SEASONAL_MONTHS)
    except ValueError as exc:
        its = None
        its_limits.append(f"No time-series estimate: {exc}.")
    # Read from the result, not from warnings (catching those swaps the process-wide
    # filters, which the threads of a web process share).
    if its is not None and its.unstable:
        its_limits.append("The time-series estimate is numerically unstable (almost no "
                          "incidents on one side of the date); its intervals are not shown.")
    own = list(_OWN_LIMITS)
    if len(months) < SEASONAL_MONTHS:
        own.append(SEASONALITY_NOTE)
    if intervention.day != 1:
        own.insert(0, f"The intervention date {intervention.isoformat()} falls within "
                   f"{label}; that whole month is counted as 'after'.")
    today = clock.today()
    if months[-1] == dt.date(today.year, today.month, 1):
        own.append(f"{month_label(months[-1])} is the current month and is not complete yet.")
    audit.record(session, actor, "read", "place_impact", place_id, pilot_id=pilot_id,
                 detail={"intervention": intervention.isoformat(), "buffer_m": buffer_m,
                         "control": control})
    return jsonable({
        "place": {"id": place.id, "name": place.name, "kind": place.kind,
                  "geometry": place.geojson},
        "intervention": {"date": intervention.isoformat(), "month": label, "source": source},
        "settings": {"buffer_m": buffer_m, "place_m": place_m, "control": control,
                     "buffer_places": [{"id": p.id, "name": p.name, "geometry": p.geojson}
                                       for p in buffer_places],
                     "control_geometry": json.loads(control_json) if control_json else None},
        "months": [month_label(m) for m in months],
        "series": series,
        "wdq": {**wdq.to_dict(), "band_text": BAND_TEXT.get(wdq.band, wdq.band)},
        "its": None if its is None else {**its.to_dict(), "text": its_text(its)},
        "limits": merge_limits(wdq.limits, its.limits if its else (), its_limits, own),
    })
