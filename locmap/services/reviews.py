"""Partner review of assessment and plan versions: request, comment, decide, approve.

A practitioner sends a submitted (``in_review``, frozen) version to named partner
reviewers or to agencies; partner reviewers comment on the whole version or on one factor
or action, request changes or approve. After every decision the pilot's approval rule
(:func:`locmap.assessment.review_rules.approval_state`) is evaluated: once it is met the
version becomes ``approved`` and any earlier approved version of the same place (or of
the same plan line) ``superseded``. A request for changes leaves the version frozen —
its state reads "changes requested" in the history and the practitioner starts a new
version (``assessments.new_version``), which supersedes it on submission. Nobody reviews
a version they wrote, and only reviewers who were asked may decide.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment import review_rules as rules
from locmap.errors import Conflict, Forbidden, InvalidData, NotFound
from locmap.models import (
    Action,
    Agency,
    Assessment,
    Membership,
    Pilot,
    Place,
    Plan,
    Review,
    ReviewRequest,
    SafetyFactor,
    User,
)
from locmap.services import audit, lifecycle
from locmap.services.permissions import Actor, require
from locmap.vocab import REVIEW_DECISIONS

__all__ = [
    "KINDS", "Subject", "get_subject", "request_review", "give_review", "approval_of",
    "reviewers_of", "place_of", "submit_plan", "load_subject", "my_agency", "AskedOfMe",
    "undecided_requests_for", "status_label", "version_label", "version_labels",
    "assessment_blocks", "waited_for", "override_plan_block",
    "approve_waiting_plans",
]

KINDS = ("assessment", "plan")
Subject = Assessment | Plan
_COMMENT_MAX = 4000


def _fk(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound(f"Nothing called {kind!r} can be reviewed.")
    return f"{kind}_id"


def place_of(session: Session, subject: Subject) -> Place:
    """The place an assessment (or a plan's assessment) is about."""
    a = subject if isinstance(subject, Assessment) else session.get(Assessment,
                                                                    subject.assessment_id)
    place = session.get(Place, a.place_id) if a is not None else None
    if place is None:
        raise NotFound("No such version in this pilot.")
    return place


def load_subject(session: Session, kind: str, subject_id: int) -> Subject | None:
    """The version row, unchecked (callers check the pilot and permissions)."""
    if kind == "assessment":
        return session.get(Assessment, subject_id)
    return session.get(Plan, subject_id)


def get_subject(session: Session, actor: Actor, pilot_id: int, kind: str, subject_id: int,
                *, permission: str = "assessment.view") -> Subject:
    """The assessment or plan version if it belongs to the pilot and the actor may act."""
    _fk(kind)
    require(actor, pilot_id, permission)
    subject = load_subject(session, kind, subject_id)
    if subject is None or place_of(session, subject).pilot_id != pilot_id:
        raise NotFound(f"No such {kind} in this pilot.")
    return subject


def _edit_permission(kind: str) -> str:
    return "assessment.edit" if kind == "assessment" else "plan.edit"


def reviewers_of(session: Session, pilot_id: int) -> list[dict[str, Any]]:
    """The pilot's partner reviewers with their agency (the choices for a request)."""
    rows = session.execute(
        select(User.id, User.name, User.agency_id, Agency.name)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(Agency, Agency.id == User.agency_id)
        .where(Membership.pilot_id == pilot_id, Membership.role == "partner_reviewer",
               User.active.is_(True))
        .order_by(Agency.name, User.name)).all()
    return [{"id": uid, "name": name, "agency_id": aid, "agency": an}
            for uid, name, aid, an in rows]


def request_review(session: Session, actor: Actor, pilot_id: int, kind: str, subject_id: int,
                   *, reviewer_ids: list[int] | None = None,
                   agency_ids: list[int] | None = None) -> list[ReviewRequest]:
    """Send a submitted version to named reviewers and/or to agencies (one per agency).

    Raises
    ------
    Conflict
        The version is a draft (submit it first) or no longer under review.
    InvalidData
        Nobody chosen, a reviewer who is not a partner reviewer of the pilot, or an agency
        with no partner reviewer in the pilot.
    """
    subject = get_subject(session, actor, pilot_id, kind, subject_id,
                          permission=_edit_permission(kind))
    if subject.status == lifecycle.DRAFT:
        raise Conflict("Submit this draft first: only a frozen version can be reviewed.")
    if subject.status != lifecycle.IN_REVIEW:
        raise Conflict(f"This version is {subject.status.replace('_', ' ')}; it cannot be "
                       "sent for review again.", details={"status": subject.status})
    reviewer_ids = sorted(set(reviewer_ids or []))
    agency_ids = sorted(set(agency_ids or []))
    if not reviewer_ids and not agency_ids:
        raise InvalidData("Choose at least one partner reviewer or agency.")
    pool = reviewers_of(session, pilot_id)
    people = {r["id"] for r in pool}
    agencies = {r["agency_id"] for r in pool if r["agency_id"] is not None}
    if bad := [r for r in reviewer_ids if r not in people]:
        raise InvalidData("Only the pilot's partner reviewers can be asked to review.",
                          details={"reviewer_ids": bad})
    if bad := [a for a in agency_ids if a not in agencies]:
        raise InvalidData("These agencies have no partner reviewer in this pilot.",
                          details={"agency_ids": bad})
    fk = _fk(kind)
    existing = session.scalars(select(ReviewRequest).where(
        getattr(ReviewRequest, fk) == subject_id)).all()
    have = {(r.reviewer_id, r.agency_id) for r in existing}
    new = [ReviewRequest(**{fk: subject_id}, reviewer_id=r) for r in reviewer_ids
           if (r, None) not in have]
    new += [ReviewRequest(**{fk: subject_id}, agency_id=a) for a in agency_ids
            if (None, a) not in have]
    session.add_all(new)
    session.flush()
    audit.record(session, actor, "request_review", kind, subject_id, pilot_id=pilot_id,
                 detail={"reviewer_ids": reviewer_ids, "agency_ids": agency_ids})
    return new


def submit_plan(session: Session, actor: Actor, pilot_id: int, plan_id: int) -> Plan:
    """Freeze a draft plan for review (``in_review``); its parent, if under review, is
    superseded — the same rule as :func:`locmap.services.assessments.submit_assessment`.
    """
    plan = get_subject(session, actor, pilot_id, "plan", plan_id, permission="plan.edit")
    if not isinstance(plan, Plan):  # pragma: no cover - get_subject returns a Plan
        raise NotFound("No such plan in this pilot.")
    lifecycle.assert_draft(plan, "Plan version")
    if not plan.actions:
        raise InvalidData("Add at least one action before submitting the plan.")
    lifecycle.submit(session, plan, Plan, "Plan version")
    audit.record(session, actor, "submit", "plan", plan.id, pilot_id=pilot_id,
                 detail={"version_no": plan.version_no, "actions": len(plan.actions)})
    return plan


def _requests(session: Session, kind: str, subject_id: int) -> list[ReviewRequest]:
    return list(session.scalars(select(ReviewRequest).where(
        getattr(ReviewRequest, _fk(kind)) == subject_id).order_by(ReviewRequest.id)))


def _user_agencies(session: Session, ids: set[int]) -> dict[int, int | None]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.agency_id).where(User.id.in_(ids))).all()
    return {uid: aid for uid, aid in rows}


