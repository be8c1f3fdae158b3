"""Subject access (issue 15, UK GDPR Article 15): everything locmap holds about one
person, as a PDF summary and a ZIP of CSVs.

Who: an admin (answering for the data protection officer), or a member of the person's
pilot who may read identities (practitioners, peer assessors) — the owning team. The
export holds the person's identity, case fields, relationships (the other person by
pseudonym only, never their identity), presences, the incidents and context referrals
linked to them, every record of the pilot whose free text mentions their pseudonym or name
(assessments and their context answers, plans, visits, listening, review minutes,
referrals, meeting agenda items and actions, the high-risk contexts log, safety map
areas...) and the audit trail's reads of their record. It is
audited as an ``export`` of the person (counts per file, never content).

Free text is exported as written: it may name other people, and the person answering the
request reviews (and redacts) it before it leaves the partnership; the ZIP's README says
so.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import InvalidData, NotFound
from locmap.io.export import csv_lines
from locmap.models import (
    AuditEvent,
    ContextReferral,
    Identity,
    Incident,
    Person,
    Pilot,
    Place,
    Presence,
    ReferralPerson,
    Relationship,
    incident_person,
)
from locmap.services import audit
from locmap.services.permissions import Actor, require

__all__ = ["SubjectAccess", "collect", "export_zip", "export_pdf", "find", "preview",
           "pilot_name"]

# Records whose free text may mention a person: (file label, table, pilot condition, text
# columns, date column, id column). Constants only: the SQL below is built from these,
# never input. A column ``x::text`` is searched as text (a JSON document's answers).
_MENTION_SOURCES: tuple[tuple[str, str, str, tuple[str, ...], str, str], ...] = (
    ("incident", "incident t", "t.pilot_id = :pid", ("description",), "t.occurred_at",
     "t.id"),
    ("site visit", "observation t JOIN place p ON p.id = t.place_id", "p.pilot_id = :pid",
     ("felt_safe", "felt_unsafe", "notes"), "t.started_at", "t.id"),
    ("listening record", "engagement_record t", "t.pilot_id = :pid",
     ("summary", "group_description"), "t.held_on", "t.id"),
    ("place", "place t", "t.pilot_id = :pid", ("name", "notes"), "t.updated_at", "t.id"),
    ("safety factor", "safety_factor t JOIN place p ON p.id = t.place_id",
     "p.pilot_id = :pid", ("statement",), "t.created_at", "t.id"),
    ("assessment", "assessment t JOIN place p ON p.id = t.place_id", "p.pilot_id = :pid",
     ("young_people", "guardianship", "environment", "summary"), "t.created_at", "t.id"),
    ("assessment context answers", "context_answer t JOIN assessment a ON "
     "a.id = t.assessment_id", "t.pilot_id = :pid", ("answers::text",), "a.created_at",
     "t.assessment_id"),
    ("plan action", "action t JOIN plan pl ON pl.id = t.plan_id JOIN assessment a ON "
     "a.id = pl.assessment_id JOIN place p ON p.id = a.place_id", "p.pilot_id = :pid",
     ("description", "progress_notes"), "t.created_at", "t.id"),
    ("review point", "review_point t", "t.pilot_id = :pid",
     ("minutes", "decisions", "attendees"), "t.due_on", "t.id"),
    ("displacement flag", "displacement_flag t", "t.pilot_id = :pid", ("reason",),
     "t.created_at", "t.id"),
    ("referral", "context_referral t", "t.pilot_id = :pid", ("concern", "decision_reason"),
     "t.referred_on", "t.id"),
    ("meeting agenda item", "agenda_item t JOIN context_meeting m ON m.id = t.meeting_id",
     "t.pilot_id = :pid", ("victim", "offender", "location", "theme", "shared", "decision"),
     "m.held_on", "t.id"),
    ("meeting action", "meeting_action t", "t.pilot_id = :pid", ("description",),
     "t.created_at", "t.id"),
    ("high-risk context", "high_risk_context t", "t.pilot_id = :pid",
     ("reason", "latest_decision", "close_reason"), "t.opened_on", "t.id"),
    ("safety map area", "safety_map_area t JOIN safety_map m ON m.id = t.safety_map_id",
     "t.pilot_id = :pid", ("reason",), "m.drawn_on", "t.id"),
)


@dataclass
class SubjectAccess:
    """What is held about one person, table by table (header, rows)."""

    pilot_name: str
    pseudonym: str
    made_at: dt.datetime
    tables: dict[str, tuple[list[str], list[list[Any]]]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, (_, rows) in self.tables.items()}


def _person(session: Session, actor: Actor, pilot_id: int, person_id: int) -> Person:
    if not actor.is_admin:
        require(actor, pilot_id, "identity.read")
    person = session.scalar(select(Person).where(Person.id == person_id,
                                                 Person.pilot_id == pilot_id))
    if person is None:
        raise NotFound("No such person in this pilot.")
    return person


def find(session: Session, actor: Actor, pilot_id: int, pseudonym: str) -> int:
    """The id of the pilot's person with ``pseudonym`` (case and spaces forgiven)."""
    if not actor.is_admin:
        require(actor, pilot_id, "identity.read")
    wanted = "".join(pseudonym.split()).upper()
    if not wanted:
        raise InvalidData("Give the person's pseudonym (e.g. YP-001).",
                          details={"pseudonym": "required"})
    found = session.scalar(select(Person.id).where(Person.pilot_id == pilot_id,
                                                   Person.pseudonym == wanted))
    if found is None:
        raise NotFound(f"No person {wanted} in this pilot.",
                       details={"pseudonym": wanted})
    return found


