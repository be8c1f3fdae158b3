"""Context conferences and MACE meetings, their agendas and actions, and the high-risk
contexts log (issue 19).

A meeting has a date, a chair and attendance by agency, and an agenda of **items per
context** written under the VOLT headings (victim, offender, location, theme) with
pseudonyms only — text naming a person of the network by their recorded name is refused.
Each item records what was shared (restricted: the owning team's, left out of the partner
minutes), the decision and **actions**: on the context's draft plan when it has one
(:func:`locmap.services.plans.add_action`), else in the panel's own action log. A decision
may open the context on the **high-risk log** (open since, why, latest decision; closed
with a reason). A new meeting's agenda is prefilled with the open log entries, contexts
with overdue actions and Level 2 referrals screened since the previous meeting.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment.review_rules import action_overdue
from locmap.errors import Conflict, InvalidData, NotFound
from locmap.io.report_pdf import render_pdf
from locmap.models import Action, Agency, Assessment, Identity, Person, Pilot, Place, Plan
from locmap.models.pathway import (
    AgendaItem,
    ContextMeeting,
    ContextReferral,
    HighRiskContext,
    MeetingAction,
    MeetingAttendance,
)
from locmap.services import audit, lifecycle, plans
from locmap.services.permissions import Actor, can, require
from locmap.services.referrals import text_field
from locmap.services.versioning import check_version
from locmap.vocab import ACTION_STATUSES, PLAN_CATEGORIES

__all__ = [
    "VOLT", "list_meetings", "create_meeting", "meeting_view", "set_attendance", "add_item",
    "update_item", "add_action", "set_action_status", "open_log_entry", "close_log_entry",
    "high_risk_log", "minutes_data", "minutes_pdf",
]

# The VOLT headings as the pages and minutes show them: people by their role in the harm,
# never a label on a child.
VOLT = (("victim", "V: young people harmed or at risk (pseudonyms)"),
        ("offender", "O: people causing harm (pseudonyms)"),
        ("location", "L: the location and its features"),
        ("theme", "T: themes and patterns"))
_VOLT_KEYS = tuple(k for k, _ in VOLT)


def _meeting(session: Session, actor: Actor, pilot_id: int, meeting_id: int,
             permission: str = "meeting.view") -> ContextMeeting:
    require(actor, pilot_id, permission)
    m = session.get(ContextMeeting, meeting_id)
    if m is None or m.pilot_id != pilot_id:
        raise NotFound("No such meeting in this pilot.")
    return m


def _item(session: Session, actor: Actor, pilot_id: int, item_id: int,
          permission: str = "meeting.edit") -> AgendaItem:
    require(actor, pilot_id, permission)
    item = session.get(AgendaItem, item_id)
    if item is None or item.pilot_id != pilot_id:
        raise NotFound("No such agenda item in this pilot.")
    return item


def _no_names(session: Session, pilot_id: int, texts: dict[str, str]) -> None:
    """Refuse text that names a person of the pilot's network by their recorded name."""
    written = {k: v.casefold() for k, v in texts.items() if v}
    if not written:
        return
    names = session.scalars(select(Identity.name).join(Person, Person.id == Identity.person_id)
                            .where(Person.pilot_id == pilot_id))
    for name in names:
        folded = (name or "").strip().casefold()
        if len(folded) < 3:
            continue
        for key, text in written.items():
            if folded in text:
                raise InvalidData("Use pseudonyms only: this text names a person of the "
                                  "network.", details={"field": key})


def _context_of(session: Session, pilot_id: int, data: dict[str, Any]) -> tuple[int | None,
                                                                             str]:
    place_id = data.get("place_id") or None
    if place_id is not None:
        place = session.get(Place, place_id) if isinstance(place_id, int) else None
        if place is None or place.pilot_id != pilot_id or place.deleted_at is not None:
            raise InvalidData("No such place in this pilot.", details={"field": "place_id"})
        return place.id, place.name
    name = text_field(data, "context_name", limit=200,
                 required="Choose a place or name the context.")
    return None, name


