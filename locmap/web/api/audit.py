"""The audit trail for auditors: search, who has seen a person, and the chain check."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from locmap.services import audit
from locmap.web.api import api
from locmap.web.api.schemas import Date
from locmap.web.context import actor, db_session

_ACTIONS = [a for a, _ in audit.ACTION_CHOICES]


class AuditQuerySchema(Schema):
    user = fields.String(load_default=None, validate=validate.Length(max=254),
                         metadata={"description": "Email (or part of it) or user id."})
    pilot_id = fields.Integer(load_default=None, validate=validate.Range(1, 2**31 - 1))
    entity = fields.String(load_default=None, validate=validate.Length(max=60),
                           metadata={"description": "Record type (person, incident, …)."})
    entity_id = fields.String(load_default=None, validate=validate.Length(max=60))
    action = fields.String(load_default=None, validate=validate.OneOf(_ACTIONS))
    date_from = Date(load_default=None)
    date_to = Date(load_default=None)
    before_id = fields.Integer(load_default=None, validate=validate.Range(1, 2**63 - 1),
                               metadata={"description": "Continue after this id (keyset)."})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, audit.MAX_PAGE))


class AuditEventSchema(Schema):
    id = fields.Integer(required=True)
    at = fields.String(required=True)
    user_id = fields.Integer(allow_none=True)
    user_email = fields.String(allow_none=True)
    action = fields.String(required=True)
    entity = fields.String(required=True)
    entity_id = fields.String(allow_none=True)
    pilot_id = fields.Integer(allow_none=True)
    personal_data = fields.Boolean(required=True)
    detail = fields.Dict(required=True, metadata={
        "description": "Numbers, flags, ids and labels only; other text is withheld."})
    remote_addr = fields.String(allow_none=True)
    hash = fields.String(required=True)
    scope = fields.String(metadata={"description": "who-has-seen: this person or whole pilot"})


class AuditPageSchema(Schema):
    items = fields.List(fields.Nested(AuditEventSchema), required=True)
    next_before_id = fields.Integer(allow_none=True, required=True)
    limit = fields.Integer(required=True)


class WhoQuerySchema(Schema):
    pilot_id = fields.Integer(required=True, validate=validate.Range(1, 2**31 - 1))
    pseudonym = fields.String(required=True, validate=validate.Length(1, 20))


class WhoSchema(Schema):
    pilot_id = fields.Integer(required=True)
    person_id = fields.Integer(required=True)
    pseudonym = fields.String(required=True)
    identity_reads = fields.Integer(required=True)
    readers = fields.List(fields.String(), required=True)
    items = fields.List(fields.Nested(AuditEventSchema), required=True)
    truncated = fields.Boolean(required=True)


class ChainSchema(Schema):
    ok = fields.Boolean(required=True)
    checked = fields.Integer(required=True)
    head_id = fields.Integer(allow_none=True)
    head_hash = fields.String(allow_none=True)
    broken_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    message = fields.String(required=True)


@api.route("/audit/events", summary="Search the audit trail (auditors)", tag="audit",
           query=AuditQuerySchema, response=AuditPageSchema, auditor=True)
def audit_events(query: dict[str, Any]) -> Any:
    """Newest first; ``next_before_id`` gives the next page. Pseudonyms and record ids
    only: an event's detail keeps numbers, flags, ids and labels.
    """
    before, limit = query.pop("before_id"), query.pop("limit")
    return (audit.search_events(db_session(), actor(), audit.AuditFilter(**query),
                                       before_id=before, limit=limit))


@api.route("/audit/who-has-seen", summary="Every access to one person (auditors)",
           tag="audit", query=WhoQuerySchema, response=WhoSchema, auditor=True)
def audit_who_has_seen(query: dict[str, Any]) -> Any:
    """Reads of the person's identity and record, and the pilot-wide reads that
    included them; audited.
    """
    return (audit.who_has_seen(db_session(), actor(), query["pilot_id"],
                                      query["pseudonym"]))


@api.route("/audit/verify", summary="Check the audit trail's hash chain (auditors)",
           tag="audit", response=ChainSchema, auditor=True)
def audit_verify() -> Any:
    """Recomputes every event's hash; reports the first broken link."""
    a = actor()
    audit.require_auditor(a)
    return audit.verify_chain(db_session()).to_dict()
