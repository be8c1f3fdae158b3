"""Every route × every principal: the permission table, proved over the whole URL map.

The rules come from ``app.url_map`` (every method but HEAD and OPTIONS), so a new route is
probed the day it is added — and fails here until ``REQUIRED`` says what it needs. The
expected outcome of each request comes from ``REQUIRED`` (endpoint and method → the
permission it needs, or "public" / "login") and the permission table as it is at run time
(``PERMISSIONS``), never from a list of roles written here:

- anonymous: 401 JSON for the API and the map tiles, a redirect to the login form for pages
  (public routes answer without a login);
- a user who is no member of the pilot (no pilot at all, admin, auditor, a member of another
  pilot): 404, and the body never names the pilot's places, people or the pilot itself;
- a member whose role lacks the permission: 403;
- a member whose role has it: neither 401, 403 nor 404 (400/405/409/422 for the empty body
  the writes carry is fine — the point is the authorization decision);
- nowhere a 5xx.

Two pilots are seeded with one record of every kind through the API (so that each
``<int:…>`` converter name maps to a real id of the right pilot): pilot A's members are
also probed with pilot B's ids in every id position, and with pilot A's id but B's record
ids (the cross-pilot leak of issue 14). Every write runs inside a savepoint rolled back
afterwards, so a DELETE or a submit cannot change what the next request sees.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from geoalchemy2.shape import from_shape
from shapely.geometry import Point, box
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from locmap.models import (
    Agency,
    DataImport,
    Feature,
    FeatureLayer,
    Identity,
    Membership,
    Person,
    Place,
    User,
)
from locmap.services import accounts, import_jobs
from locmap.services.permissions import PERMISSIONS
from locmap.web.context import data_request
from tests import factories

PUBLIC, LOGIN, ADMIN = "public", "login", "admin"
# Global, not per pilot: the audit trail is for users with the auditor flag (and admins);
# everyone else who is logged in gets 403.
AUDITOR = "auditor"
AUDITORS = frozenset({"auditor", "admin"})

# Endpoint (the rule's endpoint name) and method → what it needs. A permission name is
# looked up in PERMISSIONS at run time. A new route needs a line here.
REQUIRED: dict[tuple[str, str], str] = {
    # public and any signed-in user
    ("static", "GET"): PUBLIC,
    ("health.healthz", "GET"): PUBLIC,
    ("fieldwork.manifest", "GET"): PUBLIC,
    ("fieldwork.service_worker", "GET"): PUBLIC,
    ("auth.login", "GET"): PUBLIC,
    ("pages.accessibility", "GET"): PUBLIC,
    ("auth.login", "POST"): PUBLIC,
    ("api.openapi", "GET"): PUBLIC,
    ("auth.logout", "POST"): LOGIN,
    # The code step of a login: public, it only answers for a password already checked.
    ("auth.login_code", "GET"): PUBLIC,
    ("auth.login_code", "POST"): PUBLIC,
    # The signed-in user's own account.
    ("account.index", "GET"): LOGIN,
    ("account.change_password", "POST"): LOGIN,
    ("account.end_other_sessions", "POST"): LOGIN,
    ("account.two_factor", "GET"): LOGIN,
    ("account.two_factor", "POST"): LOGIN,
    ("account.disable_two_factor", "POST"): LOGIN,
    ("pages.home", "GET"): LOGIN,
    ("api.list_pilots", "GET"): LOGIN,
    ("api.waiting", "GET"): LOGIN,
    ("reviews.waiting", "GET"): LOGIN,
    ("reviews.inbox_page", "GET"): LOGIN,
    ("reviews.inbox_read", "POST"): LOGIN,
    ("api.inbox_items", "GET"): LOGIN,
    ("api.inbox_read", "POST"): LOGIN,
    # pilot
    ("api.get_pilot", "GET"): "pilot.view",
    ("api.overview", "GET"): "pilot.view",
    ("api.workspace_options", "GET"): "pilot.view",
    ("api.review_points", "GET"): "pilot.view",
    ("api.review_point", "GET"): "pilot.view",
    ("api.record_review_point", "PATCH"): "review_point.manage",
    ("pages.pilot", "GET"): "pilot.view",
    ("reviews.overview", "GET"): "pilot.view",
    # A bare redirect to the overview (which needs pilot.view): it shows nothing itself.
    ("reviews.review_points", "GET"): LOGIN,
    ("reviews.review_point", "GET"): "pilot.view",
    ("reviews.review_point", "POST"): "review_point.manage",
    # places
    ("api.list_places", "GET"): "place.view",
    ("api.create_place", "POST"): "place.edit",
    ("api.get_place", "GET"): "place.view",
    ("api.update_place", "PATCH"): "place.edit",
    ("api.delete_place", "DELETE"): "place.edit",
    ("api.place_impact", "GET"): "place.view",
    ("api.place_indicators", "GET"): "place.view",
    ("places_pages.place", "GET"): "place.view",
    ("impact.place_impact", "GET"): "place.view",
    ("impact.watch", "GET"): "place.view",
    ("api.displacement_watch", "GET"): "place.view",
    ("api.decide_flag", "POST"): "displacement.decide",
    ("impact.decide", "POST"): "displacement.decide",
    # evidence
    ("api.list_incidents", "GET"): "evidence.records",
    ("api.create_incident", "POST"): "evidence.edit",
    ("api.get_incident", "GET"): "evidence.records",
    ("api.update_incident", "PATCH"): "evidence.edit",
    ("api.delete_incident", "DELETE"): "evidence.edit",
    ("api.incident_map", "GET"): "evidence.view",
    ("incident_tiles.tile", "GET"): "evidence.view",
    ("api.coordinates", "GET"): "place.view",
    ("assessments.share", "GET"): "export.run",
    ("api.assessment_share_map", "GET"): "export.run",
    ("api.list_observations", "GET"): "evidence.view",
    ("api.nearest_place", "GET"): "place.view",
    ("api.create_observation", "POST"): "evidence.edit",
    ("api.get_observation", "GET"): "evidence.view",
    ("api.update_observation", "PATCH"): "evidence.edit",
    ("api.delete_observation", "DELETE"): "evidence.edit",
    ("api.list_factors", "GET"): "evidence.view",
    ("api.create_factor", "POST"): "evidence.edit",
    ("api.get_factor", "GET"): "evidence.view",
    ("api.update_factor", "PATCH"): "evidence.edit",
    ("api.delete_factor", "DELETE"): "evidence.edit",
    ("api.list_engagement", "GET"): "evidence.view",
    ("api.create_engagement", "POST"): "evidence.edit",
    ("api.list_awareness", "GET"): "evidence.view",
    # safety maps: single maps are the owning team's, the combined surface everyone's
    ("api.list_safety_maps", "GET"): "evidence.records",
    ("api.create_safety_map", "POST"): "evidence.edit",
    ("api.get_safety_map", "GET"): "evidence.records",
    ("api.update_safety_map", "PATCH"): "evidence.edit",
    ("api.delete_safety_map", "DELETE"): "evidence.edit",
    ("api.safety_map_periods", "GET"): "evidence.view",
    ("api.perceived_safety", "GET"): "evidence.view",
    ("api.place_perceived_safety", "GET"): "evidence.view",
    ("safety_pages.index", "GET"): "evidence.view",
    ("safety_pages.new", "GET"): "evidence.edit",
    ("safety_pages.create", "POST"): "evidence.edit",
    ("safety_pages.edit", "GET"): "evidence.records",
    ("safety_pages.update", "POST"): "evidence.edit",
    ("safety_pages.delete", "POST"): "evidence.edit",
    ("api.create_awareness", "POST"): "evidence.edit",
    ("places_pages.add_awareness", "POST"): "evidence.edit",
    ("places_pages.add_engagement", "POST"): "evidence.edit",
    ("places_pages.add_factor", "POST"): "evidence.edit",
    ("places_pages.edit_factor", "POST"): "evidence.edit",
    ("places_pages.add_observation", "POST"): "evidence.edit",
    ("places_pages.edit_observation", "POST"): "evidence.edit",
    ("places_pages.delete_observation", "POST"): "evidence.edit",
    ("fieldwork.add_visit_photos", "POST"): "evidence.edit",
    ("fieldwork.field", "GET"): "evidence.edit",
    ("fieldwork.record_visit", "POST"): "evidence.edit",
    ("fieldwork.add_incident_photos", "POST"): "evidence.edit",
    ("fieldwork.delete_photo", "POST"): "evidence.edit",
    ("fieldwork.confirm_delete_photo", "GET"): "evidence.edit",
    ("api.add_observation_photos", "POST"): "evidence.edit",
    ("api.add_incident_photos", "POST"): "evidence.edit",
    ("api.list_observation_photos", "GET"): "evidence.records",
    ("api.list_incident_photos", "GET"): "evidence.records",
    ("api.photo_image", "GET"): "evidence.records",
    ("api.delete_photo", "DELETE"): "evidence.edit",
    ("incidents_pages.table", "GET"): "evidence.records",
    ("incidents_pages.download", "GET"): "evidence.records",
    ("incidents_pages.edit", "GET"): "evidence.records",
    ("incidents_pages.save", "POST"): "evidence.edit",
    ("incidents_pages.delete", "POST"): "evidence.edit",
    ("people_pages.people_list", "GET"): "evidence.records",
    ("people_pages.person", "GET"): "evidence.records",
    ("people_pages.save_case", "POST"): "network.edit",
    ("people_pages.add_relationship", "POST"): "network.edit",
    ("people_pages.edit_relationship", "POST"): "network.edit",
    ("people_pages.delete_relationship", "POST"): "network.edit",
    ("people_pages.add_presence", "POST"): "network.edit",
    ("people_pages.edit_presence", "POST"): "network.edit",
    ("people_pages.delete_presence", "POST"): "network.edit",
    ("api.find_people", "GET"): "evidence.records",
    ("api.update_relationship", "PATCH"): "network.edit",
    ("api.update_presence", "PATCH"): "network.edit",
    # imports and exports
    ("api.list_imports", "GET"): "evidence.records",
    ("api.get_import", "GET"): "evidence.records",
    ("api.import_report", "GET"): "evidence.records",
    ("api.get_crime_type_mapping", "GET"): "pilot.view",
    ("api.put_crime_type_mapping", "PUT"): "pilot.manage",
    ("imports.index", "GET"): "import.run",
    ("imports.result", "GET"): "evidence.records",
    ("imports.crime_types", "GET"): "import.run",
    ("imports.crime_types", "POST"): "pilot.manage",
    ("imports.preview", "GET"): "import.run",
    ("imports.confirm", "POST"): "import.run",
    ("imports.upload", "POST"): "import.run",
    ("api.export_csv", "GET"): "export.records",
    ("api.export_geojson", "GET"): "export.records",
    ("api.export_gpkg", "GET"): "export.records",
    # dashboard
    ("api.get_dashboard", "GET"): "dashboard.view",
    ("api.export_dashboard_csv", "GET"): "export.run",
    ("api.export_dashboard_xlsx", "GET"): "export.run",
    ("dashboard.dashboard_page", "GET"): "dashboard.view",
    # network
    ("api.network_analysis", "GET"): "network.view",
    ("api.export_gexf", "GET"): "network.export",
    ("api.export_graphml", "GET"): "network.export",
    ("api.get_network_purpose", "GET"): "network.view",
    ("api.set_network_purpose", "PUT"): "network.edit",
    ("api.list_people", "GET"): "network.view",
    ("api.create_person", "POST"): "network.edit",
    ("api.get_person", "GET"): "network.view",
    ("api.update_person", "PATCH"): "network.edit",
    ("api.delete_person", "DELETE"): "network.edit",
    ("api.list_relationships", "GET"): "network.view",
    ("api.create_relationship", "POST"): "network.edit",
    ("api.delete_relationship", "DELETE"): "network.edit",
    ("api.list_presences", "GET"): "network.view",
    ("api.create_presence", "POST"): "network.edit",
    ("api.delete_presence", "DELETE"): "network.edit",
    ("network.network_page", "GET"): "network.view",
    ("network.group_page", "GET"): "network.view",
    ("network.network_map", "GET"): "network.view",
    ("network.network_table", "GET"): "network.view",
    ("network.add_person", "POST"): "network.edit",
    ("network.set_purpose", "POST"): "network.edit",
    # assessments
    ("api.list_place_assessments", "GET"): "assessment.view",
    ("api.start_place_assessment", "POST"): "assessment.edit",
    ("api.get_assessment", "GET"): "assessment.view",
    ("api.patch_assessment", "PATCH"): "assessment.edit",
    ("api.compare_assessments", "GET"): "assessment.view",
    ("api.new_assessment_version", "POST"): "assessment.edit",
    ("api.submit_assessment", "POST"): "assessment.edit",
    ("assessments.view", "GET"): "assessment.view",
    ("assessments.edit", "POST"): "assessment.edit",
    ("assessments.compare", "GET"): "assessment.view",
    ("assessments.start", "GET"): "assessment.view",
    ("assessments.start", "POST"): "assessment.edit",
    # plans
    ("api.list_plans", "GET"): "assessment.view",
    ("api.create_plan", "POST"): "plan.edit",
    ("api.get_plan", "GET"): "assessment.view",
    ("api.list_actions", "GET"): "assessment.view",
    ("api.add_action", "POST"): "plan.edit",
    ("api.patch_action", "PATCH"): "plan.edit",
    ("api.delete_action", "DELETE"): "plan.edit",
    ("api.export_plan_csv", "GET"): "export.run",
    ("api.export_plan_xlsx", "GET"): "export.run",
    ("api.write_gap_reason", "POST"): "plan.edit",
    ("api.plan_gaps", "GET"): "assessment.view",
    ("api.list_kpis", "GET"): "assessment.view",
    ("api.add_kpi", "POST"): "plan.edit",
    ("api.compute_kpis", "POST"): "plan.edit",
    ("api.patch_kpi", "PATCH"): "plan.edit",
    ("api.list_measurements", "GET"): "assessment.view",
    ("api.add_measurement", "POST"): "plan.edit",
    ("api.submit_plan", "POST"): "plan.edit",
    ("api.override_plan_block", "POST"): "plan.override_approval",
    ("reviews.override_block", "POST"): "plan.override_approval",
    ("plans.for_assessment", "GET"): "assessment.view",
    ("plans.for_assessment", "POST"): "plan.edit",
    ("plans.for_place", "GET"): "assessment.view",
    ("plans.view", "GET"): "assessment.view",
    ("plans.edit", "POST"): "plan.edit",
    # reviews (the same permission for assessments and plans)
    ("api.history", "GET"): "assessment.view",
    ("api.request_review", "POST"): "assessment.edit",
    ("api.give_review", "POST"): "review.give",
    ("reviews.review_page", "GET"): "assessment.view",
    ("reviews.report_pdf", "GET"): "assessment.view",
    ("reviews.give_review", "POST"): "review.give",
    ("reviews.request_review", "POST"): "assessment.edit",
    # context referrals and screening (issue 19)
    ("referrals.referral_list", "GET"): "referral.view",
    ("referrals.new", "GET"): "referral.view",
    ("referrals.new", "POST"): "referral.make",
    ("referrals.view", "GET"): "referral.view",
    ("referrals.screen", "POST"): "referral.screen",
    ("referrals.thresholds", "GET"): "referral.view",
    ("referrals.thresholds", "POST"): "threshold.edit",
    ("api.list_referrals", "GET"): "referral.view",
    ("api.create_referral", "POST"): "referral.make",
    ("api.get_referral", "GET"): "referral.view",
    ("api.screen_referral", "POST"): "referral.screen",
    ("api.list_thresholds", "GET"): "referral.view",
    ("api.put_threshold", "PUT"): "threshold.edit",
    ("api.referral_measures", "GET"): "dashboard.view",
    # every kind of context: peer groups, schools, online spaces (issue 19)
    ("contexts.index", "GET"): "assessment.view",
    ("contexts.new_peer_group", "POST"): "assessment.edit",
    ("contexts.new_school", "POST"): "assessment.edit",
    ("contexts.new_online", "POST"): "assessment.edit",
    ("contexts.save_section", "POST"): "assessment.edit",
    ("contexts.save_online", "POST"): "place.edit",
    ("contexts.school_compare", "GET"): "assessment.view",
    ("api.start_peer_group", "POST"): "assessment.edit",
    ("api.start_school", "POST"): "assessment.edit",
    ("api.start_online", "POST"): "assessment.edit",
    ("api.get_section", "GET"): "assessment.view",
    ("api.put_section", "PUT"): "assessment.edit",
    ("api.school_compare", "GET"): "assessment.view",
    # the board's pack (issue 19): a user's own packs; the service checks each pilot
    ("board.packs", "GET"): LOGIN,
    ("board.packs", "POST"): LOGIN,
    ("board.pack_file", "GET"): LOGIN,
    # children's case records (issue 19): identities are the owning team's
    ("case_records.form", "GET"): "identity.edit",
    ("case_records.preview", "POST"): "identity.edit",
    ("case_records.apply", "POST"): "identity.edit",
    ("case_records.children", "GET"): "identity.read",
    ("api.preview_case_records", "POST"): "identity.edit",
    ("api.apply_case_records", "POST"): "identity.edit",
    ("api.children_at_place_csv", "GET"): "identity.read",
    # partner-agency referral forms (issue 19): the admin enables them; the form itself
    # is reached by its link without an account (no key: 400)
    ("partner_forms.manage", "GET"): ADMIN,
    ("partner_forms.manage", "POST"): ADMIN,
    ("partner_forms.refer", "GET"): PUBLIC,
    ("partner_forms.refer", "POST"): PUBLIC,
    # context meetings and the high-risk log (issue 19)
    ("meetings.meeting_list", "GET"): "meeting.view",
    ("meetings.meeting_list", "POST"): "meeting.edit",
    ("meetings.meeting", "GET"): "meeting.view",
    ("meetings.attendance", "POST"): "meeting.edit",
    ("meetings.add_item", "POST"): "meeting.edit",
    ("meetings.item", "POST"): "meeting.edit",
    ("meetings.action_status", "POST"): "meeting.edit",
    ("meetings.minutes", "GET"): "meeting.view",
    ("meetings.log", "GET"): "meeting.view",
    ("meetings.close", "POST"): "meeting.edit",
    ("api.list_meetings", "GET"): "meeting.view",
    ("api.create_meeting", "POST"): "meeting.edit",
    ("api.get_meeting", "GET"): "meeting.view",
    ("api.put_attendance", "PUT"): "meeting.edit",
    ("api.add_meeting_item", "POST"): "meeting.edit",
    ("api.patch_meeting_item", "PATCH"): "meeting.edit",
    ("api.add_meeting_action", "POST"): "meeting.edit",
    ("api.patch_meeting_action", "PATCH"): "meeting.edit",
    ("api.open_high_risk", "POST"): "meeting.edit",
    ("api.high_risk_log", "GET"): "meeting.view",
    ("api.close_high_risk", "POST"): "meeting.edit",
    # administration (issue 15): admins only; a pilot's members also by its coordinator
    ("admin.invite", "GET"): PUBLIC,
    ("admin.invite", "POST"): PUBLIC,
    ("admin.change_password", "GET"): LOGIN,
    ("admin.change_password", "POST"): LOGIN,
    ("admin.index", "GET"): ADMIN,
    ("admin.agencies", "GET"): ADMIN,
    ("admin.agencies", "POST"): ADMIN,
    ("admin.agency", "POST"): ADMIN,
    ("admin.users", "GET"): ADMIN,
    ("admin.users", "POST"): ADMIN,
    ("admin.user", "GET"): ADMIN,
    ("admin.user", "POST"): ADMIN,
    ("admin.new_pilot", "GET"): ADMIN,
    ("admin.new_pilot", "POST"): ADMIN,
    ("admin.pilot", "GET"): ADMIN,
    ("admin.pilot", "POST"): ADMIN,
    ("admin.members", "GET"): "pilot.manage",
    ("admin.members", "POST"): "pilot.manage",
    ("admin.remove_member", "POST"): "pilot.manage",
    ("api.admin_list_agencies", "GET"): ADMIN,
    ("api.admin_create_agency", "POST"): ADMIN,
    ("api.admin_update_agency", "PATCH"): ADMIN,
    ("api.admin_list_users", "GET"): ADMIN,
    ("api.admin_invite_user", "POST"): ADMIN,
    ("api.admin_update_user", "PATCH"): ADMIN,
    ("api.admin_reset_link", "POST"): ADMIN,
    ("api.admin_create_pilot", "POST"): ADMIN,
    ("api.admin_get_pilot", "GET"): ADMIN,
    ("api.admin_update_pilot", "PATCH"): ADMIN,
    ("api.admin_add_member", "POST"): ADMIN,
    ("api.list_members", "GET"): "pilot.manage",
    ("api.add_member", "POST"): "pilot.manage",
    ("api.remove_member", "DELETE"): "pilot.manage",
    # retention (issue 15): admins only
    ("retention.rules", "GET"): ADMIN,
    ("retention.rules", "POST"): ADMIN,
    ("api.admin_retention_rules", "GET"): ADMIN,
    ("api.admin_retention_default", "PUT"): ADMIN,
    ("api.admin_retention_pilot", "PUT"): ADMIN,
    ("api.admin_retention_run", "POST"): ADMIN,
    # subject access (issue 15): the owning team who read identities, and admins
    ("subject_access.index", "GET"): "identity.read",
    ("subject_access.download_zip", "GET"): "identity.read",
    ("subject_access.download_pdf", "GET"): "identity.read",
    ("api.subject_access_export", "GET"): "identity.read",
    ("api.admin_subject_access_export", "GET"): ADMIN,
    ("api.admin_subject_access_find", "GET"): ADMIN,
    # a pilot's locality changed (issue 15): its coordinator, or an admin
    ("locality.change", "GET"): "pilot.manage",
    ("locality.change", "POST"): "pilot.manage",
    ("api.locality_check", "POST"): "pilot.manage",
    ("api.locality_set", "PUT"): "pilot.manage",
    ("api.admin_locality_check", "POST"): ADMIN,
    ("api.admin_locality_set", "PUT"): ADMIN,
    # the audit trail (issue 15)
    ("audit.index", "GET"): AUDITOR,
    ("audit.export_csv", "GET"): AUDITOR,
    ("audit.who_has_seen", "GET"): AUDITOR,
    ("audit.verify", "POST"): AUDITOR,
    ("api.audit_events", "GET"): AUDITOR,
    ("api.audit_who_has_seen", "GET"): AUDITOR,
    ("api.audit_verify", "GET"): AUDITOR,
    # the base map (issue 17): shared reference data for anyone signed in; built by admins
    ("basemap.tile", "GET"): LOGIN,
    ("api.search", "GET"): LOGIN,
    ("basemap.admin_page", "GET"): ADMIN,
    ("basemap.admin_page", "POST"): ADMIN,
}
# Pages and API routes where an admin (no member of the pilot) may act as the coordinator
# does.
ADMIN_TOO = frozenset({"admin.members", "admin.remove_member", "subject_access.index",
                       "subject_access.download_zip", "subject_access.download_pdf",
                       "locality.change", "api.list_members", "api.add_member",
                       "api.remove_member"})

# Converter name → the key of the seeded record it takes. ``kinds`` is expanded to both
# of its values; string converters take fixed values.
ID_OF = {
    "pilot_id": "pilot", "place_id": "place", "assessment_id": "assessment",
    "a_id": "assessment", "other_id": "assessment2", "b_id": "assessment2",
    "plan_id": "plan", "action_id": "action", "factor_id": "factor",
    "incident_id": "incident", "observation_id": "observation", "person_id": "person",
    "rel_id": "relationship", "presence_id": "presence", "kpi_id": "kpi",
    "point_id": "review_point", "import_id": "import", "token": "token",
    "agency_id": "agency", "user_id": "user", "admin_pilot_id": "pilot",
    "membership_id": "membership", "safety_map_id": "safety_map", "photo_id": "photo",
    "referral_id": "referral",
    "meeting_id": "meeting", "item_id": "meeting_item",
    "meeting_action_id": "meeting_action", "entry_id": "log_entry",
}
SUBJECT_OF_KIND = {"assessments": "assessment", "plans": "plan"}
FIXED = {"filename": "css/locmap.css", "label": "A", "level": "targeted", "z": "0", "x": "0",
         "y": "0"}

# An upload waiting for its preview belongs to whoever uploaded it (the practitioner here):
# other members who may import get 404 for it, as for anything not theirs.
UPLOADER_ONLY = frozenset({"imports.preview", "imports.confirm"})
UPLOADER = "practitioner"

MEMBER_ROLES = ("coordinator", "practitioner", "peer_assessor", "partner_reviewer")
NON_MEMBERS = ("nobody", "admin", "auditor", "outsider")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
POLICE_CSV = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
    "LSOA name,Crime type,Last outcome category,Context\n"
    "abc,2025-02,Test Police,Test Police,{lon},{lat},On or near Test Street,E01000001,"
    "Test 001A,Anti-social behaviour,,\n"
)


@dataclass
class Probe:
    principal: str
    method: str
    url: str
    endpoint: str
    # "public", "anonymous", "allowed", "forbidden", "hidden", "hidden_or_forbidden",
    # "hidden_or_invalid"
    expect: str
    secrets: tuple[str, ...]  # names that must not appear in the body


def _csrf(client: Any, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def _api(client: Any, token: str, method: str, url: str, json: Any = None) -> Any:
    r = client.open(url, method=method, json=json, headers={"X-CSRFToken": token})
    assert r.status_code < 300, (method, url, r.status_code, r.get_data(as_text=True)[:500])
    return r.get_json()


def _seed(session: Session, client: Any, token: str, pilot_id: int, user_id: int,
          places: list[Place], person: Person, tag: str) -> dict[str, Any]:
    """One record of every kind in a pilot, made as a practitioner through the API."""
    base = f"/api/v1/pilots/{pilot_id}"
    park, cafe = places[0], places[1]
    ids: dict[str, Any] = {"pilot": pilot_id, "place": cafe.id, "park": park.id}
    for quadrant, weight in (("risk", 3), ("vulnerability", 2)):
        _api(client, token, "POST", f"{base}/places/{cafe.id}/factors",
             {"quadrant": quadrant, "statement": f"{tag} factor {quadrant}", "weight": weight})
    ids["factor"] = _api(client, token, "GET", f"{base}/places/{cafe.id}/factors")[0]["id"]
    lon, lat = _centre(session, cafe)
    ids["incident"] = _api(client, token, "POST", f"{base}/incidents", {
        "location": {"type": "Point", "coordinates": [lon, lat]},
        "occurred_at": "2025-02-03T18:00:00+00:00", "category": "asb",
        "description": f"{tag} restricted text"})["id"]
    ids["observation"] = _api(client, token, "POST", f"{base}/places/{cafe.id}/observations",
                              {"started_at": "2025-02-04T17:00:00+00:00",
                               "notes": f"{tag} visit"})["id"]
    ids["photo"] = client.post(
        f"{base}/observations/{ids['observation']}/photos", headers={"X-CSRFToken": token},
        data={"photos": (io.BytesIO(_JPEG), "p.jpg")}).get_json()[0]["id"]
    ids["safety_map"] = _api(client, token, "POST", f"{base}/safety-maps", {
        "drawn_on": "2025-02-05", "respondent_kind": "group", "respondent": f"{tag} group",
        "areas": [{"rating": "red", "reason": f"{tag} reason", "place_id": park.id}]})["id"]
    ids["engagement"] = _api(client, token, "POST", f"{base}/engagement", {
        "held_on": "2025-02-05", "with_group": "children",
        "summary": f"{tag} listening", "place_ids": [cafe.id]})["id"]
    _api(client, token, "POST", f"{base}/awareness", {
        "held_on": "2025-02-06", "audience": f"{tag} staff", "place_ids": [cafe.id]})
    _api(client, token, "PUT", f"{base}/network/purpose", {
        "purpose": f"{tag} peer map", "lawful_basis": "Children Act 1989 s.47"})
    other = _api(client, token, "POST", f"{base}/people",
                 {"kind": "young_person", "age_band": "14-15"})
    ids["person"] = person.id
    ids["person2"] = other["id"]
    ids["relationship"] = _api(client, token, "POST", f"{base}/relationships", {
        "person_a_id": person.id, "person_b_id": other["id"], "type": "friend"})["id"]
    ids["presence"] = _api(client, token, "POST", f"{base}/presences", {
        "person_id": person.id, "place_id": park.id})["id"]
    ids["assessment"] = _api(client, token, "POST",
                             f"{base}/places/{cafe.id}/assessments")["id"]
    ids["assessment_factor"] = next(  # the version's own copy of the risk factor
        f["id"] for f in _api(client, token, "GET",
                              f"{base}/assessments/{ids['assessment']}")["factors"]
        if f["quadrant"] == "risk")
    _api(client, token, "POST", f"{base}/assessments/{ids['assessment']}/submit", {})
    ids["plan"] = _api(client, token, "POST", f"{base}/assessments/{ids['assessment']}/plans",
                       {"starts_on": "2025-03-01"})["id"]
    ids["assessment2"] = _api(client, token, "POST",
                              f"{base}/assessments/{ids['assessment']}/new-version")["id"]
    ids["action"] = _api(client, token, "POST", f"{base}/plans/{ids['plan']}/actions", {
        "description": f"{tag} youth club", "category": "allocate_resources"})["id"]
    ids["kpi"] = _api(client, token, "POST", f"{base}/plans/{ids['plan']}/kpis",
                      {"name": f"{tag} reach"})["id"]
    ids["review_point"] = _api(client, token, "GET", f"{base}/review-points")[0]["id"]
    ids["referral"] = _api(client, token, "POST", f"{base}/referrals", {
        "context_kind": "place", "place_id": cafe.id, "concern": f"{tag} concern",
        "harm_types": ["cce"], "referrer_name": f"{tag} referrer"})["id"]
    ids["meeting"] = _api(client, token, "POST", f"{base}/meetings", {
        "held_on": "2025-03-10", "chair": f"{tag} chair"})["id"]
    ids["meeting_item"] = _api(client, token, "POST", f"{base}/meetings/{ids['meeting']}/items",
                               {"place_id": cafe.id, "theme": f"{tag} theme"})["id"]
    ids["meeting_action"] = _api(client, token, "POST",
                                 f"{base}/meeting-items/{ids['meeting_item']}/actions",
                                 {"description": f"{tag} panel action"})["id"]
    ids["log_entry"] = _api(client, token, "POST",
                            f"{base}/meeting-items/{ids['meeting_item']}/high-risk-log",
                            {"reason": f"{tag} reason"})["id"]
    ids["membership"] = session.scalar(select(Membership.id).where(
        Membership.pilot_id == pilot_id, Membership.user_id == user_id))
    ids["user"] = user_id
    ids["agency"] = session.scalar(select(Agency.id).order_by(Agency.id).limit(1))
    actor = accounts.actor_for(session, session.get(User, user_id), None)
    ids["token"] = import_jobs.store_upload(
        session, actor, pilot_id, "street.csv",
        io.BytesIO(POLICE_CSV.format(lon=lon, lat=lat).encode()))
    done = DataImport(pilot_id=pilot_id, kind="police_csv", filename=f"{tag}.csv",
                      sha256="0" * 64, created_by_id=user_id, status="done", rows_read=1,
                      rows_accepted=1)
    layer = FeatureLayer(pilot_id=pilot_id, name=f"{tag} bus stops")
    layer.features = [Feature(geom=from_shape(Point(lon + 0.001, lat), srid=4326),
                              name=f"{tag} stop")]
    session.add_all([done, layer])
    session.commit()
    ids["import"] = done.id
    ids["layer"] = layer.id
    return ids


def _jpeg() -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 80, 40)).save(out, "JPEG")
    return out.getvalue()


_JPEG = _jpeg()


def _centre(session: Session, place: Place) -> tuple[float, float]:
    point = session.scalar(select(func.ST_AsGeoJSON(func.ST_PointOnSurface(Place.geom)))
                           .where(Place.id == place.id))
    lon, lat = json.loads(point)["coordinates"]
    return float(lon), float(lat)


@pytest.fixture
def matrix_world(session: Session, world: factories.World) -> dict[str, Any]:
    """Pilot B gets places and a person like pilot A's; both get one record of each kind."""
    b = world.other_pilot
    b_places = [
        Place(pilot_id=b.id, name="Bravo Skatepark", kind="park",
              geom=from_shape(box(-1.395, 52.502, -1.393, 52.503), srid=4326)),
        Place(pilot_id=b.id, name="Bravo Chicken Shop", kind="fast_food",
              geom=from_shape(Point(-1.39, 52.505), srid=4326)),
    ]
    b_person = Person(pilot_id=b.id, pseudonym="YP-901", kind="young_person", age_band="16-17")
    session.add_all([*b_places, b_person])
    session.flush()
    session.add(Identity(person_id=b_person.id, name="Bravo Quillfeather",
                         date_of_birth=dt.date(2009, 3, 1), case_reference="B-1"))
    factories.make_user(session, "nobody@test.invalid")
    session.commit()
    return {"b_places": b_places, "b_person": b_person}