def _key(place_id: int | None, name: str) -> tuple[str, Any]:
    return ("place", place_id) if place_id is not None else ("name", name.casefold())


def _action_rows(session: Session, pilot_id: int) -> list[tuple[MeetingAction, AgendaItem,
                                                                Action | None]]:
    rows = session.execute(
        select(MeetingAction, AgendaItem, Action)
        .join(AgendaItem, AgendaItem.id == MeetingAction.item_id)
        .outerjoin(Action, Action.id == MeetingAction.action_id)
        .where(MeetingAction.pilot_id == pilot_id).order_by(MeetingAction.id)).all()
    return [(m, i, a) for m, i, a in rows]


def _status(m: MeetingAction, a: Action | None) -> tuple[str, dt.date | None]:
    """A plan action's own status and due date rule; a standalone one's are its own."""
    return (a.status, a.due_on) if a is not None else (m.status, m.due_on)


def _prefill(session: Session, pilot_id: int, meeting: ContextMeeting) -> list[AgendaItem]:
    previous = session.scalar(select(func.max(ContextMeeting.held_on)).where(
        ContextMeeting.pilot_id == pilot_id, ContextMeeting.id != meeting.id,
        ContextMeeting.held_on < meeting.held_on))
    items: dict[tuple[str, Any], AgendaItem] = {}

    def add(place_id: int | None, name: str, source: str, **kw: Any) -> None:
        key = _key(place_id, name)
        if key not in items:
            items[key] = AgendaItem(pilot_id=pilot_id, meeting_id=meeting.id,
                                    position=len(items), place_id=place_id,
                                    context_name=name, source=source, **kw)
    for entry in session.scalars(select(HighRiskContext).where(
            HighRiskContext.pilot_id == pilot_id, HighRiskContext.closed_on.is_(None),
            HighRiskContext.opened_on <= meeting.held_on).order_by(HighRiskContext.opened_on)):
        add(entry.place_id, entry.context_name, "log", log_entry_id=entry.id)
    for m, item, a in _action_rows(session, pilot_id):
        status, due = _status(m, a)
        if item.meeting_id != meeting.id and action_overdue(status, due, meeting.held_on):
            add(item.place_id, item.context_name, "overdue")
    on_agenda = set(session.scalars(select(AgendaItem.referral_id).where(
        AgendaItem.pilot_id == pilot_id, AgendaItem.referral_id.is_not(None))))
    since = (dt.datetime.combine(previous + dt.timedelta(days=1), dt.time(), clock.LOCAL_TZ)
             if previous else None)
    until = dt.datetime.combine(meeting.held_on + dt.timedelta(days=1), dt.time(),
                                clock.LOCAL_TZ)
    q = select(ContextReferral, Place.name).outerjoin(Place, Place.id
                                                      == ContextReferral.place_id).where(
        ContextReferral.pilot_id == pilot_id, ContextReferral.outcome == "level_2",
        ContextReferral.screened_at < until)
    if since is not None:
        q = q.where(ContextReferral.screened_at >= since)
    for r, place_name in session.execute(q.order_by(ContextReferral.screened_at)):
        if r.id not in on_agenda:
            add(r.place_id, place_name or r.context_name, "referral", referral_id=r.id)
    session.add_all(items.values())
    return list(items.values())


