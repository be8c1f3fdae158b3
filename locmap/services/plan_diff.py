"""What changed from one plan version to the next, every part of it (issue 16): its start,
its actions field by field (progress notes too) with the factors each answers, the reasons
given for leaving a weighty factor or context without an action (gap reasons), its KPIs
and their measurements.

Each change keeps its value (a date, a number, a vocabulary word: the API's) and says it
in words for people (``before_text``/``after_text``: "6 Apr 2025", "In progress", "[c]").
A partner reads the counts of KPIs (a) and (b) as partners see every count
(:func:`locmap.assessment.disclosure.partner_value`): rounded to 5, those below the threshold
withheld.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import formatting
from locmap.assessment.disclosure import partner_value
from locmap.models import KPI, Action, Agency, Plan, PlanGapReason, SafetyFactor, action_factor
from locmap.services.kpis import COUNTS
from locmap.vocab import label

__all__ = ["plan_diff", "words"]

_ACTION_FIELDS = ("category", "domain", "context_name", "owner_agency_id", "lead", "due_on",
                  "status", "progress_notes")
_KPI_FIELDS = ("kind", "unit", "baseline", "target", "direction")
# Fields whose values are vocabulary words (shown by their label).
_WORDS = {"category", "domain", "status", "direction"}


def words(field: str, value: Any) -> str:
    """One value of a plan's field as people read it.

    >>> words("status", "in_progress"), words("due_on", dt.date(2025, 4, 6))
    ('In progress', '6 Apr 2025')
    >>> words("baseline", 12.0), words("target", "[c]"), words("lead", None)
    ('12', '[c]', '—')
    """
    if value is None or value == "":
        return formatting.MISSING
    if isinstance(value, dt.date):
        return formatting.day(value)
    if field in _WORDS and isinstance(value, str):
        return label(value)
    if field == "kind" and isinstance(value, str):
        return f"({value})" if len(value) == 1 else label(value)
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _change(field: str, before: Any, after: Any) -> dict[str, Any]:
    return {"field": field.replace("_id", "").replace("_", " "), "before": before,
            "after": after, "before_text": words(field, before),
            "after_text": words(field, after)}


def plan_diff(session: Session, a_id: int, b_id: int, *, partner: bool,
              threshold: int) -> dict[str, Any]:
    """Every part of a plan that changed from version ``a_id`` to ``b_id``: actions matched
    by description, KPIs by name, measurements by period, gap reasons by their factor's
    statement or their context.
    """
    plans = {p.id: p for p in session.scalars(select(Plan).where(Plan.id.in_((a_id, b_id))))}
    agencies = {i: n for i, n in session.execute(select(Agency.id, Agency.name))}

    def actions(pid: int) -> dict[str, Action]:
        return {x.description: x for x in session.scalars(
            select(Action).where(Action.plan_id == pid))}

    def kpis(pid: int) -> dict[str, KPI]:
        return {k.name: k for k in session.scalars(select(KPI).where(KPI.plan_id == pid))}

    def counted(kpi: KPI) -> Callable[[Any], Any]:
        """How a value of this KPI is shown to the reader."""
        if partner and kpi.kind in COUNTS:
            return lambda v: partner_value(v, threshold)
        return lambda v: v

    def shown(obj: Any, field: str) -> Any:
        value = getattr(obj, field)
        if field == "owner_agency_id":
            return agencies.get(value, "none") if value else "none"
        if isinstance(obj, KPI) and field in ("baseline", "target"):
            return counted(obj)(value)
        return None if value == "" else value

    def changes(before: Any, after: Any, fields: tuple[str, ...]) -> list[dict[str, Any]]:
        # Compared as the reader sees them (a partner is not told that 7 became 6).
        return [_change(f, shown(before, f), shown(after, f))
                for f in fields if shown(before, f) != shown(after, f)]

    fa, fb = actions(a_id), actions(b_id)
    answers = _answers(session, [x.id for x in (*fa.values(), *fb.values())])

    def action_changes(d: str) -> list[dict[str, Any]]:
        out = changes(fa[d], fb[d], _ACTION_FIELDS)
        before, after = answers.get(fa[d].id, []), answers.get(fb[d].id, [])
        if before != after:
            out.append(_change("answers", "; ".join(before), "; ".join(after)))
        return out

    ka, kb = kpis(a_id), kpis(b_id)
    a_plan, b_plan = plans.get(a_id), plans.get(b_id)
    starts = (None if a_plan is None or b_plan is None or a_plan.starts_on == b_plan.starts_on
              else {"before": a_plan.starts_on, "after": b_plan.starts_on,
                    "before_text": words("starts_on", a_plan.starts_on),
                    "after_text": words("starts_on", b_plan.starts_on)})
    changed = {d: action_changes(d) for d in fa if d in fb}
    return {
        "starts_on": starts,
        "actions_added": [d for d in fb if d not in fa],
        "actions_removed": [d for d in fa if d not in fb],
        "actions_changed": [
            {"description": d, "status_before": fa[d].status, "status_after": fb[d].status,
             "due_before": fa[d].due_on, "due_after": fb[d].due_on, "changes": c}
            for d, c in changed.items() if c],
        "kpis_added": [n for n in kb if n not in ka],
        "kpis_removed": [n for n in ka if n not in kb],
        "kpis_changed": [{"name": n, "changes": changes(ka[n], kb[n], _KPI_FIELDS)}
                         for n in ka if n in kb and changes(ka[n], kb[n], _KPI_FIELDS)],
        "measurements_changed": [m for n in ka if n in kb
                                 for m in _measurements(ka[n], kb[n], counted(kb[n]))],
        **_gap_reasons(session, a_id, b_id),
    }


def _answers(session: Session, action_ids: list[int]) -> dict[int, list[str]]:
    """Action id → the statements of the factors it answers, sorted."""
    out: dict[int, list[str]] = {}
    if action_ids:
        for aid, statement in session.execute(
                select(action_factor.c.action_id, SafetyFactor.statement)
                .join(SafetyFactor, SafetyFactor.id == action_factor.c.factor_id)
                .where(action_factor.c.action_id.in_(action_ids))):
            out.setdefault(aid, []).append(statement)
    return {k: sorted(v) for k, v in out.items()}


def _measurements(a: KPI, b: KPI, show: Callable[[Any], Any]) -> list[dict[str, Any]]:
    """The KPI's measurements added, removed or changed (value or source), by period."""
    ma = {m.period_start: m for m in a.measurements}
    mb = {m.period_start: m for m in b.measurements}
    out = []
    for start in sorted(ma.keys() | mb.keys()):
        x, y = ma.get(start), mb.get(start)
        before = show(x.value) if x is not None else None
        after = show(y.value) if y is not None else None
        # Compared as the reader sees them: a partner is not told that 9 became 11.
        if x is not None and y is not None and (before, x.source) == (after, y.source):
            continue
        row = y if y is not None else x
        assert row is not None
        end = row.period_end
        out.append({"kpi": b.name, "period_start": start, "period_end": end,
                    "period": f"{formatting.day(start)} – {formatting.day(end)}",
                    "change": "added" if x is None else "removed" if y is None else "changed",
                    "before": before, "after": after,
                    "before_text": words("value", before), "after_text": words("value", after),
                    "source_before": x.source if x is not None else None,
                    "source_after": y.source if y is not None else None})
    return out