def approval_of(session: Session, rule: str | Pilot, kind: str,
                subject_id: int, *, at: dt.datetime | None = None) -> rules.ApprovalState:
    """Evaluate the approval rule for one version from its requests and reviews.

    ``rule`` is the pilot (its rule, the agencies that must approve and the minimum number
    of approvals, issue 15) or a bare rule name; ``at``, a past moment: only the requests
    and reviews made before it count.
    """
    required: list[int] = []
    minimum = 0
    if isinstance(rule, Pilot):
        required = [a.id for a in rule.approver_agencies]
        minimum = rule.min_approvals
        rule = rule.approval_rule
    reqs = [r for r in _requests(session, kind, subject_id)
            if at is None or r.requested_at < at]
    reviews = [r for r in session.scalars(select(Review).where(
        getattr(Review, _fk(kind)) == subject_id)) if at is None or r.created_at < at]
    agency = _user_agencies(session, {r.reviewer_id for r in reqs if r.reviewer_id}
                            | {r.author_id for r in reviews})
    return rules.approval_state(
        rule,
        [rules.Request(r.reviewer_id, r.agency_id,
                       agency.get(r.reviewer_id) if r.reviewer_id else None) for r in reqs],
        [rules.Decision(r.author_id, agency.get(r.author_id), r.decision, r.created_at)
         for r in reviews],
        required_agencies=required, min_approvals=minimum)


def _was_asked(session: Session, actor: Actor, kind: str, subject_id: int,
               pilot: Pilot | None = None) -> bool:
    """Named on a request, of an agency asked, or of an agency the pilot's rule says must
    approve every version.
    """
    agency = _user_agencies(session, {actor.user_id} if actor.user_id else set()).get(
        actor.user_id or 0)
    if pilot is not None and agency and agency in {a.id for a in pilot.approver_agencies}:
        return True
    return any(r.reviewer_id == actor.user_id or (agency and r.agency_id == agency)
               for r in _requests(session, kind, subject_id))


