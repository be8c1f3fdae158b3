"""The audit trail: appending to it, and the auditor's reading of it.

Two kinds of event, two transactions (docs/decisions.md, "Audit events that a failure
cannot erase"):

- **Writes** (create, update, delete, submit, …) are added to the request's own
  transaction: they commit or roll back with the change they describe.
- **Access** — reads of personal data, exports, page views, logins and refusals
  (:data:`ACCESS_ACTIONS`) — is recorded in a transaction of its own, so that a request
  that fails afterwards (a 409, a 500, a rollback) cannot erase the record that someone
  saw or was refused something. With an engine behind the session the event is committed
  at once on a separate connection. If the session's transaction already holds the
  chain lock (it appended a write event; a separate connection would wait for it) or the
  session is bound to one outer connection (the tests), the event is written in the
  session's transaction *and* queued; if that transaction does not commit, the queue
  writes it again as soon as it has ended.

Every event is chained to the one before it by a hash computed in the database (migration
0009); :func:`verify_chain` recomputes the chain and reports the first broken link.

The auditor (global ``is_auditor``; admins too) searches the trail with
:func:`search_events`, exports it with :func:`events_csv` and asks "who has seen this
person" with :func:`who_has_seen`. They see pseudonyms and record ids, never identities
or free text: :func:`safe_detail` keeps only numbers, flags, ids and a few known labels
of an event's detail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, event, func, insert, or_, select, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction

from locmap.errors import Forbidden, InvalidData, NotFound
from locmap.io.export import csv_lines
from locmap.models import AuditEvent, Person
from locmap.services.permissions import Actor

__all__ = [
    "record", "record_refusal", "record_view", "ACCESS_ACTIONS", "ACTION_CHOICES",
    "verify_chain", "ChainCheck", "search_events", "events_csv", "who_has_seen",
    "safe_detail", "require_auditor", "AuditFilter", "CANONICAL_SQL", "VIEW_EVERY",
]

# Recorded in a transaction of their own (see the module docstring); everything else is a
# write and stays in the request's transaction.
ACCESS_ACTIONS = frozenset({
    "read", "read_identity", "search_identity", "export", "view", "refused",
    "login", "login_failed", "login_locked", "logout",
})
# What the auditor filters by (value, label), in the words of issue 15.
ACTION_CHOICES = (
    ("read_identity", "Read identity"), ("search_identity", "Search by name"),
    ("read", "Read personal data"),
    ("export", "Export"), ("create", "Create"), ("update", "Update"), ("delete", "Delete"),
    ("login", "Login"), ("login_failed", "Failed login"), ("login_locked", "Locked login"),
    ("logout", "Logout"), ("refused", "Refused (403/404)"), ("view", "Page view"),
)
# Page views are recorded at most once per user, page and this interval.
VIEW_EVERY = dt.timedelta(hours=1)
GENESIS = "0" * 64
# The canonical text of an event, as hashed by the trigger of migration 0009 (keep the
# two identical). Verification computes it here, not through the database's function.
CANONICAL_SQL = """jsonb_build_array(
    e.id, to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), e.user_id,
    e.user_email, e.action, e.entity, e.entity_id, e.pilot_id, e.personal_data,
    e.detail, e.remote_addr::text, e.prev_hash)::text"""
_CHAIN_LOCK = "SELECT pg_advisory_xact_lock(hashtext('locmap'), hashtext('audit_event chain'))"
_HELD, _QUEUE = "audit_chain_held", "audit_access_queue"
_APART_WAIT_MS = 5000


def _values(actor: Actor | None, action: str, entity: str, entity_id: object,
            pilot_id: int | None, personal_data: bool,
            detail: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "user_id": actor.user_id if actor else None,
        "user_email": actor.email if actor else None,
        "action": action, "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id)[:60],
        "pilot_id": pilot_id, "personal_data": personal_data, "detail": detail or {},
        "remote_addr": actor.remote_addr if actor else None,
    }


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    entity: str,
    entity_id: object = None,
    *,
    pilot_id: int | None = None,
    personal_data: bool = False,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an audit event: a write to the session's transaction, an access
    (:data:`ACCESS_ACTIONS`) in a transaction of its own.
    """
    values = _values(actor, action, entity, entity_id, pilot_id, personal_data, detail)
    if action in ACCESS_ACTIONS:
        _append_apart(session, values)
    else:
        session.add(AuditEvent(**values))
        session.info[_HELD] = True  # its flush takes the chain lock until commit


def record_refusal(session: Session, actor: Actor | None, *, status: int, endpoint: str | None,
                   method: str, path: str, pilot_id: int | None) -> None:
    """A request refused by a permission check (403, or 404 for "not yours")."""
    record(session, actor, "refused", "route", endpoint, pilot_id=pilot_id,
           detail={"status": status, "method": method, "path": path[:300]})


