"""Children's case records (issue 19): the CSV exchange with case-management systems.

A young person of the network may carry a **case reference** (on their identity, read by
the owning team only). Case-management systems send, keyed on that reference, each child's
**case status**, **exploitation category** and **last risk assessment date**
(:func:`preview` reports row by row what would change and what is wrong; :func:`apply`
writes the good rows in one transaction, and nothing of a bad row); and lead workers take
back, for a context, the **children linked to it** with their case references
(:func:`children_at_place`) to record the contextual plan on the child's record.

Both directions are personal data: identity permissions (``identity.edit`` to import,
``identity.read`` to export), every read and write audited. Values are checked by the same
rules as the person form (:func:`locmap.services.people.apply_case_fields`).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import Conflict, InvalidData
from locmap.io.export import csv_lines
from locmap.models import Identity, Person, Place, Presence
from locmap.services import audit
from locmap.services.people import apply_case_fields
from locmap.services.permissions import Actor, require
from locmap.vocab import CASE_STATUSES, EXPLOITATION_CATEGORIES, label

__all__ = ["COLUMNS", "EXPORT_COLUMNS", "MAX_BYTES", "MAX_ROWS", "preview", "apply",
           "children_at_place", "children_csv"]

COLUMNS = ("case_reference", "case_status", "exploitation_category",
           "last_risk_assessment_on")
EXPORT_COLUMNS = ("pseudonym", "case_reference", "case_status", "exploitation_category",
                  "last_risk_assessment_on", "at_the_place")
MAX_BYTES = 2_000_000
MAX_ROWS = 5_000
_FIELDS = {"case_status": CASE_STATUSES, "exploitation_category": EXPLOITATION_CATEGORIES}


def _word(value: str, vocabulary: tuple[str, ...]) -> str | None:
    """A vocabulary word given as itself or its label, any case; None if neither."""
    key = value.strip().casefold()
    for w in vocabulary:
        if key in (w.casefold(), label(w).casefold()):
            return w
    return None


def _date(value: str) -> dt.date | None:
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _rows(text: str) -> list[dict[str, str]]:
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise InvalidData(f"The file is larger than {MAX_BYTES // 1_000_000} MB.")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [(h or "").strip().casefold() for h in reader.fieldnames or []]
    if "case_reference" not in header:
        raise InvalidData("The first line must name the columns, with case_reference and "
                          f"any of {', '.join(COLUMNS[1:])}.")
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown:
        raise InvalidData(f"Unknown columns: {', '.join(unknown)}. The columns are "
                          f"{', '.join(COLUMNS)}.")
    reader.fieldnames = header
    rows = [{k: (v or "") for k, v in r.items() if isinstance(k, str)} for r in reader]
    if len(rows) > MAX_ROWS:
        raise InvalidData(f"At most {MAX_ROWS} rows at a time.")
    if not rows:
        raise InvalidData("The file has no rows under its header.")
    return rows


def _people_by_reference(session: Session, pilot_id: int) -> dict[str, list[Person]]:
    out: dict[str, list[Person]] = {}
    for person, ref in session.execute(
            select(Person, Identity.case_reference).join(Identity, Identity.person_id == Person.id)
            .where(Person.pilot_id == pilot_id, Identity.case_reference != "")):
        out.setdefault(ref.strip().casefold(), []).append(person)
    return out


def _check(session: Session, pilot_id: int, text: str) -> list[dict[str, Any]]:
    """Every row: its line, reference, pseudonym, the changes, or what is wrong with it."""
    people = _people_by_reference(session, pilot_id)
    seen: dict[str, int] = {}
    report = []
    for i, row in enumerate(_rows(text), start=2):
        ref = row.get("case_reference", "").strip()
        out: dict[str, Any] = {"line": i, "case_reference": ref, "pseudonym": None,
                               "person_id": None, "changes": {}, "error": None}
        report.append(out)
        if not ref:
            out["error"] = "No case reference."
            continue
        key = ref.casefold()
        if key in seen:
            out["error"] = f"The same case reference as line {seen[key]}."
            continue
        seen[key] = i
        matches = people.get(key, [])
        if not matches:
            out["error"] = "No young person of this pilot has this case reference."
            continue
        if len(matches) > 1:
            out["error"] = "More than one person of this pilot has this case reference."
            continue
        person = matches[0]
        out["pseudonym"], out["person_id"] = person.pseudonym, person.id
        if person.kind != "young_person":
            out["error"] = "Case fields are recorded for young people only."
            continue
        changes: dict[str, Any] = {}
        problems = []
        for field, vocabulary in _FIELDS.items():
            value = row.get(field, "").strip()
            if not value:
                continue
            word = _word(value, vocabulary)
            if word is None:
                problems.append(f"{label(field)}: {value!r} is not one of "
                                f"{', '.join(label(w) for w in vocabulary)}.")
            elif word != getattr(person, field):
                changes[field] = word
        value = row.get("last_risk_assessment_on", "").strip()
        if value:
            day = _date(value)
            if day is None:
                problems.append(f"Last risk assessment: {value!r} is not a date "
                                "(YYYY-MM-DD or DD/MM/YYYY).")
            elif day > clock.today():
                problems.append("Last risk assessment: the date is in the future.")
            elif day != person.last_risk_assessment_on:
                changes["last_risk_assessment_on"] = day
        if problems:
            out["error"] = " ".join(problems)
            continue
        out["changes"] = changes
        out["version"] = person.version
    return report


def _digest(report: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(report, default=str, sort_keys=True).encode()).hexdigest()


def _summary(report: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rows": len(report), "errors": sum(1 for r in report if r["error"]),
            "changing": sum(1 for r in report if r["changes"]),
            "unchanged": sum(1 for r in report if not r["error"] and not r["changes"])}


def _shown(report: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"line": r["line"], "case_reference": r["case_reference"],
             "pseudonym": r["pseudonym"], "error": r["error"],
             "changes": {k: (v.isoformat() if isinstance(v, dt.date) else v)
                         for k, v in r["changes"].items()}} for r in report]


def preview(session: Session, actor: Actor, pilot_id: int, text: str) -> dict[str, Any]:
    """What the CSV would change, row by row; nothing is written. ``digest`` identifies
    this preview: :func:`apply` refuses (409) when the records changed since.
    """
    require(actor, pilot_id, "identity.edit")
    report = _check(session, pilot_id, text)
    audit.record(session, actor, "read_identity", "case_records", None, pilot_id=pilot_id,
                 personal_data=True,
                 detail={"preview_rows": len(report), "person_ids": sorted(
                     {r["person_id"] for r in report if r["person_id"] is not None})})
    return {**_summary(report), "digest": _digest(report), "report": _shown(report)}


def apply(session: Session, actor: Actor, pilot_id: int, text: str,
          digest: str) -> dict[str, Any]:
    """Write the good rows of a previewed CSV in one transaction (bad rows: nothing).

    Raises
    ------
    Conflict
        The people's records (or the file) changed since the preview: preview again.
    """
    require(actor, pilot_id, "identity.edit")
    report = _check(session, pilot_id, text)
    if _digest(report) != digest:
        raise Conflict("The case records changed since the preview (or the file is not the "
                       "one previewed): preview it again.")
    changed = 0
    for r in report:
        if r["error"] or not r["changes"]:
            continue
        person = session.get(Person, r["person_id"])
        assert person is not None
        apply_case_fields(person, person.kind, r["changes"])
        changed += 1
        audit.record(session, actor, "update", "person", person.id, pilot_id=pilot_id,
                     personal_data=True,
                     detail={"source": "case records CSV", "line": r["line"],
                             "fields": sorted(r["changes"])})
    session.flush()
    return {**_summary(report), "changed": changed, "report": _shown(report)}


def children_at_place(session: Session, actor: Actor, pilot_id: int,
                      place_id: int) -> tuple[str, list[list[Any]]]:
    """The young people linked to a place today (presences in force) with their case
    references: the owning team's, audited as a personal-data export.
    """
    require(actor, pilot_id, "identity.read")
    place = session.get(Place, place_id)
    if place is None or place.pilot_id != pilot_id or place.deleted_at is not None:
        from locmap.errors import NotFound

        raise NotFound("No such place in this pilot.")
    today = clock.today()
    rows = session.execute(
        select(Person, Identity.case_reference, Presence.frequency)
        .join(Presence, Presence.person_id == Person.id)
        .outerjoin(Identity, Identity.person_id == Person.id)
        .where(Presence.place_id == place_id, Person.pilot_id == pilot_id,
               Person.kind == "young_person",
               or_(Presence.since.is_(None), Presence.since <= today),
               or_(Presence.until.is_(None), Presence.until >= today))
        .order_by(Person.pseudonym)).all()
    out = [[p.pseudonym, ref or "", label(p.case_status) if p.case_status else "",
            label(p.exploitation_category) if p.exploitation_category else "",
            p.last_risk_assessment_on.isoformat() if p.last_risk_assessment_on else "",
            freq]
           for p, ref, freq in rows]
    audit.record(session, actor, "export", "children_at_place", place_id, pilot_id=pilot_id,
                 personal_data=True, detail={"rows": len(out), "format": "csv",
                                             "person_ids": [p.id for p, _, _ in rows]})
    return place.name, out


def children_csv(session: Session, actor: Actor, pilot_id: int,
                 place_id: int) -> tuple[str, str]:
    """The CSV text of :func:`children_at_place` and a file name."""
    _, rows = children_at_place(session, actor, pilot_id, place_id)
    return "".join(csv_lines(EXPORT_COLUMNS, rows)), f"children-at-place-{place_id}.csv"
