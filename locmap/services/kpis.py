"""A plan's KPIs: the four suggested ones, custom ones, measurements entered or computed.

The suggestions follow the practice model (DESIGN.md step 6): (a) children supported
through a family plan — entered; (b) known incidents of extra-familial harm at the place,
in incidents per month so that the 12-month baseline and a quarter compare; (c) reach of
awareness raising linked to the place, people per period; (d) community perception of
safety, green minus red as a percentage of the safety-map areas over the place (or entered
survey results). Periods are quarters aligned to the plan's start. Computing (b)–(d)
writes one measurement per complete period, each saying where it came from, and never
overwrites a measurement someone entered. Partners see the KPIs that count children or
incidents (kinds a and b) rounded to base 5 with small values withheld
(:func:`kpi_dicts` with ``partner=True``). Places are classified exactly as the assessment
does (:func:`locmap.queries.assessment.classified_incidents`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment import plan_logic as pl
from locmap.assessment.disclosure import MARK, partner_value
from locmap.errors import InvalidData, NotFound
from locmap.formatting import count
from locmap.models import Assessment, AwarenessActivity, SafetyMap
from locmap.models.evidence import awareness_place
from locmap.models.plan import KPI, KPIMeasurement, Plan
from locmap.queries import assessment as q
from locmap.services import audit, lifecycle, plan_access
from locmap.services.permissions import Actor, can
from locmap.services.versioning import check_version

__all__ = [
    "PERIOD_MONTHS", "SUGGESTED", "suggested_kpis", "set_computed_baselines", "kpi_dicts",
    "add_kpi", "update_kpi", "add_measurement", "list_measurements", "compute_kpis",
]

PERIOD_MONTHS = 3
SUGGESTED: tuple[dict[str, Any], ...] = (
    {"kind": "a", "name": "Children supported through a family plan", "unit": "children",
     "direction": "increase"},
    {"kind": "b", "name": "Known incidents of extra-familial harm at the place",
     "unit": "incidents per month", "direction": "decrease"},
    {"kind": "c", "name": "Reach of awareness raising", "unit": "people reached per quarter",
     "direction": "increase"},
    {"kind": "d", "name": "Community perception of safety",
     "unit": "green minus red, % of rated areas", "direction": "increase"},
)
COMPUTED = ("b", "c", "d")
COUNTS = ("a", "b")  # children supported; incidents of harm: protected for partners


def suggested_kpis(plan_id: int) -> list[KPI]:
    """The four suggested KPIs of a new plan (no baseline or target yet)."""
    return [KPI(plan_id=plan_id, **s) for s in SUGGESTED]


def _kpi(session: Session, actor: Actor, kpi_id: int, pilot_id: int | None,
         permission: str) -> tuple[KPI, Plan]:
    kpi = session.get(KPI, kpi_id)
    if kpi is None:
        raise NotFound("No such KPI in this pilot.")
    return kpi, plan_access.get_plan(session, actor, kpi.plan_id, pilot_id=pilot_id,
                               permission=permission)


def _number(value: Any, name: str, *, optional: bool = True) -> float | None:
    if value is None or value == "":
        if optional:
            return None
        raise InvalidData(f"{name} is required.")
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidData(f"{name} must be a number.") from exc
    if out != out or out in (float("inf"), float("-inf")):
        raise InvalidData(f"{name} must be a finite number.")
    return out


def _check(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in data:
        out["name"] = str(data["name"] or "").strip()
        if not out["name"] or len(out["name"]) > 200:
            raise InvalidData("A KPI needs a name of at most 200 characters.")
    if "unit" in data:
        out["unit"] = str(data["unit"] or "").strip()[:50]
    for key in ("baseline", "target"):
        if key in data:
            out[key] = _number(data[key], key)
    if "direction" in data:
        if data["direction"] not in ("increase", "decrease"):
            raise InvalidData("direction must be increase or decrease.")
        out["direction"] = data["direction"]
    return out


def add_kpi(session: Session, actor: Actor, plan_id: int, data: dict[str, Any], *,
            pilot_id: int | None = None) -> KPI:
    """Add a custom KPI to a draft plan."""
    plan = plan_access.get_plan(session, actor, plan_id, pilot_id=pilot_id, permission="plan.edit")
    plan_access.assert_editable(plan)
    if not data.get("name"):
        raise InvalidData("A KPI needs a name.")
    kpi = KPI(plan_id=plan.id, kind="custom", **_check(data))
    session.add(kpi)
    session.flush()
    audit.record(session, actor, "create", "kpi", kpi.id,
                 pilot_id=plan_access.plan_pilot(session, plan), detail={"plan_id": plan.id})
    return kpi


def update_kpi(session: Session, actor: Actor, kpi_id: int, changes: dict[str, Any], *,
               version: int | None, pilot_id: int | None = None) -> KPI:
    """Change a KPI's name, unit, baseline, target or direction in a draft plan."""
    kpi, plan = _kpi(session, actor, kpi_id, pilot_id, "plan.edit")
    plan_access.assert_editable(plan)
    check_version(session, "KPI", kpi, version)
    for k, v in _check(changes).items():
        setattr(kpi, k, v)
    kpi.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "update", "kpi", kpi.id,
                 pilot_id=plan_access.plan_pilot(session, plan),
                 detail={"changed": sorted(changes)})
    return kpi