def _gap_reasons(session: Session, a_id: int, b_id: int) -> dict[str, list[dict[str, Any]]]:
    """The reasons given for a weighty factor or the weightiest context left without an
    action, matched by the factor's statement or the context's name.
    """
    rows = session.execute(
        select(PlanGapReason.plan_id, PlanGapReason.context_name, PlanGapReason.reason,
               SafetyFactor.statement)
        .outerjoin(SafetyFactor, SafetyFactor.id == PlanGapReason.factor_id)
        .where(PlanGapReason.plan_id.in_((a_id, b_id)))).all()
    by: dict[int, dict[str, str]] = {a_id: {}, b_id: {}}
    for plan_id, context, reason, statement in rows:
        subject = f"factor “{statement}”" if statement is not None else f"context {context}"
        by[plan_id][subject] = reason
    ra, rb = by[a_id], by[b_id]
    return {
        "gap_reasons_added": [{"subject": s, "reason": rb[s]} for s in sorted(rb)
                              if s not in ra],
        "gap_reasons_removed": [{"subject": s, "reason": ra[s]} for s in sorted(ra)
                                if s not in rb],
        "gap_reasons_changed": [{"subject": s, "before": ra[s], "after": rb[s]}
                                for s in sorted(ra) if s in rb and ra[s] != rb[s]],
    }
