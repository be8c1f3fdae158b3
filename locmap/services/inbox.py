"""Each user's inbox (issue 16): what the workflow asks of them or tells them, read/unread.

Items are computed from the workflow itself, across the user's pilots:

* ``review`` — a review was requested of me (by name or of my agency) and I have not
  decided yet;
* ``changes`` — a partner requested changes on a version I wrote;
* ``approved`` — a version I wrote was approved;
* ``overdue`` — an action of a current plan that I (by name as lead) or my agency own is
  overdue;
* ``review_point`` — a review point of my pilot is due within :data:`DUE_WITHIN_DAYS`
  days (or overdue) and not yet held.

Only whether an item was read (and whether it was emailed) is stored, one
:class:`~locmap.models.InboxState` row per user and item key; an item that no longer
applies (the review was given, the action done) simply leaves the inbox. When SMTP is
configured (:mod:`locmap.services.mail`) the worker emails each new unread item once
(:func:`mail_new_items`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment.review_rules import action_is_mine, action_overdue
from locmap.errors import InvalidData
from locmap.models import (
    Assessment,
    InboxState,
    Pilot,
    Place,
    Plan,
    Review,
    User,
)
from locmap.services import audit, mail
from locmap.services.permissions import Actor, can
from locmap.services.pilot_scope import scoped
from locmap.services.reviews import my_agency, place_of, undecided_requests_for
from locmap.services.timeline import _current_plans

__all__ = ["DUE_WITHIN_DAYS", "KINDS", "items", "unread_count", "mark_read",
           "mail_new_items", "MAIL_WITHIN_DAYS"]

DUE_WITHIN_DAYS = 14
MAIL_WITHIN_DAYS = 14  # items older than this are not emailed when SMTP is first set up
KINDS = ("review", "changes", "approved", "overdue", "review_point")
_MAX_KEYS = 500
log = logging.getLogger(__name__)


def _as_time(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(), clock.LOCAL_TZ)


def _reviews_asked(session: Session, actor: Actor, pid: int, pilot: Pilot) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if not can(actor, pid, "review.give"):
        return out
    for asked in undecided_requests_for(session, actor, pid):
        r, kind, subject = asked.request, asked.kind, asked.subject
        out.append({
            "key": f"review:{kind}:{subject.id}", "type": "review", "at": r.requested_at,
            "pilot_id": pid, "pilot": pilot.name,
            "title": f"Review requested: {asked.place.name} — {kind} "
                     f"v{subject.version_no}",
            "detail": "asked of your agency" if r.agency_id is not None else "asked of you",
            "target": {"kind": kind, "id": subject.id}})
    return out


def _mine(session: Session, actor: Actor, pid: int, pilot: Pilot) -> list[dict[str, Any]]:
    """Changes requested on, and approvals of, versions the actor wrote."""
    out: list[dict[str, Any]] = []
    if actor.user_id is None:
        return out
    rows: list[tuple[str, Any, str, list[Review]]] = []
    for kind, model in (("assessment", Assessment), ("plan", Plan)):
        # The columns the items show, not the versions' contents (an assessment carries its
        # indicators): this runs for the top bar's badge on every page.
        stmt = select(model.id, model.version_no, model.status, model.approved_at,
                      Place.name).where(model.created_by_id == actor.user_id,
                                        Place.pilot_id == pid)
        stmt = (stmt.join(Place, Place.id == Assessment.place_id) if model is Assessment
                else stmt.join(Assessment, Assessment.id == Plan.assessment_id)
                .join(Place, Place.id == Assessment.place_id))
        versions = session.execute(stmt).all()
        column = getattr(Review, f"{kind}_id")
        asked: dict[int, list[Review]] = {}
        if versions:  # one read of the changes asked of all of them, not one per version
            for rv in session.scalars(select(Review).where(
                    column.in_([v.id for v in versions]),
                    Review.decision == "request_changes").order_by(Review.id)):
                asked.setdefault(getattr(rv, f"{kind}_id"), []).append(rv)
        rows += [(kind, v, v.name, asked.get(v.id, [])) for v in versions]
    authors = {rv.author_id for *_, rvs in rows for rv in rvs}
    names = dict(session.execute(select(User.id, User.name).where(
        User.id.in_(authors))).tuples().all()) if authors else {}
    for kind, v, place, rvs in rows:
        label = f"{place} — {kind} v{v.version_no}"
        for rv in rvs:
            out.append({
                "key": f"changes:{rv.id}", "type": "changes", "at": rv.created_at,
                "pilot_id": pid, "pilot": pilot.name,
                "title": f"Changes requested: {label}",
                "detail": f"{names.get(rv.author_id, 'A reviewer')}: {rv.comment}",
                "target": {"kind": kind, "id": v.id}})
        if v.approved_at is not None:
            out.append({
                "key": f"approved:{kind}:{v.id}", "type": "approved", "at": v.approved_at,
                "pilot_id": pid, "pilot": pilot.name, "title": f"Approved: {label}",
                "detail": "now " + v.status.replace("_", " "),
                "target": {"kind": kind, "id": v.id}})
    return out


def _overdue(session: Session, actor: Actor, pid: int, pilot: Pilot,
             today: dt.date) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    plans = _current_plans(session, pid)
    if not plans:  # (who I am is read only when there are actions to own)
        return out
    agency = my_agency(session, actor)
    me = session.get(User, actor.user_id) if actor.user_id is not None else None
    name = me.name if me is not None else ""
    for plan in plans.values():
        for a in plan.actions:
            mine = action_is_mine(a.owner_agency_id, a.lead, agency, name)
            if mine and a.due_on is not None and action_overdue(a.status, a.due_on, today):
                out.append({
                    "key": f"overdue:{a.id}:{a.due_on.isoformat()}", "type": "overdue",
                    "at": _as_time(a.due_on), "pilot_id": pid, "pilot": pilot.name,
                    "title": f"Action overdue: {a.description}",
                    "detail": f"{place_of(session, plan).name} · "
                              f"{a.status.replace('_', ' ')}",
                    "due_on": a.due_on, "target": {"kind": "plan", "id": plan.id}})
    return out


def _review_points(pilot: Pilot, today: dt.date) -> list[dict[str, Any]]:
    horizon = today + dt.timedelta(days=DUE_WITHIN_DAYS)
    return [{"key": f"review_point:{r.id}", "type": "review_point", "at": _as_time(r.due_on),
             "pilot_id": pilot.id, "pilot": pilot.name,
             "title": f"Review point {r.number} {'was' if r.due_on < today else 'is'} due",
             "detail": "not yet recorded as held", "due_on": r.due_on,
             "target": {"kind": "review_point", "id": r.id}}
            for r in pilot.review_points if r.held_on is None and r.due_on <= horizon]


def _states(session: Session, user_id: int | None) -> dict[str, InboxState]:
    if user_id is None:
        return {}
    return {s.item_key: s for s in session.scalars(
        select(InboxState).where(InboxState.user_id == user_id))}


def items(session: Session, actor: Actor, *, today: dt.date | None = None,
          unread_only: bool = False) -> list[dict[str, Any]]:
    """The actor's inbox across their pilots, newest first, each with ``read``."""
    today = today or clock.today()
    out: list[dict[str, Any]] = []
    for pid in actor.pilot_ids:
        pilot = session.get(Pilot, pid)
        if pilot is None:
            continue
        with scoped(session, pid):  # each pilot's items from its own rows (and worker)
            out += _reviews_asked(session, actor, pid, pilot)
            out += _mine(session, actor, pid, pilot)
            out += _overdue(session, actor, pid, pilot, today)
            if can(actor, pid, "pilot.view"):
                out += _review_points(pilot, today)
    states = _states(session, actor.user_id)
    for item in out:
        st = states.get(item["key"])
        item["read"] = st is not None and st.read_at is not None
    out.sort(key=lambda i: (i["at"], i["key"]), reverse=True)
    return [i for i in out if not (unread_only and i["read"])]


