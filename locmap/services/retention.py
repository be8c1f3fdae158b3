"""Retention (issue 15, UK GDPR storage limitation): each pilot's rule for how long each
kind of personal and case data is kept, and the run that erases what is past it.

A rule says, per kind of data (:data:`KINDS`), after how many months it goes; a pilot's
own value replaces the partnership's default, and with neither the data is kept. The
people of a pilot (identities, then the pseudonymous records) count from the day the
pilot closed — an open pilot's people are never erased by a rule — while incidents,
site visits and listening records count from their own date.

:func:`run` erases for real: rows are deleted (the map's and the locality's incident
counts follow through their triggers) and free text is overwritten, in one transaction,
and for each pilot and kind it writes one audit event with the count and the ids, never
the erased content. ``dry_run`` answers the same findings and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import InvalidData, NotFound
from locmap.models import (
    EngagementRecord,
    Identity,
    Incident,
    Observation,
    Person,
    Pilot,
    Place,
    RetentionRule,
)
from locmap.models.retention import RETENTION_COLUMNS
from locmap.services import audit
from locmap.services.admin import require_admin
from locmap.services.permissions import READ_ONLY_STATUSES, Actor
from locmap.services.versioning import check_version
from locmap.timeline import add_months, pilot_end

__all__ = ["Kind", "KINDS", "Finding", "RunResult", "rules", "set_rule", "effective",
           "plan", "run"]

MAX_IDS = 1000  # ids listed per audit event (the count is always whole)


@dataclass(frozen=True)
class Kind:
    """One kind of data a rule can set a period for."""

    key: str
    label: str
    erases: str  # what happens to it, in the words the admin page uses
    counts_from: str  # "closed" (the pilot's closing day) or the record's own date
    action: str  # the audit action: "delete" (rows go) or "update" (text cleared)
    entity: str


KINDS: tuple[Kind, ...] = (
    Kind("identity_months", "Identities",
         "name, date of birth and case reference deleted; the pseudonym stays",
         "closed", "delete", "identity"),
    Kind("person_months", "People",
         "the pseudonymous person deleted with their case fields, relationships, presences "
         "and links to incidents", "closed", "delete", "person"),
    Kind("incident_text_months", "Incidents' free text",
         "description and external reference cleared; the incident stays on the map",
         "record", "update", "incident"),
    Kind("incident_months", "Incidents",
         "the incident deleted (and taken off the map's counts)", "record", "delete",
         "incident"),
    Kind("visit_text_months", "Site visits' free text",
         "felt safe, felt unsafe, weather and notes cleared; the counts stay", "record",
         "update", "observation"),
    Kind("engagement_text_months", "Listening records' free text",
         "summary and group description cleared", "record", "update", "engagement_record"),
)
assert tuple(k.key for k in KINDS) == RETENTION_COLUMNS


@dataclass
class Finding:
    """What one kind of one pilot's data is past its period."""

    pilot_id: int
    pilot_name: str
    kind: Kind
    months: int
    cutoff: dt.date
    ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"pilot_id": self.pilot_id, "pilot": self.pilot_name, "kind": self.kind.key,
                "label": self.kind.label, "months": self.months,
                "cutoff": self.cutoff.isoformat(), "count": len(self.ids),
                "ids": self.ids}


@dataclass
class RunResult:
    dry_run: bool
    on: dt.date
    findings: list[Finding]

    @property
    def total(self) -> int:
        return sum(len(f.ids) for f in self.findings)

    def summary(self) -> str:
        verb = "would erase" if self.dry_run else "erased"
        if not self.findings:
            return f"retention on {self.on}: nothing is past its period"
        parts = [f"{f.pilot_name}: {len(f.ids)} × {f.kind.label.lower()}"
                 for f in self.findings]
        return f"retention on {self.on} {verb} {self.total} record(s) — " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "on": self.on.isoformat(), "total": self.total,
                "findings": [f.to_dict() for f in self.findings]}


# ---- rules -------------------------------------------------------------------------------


def _rule_dict(rule: RetentionRule | None, pilot_id: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"pilot_id": pilot_id,
                           "version": rule.version if rule is not None else 0}
    for k in KINDS:
        out[k.key] = getattr(rule, k.key) if rule is not None else None
    return out


def _rule(session: Session, pilot_id: int | None) -> RetentionRule | None:
    cond = (RetentionRule.pilot_id.is_(None) if pilot_id is None
            else RetentionRule.pilot_id == pilot_id)
    return session.scalar(select(RetentionRule).where(cond))


