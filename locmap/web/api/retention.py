"""Retention over JSON (issue 15, admins only): the rules, saving one, and a run.

``/admin/retention/default`` is the partnership's default rule, ``/admin/retention/<id>``
a pilot's own. A run with ``dry_run`` answers what would go and changes nothing.
"""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, fields

from locmap.errors import InvalidData
from locmap.services import retention
from locmap.services.admin import require_admin
from locmap.web.api import api
from locmap.web.api.schemas import Date
from locmap.web.context import actor, db_session

_MONTHS = ("engagement_text_months", "identity_months", "incident_months",
           "incident_text_months", "person_months", "visit_text_months")


def _months_fields() -> dict[str, Any]:
    return {k: fields.Integer(allow_none=True, metadata={
        "description": "Months kept (null: the default's, or kept for good)"}) for k in _MONTHS}


RuleSchema = Schema.from_dict({
    "pilot_id": fields.Integer(allow_none=True, metadata={"description": "null: the default"}),
    "version": fields.Integer(metadata={"description": "0 for a rule not yet saved"}),
    **_months_fields()}, name="RetentionRule")
EffectiveRuleSchema = Schema.from_dict(_months_fields(), name="RetentionEffectiveRule")


class RetentionKindSchema(Schema):
    key = fields.String()
    label = fields.String()
    erases = fields.String()
    counts_from = fields.String()


class RetentionPilotSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    status = fields.String()
    closed_on = Date(allow_none=True)
    rule = fields.Nested(RuleSchema)
    effective = fields.Nested(EffectiveRuleSchema)


class RulesSchema(Schema):
    default = fields.Nested(RuleSchema)
    kinds = fields.List(fields.Nested(RetentionKindSchema))
    pilots = fields.List(fields.Nested(RetentionPilotSchema))


class RetentionFindingSchema(Schema):
    pilot_id = fields.Integer()
    pilot = fields.String()
    kind = fields.String()
    label = fields.String()
    months = fields.Integer()
    cutoff = Date()
    count = fields.Integer()
    ids = fields.List(fields.Integer())


class RunSchema(Schema):
    dry_run = fields.Boolean()
    on = Date()
    total = fields.Integer()
    findings = fields.List(fields.Nested(RetentionFindingSchema))


def _admin() -> tuple[Any, Any]:
    s, a = db_session(), actor()
    require_admin(a)
    return s, a


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidData("Expected a JSON object.")
    if "version" not in data:
        raise InvalidData("Say which version of the rule you edited (version; 0 for a "
                          "rule not yet saved).", details={"version": "required"})
    return data


@api.route("/admin/retention", summary="Retention rules: the default and each pilot's "
           "(admins)", tag="admin", response=RulesSchema)
def admin_retention_rules() -> Any:
    s, a = _admin()
    return retention.rules(s, a)


@api.route("/admin/retention/default", "PUT", summary="Set the default retention rule "
           "(admins; months per kind, null keeps; version → 409)", tag="admin", response=RuleSchema)
def admin_retention_default() -> Any:
    s, a = _admin()
    d = _body()
    return retention.set_rule(s, a, None, d, version=d["version"])


@api.route("/admin/retention/<int:admin_pilot_id>", "PUT", summary="Set a pilot's own "
           "retention rule (admins; null: the default's; version → 409)", tag="admin",
           response=RuleSchema)
def admin_retention_pilot(admin_pilot_id: int) -> Any:
    s, a = _admin()
    d = _body()
    return retention.set_rule(s, a, admin_pilot_id, d, version=d["version"])


@api.route("/admin/retention/run", "POST", summary="Apply the retention rules now, or "
           "with dry_run list what would go (admins)", tag="admin", response=RunSchema)
def admin_retention_run() -> Any:
    s, a = _admin()
    data = request.get_json(silent=True) or {}
    if not isinstance(data, dict) or not isinstance(data.get("dry_run", False), bool):
        raise InvalidData("Body: {\"dry_run\": true or false}.")
    return retention.run(s, a, dry_run=data.get("dry_run", False)).to_dict()