def unread_count(session: Session, actor: Actor, *, today: dt.date | None = None) -> int:
    """How many inbox items the actor has not read (the top bar's number)."""
    return sum(not i["read"] for i in items(session, actor, today=today))


def _upsert(session: Session, user_id: int, keys: list[str], column: str) -> None:
    if not keys:
        return
    now = clock.now()
    stmt = insert(InboxState).values([{"user_id": user_id, "item_key": k, column: now}
                                      for k in keys])
    session.execute(stmt.on_conflict_do_update(
        index_elements=["user_id", "item_key"], set_={column: now}))


def mark_read(session: Session, actor: Actor, keys: list[str] | None = None, *,
              every: bool = False, unread: bool = False,
              today: dt.date | None = None) -> int:
    """Mark the actor's items read (or, with ``unread``, unread again); ``every`` marks
    all current items. Keys that are not in the actor's inbox are refused, so nobody
    stores state about items that are not theirs. Returns how many changed.
    """
    if actor.user_id is None:
        raise InvalidData("Only a signed-in user has an inbox.")
    current = {i["key"]: i for i in items(session, actor, today=today)}
    if every:
        keys = [k for k, i in current.items() if i["read"] == unread]
    keys = list(dict.fromkeys(keys or []))
    if not keys:
        return 0
    if len(keys) > _MAX_KEYS or any(not isinstance(k, str) for k in keys):
        raise InvalidData(f"Give at most {_MAX_KEYS} item keys.")
    if bad := [k for k in keys if k not in current]:
        raise InvalidData("These items are not in your inbox.", details={"keys": bad[:20]})
    if unread:
        for st in session.scalars(select(InboxState).where(
                InboxState.user_id == actor.user_id, InboxState.item_key.in_(keys))):
            st.read_at = None
    else:
        _upsert(session, actor.user_id, keys, "read_at")
    session.flush()
    audit.record(session, actor, "update", "inbox", actor.user_id,
                 detail={"read": not unread, "items": len(keys)})
    return len(keys)