_ARG = re.compile(r"<(?:([^>]*):)?(\w+)>")


def _urls(rule: Any, ids: dict[str, Any]) -> Iterator[str]:
    """The rule with every argument filled from ``ids`` (``kinds`` gives one URL per kind)."""
    names = [name for _, name in _ARG.findall(rule.rule)]
    unknown = [n for n in names
               if n not in ID_OF and n not in FIXED and n not in ("kinds", "subject_id")]
    assert not unknown, (f"{rule.rule}: no seeded record for {unknown}; add the converter "
                         "name to ID_OF in tests/integration/test_route_matrix.py")
    for kind in ("assessments", "plans") if "kinds" in names else (None,):
        def fill(m: re.Match[str], kind: str | None = kind) -> str:
            name = m.group(2)
            if name == "kinds":
                return str(kind)
            if name == "subject_id":
                return str(ids[SUBJECT_OF_KIND[str(kind)]])
            if name in FIXED:
                return FIXED[name]
            return str(ids[ID_OF[name]])
        yield _ARG.sub(fill, rule.rule)


def _has_record_id(rule: Any) -> bool:
    return any(name != "pilot_id" and name not in FIXED
               for _, name in _ARG.findall(rule.rule))


def _routes(app: Flask) -> list[tuple[Any, str, str]]:
    routes = []
    missing = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            key = (rule.endpoint, method)
            if key not in REQUIRED:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
                continue
            need = REQUIRED[key]
            assert need in (PUBLIC, LOGIN, ADMIN, AUDITOR) or need in PERMISSIONS, (
                f"{key}: unknown permission {need!r}")
            routes.append((rule, method, need))
    assert not missing, (
        "Routes with no entry in REQUIRED (tests/integration/test_route_matrix.py) — add "
        "each with the permission it needs:\n" + "\n".join(missing))
    return routes


