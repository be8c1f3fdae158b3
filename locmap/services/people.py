"""People in a pilot's network: pseudonyms for everyone, identities for the owning team.

Reading a person is a read of personal data and is audited; reading an identity is
audited separately (``read_identity``), and only practitioners and peer assessors of the
pilot may do it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from locmap import clock
from locmap.errors import Conflict, InvalidData, NotFound
from locmap.models import (
    Identity,
    PeerNetwork,
    Person,
    Presence,
    PseudonymCounter,
    Relationship,
)
from locmap.services import audit
from locmap.services.permissions import Actor, can, require
from locmap.services.versioning import check_version
from locmap.vocab import AGE_BANDS, CASE_STATUSES, EXPLOITATION_CATEGORIES, PERSON_KINDS

__all__ = [
    "PSEUDONYM_PREFIX", "list_people", "get_person", "create_person", "update_person",
    "delete_person", "next_pseudonym", "find_people", "CASE_FIELDS", "apply_case_fields",
]

PSEUDONYM_PREFIX = {"young_person": "YP", "adult_of_concern": "AD", "trusted_adult": "TA"}
_RETRIES = 5


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
    if can(actor, pilot_id, "aggregate.unsuppressed"):
        out.update(_case_dict(person))
    return out


CASE_FIELDS = ("exploitation_category", "case_status", "last_risk_assessment_on")
MAX_FOUND = 500


def find_people(session: Session, actor: Actor, pilot_id: int, *, text: str = "",
                kind: str = "", by_name: bool = False) -> list[dict[str, Any]]:
    """The people list of the owning team: pseudonym, kind, age band, case fields and how
    many ties and places each has; searched by pseudonym, or by name for roles that read
    identities (the search is then an audited read of identities; the audit keeps how
    many matched, never the words searched for).
    """
    require(actor, pilot_id, "evidence.records")
    if kind and kind not in PERSON_KINDS:
        raise InvalidData(f"Kind must be one of {', '.join(PERSON_KINDS)}.")
    if len(text) > 100:
        raise InvalidData("Search for at most 100 characters.")
    ties = (select(func.count()).select_from(Relationship)
            .where(or_(Relationship.person_a_id == Person.id,
                       Relationship.person_b_id == Person.id),
                   Relationship.until.is_(None)).scalar_subquery())
    places = (select(func.count()).select_from(Presence)
              .where(Presence.person_id == Person.id, Presence.until.is_(None))
              .scalar_subquery())
    stmt = select(Person, ties, places).where(Person.pilot_id == pilot_id)
    if kind:
        stmt = stmt.where(Person.kind == kind)
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    if text.strip() and by_name:
        require(actor, pilot_id, "identity.read")
        stmt = stmt.join(Identity, Identity.person_id == Person.id).where(
            Identity.name.ilike(pattern, escape="\\"))
    elif text.strip():
        stmt = stmt.where(Person.pseudonym.ilike(pattern, escape="\\"))
    rows = session.execute(stmt.order_by(Person.kind, Person.pseudonym).limit(MAX_FOUND)).all()
    searched_names = bool(text.strip()) and by_name
    audit.record(session, actor, "search_identity" if searched_names else "read", "person",
                 None, pilot_id=pilot_id, personal_data=True,
                 detail={"list": len(rows), **({"by_name": True} if searched_names else {})})
    case = can(actor, pilot_id, "aggregate.unsuppressed")
    return [{**_person_dict(p), **(_case_dict(p) if case else {}), "ties": n_ties,
             "places": n_places} for p, n_ties, n_places in rows]


def _case_dict(person: Person) -> dict[str, Any]:
    """The case fields the dashboard counts: owning team only, never beside a pseudonym
    in a partner's view.
    """
    on = person.last_risk_assessment_on
    return {"exploitation_category": person.exploitation_category,
            "case_status": person.case_status,
            "last_risk_assessment_on": on.isoformat() if on else None}


def _apply_case_fields(person: Person, kind: str, changes: dict[str, Any]) -> None:
    given = {k: changes[k] for k in CASE_FIELDS if k in changes}
    if not given:
        return
    if kind != "young_person" and any(v is not None for v in given.values()):
        raise InvalidData("Exploitation category, case status and risk assessment date are "
                          "recorded for young people only.",
                          details={k: ["young people only"] for k in given})
    category = given.get("exploitation_category", person.exploitation_category)
    status = given.get("case_status", person.case_status)
    on = given.get("last_risk_assessment_on", person.last_risk_assessment_on)
    if category is not None and category not in EXPLOITATION_CATEGORIES:
        raise InvalidData(f"{category!r} is not an exploitation category.",
                          details={"exploitation_category": [f"not one of "
                                                             f"{list(EXPLOITATION_CATEGORIES)}"]})
    if status is not None and status not in CASE_STATUSES:
        raise InvalidData(f"{status!r} is not a case status.",
                          details={"case_status": [f"not one of {list(CASE_STATUSES)}"]})
    if on is not None and on > clock.today():
        raise InvalidData("The last risk assessment cannot be in the future.",
                          details={"last_risk_assessment_on": ["in the future"]})
    person.exploitation_category, person.case_status = category, status
    person.last_risk_assessment_on = on


# The CSV exchange with case-management systems (services/case_records.py) checks and
# applies the case fields by the same rules.
apply_case_fields = _apply_case_fields


def _check_kind_and_band(kind: str, age_band: str) -> None:
    if kind not in PERSON_KINDS:
        raise InvalidData(f"Kind must be one of {', '.join(PERSON_KINDS)}.",
                          details={"kind": [f"not one of {list(PERSON_KINDS)}"]})
    if age_band not in AGE_BANDS:
        raise InvalidData(f"Age band must be one of {', '.join(AGE_BANDS)}.",
                          details={"age_band": [f"not one of {list(AGE_BANDS)}"]})


def _identity_fields(identity: dict[str, Any]) -> dict[str, Any]:
    name = str(identity.get("name") or "").strip()
    if not name or len(name) > 200:
        raise InvalidData("An identity needs a name (up to 200 characters).",
                          details={"identity.name": ["required, at most 200 characters"]})
    dob = identity.get("date_of_birth")
    if dob is not None and not isinstance(dob, dt.date):
        raise InvalidData("Date of birth must be a date.",
                          details={"identity.date_of_birth": ["not a date"]})
    ref = str(identity.get("case_reference") or "").strip()
    if len(ref) > 100:
        raise InvalidData("Case reference is over 100 characters.",
                          details={"identity.case_reference": ["at most 100 characters"]})
    return {"name": name, "date_of_birth": dob, "case_reference": ref}


def next_pseudonym(session: Session, pilot_id: int, kind: str) -> str:
    """A pseudonym of ``kind`` never issued in the pilot: ``YP-041`` after ``YP-040``,
    even once YP-040 has been erased (the counter only rises; see PseudonymCounter).

    Taking the number locks the pilot's counter row until the transaction ends, so two
    people added at once get different numbers.
    """
    prefix = PSEUDONYM_PREFIX[kind]
    insert = pg_insert(PseudonymCounter).values(pilot_id=pilot_id, prefix=prefix,
                                                 last_number=1)
    number = session.scalar(insert.on_conflict_do_update(
        index_elements=["pilot_id", "prefix"],
        set_={"last_number": PseudonymCounter.last_number + 1},
    ).returning(PseudonymCounter.last_number))
    return f"{prefix}-{number:03d}"


def create_person(
    session: Session,
    actor: Actor,
    pilot_id: int,
    *,
    kind: str,
    age_band: str = "unknown",
    identity: dict[str, Any] | None = None,
) -> Person:
    """Record a person under a pseudonym that locmap chooses (never typed by a user).

    Refused until the pilot has recorded why it maps peer networks (purpose and lawful
    basis). Two people added at once cannot get the same pseudonym: the unique constraint
    rejects the second insert, which is retried with the next number inside a savepoint.
    """
    require(actor, pilot_id, "network.edit")
    if identity is not None:
        require(actor, pilot_id, "identity.edit")
    _check_kind_and_band(kind, age_band)
    fields = None if identity is None else _identity_fields(identity)
    if session.scalar(select(PeerNetwork.id).where(PeerNetwork.pilot_id == pilot_id)) is None:
        raise Conflict("Record the network's purpose and lawful basis before recording "
                       "people (Article 8: every peer map says why it exists).")
    for _ in range(_RETRIES):
        person = Person(pilot_id=pilot_id, pseudonym=next_pseudonym(session, pilot_id, kind),
                        kind=kind, age_band=age_band)
        try:
            with session.begin_nested():
                session.add(person)
                session.flush()
        except IntegrityError:
            continue
        break
    else:
        raise Conflict("Could not choose a free pseudonym; try again.")
    if fields is not None:
        session.add(Identity(person_id=person.id, **fields))
        session.flush()
    audit.record(session, actor, "create", "person", person.id, pilot_id=pilot_id,
                 personal_data=True,
                 detail={"pseudonym": person.pseudonym, "identity": fields is not None})
    return person


def _person_in(session: Session, pilot_id: int, person_id: int) -> Person:
    person = session.scalar(
        select(Person).where(Person.id == person_id, Person.pilot_id == pilot_id)
    )
    if person is None:
        raise NotFound("No such person in this pilot.")
    return person


def update_person(
    session: Session,
    actor: Actor,
    pilot_id: int,
    person_id: int,
    *,
    version: int,
    changes: dict[str, Any],
) -> dict[str, Any]:
    """Change kind, age band and/or identity, if ``version`` is still the current one.

    The pseudonym never changes (it is how partners refer to the person); changing the
    kind keeps it too, so a record's history stays readable.
    """
    require(actor, pilot_id, "network.edit")
    if "identity" in changes:
        require(actor, pilot_id, "identity.edit")
    person = _person_in(session, pilot_id, person_id)
    check_version(session, "person", person, version, current=_person_dict,
                  audit_read=lambda: audit.record(
                      session, actor, "read", "person", person.id, pilot_id=pilot_id,
                      personal_data=True, detail={"status": 409}))
    kind = changes.get("kind", person.kind)
    age_band = changes.get("age_band", person.age_band)
    _check_kind_and_band(kind, age_band)
    fields = (None if changes.get("identity") is None
              else _identity_fields(changes["identity"]))
    _apply_case_fields(person, kind, changes)
    person.kind, person.age_band = kind, age_band
    if "identity" in changes:
        current = session.get(Identity, person.id)
        if fields is None and current is not None:
            session.delete(current)
        elif fields is not None and current is None:
            session.add(Identity(person_id=person.id, **fields))
        elif fields is not None and current is not None:
            for key, value in fields.items():
                setattr(current, key, value)
        person.updated_at = clock.now()  # bump the version with the identity
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict("Someone else changed this person since you loaded it; reload.") from exc
    audit.record(session, actor, "update", "person", person.id, pilot_id=pilot_id,
                 personal_data=True, detail={"fields": sorted(changes)})
    return {**_person_dict(person), **_case_dict(person)}


def delete_person(
    session: Session, actor: Actor, pilot_id: int, person_id: int
) -> None:
    """Really delete a person with their identity, relationships and presences."""
    require(actor, pilot_id, "network.edit")
    person = _person_in(session, pilot_id, person_id)
    pseudonym = person.pseudonym
    session.delete(person)
    session.flush()
    audit.record(session, actor, "delete", "person", person_id, pilot_id=pilot_id,
                 personal_data=True, detail={"pseudonym": pseudonym, "erased": True})