def record_view(session: Session, actor: Actor, page: str, pilot_id: int | None) -> None:
    """A view of a page that shows personal data in aggregate (the dashboard, the
    network): at most one event per user, page and :data:`VIEW_EVERY`.
    """
    values = _values(actor, "view", page, None, pilot_id, True, {})
    values["detail"] = {"once_per_s": int(VIEW_EVERY.total_seconds())}
    _append_apart(session, values, once_per=VIEW_EVERY)


def _append_apart(session: Session, values: dict[str, Any],
                  once_per: dt.timedelta | None = None) -> None:
    bind = session.get_bind()
    if isinstance(bind, Engine) and not session.info.get(_HELD):
        try:
            with bind.begin() as conn:
                # Never wait on the chain lock for long: if a transaction that holds it
                # waits in turn on this request's row locks, fall back to the queue.
                conn.execute(text(f"SET LOCAL lock_timeout = '{_APART_WAIT_MS}ms'"))
                _insert(conn, values, once_per)
            return
        except OperationalError:
            pass
    # A separate connection would wait for the chain lock this session holds (or, in
    # the tests, for the outer transaction): write it here now, so the request sees it,
    # and again after the transaction ends unless it commits.
    written = False
    try:
        _insert(session.connection(), values, once_per)
        written = True
    except SQLAlchemyError:
        pass  # the transaction is already failing; the queue writes it after
    session.info[_HELD] = True
    session.info.setdefault(_QUEUE, []).append((values, once_per, written))


def _insert(conn: Connection, values: dict[str, Any], once_per: dt.timedelta | None) -> None:
    if once_per is not None:
        # Under the chain lock, so two concurrent views cannot both pass the check.
        conn.execute(text(_CHAIN_LOCK))
        seen = conn.scalar(select(AuditEvent.id).where(
            AuditEvent.action == values["action"], AuditEvent.entity == values["entity"],
            AuditEvent.user_id.is_(None) if values["user_id"] is None
            else AuditEvent.user_id == values["user_id"],
            AuditEvent.pilot_id.is_(None) if values["pilot_id"] is None
            else AuditEvent.pilot_id == values["pilot_id"],
            AuditEvent.at > text("clock_timestamp() - make_interval(secs => :s)")
            .bindparams(s=once_per.total_seconds())).limit(1))
        if seen is not None:
            return
    conn.execute(insert(AuditEvent).values(**values))


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    """What was written inside the committed transaction is kept: drop it from the queue."""
    queued = session.info.get(_QUEUE)
    if queued:
        session.info[_QUEUE] = [q for q in queued if not q[2]]


@event.listens_for(Session, "after_transaction_end")
def _write_queue(session: Session, transaction: SessionTransaction) -> None:
    """The session's transaction ended: write, in a transaction of their own, the access
    events it was rolled back with (or could not write).
    """
    if transaction.parent is not None:
        return
    session.info.pop(_HELD, None)
    queued = session.info.pop(_QUEUE, None)
    if not queued:
        return
    bind = session.get_bind()
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            for values, once_per, _ in queued:
                _insert(conn, values, once_per)
    else:  # one outer connection (tests): outside the session's rolled-back savepoint
        for values, once_per, _ in queued:
            _insert(bind, values, once_per)


# -- tamper evidence ---------------------------------------------------------------------

@dataclass(frozen=True)
class ChainCheck:
    """The outcome of :func:`verify_chain`."""

    ok: bool
    checked: int
    head_id: int | None = None
    head_hash: str | None = None
    broken_id: int | None = None
    reason: str | None = None

    def message(self) -> str:
        if self.ok:
            if not self.checked:
                return "The audit trail is empty."
            return (f"The audit chain is intact: {self.checked} events; the last is "
                    f"#{self.head_id} with hash {self.head_hash}.")
        return f"The audit chain is broken at event #{self.broken_id}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "head_id": self.head_id,
                "head_hash": self.head_hash, "broken_id": self.broken_id,
                "reason": self.reason, "message": self.message()}