def rules(session: Session, actor: Actor) -> dict[str, Any]:
    """The default rule and every pilot's (with what holds for it), for the admin page."""
    require_admin(actor)
    default = _rule_dict(_rule(session, None), None)
    pilots = []
    for p in session.scalars(select(Pilot).order_by(Pilot.name)):
        own = _rule_dict(_rule(session, p.id), p.id)
        closed = _closed_on(p)
        pilots.append({"id": p.id, "name": p.name, "status": p.status,
                       "closed_on": closed.isoformat() if closed else None,
                       "rule": own,
                       "effective": {k.key: (own[k.key] if own[k.key] is not None
                                             else default[k.key]) for k in KINDS}})
    return {"kinds": [{"key": k.key, "label": k.label, "erases": k.erases,
                       "counts_from": k.counts_from} for k in KINDS],
            "default": default, "pilots": pilots}


def _months(value: Any, kind: Kind) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit():
            raise InvalidData(f"{kind.label}: give a whole number of months, or leave it "
                              "empty.", details={"field": kind.key})
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 600:
        raise InvalidData(f"{kind.label}: the period is 0 to 600 months (or empty).",
                          details={"field": kind.key})
    return value


def set_rule(session: Session, actor: Actor, pilot_id: int | None,
             values: dict[str, Any], *, version: Any) -> dict[str, Any]:
    """Save the default rule (``pilot_id`` None) or a pilot's; ``version`` is the one the
    admin edited (0 for a rule not yet saved): a rule saved by someone else since → 409.
    """
    require_admin(actor)
    if pilot_id is not None and session.get(Pilot, pilot_id) is None:
        raise NotFound("No such pilot.")
    months = {k.key: _months(values.get(k.key), k) for k in KINDS}
    rule = _rule(session, pilot_id)
    if rule is None:
        if version != 0:
            raise InvalidData("This rule was deleted or never saved; reload the page.")
        rule = RetentionRule(pilot_id=pilot_id, **months)
        session.add(rule)
        action = "create"
    else:
        check_version(session, "retention rule", rule, version)
        for key, value in months.items():
            setattr(rule, key, value)
        action = "update"
    session.flush()
    audit.record(session, actor, action, "retention_rule", rule.id, pilot_id=pilot_id,
                 detail={**months, "scope": "pilot" if pilot_id else "default"})
    return _rule_dict(rule, pilot_id)


def _closed_on(pilot: Pilot) -> dt.date | None:
    """The day a closed or archived pilot's people start to count from (None while open)."""
    if pilot.status not in READ_ONLY_STATUSES:
        return None
    return pilot.closed_on or pilot_end(pilot.start_date, pilot.duration_months)


def effective(session: Session, pilot: Pilot) -> dict[str, int | None]:
    """Months per kind for ``pilot``: its own value, else the default's, else None (kept)."""
    default, own = _rule(session, None), _rule(session, pilot.id)
    out: dict[str, int | None] = {}
    for k in KINDS:
        value = getattr(own, k.key) if own is not None else None
        out[k.key] = value if value is not None else (
            getattr(default, k.key) if default is not None else None)
    return out


# ---- finding and erasing ------------------------------------------------------------------


