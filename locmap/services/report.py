"""The PDF report of an assessment or plan version, as a partner or the team may see it.

Permission first (any member of the pilot), then the data: the assessment (its context
weighting, quadrants and key figures), the plan's actions and KPIs when the report is of
a plan, the review history, and the map geometry. Partners get the partner version:
incident counts and the values of KPIs that count children or incidents (kinds a and b)
are rounded to base 5, values below the threshold print as "[c]" and their charts are withheld,
with a note saying so
(:func:`locmap.assessment.disclosure.partner_value`). No identities or restricted free text
are read at all, so none can leak. Every report is audited.
"""

from __future__ import annotations

from typing import Any

from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment.disclosure import MARK, partner_value
from locmap.errors import Conflict
from locmap.formatting import month, num
from locmap.io import report_pdf
from locmap.models import KPI, Agency, Assessment, Pilot, Place, Plan
from locmap.queries.at_place import PLACE_REACH_M
from locmap.services import audit, contexts, lifecycle
from locmap.services.assessment_snapshot import safety_maps_view
from locmap.services.assessments import assessment_view
from locmap.services.permissions import Actor, can
from locmap.services.review_history import history
from locmap.services.reviews import get_subject

__all__ = ["report_data", "report_pdf_bytes", "key_figures"]

_CHILD_COUNTS = ("a", "b")  # children supported; incidents of harm


def _kpis(session: Session, plan: Plan, suppress: bool, threshold: int) -> list[dict[str, Any]]:
    out = []
    for k in session.scalars(select(KPI).where(KPI.plan_id == plan.id).order_by(KPI.id)):
        ms = list(k.measurements)
        protect = suppress and k.kind in _CHILD_COUNTS
        values = [partner_value(m.value, threshold) if protect else m.value for m in ms]
        small = any(v == MARK for v in values)
        shown: list[dict[str, Any]] = [{"period": f"{m.period_start:%b %Y}", "value": v}
                                       for m, v in zip(ms, values, strict=True)]
        baseline = partner_value(k.baseline, threshold) if protect else k.baseline
        target = partner_value(k.target, threshold) if protect else k.target
        chart = None if small else report_pdf.kpi_chart_png(
            k.name, [s["period"] for s in shown], [float(v) for v in values],  # type: ignore[arg-type]
            None if isinstance(baseline, str) else baseline,
            None if isinstance(target, str) else target, k.unit)
        out.append({"name": k.name, "kind": k.kind, "unit": k.unit, "baseline": baseline,
                    "target": target, "direction": k.direction, "measurements": shown,
                    "chart": chart, "withheld": small})
    return out


def _actions(session: Session, plan: Plan) -> list[dict[str, Any]]:
    agencies = {i: n for i, n in session.execute(select(Agency.id, Agency.name))}
    return [{"description": a.description, "category": a.category,
             "context": a.context_name, "owner": agencies.get(a.owner_agency_id or 0, ""),
             "lead": a.lead, "due_on": a.due_on, "status": a.status} for a in plan.actions]


def _figures(view: dict[str, Any], suppress: bool, threshold: int
             ) -> list[tuple[str, Any, str]]:
    """The key figures with what each means in plain words (as the assessment page says)."""
    snap = view.get("indicators") or {}
    counts = snap.get("incidents") or {}
    settings = snap.get("settings") or {}
    ind = snap.get("indicators") or {}
    place_m = float(settings.get("place_m") or PLACE_REACH_M)
    ring_m = float(settings.get("ring_m") or 500)
    span = (f" from {month(ind['first_month'])} to {month(ind['last_month'])}"
            if ind.get("first_month") and ind.get("last_month") else "")
    words = {
        "place": ("Incidents at the place",
                  f"inside the place, or within {place_m:.0f} m of it when it is a point or a "
                  f"line{span}"),
        "ring": ("Incidents around it",
                 f"within {ring_m:.0f} m of the place but not at it{span}"),
        "locality": ("Incidents in the rest of the locality",
                     f"everywhere else in the pilot's area{span}"),
    }
    out: list[tuple[str, Any, str]] = []
    for area, (name, meaning) in words.items():
        n = counts.get(area)
        if isinstance(n, int | float | str):
            # The view is already the partner version when the actor is a partner; an
            # owning-team preview of the partner report is suppressed here.
            shown = (partner_value(int(n), threshold) if suppress and not snap.get("suppressed")
                     else n)
            out.append((name, shown, meaning))
    overall = (ind.get("overall") or {}).get("place_vs_ring") or {}
    # A partner version has no rate ratio (it gives the exact counts back:
    # services/snapshot_view); an owning-team view printed for partners drops it too.
    ratio = None if suppress else overall.get("ratio")
    if ratio is not None:
        more = "more" if ratio > 1 else "fewer" if ratio < 1 else "as many"
        ci = (f" (95% interval {num(overall['ci_low'])} to {num(overall['ci_high'])})"
              if overall.get("ci_low") is not None and overall.get("ci_high") is not None
              else "")
        out.append(("Rate ratio, place vs the area around it", num(ratio),
                    f"per square kilometre the place has {num(ratio)} times the rate of the "
                    f"{ring_m:.0f} m around it{ci}: {more} incidents for its size than its "
                    "surroundings"))
    out.extend(_perceived(snap.get("safety_maps"), suppress))
    return out


