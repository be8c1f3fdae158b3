"""Recording a pilot's peer network and reading its analysis, pseudonyms only.

A network starts with its purpose and lawful basis (``PeerNetwork``, Article 8 ECHR);
then relationships between people and their presences at the pilot's places are
recorded. ``analysis`` turns the rows into the plain records of :mod:`locmap.network` and
returns :func:`~locmap.network.analyse_network`'s result — identities are never loaded
here, so nothing this module returns can carry a name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from locmap import network as pure
from locmap.errors import InvalidData, NotFound
from locmap.models import PeerNetwork, Person, Place, Presence, Relationship
from locmap.services import audit
from locmap.services.permissions import Actor, can, require
from locmap.services.versioning import check_version
from locmap.vocab import RELATIONSHIP_TYPES, VALENCES

__all__ = [
    "FREQUENCIES", "get_purpose", "set_purpose", "list_relationships", "create_relationship",
    "delete_relationship", "list_presences", "create_presence", "delete_presence",
    "network_records", "analysis", "person_ids_named", "record_person_with_links",
    "update_relationship", "update_presence", "RELATIONSHIP_EDITABLE", "PRESENCE_EDITABLE",
    "person_links", "AnalysisResult", "check_on_person_page",
]

FREQUENCIES = ("daily", "weekly", "monthly", "occasional")


def get_purpose(session: Session, actor: Actor, pilot_id: int) -> dict[str, Any] | None:
    """The network's purpose and lawful basis, or None while not yet recorded."""
    require(actor, pilot_id, "network.view")
    row = session.scalar(select(PeerNetwork).where(PeerNetwork.pilot_id == pilot_id))
    if row is None:
        return None
    return {"purpose": row.purpose, "lawful_basis": row.lawful_basis,
            "updated_at": row.updated_at.isoformat() if row.updated_at else None}


def set_purpose(
    session: Session, actor: Actor, pilot_id: int, *, purpose: str, lawful_basis: str
) -> dict[str, Any]:
    """Record (or revise) why the pilot maps peer networks and on what lawful basis."""
    require(actor, pilot_id, "network.edit")
    purpose, lawful_basis = purpose.strip(), lawful_basis.strip()
    errors = {k: ["required, at most 2000 characters"]
              for k, v in (("purpose", purpose), ("lawful_basis", lawful_basis))
              if not v or len(v) > 2000}
    if errors:
        raise InvalidData("Both the purpose and the lawful basis are needed.", details=errors)
    row = session.scalar(select(PeerNetwork).where(PeerNetwork.pilot_id == pilot_id))
    if row is None:
        row = PeerNetwork(pilot_id=pilot_id, purpose=purpose, lawful_basis=lawful_basis)
        session.add(row)
    else:
        row.purpose, row.lawful_basis = purpose, lawful_basis
    session.flush()
    audit.record(session, actor, "update", "peer_network", row.id, pilot_id=pilot_id)
    return {"purpose": purpose, "lawful_basis": lawful_basis}


def _pseudonyms(session: Session, pilot_id: int) -> dict[int, str]:
    rows = session.execute(
        select(Person.id, Person.pseudonym).where(Person.pilot_id == pilot_id)
    ).all()
    return {pid: name for pid, name in rows}


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _check_period(since: dt.date | None, until: dt.date | None) -> None:
    if since is not None and until is not None and until <= since:
        raise InvalidData("'until' must be after 'since'.", details={"until": ["before since"]})


def _relationship_dict(r: Relationship, names: dict[int, str], *, source: bool = True
                       ) -> dict[str, Any]:
    # ``source`` (who told us) is the owning team's: partners get the tie without it.
    out = {
        "id": r.id, "person_a_id": r.person_a_id, "person_b_id": r.person_b_id,
        "person_a": names.get(r.person_a_id), "person_b": names.get(r.person_b_id),
        "type": r.type, "valence": r.valence, "strength": r.strength,
        "since": _date(r.since), "until": _date(r.until), "version": r.version,
    }
    if source:
        out["source"] = r.source
    return out


def list_relationships(session: Session, actor: Actor, pilot_id: int) -> list[dict[str, Any]]:
    require(actor, pilot_id, "network.view")
    rows = session.scalars(
        select(Relationship).where(Relationship.pilot_id == pilot_id).order_by(Relationship.id)
    ).all()
    audit.record(session, actor, "read", "relationship", None, pilot_id=pilot_id,
                 personal_data=True, detail={"list": len(rows)})
    names = _pseudonyms(session, pilot_id)
    source = can(actor, pilot_id, "evidence.records")
    return [_relationship_dict(r, names, source=source) for r in rows]