def _check_item(session: Session, kind: str, subject_id: int, factor_id: int | None,
                action_id: int | None) -> None:
    if factor_id is not None:
        # A plan's reviewers comment on the factors of the assessment it answers, too.
        f = session.get(SafetyFactor, factor_id)
        owner = subject_id if kind == "assessment" else session.scalar(
            select(Plan.assessment_id).where(Plan.id == subject_id))
        if f is None or f.assessment_id != owner:
            raise InvalidData("That factor is not part of this version.")
    if action_id is not None:
        act = session.get(Action, action_id)
        if kind != "plan" or act is None or act.plan_id != subject_id:
            raise InvalidData("That action is not part of this version.")


def _in_force(session: Session, subject: Subject) -> list[Assessment] | list[Plan]:
    """The approved versions of the subject's place that its approval supersedes."""
    if isinstance(subject, Assessment):
        return list(session.scalars(select(Assessment).where(
            Assessment.place_id == subject.place_id, Assessment.status == lifecycle.APPROVED,
            Assessment.id != subject.id)))
    return list(session.scalars(select(Plan).join(Assessment).where(
        Assessment.place_id == place_of(session, subject).id, Plan.status == lifecycle.APPROVED,
        Plan.id != subject.id)))


def give_review(session: Session, actor: Actor, pilot_id: int, kind: str, subject_id: int,
                *, decision: str, comment: str = "", factor_id: int | None = None,
                action_id: int | None = None) -> Review:
    """Record a partner's comment or decision; approve the version once the rule is met.

    Raises
    ------
    Forbidden
        Not a partner reviewer; reviewing one's own version; deciding without being asked.
    Conflict
        The version is not under review (a draft, approved or superseded).
    InvalidData
        Unknown decision, a comment or request for changes without text, or a factor or
        action from another version.
    """
    require(actor, pilot_id, "review.give")
    subject = get_subject(session, actor, pilot_id, kind, subject_id, permission="review.give")
    if decision not in REVIEW_DECISIONS:
        raise InvalidData(f"decision must be one of {', '.join(REVIEW_DECISIONS)}.")
    comment = (comment or "").strip()
    if decision != "approve" and not comment:
        raise InvalidData("Say what you think: a comment or a request for changes needs text.")
    if len(comment) > _COMMENT_MAX:
        raise InvalidData(f"A comment is at most {_COMMENT_MAX} characters.")
    if subject.status != lifecycle.IN_REVIEW:
        raise Conflict(f"This version is {subject.status.replace('_', ' ')}, not under review.",
                       details={"status": subject.status})
    if subject.created_by_id is not None and subject.created_by_id == actor.user_id:
        raise Forbidden("You cannot review a version you wrote.")
    pilot = session.get(Pilot, pilot_id)
    assert pilot is not None
    if decision != "comment" and not _was_asked(session, actor, kind, subject_id, pilot):
        raise Forbidden("Only the reviewers this version was sent to can decide on it.")
    _check_item(session, kind, subject_id, factor_id, action_id)
    review = Review(**{_fk(kind): subject_id}, factor_id=factor_id, action_id=action_id,
                    author_id=actor.user_id, comment=comment, decision=decision,
                    created_at=clock.now())
    session.add(review)
    session.flush()
    audit.record(session, actor, "review", kind, subject_id, pilot_id=pilot_id,
                 detail={"decision": decision, "factor_id": factor_id, "action_id": action_id})
    state = approval_of(session, pilot, kind, subject_id)
    if state.approved:
        _approve(session, actor, pilot, kind, subject, list(state.approvals))
    return review


def _approve(session: Session, actor: Actor, pilot: Pilot, kind: str, subject: Subject,
             approvals: list[Any]) -> bool:
    """Approve a version whose rule is met, unless a plan waits for its assessment."""
    if isinstance(subject, Plan) and (waits := waited_for(session, subject)) is not None:
        audit.record(session, actor, "approval_blocked", kind, subject.id, pilot_id=pilot.id,
                     detail={"assessment_id": waits.id, "version_no": waits.version_no,
                             "plan_assessment_id": subject.assessment_id,
                             "reason": f"its place's assessment (version {waits.version_no}) "
                                       f"is {lifecycle.status_word(waits.status)}"})
        return False
    lifecycle.approve(session, subject, _in_force(session, subject))
    detail: dict[str, Any] = {"rule": pilot.approval_rule, "approvals": approvals}
    if isinstance(subject, Plan) and subject.override_reason:
        detail["override_reason"] = subject.override_reason
    audit.record(session, actor, "approve", kind, subject.id, pilot_id=pilot.id, detail=detail)
    if isinstance(subject, Assessment):
        approve_waiting_plans(session, actor, pilot, subject)
    return True