def create_meeting(session: Session, actor: Actor, pilot_id: int,
                   data: dict[str, Any]) -> ContextMeeting:
    """A meeting with its date, chair and attendance; the agenda is prefilled unless
    ``prefill`` is false.
    """
    require(actor, pilot_id, "meeting.edit")
    held_on = plans.parse_date(data.get("held_on"), "held_on")
    if held_on is None:
        raise InvalidData("A meeting needs its date.", details={"field": "held_on"})
    title = text_field(data, "title", limit=200) or "MACE meeting"
    chair = text_field(data, "chair", limit=200)
    m = ContextMeeting(pilot_id=pilot_id, held_on=held_on, title=title, chair=chair,
                       created_by_id=actor.user_id)
    session.add(m)
    session.flush()
    for row in data.get("attendance") or []:
        if not isinstance(row, dict):
            raise InvalidData("attendance is a list of {agency_id, attendees}.")
        _attend(session, pilot_id, m, row.get("agency_id"), row.get("attendees", 1))
    prefilled = _prefill(session, pilot_id, m) if data.get("prefill", True) else []
    session.flush()
    audit.record(session, actor, "create", "context_meeting", m.id, pilot_id=pilot_id,
                 detail={"held_on": held_on.isoformat(), "prefilled": len(prefilled)})
    return m


def _attend(session: Session, pilot_id: int, m: ContextMeeting, agency_id: Any,
            attendees: Any) -> None:
    if not isinstance(agency_id, int) or session.get(Agency, agency_id) is None:
        raise InvalidData("No such agency.", details={"field": "agency_id"})
    if isinstance(attendees, bool) or not isinstance(attendees, int) or not 0 <= attendees <= 100:
        raise InvalidData("attendees is a whole number from 0 to 100.",
                          details={"field": "attendees"})
    row = session.scalar(select(MeetingAttendance).where(
        MeetingAttendance.meeting_id == m.id, MeetingAttendance.agency_id == agency_id))
    if attendees == 0:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(MeetingAttendance(pilot_id=pilot_id, meeting_id=m.id, agency_id=agency_id,
                                      attendees=attendees))
    else:
        row.attendees = attendees


def set_attendance(session: Session, actor: Actor, pilot_id: int, meeting_id: int,
                   agency_id: Any, attendees: Any) -> None:
    """How many of an agency attended (0 removes the agency)."""
    m = _meeting(session, actor, pilot_id, meeting_id, "meeting.edit")
    _attend(session, pilot_id, m, agency_id, attendees)
    session.flush()
    audit.record(session, actor, "update", "context_meeting", m.id, pilot_id=pilot_id,
                 detail={"attendance": agency_id})


def list_meetings(session: Session, actor: Actor, pilot_id: int) -> list[dict[str, Any]]:
    require(actor, pilot_id, "meeting.view")
    counts = {k: v for k, v in session.execute(select(AgendaItem.meeting_id, func.count())
                                  .where(AgendaItem.pilot_id == pilot_id)
                                  .group_by(AgendaItem.meeting_id))}
    return [{"id": m.id, "held_on": m.held_on.isoformat(), "title": m.title, "chair": m.chair,
             "items": counts.get(m.id, 0)}
            for m in session.scalars(select(ContextMeeting).where(
                ContextMeeting.pilot_id == pilot_id).order_by(ContextMeeting.held_on.desc(),
                                                              ContextMeeting.id.desc()))]


def _draft_plan(session: Session, place_id: int | None) -> Plan | None:
    if place_id is None:
        return None
    return session.scalar(select(Plan).join(Assessment, Assessment.id == Plan.assessment_id)
                          .where(Assessment.place_id == place_id, Plan.status == lifecycle.DRAFT)
                          .order_by(Plan.id.desc()).limit(1))


def add_item(session: Session, actor: Actor, pilot_id: int, meeting_id: int,
             data: dict[str, Any]) -> AgendaItem:
    """Put a context on the agenda (a place of the pilot, or a named context)."""
    m = _meeting(session, actor, pilot_id, meeting_id, "meeting.edit")
    place_id, name = _context_of(session, pilot_id, data)
    texts = {k: text_field(data, k) for k in _VOLT_KEYS}
    _no_names(session, pilot_id, texts)
    position = (session.scalar(select(func.max(AgendaItem.position)).where(
        AgendaItem.meeting_id == m.id)) or 0) + 1
    item = AgendaItem(pilot_id=pilot_id, meeting_id=m.id, position=position,
                      place_id=place_id, context_name=name, source="added", **texts)
    session.add(item)
    session.flush()
    audit.record(session, actor, "create", "agenda_item", item.id, pilot_id=pilot_id,
                 detail={"meeting_id": m.id, "place_id": place_id})
    return item


