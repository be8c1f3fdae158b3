"""The review history of an assessment or plan line: every version, what changed from
its parent, whom it was sent to, every comment and decision, and the audit trail of who
did what when. Read-only; visible to every member of the pilot.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.models import (
    Action,
    Agency,
    Assessment,
    AuditEvent,
    Pilot,
    Plan,
    Review,
    ReviewRequest,
    SafetyFactor,
    User,
)
from locmap.services import lifecycle
from locmap.services.assessments import compare_assessments
from locmap.services.permissions import Actor, can
from locmap.services.plan_diff import plan_diff
from locmap.services.reviews import (
    Subject,
    _fk,
    approval_of,
    get_subject,
    place_of,
    status_label,
    waited_for,
)

__all__ = ["history"]


def _names(session: Session, ids: set[int]) -> dict[int, tuple[str, str | None]]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.name, Agency.name)
                           .outerjoin(Agency, Agency.id == User.agency_id)
                           .where(User.id.in_(ids))).all()
    return {uid: (name, agency) for uid, name, agency in rows}


def _versions(session: Session, subject: Subject) -> list[Subject]:
    if isinstance(subject, Assessment):
        return list(session.scalars(select(Assessment).where(
            Assessment.place_id == subject.place_id).order_by(Assessment.version_no.desc())))
    return list(session.scalars(select(Plan).join(Assessment).where(
        Assessment.place_id == place_of(session, subject).id).order_by(Plan.id.desc())))


def _item_labels(session: Session, reviews: list[Review]) -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    for r in reviews:
        if r.factor_id and (f := session.get(SafetyFactor, r.factor_id)):
            out[("factor", r.factor_id)] = f"{f.quadrant}: {f.statement}"
        if r.action_id and (act := session.get(Action, r.action_id)):
            out[("action", r.action_id)] = act.description
    return out


def _waits_for(session: Session, pilot: Pilot, v: Any) -> dict[str, Any] | None:
    """The assessment version a plan version in review waits for (None when none), with
    the status every page shows for it.
    """
    if not isinstance(v, Plan) or v.status != lifecycle.IN_REVIEW:
        return None
    a = waited_for(session, v)
    return None if a is None else {"id": a.id, "version_no": a.version_no, "status": a.status,
                                   "label": status_label(session, pilot, "assessment", a),
                                   "own": a.id == v.assessment_id}


def history(session: Session, actor: Actor, pilot_id: int, kind: str,
            subject_id: int, *, threshold: int) -> dict[str, Any]:
    """Every version of the subject's line, newest first, with requests, reviews, the
    approval state, the diff from its parent and who did what when (the audit trail).
    """
    subject = get_subject(session, actor, pilot_id, kind, subject_id)
    pilot = session.get(Pilot, pilot_id)
    assert pilot is not None
    versions = _versions(session, subject)
    fk = _fk(kind)
    ids = [v.id for v in versions]
    reviews = list(session.scalars(select(Review).where(getattr(Review, fk).in_(ids))
                                   .order_by(Review.created_at)))
    reqs = list(session.scalars(select(ReviewRequest).where(
        getattr(ReviewRequest, fk).in_(ids)).order_by(ReviewRequest.requested_at)))
    events = list(session.scalars(select(AuditEvent).where(
        AuditEvent.entity == kind, AuditEvent.entity_id.in_([str(i) for i in ids]),
        AuditEvent.action != "read").order_by(AuditEvent.at)))
    names = _names(session, {r.author_id for r in reviews}
                   | {r.reviewer_id for r in reqs if r.reviewer_id}
                   | {v.created_by_id for v in versions if v.created_by_id}
                   | {e.user_id for e in events if e.user_id}
                   | {v.override_by_id for v in versions
                      if isinstance(v, Plan) and v.override_by_id})
    agencies = {i: n for i, n in session.execute(select(Agency.id, Agency.name))}
    items = _item_labels(session, reviews)
    out = []
    for v in versions:
        state = approval_of(session, pilot, kind, v.id)
        label = status_label(session, pilot, kind, v)
        waits = _waits_for(session, pilot, v)
        diff = None
        if v.parent_id is not None and v.parent_id in ids:
            diff = (compare_assessments(session, actor, pilot_id, v.parent_id, v.id,
                                       threshold=threshold)
                    if kind == "assessment" else plan_diff(
                        session, v.parent_id, v.id,
                        partner=not can(actor, pilot_id, "aggregate.unsuppressed"),
                        threshold=threshold))
        out.append({
            "id": v.id, "version_no": v.version_no, "status": v.status, "label": label,
            "parent_id": v.parent_id, "submitted_at": v.submitted_at,
            "approved_at": v.approved_at,
            "author": names.get(v.created_by_id or 0, ("unknown", None))[0],
            "author_id": v.created_by_id,
            "outstanding": [names.get(i, (f"reviewer {i}", None))[0] if k == "reviewer"
                            else f"{i} more approval{'s' if i > 1 else ''}"
                            if k == "approvals" else agencies.get(i, f"agency {i}")
                            for k, i in state.outstanding],
            "requests": [{"to": names.get(r.reviewer_id, ("?", None))[0] if r.reviewer_id
                          else f"any reviewer of {agencies.get(r.agency_id)}",
                          "reviewer_id": r.reviewer_id, "agency_id": r.agency_id,
                          "requested_at": r.requested_at}
                         for r in reqs if getattr(r, fk) == v.id],
            "reviews": [{"id": r.id, "author": names[r.author_id][0],
                         "agency": names[r.author_id][1], "decision": r.decision,
                         "comment": r.comment, "created_at": r.created_at,
                         "factor_id": r.factor_id, "action_id": r.action_id,
                         "item": items.get(("factor", r.factor_id or 0))
                         or items.get(("action", r.action_id or 0))}
                        for r in reviews if getattr(r, fk) == v.id],
            "diff": diff,
            "override": {"reason": v.override_reason, "at": v.override_at,
                         "by": names.get(v.override_by_id or 0, ("unknown", None))[0]}
            if isinstance(v, Plan) and v.override_reason else None,
            "waits_for_assessment": waits is not None,
            "waits_for": waits,
        })
    return {"kind": kind, "subject_id": subject_id, "pilot_id": pilot_id,
            "approval_rule": pilot.approval_rule,
            "approver_agencies": [a.name for a in pilot.approver_agencies],
            "min_approvals": pilot.min_approvals, "place": place_of(session, subject).name,
            "versions": out,
            "events": [{"at": e.at, "who": names.get(e.user_id or 0, (e.user_email, None))[0],
                        "action": e.action, "version_id": int(e.entity_id or 0),
                        "detail": e.detail} for e in events]}