def verify_chain(session: Session, *, batch: int = 5000) -> ChainCheck:
    """Recompute every event's hash in id order and check each link to the one before.

    Reports the first event whose stored hash differs from its recomputed one (the event
    was altered) or whose ``prev_hash`` is not the previous event's hash (an event before
    it was deleted or altered). Deleting the newest events leaves a shorter chain that
    still verifies: compare ``head_id``/``head_hash`` with a value kept elsewhere.
    """
    prev, last_id, checked = GENESIS, 0, 0
    stmt = text(f"""
        SELECT e.id, e.prev_hash, e.hash,
               encode(sha256(convert_to({CANONICAL_SQL}, 'UTF8')), 'hex') AS recomputed
        FROM audit_event e WHERE e.id > :after ORDER BY e.id LIMIT :n""")  # noqa: S608 - constants only
    while True:
        rows = session.execute(stmt, {"after": last_id, "n": batch}).all()
        if not rows:
            break
        for row in rows:
            if row.prev_hash != prev:
                return ChainCheck(False, checked, last_id or None, prev, row.id,
                                  "its link to the event before it does not match (an "
                                  "earlier event was deleted or altered).")
            if row.hash != row.recomputed:
                return ChainCheck(False, checked, last_id or None, prev, row.id,
                                  "its content does not match its hash (it was altered).")
            prev, last_id, checked = row.hash, row.id, checked + 1
    return ChainCheck(True, checked, last_id or None, prev if checked else None)


# -- the auditor's reading ----------------------------------------------------------------

def require_auditor(actor: Actor) -> None:
    """The trail is for auditors (and admins); anyone else gets 403."""
    if not (actor.is_auditor or actor.is_admin):
        raise Forbidden("The audit trail is for auditors.")


@dataclass(frozen=True)
class AuditFilter:
    user: str | None = None      # an email (or part of one) or a user id
    pilot_id: int | None = None
    entity: str | None = None    # record type
    entity_id: str | None = None
    action: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def clauses(self) -> list[Any]:
        out: list[Any] = []
        if self.user:
            if self.user.isdigit():
                out.append(AuditEvent.user_id == int(self.user))
            else:
                like = self.user.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                out.append(AuditEvent.user_email.ilike(f"%{like}%"))
        if self.pilot_id is not None:
            out.append(AuditEvent.pilot_id == self.pilot_id)
        if self.entity:
            out.append(AuditEvent.entity == self.entity)
        if self.entity_id:
            out.append(AuditEvent.entity_id == self.entity_id)
        if self.action:
            out.append(AuditEvent.action == self.action)
        if self.date_from:
            out.append(AuditEvent.at >= dt.datetime.combine(self.date_from, dt.time(),
                                                            tzinfo=dt.UTC))
        if self.date_to:
            out.append(AuditEvent.at < dt.datetime.combine(
                self.date_to + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC))
        return out

    def check(self) -> AuditFilter:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidData("The date range ends before it starts.",
                              details={"date_to": ["before date_from"]})
        if self.pilot_id is not None and not 0 < self.pilot_id < 2**31:
            raise InvalidData("pilot_id is out of range.", details={"pilot_id": ["range"]})
        for name in ("user", "entity", "entity_id", "action"):
            value = getattr(self, name)
            if value is not None and len(value) > 254:
                raise InvalidData(f"{name} is too long.", details={name: ["too long"]})
        return self


# Detail keys whose short string values are labels, never free text or identities.
_SAFE_STRINGS = frozenset({
    "format", "method", "path", "kind", "as_of", "compare_with", "fields", "changed",
    "tables", "role", "decision", "category", "status", "intervention", "starts_on",
    "period_start", "rule", "contains", "occurred_at", "pseudonym", "approvals", "cutoff",
    "scope",
})


def _safe(value: Any, key: str) -> tuple[bool, Any]:
    if value is None or isinstance(value, bool | int | float):
        return True, value
    if isinstance(value, str):
        return (key in _SAFE_STRINGS and len(value) <= 300), value
    if isinstance(value, list):
        kept = [_safe(v, key) for v in value]
        return all(ok for ok, _ in kept), [v for _, v in kept]
    if isinstance(value, dict):
        inner = safe_detail(value)
        return True, inner
    return False, None


def safe_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    """An event's detail as the auditor may see it: numbers, flags, ids and known labels;
    any other text (a name, a message, an email) is replaced by a list of withheld keys.
    """
    out: dict[str, Any] = {}
    withheld = []
    for key, value in (detail or {}).items():
        ok, kept = _safe(value, key)
        if ok:
            out[key] = kept
        else:
            withheld.append(key)
    if withheld:
        out["withheld"] = sorted(withheld)
    return out


def _event_dict(e: AuditEvent) -> dict[str, Any]:
    return {"id": e.id, "at": e.at.isoformat(), "user_id": e.user_id,
            "user_email": e.user_email, "action": e.action, "entity": e.entity,
            "entity_id": e.entity_id, "pilot_id": e.pilot_id,
            "personal_data": e.personal_data, "detail": safe_detail(e.detail),
            "remote_addr": None if e.remote_addr is None else str(e.remote_addr),
            "hash": e.hash}


MAX_PAGE = 200


def search_events(session: Session, actor: Actor, f: AuditFilter, *,
                  before_id: int | None = None, limit: int = 50) -> dict[str, Any]:
    """A page of events, newest first; ``next_before_id`` continues the search (keyset)."""
    require_auditor(actor)
    f.check()
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidData(f"limit is 1–{MAX_PAGE}.", details={"limit": ["range"]})
    stmt = select(AuditEvent).where(*f.clauses())
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    rows = session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [_event_dict(e) for e in rows],
            "next_before_id": rows[-1].id if more else None, "limit": limit}