def _probes(app: Flask, roles: dict[str, dict[int, str]], ids_a: dict[str, Any],
            ids_b: dict[str, Any], secrets_a: tuple[str, ...],
            secrets_b: tuple[str, ...]) -> list[Probe]:
    probes = []
    pilot_a = ids_a["pilot"]
    mixed = {**ids_b, "pilot": pilot_a}
    for rule, method, need in _routes(app):
        for url in _urls(rule, ids_a):
            for who in ("anonymous", *MEMBER_ROLES, *NON_MEMBERS):
                if need == PUBLIC:
                    expect = "public"
                elif who == "anonymous":
                    expect = "anonymous"
                elif need == LOGIN:
                    expect = "allowed"
                elif need == ADMIN or (who == "admin" and rule.endpoint in ADMIN_TOO):
                    expect = "allowed" if who == "admin" else "hidden_or_forbidden"
                elif need == AUDITOR:
                    expect = "allowed" if who in AUDITORS else "forbidden"
                elif pilot_a not in roles[who]:
                    expect = "hidden"
                elif roles[who][pilot_a] not in PERMISSIONS[need]:
                    expect = "forbidden"
                elif rule.endpoint in UPLOADER_ONLY and who != UPLOADER:
                    expect = "hidden"
                else:
                    expect = "allowed"
                probes.append(Probe(who, method, url, rule.endpoint, expect, secrets_a))
        if need in (PUBLIC, LOGIN, ADMIN, AUDITOR):
            continue
        for who in MEMBER_ROLES:
            # A's members with B's ids everywhere: B is not theirs.
            for url in _urls(rule, ids_b):
                probes.append(Probe(who, method, url, rule.endpoint, "hidden", secrets_b))
            # A's pilot, B's records: the record is not in the pilot asked for.
            if _has_record_id(rule):
                # A member who may act in A may have the body or form refused (400/422, or
                # a page's redirect back) before the record is looked up; no data either way.
                if roles[who][pilot_a] not in PERMISSIONS[need]:
                    expect = "hidden_or_forbidden"
                elif method in WRITE_METHODS:
                    expect = "hidden_or_invalid"
                else:
                    expect = "hidden"
                for url in _urls(rule, mixed):
                    probes.append(Probe(who, method, url, rule.endpoint, expect, secrets_b))
    return probes