def update_item(session: Session, actor: Actor, pilot_id: int, item_id: int,
                data: dict[str, Any]) -> AgendaItem:
    """Write an item's VOLT, what was shared and the decision (``version`` required); the
    decision is the latest decision of the item's open log entry.
    """
    item = _item(session, actor, pilot_id, item_id)
    check_version(session, "agenda item", item, data.get("version"))
    fields = {k: text_field(data, k) for k in (*_VOLT_KEYS, "shared", "decision") if k in data}
    _no_names(session, pilot_id, fields)
    for k, v in fields.items():
        setattr(item, k, v)
    if "decision" in fields and item.log_entry_id:
        entry = session.get(HighRiskContext, item.log_entry_id)
        if entry is not None and entry.closed_on is None and fields["decision"]:
            entry.latest_decision = fields["decision"]
    item.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "update", "agenda_item", item.id, pilot_id=pilot_id,
                 detail={"changed": sorted(fields)})
    return item


def add_action(session: Session, actor: Actor, pilot_id: int, item_id: int,
               data: dict[str, Any]) -> MeetingAction:
    """An action the meeting agreed on an item: on the context's draft plan when it has
    one (``category`` needed then), else in the panel's action log.
    """
    item = _item(session, actor, pilot_id, item_id)
    description = text_field(data, "description", required="An action needs a description.")
    lead = text_field(data, "lead", limit=200)
    due_on = plans.parse_date(data.get("due_on"), "due_on")
    owner = data.get("owner_agency_id") or None
    if owner is not None and (not isinstance(owner, int) or session.get(Agency, owner) is None):
        raise InvalidData("No such owner agency.", details={"field": "owner_agency_id"})
    plan = _draft_plan(session, item.place_id)
    action_id = None
    if plan is not None:
        category = data.get("category") or "targeted_interventions"
        if category not in PLAN_CATEGORIES:
            raise InvalidData(f"category must be one of {', '.join(PLAN_CATEGORIES)}.",
                              details={"field": "category"})
        action_id = plans.add_action(session, actor, plan.id, {
            "description": description, "category": category, "owner_agency_id": owner,
            "lead": lead, "due_on": due_on}, pilot_id=pilot_id).id
    row = MeetingAction(pilot_id=pilot_id, item_id=item.id, action_id=action_id,
                        description=description, owner_agency_id=owner, lead=lead,
                        due_on=due_on)
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", "meeting_action", row.id, pilot_id=pilot_id,
                 detail={"item_id": item.id, "plan_action_id": action_id})
    return row


def set_action_status(session: Session, actor: Actor, pilot_id: int, action_id: int,
                      status: Any, *, version: Any) -> MeetingAction:
    """Move a panel action on (planned, in progress, done, dropped); one on a plan moves
    through the plan (its status is the plan action's).
    """
    require(actor, pilot_id, "meeting.edit")
    row = session.get(MeetingAction, action_id)
    if row is None or row.pilot_id != pilot_id:
        raise NotFound("No such action in this pilot.")
    if status not in ACTION_STATUSES:
        raise InvalidData(f"status must be one of {', '.join(ACTION_STATUSES)}.",
                          details={"field": "status"})
    if row.action_id is not None:
        a = session.get_one(Action, row.action_id)
        plans.update_action(session, actor, a.id, {"status": status}, version=a.version,
                            pilot_id=pilot_id)
        return row
    check_version(session, "action", row, version)
    row.status = status
    session.flush()
    audit.record(session, actor, "update", "meeting_action", row.id, pilot_id=pilot_id,
                 detail={"status": status})
    return row