def pilot_name(session: Session, actor: Actor, pilot_id: int) -> str:
    """The pilot's name for whoever may make its subject access exports."""
    if not actor.is_admin:
        require(actor, pilot_id, "identity.read")
    name = session.scalar(select(Pilot.name).where(Pilot.id == pilot_id))
    if name is None:
        raise NotFound("No such pilot.")
    return name


def preview(session: Session, actor: Actor, pilot_id: int, person_id: int) -> dict[str, Any]:
    """How many rows each file of the export would hold (a read of the person, audited)."""
    sar = collect(session, actor, pilot_id, person_id)
    audit.record(session, actor, "read", "person", person_id, pilot_id=pilot_id,
                 personal_data=True, detail={"kind": "subject_access_preview"})
    return {"person_id": person_id, "pseudonym": sar.pseudonym, "counts": sar.counts()}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def collect(session: Session, actor: Actor, pilot_id: int, person_id: int) -> SubjectAccess:
    """Gather everything held about the person (permission checked; not yet audited)."""
    person = _person(session, actor, pilot_id, person_id)
    pilot = session.get(Pilot, pilot_id)
    assert pilot is not None
    out = SubjectAccess(pilot.name, person.pseudonym, clock.now())
    ident = session.get(Identity, person.id)
    out.tables["person"] = (
        ["pseudonym", "kind", "age_band", "name", "date_of_birth", "case_reference",
         "exploitation_category", "case_status", "last_risk_assessment_on", "recorded_at",
         "updated_at"],
        [[person.pseudonym, person.kind, person.age_band,
          ident.name if ident else "", _iso(ident.date_of_birth) if ident else "",
          ident.case_reference if ident else "", person.exploitation_category,
          person.case_status, _iso(person.last_risk_assessment_on),
          _iso(person.created_at), _iso(person.updated_at)]])
    other = select(Person.pseudonym)
    rels = session.scalars(select(Relationship).where(or_(
        Relationship.person_a_id == person.id, Relationship.person_b_id == person.id))
        .order_by(Relationship.id)).all()
    out.tables["relationships"] = (
        ["id", "with_pseudonym", "type", "valence", "strength", "source", "since", "until"],
        [[r.id, session.scalar(other.where(Person.id == (
            r.person_b_id if r.person_a_id == person.id else r.person_a_id))),
          r.type, r.valence, r.strength, r.source, _iso(r.since), _iso(r.until)]
         for r in rels])
    pres = session.execute(select(Presence, Place.name).join(Place, Place.id == Presence.place_id)
                           .where(Presence.person_id == person.id)
                           .order_by(Presence.id)).all()
    out.tables["presences"] = (
        ["id", "place", "frequency", "times", "since", "until", "source", "notes"],
        [[p.id, name, p.frequency, p.times, _iso(p.since), _iso(p.until), p.source, p.notes]
         for p, name in pres])
    linked = session.execute(
        select(Incident, Place.name).join(incident_person,
                                          incident_person.c.incident_id == Incident.id)
        .outerjoin(Place, Place.id == Incident.place_id)
        .where(incident_person.c.person_id == person.id).order_by(Incident.occurred_at)).all()
    out.tables["incidents"] = (
        ["id", "occurred_at", "category", "severity", "place", "reference", "description"],
        [[i.id, _iso(i.occurred_at), i.category, i.severity, place or "", i.external_ref or "",
          i.description] for i, place in linked])
    referred = session.scalars(
        select(ContextReferral).join(ReferralPerson,
                                     ReferralPerson.referral_id == ContextReferral.id)
        .where(ReferralPerson.person_id == person.id,
               ContextReferral.pilot_id == pilot_id).order_by(ContextReferral.id)).all()
    out.tables["referrals"] = (
        ["id", "referred_on", "context", "urgency", "threshold_level", "outcome", "concern",
         "decision_reason"],
        [[r.id, _iso(r.referred_on), r.context_name, r.urgency, r.threshold_level or "",
          r.outcome or "", r.concern, r.decision_reason] for r in referred])
    out.tables["mentions"] = (["record", "id", "date", "field", "text"],
                              _mentions(session, pilot_id, person.pseudonym,
                                        ident.name if ident else None))
    reads = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "person", AuditEvent.entity_id == str(person.id),
        AuditEvent.pilot_id == pilot_id).order_by(AuditEvent.id)).all()
    out.tables["audit_reads"] = (
        ["event_id", "at", "user", "action", "detail"],
        [[e.id, _iso(e.at), e.user_email or "", e.action, str(audit.safe_detail(e.detail))]
         for e in reads])
    return out