def _verdict(probe: Probe, r: Any) -> str | None:
    """Why the response breaks the rule for its probe, or None."""
    status = r.status_code
    if status >= 500:
        return f"server error {status}: {r.get_data(as_text=True)[:300]}"
    api = data_request(urlsplit(probe.url).path)  # the API and the map tiles: 401, no form
    if probe.expect == "public":
        # A login with no credentials is a 401; anything else public answers.
        refused = (403, 404) if probe.endpoint == "auth.login" else (401, 403, 404)
        return f"public route answered {status}" if status in refused else None
    if probe.expect == "anonymous":
        if api:
            return None if status == 401 else f"anonymous data request got {status}, not 401"
        if status in (302, 303) and "/login" in r.headers.get("Location", ""):
            return None
        return f"anonymous page request got {status}, not a redirect to /login"
    if probe.expect == "allowed":
        return f"allowed principal got {status}" if status in (401, 403, 404) else None
    if probe.expect == "forbidden":
        return None if status == 403 else f"member without the permission got {status}"
    body = r.get_data(as_text=True)
    leaked = [s for s in probe.secrets if s in body]
    if leaked:
        return f"status {status} and the body names {leaked}"
    wanted = {"hidden": (404,), "hidden_or_forbidden": (403, 404),
              "hidden_or_invalid": (302, 303, 400, 404, 422)}[probe.expect]
    return None if status in wanted else f"expected {' or '.join(map(str, wanted))}, got {status}"