def waited_for(session: Session, plan: Plan) -> Assessment | None:
    """The assessment a plan version waits for before it may be approved (issue 16), or
    None when nothing holds it back.

    The rule looks at the *current* assessment of the plan's place — its newest version,
    not only the version the plan answers: while that newest version is unapproved (a
    draft being revised or a version in review) the plan waits for it; once the newest
    version is approved (the plan's own or a newer one) nothing holds the plan back. A
    coordinator's recorded override on the plan version lets it through either way.
    """
    if plan.override_reason:
        return None
    own = session.get(Assessment, plan.assessment_id)
    if own is None:
        return None
    current = session.scalar(select(Assessment).where(Assessment.place_id == own.place_id)
                             .order_by(Assessment.version_no.desc()).limit(1))
    if current is None or current.status in (lifecycle.APPROVED, lifecycle.SUPERSEDED):
        return None
    return current


def assessment_blocks(session: Session, plan: Plan) -> bool:
    """Whether the plan version waits for its place's assessment (:func:`waited_for`)."""
    return waited_for(session, plan) is not None


def approve_waiting_plans(session: Session, actor: Actor, pilot: Pilot,
                          assessment: Assessment) -> list[Plan]:
    """Once an assessment is approved, plans answering any version of that place's
    assessment whose reviewers already approved them (and so only waited for it) are
    approved too.
    """
    done = []
    versions = select(Assessment.id).where(Assessment.place_id == assessment.place_id)
    for plan in session.scalars(select(Plan).where(Plan.assessment_id.in_(versions),
                                                   Plan.status == lifecycle.IN_REVIEW)
                                .order_by(Plan.id)):
        state = approval_of(session, pilot, "plan", plan.id)
        if state.approved and _approve(session, actor, pilot, "plan", plan,
                                       list(state.approvals)):
            done.append(plan)
    return done


_REASON_MAX = 2000


def override_plan_block(session: Session, actor: Actor, pilot_id: int, plan_id: int, *,
                        reason: str) -> Plan:
    """A coordinator lets a plan version be approved although its place's assessment is
    not approved yet (:func:`waited_for`), with a reason (audited, shown in the plan's
    history). If its reviewers have already approved it, it is approved now.

    Raises
    ------
    Forbidden
        Not a coordinator of the pilot.
    Conflict
        The plan is not in review, it already has an override, or its place's current
        assessment is approved (nothing to override: :func:`waited_for`).
    InvalidData
        No reason given, or a reason over 2,000 characters.
    """
    plan = get_subject(session, actor, pilot_id, "plan", plan_id,
                       permission="plan.override_approval")
    assert isinstance(plan, Plan)
    text = (reason or "").strip()
    if not text:
        raise InvalidData("Say why this plan may be approved before its assessment.")
    if len(text) > _REASON_MAX:
        raise InvalidData(f"A reason is at most {_REASON_MAX} characters.")
    if plan.status != lifecycle.IN_REVIEW:
        raise Conflict(f"This plan version is {lifecycle.status_word(plan.status)}; only a "
                       "version in review waits for its assessment.",
                       details={"status": plan.status})
    if plan.override_reason:
        raise Conflict("An override is already recorded on this plan version.")
    a = waited_for(session, plan)
    if a is None:
        raise Conflict("Its place's assessment is approved: nothing holds this plan back.")
    plan.override_reason = text
    plan.override_by_id = actor.user_id
    plan.override_at = clock.now()
    session.flush()
    audit.record(session, actor, "approval_override", "plan", plan.id, pilot_id=pilot_id,
                 detail={"reason": text, "assessment_id": a.id,
                         "version_no": a.version_no, "assessment_status": a.status})
    pilot = session.get(Pilot, pilot_id)
    assert pilot is not None
    state = approval_of(session, pilot, "plan", plan.id)
    if state.approved:
        _approve(session, actor, pilot, "plan", plan, list(state.approvals))
    return plan