def open_log_entry(session: Session, actor: Actor, pilot_id: int, item_id: int,
                   reason: Any) -> HighRiskContext:
    """Open the item's context on the high-risk log (since the meeting's date)."""
    item = _item(session, actor, pilot_id, item_id)
    why = text_field({"reason": reason}, "reason", required="Say why the context is high risk.")
    _no_names(session, pilot_id, {"reason": why})
    open_entry = session.scalar(select(HighRiskContext).where(
        HighRiskContext.pilot_id == pilot_id, HighRiskContext.closed_on.is_(None),
        HighRiskContext.place_id == item.place_id if item.place_id is not None
        else func.lower(HighRiskContext.context_name) == item.context_name.casefold()))
    if open_entry is not None:
        raise Conflict("This context is open on the high-risk log already.",
                       details={"entry_id": open_entry.id})
    meeting = session.get_one(ContextMeeting, item.meeting_id)
    entry = HighRiskContext(pilot_id=pilot_id, place_id=item.place_id,
                            context_name=item.context_name, opened_on=meeting.held_on,
                            reason=why, latest_decision=item.decision,
                            opened_at_meeting_id=meeting.id)
    session.add(entry)
    session.flush()
    item.log_entry_id = entry.id
    session.flush()
    audit.record(session, actor, "create", "high_risk_context", entry.id, pilot_id=pilot_id,
                 detail={"item_id": item.id})
    return entry


def close_log_entry(session: Session, actor: Actor, pilot_id: int, entry_id: int,
                    data: dict[str, Any]) -> HighRiskContext:
    require(actor, pilot_id, "meeting.edit")
    entry = session.get(HighRiskContext, entry_id)
    if entry is None or entry.pilot_id != pilot_id:
        raise NotFound("No such log entry in this pilot.")
    check_version(session, "log entry", entry, data.get("version"))
    if entry.closed_on is not None:
        raise Conflict("This entry is closed already.")
    reason = text_field(data, "reason", required="Say why the context is closed on the log.")
    _no_names(session, pilot_id, {"reason": reason})
    closed_on = plans.parse_date(data.get("closed_on"), "closed_on") or clock.today()
    if closed_on < entry.opened_on:
        raise InvalidData("A log entry closes on or after the day it opened.",
                          details={"field": "closed_on"})
    entry.closed_on, entry.close_reason = closed_on, reason
    session.flush()
    audit.record(session, actor, "update", "high_risk_context", entry.id, pilot_id=pilot_id,
                 detail={"closed_on": closed_on.isoformat()})
    return entry


def _entry_dict(e: HighRiskContext) -> dict[str, Any]:
    return {"id": e.id, "place_id": e.place_id, "context": e.context_name,
            "opened_on": e.opened_on.isoformat(), "reason": e.reason,
            "latest_decision": e.latest_decision,
            "closed_on": e.closed_on.isoformat() if e.closed_on else None,
            "close_reason": e.close_reason, "opened_at_meeting_id": e.opened_at_meeting_id,
            "version": e.version}


def high_risk_log(session: Session, actor: Actor, pilot_id: int, *,
                  include_closed: bool = True) -> list[dict[str, Any]]:
    """The log, open entries first (oldest first), then the closed ones."""
    require(actor, pilot_id, "meeting.view")
    q = select(HighRiskContext).where(HighRiskContext.pilot_id == pilot_id)
    if not include_closed:
        q = q.where(HighRiskContext.closed_on.is_(None))
    rows = session.scalars(q.order_by(HighRiskContext.closed_on.is_not(None),
                                      HighRiskContext.opened_on, HighRiskContext.id))
    return [_entry_dict(e) for e in rows]


