"""A plan's actions and KPI measurements as CSV or XLSX for partners' own trackers.

Every text cell passes :func:`locmap.io.export.neutralise_cell` (a description such as
``=HYPERLINK(...)`` must not run when a partner opens the file); numbers and dates stay
typed. Each export is audited with what it held. Partners get the KPIs that count
children or incidents (kinds a and b) as on screen: rounded to base 5, values below the
threshold withheld as "[c]" (:func:`locmap.assessment.disclosure.partner_value`).
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment.disclosure import partner_value
from locmap.errors import InvalidData
from locmap.io.export import csv_lines, neutralise_cell
from locmap.services import audit, plans
from locmap.services.kpis import COUNTS
from locmap.services.permissions import Actor, can, require
from locmap.vocab import label

__all__ = ["TABLES", "export_csv", "export_xlsx"]

ACTION_HEADER = ("action_id", "description", "category", "domain", "context", "factors",
                 "owner_agency", "lead", "due_on", "status", "overdue", "progress_notes")
MEASUREMENT_HEADER = ("kpi_id", "kind", "kpi", "unit", "direction", "baseline", "target",
                      "period_start", "period_end", "value", "source", "computed")
TABLES = ("actions", "measurements")


def _rows(session: Session, actor: Actor, plan_id: int, pilot_id: int | None, threshold: int
          ) -> tuple[int, dict[str, list[tuple[Any, ...]]]]:
    plan = plans.get_plan(session, actor, plan_id, pilot_id=pilot_id)
    pid = plans.plan_pilot(session, plan)
    require(actor, pid, "export.run")
    acts = [(a["id"], a["description"], label(a["category"]), a["domain"],
             a["context_name"] or "", ", ".join(str(f) for f in a["factor_ids"]),
             a["owner_agency"] or "", a["lead"], a["due_on"] or "", a["status"],
             "yes" if a["overdue"] else "", a["progress_notes"])
            for a in plans.action_dicts(session, plan, clock.today())]
    partner = not can(actor, pid, "aggregate.unsuppressed")

    def shown(k: Any, value: float | None) -> Any:
        return partner_value(value, threshold) if partner and k.kind in COUNTS else value

    meas = [(k.id, k.kind, k.name, k.unit, k.direction, shown(k, k.baseline),
             shown(k, k.target), m.period_start.isoformat(), m.period_end.isoformat(),
             shown(k, m.value), m.source, "yes" if m.computed else "")
            for k in plan.kpis for m in k.measurements]
    return pid, {"actions": acts, "measurements": meas}


def _audit(session: Session, actor: Actor, pid: int, plan_id: int, fmt: str,
           counts: dict[str, int]) -> None:
    audit.record(session, actor, "export", "plan", plan_id, pilot_id=pid,
                 detail={"format": fmt, "rows": counts})


def export_csv(session: Session, actor: Actor, plan_id: int, table: str, *,
               pilot_id: int | None = None, threshold: int) -> str:
    """One table (``actions`` or ``measurements``) as CSV text."""
    if table not in TABLES:
        raise InvalidData(f"table must be one of {', '.join(TABLES)}.")
    pid, rows = _rows(session, actor, plan_id, pilot_id, threshold)
    header = ACTION_HEADER if table == "actions" else MEASUREMENT_HEADER
    _audit(session, actor, pid, plan_id, f"csv:{table}", {table: len(rows[table])})
    return "".join(csv_lines(header, rows[table]))


def export_xlsx(session: Session, actor: Actor, plan_id: int, *,
                pilot_id: int | None = None, threshold: int) -> bytes:
    """Both tables as sheets of one workbook."""
    pid, rows = _rows(session, actor, plan_id, pilot_id, threshold)
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    for name, header in (("actions", ACTION_HEADER), ("measurements", MEASUREMENT_HEADER)):
        ws = wb.create_sheet(name)
        ws.append([neutralise_cell(h) for h in header])
        for row in rows[name]:
            ws.append([neutralise_cell(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    _audit(session, actor, pid, plan_id, "xlsx", {k: len(v) for k, v in rows.items()})
    return buf.getvalue()