def version_label(session: Session, actor: Actor, pilot_id: int, kind: str,
                  subject_id: int) -> str:
    """:func:`status_label` of one version, for a page that shows it."""
    subject = get_subject(session, actor, pilot_id, kind, subject_id)
    pilot = session.get(Pilot, pilot_id)
    assert pilot is not None
    return status_label(session, pilot, kind, subject)


def version_labels(session: Session, actor: Actor, pilot_id: int, kind: str,
                   subject_ids: Iterable[int]) -> dict[int, str]:
    """:func:`status_label` of several versions of one kind (a page listing versions), by
    id; ids not of the pilot are left out.
    """
    _fk(kind)
    require(actor, pilot_id, "assessment.view")
    ids = set(subject_ids)
    pilot = session.get(Pilot, pilot_id)
    if not ids or pilot is None:
        return {}
    rows: list[Subject] = [*session.scalars(select(Assessment).where(
        Assessment.id.in_(ids), Assessment.pilot_id == pilot_id))] if kind == "assessment" \
        else [*session.scalars(select(Plan).where(Plan.id.in_(ids), Plan.pilot_id == pilot_id))]
    return {v.id: status_label(session, pilot, kind, v) for v in rows}


def status_label(session: Session, pilot: Pilot, kind: str, subject: Subject, *,
                 status: str | None = None, at: dt.datetime | None = None) -> str:
    """The one status every page shows for a version (overview, assessment, plan and
    review pages): draft, not yet sent, awaiting review, changes requested, approved by
    reviewers — waiting for the assessment (a plan), approved, superseded.

    ``status`` and ``at``: the label the version had at a past moment, given its status
    then (:mod:`locmap.assessment.status_history`); reviews after it do not count.
    """
    status = status or subject.status
    if status in (lifecycle.APPROVED, lifecycle.DRAFT):
        return lifecycle.status_word(status)
    state = approval_of(session, pilot, kind, subject.id, at=at)
    if state.state == "changes_requested":
        return "changes requested"
    if status == lifecycle.SUPERSEDED:
        return lifecycle.status_word(lifecycle.SUPERSEDED)
    if state.approved and isinstance(subject, Plan):
        return "waiting for its assessment"
    return "awaiting review" if state.state == "awaiting" else "not yet sent"


def my_agency(session: Session, actor: Actor) -> int | None:
    """The acting user's agency id, if any (from the session's copy of the user when the
    request has loaded it, as the login does: no query on every page's inbox badge).
    """
    if actor.user_id is None:
        return None
    user = session.get(User, actor.user_id)
    return user.agency_id if user is not None else None


@dataclass(frozen=True)
class AskedOfMe:
    """A version under review that asks for the actor's (or their agency's) decision."""

    request: ReviewRequest
    kind: str
    subject: Subject
    place: Place


def undecided_requests_for(session: Session, actor: Actor, pilot_id: int) -> list[AskedOfMe]:
    """The pilot's versions under review that name the actor or their agency and that the
    actor has not yet decided (a comment is not a decision): one per version, the earliest
    request, oldest first. Two queries (assessments, plans), whatever the history.
    """
    if actor.user_id is None:
        return []
    agency = my_agency(session, actor)
    who = [ReviewRequest.reviewer_id == actor.user_id]
    if agency is not None:
        who.append(ReviewRequest.agency_id == agency)
    out: dict[tuple[str, int], AskedOfMe] = {}
    for kind, model in (("assessment", Assessment), ("plan", Plan)):
        link = getattr(ReviewRequest, f"{kind}_id")
        decided = select(Review.id).where(
            getattr(Review, f"{kind}_id") == model.id, Review.author_id == actor.user_id,
            Review.decision != "comment", Review.pilot_id == pilot_id).exists()
        stmt = (select(ReviewRequest, model, Place)
                .join(model, (model.id == link) & (model.pilot_id == ReviewRequest.pilot_id)))
        if model is Plan:
            stmt = stmt.join(Assessment, (Assessment.id == Plan.assessment_id)
                             & (Assessment.pilot_id == Plan.pilot_id))
        stmt = (stmt.join(Place, (Place.id == Assessment.place_id)
                          & (Place.pilot_id == Assessment.pilot_id))
                .where(ReviewRequest.pilot_id == pilot_id, Place.pilot_id == pilot_id,
                       or_(*who), model.status == lifecycle.IN_REVIEW, ~decided)
                .order_by(ReviewRequest.requested_at, ReviewRequest.id))
        for request, subject, place in session.execute(stmt).tuples():
            version = cast(Subject, subject)
            out.setdefault((kind, version.id), AskedOfMe(request, kind, version, place))
    return sorted(out.values(), key=lambda a: (a.request.requested_at, a.request.id))

