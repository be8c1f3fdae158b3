"""The sections of the board's pack (:mod:`locmap.services.board_pack`), one function each.

Every number comes from the function that shows it elsewhere, as the requester may see it:
the overview's referral measures, the high-risk log, the assessments' and plans' statuses
and the log's decisions at the period end (:mod:`locmap.services.status_history`), the
current plans' actions and KPIs, displacement decisions, the dashboard's district tables,
and incidents at each place by quarter (:mod:`locmap.services.place_series`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment.review_rules import action_overdue
from locmap.models import Agency, DisplacementFlag, Feature, Place
from locmap.services import (
    dashboard,
    meetings,
    place_series,
    referrals,
    status_history,
    timeline,
)
from locmap.services.permissions import Actor
from locmap.vocab import label

__all__ = ["SECTIONS", "clock_day", "pilot_sections"]

# The pack's sections, in order: key, heading (the PDF's h2, the XLSX's sheet).
SECTIONS = (
    ("referrals", "Referrals and screening"),
    ("high_risk", "High-risk contexts log"),
    ("status", "Assessments and plans by status"),
    ("actions", "Actions by agency"),
    ("kpis", "KPIs against baseline"),
    ("impact", "Impact and displacement findings"),
    ("districts", "Current picture by district"),
    ("incidents", "Incidents at each place by quarter"),
)
_DISTRICT_TABLES = ("by_district", "risk_assessment")


def _table(key: str, title: str, columns: list[str], rows: list[list[Any]],
           notes: list[str] | None = None) -> dict[str, Any]:
    return {"key": key, "title": title, "columns": columns, "rows": rows,
            "notes": notes or []}


def _shown(v: Any) -> Any:
    return "—" if v is None else v


# --- the sections ------------------------------------------------------------------------


def _referrals(session: Session, actor: Actor, pid: int, start: dt.date, end: dt.date,
               partner: bool, threshold: int) -> list[dict[str, Any]]:
    # As on the overview: the team's figures at a day, the partner's at the last completed
    # quarter end before "today" (the day after the period is the first day it is done).
    m = referrals.referral_measures(session, actor, pid, threshold=threshold, since=start,
                                    today=end + dt.timedelta(days=1) if partner else end)
    grid = m["by_agency"]
    cols = list(grid["columns"])
    if partner and grid["rows"]:
        rows = [[a, *cells, total] for a, cells, total in zip(
            grid["rows"], grid["cells"], grid["row_totals"], strict=True)]
        rows.append(["All agencies", *grid["column_totals"]])
    else:
        rows = [[a, *cells, sum(cells)] for a, cells in zip(grid["rows"], grid["cells"],
                                                            strict=True)]
        if rows:
            rows.append(["All agencies", *[sum(c) for c in zip(*grid["cells"], strict=True)],
                         m["referrals"]])
    dd, da = m["days_to_decision"], m["days_to_assessment"]
    measures = [
        ["Referrals received in the period", m["referrals"]],
        ["Awaiting screening at the period end", m["awaiting"]],
        ["Median days from referral to decision", _shown(dd["median"])],
        ["Referrals decided (making that median)", dd["n"]],
        ["Median days from referral to a submitted assessment", _shown(da["median"])],
        ["Level 2 assessments submitted (making that median)", da["n"]],
    ]
    return [
        _table("referral_measures", "Referrals and screening times", ["Measure", "Value"],
               measures),
        _table("referral_sources", "Referrals by source agency and kind of context",
               ["Agency", *cols, "All kinds"], rows,
               [] if rows else ["No referrals were received in the period."]),
        _table("referral_outcomes", "Screening outcomes", ["Outcome", "Referrals"],
               [[k, v] for k, v in m["outcomes"].items()]),
    ]


def _high_risk(session: Session, actor: Actor, pid: int, start: dt.date,
               end: dt.date) -> list[dict[str, Any]]:
    log = meetings.high_risk_log(session, actor, pid)
    # The latest decision as it stood at the period end, not as it stands now.
    decided = status_history.log_decisions_at(session, actor, pid, end)
    spans = [(dt.date.fromisoformat(e["opened_on"]),
              dt.date.fromisoformat(e["closed_on"]) if e["closed_on"] else None, e)
             for e in log]
    open_then = [e for opened, closed, e in spans
                 if opened <= end and (closed is None or closed > end)]
    opened = len([1 for o, _, _ in spans if start <= o <= end])
    closed = len([1 for _, c, _ in spans if c is not None and start <= c <= end])
    return [
        _table("high_risk_counts", "The log in the period", ["Measure", "Contexts"],
               [["Open at the period end", len(open_then)],
                ["Opened in the period", opened], ["Closed in the period", closed]]),
        _table("high_risk_open", "Contexts open on the log at the period end",
               ["Context", "Open since", "Why", "Latest decision"],
               [[e["context"], e["opened_on"], e["reason"], decided.get(e["id"]) or "—"]
                for e in open_then],
               [] if open_then else ["No context was open on the log."]),
    ]


def _status(session: Session, actor: Actor, pid: int, end: dt.date) -> list[dict[str, Any]]:
    places = status_history.statuses_at(session, actor, pid, end)
    counts: dict[str, list[int]] = {}
    for p in places:
        for i, kind in enumerate(("assessment", "plan")):
            word = p[kind]["label"] if p[kind] else "none"
            counts.setdefault(word, [0, 0])[i] += 1
    rows = [[w, a, b] for w, (a, b) in sorted(counts.items())]
    rows.append(["All places", len(places), len(places)])
    return [_table("status", "Each place's latest assessment and current plan, by status",
                   ["Status", "Assessments", "Plans"], rows,
                   ["Statuses as they stood at the period end (the overview's words)."])]


def _actions(session: Session, pid: int, end: dt.date) -> list[dict[str, Any]]:
    agencies = dict(session.execute(select(Agency.id, Agency.name)).tuples().all())
    on = min(clock.today(), end + dt.timedelta(days=1))
    counts: dict[str, list[int]] = {}
    for plan in timeline.current_plans(session, pid).values():
        for a in plan.actions:
            if a.status == "dropped":
                continue
            row = counts.setdefault(agencies.get(a.owner_agency_id or 0, "No agency given"),
                                    [0, 0, 0])
            row[0] += 1
            row[1] += int(a.status == "done")
            row[2] += int(action_overdue(a.status, a.due_on, on))
    rows: list[list[Any]] = [[n, *v] for n, v in sorted(counts.items())]
    if rows:
        rows.append(["All agencies", *[sum(v[i] for v in counts.values()) for i in (0, 1, 2)]])
    return [_table("actions", "Actions on the current plans, by owner agency",
                   ["Agency", "Actions", "Done", "Overdue at the period end"], rows,
                   [] if rows else ["No plan has actions yet."])]


def _kpis(session: Session, pid: int, start: dt.date, end: dt.date,
          partner: bool, threshold: int) -> list[dict[str, Any]]:
    plans = timeline.current_plans(session, pid)
    names = dict(session.execute(select(Place.id, Place.name).where(
        Place.pilot_id == pid)).tuples().all())
    rows = []
    for place_id, plan in sorted(plans.items(), key=lambda x: names.get(x[0], "")):
        for k in timeline.kpi_rows(session, [plan], start, end, partner, threshold):
            rows.append([names.get(place_id, ""), k["name"], f"({k['kind']})",
                         _shown(k["baseline"]), _shown(k["latest"]), _shown(k["target"]),
                         k["trend"]])
    notes = ["Kinds: (a) children supported, (b) incidents of harm, (c) perceived safety, "
             "(d) other. Latest is the last measurement up to the period end."]
    if partner:
        notes.append("Partner version: values of kinds (a) and (b) rounded to the nearest 5, "
                     "small ones withheld ([c]).")
    return [_table("kpis", "KPIs against baseline", ["Place", "KPI", "Kind", "Baseline",
                                                      "Latest", "Target", "Trend"],
                   rows, notes if rows else ["No plan has KPIs yet."])]


def _impact(session: Session, pid: int, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    names = dict(session.execute(select(Place.id, Place.name).where(
        Place.pilot_id == pid)).tuples().all())
    t1 = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), clock.LOCAL_TZ)
    t0 = dt.datetime.combine(start, dt.time(), clock.LOCAL_TZ)
    flags = list(session.scalars(select(DisplacementFlag).where(
        DisplacementFlag.pilot_id == pid, DisplacementFlag.decided_at < t1)
        .order_by(DisplacementFlag.decided_at, DisplacementFlag.id)))
    features = dict(session.execute(select(Feature.id, Feature.name).where(
        Feature.id.in_({f.dest_feature_id for f in flags if f.dest_feature_id}))).tuples().all())
    rows = [[names.get(f.source_place_id, ""),
             names.get(f.dest_place_id or 0) or features.get(f.dest_feature_id or 0) or "",
             f.intervention_month.strftime("%b %Y"), label(f.status),
             clock_day(f.decided_at)]
            for f in flags if f.decided_at >= t0]
    summary = [[label(s), len([f for f in flags if f.status == s])]
               for s in ("confirmed", "dismissed")]
    return [
        _table("displacement_summary", "Displacement flags decided up to the period end",
               ["Decision", "Flags"], summary),
        _table("displacement", "Displacement decisions in the period",
               ["From", "To", "Intervention", "Decision", "Decided on"], rows,
               [] if rows else ["No displacement flag was decided in the period."]),
    ]


def clock_day(at: dt.datetime) -> str:
    """A timestamp as the partnership's day (YYYY-MM-DD)."""
    return at.astimezone(clock.LOCAL_TZ).date().isoformat()


