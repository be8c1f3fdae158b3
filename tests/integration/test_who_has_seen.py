""""Who has seen this person" (issue 15 audit): a name search, the case-records preview
and the children-at-place export count as seeing the people they touched — and a preview or
export that named only someone else does not."""

from __future__ import annotations

from sqlalchemy.orm import Session

from locmap.models import Identity, Person, Presence
from locmap.services import audit, case_records, people
from locmap.services.accounts import actor_for
from tests.factories import World


def test_name_search_preview_and_children_export_show_for_the_person(
        session: Session, world: World) -> None:
    assert world.person is not None
    other = Person(pilot_id=world.pilot.id, pseudonym="YP-009", kind="young_person",
                   age_band="16-17")
    session.add(other)
    session.flush()
    session.add_all([
        Identity(person_id=other.id, name="Ninth Quillborne", case_reference="T-9"),
        Presence(pilot_id=world.pilot.id, person_id=world.person.id,
                 place_id=world.places["park"].id, frequency="daily"),
        Presence(pilot_id=world.pilot.id, person_id=other.id,
                 place_id=world.places["cafe"].id, frequency="weekly")])
    session.flush()
    practitioner = actor_for(session, world.users["practitioner"])

    found = people.find_people(session, practitioner, world.pilot.id, text="Quillborne",
                               by_name=True)
    assert {p["pseudonym"] for p in found} == {"YP-001", "YP-009"}
    case_records.preview(session, practitioner, world.pilot.id,
                         "case_reference,case_status\nT-1,early_help\n")
    case_records.preview(session, practitioner, world.pilot.id,
                         "case_reference,case_status\nT-9,early_help\n")
    case_records.children_at_place(session, practitioner, world.pilot.id,
                                   world.places["park"].id)
    case_records.children_at_place(session, practitioner, world.pilot.id,
                                   world.places["cafe"].id)
    session.flush()

    auditor = actor_for(session, world.users["auditor"])
    seen = audit.who_has_seen(session, auditor, world.pilot.id, "YP-001")
    kinds = [(e["action"], e["entity"], e["detail"].get("person_ids")) for e in seen["items"]
             if e["user_email"] == "practitioner@test.invalid"]
    assert ("search_identity", "person", None) in kinds
    assert ("read_identity", "case_records", [world.person.id]) in kinds
    assert ("export", "children_at_place", [world.person.id]) in kinds
    # The preview and the export that named only YP-009 are not YP-001's.
    assert ("read_identity", "case_records", [other.id]) not in kinds
    assert ("export", "children_at_place", [other.id]) not in kinds
    assert seen["identity_reads"] >= 2  # the name search and the preview
    assert "practitioner@test.invalid" in seen["readers"]
    # ... and they are YP-009's.
    theirs = audit.who_has_seen(session, auditor, world.pilot.id, "YP-009")
    assert {("read_identity", "case_records"), ("export", "children_at_place"),
            ("search_identity", "person")} <= {(e["action"], e["entity"])
                                               for e in theirs["items"]}

    # A name search is an access event of its own, and the auditor can filter by it.
    assert "search_identity" in audit.ACCESS_ACTIONS
    assert "search_identity" in dict(audit.ACTION_CHOICES)
    page = audit.search_events(session, auditor, audit.AuditFilter(
        pilot_id=world.pilot.id, action="search_identity"))
    assert [e["entity"] for e in page["items"]] == ["person"]
    assert page["items"][0]["detail"] == {"list": 2, "by_name": True}