def _measurement_dict(m: KPIMeasurement, protect: bool, threshold: int) -> dict[str, Any]:
    value: Any = m.value
    withheld = False
    if protect:
        shown = partner_value(m.value, threshold)
        withheld = shown == MARK
        value = None if withheld else shown
    return {"id": m.id, "period_start": m.period_start.isoformat(),
            "period_end": m.period_end.isoformat(), "value": value, "source": m.source,
            "computed": m.computed, **({"withheld": withheld} if protect else {})}


def _protected(value: float | None, protect: bool, threshold: int) -> float | None:
    if not protect:
        return value
    shown = partner_value(value, threshold)
    return None if shown == MARK else shown  # type: ignore[return-value]


def _withheld(value: float | None, protect: bool, threshold: int) -> bool:
    """A partner's value withheld (below the threshold), not missing: [c], not "—"."""
    return protect and partner_value(value, threshold) == MARK


def _upsert(kpi: KPI, period: pl.Period, value: float, source: str, computed: bool) -> bool:
    """Write the period's value; a computed value never replaces an entered one."""
    for m in kpi.measurements:
        if m.period_start == period.start:
            if computed and not m.computed:
                return False
            m.period_end, m.value, m.source, m.computed = period.end, value, source, computed
            return True
    kpi.measurements.append(KPIMeasurement(period_start=period.start, period_end=period.end,
                                           value=value, source=source, computed=computed))
    return True


def add_measurement(session: Session, actor: Actor, kpi_id: int, data: dict[str, Any], *,
                    pilot_id: int | None = None) -> KPIMeasurement:
    """Enter a value for a period (``period_end`` defaults to the end of the plan's quarter
    holding ``period_start``); replaces the period's earlier value. Allowed until the plan
    is superseded: measuring is delivery, not design.
    """
    kpi, plan = _kpi(session, actor, kpi_id, pilot_id, "plan.edit")
    if plan.status == lifecycle.SUPERSEDED:
        raise InvalidData("This plan version was superseded: measure in the newer one.")
    start = plan_access.parse_date(data.get("period_start"), "period_start")
    if start is None:
        raise InvalidData("period_start is required.")
    end = plan_access.parse_date(data.get("period_end"), "period_end")
    if end is None:
        end = pl.period_containing(plan.starts_on or start, start, PERIOD_MONTHS).end
    if end < start:
        raise InvalidData("period_end must not be before period_start.")
    source = str(data.get("source") or "").strip()
    if not source or len(source) > 200:
        raise InvalidData("Say where the value comes from (source, at most 200 characters).")
    value = _number(data.get("value"), "value", optional=False)
    assert value is not None
    _upsert(kpi, pl.Period(start, end), value, source, computed=False)
    session.flush()
    m = next(x for x in kpi.measurements if x.period_start == start)
    audit.record(session, actor, "create", "kpi_measurement", m.id,
                 pilot_id=plan_access.plan_pilot(session, plan),
                 detail={"kpi_id": kpi.id, "period_start": start.isoformat()})
    return m


def list_measurements(session: Session, actor: Actor, kpi_id: int, *,
                      pilot_id: int | None = None, threshold: int) -> list[dict[str, Any]]:
    """A KPI's measurements in period order (protected for partners, as in
    :func:`kpi_dicts`).
    """
    kpi, plan = _kpi(session, actor, kpi_id, pilot_id, "assessment.view")
    partner = not can(actor, plan_access.plan_pilot(session, plan), "aggregate.unsuppressed")
    return [_measurement_dict(m, partner and kpi.kind in COUNTS, threshold)
            for m in kpi.measurements]