def _perceived(block: dict[str, Any] | None, suppress: bool) -> list[tuple[str, Any, str]]:
    """The latest period's perceived safety at the place, as the assessment page shows it
    (the partner figure when ``suppress``: an owning-team block is filtered again).
    """
    if not block or not block.get("periods"):
        return []
    if suppress and not block.get("partner"):
        labels = {p.get("period"): p.get("label") for p in block["periods"]}
        block = safety_maps_view(block, individual=False, partner=True,
                                 threshold=int(block.get("threshold") or 5))
        assert block is not None
        for p in block["periods"]:
            p["label"] = labels.get(p["period"])
    latest = block["periods"][-1]
    f, when = latest["place"], latest.get("label") or latest["period"]
    name = "Perceived safety at the place (score)"
    if f.get("withheld") or not f.get("shares"):
        why = (f"fewer than {block.get('threshold') or 5} young people's maps rate the place"
               if f.get("withheld") else "no young person's map rates the place")
        return [(name, MARK if f.get("withheld") else "–", f"{when}: {why}, so no share is "
                 "shown")]
    sh = f["shares"]
    return [(name, f"{f['score']:+.0f}",
             f"{when}: of the areas young people rated on {f['maps']} safety maps covering "
             f"the place, {sh['red']:.0f}% red, {sh['amber']:.0f}% amber and "
             f"{sh['green']:.0f}% green; the score is green minus red (+100 all green, "
             "-100 all red), KPI (d)")]


key_figures = _figures


def report_data(session: Session, actor: Actor, pilot_id: int, kind: str,
                subject_id: int, *, threshold: int) -> dict[str, Any]:
    """Everything the report prints, checked and suppressed for this actor."""
    subject = get_subject(session, actor, pilot_id, kind, subject_id)
    if subject.status == lifecycle.DRAFT:
        raise Conflict("A draft has no report yet: submit it for review first.")
    assessment = subject if isinstance(subject, Assessment) else session.get(
        Assessment, subject.assessment_id)
    assert assessment is not None
    suppress = not can(actor, pilot_id, "aggregate.unsuppressed")
    view = assessment_view(session, actor, pilot_id, assessment.id, threshold=threshold)
    pilot = session.get(Pilot, pilot_id)
    assert pilot is not None
    others = [mapping(to_shape(g)) for g in session.scalars(
        select(Place.geom).where(Place.pilot_id == pilot_id, Place.id != assessment.place_id,
                                 Place.geom.is_not(None), Place.deleted_at.is_(None)))
              if g is not None]
    hist = history(session, actor, pilot_id, kind, subject_id, threshold=threshold)
    return {
        "kind": kind, "title": f"{'Plan' if kind == 'plan' else 'Assessment'} for "
                               f"{view['place']['name']}",
        "pilot": pilot.name, "place": view["place"], "version_no": subject.version_no,
        "status": subject.status, "approved_at": subject.approved_at,
        "label": next(v["label"] for v in hist["versions"] if v["id"] == subject_id),
        "submitted_at": subject.submitted_at, "generated_at": clock.now(),
        "audience": "partner version (rounded to the nearest 5, small numbers withheld)" if suppress
        else "owning team version",
        "suppressed": suppress, "small": threshold,
        "map": report_pdf.place_map_png(view["place"]["geometry"],
                                        mapping(to_shape(pilot.locality)), others),
        "assessment": {"version_no": assessment.version_no, "status": assessment.status,
                       "young_people": view["young_people"],
                       "guardianship": view["guardianship"],
                       "environment": view["environment"], "summary": view["summary"],
                       "weighting": view["context_weighting"],
                       "weightiest": view["weightiest"], "quadrants": view["quadrants"],
                       "figures": _figures(view, suppress, threshold)},
        "context": contexts.section(session, actor, pilot_id, assessment.id,
                                   threshold=threshold),
        "actions": _actions(session, subject) if isinstance(subject, Plan) else None,
        "kpis": _kpis(session, subject, suppress, threshold) if isinstance(subject, Plan) else None,
        "history": [v for v in hist["versions"] if v["id"] == subject_id
                    or (v["submitted_at"] and subject.submitted_at
                        and v["submitted_at"] <= subject.submitted_at)],
    }


def report_pdf_bytes(session: Session, actor: Actor, pilot_id: int, kind: str,
                     subject_id: int, *, threshold: int) -> bytes:
    """The PDF, audited as an export of the version."""
    data = report_data(session, actor, pilot_id, kind, subject_id, threshold=threshold)
    pdf = report_pdf.render_pdf(data)
    audit.record(session, actor, "export", f"{kind}_report", subject_id, pilot_id=pilot_id,
                 detail={"format": "pdf", "suppressed": data["suppressed"],
                         "bytes": len(pdf)})
    return pdf