@pytest.mark.slow
def test_every_route_for_every_principal(app: Flask, connection: Connection,
                                          session: Session, world: factories.World,
                                          matrix_world: dict[str, Any],
                                          figure: Callable[[str], None]) -> None:
    clients: dict[str, Any] = {}
    tokens: dict[str, str] = {}
    for who in ("anonymous", *MEMBER_ROLES, *NON_MEMBERS):
        c = app.test_client()
        if who != "anonymous":
            r = c.post("/login", data={"email": f"{who}@test.invalid",
                                       "password": factories.PASSWORD,
                                       "csrf_token": _csrf(c, "/login")})
            assert r.status_code == 302, (who, r.status_code)
        clients[who] = c
        tokens[who] = _csrf(c, "/login" if who == "anonymous" else "/")

    a, b = world.pilot, world.other_pilot
    ids_a = _seed(session, clients["practitioner"], tokens["practitioner"], a.id,
                  world.users["practitioner"].id,
                  [world.places["park"], world.places["cafe"]], world.person, "Alpha")
    ids_b = _seed(session, clients["outsider"], tokens["outsider"], b.id,
                  world.users["outsider"].id, matrix_world["b_places"],
                  matrix_world["b_person"], "Bravo")
    roles = {who: {} for who in ("anonymous", *NON_MEMBERS)} | {
        role: {a.id: role} for role in MEMBER_ROLES}
    roles["outsider"] = {b.id: "practitioner"}
    secrets_a = ("Test Pilot", "Test Park", "Test Cafe", "Test group chat", "YP-001",
                 "Testy Quillborne", "Alpha ")
    secrets_b = ("Other Pilot", "Bravo ", "YP-901")
    probes = _probes(app, roles, ids_a, ids_b, secrets_a, secrets_b)
    # Logging out (or in again) ends the principal's session: those requests go last.
    probes.sort(key=lambda p: p.endpoint in ("auth.logout", "auth.login"))

    failures = []
    started = time.monotonic()
    slowest: list[tuple[float, str]] = []
    for p in probes:
        write = p.method in WRITE_METHODS
        savepoint = connection.begin_nested() if write else None
        t0 = time.monotonic()
        r = clients[p.principal].open(
            p.url, method=p.method, json={} if write else None,
            headers={"X-CSRFToken": tokens[p.principal]} if write else {})
        slowest.append((time.monotonic() - t0, f"{p.method} {p.url}"))
        if savepoint is not None:
            savepoint.rollback()
        why = _verdict(p, r)
        if why:
            failures.append(f"{p.principal:16} {p.method:6} {p.url} [{p.endpoint}]: {why}")
    elapsed = time.monotonic() - started
    slowest.sort(reverse=True)
    figure(f"route matrix: {len(probes)} requests over "
          f"{len({(p.endpoint, p.method) for p in probes})} endpoint-methods in {elapsed:.0f} s; "
          f"slowest: {', '.join(f'{u} {t:.2f}s' for t, u in slowest[:3])}")
    assert not failures, f"{len(failures)} of {len(probes)} requests broke the matrix:\n" + \
        "\n".join(failures)


def test_submit_with_incidents_only_at_the_place_names_a_lower_limit(
        app: Flask, session: Session, world: factories.World) -> None:
    """Found by the matrix: with incidents at the place and none in the ring around it the
    rate ratio is unbounded (None), and submitting the assessment was a 500."""
    c = app.test_client()
    c.post("/login", data={"email": "practitioner@test.invalid",
                           "password": factories.PASSWORD, "csrf_token": _csrf(c, "/login")})
    token = _csrf(c, "/")
    base = f"/api/v1/pilots/{world.pilot.id}"
    cafe = world.places["cafe"]
    lon, lat = _centre(session, cafe)
    for day in range(1, 9):
        _api(c, token, "POST", f"{base}/incidents", {
            "location": {"type": "Point", "coordinates": [lon, lat]},
            "occurred_at": f"2025-02-{day:02d}T18:00:00+00:00", "category": "asb"})
    _api(c, token, "POST", f"{base}/places/{cafe.id}/factors",
         {"quadrant": "risk", "statement": "Dealing at the door", "weight": 3})
    assessment = _api(c, token, "POST", f"{base}/places/{cafe.id}/assessments")["id"]
    r = c.post(f"{base}/assessments/{assessment}/submit", json={},
               headers={"X-CSRFToken": token})
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    summary = _api(c, token, "GET", f"{base}/assessments/{assessment}")["summary"]
    assert "at least" in summary and "the ring has no incident" in summary


# --- ids in query strings and JSON bodies -----------------------------------------------

# A query or body field that names a record → the seeded record it takes. Every field of
# an API route's query or body schema whose name ends in ``_id``/``_ids`` (or is listed
# here) must be in FIELD_ID_OF or GLOBAL_FIELDS, so a new id field is probed the day it
# is added.
FIELD_ID_OF = {
    "place_id": "place", "place_ids": "place", "source_place_id": "place", "dest_id": "place",
    "buffer_place": "place", "person_id": "person", "person_a_id": "person",
    "person_b_id": "person", "factor_id": "factor", "factor_ids": "factor",
    "remove_factor": "factor", "action_id": "action", "incident_ids": "incident",
    "observation_ids": "observation", "engagement_ids": "engagement",
    "data_import_id": "import", "layer": "layer", "plan_id": "plan",
}
# Ids of records that belong to no pilot (agencies, users), or an auditor's filter over
# every pilot: nothing of one pilot to hide from another.
GLOBAL_FIELDS = frozenset({
    "source_agency_id", "managed_by_id", "owner_agency_id", "agency_ids", "reviewer_ids",
    "pilot_id", "entity_id", "before_id", "referrer_agency_id", "agency_id",
})
EXTRA_ID_FIELDS = frozenset({"buffer_place", "layer", "remove_factor"})
# Where a route takes a particular record of that kind: the factors of a version (not the
# place's working set), another place than the one in the path.
FIELD_ID_OF_ROUTE = {
    ("give_review", "factor_id"): "assessment_factor",
    ("add_action", "factor_ids"): "assessment_factor",
    ("patch_action", "factor_ids"): "assessment_factor",
    ("write_gap_reason", "factor_id"): "assessment_factor",
    ("place_impact", "buffer_place"): "park",
    ("decide_flag", "dest_id"): "park",
    ("create_relationship", "person_b_id"): "person2",
}
# A valid decision needs a flagged pair (10+ incidents nearby), more than the seeding
# makes; its 422 then names both places, which shows the ids were looked up in the pilot.
OWN_ID_REFUSED_AFTER_LOOKUP = {"decide_flag": "Test Park is not a nearby context of Test Cafe",
                               "start_school": "Test Cafe is not a school"}
