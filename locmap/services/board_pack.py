"""The board's pack (issue 19): quarterly or annual assurance for the safeguarding partnership.

A user asks for a pack on a page (:func:`request_pack`); the worker builds it
(:func:`run_pack`, queued by :func:`locmap.jobs.defer_board_pack`) as PDF and XLSX, and
the user downloads it (:func:`pack_file`). A pack covers one pilot or every pilot the user
may see, for a quarter or the year ending at a **completed** quarter end (partner figures
exist at quarter ends only, as on the dashboard).

Per pilot it holds: referrals and screening times (received in the period), contexts open
on the high-risk log at the period end, assessments and plans by status at the period end,
plan actions done and overdue by agency, KPIs (a)–(d) against their baseline, displacement
findings, the current picture by district, and incidents at each place by quarter. Every
number comes from the function that shows it elsewhere
(:func:`~locmap.services.referrals.referral_measures` as on the overview,
:func:`~locmap.services.dashboard.dashboard` as on the dashboard, the timeline's plans and
KPIs as on the overview), so a partner's pack carries the same suppression as the
partner's screens: counts of children and incidents rounded to base 5, small ones withheld
("[c]"). No pseudonyms, names, case references or restricted free text are read. The
sections themselves are built in :mod:`locmap.services.board_pack_sections`.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment.dashboard import partner_quarter_end, quarter_ends
from locmap.db import Database
from locmap.errors import InvalidData, NotFound
from locmap.io import report_pdf
from locmap.io.export import neutralise_cell
from locmap.models import BoardPack, User
from locmap.services import audit
from locmap.services.accounts import actor_for
from locmap.services.board_pack_sections import SECTIONS, clock_day, pilot_sections
from locmap.services.permissions import Actor, can, require
from locmap.services.pilots import get_pilot, visible_pilots

__all__ = ["PERIODS", "FORMATS", "SECTIONS", "period_choices", "period_start", "pack_data",
           "request_pack", "run_pack", "submit_pack", "my_packs", "pack_file", "pack_pdf",
           "pack_xlsx"]

log = logging.getLogger(__name__)
PERIODS = {"quarter": "Quarter", "year": "Year"}
FORMATS = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def period_choices(today: dt.date | None = None, limit: int = 8) -> list[dt.date]:
    """The completed quarter ends a pack may end at, newest first."""
    latest = partner_quarter_end(None, today or clock.today())
    return list(reversed(quarter_ends(dt.date(latest.year - 3, 1, 1), latest, limit=limit)))


def period_start(period: str, end: dt.date) -> dt.date:
    """The first day of the quarter or of the year that ends on ``end`` (a quarter end)."""
    if period == "year":
        after = end + dt.timedelta(days=1)
        return dt.date(after.year - 1, after.month, 1)
    return dt.date(end.year, end.month - 2, 1)


def _check_period(period: str, end: dt.date, today: dt.date) -> None:
    if period not in PERIODS:
        raise InvalidData("The period must be a quarter or a year.",
                          details={"field": "period"})
    if end not in period_choices(today, limit=40):
        raise InvalidData("A pack ends at a completed quarter end (31 March, 30 June, "
                          "30 September or 31 December, before today).",
                          details={"field": "period_end"})


def pack_data(session: Session, actor: Actor, pilot_id: int | None, period: str,
              end: dt.date, *, threshold: int) -> dict[str, Any]:
    """Everything the pack prints, for ``actor``: one pilot, or every pilot they may see.

    Raises
    ------
    NotFound
        ``pilot_id`` is not one of the actor's pilots.
    InvalidData
        Not a quarter or a year, or ``end`` is not a completed quarter end.
    """
    today = clock.today()
    _check_period(period, end, today)
    if pilot_id is not None:
        pilots = [get_pilot(session, actor, pilot_id, "dashboard.view")]
    else:
        pilots = [p for p in visible_pilots(session, actor)
                  if can(actor, p.id, "dashboard.view")]
    start = period_start(period, end)
    parts = []
    for p in pilots:
        partner = not can(actor, p.id, "aggregate.unsuppressed")
        parts.append({"id": p.id, "name": p.name, "partner": partner,
                      "sections": pilot_sections(session, actor, p.id, start, end, partner,
                                                 threshold)})
    scope = pilots[0].name if pilot_id is not None and pilots else "All your pilots"
    return {"title": f"The board's pack: {PERIODS[period].lower()} to {end:%-d %B %Y}",
            "scope": scope, "period": period, "start": start, "end": end,
            "generated_at": clock.now(), "threshold": threshold, "pilots": parts}


# --- files -------------------------------------------------------------------------------


def pack_pdf(data: dict[str, Any]) -> bytes:
    """The pack as PDF (the report folder's ``board_pack.html``)."""
    return report_pdf.render_pdf(data, template="board_pack.html")


def _cell(v: Any) -> Any:
    return v if isinstance(v, int | float) and not isinstance(v, bool) else neutralise_cell(
        str(v))


def pack_xlsx(data: dict[str, Any]) -> bytes:
    """The pack as XLSX: an About sheet, then one sheet per section, a block per pilot."""
    wb = Workbook()
    about = wb.active
    assert about is not None
    about.title = "About"
    for line in (data["title"], f"Scope: {data['scope']}",
                 f"Period: {data['start']:%-d %B %Y} to {data['end']:%-d %B %Y}",
                 f"Made: {clock_day(data['generated_at'])}"):
        about.append([neutralise_cell(line)])
    for p in data["pilots"]:
        about.append([neutralise_cell(f"{p['name']}: " + (
            "partner version (rounded to the nearest 5, small numbers withheld)"
            if p["partner"] else "owning team version (exact numbers)"))])
    for key, heading in SECTIONS:
        ws = wb.create_sheet(heading[:31])
        for p in data["pilots"]:
            ws.append([neutralise_cell(p["name"])])
            ws.cell(ws.max_row, 1).font = Font(bold=True, size=13)
            section = next(s for s in p["sections"] if s["key"] == key)
            for t in section["tables"]:
                ws.append([neutralise_cell(t["title"])])
                ws.cell(ws.max_row, 1).font = Font(bold=True)
                ws.append([neutralise_cell(c) for c in t["columns"]])
                for c in ws[ws.max_row]:
                    c.font = Font(bold=True)
                for row in t["rows"]:
                    ws.append([_cell(v) for v in row])
                for line in t["notes"]:
                    ws.append([neutralise_cell(line)])
                ws.append([])
        ws.column_dimensions["A"].width = 40
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- asking for it, building it, downloading it ------------------------------------------


def request_pack(session: Session, actor: Actor, pilot_id: int | None, period: str,
                 period_end: dt.date) -> BoardPack:
    """Record a pack to build (the caller queues the job once this is committed)."""
    if actor.user_id is None:
        raise InvalidData("Only a signed-in user asks for a pack.")
    _check_period(period, period_end, clock.today())
    if pilot_id is not None:
        get_pilot(session, actor, pilot_id, "dashboard.view")
        require(actor, pilot_id, "export.run")
    elif not any(can(actor, p.id, "dashboard.view") for p in visible_pilots(session, actor)):
        raise NotFound("You are not a member of any pilot.")
    pack = BoardPack(user_id=actor.user_id, pilot_id=pilot_id, period=period,
                     period_end=period_end, status="queued")
    session.add(pack)
    session.flush()
    audit.record(session, actor, "create", "board_pack", pack.id, pilot_id=pilot_id,
                 detail={"period": period, "period_end": period_end.isoformat()})
    return pack


def run_pack(session: Session, pack_id: int, *, threshold: int) -> str:
    """Build a queued pack as its requester may see it; store both files (the worker's task).

    A failure is recorded on the pack (``failed`` with the reason) rather than lost: the
    work runs in a savepoint, rolled back on any error, and the status is written after it.
    """
    pack = session.get(BoardPack, pack_id)
    if pack is None:
        return "missing"
    user = session.get(User, pack.user_id)
    if user is None or not user.active:
        pack.status, pack.error = "failed", "The user who asked for it has no account now."
        return pack.status
    who = actor_for(session, user)
    pack.status = "running"
    session.flush()
    try:
        with session.begin_nested():
            data = pack_data(session, who, pack.pilot_id, pack.period, pack.period_end,
                             threshold=threshold)
            pack.pdf, pack.xlsx = pack_pdf(data), pack_xlsx(data)
            pack.status, pack.error = "done", ""
    except (InvalidData, NotFound) as exc:
        pack.status, pack.error = "failed", exc.message
    except Exception as exc:  # recorded on the pack, not left "running" for ever
        log.exception("board pack %s failed", pack_id)
        pack.status = "failed"
        pack.error = f"The pack could not be made ({type(exc).__name__}). Ask again later."
    pack.finished_at = clock.now()
    return pack.status


def _pack_dict(p: BoardPack, names: dict[int, str]) -> dict[str, Any]:
    return {"id": p.id, "pilot_id": p.pilot_id,
            "scope": names.get(p.pilot_id, "") if p.pilot_id else "All your pilots",
            "period": p.period, "period_label": PERIODS[p.period],
            "period_end": p.period_end, "start": period_start(p.period, p.period_end),
            "status": p.status, "error": p.error, "requested_at": p.requested_at,
            "finished_at": p.finished_at}


def my_packs(session: Session, actor: Actor, limit: int = 20) -> list[dict[str, Any]]:
    """The actor's packs, newest first."""
    from locmap.models import Pilot

    names = dict(session.execute(select(Pilot.id, Pilot.name)).tuples().all())
    rows = session.scalars(select(BoardPack).where(BoardPack.user_id == actor.user_id)
                           .order_by(BoardPack.id.desc()).limit(limit))
    return [_pack_dict(p, names) for p in rows]


def pack_file(session: Session, actor: Actor, pack_id: int,
              fmt: str) -> tuple[bytes, str, str]:
    """A built pack's PDF or XLSX (its requester's only), audited as an export."""
    if fmt not in FORMATS:
        raise InvalidData(f"Format must be one of {', '.join(FORMATS)}.")
    pack = session.get(BoardPack, pack_id)
    if pack is None or pack.user_id != actor.user_id:
        raise NotFound("No such pack.")
    if pack.pilot_id is not None:
        require(actor, pack.pilot_id, "export.run")
    data = pack.pdf if fmt == "pdf" else pack.xlsx
    if pack.status != "done" or data is None:
        raise NotFound("This pack is not ready.")
    audit.record(session, actor, "export", "board_pack", pack.id, pilot_id=pack.pilot_id,
                 detail={"format": fmt, "period": pack.period,
                         "period_end": pack.period_end.isoformat()})
    name = (f"board-pack-{pack.period}-{pack.period_end.isoformat()}"
            f"{f'-pilot{pack.pilot_id}' if pack.pilot_id else ''}.{fmt}")
    return data, FORMATS[fmt], name


def submit_pack(db: Database, pack_id: int, *, threshold: int,
                inline: bool = False) -> None:
    """Build a recorded pack now (``inline``: tests) or queue it for ``locmap worker``.

    If the queue cannot be reached the pack is marked failed at once, with the reason.
    """
    if inline:
        with db.session() as s:
            run_pack(s, pack_id, threshold=threshold)
        return
    from locmap.jobs import defer_board_pack, defer_or_fail

    def fail(error: str) -> None:
        with db.session() as s:
            pack = s.get(BoardPack, pack_id)
            if pack is not None:
                pack.status, pack.finished_at = "failed", clock.now()
                pack.error = f"The pack could not be queued ({error}). Try again later."

    defer_or_fail(f"board pack {pack_id}", lambda: defer_board_pack(db, pack_id), fail)