def _mentions(session: Session, pilot_id: int, pseudonym: str,
              name: str | None) -> list[list[Any]]:
    """Free text of the pilot's records that names the pseudonym (as a whole word) or,
    when known, the person's full name.
    """
    terms = [pseudonym] + ([name] if name and len(name.strip()) >= 4 else [])
    rows: list[list[Any]] = []
    for label, source, where, columns, date, ident in _MENTION_SOURCES:
        for col in columns:
            hit = " OR ".join(f"t.{col} ~* :t{i}" for i in range(len(terms)))
            sql = text(f"SELECT {ident} AS id, {date} AS d, t.{col} AS body "  # noqa: S608 - constants
                       f"FROM {source} WHERE {where} AND ({hit}) ORDER BY {ident}")
            params: dict[str, Any] = {"pid": pilot_id}
            for i, term in enumerate(terms):
                params[f"t{i}"] = r"\m" + _regex_escape(term.strip()) + r"\M"
            for row in session.execute(sql, params):
                rows.append([label, row.id, _iso(row.d), col.split("::")[0], row.body])
    return rows


def _regex_escape(term: str) -> str:
    """``term`` as a literal in a PostgreSQL regular expression."""
    return "".join("\\" + c if not c.isalnum() and c != " " else c for c in term)


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    return "".join(csv_lines(header, rows)).encode("utf-8-sig")


_README = """Subject access export from locmap
Pilot: {pilot}
Person: {pseudonym}
Made: {made} UTC

person.csv         identity (name, date of birth, case reference) and case fields
relationships.csv  ties to other people (the other person by pseudonym only)
presences.csv      places where they spend time
incidents.csv      incidents they are linked to
referrals.csv      context referrals that name them as a child affected
mentions.csv       records whose free text names their pseudonym or name (incidents,
                   visits, assessments, plans, referrals, meetings, the high-risk
                   contexts log, safety maps...)
audit_reads.csv    every recorded read or change of their record
summary.pdf        the same, summarised

Free text is as it was written and may name other people: review and redact it before
it is sent to the requester.
"""


def _audit(session: Session, actor: Actor, pilot_id: int, person_id: int,
           sar: SubjectAccess, fmt: str) -> None:
    audit.record(session, actor, "export", "person", person_id, pilot_id=pilot_id,
                 personal_data=True,
                 detail={"kind": "subject_access", "format": fmt, **sar.counts()})


def export_pdf(session: Session, actor: Actor, pilot_id: int, person_id: int) -> bytes:
    """The summary as a PDF (audited)."""
    sar = collect(session, actor, pilot_id, person_id)
    _audit(session, actor, pilot_id, person_id, sar, "pdf")
    return _pdf(sar)


def _pdf(sar: SubjectAccess) -> bytes:
    from locmap.io.report_pdf import render_template_pdf

    return render_template_pdf("subject_access.html", s=sar)


def export_zip(session: Session, actor: Actor, pilot_id: int, person_id: int) -> bytes:
    """The CSVs, a README and the PDF summary in one ZIP (audited)."""
    sar = collect(session, actor, pilot_id, person_id)
    _audit(session, actor, pilot_id, person_id, sar, "zip")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("README.txt", _README.format(pilot=sar.pilot_name, pseudonym=sar.pseudonym,
                                                made=sar.made_at.strftime("%Y-%m-%d %H:%M")))
        for name, (header, rows) in sar.tables.items():
            z.writestr(f"{name}.csv", _csv(header, rows))
        z.writestr("summary.pdf", _pdf(sar))
    return buf.getvalue()
