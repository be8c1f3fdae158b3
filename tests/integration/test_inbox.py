"""The inbox, one review status on every page, and the plan's approval waiting for its
assessment (issue 16 "Workflow leaks"), against real PostGIS."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import Conflict, Forbidden, InvalidData
from locmap.models import Agency, AuditEvent, InboxState, SafetyFactor
from locmap.services import accounts, assessments, inbox, mail, plans, reviews
from tests import factories


def _csrf(client: Any) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True))
    assert m
    return m.group(1)


def _api(client: Any, method: str, url: str, json: Any = None) -> Any:
    return client.open(url, method=method, json=json, headers={"X-CSRFToken": _csrf(client)})


@pytest.fixture
def flow(session: Session, world: factories.World) -> dict[str, Any]:
    cafe = world.places["cafe"]
    session.add_all([
        SafetyFactor(place_id=cafe.id, quadrant="risk", statement="Dealing near the door",
                     weight=3, voice="professional"),
        SafetyFactor(place_id=cafe.id, quadrant="resource", statement="Staff willing to help",
                     weight=1, voice="business")])
    session.commit()
    who = {role: accounts.actor_for(session, world.users[role])
           for role in ("coordinator", "practitioner", "partner_reviewer")}
    return {"w": world, "pilot": world.pilot.id, "place": cafe.id, **who}


def _submitted_assessment(session: Session, f: dict[str, Any], *, ask: bool = True) -> int:
    a = assessments.start_assessment(session, f["practitioner"], f["pilot"], f["place"])
    assessments.submit_assessment(session, f["practitioner"], f["pilot"], a.id)
    if ask:
        reviews.request_review(session, f["practitioner"], f["pilot"], "assessment", a.id,
                               reviewer_ids=[f["w"].users["partner_reviewer"].id])
    return a.id


def _submitted_plan(session: Session, f: dict[str, Any], assessment_id: int) -> int:
    p = plans.create_plan(session, f["practitioner"], f["pilot"], assessment_id,
                          starts_on=dt.date(2026, 1, 5))
    plans.add_action(session, f["practitioner"], p.id, {
        "description": "Ask the owner to light the door", "category": "do_things_differently",
        "lead": "coordinator", "due_on": "2026-03-01"}, pilot_id=f["pilot"])
    reviews.submit_plan(session, f["practitioner"], f["pilot"], p.id)
    reviews.request_review(session, f["practitioner"], f["pilot"], "plan", p.id,
                           reviewer_ids=[f["w"].users["partner_reviewer"].id])
    return p.id


def _types(session: Session, actor: Any, **kw: Any) -> dict[str, dict[str, Any]]:
    return {i["key"]: i for i in inbox.items(session, actor, **kw)}


def test_review_request_changes_and_approval_reach_the_right_inboxes(
        session: Session, flow: dict[str, Any]) -> None:
    f = flow
    aid = _submitted_assessment(session, f)
    rev = _types(session, f["partner_reviewer"])
    assert rev[f"review:assessment:{aid}"]["read"] is False
    assert inbox.unread_count(session, f["partner_reviewer"]) >= 1
    # Nothing for the author yet.
    assert not [k for k in _types(session, f["practitioner"]) if k.startswith(("changes",
                                                                             "approved"))]
    review = reviews.give_review(session, f["partner_reviewer"], f["pilot"], "assessment", aid,
                                 decision="request_changes", comment="Evidence the weight 3")
    author = _types(session, f["practitioner"])
    item = author[f"changes:{review.id}"]
    assert item["type"] == "changes" and "Evidence the weight 3" in item["detail"]
    assert item["target"] == {"kind": "assessment", "id": aid}
    # The reviewer decided: the request leaves the reviewer's inbox.
    assert f"review:assessment:{aid}" not in _types(session, f["partner_reviewer"])
    v2 = assessments.new_version(session, f["practitioner"], f["pilot"], aid)
    assessments.submit_assessment(session, f["practitioner"], f["pilot"], v2.id)
    reviews.request_review(session, f["practitioner"], f["pilot"], "assessment", v2.id,
                           reviewer_ids=[f["w"].users["partner_reviewer"].id])
    assert f"review:assessment:{v2.id}" in _types(session, f["partner_reviewer"])
    reviews.give_review(session, f["partner_reviewer"], f["pilot"], "assessment", v2.id,
                        decision="approve")
    assert _types(session, f["practitioner"])[f"approved:assessment:{v2.id}"]["read"] is False


def test_read_and_unread_are_per_user_and_only_for_own_items(
        session: Session, flow: dict[str, Any]) -> None:
    f = flow
    aid = _submitted_assessment(session, f)
    key = f"review:assessment:{aid}"
    before = inbox.unread_count(session, f["partner_reviewer"])
    assert inbox.mark_read(session, f["partner_reviewer"], [key]) == 1
    assert _types(session, f["partner_reviewer"])[key]["read"] is True
    assert inbox.unread_count(session, f["partner_reviewer"]) == before - 1
    # Someone else's item cannot be marked (nor can a made-up one).
    with pytest.raises(InvalidData):
        inbox.mark_read(session, f["practitioner"], [key])
    with pytest.raises(InvalidData):
        inbox.mark_read(session, f["partner_reviewer"], ["changes:999999"])
    inbox.mark_read(session, f["partner_reviewer"], [key], unread=True)
    assert _types(session, f["partner_reviewer"])[key]["read"] is False
    inbox.mark_read(session, f["partner_reviewer"], every=True)
    assert inbox.unread_count(session, f["partner_reviewer"]) == 0
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.entity == "inbox"))


def test_overdue_actions_and_review_points_due_within_14_days(
        session: Session, flow: dict[str, Any]) -> None:
    f = flow
    aid = _submitted_assessment(session, f)
    pid = _submitted_plan(session, f, aid)
    coord = f["coordinator"]
    # The action (lead "coordinator", due 2026-03-01) is overdue the day after, not before.
    on_time = _types(session, coord, today=dt.date(2026, 3, 1))
    late = _types(session, coord, today=dt.date(2026, 3, 2))
    assert not [k for k in on_time if k.startswith("overdue:")]
    overdue = [i for k, i in late.items() if k.startswith("overdue:")]
    assert len(overdue) == 1 and overdue[0]["target"] == {"kind": "plan", "id": pid}
    # Review points: due within 14 days (or overdue) and not held.
    points = f["w"].pilot.review_points
    first = points[0].due_on
    near = _types(session, coord, today=first - dt.timedelta(days=14))
    far = _types(session, coord, today=first - dt.timedelta(days=15))
    assert f"review_point:{points[0].id}" in near
    assert f"review_point:{points[0].id}" not in far


def test_new_items_are_emailed_once_when_smtp_is_configured(
        session: Session, flow: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    f = flow
    _submitted_assessment(session, f)
    assert inbox.mail_new_items(session) == 0  # no SMTP: nothing sent, nothing marked
    assert not session.scalar(select(InboxState.item_key).where(
        InboxState.mailed_at.is_not(None)))
    sent: list[tuple[str, str, str]] = []
    monkeypatch.setenv("LOCMAP_SMTP_HOST", "smtp.test.invalid")
    monkeypatch.setattr(mail, "send", lambda to, subject, body: sent.append((to, subject,
                                                                             body)))
    inbox.mail_new_items(session, base_url="https://locmap.test.invalid")
    to_reviewer = [m for m in sent if m[0] == "partner_reviewer@test.invalid"]
    assert len(to_reviewer) == 1
    assert "Review requested: Test Cafe" in to_reviewer[0][2]
    assert "https://locmap.test.invalid/inbox" in to_reviewer[0][2]
    sent.clear()
    inbox.mail_new_items(session)
    assert not [m for m in sent if m[0] == "partner_reviewer@test.invalid"]


def test_a_plan_waits_for_its_assessment_then_is_approved_with_it(
        session: Session, flow: dict[str, Any]) -> None:
    f = flow
    aid = _submitted_assessment(session, f)
    pid = _submitted_plan(session, f, aid)
    reviews.give_review(session, f["partner_reviewer"], f["pilot"], "plan", pid,
                        decision="approve")
    plan = reviews.load_subject(session, "plan", pid)
    assert plan is not None and plan.status == "in_review"
    assert reviews.version_label(session, f["practitioner"], f["pilot"], "plan", pid) \
        == "waiting for its assessment"
    assert session.scalar(select(AuditEvent.id).where(
        AuditEvent.entity == "plan", AuditEvent.entity_id == str(pid),
        AuditEvent.action == "approval_blocked"))
    # Approving the assessment approves the plan that only waited for it.
    reviews.give_review(session, f["partner_reviewer"], f["pilot"], "assessment", aid,
                        decision="approve")
    session.refresh(plan)
    assert plan.status == "approved"


def test_a_coordinator_override_with_a_reason_is_recorded(
        session: Session, flow: dict[str, Any]) -> None:
    f = flow
    aid = _submitted_assessment(session, f)
    pid = _submitted_plan(session, f, aid)
    with pytest.raises(Forbidden):
        reviews.override_plan_block(session, f["practitioner"], f["pilot"], pid,
                                    reason="Board meets tomorrow")
    with pytest.raises(InvalidData):
        reviews.override_plan_block(session, f["coordinator"], f["pilot"], pid, reason="  ")
    plan = reviews.override_plan_block(session, f["coordinator"], f["pilot"], pid,
                                       reason="Board meets tomorrow")
    assert plan.status == "in_review"  # the reviewers have not approved yet
    reviews.give_review(session, f["partner_reviewer"], f["pilot"], "plan", pid,
                        decision="approve")
    assert plan.status == "approved"
    events = {e.action: e.detail for e in session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "plan", AuditEvent.entity_id == str(pid)))}
    assert events["approval_override"]["reason"] == "Board meets tomorrow"
    assert events["approve"]["override_reason"] == "Board meets tomorrow"
    from locmap.services import review_history

    h = review_history.history(session, f["practitioner"], f["pilot"], "plan", pid, threshold=5)
    v = next(x for x in h["versions"] if x["id"] == pid)
    assert v["override"]["reason"] == "Board meets tomorrow"
    assert v["override"]["by"] == "coordinator"
    # Nothing left to override once approved.
    with pytest.raises(Conflict):
        reviews.override_plan_block(session, f["coordinator"], f["pilot"], pid, reason="again")


def test_one_status_on_overview_assessment_and_review_pages(
        client: Any, auth: Any, session: Session, flow: dict[str, Any]) -> None:
    f = flow
    aid = _submitted_assessment(session, f, ask=False)
    session.commit()
    auth.login("practitioner@test.invalid")
    pages = {"overview": f"/pilots/{f['pilot']}/overview",
             "assessment": f"/pilots/{f['pilot']}/assessments/{aid}",
             "review": f"/pilots/{f['pilot']}/assessments/{aid}/review"}

    def states() -> dict[str, set[str]]:
        out = {}
        for name, url in pages.items():
            html = client.get(url).get_data(as_text=True)
            out[name] = set(re.findall(r'class="state state-([a-z-]+)"', html)) & {
                "not-yet-sent", "awaiting-review", "in-review"}
        return out

    assert states() == {k: {"not-yet-sent"} for k in pages}
    r = _api(client, "POST", f"/api/v1/pilots/{f['pilot']}/assessments/{aid}/review-requests",
             {"reviewer_ids": [f["w"].users["partner_reviewer"].id]})
    assert r.status_code == 201
    assert states() == {k: {"awaiting-review"} for k in pages}


def test_one_status_on_the_place_plan_compare_and_new_assessment_pages(
        client: Any, auth: Any, session: Session, flow: dict[str, Any]) -> None:
    """Every page listing a version shows the status the review page shows, never the
    stored lifecycle word ("in review" while nobody was asked)."""
    f = flow
    aid = _submitted_assessment(session, f, ask=False)
    plan = plans.create_plan(session, f["practitioner"], f["pilot"], aid,
                             starts_on=dt.date(2026, 1, 5))
    session.commit()
    auth.login("practitioner@test.invalid")
    base = f"/pilots/{f['pilot']}"
    pages = {"place": f"{base}/places/{f['place']}",
             "new assessment": f"{base}/places/{f['place']}/assessments/new",
             "plans of the assessment": f"{base}/assessments/{aid}/plans",
             "plans of the place": f"{base}/places/{f['place']}/plans",
             "plan": f"{base}/plans/{plan.id}"}

    def states() -> dict[str, set[str]]:
        out = {}
        for name, url in pages.items():
            html = client.get(url).get_data(as_text=True)
            assert "in review" not in html and "in_review" not in html, name
            out[name] = set(re.findall(r'class="state state-([a-z-]+)"', html))
        return out

    # The plan lists and the plan page show the draft plan too.
    drafts = {"plans of the assessment", "plans of the place", "plan"}
    assert states() == {k: {"not-yet-sent"} | ({"draft"} if k in drafts else set())
                        for k in pages}
    reviews.request_review(session, f["practitioner"], f["pilot"], "assessment", aid,
                           reviewer_ids=[f["w"].users["partner_reviewer"].id])
    session.commit()
    assert states() == {k: {"awaiting-review"} | ({"draft"} if k in drafts else set())
                        for k in pages}
    # Comparing it with its next version (a draft).
    v2 = assessments.new_version(session, f["practitioner"], f["pilot"], aid)
    session.commit()
    html = client.get(f"{base}/assessments/{aid}/compare/{v2.id}").get_data(as_text=True)
    assert re.findall(r'class="state state-([a-z-]+)"', html) == ["awaiting-review", "draft"]
    assert "in review" not in html


def test_submitting_an_assessment_leads_to_choosing_its_reviewers_and_the_api_can_send(
        client: Any, auth: Any, session: Session, flow: dict[str, Any]) -> None:
    f = flow
    a = assessments.start_assessment(session, f["practitioner"], f["pilot"], f["place"])
    session.commit()
    auth.login("practitioner@test.invalid")
    r = client.post(f"/pilots/{f['pilot']}/assessments/{a.id}/edit",
                    data={"op": "submit", "csrf_token": _csrf(client)})
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"/pilots/{f['pilot']}/assessments/{a.id}/review")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="send-for-review"' in page and "Choose its reviewers" in page
    # Through the API, submit and send in one call.
    session.expire_all()  # the page submitted it in its own session
    a2 = assessments.new_version(session, f["practitioner"], f["pilot"], a.id)
    session.commit()
    r = _api(client, "POST", f"/api/v1/pilots/{f['pilot']}/assessments/{a2.id}/submit",
             {"reviewer_ids": [f["w"].users["partner_reviewer"].id]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["label"] == "awaiting review"


def test_inbox_page_api_and_top_bar_count(client: Any, auth: Any, session: Session,
                                          flow: dict[str, Any]) -> None:
    f = flow
    aid = _submitted_assessment(session, f)
    session.commit()
    auth.login("partner_reviewer@test.invalid")
    data = _api(client, "GET", "/api/v1/inbox").get_json()
    key = f"review:assessment:{aid}"
    assert key in {i["key"] for i in data["items"]} and data["unread"] >= 1
    html = client.get("/inbox").get_data(as_text=True)
    assert "Review requested: Test Cafe" in html
    assert re.search(r'class="badge unread-count"[^>]*>\s*' + str(data["unread"]) + r'\s*<', html)
    assert client.get("/waiting").status_code == 302
    # Opening an item marks it read and goes to its review page.
    r = client.post("/inbox/read", data={"key": key, "open": "1",
                                         "csrf_token": _csrf(client)})
    assert r.status_code == 302 and r.headers["Location"].endswith(
        f"/assessments/{aid}/review")
    after = _api(client, "GET", "/api/v1/inbox?unread=1").get_json()
    assert key not in {i["key"] for i in after["items"]}
    assert after["unread"] == data["unread"] - 1
    bad = _api(client, "POST", "/api/v1/inbox/read", {"keys": ["review:plan:999999"]})
    assert bad.status_code in (400, 422)
    ok = _api(client, "POST", "/api/v1/inbox/read", {"all": True})
    assert ok.status_code == 200 and ok.get_json()["unread"] == 0


def test_a_plan_reviewer_sees_the_plan_and_comments_in_place(
        client: Any, auth: Any, session: Session, flow: dict[str, Any]) -> None:
    f = flow
    aid = _submitted_assessment(session, f)
    pid = _submitted_plan(session, f, aid)
    door = session.scalar(select(SafetyFactor.id).where(
        SafetyFactor.assessment_id == aid, SafetyFactor.statement == "Dealing near the door"))
    session.commit()
    auth.login("partner_reviewer@test.invalid")
    url = f"/pilots/{f['pilot']}/plans/{pid}/review"
    html = client.get(url).get_data(as_text=True)
    assert 'id="plan-content"' in html and "Ask the owner to light the door" in html
    assert "Dealing near the door" in html and 'id="plan-kpis"' in html
    r = client.post(f"{url}/give", data={"item": f"factor_id:{door}", "decision": "comment",
                                          "comment": "Is the door lit at closing?",
                                          "csrf_token": _csrf(client)})
    assert r.status_code == 302
    html = client.get(url).get_data(as_text=True)
    factor_li = re.search(rf'<li data-factor="{door}">(.*?)</li>\s*(?:<li data-factor|</ul>)',
                          html, re.S)
    assert factor_li and "Is the door lit at closing?" in factor_li.group(1)


def test_network_page_ego_view_and_changes_since(client: Any, auth: Any, session: Session,
                                                 flow: dict[str, Any]) -> None:
    from locmap.models import Person, Relationship

    f = flow
    w = f["w"]
    b = Person(pilot_id=w.pilot.id, pseudonym="YP-002", kind="young_person", age_band="14-15")
    c = Person(pilot_id=w.pilot.id, pseudonym="YP-003", kind="young_person", age_band="14-15")
    d = Person(pilot_id=w.pilot.id, pseudonym="YP-004", kind="young_person", age_band="14-15")
    session.add_all([b, c, d])
    session.flush()
    assert w.person is not None
    session.add_all([
        Relationship(pilot_id=w.pilot.id, person_a_id=w.person.id, person_b_id=b.id, type="friend",
                     valence="neutral", strength=2, since=dt.date(2025, 1, 1)),
        Relationship(pilot_id=w.pilot.id, person_a_id=b.id, person_b_id=c.id, type="friend",
                     valence="neutral", strength=2, since=dt.date(2025, 6, 1)),
        Relationship(pilot_id=w.pilot.id, person_a_id=c.id, person_b_id=d.id, type="friend",
                     valence="neutral", strength=2, since=dt.date(2025, 1, 1))])
    session.commit()
    auth.login("practitioner@test.invalid")
    base = f"/pilots/{w.pilot.id}/network?as_of=2025-12-31"
    html = client.get(f"{base}&ego=YP-001&radius=2").get_data(as_text=True)
    ego = re.search(r'id="ego-view"(.*?)</section>', html, re.S)
    assert ego
    assert re.findall(r'data-distance="(\d)">(YP-\d+)', ego.group(1)) == [
        ("1", "YP-002"), ("2", "YP-003")]
    html = client.get(f"{base}&since=2025-03-01").get_data(as_text=True)
    change = re.search(r'id="change-ties"(.*?)</ul>', html, re.S)
    assert change and "Began: YP-002 — YP-003" in change.group(1)
    assert "YP-003 — YP-004" not in change.group(1)
    assert client.get(f"{base}&ego=YP-999").status_code == 400
    assert client.get(f"{base}&since=2026-01-01").status_code == 400
    assert clock.today()  # the page's dates are explicit: no dependence on today


# --- the plan waits for its place's *current* assessment (issue 16) -------------------------

def _approve(session: Session, f: dict[str, Any], kind: str, subject_id: int) -> None:
    reviews.give_review(session, f["partner_reviewer"], f["pilot"], kind, subject_id,
                        decision="approve")


def _new_submitted_version(session: Session, f: dict[str, Any], of: int) -> int:
    new = assessments.new_version(session, f["practitioner"], f["pilot"], of)
    assessments.submit_assessment(session, f["practitioner"], f["pilot"], new.id)
    reviews.request_review(session, f["practitioner"], f["pilot"], "assessment", new.id,
                           reviewer_ids=[f["w"].users["partner_reviewer"].id])
    return new.id


def test_a_newer_assessment_in_review_blocks_the_plan_until_it_is_approved(
        client: Any, auth: Any, session: Session, flow: dict[str, Any]) -> None:
    f = flow
    v1 = _submitted_assessment(session, f)
    _approve(session, f, "assessment", v1)
    pid = _submitted_plan(session, f, v1)
    v2 = _new_submitted_version(session, f, v1)  # the assessment is being revised
    _approve(session, f, "plan", pid)
    plan = reviews.load_subject(session, "plan", pid)
    assert plan is not None and plan.status == "in_review"
    assert reviews.version_label(session, f["practitioner"], f["pilot"], "plan", pid) \
        == "waiting for its assessment"
    blocked = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "plan", AuditEvent.entity_id == str(pid),
        AuditEvent.action == "approval_blocked")).one()
    assert blocked.detail["assessment_id"] == v2 and blocked.detail["plan_assessment_id"] == v1
    from locmap.services import review_history

    h = review_history.history(session, f["practitioner"], f["pilot"], "plan", pid, threshold=5)
    v = next(x for x in h["versions"] if x["id"] == pid)
    assert v["waits_for"] == {"id": v2, "version_no": 2, "status": "in_review",
                              "label": "awaiting review", "own": False}
    session.commit()
    auth.login("coordinator@test.invalid")
    html = client.get(f"/pilots/{f['pilot']}/plans/{pid}/review").get_data(as_text=True)
    assert 'id="waits-for-link"' in html and "current assessment is" in html
    assert 'id="override"' in html  # the coordinator may record an override
    # Approving the newer version (not the plan's own) lets the plan through.
    _approve(session, f, "assessment", v2)
    session.refresh(plan)
    assert plan.status == "approved"


def test_a_newer_approved_version_unblocks_a_plan_of_an_older_one(
        session: Session, flow: dict[str, Any]) -> None:
    f = flow
    v1 = _submitted_assessment(session, f)
    pid = _submitted_plan(session, f, v1)  # v1 still in review
    v2 = _new_submitted_version(session, f, v1)
    _approve(session, f, "assessment", v2)
    assert not reviews.assessment_blocks(session, reviews.load_subject(session, "plan", pid))
    _approve(session, f, "plan", pid)
    plan = reviews.load_subject(session, "plan", pid)
    assert plan is not None and plan.status == "approved"
    # Nothing to override when the place's current assessment is approved.
    assert session.scalar(select(AuditEvent.id).where(
        AuditEvent.entity == "plan", AuditEvent.entity_id == str(pid),
        AuditEvent.action == "approval_blocked")) is None


def test_a_draft_revision_blocks_and_the_override_names_it(
        session: Session, flow: dict[str, Any]) -> None:
    f = flow
    v1 = _submitted_assessment(session, f)
    _approve(session, f, "assessment", v1)
    pid = _submitted_plan(session, f, v1)
    plan = reviews.load_subject(session, "plan", pid)
    assert plan is not None and not reviews.assessment_blocks(session, plan)
    draft = assessments.new_version(session, f["practitioner"], f["pilot"], v1)
    assert reviews.waited_for(session, plan) is draft
    with pytest.raises(Forbidden):
        reviews.override_plan_block(session, f["practitioner"], f["pilot"], pid,
                                    reason="Partners agreed at the MACE meeting")
    reviews.override_plan_block(session, f["coordinator"], f["pilot"], pid,
                                reason="Partners agreed at the MACE meeting")
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "plan", AuditEvent.entity_id == str(pid),
        AuditEvent.action == "approval_override")).one()
    assert event.detail["assessment_id"] == draft.id
    assert event.detail["assessment_status"] == "draft"
    with pytest.raises(Conflict):  # recorded once per version
        reviews.override_plan_block(session, f["coordinator"], f["pilot"], pid, reason="again")
    _approve(session, f, "plan", pid)
    assert plan.status == "approved"


def test_the_history_api_says_what_the_review_page_says(
        client: Any, auth: Any, session: Session, flow: dict[str, Any]) -> None:
    """The page's "waits for its assessment" box and override note are in the API's
    history too (typed), with the same facts.
    """
    f = flow
    aid = _submitted_assessment(session, f)
    pid = _submitted_plan(session, f, aid)
    session.commit()
    api = f"/api/v1/pilots/{f['pilot']}/plans/{pid}/history"
    page = f"/pilots/{f['pilot']}/plans/{pid}/review"
    auth.login("coordinator@test.invalid")
    v = next(x for x in client.get(api).get_json()["versions"] if x["id"] == pid)
    assert v["waits_for_assessment"] is True and v["override"] is None
    assert v["waits_for"] == {"id": aid, "version_no": 1, "status": "in_review",
                              "label": "awaiting review", "own": True}
    html = client.get(page).get_data(as_text=True)
    assert 'id="waits-for-assessment"' in html and 'id="override-note"' not in html
    token = auth.csrf_token("/")
    r = client.post(f"/api/v1/pilots/{f['pilot']}/plans/{pid}/approval-override",
                    json={"reason": "Board meets tomorrow"}, headers={"X-CSRFToken": token})
    assert r.status_code == 200, r.get_json()
    v = next(x for x in r.get_json()["versions"] if x["id"] == pid)
    assert v["override"]["reason"] == "Board meets tomorrow"
    assert v["override"]["by"] == "coordinator" and v["override"]["at"]
    # The override lets the plan through: it no longer waits, on the page as in the API.
    assert v["waits_for_assessment"] is False and v["waits_for"] is None
    assert v == next(x for x in client.get(api).get_json()["versions"] if x["id"] == pid)
    html = client.get(page).get_data(as_text=True)
    assert 'id="override-note"' in html and "Board meets tomorrow" in html
    assert 'id="waits-for-assessment"' not in html
    auth.logout()
    auth.login("partner_reviewer@test.invalid")  # a partner reads the same facts
    v = next(x for x in client.get(api).get_json()["versions"] if x["id"] == pid)
    assert v["override"]["reason"] == "Board meets tomorrow"
    assert v["waits_for_assessment"] is False


def test_requests_asked_of_me_are_one_per_version_until_i_decide_in_two_queries(
        session: Session, flow: dict[str, Any]) -> None:
    from sqlalchemy import event

    f, me = flow, flow["partner_reviewer"]
    agency = session.scalar(select(Agency.id).where(Agency.name == "Test Community Safety"))
    f["w"].users["partner_reviewer"].agency_id = agency
    session.commit()

    def asked() -> tuple[list[tuple[str, int]], int]:
        statements: list[str] = []
        conn = session.connection()

        def count(*args: Any) -> None:
            statements.append(args[2])

        event.listen(conn, "before_cursor_execute", count)
        try:
            found = reviews.undecided_requests_for(session, me, f["pilot"])
        finally:
            event.remove(conn, "before_cursor_execute", count)
        return [(a.kind, a.subject.id) for a in found], len(statements)

    # Asked by name and through the agency: one entry, the earlier request.
    aid = _submitted_assessment(session, f)
    reviews.request_review(session, f["practitioner"], f["pilot"], "assessment", aid,
                           agency_ids=[agency])
    items, before = asked()
    assert items == [("assessment", aid)]
    # A comment is not a decision; a decision ends it.
    reviews.give_review(session, me, f["pilot"], "assessment", aid, decision="comment",
                        comment="Which door?")
    assert asked()[0] == [("assessment", aid)]
    reviews.give_review(session, me, f["pilot"], "assessment", aid,
                        decision="request_changes", comment="Say which door.")
    assert asked()[0] == []
    # The plan asked of me is there until I decide it; decided history costs no queries.
    approved = _submitted_assessment(session, f, ask=False)
    pid = _submitted_plan(session, f, approved)
    items, after = asked()
    assert items == [("plan", pid)]
    assert after == before  # one query per kind, however many requests were decided
    assert reviews.undecided_requests_for(session, f["practitioner"], f["pilot"]) == []