ABSENT_ID = 2**31 - 1


# Id fields inside a nested block of a body (``outer.field``): the rest of a valid block,
# so the id is judged on its own. A nested id field is probed once it is here.
NESTED_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch_assessment", "add_context"): {"share": 20, "reason": "probe reason"},
    ("patch_assessment", "contexts"): {"name": "Probe", "share": 100, "reason": "probe"},
    ("create_safety_map", "areas"): {"rating": "red", "reason": "probe reason"},
    ("update_safety_map", "areas"): {"rating": "red", "reason": "probe reason"},
    ("create_person", "places"): {"frequency": "weekly"},
}
# Nested id fields not probed here: why. A new nested id field fails until it is in one of
# the two.
NESTED_NOT_PROBED: dict[tuple[str, str], str] = {}


def _nested(field: Any) -> Any:
    import marshmallow.fields as mf
    inner = field.inner if isinstance(field, mf.List) else field
    return inner if isinstance(inner, mf.Nested) else None


def _id_fields(schema: Any) -> list[str]:
    fields_ = schema().load_fields
    out = [n for n in fields_ if re.search(r"_ids?$", n) or n in EXTRA_ID_FIELDS]
    for n, f in fields_.items():
        inner = _nested(f)
        if inner is not None:
            out += [f"{n}.{m}" for m in inner.schema.load_fields if re.search(r"_ids?$", m)]
    return out


def _loaded(schema: Any, field: str) -> Any:
    outer, _, leaf = field.partition(".")
    loaded = schema().load_fields[outer]
    return _nested(loaded).schema.load_fields[leaf] if leaf else loaded


def _version(client: Any, token: str, url: str) -> int:
    return int(_api(client, token, "GET", url)["version"])


def _valid(endpoint: str, client: Any, token: str, base: str, ids: dict[str, Any]
           ) -> dict[str, Any]:
    """A body (or query) that the route accepts once its id field is filled: without one,
    a 422 for a missing field would hide how the id itself is judged."""
    bodies: dict[str, Any] = {
        "create_factor": {"quadrant": "risk", "statement": "probe factor", "weight": 1},
        "create_safety_map": {"drawn_on": "2025-02-05", "respondent_kind": "group",
                              "respondent": "probe group"},
        "update_safety_map": lambda: {
            "version": _version(client, token, f"{base}/safety-maps/{ids['safety_map']}")},
        "create_person": {"kind": "young_person", "age_band": "14-15"},
        "update_factor": lambda: {
            "version": _version(client, token, f"{base}/factors/{ids['factor']}")},
        "create_engagement": {"held_on": "2025-02-07", "with_group": "children",
                              "summary": "probe listening"},
        "create_awareness": {"held_on": "2025-02-07", "audience": "probe staff"},
        "incident_map": {"bbox": "-1.6,52.4,-1.3,52.6", "zoom": 15},
        "create_incident": {"location": {"type": "Point", "coordinates": [-1.49, 52.505]},
                            "occurred_at": "2025-02-08T18:00:00+00:00", "category": "asb"},
        "update_incident": lambda: {
            "version": _version(client, token, f"{base}/incidents/{ids['incident']}")},
        "create_relationship": {"type": "school_peer"},
        "create_presence": {},
        "give_review": {"decision": "comment", "comment": "probe comment"},
        "decide_flag": {"dest_kind": "place", "month": "2025-03", "status": "dismissed",
                        "reason": "probe reason"},
        "displacement_watch": {"layers_set": "1"},
        "add_action": {"description": "probe action", "category": "allocate_resources"},
        "patch_action": lambda: {"version": next(
            a["version"] for a in _api(client, token, "GET",
                                       f"{base}/plans/{ids['plan']}/actions")
            if a["id"] == ids["action"])},
        "write_gap_reason": {"reason": "probe reason"},
        "patch_assessment": lambda: {
            "version": _version(client, token, f"{base}/assessments/{ids['assessment2']}")},
        "create_referral": {"context_kind": "place", "concern": "probe concern",
                            "harm_types": ["asb"], "referrer_name": "probe referrer"},
        # Level 1 puts an action on the plan named by plan_id.
        "screen_referral": lambda: {
            "version": _version(client, token, f"{base}/referrals/{ids['referral']}"),
            "threshold_level": "targeted", "outcome": "level_1", "reason": "probe reason",
            "action": {"description": "probe action", "category": "allocate_resources"}},
    }
    made = bodies.get(endpoint, {})
    return dict(made() if callable(made) else made)


def _fill(field: str, value: int, loaded: Any) -> Any:
    import marshmallow.fields as mf
    if isinstance(loaded, mf.List):
        return [value]
    return str(value) if isinstance(loaded, mf.String) else value


def test_another_pilots_ids_in_query_strings_and_bodies_answer_as_absent_ones(
        app: Flask, connection: Connection, session: Session, world: factories.World,
        matrix_world: dict[str, Any], figure: Callable[[str], None]) -> None:
    """A's member, A's pilot and records in the path, and B's id in one query or body field
    at a time: the answer is the one an id that does not exist gets (same status, same body
    but for the id), never a 2xx write, never a 5xx, never B's names. A request with A's own
    id first proves the rest of the request is valid."""
    from locmap.web.api import api as registry

    clients: dict[str, Any] = {}
    tokens: dict[str, str] = {}
    for who in (*MEMBER_ROLES, "outsider"):
        c = app.test_client()
        r = c.post("/login", data={"email": f"{who}@test.invalid",
                                   "password": factories.PASSWORD,
                                   "csrf_token": _csrf(c, "/login")})
        assert r.status_code == 302, (who, r.status_code)
        clients[who], tokens[who] = c, _csrf(c, "/")
    a, b = world.pilot, world.other_pilot
    ids_a = _seed(session, clients["practitioner"], tokens["practitioner"], a.id,
                  world.users["practitioner"].id,
                  [world.places["park"], world.places["cafe"]], world.person, "Alpha")
    ids_b = _seed(session, clients["outsider"], tokens["outsider"], b.id,
                  world.users["outsider"].id, matrix_world["b_places"],
                  matrix_world["b_person"], "Bravo")
    secrets_b = ("Other Pilot", "Bravo ", "YP-901")
    base = f"/api/v1/pilots/{a.id}"
    unclassified, failures, probes = [], [], 0
    for route in registry.routes:
        endpoint = f"api.{route.endpoint}"
        need = REQUIRED.get((endpoint, route.method.upper()))
        for where, schema in (("query", route.query), ("body", route.body)):
            if schema is None:
                continue
            for field in _id_fields(schema):
                outer, _, leaf = field.rpartition(".")
                if leaf in GLOBAL_FIELDS or (route.endpoint, field) in NESTED_NOT_PROBED:
                    continue
                if leaf not in FIELD_ID_OF or (
                        outer and (route.endpoint, outer) not in NESTED_BODIES):
                    unclassified.append(f"{route.method.upper()} {route.rule} {where} {field}")
                    continue
                assert need is not None and need in PERMISSIONS, (endpoint, need)
                who = next(r for r in MEMBER_ROLES if r in PERMISSIONS[need])
                client, token = clients[who], tokens[who]
                rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
                urls = list(_urls(rule, ids_a))
                # An action is reviewed on its plan, a factor on its assessment version.
                url = urls[-1] if field == "action_id" else urls[0]
                key = FIELD_ID_OF_ROUTE.get((route.endpoint, field), FIELD_ID_OF[leaf])
                loaded = _loaded(schema, field)
                answers = {}
                for label, value in (("own", ids_a[key]), ("foreign", ids_b[key]),
                                     ("absent", ABSENT_ID)):
                    payload = _valid(route.endpoint, client, token, base, ids_a)
                    if route.endpoint == "create_relationship":
                        payload |= {"person_a_id": ids_a["person"],
                                    "person_b_id": ids_a["person2"]}
                    elif route.endpoint == "create_presence":
                        payload |= {"person_id": ids_a["person"], "place_id": ids_a["place"]}
                    elif route.endpoint == "decide_flag":
                        payload |= {"source_place_id": ids_a["place"], "dest_id": ids_a["park"]}
                    if outer:  # one valid block (in a list when the field is one)
                        block = {**NESTED_BODIES[(route.endpoint, outer)],
                                 leaf: _fill(leaf, value, loaded)}
                        field_ = schema().load_fields[outer]
                        payload[outer] = [block] if _nested(field_) is not field_ else block
                    else:
                        payload[field] = _fill(field, value, loaded)
                    savepoint = connection.begin_nested()
                    try:
                        if where == "query":
                            r = client.open(url, method=route.method.upper(),
                                            query_string=payload,
                                            headers={"X-CSRFToken": token})
                        else:
                            r = client.open(url, method=route.method.upper(), json=payload,
                                            headers={"X-CSRFToken": token})
                    finally:
                        savepoint.rollback()
                    text_ = r.get_data(as_text=True)
                    for v in (ids_a[key], ids_b[key], ABSENT_ID):
                        text_ = re.sub(rf"\b{v}\b", "<id>", text_)
                    answers[label] = (r.status_code, text_, r.get_data(as_text=True))
                probes += 1
                what = f"{who:16} {route.method.upper():6} {url} {where} {field}"
                own, foreign, absent = answers["own"], answers["foreign"], answers["absent"]
                looked_up = OWN_ID_REFUSED_AFTER_LOOKUP.get(route.endpoint)
                if looked_up and own[0] == 422 and looked_up in own[2]:
                    pass
                elif own[0] in (400, 422) or own[0] >= 500:
                    failures.append(f"{what}: own id answered {own[0]} {own[2][:200]} "
                                    "(make _valid() give a valid request)")
                if foreign[0] >= 500:
                    failures.append(f"{what}: server error {foreign[0]}")
                elif route.method.upper() != "GET" and foreign[0] < 300:
                    failures.append(f"{what}: another pilot's id accepted ({foreign[0]})")
                elif (foreign[0], foreign[1]) != (absent[0], absent[1]):
                    failures.append(f"{what}: another pilot's id answered {foreign[0]} "
                                    f"{foreign[2][:200]!r}, an absent one {absent[0]} "
                                    f"{absent[2][:200]!r}")
                leaked = [s for s in secrets_b if s in foreign[2]]
                if leaked:
                    failures.append(f"{what}: the answer names {leaked}")
    assert not unclassified, ("Id fields with no entry in FIELD_ID_OF or GLOBAL_FIELDS "
                              "(tests/integration/test_route_matrix.py):\n"
                              + "\n".join(unclassified))
    figure(f"ids in query strings and bodies: {probes} fields probed")
    assert probes >= 30
    assert not failures, f"{len(failures)} of {probes} probes:\n" + "\n".join(failures)


