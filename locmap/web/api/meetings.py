"""Context conferences / MACE meetings, their agenda items and actions, and the high-risk
contexts log.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from locmap.services import meetings
from locmap.vocab import ACTION_STATUSES, PLAN_CATEGORIES
from locmap.web.api import api
from locmap.web.api.schemas import Date
from locmap.web.context import actor, db_session


class MeetingRowSchema(Schema):
    id = fields.Integer()
    held_on = Date()
    title = fields.String()
    chair = fields.String()
    items = fields.Integer(metadata={"description": "How many agenda items it has"})


class MeetingAttendanceOutSchema(Schema):
    agency_id = fields.Integer()
    agency = fields.String()
    attendees = fields.Integer()


class MeetingActionOutSchema(Schema):
    id = fields.Integer()
    description = fields.String()
    owner_agency = fields.String(allow_none=True)
    lead = fields.String(allow_none=True)
    due_on = Date(allow_none=True)
    status = fields.String()
    on_plan = fields.Boolean(metadata={"description": "Put on the context's draft plan"})
    plan_id = fields.Integer(allow_none=True)
    overdue = fields.Boolean(metadata={"description": "Overdue at the meeting's date"})
    version = fields.Integer()
    meeting_id = fields.Integer(metadata={
        "description": "Earlier actions only: the meeting that agreed it"})


class LogEntrySchema(Schema):
    id = fields.Integer()
    place_id = fields.Integer(allow_none=True)
    context = fields.String()
    opened_on = Date()
    reason = fields.String()
    latest_decision = fields.String()
    closed_on = Date(allow_none=True)
    close_reason = fields.String(allow_none=True)
    opened_at_meeting_id = fields.Integer(allow_none=True)
    version = fields.Integer()


class MeetingItemOutSchema(Schema):
    id = fields.Integer()
    position = fields.Integer()
    place_id = fields.Integer(allow_none=True)
    context = fields.String()
    source = fields.String()
    referral_id = fields.Integer(allow_none=True)
    victim = fields.String(metadata={"description": "VOLT, pseudonyms only"})
    offender = fields.String()
    location = fields.String()
    theme = fields.String()
    shared = fields.String(allow_none=True, metadata={
        "description": "What partners shared at the table: owning team only (else null)"})
    decision = fields.String()
    actions = fields.List(fields.Nested(MeetingActionOutSchema))
    earlier_actions = fields.List(fields.Nested(MeetingActionOutSchema), metadata={
        "description": "Actions on the same context from earlier meetings, still open"})
    log_entry = fields.Nested(LogEntrySchema, allow_none=True)
    version = fields.Integer()


class MeetingSchema(Schema):
    id = fields.Integer()
    pilot_id = fields.Integer()
    held_on = Date()
    title = fields.String()
    chair = fields.String()
    version = fields.Integer()
    attendance = fields.List(fields.Nested(MeetingAttendanceOutSchema))
    items = fields.List(fields.Nested(MeetingItemOutSchema))
    restricted = fields.Boolean(metadata={
        "description": "Whether the answer holds the owning team's restricted text"})


class SavedSchema(Schema):
    id = fields.Integer()
    version = fields.Integer()


class SavedActionSchema(SavedSchema):
    action_id = fields.Integer(allow_none=True, metadata={
        "description": "The plan action it made, if the context has a draft plan"})


_P = "/pilots/<int:pilot_id>"
_TEXT = validate.Length(max=10_000)


class MeetingAttendanceSchema(Schema):
    agency_id = fields.Integer(required=True, strict=True)
    attendees = fields.Integer(required=True, strict=True, validate=validate.Range(0, 100))


class NewMeetingSchema(Schema):
    held_on = Date(required=True)
    title = fields.String(validate=validate.Length(max=200))
    chair = fields.String(validate=validate.Length(max=200))
    attendance = fields.List(fields.Nested(MeetingAttendanceSchema))
    prefill = fields.Boolean(load_default=True, metadata={
        "description": "Prefill the agenda with open high-risk log entries, contexts with "
                       "overdue actions and Level 2 referrals since the previous meeting"})


class MeetingNewItemSchema(Schema):
    place_id = fields.Integer(strict=True, allow_none=True)
    context_name = fields.String(validate=validate.Length(max=200))
    victim = fields.String(validate=_TEXT)
    offender = fields.String(validate=_TEXT)
    location = fields.String(validate=_TEXT)
    theme = fields.String(validate=_TEXT)


class MeetingItemPatchSchema(Schema):
    version = fields.Integer(required=True, strict=True,
                             metadata={"description": "The version you edited; stale → 409."})
    victim = fields.String(validate=_TEXT, metadata={"description": "VOLT, pseudonyms only"})
    offender = fields.String(validate=_TEXT)
    location = fields.String(validate=_TEXT)
    theme = fields.String(validate=_TEXT)
    shared = fields.String(validate=_TEXT, metadata={"description": "Restricted: the owning "
                                                     "team's, not in the partner minutes"})
    decision = fields.String(validate=_TEXT)


class MeetingNewActionSchema(Schema):
    description = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    category = fields.String(validate=validate.OneOf(PLAN_CATEGORIES), metadata={
        "description": "The plan category when it lands on a draft plan"})
    owner_agency_id = fields.Integer(strict=True, allow_none=True)
    lead = fields.String(validate=validate.Length(max=200))
    due_on = Date(allow_none=True)


class MeetingActionPatchSchema(Schema):
    version = fields.Integer(required=True, strict=True)
    status = fields.String(required=True, validate=validate.OneOf(ACTION_STATUSES))


class OpenLogSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=10_000))


class CloseLogSchema(Schema):
    version = fields.Integer(required=True, strict=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    closed_on = Date(allow_none=True, metadata={"description": "blank: today"})


@api.route(f"{_P}/meetings", summary="The pilot's context meetings", tag="meetings",
           permission="meeting.view", response=MeetingRowSchema, many=True)
def list_meetings(pilot_id: int) -> Any:
    return meetings.list_meetings(db_session(), actor(), pilot_id)


@api.route(f"{_P}/meetings", "POST", body=NewMeetingSchema, status=201,
           summary="Create a meeting (agenda prefilled)", tag="meetings",
           permission="meeting.edit", response=MeetingSchema)
def create_meeting(pilot_id: int, body: dict[str, Any]) -> Any:
    s, a = db_session(), actor()
    m = meetings.create_meeting(s, a, pilot_id, body)
    return meetings.meeting_view(s, a, pilot_id, m.id), 201


@api.route(f"{_P}/meetings/<int:meeting_id>", summary="One meeting with its agenda",
           tag="meetings", permission="meeting.view", response=MeetingSchema)
def get_meeting(pilot_id: int, meeting_id: int) -> Any:
    """What was shared is null for partners."""
    return meetings.meeting_view(db_session(), actor(), pilot_id, meeting_id)


@api.route(f"{_P}/meetings/<int:meeting_id>/attendance", "PUT", body=MeetingAttendanceSchema,
           summary="How many of an agency attended (0 removes it)", tag="meetings",
           permission="meeting.edit", response=MeetingSchema)
def put_attendance(pilot_id: int, meeting_id: int, body: dict[str, Any]) -> Any:
    s, a = db_session(), actor()
    meetings.set_attendance(s, a, pilot_id, meeting_id, body["agency_id"], body["attendees"])
    return meetings.meeting_view(s, a, pilot_id, meeting_id)


@api.route(f"{_P}/meetings/<int:meeting_id>/items", "POST", body=MeetingNewItemSchema, status=201,
           summary="Put a context on the agenda", tag="meetings", permission="meeting.edit",
           response=SavedSchema)
def add_meeting_item(pilot_id: int, meeting_id: int, body: dict[str, Any]) -> Any:
    s, a = db_session(), actor()
    item = meetings.add_item(s, a, pilot_id, meeting_id, body)
    return {"id": item.id, "version": item.version}, 201


@api.route(f"{_P}/meeting-items/<int:item_id>", "PATCH", body=MeetingItemPatchSchema,
           summary="Write an item's VOLT, what was shared and the decision", tag="meetings",
           permission="meeting.edit", response=SavedSchema)
def patch_meeting_item(pilot_id: int, item_id: int, body: dict[str, Any]) -> Any:
    """Text naming a person of the network (not by pseudonym) answers 422."""
    item = meetings.update_item(db_session(), actor(), pilot_id, item_id, body)
    return {"id": item.id, "version": item.version}


@api.route(f"{_P}/meeting-items/<int:item_id>/actions", "POST", body=MeetingNewActionSchema,
           status=201, summary="An action the meeting agreed", tag="meetings",
           permission="meeting.edit", response=SavedActionSchema)
def add_meeting_action(pilot_id: int, item_id: int, body: dict[str, Any]) -> Any:
    """On the context's draft plan when it has one, else in the panel's action log."""
    row = meetings.add_action(db_session(), actor(), pilot_id, item_id, body)
    return {"id": row.id, "action_id": row.action_id, "version": row.version}, 201


@api.route(f"{_P}/meeting-actions/<int:meeting_action_id>", "PATCH", body=MeetingActionPatchSchema,
           summary="Move a meeting's action on", tag="meetings", permission="meeting.edit",
           response=SavedSchema)
def patch_meeting_action(pilot_id: int, meeting_action_id: int, body: dict[str, Any]) -> Any:
    row = meetings.set_action_status(db_session(), actor(), pilot_id, meeting_action_id,
                                     body["status"], version=body["version"])
    return {"id": row.id, "version": row.version}


@api.route(f"{_P}/meeting-items/<int:item_id>/high-risk-log", "POST", body=OpenLogSchema,
           status=201, summary="Open the item's context on the high-risk log",
           tag="meetings", permission="meeting.edit", response=SavedSchema)
def open_high_risk(pilot_id: int, item_id: int, body: dict[str, Any]) -> Any:
    entry = meetings.open_log_entry(db_session(), actor(), pilot_id, item_id, body["reason"])
    return {"id": entry.id, "version": entry.version}, 201


@api.route(f"{_P}/high-risk-log", summary="The high-risk contexts log", tag="meetings",
           permission="meeting.view", response=LogEntrySchema, many=True)
def high_risk_log(pilot_id: int) -> Any:
    return meetings.high_risk_log(db_session(), actor(), pilot_id)


@api.route(f"{_P}/high-risk-log/<int:entry_id>/close", "POST", body=CloseLogSchema,
           summary="Close a context on the log, with the reason", tag="meetings",
           permission="meeting.edit", response=LogEntrySchema, many=True)
def close_high_risk(pilot_id: int, entry_id: int, body: dict[str, Any]) -> Any:
    s, a = db_session(), actor()
    meetings.close_log_entry(s, a, pilot_id, entry_id, body)
    return meetings.high_risk_log(s, a, pilot_id)
