"""People in a pilot's network: pseudonyms for everyone, identities for the owning team.

Reading a person is a read of personal data and is audited; reading an identity is
audited separately (``read_identity``), and only practitioners and peer assessors of the
pilot may do it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.models import Identity, Person
from locmap.services import audit
from locmap.services.errors import NotFound
from locmap.services.permissions import Actor, can, require

__all__ = ["list_people", "get_person"]


def _person_dict(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "pseudonym": person.pseudonym,
        "kind": person.kind,
        "age_band": person.age_band,
        "version": person.version,
    }


def list_people(session: Session, actor: Actor, pilot_id: int) -> list[dict[str, Any]]:
    require(actor, pilot_id, "network.view")
    people = session.scalars(
        select(Person).where(Person.pilot_id == pilot_id).order_by(Person.pseudonym)
    ).all()
    audit.record(session, actor, "read", "person", None, pilot_id=pilot_id, personal_data=True,
                 detail={"list": len(people)})
    return [_person_dict(p) for p in people]


def get_person(
    session: Session, actor: Actor, pilot_id: int, person_id: int, *, with_identity: bool = False
) -> dict[str, Any]:
    """One person by pseudonym; with ``with_identity`` also name, birth date, case reference."""
    require(actor, pilot_id, "network.view")
    person = session.scalar(
        select(Person).where(Person.id == person_id, Person.pilot_id == pilot_id)
    )
    if person is None:
        raise NotFound("No such person in this pilot.")
    out = _person_dict(person)
    if with_identity:
        require(actor, pilot_id, "identity.read")
        identity = session.get(Identity, person.id)
        out["identity"] = None if identity is None else {
            "name": identity.name,
            "date_of_birth": identity.date_of_birth.isoformat() if identity.date_of_birth else None,
            "case_reference": identity.case_reference,
        }
    audit.record(
        session, actor, "read_identity" if with_identity else "read", "person", person.id,
        pilot_id=pilot_id, personal_data=True,
    )
    out["identity_visible"] = with_identity and can(actor, pilot_id, "identity.read")
    return out