def create_relationship(
    session: Session,
    actor: Actor,
    pilot_id: int,
    *,
    person_a_id: int,
    person_b_id: int,
    type: str,
    valence: str = "neutral",
    strength: int = 2,
    source: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> dict[str, Any]:
    """Record a relationship between two people of the pilot."""
    require(actor, pilot_id, "network.edit")
    _check_relationship(person_a_id, person_b_id, type, valence, strength, source, since,
                        until)
    names = _pseudonyms(session, pilot_id)
    unknown = [pid for pid in (person_a_id, person_b_id) if pid not in names]
    if unknown:
        raise InvalidData("Both people must be recorded in this pilot.",
                          details={"person_ids": [f"unknown person {u}" for u in unknown]})
    rel = Relationship(pilot_id=pilot_id, person_a_id=person_a_id, person_b_id=person_b_id,
                       type=type, valence=valence, strength=strength, source=source,
                       since=since, until=until)
    session.add(rel)
    session.flush()
    audit.record(session, actor, "create", "relationship", rel.id, pilot_id=pilot_id,
                 personal_data=True, detail={"valence": valence})
    return _relationship_dict(rel, names)


def _check_relationship(person_a_id: int, person_b_id: int, type: str, valence: str,
                        strength: Any, source: str, since: dt.date | None,
                        until: dt.date | None) -> None:
    """One rule for a relationship, new or changed."""
    errors: dict[str, list[str]] = {}
    if person_a_id == person_b_id:
        errors["person_b_id"] = ["a person cannot be related to themself"]
    if type not in RELATIONSHIP_TYPES:
        errors["type"] = [f"not one of {list(RELATIONSHIP_TYPES)}"]
    if valence not in VALENCES:
        errors["valence"] = [f"not one of {list(VALENCES)}"]
    if isinstance(strength, bool) or strength not in (1, 2, 3):
        errors["strength"] = ["must be 1, 2 or 3"]
    if not isinstance(source, str) or len(source) > 100:
        errors["source"] = ["at most 100 characters"]
    if errors:
        raise InvalidData("The relationship is not valid.", details=errors)
    _check_period(since, until)


def _relationship_in(session: Session, pilot_id: int, rel_id: int,
                     person_id: int | None = None) -> Relationship:
    """The relationship in this pilot — and, when ``person_id`` is given (a person's page
    acting on it), with that person at one end — or NotFound before anything changes.
    """
    rel = session.scalar(select(Relationship).where(
        Relationship.id == rel_id, Relationship.pilot_id == pilot_id))
    if rel is None or (person_id is not None
                       and person_id not in (rel.person_a_id, rel.person_b_id)):
        raise NotFound("No such relationship in this pilot.")
    return rel


def check_on_person_page(session: Session, actor: Actor, pilot_id: int, person_id: int, *,
                         rel_id: int | None = None, presence_id: int | None = None) -> None:
    """Raise NotFound unless the relationship has ``person_id`` at one end, or the presence
    is ``person_id``'s, in this pilot: a person's page checks it before it reads its form,
    so a foreign id answers 404 whatever else the form says (the writes check it again).
    """
    require(actor, pilot_id, "network.edit")
    if rel_id is not None:
        _relationship_in(session, pilot_id, rel_id, person_id)
    if presence_id is not None:
        _presence_in(session, pilot_id, presence_id, person_id)


RELATIONSHIP_EDITABLE = ("type", "valence", "strength", "source", "since", "until")
PRESENCE_EDITABLE = ("frequency", "times", "source", "since", "until")


def update_relationship(session: Session, actor: Actor, pilot_id: int, rel_id: int,
                        changes: dict[str, Any], version: Any, *,
                        person_id: int | None = None) -> dict[str, Any]:
    """Change a relationship (its kind, valence, strength, source or period — "end it"
    is setting ``until``), if ``version`` is still the current one (else 409). From a
    person's page, ``person_id`` must be one of its ends (else NotFound).
    """
    require(actor, pilot_id, "network.edit")
    rel = _relationship_in(session, pilot_id, rel_id, person_id)
    unknown = set(changes) - set(RELATIONSHIP_EDITABLE)
    if unknown:
        raise InvalidData(f"Unknown fields: {', '.join(sorted(unknown))}.")
    names = _pseudonyms(session, pilot_id)
    check_version(session, "relationship", rel, version,
                  current=lambda r: _relationship_dict(r, names))
    v = {f: changes.get(f, getattr(rel, f)) for f in RELATIONSHIP_EDITABLE}
    _check_relationship(rel.person_a_id, rel.person_b_id, v["type"], v["valence"],
                        v["strength"], v["source"], v["since"], v["until"])
    changed = sorted(f for f in RELATIONSHIP_EDITABLE if v[f] != getattr(rel, f))
    for f in changed:
        setattr(rel, f, v[f])
    session.flush()
    audit.record(session, actor, "update", "relationship", rel.id, pilot_id=pilot_id,
                 personal_data=True, detail={"fields": changed})
    return _relationship_dict(rel, names)


def delete_relationship(session: Session, actor: Actor, pilot_id: int, rel_id: int, *,
                        person_id: int | None = None) -> None:
    """Delete a relationship (from a person's page: one with ``person_id`` at an end)."""
    require(actor, pilot_id, "network.edit")
    rel = _relationship_in(session, pilot_id, rel_id, person_id)
    session.delete(rel)
    session.flush()
    audit.record(session, actor, "delete", "relationship", rel_id, pilot_id=pilot_id,
                 personal_data=True)


def _presence_dict(p: Presence, names: dict[int, str], places: dict[int, str], *,
                   free_text: bool = True) -> dict[str, Any]:
    # When a child is at a place, and who said so, are the owning team's.
    out = {
        "id": p.id, "person_id": p.person_id, "person": names.get(p.person_id),
        "place_id": p.place_id, "place": places.get(p.place_id), "frequency": p.frequency,
        "since": _date(p.since), "until": _date(p.until), "version": p.version,
    }
    if free_text:
        out.update(times=p.times, source=p.source)
    return out


def _place_names(session: Session, pilot_id: int) -> dict[int, str]:
    rows = session.execute(select(Place.id, Place.name).where(
        Place.pilot_id == pilot_id, Place.kind != "peer_group")).all()  # a group is no place
    return {pid: name for pid, name in rows}


def _presences_query(pilot_id: int) -> Any:
    return select(Presence).join(Person, Person.id == Presence.person_id).where(
        Person.pilot_id == pilot_id)


def list_presences(session: Session, actor: Actor, pilot_id: int) -> list[dict[str, Any]]:
    require(actor, pilot_id, "network.view")
    rows = session.scalars(_presences_query(pilot_id).order_by(Presence.id)).all()
    audit.record(session, actor, "read", "presence", None, pilot_id=pilot_id,
                 personal_data=True, detail={"list": len(rows)})
    names, places = _pseudonyms(session, pilot_id), _place_names(session, pilot_id)
    free_text = can(actor, pilot_id, "evidence.records")
    return [_presence_dict(p, names, places, free_text=free_text) for p in rows]


def create_presence(
    session: Session,
    actor: Actor,
    pilot_id: int,
    *,
    person_id: int,
    place_id: int,
    frequency: str = "weekly",
    times: str = "",
    source: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> dict[str, Any]:
    """Record that a person of the pilot spends time at one of the pilot's places."""
    require(actor, pilot_id, "network.edit")
    names, places = _pseudonyms(session, pilot_id), _place_names(session, pilot_id)
    _check_presence(person_id in names, place_id in places, frequency, times, source,
                    since, until)
    row = Presence(person_id=person_id, place_id=place_id, frequency=frequency, times=times,
                   source=source, since=since, until=until)
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", "presence", row.id, pilot_id=pilot_id,
                 personal_data=True)
    return _presence_dict(row, names, places)


def _check_presence(person_known: bool, place_known: bool, frequency: str, times: Any,
                    source: Any, since: dt.date | None, until: dt.date | None) -> None:
    """One rule for a presence, new or changed."""
    errors: dict[str, list[str]] = {}
    if not person_known:
        errors["person_id"] = ["no such person in this pilot"]
    if not place_known:
        errors["place_id"] = ["no such place in this pilot"]
    if frequency not in FREQUENCIES:
        errors["frequency"] = [f"not one of {list(FREQUENCIES)}"]
    if not isinstance(times, str) or not isinstance(source, str) \
            or len(times) > 200 or len(source) > 100:
        errors["times"] = ["times at most 200, source at most 100 characters"]
    if errors:
        raise InvalidData("The presence is not valid.", details=errors)
    _check_period(since, until)


def _presence_in(session: Session, pilot_id: int, presence_id: int,
                 person_id: int | None = None) -> Presence:
    """The presence of a person of this pilot — and, when ``person_id`` is given (a
    person's page acting on it), of that person — or NotFound before anything changes.
    """
    row = session.scalar(_presences_query(pilot_id).where(Presence.id == presence_id))
    if row is None or (person_id is not None and row.person_id != person_id):
        raise NotFound("No such presence in this pilot.")
    return row


def update_presence(session: Session, actor: Actor, pilot_id: int, presence_id: int,
                    changes: dict[str, Any], version: Any, *,
                    person_id: int | None = None) -> dict[str, Any]:
    """Change how often, when, on whose word, or for which period a person is at a place
    ("end it" is setting ``until``), if ``version`` is still current (else 409). From a
    person's page, the presence must be ``person_id``'s (else NotFound).
    """
    require(actor, pilot_id, "network.edit")
    row = _presence_in(session, pilot_id, presence_id, person_id)
    unknown = set(changes) - set(PRESENCE_EDITABLE)
    if unknown:
        raise InvalidData(f"Unknown fields: {', '.join(sorted(unknown))}.")
    names, places = _pseudonyms(session, pilot_id), _place_names(session, pilot_id)
    check_version(session, "presence", row, version,
                  current=lambda p: _presence_dict(p, names, places))
    v = {f: changes.get(f, getattr(row, f)) for f in PRESENCE_EDITABLE}
    _check_presence(True, True, v["frequency"], v["times"], v["source"], v["since"],
                    v["until"])
    changed = sorted(f for f in PRESENCE_EDITABLE if v[f] != getattr(row, f))
    for f in changed:
        setattr(row, f, v[f])
    session.flush()
    audit.record(session, actor, "update", "presence", row.id, pilot_id=pilot_id,
                 personal_data=True, detail={"fields": changed})
    return _presence_dict(row, names, places)


def delete_presence(session: Session, actor: Actor, pilot_id: int, presence_id: int, *,
                    person_id: int | None = None) -> None:
    """Delete a presence (from a person's page: one of ``person_id``'s)."""
    require(actor, pilot_id, "network.edit")
    row = _presence_in(session, pilot_id, presence_id, person_id)
    session.delete(row)
    session.flush()
    audit.record(session, actor, "delete", "presence", presence_id, pilot_id=pilot_id,
                 personal_data=True)


def network_records(session: Session, pilot_id: int) -> dict[str, list[Any]]:
    """The pilot's people, ties, places and presences as :mod:`locmap.network` records.

    No permission check: callers check first. A record whose period is empty
    (``until == since``, allowed by the table) is never in force and is left out.
    """
    people = [pure.PersonNode(pid, name, kind, band) for pid, name, kind, band in session.execute(
        select(Person.id, Person.pseudonym, Person.kind, Person.age_band)
        .where(Person.pilot_id == pilot_id))]
    ties = [
        pure.Tie(r.person_a_id, r.person_b_id, r.type, r.valence, r.strength, r.since, r.until)
        for r in session.scalars(select(Relationship).where(Relationship.pilot_id == pilot_id))
        if not (r.since and r.until and r.until <= r.since)
    ]
    places = [pure.PlaceNode(pid, name) for pid, name in _place_names(session, pilot_id).items()]
    presences = [
        pure.Presence(p.person_id, p.place_id, p.frequency, p.since, p.until)
        for p in session.scalars(_presences_query(pilot_id))
        if not (p.since and p.until and p.until <= p.since)
    ]
    return {"people": people, "ties": ties, "places": places, "presences": presences}


# The analysis's result type: the API types its answer from it (web does not import the
# analysis package itself).
AnalysisResult = pure.NetworkAnalysis


def analysis(
    session: Session,
    actor: Actor,
    pilot_id: int,
    *,
    as_of: dt.date | None = None,
    compare_with: dt.date | None = None,
    page: str | None = None,
    ego_of: int | None = None,
    ego_radius: int = 2,
) -> tuple[pure.NetworkAnalysis, dict[str, list[Any]]]:
    """Analyse the pilot's network (pseudonyms only); also return the records it used.

    A ``page`` (the network pages) is audited as a view of that page, at most once per
    user and hour (decided, issue 14); the API's analysis as a read each time.
    """
    require(actor, pilot_id, "network.view")
    if compare_with is not None and (as_of is None or compare_with >= as_of):
        raise InvalidData("compare_with must be an earlier date than as_of.",
                          details={"compare_with": ["needs a later as_of"]})
    records = network_records(session, pilot_id)
    if ego_of is not None and ego_of not in {p.id for p in records["people"]}:
        raise InvalidData("No such person in this pilot's network.",
                          details={"ego": ["unknown person"]})
    if not isinstance(ego_radius, int) or not 1 <= ego_radius <= 3:
        raise InvalidData("The ego view's radius is 1, 2 or 3 ties.")
    result = pure.analyse_network(
        records["people"], records["ties"], records["places"], records["presences"],
        as_of=as_of, compare_with=compare_with, ego_of=ego_of, ego_radius=ego_radius,
    )
    if page is not None:
        audit.record_view(session, actor, page, pilot_id)
    else:
        audit.record(session, actor, "read", "network_analysis", None, pilot_id=pilot_id,
                     personal_data=True,
                     detail={"as_of": _date(as_of), "compare_with": _date(compare_with)})
    return result, records


def person_ids_named(session: Session, pilot_id: int, pseudonyms: list[str]) -> dict[str, int]:
    """Map the given pseudonyms to person ids in the pilot (unknown ones are absent)."""
    if not pseudonyms:
        return {}
    rows = session.execute(select(Person.pseudonym, Person.id).where(
        Person.pilot_id == pilot_id, or_(*(Person.pseudonym == p for p in pseudonyms)))).all()
    return {name: pid for name, pid in rows}


def record_person_with_links(
    session: Session,
    actor: Actor,
    pilot_id: int,
    *,
    kind: str,
    age_band: str = "unknown",
    identity: dict[str, Any] | None = None,
    links: Sequence[Mapping[str, Any]] = (),
    places: Sequence[Mapping[str, Any]] = (),
    source: str = "",
    since: dt.date | None = None,
) -> dict[str, Any]:
    """Fast entry after a meeting: one new person with their relationships and places.

    ``links`` name existing people by pseudonym (``{"pseudonym", "type", "valence",
    "strength"}``); ``places`` are ``{"place_id", "frequency", "times"}``. Everything is
    checked before anything is written, so bad input leaves nothing half-recorded.
    """
    from locmap.services import people  # people imports nothing from here

    require(actor, pilot_id, "network.edit")
    wanted = [str(link.get("pseudonym", "")).strip().upper() for link in links]
    known = person_ids_named(session, pilot_id, [w for w in wanted if w])
    missing = [w for w in wanted if w not in known]
    if missing:
        raise InvalidData("Unknown pseudonym(s) in this pilot: " + ", ".join(missing) + ".",
                          details={"links": [f"unknown person {m!r}" for m in missing]})
    place_names = _place_names(session, pilot_id)
    bad_places = [p.get("place_id") for p in places if p.get("place_id") not in place_names]
    if bad_places:
        raise InvalidData("Unknown place(s) in this pilot.",
                          details={"places": [f"unknown place {b!r}" for b in bad_places]})
    with session.begin_nested():
        person = people.create_person(session, actor, pilot_id, kind=kind, age_band=age_band,
                                      identity=identity)
        ties = [
            create_relationship(
                session, actor, pilot_id, person_a_id=person.id,
                person_b_id=known[name], type=link.get("type", "friend"),
                valence=link.get("valence", "neutral"), strength=link.get("strength", 2),
                source=source, since=since)
            for name, link in zip(wanted, links, strict=True)
        ]
        presences = [
            create_presence(
                session, actor, pilot_id, person_id=person.id, place_id=p["place_id"],
                frequency=p.get("frequency", "weekly"), times=p.get("times", ""),
                source=source, since=since)
            for p in places
        ]
    return {"id": person.id, "pseudonym": person.pseudonym, "kind": person.kind,
            "age_band": person.age_band, "version": person.version,
            "relationships": ties, "presences": presences}


def person_links(session: Session, actor: Actor, pilot_id: int, person_id: int
                 ) -> dict[str, list[dict[str, Any]]]:
    """One person's relationships (either end) and presences, for the person page: the
    owning team's view, with who said so and when.
    """
    require(actor, pilot_id, "evidence.records")
    names, places = _pseudonyms(session, pilot_id), _place_names(session, pilot_id)
    if person_id not in names:
        raise NotFound("No such person in this pilot.")
    rels = session.scalars(select(Relationship).where(
        Relationship.pilot_id == pilot_id,
        or_(Relationship.person_a_id == person_id, Relationship.person_b_id == person_id))
        .order_by(Relationship.until.is_not(None), Relationship.id)).all()
    pres = session.scalars(_presences_query(pilot_id).where(Presence.person_id == person_id)
                           .order_by(Presence.until.is_not(None), Presence.id)).all()
    audit.record(session, actor, "read", "person", person_id, pilot_id=pilot_id,
                 personal_data=True, detail={"relationships": len(rels),
                                             "presences": len(pres)})
    out_rels = []
    for r in rels:
        d = _relationship_dict(r, names)
        other = r.person_b_id if r.person_a_id == person_id else r.person_a_id
        d.update(other_id=other, other=names.get(other))
        out_rels.append(d)
    return {"relationships": out_rels,
            "presences": [_presence_dict(p, names, places) for p in pres]}

