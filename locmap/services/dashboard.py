"""The partnership dashboard: the current picture of the pilot's young people, in counts.

Every member of a pilot may read it. Partner reviewers always get the partner version:
figures at a completed calendar quarter end only (any other date is snapped back to the
last quarter end on or before it, :func:`locmap.assessment.dashboard.partner_quarter_end`),
every count rounded to base 5, small counts withheld, and the four tables protected
jointly (:func:`locmap.assessment.dashboard.publish_all`; threshold from the app setting).
The owning team sees exact numbers on any date and may preview the partner version.
Exports carry the same protection as the screen, say what they contain, and are audited.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment.dashboard import (
    PublishedTable,
    dashboard_tables,
    partner_quarter_end,
    publish_all,
    quarter_ends,
)
from locmap.errors import InvalidData
from locmap.io.export import neutralise_cell
from locmap.queries import dashboard as q
from locmap.services import audit
from locmap.services.permissions import Actor, can, require
from locmap.services.pilots import get_pilot
from locmap.vocab import CASE_STATUSES, EXPLOITATION_CATEGORIES, label

__all__ = ["Dashboard", "FORMATS", "CONTAINS", "dashboard", "export_dashboard"]

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CONTAINS = ("Counts of the pilot's young people by exploitation category, district, case "
            "status and risk assessment, and by quarter. No pseudonyms, names or case "
            "references.")


@dataclass(frozen=True)
class Dashboard:
    pilot_id: int
    pilot_name: str
    as_of: dt.date
    suppressed: bool
    can_see_exact: bool
    threshold: int
    young_people: int | None
    tables: list[PublishedTable]
    requested_as_of: dt.date | None = None
    quarters: tuple[dt.date, ...] = ()

    @property
    def snapped(self) -> bool:
        """A partner asked for a date that is not a completed quarter end."""
        return (self.suppressed and self.requested_as_of is not None
                and self.requested_as_of != self.as_of)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {"pilot_id": self.pilot_id, "pilot_name": self.pilot_name,
                "as_of": self.as_of.isoformat(), "suppressed": self.suppressed,
                "requested_as_of": (self.requested_as_of.isoformat()
                                    if self.requested_as_of else None),
                "quarter_end": self.suppressed,
                "quarters": [q.isoformat() for q in self.quarters],
                "threshold": self.threshold, "contains": CONTAINS,
                "tables": [t.to_dict() for t in self.tables]}


def dashboard(
    session: Session, actor: Actor, pilot_id: int, *, as_of: dt.date | None = None,
    threshold: int, partner_view: bool = False,
) -> Dashboard:
    """Build the dashboard as `actor` may see it.

    Parameters
    ----------
    as_of : date, optional
        The date of the picture (default today). For the partner version, the last
        completed quarter end on or before it (default: the last completed one): partner
        figures exist at quarter ends only, so that two dates cannot be differenced.
    threshold : int
        Counts from 1 to ``threshold - 1`` are withheld for partners.
    partner_view : bool
        For the owning team: preview what partners see. Ignored for partners, who
        always get the suppressed version.

    Raises
    ------
    NotFound
        Not a member of the pilot.
    InvalidData
        A threshold below 3, or an "as of" date before 2000.
    """
    pilot = get_pilot(session, actor, pilot_id, "dashboard.view")
    exact_allowed = can(actor, pilot_id, "aggregate.unsuppressed")
    suppressed = partner_view or not exact_allowed
    today = clock.today()
    requested = as_of
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 3:
        raise InvalidData(f"The suppression threshold must be a whole number of at least 3, "
                          f"got {threshold!r}.")
    if requested is not None and requested < dt.date(2000, 1, 1):
        raise InvalidData("The 'as of' date must be in 2000 or later.")
    as_of = partner_quarter_end(requested, today) if suppressed else (requested or today)
    records = q.young_people(session, pilot_id, as_of)
    tables = dashboard_tables(
        records, as_of=as_of, pilot_start=pilot.start_date,
        districts=q.district_names(session, pilot_id), categories=EXPLOITATION_CATEGORIES,
        case_statuses=CASE_STATUSES, label=_label)
    published = publish_all(tables, suppressed=suppressed, threshold=threshold, as_of=as_of)
    total = published[0].table.values[-1][-1]
    latest = partner_quarter_end(None, today)
    quarters = tuple(reversed(quarter_ends(min(pilot.start_date, latest), latest, limit=40)))
    return Dashboard(pilot_id=pilot_id, pilot_name=pilot.name, as_of=as_of,
                     suppressed=suppressed, can_see_exact=exact_allowed, threshold=threshold,
                     young_people=total, tables=published, requested_as_of=requested,
                     quarters=quarters)


def _label(word: str) -> str:
    return "Not recorded" if word == "not_recorded" else label(word)


def export_dashboard(
    session: Session, actor: Actor, pilot_id: int, fmt: str, *, as_of: dt.date | None = None,
    threshold: int, partner_view: bool = False,
) -> tuple[bytes, str, str]:
    """The dashboard's tables as CSV or XLSX, suppressed exactly as on screen.

    Returns
    -------
    (bytes, str, str)
        The file, its content type and a file name.
    """
    require(actor, pilot_id, "export.run")
    if fmt not in FORMATS:
        raise InvalidData(f"Export format must be one of {', '.join(FORMATS)}.")
    board = dashboard(session, actor, pilot_id, as_of=as_of, threshold=threshold,
                      partner_view=partner_view)
    data = _csv(board) if fmt == "csv" else _xlsx(board)
    audit.record(session, actor, "export", "dashboard", None, pilot_id=pilot_id,
                 detail={"format": fmt, "as_of": board.as_of.isoformat(),
                         "suppressed": board.suppressed, "threshold": board.threshold,
                         "tables": [t.key for t in board.tables], "contains": CONTAINS})
    name = f"dashboard-pilot{pilot_id}-{board.as_of.isoformat()}.{fmt}"
    return data, FORMATS[fmt], name


def _preamble(board: Dashboard) -> list[str]:
    version = ("Partner version: figures at the quarter end, rounded to the nearest 5, small "
               "numbers withheld" if board.suppressed
               else "Exact numbers: for the pilot's own team only")
    return [f"{board.pilot_name}: partnership dashboard as of {board.as_of.isoformat()}",
            version, f"Contains: {CONTAINS}"]


def _footer(t: PublishedTable, board: Dashboard) -> list[str]:
    lines = [t.table.rule_text]
    if t.suppressed:
        lines.append(f"Suppression threshold: {board.threshold}.")
    if t.note:
        lines.append(t.note)
    return lines


def _cell(text: str) -> Any:
    """A count as a number, anything else as neutralised text."""
    return int(text) if text.isdigit() else neutralise_cell(text)


def _csv(board: Dashboard) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for line in _preamble(board):
        w.writerow([neutralise_cell(line)])
    for t in board.tables:
        w.writerow([])
        w.writerow([neutralise_cell(t.title)])
        for row in t.rows():
            w.writerow([_cell(v) for v in row])
        for line in _footer(t, board):
            w.writerow([neutralise_cell(line)])
    return buf.getvalue().encode("utf-8-sig")


def _xlsx(board: Dashboard) -> bytes:
    wb = Workbook()
    about = wb.active
    assert about is not None
    about.title = "About"
    for line in _preamble(board):
        about.append([neutralise_cell(line)])
    for t in board.tables:
        ws = wb.create_sheet(t.key[:31])
        ws.append([neutralise_cell(t.title)])
        ws["A1"].font = Font(bold=True)
        for i, row in enumerate(t.rows()):
            ws.append([_cell(v) for v in row])
            if i == 0:
                for c in ws[ws.max_row]:
                    c.font = Font(bold=True)
        ws.append([])
        for line in _footer(t, board):
            ws.append([neutralise_cell(line)])
        ws.column_dimensions["A"].width = 34
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