CSV_HEADER = ("id", "at", "user_id", "user_email", "action", "entity", "entity_id",
              "pilot_id", "personal_data", "detail", "remote_addr", "hash")
MAX_CSV_ROWS = 100_000


def events_csv(session: Session, actor: Actor, f: AuditFilter) -> Iterator[str]:
    """The matching events as CSV (every text cell neutralised), newest first; the
    export is itself audited.
    """
    import json

    require_auditor(actor)
    f.check()
    record(session, actor, "export", "audit_event", None, pilot_id=f.pilot_id,
           detail={"format": "csv", "fields": [k for k, v in vars(f).items() if v]})
    rows = session.scalars(select(AuditEvent).where(*f.clauses())
                           .order_by(AuditEvent.id.desc()).limit(MAX_CSV_ROWS)).all()

    def cells(e: AuditEvent) -> tuple[Any, ...]:
        d = _event_dict(e)
        return (*(d[k] for k in CSV_HEADER[:9]),
                json.dumps(d["detail"], sort_keys=True), d["remote_addr"], d["hash"])

    return csv_lines(CSV_HEADER, (cells(e) for e in rows))


# Reads of a whole pilot's network include every person in it.
_PILOT_WIDE = ("person", "relationship", "presence", "network_analysis", "network")
# Pages that draw every person of the pilot by pseudonym (the dashboard only counts them).
_NETWORK_PAGES = ("network", "network_map", "network_group")
# Reads and exports of several people that name them in ``detail["person_ids"]``: the
# case-records preview (identities matched by case reference) and the children-at-place
# export (case references). Older events of these kinds, without the ids, count for everyone
# in the pilot.
_NAMED_IN_DETAIL = ("case_records", "children_at_place")
# What counts as someone seeing a person (a name search compares every identity).
_SEEING = ("read", "read_identity", "search_identity", "export", "view")


def who_has_seen(session: Session, actor: Actor, pilot_id: int, pseudonym: str,
                 *, limit: int = 500) -> dict[str, Any]:
    """Every access to one person, by pseudonym: reads of their identity and record, the
    pilot-wide reads, name searches and exports of the network that included them (since
    their record was made), and the case-records previews and children-at-place exports
    that named them. The search is audited; the identity is never read.
    """
    require_auditor(actor)
    person = session.scalar(select(Person).where(Person.pilot_id == pilot_id,
                                                 Person.pseudonym == pseudonym.strip()))
    if person is None:
        raise NotFound(f"No person {pseudonym!r} in pilot {pilot_id}.")
    own = and_(AuditEvent.entity == "person", AuditEvent.entity_id == str(person.id))
    # Pilot-wide reads from the person's first event on (ids are chain order; a person
    # loaded without a create event is matched against every earlier read too).
    since = session.scalar(select(func.min(AuditEvent.id)).where(own)) or 0
    wide = and_(AuditEvent.entity.in_(_PILOT_WIDE), AuditEvent.entity_id.is_(None),
                AuditEvent.pilot_id == pilot_id, AuditEvent.id >= since,
                AuditEvent.action.in_(_SEEING))
    views = and_(AuditEvent.action == "view", AuditEvent.entity.in_(_NETWORK_PAGES),
                 AuditEvent.pilot_id == pilot_id, AuditEvent.id >= since)
    named = and_(AuditEvent.entity.in_(_NAMED_IN_DETAIL), AuditEvent.pilot_id == pilot_id,
                 AuditEvent.id >= since, AuditEvent.action.in_(_SEEING),
                 or_(AuditEvent.detail["person_ids"].contains([person.id]),
                     ~AuditEvent.detail.has_key("person_ids")))
    rows = session.scalars(select(AuditEvent).where(or_(own, wide, views, named))
                           .order_by(AuditEvent.id.desc()).limit(limit)).all()
    record(session, actor, "read", "audit_who_has_seen", person.id, pilot_id=pilot_id,
           detail={"pseudonym": person.pseudonym})
    items = []
    for e in rows:
        d = _event_dict(e)
        d["scope"] = "this person" if e.entity == "person" and e.entity_id else "whole pilot"
        items.append(d)
    readers = sorted({(d["user_email"] or "") for d in items if d["action"] in _SEEING})
    return {"pilot_id": pilot_id, "person_id": person.id, "pseudonym": person.pseudonym,
            "identity_reads": sum(1 for d in items
                                  if d["action"] in ("read_identity", "search_identity")),
            "readers": readers, "items": items, "truncated": len(rows) == limit}

