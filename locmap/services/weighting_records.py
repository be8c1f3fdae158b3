"""The pilot's records behind a context weighting (issue 19).

A context of an assessment's weighting may refer to the pilot's own record of it: a place,
or a peer group, a school or an online space (places of their kinds). This module checks
such a reference (the record is the pilot's, or :class:`NotFound`; its kind is the
record's, whatever was sent), describes the records for the assessment page and the API
(name, kind, latest assessment — as any member sees the place itself: no pseudonyms), and
lists, for a context's own page, the other assessments in which it is weighted and its
share there.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.assessment import context_kinds as ck
from locmap.assessment import context_weighting as cw
from locmap.errors import NotFound
from locmap.models import Assessment, ContextWeight, Place
from locmap.services.permissions import Actor, require
from locmap.vocab import label

__all__ = ["resolve", "records_of", "weighted_in", "choices"]

def _kind_label(kind: str) -> str:
    return ck.KIND_LABELS.get(kind) or label(kind)


def resolve(session: Session, pilot_id: int, w: cw.ContextWeighting, *,
            kept: frozenset[int] = frozenset()) -> cw.ContextWeighting:
    """``w`` with each referred record checked and its kind (and a blank name) taken from it.

    ``kept`` are records the stored weighting refers to already: they stay valid if the
    place was deleted since. Any other id must be a live place of the pilot.

    Raises
    ------
    NotFound
        A record that is not the pilot's (another pilot's answers as an absent one).
    """
    ids = {c.place_id for c in w.contexts if c.place_id is not None}
    if not ids:
        return w
    if any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        return w  # the pure validation names the bad value
    found = {p.id: p for p in session.scalars(select(Place).where(
        Place.id.in_(ids), Place.pilot_id == pilot_id))
        if p.deleted_at is None or p.id in kept}
    contexts = []
    for c in w.contexts:
        if c.place_id is None:
            contexts.append(c)
            continue
        place = found.get(c.place_id)
        if place is None:
            raise NotFound("No such context in this pilot.", details={"field": "place_id"})
        contexts.append(replace(c, name=c.name.strip() or place.name,
                                kind=cw.kind_of_place(place.kind)))
    return replace(w, contexts=tuple(contexts))


def records_of(session: Session, pilot_id: int,
               contexts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The contexts (``ContextWeighting.to_dict()['contexts']``) each with its ``record``:
    the place's id, name, kind and latest assessment, or None (unlinked, or deleted since).
    """
    ids = {c["place_id"] for c in contexts if c.get("place_id")}
    places = {p.id: p for p in session.scalars(select(Place).where(
        Place.id.in_(ids), Place.pilot_id == pilot_id, Place.deleted_at.is_(None)))} if ids \
        else {}
    latest: dict[int, Assessment] = {}
    if places:
        for v in session.scalars(select(Assessment).where(Assessment.place_id.in_(places))
                                 .order_by(Assessment.version_no)):
            latest[v.place_id] = v
    out = []
    for c in contexts:
        p = places.get(c.get("place_id") or 0)
        a = latest.get(p.id) if p else None
        out.append({**c, "record": None if p is None else {
            "id": p.id, "name": p.name, "kind": p.kind, "kind_label": _kind_label(p.kind),
            "assessment_id": a.id if a else None,
            "assessment_version_no": a.version_no if a else None}})
    return out


def weighted_in(session: Session, actor: Actor, pilot_id: int,
                place_id: int) -> list[dict[str, Any]]:
    """The other places' assessment versions whose weighting refers to this context, with
    its share there (newest versions first). Names of places only: nothing a partner may
    not read on those assessments' own pages.
    """
    require(actor, pilot_id, "assessment.view")
    rows = session.execute(
        select(Assessment, Place.name, Place.kind, ContextWeight.share)
        .join(ContextWeight, ContextWeight.assessment_id == Assessment.id)
        .join(Place, Place.id == Assessment.place_id)
        .where(ContextWeight.place_id == place_id, Place.pilot_id == pilot_id,
               Place.deleted_at.is_(None), Assessment.place_id != place_id)
        .order_by(Place.name, Assessment.version_no.desc())).all()
    return [{"assessment_id": a.id, "version_no": a.version_no, "status": a.status,
             "place_id": a.place_id, "place": name, "kind_label": _kind_label(kind),
             "share": share} for a, name, kind, share in rows]


def choices(session: Session, pilot_id: int) -> list[dict[str, Any]]:
    """What a weighting form offers to link: the pilot's live places, grouped by kind
    (peer groups, schools, online spaces, then the other places), names only.
    """
    order = {"peer_group": 0, "school": 1, "online": 2}
    rows = session.execute(select(Place.id, Place.name, Place.kind).where(
        Place.pilot_id == pilot_id, Place.deleted_at.is_(None))).all()
    groups: dict[str, list[dict[str, Any]]] = {}
    for pid, name, kind in sorted(rows, key=lambda r: (order.get(r.kind, 3), r.name, r.id)):
        heading = {"peer_group": "Peer groups", "school": "Schools",
                   "online": "Online spaces"}.get(kind, "Places")
        groups.setdefault(heading, []).append({"id": pid, "name": name})
    return [{"heading": h, "options": opts} for h, opts in groups.items()]