def _start_of(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day``, local time (the partnership's days)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=clock.LOCAL_TZ)


def _candidates(session: Session, pilot: Pilot, kind: Kind, cutoff: dt.date) -> list[int]:
    """Ids of the pilot's records of ``kind`` past ``cutoff`` (still holding what goes)."""
    before = _start_of(cutoff)
    stmt: Any
    if kind.key == "identity_months":
        stmt = select(Identity.person_id).join(Person).where(Person.pilot_id == pilot.id)
    elif kind.key == "person_months":
        stmt = select(Person.id).where(Person.pilot_id == pilot.id)
    elif kind.key in ("incident_text_months", "incident_months"):
        stmt = select(Incident.id).where(Incident.pilot_id == pilot.id,
                                         Incident.occurred_at < before)
        if kind.key == "incident_text_months":
            stmt = stmt.where(or_(Incident.description != "",
                                  Incident.external_ref.is_not(None),
                                  _key_is_plain(Incident.dedupe_key)))
    elif kind.key == "visit_text_months":
        stmt = (select(Observation.id).join(Place, Place.id == Observation.place_id)
                .where(Place.pilot_id == pilot.id, Observation.started_at < before,
                       _any_text(Observation.felt_safe, Observation.felt_unsafe,
                                 Observation.notes, Observation.weather)))
    else:
        stmt = select(EngagementRecord.id).where(
            EngagementRecord.pilot_id == pilot.id, EngagementRecord.held_on < cutoff,
            _any_text(EngagementRecord.summary, EngagementRecord.group_description))
    return list(session.scalars(stmt.order_by(stmt.selected_columns[0])))


HASHED_KEY_PREFIXES = ("sha256:", "row:")


def _key_is_plain(key: Any) -> ColumnElement[bool]:
    return and_(key.is_not(None), *(~key.startswith(p) for p in HASHED_KEY_PREFIXES))


def _hashed_key(key: Any) -> Any:
    """``sha256:<hex>`` of a plain dedupe key (as :mod:`locmap.io.police` makes them);
    keys already hashed, and NULL, stay as they are.
    """
    digest = literal("sha256:") + func.encode(func.sha256(func.convert_to(key, "UTF8")), "hex")
    return case((_key_is_plain(key), digest), else_=key)


def _any_text(*columns: Any) -> ColumnElement[bool]:
    return or_(*(func.length(c) > 0 for c in columns))


def _erase(session: Session, kind: Kind, ids: list[int]) -> None:
    if kind.key == "identity_months":
        session.execute(delete(Identity).where(Identity.person_id.in_(ids)))
    elif kind.key == "person_months":
        # Identities, relationships, presences and incident links go by ON DELETE CASCADE.
        session.execute(delete(Person).where(Person.id.in_(ids)))
    elif kind.key == "incident_text_months":
        # The dedupe key may hold the reference itself (a source that keys by it): it
        # becomes its one-way hash, the form police imports compare with.
        session.execute(update(Incident).where(Incident.id.in_(ids)).values(
            description="", external_ref=None, dedupe_key=_hashed_key(Incident.dedupe_key),
            version=Incident.version + 1))
    elif kind.key == "incident_months":
        session.execute(delete(Incident).where(Incident.id.in_(ids)))
    elif kind.key == "visit_text_months":
        session.execute(update(Observation).where(Observation.id.in_(ids)).values(
            felt_safe="", felt_unsafe="", notes="", weather="",
            version=Observation.version + 1))
    else:
        session.execute(update(EngagementRecord).where(EngagementRecord.id.in_(ids)).values(
            summary="", group_description=""))


def plan(session: Session, on: dt.date | None = None) -> list[Finding]:
    """What every pilot holds past its periods on ``on`` (default: today)."""
    on = on or clock.today()
    found = []
    for pilot in session.scalars(select(Pilot).order_by(Pilot.name)):
        months = effective(session, pilot)
        closed = _closed_on(pilot)
        for kind in KINDS:
            n = months[kind.key]
            if n is None:
                continue
            if kind.counts_from == "closed":
                if closed is None or add_months(closed, n) > on:
                    continue  # open, or closed too recently: its people stay
                cutoff = add_months(closed, n)
            else:
                cutoff = add_months(on, -n)
            ids = _candidates(session, pilot, kind, cutoff)
            if ids:
                found.append(Finding(pilot.id, pilot.name, kind, n, cutoff, ids))
    # A pilot's people deleted take their identities (the same people): one event, not two.
    gone = {f.pilot_id for f in found if f.kind.key == "person_months"}
    return [f for f in found if not (f.kind.key == "identity_months" and f.pilot_id in gone)]


def run(session: Session, actor: Actor, *, dry_run: bool = False,
        on: dt.date | None = None) -> RunResult:
    """Apply every rule: an admin, or the worker and the CLI as the server's operator.

    Incidents are cleared before they are deleted and identities before people, so each
    record is counted once, by the strongest rule that reaches it.
    """
    require_admin(actor)
    on = on or clock.today()
    findings = plan(session, on)
    if dry_run:
        return RunResult(True, on, findings)
    deleted_incidents = {i for f in findings if f.kind.key == "incident_months" for i in f.ids}
    for f in findings:
        if f.kind.key == "incident_text_months":
            f.ids = [i for i in f.ids if i not in deleted_incidents]
    findings = [f for f in findings if f.ids]
    for f in findings:
        _erase(session, f.kind, f.ids)
        audit.record(session, actor, f.kind.action, f.kind.entity, None, pilot_id=f.pilot_id,
                     personal_data=True,
                     detail={"retention": True, "kind": f.kind.key, "months": f.months,
                             "cutoff": f.cutoff.isoformat(), "count": len(f.ids),
                             "ids": f.ids[:MAX_IDS], "ids_listed": min(len(f.ids), MAX_IDS)})
    session.flush()
    session.expire_all()
    return RunResult(False, on, findings)
