"""Partner-agency referral forms on PostGIS: an admin enables one per pilot and agency; its
link refers a context as that agency without an account (CSRF, hostile text kept as text,
pseudonyms not offered); a closed form or a closed pilot refuses; submissions are limited.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.errors import Conflict, Forbidden, InvalidData, NotFound
from locmap.models import Agency, AuditEvent
from locmap.models.board import PartnerReferralForm
from locmap.models.pathway import ContextReferral
from locmap.services import partner_forms
from locmap.services.accounts import actor_for
from tests.factories import World

HOSTILE = '<script>alert("x")</script> =HYPERLINK("http://evil") men by the ramp'


def _form(session: Session, world: World) -> PartnerReferralForm:
    agency = Agency(name="Test Youth Club", kind="voluntary")
    session.add(agency)
    session.flush()
    admin = actor_for(session, world.users["admin"])
    form = partner_forms.create_form(session, admin, world.pilot.id, agency.id)
    session.commit()
    return form


def _data(**kw: Any) -> dict[str, Any]:
    return {"context_kind": "school", "context_name": "Test Academy", "concern": HOSTILE,
            "harm_types": ["cce"], "children_count": "3", "referrer_name": "A. Youth Worker",
            "urgency": "priority", **kw}


def test_only_an_admin_enables_a_form_and_a_stale_toggle_is_409(session: Session,
                                                                world: World) -> None:
    form = _form(session, world)
    coordinator = actor_for(session, world.users["coordinator"])
    with pytest.raises(Forbidden):
        partner_forms.create_form(session, coordinator, world.pilot.id, form.agency_id)
    with pytest.raises(Forbidden):
        partner_forms.list_forms(session, coordinator, world.pilot.id)
    admin = actor_for(session, world.users["admin"])
    with pytest.raises(InvalidData):
        partner_forms.create_form(session, admin, world.pilot.id, None)
    listed = partner_forms.list_forms(session, admin, world.pilot.id)
    assert [f["agency"] for f in listed["forms"]] == ["Test Youth Club"]
    version = form.version
    partner_forms.set_enabled(session, admin, world.pilot.id, form.id, False, version)
    session.commit()
    with pytest.raises(Conflict):
        partner_forms.set_enabled(session, admin, world.pilot.id, form.id, True, version)
    session.rollback()
    with pytest.raises(NotFound):
        partner_forms.open_form(session, form.key)


def test_a_referral_through_the_form_is_the_agencys_and_limited(session: Session,
                                                                world: World) -> None:
    form = _form(session, world)
    r = partner_forms.submit(session, form.key, _data(), "192.0.2.7")
    session.commit()
    assert (r.referrer_agency_id, r.children_count, r.created_by_id) == (form.agency_id, 3,
                                                                        None)
    assert r.concern == HOSTILE.strip() and r.context_kind == "school"
    # Pseudonyms are not taken from outside, whatever is posted.
    again = partner_forms.submit(session, form.key, _data(children=["YP-001"]), "192.0.2.8")
    assert again.children_count == 3
    with pytest.raises(InvalidData):  # a new place needs the map: not offered here
        partner_forms.submit(session, form.key, _data(context_kind="new_place"), "192.0.2.9")
    with pytest.raises(NotFound):
        partner_forms.submit(session, "not-a-key", _data(), "192.0.2.7")
    session.commit()
    for _ in range(partner_forms.PER_ADDRESS_PER_HOUR - 1):
        partner_forms.submit(session, form.key, _data(), "192.0.2.7")
    session.commit()
    with pytest.raises(partner_forms.TooMany):
        partner_forms.submit(session, form.key, _data(), "192.0.2.7")
    session.rollback()
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "partner_referral")).all()
    assert len(events) == partner_forms.PER_ADDRESS_PER_HOUR + 1
    world.pilot.status = "closed"
    session.commit()
    with pytest.raises(NotFound):
        partner_forms.submit(session, form.key, _data(), "192.0.2.10")


def test_the_public_form_over_http(client: Any, auth: Any, session: Session,
                                   world: World) -> None:
    form = _form(session, world)
    assert client.get("/refer").status_code == 400
    assert client.get("/refer?key=nope").status_code == 404
    page = client.get(f"/refer?key={form.key}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Test Youth Club" in html and "Test Park" in html
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    no_csrf = client.post(f"/refer?key={form.key}", data=_data())
    assert no_csrf.status_code == 400
    sent = client.post(f"/refer?key={form.key}", data={**_data(), "csrf_token": token})
    assert sent.status_code == 200 and 'id="referral-sent"' in sent.get_data(as_text=True)
    bad = client.post(f"/refer?key={form.key}", data={**_data(concern=""),
                                                      "csrf_token": token})
    assert bad.status_code == 200 and 'id="partner-referral"' in bad.get_data(as_text=True)
    assert len(session.scalars(select(ContextReferral)).all()) == 1
    # The team sees the hostile text as text.
    auth.login("practitioner@test.invalid")
    r = session.scalars(select(ContextReferral)).one()
    view = client.get(f"/pilots/{world.pilot.id}/referrals/{r.id}").get_data(as_text=True)
    assert "<script>alert" not in view and "&lt;script&gt;" in view
    # The admin's page lists the link.
    auth.login("admin@test.invalid")
    admin_page = client.get(f"/admin/pilots/{world.pilot.id}/partner-forms")
    assert admin_page.status_code == 200 and form.key in admin_page.get_data(as_text=True)