def meeting_view(session: Session, actor: Actor, pilot_id: int, meeting_id: int, *,
                 partner: bool | None = None) -> dict[str, Any]:
    """A meeting with attendance, items, actions (with their status and whether they are
    overdue at the meeting's date) and the earlier actions on each context still open.
    What was shared is the owning team's; ``partner`` leaves it out for anyone.
    """
    m = _meeting(session, actor, pilot_id, meeting_id)
    restricted = can(actor, pilot_id, "evidence.restricted_text") and not partner
    agencies = {k: v for k, v in session.execute(select(Agency.id, Agency.name))}
    attendance = [{"agency_id": a.agency_id, "agency": agencies.get(a.agency_id, ""),
                   "attendees": a.attendees}
                  for a in session.scalars(select(MeetingAttendance).where(
                      MeetingAttendance.meeting_id == m.id).order_by(MeetingAttendance.id))]
    actions = _action_rows(session, pilot_id)
    items = list(session.scalars(select(AgendaItem).where(AgendaItem.meeting_id == m.id)
                                 .order_by(AgendaItem.position, AgendaItem.id)))
    log = {e.id: e for e in session.scalars(select(HighRiskContext).where(
        HighRiskContext.pilot_id == pilot_id))}
    out_items = []
    for it in items:
        key = _key(it.place_id, it.context_name)

        def act(row: MeetingAction, a: Action | None) -> dict[str, Any]:
            status, due = _status(row, a)
            return {"id": row.id, "description": row.description,
                    "owner_agency": agencies.get(row.owner_agency_id or 0),
                    "lead": row.lead, "due_on": due.isoformat() if due else None,
                    "status": status, "on_plan": row.action_id is not None,
                    "plan_id": a.plan_id if a is not None else None,
                    "overdue": action_overdue(status, due, m.held_on), "version": row.version}
        own = [act(r, a) for r, i, a in actions if i.id == it.id]
        earlier = [act(r, a) | {"meeting_id": i.meeting_id} for r, i, a in actions
                   if i.meeting_id != m.id and _key(i.place_id, i.context_name) == key
                   and _status(r, a)[0] not in ("done", "dropped")]
        entry = log.get(it.log_entry_id or 0)
        out_items.append({
            "id": it.id, "position": it.position, "place_id": it.place_id,
            "context": it.context_name, "source": it.source, "referral_id": it.referral_id,
            **{k: getattr(it, k) for k in _VOLT_KEYS},
            "shared": it.shared if restricted else None, "decision": it.decision,
            "actions": own, "earlier_actions": earlier,
            "log_entry": _entry_dict(entry) if entry else None, "version": it.version})
    if restricted:
        audit.record(session, actor, "read", "context_meeting", m.id, pilot_id=pilot_id,
                     personal_data=True)
    return {"id": m.id, "pilot_id": pilot_id, "held_on": m.held_on.isoformat(),
            "title": m.title, "chair": m.chair, "version": m.version,
            "attendance": attendance, "items": out_items, "restricted": restricted}


def minutes_data(session: Session, actor: Actor, pilot_id: int, meeting_id: int, *,
                 partner: bool) -> dict[str, Any]:
    """What the minutes PDF prints: the meeting, the items and the open high-risk log."""
    view = meeting_view(session, actor, pilot_id, meeting_id, partner=partner)
    pilot = session.get_one(Pilot, pilot_id)
    audit.record(session, actor, "export", "context_meeting", meeting_id, pilot_id=pilot_id,
                 personal_data=view["restricted"], detail={"partner_version": partner})
    return {**view, "pilot": pilot.name, "partner": not view["restricted"],
            "volt": VOLT, "generated_at": clock.now(),
            "log": high_risk_log(session, actor, pilot_id, include_closed=False)}


def minutes_pdf(session: Session, actor: Actor, pilot_id: int, meeting_id: int, *,
                partner: bool) -> tuple[bytes, str]:
    """The minutes as PDF and a file name; partners always get the partner version."""
    data = minutes_data(session, actor, pilot_id, meeting_id, partner=partner)
    name = f"minutes-{data['held_on']}{'-partner' if data['partner'] else ''}.pdf"
    return render_pdf(data, template="minutes.html"), name