def kpi_dicts(plan: Plan, *, partner: bool, threshold: int) -> list[dict[str, Any]]:
    """The plan's KPIs, JSON-ready, with measurements.

    With `partner`, the values, baseline and target of kinds a and b are rounded to base 5
    and those below `threshold` withheld (None, with ``withheld: true`` on the measurement and
    ``baseline_withheld`` / ``target_withheld`` on the KPI).
    """
    out = []
    for k in plan.kpis:
        protect = partner and k.kind in COUNTS
        out.append({"id": k.id, "kind": k.kind, "name": k.name, "unit": k.unit,
                    "baseline": _protected(k.baseline, protect, threshold),
                    "target": _protected(k.target, protect, threshold),
                    "direction": k.direction,
                    "baseline_withheld": _withheld(k.baseline, protect, threshold),
                    "target_withheld": _withheld(k.target, protect, threshold),
                    "version": k.version, "computable": k.kind in COMPUTED,
                    "protected": protect,
                    "measurements": [_measurement_dict(m, protect, threshold)
                                     for m in k.measurements]})
    return out


def _series(session: Session, plan: Plan, since: dt.date) -> dict[str, list[Any]]:
    """Dated values behind (b), (c) and (d) at the plan's place from ``since`` on."""
    place_id = session.get_one(Assessment, plan.assessment_id).place_id
    t0 = dt.datetime.combine(since, dt.time(), clock.LOCAL_TZ)
    incidents = [(i.occurred_at.astimezone(clock.LOCAL_TZ).date(), i.severity)
                 for i in q.classified_incidents(session, place_id, since=t0)
                 if i.area == "place"]
    reach = [(d, n) for d, n in session.execute(
        select(AwarenessActivity.held_on, AwarenessActivity.reached)
        .join(awareness_place, awareness_place.c.awareness_id == AwarenessActivity.id)
        .where(awareness_place.c.place_id == place_id, AwarenessActivity.held_on >= since))]
    areas = [a for a in q.safety_map_areas(session, place_id) if a.touches_place]
    drawn = dict(session.execute(select(SafetyMap.id, SafetyMap.drawn_on).where(
        SafetyMap.id.in_({a.safety_map_id for a in areas}))).tuples().all())
    ratings = [(drawn[a.safety_map_id], a.rating) for a in areas]
    row = q.place_row(session, place_id)
    has_geometry = row is not None and row.geojson is not None
    return {"b": incidents if has_geometry else [], "c": reach,
            "d": ratings, "geometry": [has_geometry]}


def _values(kind: str, data: list[Any], period: pl.Period) -> tuple[float | None, str]:
    if kind == "b":
        s = pl.incident_stats(data, period)
        mean = f", mean severity {s.mean_severity:.1f}" if s.mean_severity is not None else ""
        return s.per_month, (f"Computed from {count(s.count, 'incident')} at the place"
                             f"{mean}")
    if kind == "c":
        n = pl.reach(data, period)
        scale = PERIOD_MONTHS / period.months
        return n * scale, "Computed from awareness raising linked to the place"
    v = pl.perception(data, period)
    n = sum(1 for d, _ in data if period.contains(d))
    return v, f"Computed from {count(n, 'safety-map area')} over the place"


def set_computed_baselines(session: Session, plan: Plan) -> None:
    """Baselines of (b)–(d) from the 12 months before the plan starts (where data exist)."""
    if plan.starts_on is None:
        return
    base = pl.baseline_period(plan.starts_on)
    series = _series(session, plan, base.start)
    for k in plan.kpis:
        if k.kind in COMPUTED and (k.kind != "b" or series["geometry"][0]):
            value, _ = _values(k.kind, series[k.kind], base)
            if value is not None:
                k.baseline = value
    session.flush()


def compute_kpis(session: Session, actor: Actor, plan_id: int, *,
                 pilot_id: int | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """Compute (b)–(d) for every complete period since the plan started, and their
    baselines; entered measurements are kept.
    """
    plan = plan_access.get_plan(session, actor, plan_id, pilot_id=pilot_id, permission="plan.edit")
    if plan.status == lifecycle.SUPERSEDED:
        raise InvalidData("This plan version was superseded: measure in the newer one.")
    if plan.starts_on is None:
        raise InvalidData("The plan has no start date.")
    today = today or clock.today()
    set_computed_baselines(session, plan)
    done = pl.periods(plan.starts_on, today, PERIOD_MONTHS)
    series = _series(session, plan, plan.starts_on)
    out: dict[str, Any] = {"periods": len(done), "kpis": []}
    for k in plan.kpis:
        if k.kind not in COMPUTED or (k.kind == "b" and not series["geometry"][0]):
            continue
        written = kept = 0
        for p in done:
            value, source = _values(k.kind, series[k.kind], p)
            if value is None:
                continue
            if _upsert(k, p, value, source, computed=True):
                written += 1
            else:
                kept += 1
        out["kpis"].append({"id": k.id, "kind": k.kind, "written": written,
                            "kept_entered": kept, "baseline": k.baseline})
    session.flush()
    audit.record(session, actor, "compute", "kpi", plan.id,
                 pilot_id=plan_access.plan_pilot(session, plan), detail=out)
    return out