def _incidents(session: Session, actor: Actor, pid: int, end: dt.date, partner: bool,
               threshold: int) -> list[dict[str, Any]]:
    series = place_series.incidents_by_quarter(session, actor, pid, end, partner=partner,
                                               threshold=threshold)
    return [_table("incidents_by_place",
                   "Incidents at each place, the four quarters to the period end", **series)]


def _districts(session: Session, actor: Actor, pid: int, end: dt.date,
               threshold: int) -> list[dict[str, Any]]:
    board = dashboard.dashboard(session, actor, pid, as_of=end, threshold=threshold)
    out = []
    for t in board.tables:
        if t.key not in _DISTRICT_TABLES:
            continue
        rows = t.rows()
        notes = [t.table.rule_text]
        if t.suppressed:
            notes.append(f"Suppression threshold: {threshold}.")
        if t.note:
            notes.append(t.note)
        out.append(_table(t.key, t.title, list(rows[0]), [list(r) for r in rows[1:]], notes))
    return out


def pilot_sections(session: Session, actor: Actor, pid: int, start: dt.date, end: dt.date,
                   partner: bool, threshold: int) -> list[dict[str, Any]]:
    """One pilot's sections in order: key, title and tables."""
    sections = {
        "referrals": _referrals(session, actor, pid, start, end, partner, threshold),
        "high_risk": _high_risk(session, actor, pid, start, end),
        "status": _status(session, actor, pid, end),
        "actions": _actions(session, pid, end),
        "kpis": _kpis(session, pid, start, end, partner, threshold),
        "impact": _impact(session, pid, start, end),
        "districts": _districts(session, actor, pid, end, threshold),
        "incidents": _incidents(session, actor, pid, end, partner, threshold),
    }
    return [{"key": k, "title": t, "tables": sections[k]} for k, t in SECTIONS]
