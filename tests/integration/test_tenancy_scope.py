"""A session scoped to a pilot keeps to its rows, and the keys keep a pilot's rows together
(issue 20 (a); locmap.models.tenancy)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from locmap.models import Place, SafetyFactor, tenancy
from tests.factories import World


def _other_place(session: Session, world: World) -> Place:
    place = Place(pilot_id=world.other_pilot.id, name="Elsewhere", kind="online")
    session.add(place)
    session.commit()
    return place


def test_a_scoped_session_reads_its_pilots_rows_only(session: Session, world: World) -> None:
    other = _other_place(session, world)
    session.expunge_all()  # nothing answered from the identity map
    tenancy.scope(session, world.pilot.id)
    names = set(session.scalars(select(Place.name)))
    assert names == {p.name for p in world.places.values()}
    assert session.get(Place, other.id) is None
    assert session.get(Place, world.places["cafe"].id) is not None


def test_new_rows_get_the_pilot_from_the_scope_or_the_parent(
        session: Session, world: World) -> None:
    cafe = world.places["cafe"]
    unscoped = SafetyFactor(place_id=cafe.id, quadrant="risk", statement="a", weight=1,
                            voice="professional")
    session.add(unscoped)
    session.flush()
    assert unscoped.pilot_id == world.pilot.id  # the column default read the place's
    tenancy.scope(session, world.pilot.id)
    scoped = SafetyFactor(place_id=cafe.id, quadrant="risk", statement="b", weight=1,
                          voice="professional")
    session.add(scoped)
    session.flush()
    assert scoped.pilot_id == world.pilot.id


def test_a_row_cannot_point_at_another_pilots_parent(session: Session, world: World) -> None:
    other = _other_place(session, world)
    with pytest.raises(IntegrityError, match="fk_safety_factor_place_id_place"):
        with session.begin_nested():
            session.add(SafetyFactor(place_id=other.id, pilot_id=world.pilot.id,
                                     quadrant="risk", statement="c", weight=1,
                                     voice="professional"))


def test_a_loop_over_pilots_scopes_each_and_restores_the_requests(
        session: Session, world: World) -> None:
    other = _other_place(session, world)
    session.expunge_all()
    tenancy.scope(session, world.pilot.id)
    with tenancy.scoped(session, world.other_pilot.id):
        assert set(session.scalars(select(Place.id))) == {other.id}
    assert tenancy.scoped_pilot(session) == world.pilot.id
    assert other.id not in set(session.scalars(select(Place.id)))
