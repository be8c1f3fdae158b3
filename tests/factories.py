"""Small builders of synthetic test data (never a real person)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import Point, box
from sqlalchemy.orm import Session

from locmap.models import Agency, Identity, Person, Pilot, Place, User
from locmap.services import accounts, pilots

PASSWORD = "correct horse battery"  # noqa: S105 - test accounts only

# A 1 km square-ish locality in a fictional spot in England.
LOCALITY = box(-1.50, 52.50, -1.485, 52.509)


def locality_geojson(geom: Any = LOCALITY) -> dict[str, Any]:
    from shapely.geometry import mapping

    return dict(mapping(geom))


@dataclass
class World:
    pilot: Pilot
    other_pilot: Pilot
    users: dict[str, User] = field(default_factory=dict)
    places: dict[str, Place] = field(default_factory=dict)
    person: Person | None = None


def make_user(session: Session, email: str, **kw: Any) -> User:
    return accounts.create_user(session, None, email=email, name=email.split("@")[0],
                                password=PASSWORD, **kw)


def make_pilot(session: Session, name: str, locality: Any = LOCALITY) -> Pilot:
    return pilots.create_pilot(session, None, name=name, locality=locality_geojson(locality),
                               start_date=dt.date(2025, 1, 6))


def build_world(session: Session) -> World:
    agency = Agency(name="Test Community Safety", kind="community_safety")
    session.add(agency)
    pilot = make_pilot(session, "Test Pilot")
    other = make_pilot(session, "Other Pilot", box(-1.40, 52.50, -1.385, 52.509))
    w = World(pilot=pilot, other_pilot=other)
    for role in ("coordinator", "practitioner", "peer_assessor", "partner_reviewer"):
        u = make_user(session, f"{role}@test.invalid")
        accounts.add_membership(session, None, u, pilot, role)
        w.users[role] = u
    outsider = make_user(session, "outsider@test.invalid")
    accounts.add_membership(session, None, outsider, other, "practitioner")
    w.users["outsider"] = outsider
    w.users["admin"] = make_user(session, "admin@test.invalid", is_admin=True)
    w.users["auditor"] = make_user(session, "auditor@test.invalid", is_auditor=True)
    w.places["park"] = Place(
        pilot_id=pilot.id, name="Test Park", kind="park",
        geom=from_shape(box(-1.495, 52.502, -1.493, 52.503), srid=4326),
    )
    w.places["cafe"] = Place(
        pilot_id=pilot.id, name="Test Cafe", kind="fast_food",
        geom=from_shape(Point(-1.49, 52.505), srid=4326),
    )
    w.places["chat"] = Place(pilot_id=pilot.id, name="Test group chat", kind="online")
    session.add_all(w.places.values())
    w.person = Person(pilot_id=pilot.id, pseudonym="YP-001", kind="young_person",
                      age_band="14-15")
    session.add(w.person)
    session.flush()
    session.add(Identity(person_id=w.person.id, name="Testy Quillborne",
                         date_of_birth=dt.date(2010, 5, 1), case_reference="T-1"))
    session.flush()
    return w