def _mail_body(user: User, new: list[dict[str, Any]], base_url: str) -> str:
    lines = [f"Hello {user.name},", "", "New in your locmap inbox:", ""]
    lines += [f"- {i['title']} ({i['pilot']})" for i in new]
    lines += ["", f"Open your inbox: {base_url.rstrip('/')}/inbox" if base_url
              else "Open your inbox in locmap.", ""]
    return "\n".join(lines)


def mail_new_items(session: Session, *, base_url: str = "",
                   today: dt.date | None = None) -> int:
    """Email each active user their new unread items (once each); returns emails sent.

    Nothing happens unless SMTP is configured. Items dated more than
    :data:`MAIL_WITHIN_DAYS` ago are marked as mailed without sending, so switching
    email on does not send a user their whole history.
    """
    if not mail.configured():
        return 0
    from locmap.services.accounts import actor_for

    sent = 0
    cutoff = clock.now() - dt.timedelta(days=MAIL_WITHIN_DAYS)
    for user in session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)):
        actor = actor_for(session, user)
        states = _states(session, user.id)
        fresh = [i for i in items(session, actor, today=today) if not i["read"]
                 and (states.get(i["key"]) is None or states[i["key"]].mailed_at is None)]
        if not fresh:
            continue
        recent = [i for i in fresh if _as_time(i["at"]) >= cutoff]
        if recent:
            try:
                mail.send(user.email, f"locmap: {len(recent)} new in your inbox",
                          _mail_body(user, recent, base_url))
            except OSError:
                log.exception("inbox email to user %s failed; it is tried again later",
                              user.id)
                continue
            sent += 1
        _upsert(session, user.id, [i["key"] for i in fresh], "mailed_at")
        session.flush()
    return sent
