"""Partner review end to end through the API: request → comment on a factor → request
changes → new version → approve → approved, immutable, the earlier version superseded."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.errors import Forbidden
from locmap.models import Agency, Assessment, AuditEvent, SafetyFactor
from locmap.services import accounts, reviews
from tests import factories


def _csrf(client: Any) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True))
    assert m
    return m.group(1)


def _api(client: Any, method: str, url: str, json: Any = None) -> Any:
    return client.open(url, method=method, json=json, headers={"X-CSRFToken": _csrf(client)})


@pytest.fixture
def setup(session: Session, world: factories.World) -> dict[str, Any]:
    cafe = world.places["cafe"]
    session.add_all([
        SafetyFactor(place_id=cafe.id, quadrant="risk", statement="Dealing near the door",
                     weight=3, voice="professional"),
        SafetyFactor(place_id=cafe.id, quadrant="resource", statement="Staff willing to help",
                     weight=1, voice="business")])
    session.commit()
    return {"pilot": world.pilot.id, "place": cafe.id, "world": world,
            "base": f"/api/v1/pilots/{world.pilot.id}"}


def _submitted(client: Any, auth: Any, setup: dict[str, Any]) -> dict[str, Any]:
    auth.login("practitioner@test.invalid")
    a = _api(client, "POST", f"{setup['base']}/places/{setup['place']}/assessments").get_json()
    r = _api(client, "POST", f"{setup['base']}/assessments/{a['id']}/submit", {})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_request_changes_then_new_version_approved(client: Any, auth: Any,
                                                   setup: dict[str, Any],
                                                   session: Session) -> None:
    base, w = setup["base"], setup["world"]
    reviewer = w.users["partner_reviewer"]
    v1 = _submitted(client, auth, setup)
    url1 = f"{base}/assessments/{v1['id']}"
    # Only the pilot's partner reviewers can be asked.
    bad = _api(client, "POST", f"{url1}/review-requests",
               {"reviewer_ids": [w.users["coordinator"].id]})
    assert bad.status_code == 422
    r = _api(client, "POST", f"{url1}/review-requests", {"reviewer_ids": [reviewer.id]})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["versions"][0]["label"] == "awaiting review"
    # A practitioner cannot give a review, let alone approve.
    assert _api(client, "POST", f"{url1}/reviews", {"decision": "approve"}).status_code == 403
    auth.logout()

    auth.login("partner_reviewer@test.invalid")
    door = next(f for f in v1["factors"] if f["statement"] == "Dealing near the door")
    r = _api(client, "POST", f"{url1}/reviews",
             {"decision": "comment", "comment": "Which hours?", "factor_id": door["id"]})
    assert r.status_code == 201, r.get_json()
    # A reviewer cannot edit the assessment.
    assert _api(client, "PATCH", url1, {"version": 1, "environment": "x"}).status_code == 403
    # A request for changes needs text; with text it stands.
    assert _api(client, "POST", f"{url1}/reviews",
                {"decision": "request_changes"}).status_code == 422
    r = _api(client, "POST", f"{url1}/reviews",
             {"decision": "request_changes", "comment": "Weight 3 is not evidenced",
              "factor_id": door["id"]})
    h = r.get_json()
    assert h["versions"][0]["label"] == "changes requested"
    assert h["versions"][0]["status"] == "in_review"  # frozen, not sent back to draft
    assert [c["item"] for c in h["versions"][0]["reviews"]] == [
        "risk: Dealing near the door", "risk: Dealing near the door"]
    auth.logout()

    auth.login("practitioner@test.invalid")
    v2 = _api(client, "POST", f"{url1}/new-version").get_json()
    door2 = next(f for f in v2["factors"] if f["statement"] == "Dealing near the door")
    _api(client, "PATCH", f"{base}/assessments/{v2['id']}",
         {"version": v2["version"], "update_factor": {"id": door2["id"], "weight": 2}})
    assert _api(client, "POST", f"{base}/assessments/{v2['id']}/submit", {}).status_code == 200
    url2 = f"{base}/assessments/{v2['id']}"
    assert _api(client, "POST", f"{url2}/review-requests",
                {"reviewer_ids": [reviewer.id]}).status_code == 201
    auth.logout()

    auth.login("partner_reviewer@test.invalid")
    # The superseded version can no longer be reviewed.
    assert _api(client, "POST", f"{url1}/reviews",
                {"decision": "approve"}).status_code == 409
    r = _api(client, "POST", f"{url2}/reviews", {"decision": "approve"})
    assert r.status_code == 201, r.get_json()
    h = r.get_json()
    by_no = {v["version_no"]: v for v in h["versions"]}
    assert by_no[2]["status"] == "approved" and by_no[2]["approved_at"]
    assert by_no[1]["status"] == "superseded" and by_no[1]["label"] == "changes requested"
    assert by_no[2]["diff"]["factors_changed"][0]["weight_after"] == 2
    assert {e["action"] for e in h["events"]} >= {"create", "submit", "request_review",
                                                  "review", "approve"}
    # Approved is final: a second decision answers 409.
    assert _api(client, "POST", f"{url2}/reviews",
                {"decision": "request_changes", "comment": "late"}).status_code == 409
    auth.logout()

    auth.login("practitioner@test.invalid")
    r = _api(client, "PATCH", url2, {"version": v2["version"], "environment": "late edit"})
    assert r.status_code == 409
    assert session.get(Assessment, v2["id"]).status == "approved"
    # Pages: the history page shows both versions and the factor comment.
    page = client.get(f"/pilots/{setup['pilot']}/assessments/{v2['id']}/review")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Weight 3 is not evidenced" in html
    assert 'id="version-state">approved<' in html
    events = session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity == "assessment", AuditEvent.entity_id == str(v2["id"]))).all()
    assert "approve" in events


def test_outsider_and_uninvited_reviewer(client: Any, auth: Any, setup: dict[str, Any],
                                         session: Session) -> None:
    base = setup["base"]
    v1 = _submitted(client, auth, setup)
    url = f"{base}/assessments/{v1['id']}"
    auth.logout()
    auth.login("outsider@test.invalid")
    assert _api(client, "GET", f"{url}/history").status_code == 404
    assert _api(client, "POST", f"{url}/reviews", {"decision": "approve"}).status_code == 404
    assert client.get(f"/pilots/{setup['pilot']}/assessments/{v1['id']}/review"
                      ).status_code == 404
    auth.logout()
    # Not asked yet: a reviewer may comment but not decide.
    auth.login("partner_reviewer@test.invalid")
    assert _api(client, "POST", f"{url}/reviews",
                {"decision": "comment", "comment": "Noted"}).status_code == 201
    assert _api(client, "POST", f"{url}/reviews", {"decision": "approve"}).status_code == 403
    # A factor from another version is refused.
    other = SafetyFactor(place_id=setup["place"], quadrant="risk", statement="elsewhere")
    session.add(other)
    session.commit()
    assert _api(client, "POST", f"{url}/reviews", {"decision": "comment", "comment": "x",
                                                   "factor_id": other.id}).status_code == 422


def test_one_per_agency_and_own_version(client: Any, auth: Any, setup: dict[str, Any],
                                        session: Session) -> None:
    w = setup["world"]
    agency = session.scalar(select(Agency).where(Agency.name == "Test Community Safety"))
    assert agency is not None
    second = factories.make_user(session, "reviewer2@test.invalid",
                                 agency="Test Community Safety")
    accounts.add_membership(session, None, second, w.pilot, "partner_reviewer")
    w.users["partner_reviewer"].agency_id = agency.id
    w.pilot.approval_rule = "one_per_agency"
    session.commit()
    v1 = _submitted(client, auth, setup)
    url = f"{setup['base']}/assessments/{v1['id']}"
    r = _api(client, "POST", f"{url}/review-requests", {"agency_ids": [agency.id]})
    assert r.status_code == 201
    assert r.get_json()["versions"][0]["requests"][0]["to"] == (
        "any reviewer of Test Community Safety")
    auth.logout()
    auth.login("reviewer2@test.invalid")
    r = _api(client, "POST", f"{url}/reviews", {"decision": "approve"})
    assert r.get_json()["versions"][0]["status"] == "approved"  # one of the agency is enough

    # Nobody reviews their own version.
    a = session.get(Assessment, v1["id"])
    a.status, a.created_by_id = "in_review", second.id
    session.commit()
    actor = accounts.actor_for(session, second)
    with pytest.raises(Forbidden, match="you wrote"):
        reviews.give_review(session, actor, w.pilot.id, "assessment", a.id,
                            decision="approve")


def test_an_approved_version_stays_in_force_until_its_successor_is_approved(
        client: Any, auth: Any, setup: dict[str, Any], session: Session) -> None:
    base, w = setup["base"], setup["world"]
    v1 = _submitted(client, auth, setup)
    url1 = f"{base}/assessments/{v1['id']}"
    reviewer = w.users["partner_reviewer"]
    assert _api(client, "POST", f"{url1}/review-requests",
                {"reviewer_ids": [reviewer.id]}).status_code == 201
    auth.logout()
    auth.login("partner_reviewer@test.invalid")
    assert _api(client, "POST", f"{url1}/reviews", {"decision": "approve"}).status_code == 201
    auth.logout()
    auth.login("practitioner@test.invalid")
    v2 = _api(client, "POST", f"{url1}/new-version").get_json()
    url2 = f"{base}/assessments/{v2['id']}"
    assert _api(client, "POST", f"{url2}/submit", {}).status_code == 200
    # v2 is only under review: v1 is still the approved assessment of the place.
    assert session.get(Assessment, v1["id"]).status == "approved"
    assert _api(client, "POST", f"{url2}/review-requests",
                {"reviewer_ids": [reviewer.id]}).status_code == 201
    auth.logout()
    auth.login("partner_reviewer@test.invalid")
    assert _api(client, "POST", f"{url2}/reviews", {"decision": "approve"}).status_code == 201
    session.expire_all()
    assert session.get(Assessment, v1["id"]).status == "superseded"
    assert session.get(Assessment, v2["id"]).status == "approved"
