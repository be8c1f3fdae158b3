"""Every route × every principal: the permission table, proved over the whole URL map.

The rules come from ``app.url_map`` (every method but HEAD and OPTIONS), so a new route is
probed the day it is added — and fails here until ``REQUIRED`` says what it needs. The
expected outcome of each request comes from ``REQUIRED`` (endpoint and method → the
permission it needs, or "public" / "login") and the permission table as it is at run time
(``PERMISSIONS``), never from a list of roles written here:

- anonymous: 401 JSON for the API, a redirect to the login form for pages (public routes
  answer without a login);
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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from geoalchemy2.shape import from_shape
from shapely.geometry import Point, box
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from locmap.models import Agency, DataImport, Identity, Membership, Person, Place, User
from locmap.services import accounts, import_jobs
from locmap.services.permissions import PERMISSIONS
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
    ("auth.login", "GET"): PUBLIC,
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
    ("api.list_observations", "GET"): "evidence.view",
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
    ("api.create_awareness", "POST"): "evidence.edit",
    ("places_pages.add_awareness", "POST"): "evidence.edit",
    ("places_pages.add_engagement", "POST"): "evidence.edit",
    ("places_pages.add_factor", "POST"): "evidence.edit",
    ("places_pages.edit_factor", "POST"): "evidence.edit",
    ("places_pages.add_observation", "POST"): "evidence.edit",
    ("places_pages.edit_observation", "POST"): "evidence.edit",
    ("places_pages.delete_observation", "POST"): "evidence.edit",
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
    # the audit trail (issue 15)
    ("audit.index", "GET"): AUDITOR,
    ("audit.export_csv", "GET"): AUDITOR,
    ("audit.who_has_seen", "GET"): AUDITOR,
    ("audit.verify", "POST"): AUDITOR,
    ("api.audit_events", "GET"): AUDITOR,
    ("api.audit_who_has_seen", "GET"): AUDITOR,
    ("api.audit_verify", "GET"): AUDITOR,
}
# Pages where an admin (no member of the pilot) may act as the coordinator does.
ADMIN_TOO = frozenset({"admin.members", "admin.remove_member"})

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
    "membership_id": "membership",
}
SUBJECT_OF_KIND = {"assessments": "assessment", "plans": "plan"}
FIXED = {"filename": "css/locmap.css", "label": "A"}

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
    ids: dict[str, Any] = {"pilot": pilot_id, "place": cafe.id}
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
    _api(client, token, "POST", f"{base}/engagement", {
        "held_on": "2025-02-05", "with_group": "children",
        "summary": f"{tag} listening", "place_ids": [cafe.id]})
    _api(client, token, "POST", f"{base}/awareness", {
        "held_on": "2025-02-06", "audience": f"{tag} staff", "place_ids": [cafe.id]})
    _api(client, token, "PUT", f"{base}/network/purpose", {
        "purpose": f"{tag} peer map", "lawful_basis": "Children Act 1989 s.47"})
    other = _api(client, token, "POST", f"{base}/people",
                 {"kind": "young_person", "age_band": "14-15"})
    ids["person"] = person.id
    ids["relationship"] = _api(client, token, "POST", f"{base}/relationships", {
        "person_a_id": person.id, "person_b_id": other["id"], "type": "friend"})["id"]
    ids["presence"] = _api(client, token, "POST", f"{base}/presences", {
        "person_id": person.id, "place_id": park.id})["id"]
    ids["assessment"] = _api(client, token, "POST",
                             f"{base}/places/{cafe.id}/assessments")["id"]
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
    session.add(done)
    session.commit()
    ids["import"] = done.id
    return ids


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
    return any(name not in ("pilot_id", "filename", "label")
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
    api = probe.url.startswith("/api/")
    if probe.expect == "public":
        # A login with no credentials is a 401; anything else public answers.
        refused = (403, 404) if probe.endpoint == "auth.login" else (401, 403, 404)
        return f"public route answered {status}" if status in refused else None
    if probe.expect == "anonymous":
        if api:
            return None if status == 401 else f"anonymous API request got {status}, not 401"
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


def test_every_route_for_every_principal(app: Flask, connection: Connection,
                                          session: Session, world: factories.World,
                                          matrix_world: dict[str, Any]) -> None:
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
    print(f"\nroute matrix: {len(probes)} requests over "
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