# --- ids in the forms of pages ----------------------------------------------------------

# A page form field that names a record (a hidden input, a select, a checkbox list): the
# endpoint, the field, the seeded record its own value takes, who posts it, and the rest of
# a form the page accepts (``v`` is the id under test; ``x`` the seeded ids and helpers).
@dataclass
class FormProbe:
    endpoint: str
    field: str
    key: str
    who: str
    form: Any  # (v, x) -> dict
    url: str | None = None  # when the rule's first URL is not the one
    reads: tuple[str, ...] = ()  # the names the module reads it as besides ``field``
    absent: int = ABSENT_ID  # an id no record has (a field that takes at most 9 digits)
    prepare: Any = None  # (x) -> None, run inside each request's savepoint first


def _page_forms() -> list[FormProbe]:
    visit = {"started_at": "2025-02-04T17:00", "notes": "probe visit"}
    return [
        FormProbe("people_pages.add_relationship", "other_id", "person2", "practitioner",
                  lambda v, x: {"other_id": v, "type": "school_peer"}),
        FormProbe("people_pages.add_presence", "place_id", "place", "practitioner",
                  lambda v, x: {"place_id": v, "frequency": "weekly"}),
        # The person page the form came from: the presence or relationship must be that
        # person's (else 404, nothing changed), and a foreign page is not shown.
        FormProbe("people_pages.delete_presence", "person_id", "person", "practitioner",
                  lambda v, x: {"person_id": v}, absent=999_999_999),
        FormProbe("people_pages.edit_presence", "person_id", "person", "practitioner",
                  lambda v, x: {"person_id": v, "version": "1", "end": "1"},
                  absent=999_999_999),
        FormProbe("people_pages.edit_relationship", "person_id", "person", "practitioner",
                  lambda v, x: {"person_id": v, "version": "1", "end": "1"},
                  absent=999_999_999),
        FormProbe("people_pages.delete_relationship", "person_id", "person", "practitioner",
                  lambda v, x: {"person_id": v, "confirm": "on"}, absent=999_999_999),
        FormProbe("network.add_person", "place", "place", "practitioner",
                  lambda v, x: {"kind": "young_person", "age_band": "14-15", "place": v},
                  reads=("place_id",)),
        FormProbe("meetings.add_item", "place_id", "park", "practitioner",
                  lambda v, x: {"place_id": v}),
        FormProbe("meetings.item", "meeting_id", "meeting", "practitioner",
                  lambda v, x: {"op": "action", "description": "probe action",
                                "meeting_id": v}),
        FormProbe("referrals.new", "place_id", "place", "practitioner",
                  lambda v, x: {"context_kind": "place", "place_id": v,
                                "concern": "probe concern", "harm_types": "asb",
                                "referrer_name": "probe referrer"}),
        FormProbe("referrals.screen", "plan_id", "plan", "coordinator",
                  lambda v, x: {"version": x.version("referrals", "referral"),
                                "threshold_level": "targeted", "outcome": "level_1",
                                "reason": "probe reason", "plan_id": v,
                                "action_description": "probe action",
                                "action_category": "allocate_resources"}),
        FormProbe("plans.edit", "factor_ids", "assessment_factor", "practitioner",
                  lambda v, x: {"op": "add_action", "description": "probe action",
                                "category": "allocate_resources", "factor_ids": v}),
        FormProbe("plans.edit", "action_id", "action", "practitioner",
                  lambda v, x: {"op": "delete_action", "action_id": v}),
        FormProbe("plans.edit", "factor_id", "assessment_factor", "practitioner",
                  lambda v, x: {"op": "gap_reason", "reason": "probe reason",
                                "factor_id": v}),
        FormProbe("plans.edit", "kpi_id", "kpi", "practitioner",
                  lambda v, x: {"op": "measurement", "kpi_id": v,
                                "period_start": "2025-04-01", "value": "3",
                                "source": "probe"}),
        FormProbe("assessments.edit", "factor_id", "draft_factor", "practitioner",
                  lambda v, x: {"op": "remove_factor", "factor_id": v,
                                "version": x.version("assessments", "assessment2")},
                  url="/pilots/{pilot}/assessments/{assessment2}/edit"),
        FormProbe("reviews.give_review", "item", "assessment_factor", "partner_reviewer",
                  lambda v, x: {"decision": "comment", "comment": "probe comment",
                                "item": f"factor_id:{v}"}, reads=("factor_id",)),
        FormProbe("reviews.give_review", "item", "action", "partner_reviewer",
                  lambda v, x: {"decision": "comment", "comment": "probe comment",
                                "item": f"action_id:{v}"},
                  url="/pilots/{pilot}/plans/{plan}/review/give", reads=("action_id",),
                  prepare=lambda x: x.as_practitioner("POST", f"plans/{x.ids['plan']}/submit")),
        FormProbe("impact.decide", "source_place_id", "place", "practitioner",
                  lambda v, x: {"source_place_id": v, "dest_kind": "place",
                                "dest_id": x.ids["park"], "month": "2025-03",
                                "status": "dismissed", "reason": "probe reason"}),
        FormProbe("impact.decide", "dest_id", "park", "practitioner",
                  lambda v, x: {"source_place_id": x.ids["place"], "dest_kind": "place",
                                "dest_id": v, "month": "2025-03",
                                "status": "dismissed", "reason": "probe reason"}),
        FormProbe("safety_pages.create", "area_place", "park", "practitioner",
                  lambda v, x: {"drawn_on": "2025-02-05", "respondent_kind": "group",
                                "respondent_group": "probe group", "area_rating": "red",
                                "area_reason": "probe reason", "area_geometry": "",
                                "area_place": v}, reads=("place_id",)),
        FormProbe("fieldwork.record_visit", "place_id", "place", "practitioner",
                  lambda v, x: {"place_id": v, **visit}),
        FormProbe("places_pages.add_factor", "incident_ids", "incident", "practitioner",
                  lambda v, x: {"quadrant": "risk", "statement": "probe factor",
                                "weight": "1", "incident_ids": v}),
        FormProbe("places_pages.add_factor", "observation_ids", "observation",
                  "practitioner",
                  lambda v, x: {"quadrant": "risk", "statement": "probe factor",
                                "weight": "1", "observation_ids": v}),
        FormProbe("places_pages.add_factor", "engagement_ids", "engagement", "practitioner",
                  lambda v, x: {"quadrant": "risk", "statement": "probe factor",
                                "weight": "1", "engagement_ids": v}),
        FormProbe("places_pages.add_engagement", "place_ids", "park", "practitioner",
                  lambda v, x: {"held_on": "2025-02-07", "with_group": "children",
                                "summary": "probe listening", "place_ids": v}),
        FormProbe("incidents_pages.save", "place_id", "place", "practitioner",
                  lambda v, x: {"version": x.version("incidents", "incident"),
                                "severity": "1", "place_id": v}),
        FormProbe("admin.remove_member", "membership_id", "membership", "coordinator",
                  lambda v, x: {"membership_id": v}),
        # A weighting context linked to the pilot's record of it (issue 19).
        FormProbe("assessments.edit", "place_id", "park", "practitioner",
                  lambda v, x: {"op": "add_context", "name": "", "share": "20",
                                "reason": "probe reason", "place_id": v,
                                "version": x.version("assessments", "assessment2")},
                  url="/pilots/{pilot}/assessments/{assessment2}/edit"),
    ]


# Id-like names the page modules read that are no id of one pilot's record in a form: why.
PAGE_ID_NAMES_NOT_PROBED = {
    "pilot_id": "the path's, or an auditor's filter over every pilot",
    "agency_id": "agencies belong to no pilot", "agency_ids": "agencies belong to no pilot",
    "owner_agency_id": "agencies belong to no pilot",
    "action_owner_agency_id": "agencies belong to no pilot",
    "referrer_agency_id": "agencies belong to no pilot",
    "source_agency_id": "agencies belong to no pilot",
    "feature_id": "the base map's features (admins), shared by every pilot",
    "user_id": "the signed-in user (login code step)", "author_id": "an output key",
    "reviewer_id": "users, checked to be members of the pilot by the service",
    "before_id": "the audit trail's paging (auditors)", "next_before_id": "an output key",
    "entity_id": "the audit trail's filter (auditors, every pilot)",
    "assessment_id": "an output key (a redirect's target)",
    "layer_ids": "the displacement watch's query (GET), probed as the API's",
    "buffer_place_ids": "the impact page's query (GET), probed as the API's",
    "import_id": "a path argument", "data_import_id": "the incident table's query (GET)",
    "imports.py: place": "OSM elements picked from the uploaded extract, no pilot's records",
    "plans.py: plan_id": "an output key (a conflict's plan, to link to)",
    "contexts.py: place_id": "the school start form calls contexts.start_school, as the "
                             "API's start_school does, whose body place_id is probed",
    "fieldwork.py: incident_id": "path arguments, and the photo's own record's keys",
    "fieldwork.py: observation_id": "path arguments, and the photo's own record's keys",
    "partner_forms.py: form_id": "admins only (who manage every pilot); "
                                 "partner_forms.set_enabled refuses another pilot's form",
    "partner_forms.py: place_id": "the public form goes through referrals.create_referral, "
                                  "whose place_id the referrals.new probe covers",
}
# Page modules' own form readers (besides literal names ending in _id/_ids).
_PAGE_EXTRA_NAMES = frozenset({"place", "area_place", "item"})


def _page_id_names() -> set[tuple[str, str]]:
    """(module, name) of every id-like string literal in the page modules."""
    import pathlib

    import locmap.web as web
    found = set()
    for path in pathlib.Path(web.__file__).parent.glob("*.py"):
        text = path.read_text()
        for name in set(re.findall(r'"([a-z_]+_ids?)"', text)):
            found.add((path.stem, name))
        for name in _PAGE_EXTRA_NAMES:
            if re.search(rf'getlist\("{name}"\)', text):
                found.add((path.stem, name))
    return found


class _FormContext:
    def __init__(self, client: Any, token: str, base: str, ids: dict[str, Any]) -> None:
        self.client, self.token, self.base, self.ids = client, token, base, ids
        self.practitioner: tuple[Any, str] = (client, token)

    def version(self, kind: str, key: str) -> int:
        return _version(self.client, self.token, f"{self.base}/{kind}/{self.ids[key]}")

    def as_practitioner(self, method: str, path: str) -> Any:
        return _api(self.practitioner[0], self.practitioner[1], method,
                    f"{self.base}/{path}", {})


def test_another_pilots_ids_in_page_forms_answer_as_absent_ones(
        app: Flask, connection: Connection, session: Session, world: factories.World,
        matrix_world: dict[str, Any], figure: Callable[[str], None]) -> None:
    """A's member posts a page's form with B's id in one id field at a time: the answer
    (after its redirect) is the one an id that does not exist gets, never B's names, never
    a 5xx; A's own id first proves the rest of the form is valid. Every id-like name the
    page modules read is probed here or says in PAGE_ID_NAMES_NOT_PROBED why not."""
    clients: dict[str, Any] = {}
    tokens: dict[str, str] = {}
    for who in (*MEMBER_ROLES, "outsider"):
        c = app.test_client()
        r = c.post("/login", data={"email": f"{who}@test.invalid",
                                   "password": factories.PASSWORD,
                                   "csrf_token": _csrf(c, "/login")})
        assert r.status_code == 302, (who, r.status_code)
        clients[who], tokens[who] = c, _csrf(c, "/")
    a, b = world.pilot, world.other_pilot
    ids_a = _seed(session, clients["practitioner"], tokens["practitioner"], a.id,
                  world.users["practitioner"].id,
                  [world.places["park"], world.places["cafe"]], world.person, "Alpha")
    ids_b = _seed(session, clients["outsider"], tokens["outsider"], b.id,
                  world.users["outsider"].id, matrix_world["b_places"],
                  matrix_world["b_person"], "Bravo")
    base = f"/api/v1/pilots/{a.id}"
    for ids, who in ((ids_a, "practitioner"), (ids_b, "outsider")):
        draft = _api(clients[who], tokens[who], "GET",
                     f"/api/v1/pilots/{ids['pilot']}/assessments/{ids['assessment2']}")
        ids["draft_factor"] = draft["factors"][0]["id"]
    secrets_b = ("Other Pilot", "Bravo ", "YP-901")
    forms = _page_forms()
    # A blueprint is named as its module (locmap/web/<name>.py).
    probed_names = {(f.endpoint.split(".")[0], name) for f in forms
                    for name in (f.field, *f.reads)}
    unclassified = sorted(f"{module}.py: {name}" for module, name in _page_id_names()
                          if (module, name) not in probed_names
                          and name not in PAGE_ID_NAMES_NOT_PROBED
                          and f"{module}.py: {name}" not in PAGE_ID_NAMES_NOT_PROBED)
    failures = []
    for p in forms:
        client, token = clients[p.who], tokens[p.who]
        rule = next(r for r in app.url_map.iter_rules()
                    if r.endpoint == p.endpoint and "POST" in (r.methods or ()))
        url = (p.url.format(**ids_a) if p.url else next(_urls(rule, ids_a)))
        ctx = _FormContext(client, token, base, ids_a)
        ctx.practitioner = (clients["practitioner"], tokens["practitioner"])
        answers = {}
        for label, value in (("own", ids_a[p.key]), ("foreign", ids_b[p.key]),
                             ("absent", p.absent)):
            form = {k: str(v) for k, v in p.form(value, ctx).items()}
            savepoint = connection.begin_nested()
            try:
                if p.prepare is not None:
                    p.prepare(ctx)
                r = client.post(url, data={**form, "csrf_token": token},
                                headers={"X-CSRFToken": token}, follow_redirects=True)
            finally:
                savepoint.rollback()
            body = r.get_data(as_text=True)
            text_ = body
            for v in (ids_a[p.key], ids_b[p.key], p.absent):
                text_ = re.sub(rf"\b{v}\b", "<id>", text_)
            answers[label] = (r.status_code, text_, body, r.request.path)
        what = f"{p.who:16} POST {url} {p.field}"
        own, foreign, absent = answers["own"], answers["foreign"], answers["absent"]
        looked_up = OWN_ID_REFUSED_AFTER_LOOKUP.get(
            {"impact.decide": "decide_flag"}.get(p.endpoint, p.endpoint))
        if looked_up and looked_up in own[2]:
            pass
        elif own[0] >= 400 or "flash-error" in own[2] or 'class="form-error"' in own[2]:
            failures.append(f"{what}: own id answered {own[0]} at {own[3]} "
                            f"{_flash(own[2])!r} (make the form valid)")
        if foreign[0] >= 500:
            failures.append(f"{what}: server error {foreign[0]}")
        elif (foreign[0], _flash(foreign[1])) != (absent[0], _flash(absent[1])) or (
                foreign[3] != absent[3]
                and re.sub(rf"\b{ids_b[p.key]}\b", "<id>", foreign[3])  # not inside /236/
                != re.sub(rf"\b{p.absent}\b", "<id>", absent[3])):
            failures.append(f"{what}: another pilot's id answered {foreign[0]} at "
                            f"{foreign[3]} {_flash(foreign[1])!r}, an absent one "
                            f"{absent[0]} at {absent[3]} {_flash(absent[1])!r}")
        leaked = [s for s in secrets_b if s in foreign[2]]
        if leaked:
            failures.append(f"{what}: the answer names {leaked}")
    figure(f"ids in page forms: {len(forms)} fields probed")
    assert not failures, f"{len(failures)} of {len(forms)} probes:\n" + "\n".join(failures)
    assert not unclassified, ("Id-like form fields of pages neither probed (_page_forms) "
                              "nor in PAGE_ID_NAMES_NOT_PROBED:\n" + "\n".join(unclassified))


def _flash(html: str) -> str:
    """The page's messages (and error line): what the user is told."""
    found = re.findall(r'class="[^"]*(?:flash|error|alert)[^"]*"[^>]*>(.*?)</', html, re.S)
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    return " | ".join([*(m.strip() for m in found), title.group(1).strip() if title else ""])
