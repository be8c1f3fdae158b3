"""Users, passwords, logins and login sessions.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106). A login with an
unknown email still verifies against a dummy hash so the response time does not reveal
which emails exist; ten failures (wrong passwords and wrong two-factor codes together) in
fifteen minutes lock the email for the rest of the window. Every login, failed login and
account change is audited.

A password is at least :data:`MIN_PASSWORD_LENGTH` characters and not on the bundled list
of common passwords (``locmap/data``); :func:`password_problem` is the one rule, applied
wherever a password is set.

Login sessions live in ``user_session`` (issue 14): the cookie carries a random token and
the row only its SHA-256, so logout, deactivation and a password change end a session at
once. A session ends after ``idle`` without a request and ``absolute`` after the login,
both on the application clock (:mod:`locmap.clock`) like every timestamp the row holds.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import InvalidData, NotFound
from locmap.models import Agency, AuditEvent, Membership, Pilot, User, UserSession
from locmap.services import audit
from locmap.services.permissions import READ_ONLY_STATUSES, Actor
from locmap.vocab import PILOT_ROLES

__all__ = [
    "hash_password", "verify_password", "authenticate", "actor_for", "create_user",
    "add_membership", "grant_role", "active_user", "LOCKOUT_FAILURES", "MIN_PASSWORD_LENGTH",
    "password_problem", "set_password", "reset_password", "change_password", "set_active",
    "is_locked",
    "SessionPolicy", "start_session", "session_user", "end_session", "revoke_sessions",
    "open_sessions", "purge_sessions",
]

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a real password")
LOCKOUT_FAILURES = 10
# One address spraying many accounts (password spraying) is refused after this many failed
# or refused logins in the window, whichever emails it tries; an office behind one NAT
# address stays well below it in normal use.
ADDRESS_FAILURES = 30
LOCKOUT_WINDOW = dt.timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12  # ASVS 2.1.1; NCSC advises length over complexity
MAX_PASSWORD_LENGTH = 1024  # hashing a megabyte "password" is work for nothing
_COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt.gz"
# Failures that count towards an email's lockout: wrong passwords and wrong codes alike.
_FAILURES = ("login_failed", "totp_failed")


@cache
def _common_passwords() -> frozenset[str]:
    with gzip.open(_COMMON_PASSWORDS, "rt", encoding="utf-8") as f:
        return frozenset(line.strip().lower() for line in f if line.strip())


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be anyone's password, or None if it can: the one rule.

    >>> password_problem("short")
    'The password must have at least 12 characters.'
    >>> password_problem("Password1234")[:45]
    'This password is on a list of common password'
    >>> password_problem("correct horse battery") is None
    True
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password must have at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"The password must have at most {MAX_PASSWORD_LENGTH} characters."
    if password.strip().lower() in _common_passwords():
        return ("This password is on a list of common passwords that attackers try first; "
                "choose another (three or four unrelated words are easy to remember).")
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _recent_failures(session: Session, *, email: str | None = None,
                     remote_addr: str | None = None) -> int:
    """Failed (and, for an address, refused) logins in the lockout window.

    Real seconds on the database's clock, like the audit trail's own timestamps: a moved
    clock (tests, rehearsals) must not lift or extend a lockout.
    """
    since = func.now() - LOCKOUT_WINDOW
    stmt = select(func.count()).select_from(AuditEvent).where(AuditEvent.at >= since)
    if email is not None:
        stmt = stmt.where(AuditEvent.action.in_(_FAILURES), AuditEvent.user_email == email)
    else:
        stmt = stmt.where(AuditEvent.action.in_((*_FAILURES, "login_locked")),
                          AuditEvent.remote_addr == remote_addr)
    return session.scalar(stmt) or 0


def is_locked(session: Session, email: str, remote_addr: str | None) -> bool:
    """Too many failures for this email, or from this address, in the window."""
    return _recent_failures(session, email=email) >= LOCKOUT_FAILURES or (
        remote_addr is not None
        and _recent_failures(session, remote_addr=remote_addr) >= ADDRESS_FAILURES)


def authenticate(
    session: Session, email: str, password: str, remote_addr: str | None = None
) -> User | None:
    """Return the active user with these credentials, or None; audit either way."""
    email = email.strip().lower()
    who = Actor(user_id=None, email=email, remote_addr=remote_addr)
    if is_locked(session, email, remote_addr):
        # Same work and answer as a wrong password, so timing tells nothing.
        verify_password(_DUMMY_HASH, password)
        audit.record(session, who, "login_locked", "user", detail={"email": email})
        return None
    user = session.scalar(select(User).where(User.email == email))
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if not (user and ok and user.active):
        audit.record(session, who, "login_failed", "user", user.id if user else None)
        return None
    user.last_login_at = clock.now()
    audit.record(session, actor_for(session, user, remote_addr), "login", "user", user.id)
    return user


def active_user(session: Session, user_id: int) -> User | None:
    """The user behind a login session, or None once deactivated (the session ends)."""
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


def actor_for(session: Session, user: User, remote_addr: str | None = None) -> Actor:
    rows = session.execute(
        select(Membership.pilot_id, Membership.role, Pilot.status)
        .join(Pilot, Pilot.id == Membership.pilot_id).where(Membership.user_id == user.id)
    ).all()
    roles: dict[int, set[str]] = {}
    closed = set()
    for pilot_id, role, status in rows:
        roles.setdefault(pilot_id, set()).add(role)
        if status in READ_ONLY_STATUSES:  # closed or archived: read-only (issue 15)
            closed.add(pilot_id)
    return Actor(
        user_id=user.id, email=user.email, is_admin=user.is_admin, is_auditor=user.is_auditor,
        roles={k: frozenset(v) for k, v in roles.items()}, remote_addr=remote_addr,
        read_only=frozenset(closed),
    )


def create_user(
    session: Session,
    by: Actor | None,
    *,
    email: str,
    name: str,
    password: str,
    agency: str | None = None,
    is_admin: bool = False,
    is_auditor: bool = False,
) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise InvalidData(f"{email!r} is not an email address.")
    problem = password_problem(password)
    if problem:
        raise InvalidData(problem)
    if session.scalar(select(User.id).where(User.email == email)):
        raise InvalidData(f"A user with email {email} already exists.")
    agency_row = None
    if agency:
        agency_row = session.scalar(select(Agency).where(Agency.name == agency))
        if agency_row is None:
            raise NotFound(f"No agency called {agency!r}.")
    user = User(
        email=email, name=name or email, password_hash=hash_password(password),
        agency=agency_row, is_admin=is_admin, is_auditor=is_auditor,
    )
    session.add(user)
    session.flush()
    audit.record(session, by, "create", "user", user.id,
                 detail={"email": email, "admin": is_admin, "auditor": is_auditor})
    return user


def grant_role(
    session: Session, by: Actor | None, *, email: str, role: str, pilot_name: str | None,
    password: Callable[[], str], name: str = "", agency: str | None = None,
) -> None:
    """Give ``email`` a role (the ``locmap user add`` command): creates the account if
    there is none — only then is ``password`` asked for — and adds the global flag or the
    pilot membership.
    """
    if role in ("admin", "auditor") and pilot_name:
        raise InvalidData(f"{role} is a global role; drop --pilot.")
    if role not in ("admin", "auditor") and not pilot_name:
        raise InvalidData(f"{role} is a pilot role; name the pilot with --pilot.")
    pilot = None
    if pilot_name:
        pilot = session.scalar(select(Pilot).where(Pilot.name == pilot_name))
        if pilot is None:
            raise NotFound(f"No pilot called {pilot_name!r}.")
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        user = create_user(session, by, email=email, name=name, password=password(),
                           agency=agency, is_admin=role == "admin",
                           is_auditor=role == "auditor")
    elif role in ("admin", "auditor"):
        setattr(user, f"is_{role}", True)
        audit.record(session, by, "update", "user", user.id, detail={role: True})
    if pilot is not None:
        add_membership(session, by, user, pilot, role)


def add_membership(session: Session, by: Actor | None, user: User, pilot: Pilot, role: str) -> None:
    if role not in PILOT_ROLES:
        raise InvalidData(f"{role!r} is not a pilot role; use one of {', '.join(PILOT_ROLES)}.")
    exists = session.scalar(
        select(Membership.id).where(
            Membership.user_id == user.id, Membership.pilot_id == pilot.id, Membership.role == role
        )
    )
    if exists:
        return
    m = Membership(user_id=user.id, pilot_id=pilot.id, role=role)
    session.add(m)
    session.flush()
    audit.record(session, by, "create", "membership", m.id, pilot_id=pilot.id,
                 detail={"role": role, "user_id": user.id})


def set_password(session: Session, by: Actor | None, user: User, password: str, *,
                 keep_session_id: int | None = None) -> None:
    """Give ``user`` a new password (checked by :func:`password_problem`) and end every
    session of theirs but ``keep_session_id`` (the one that made the change, if any).
    """
    problem = password_problem(password)
    if problem:
        raise InvalidData(problem)
    user.password_hash = hash_password(password)
    user.must_change_password = False
    ended = revoke_sessions(session, user.id, keep_session_id=keep_session_id)
    audit.record(session, by, "password_set", "user", user.id,
                 detail={"sessions_ended": ended})


def reset_password(session: Session, by: Actor | None, email: str, password: str) -> User:
    """An operator's reset (``locmap user set-password``): every session ends."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"No user with email {email}.")
    set_password(session, by, user, password)
    return user


def change_password(session: Session, by: Actor, user: User, current: str, new: str, *,
                    keep_session_id: int | None = None) -> None:
    """The user's own change: the current password first (a hijacked session alone cannot
    lock the owner out).
    """
    if not verify_password(user.password_hash, current):
        audit.record(session, by, "password_change_refused", "user", user.id)
        raise InvalidData("The current password is not right.")
    set_password(session, by, user, new, keep_session_id=keep_session_id)


def set_active(session: Session, by: Actor | None, user: User, active: bool) -> None:
    """Activate or deactivate an account; deactivating ends its sessions at once (so
    does a bare ``active = False``: every request refuses an inactive user).
    """
    user.active = active
    if not active:
        revoke_sessions(session, user.id)
    audit.record(session, by, "update", "user", user.id, detail={"active": active})


# --- login sessions -------------------------------------------------------------------

# last_seen_at is written at most this often per session: one UPDATE a minute, not one
# per request, while the idle timeout stays exact to the minute.
SESSION_TOUCH = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class SessionPolicy:
    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=8)


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def start_session(session: Session, user: User, policy: SessionPolicy, *,
                  remote_addr: str | None = None, user_agent: str | None = None
                  ) -> tuple[str, UserSession]:
    """A new login session for ``user``: returns the token for the cookie (shown nowhere
    else, stored only as its hash) and the row. Expired and ended sessions of everyone
    are deleted first (one indexed DELETE per login keeps the table small).
    """
    purge_sessions(session, policy)
    token = secrets.token_urlsafe(32)
    now = clock.now()
    row = UserSession(token_hash=_token_hash(token), user_id=user.id, created_at=now,
                      last_seen_at=now, remote_addr=(remote_addr or None) and remote_addr[:45],
                      user_agent=(user_agent or "")[:200] or None)
    session.add(row)
    session.flush()
    return token, row


def session_user(session: Session, token: str, policy: SessionPolicy
                 ) -> tuple[User, UserSession] | None:
    """The active user behind a live session token, or None (unknown, ended, idle too
    long, too old, or the user deactivated). One indexed query per request; the
    last-seen time is written at most once a minute.
    """
    if not token or len(token) > 128:
        return None
    now = clock.now()
    found = session.execute(
        select(User, UserSession).join(UserSession, UserSession.user_id == User.id).where(
            UserSession.token_hash == _token_hash(token),
            UserSession.revoked_at.is_(None),
            UserSession.last_seen_at > now - policy.idle,
            UserSession.created_at > now - policy.absolute,
            User.active.is_(True),
        )
    ).first()
    if found is None:
        return None
    user, row = found
    if now - row.last_seen_at >= SESSION_TOUCH:
        session.execute(update(UserSession).where(UserSession.id == row.id)
                        .values(last_seen_at=now))
        row.last_seen_at = now
    return user, row


def end_session(session: Session, token: str) -> None:
    """Logout: the token no longer opens anything, wherever a copy of the cookie is."""
    session.execute(update(UserSession).where(
        UserSession.token_hash == _token_hash(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=clock.now()))


def revoke_sessions(session: Session, user_id: int, *, keep_session_id: int | None = None
                    ) -> int:
    """End every open session of ``user_id`` (but ``keep_session_id``) at once; returns
    how many were open.
    """
    stmt = update(UserSession).where(UserSession.user_id == user_id,
                                     UserSession.revoked_at.is_(None))
    if keep_session_id is not None:
        stmt = stmt.where(UserSession.id != keep_session_id)
    result = session.execute(stmt.values(revoked_at=clock.now()))
    return int(getattr(result, "rowcount", 0) or 0)


def open_sessions(session: Session, user_id: int, policy: SessionPolicy) -> list[UserSession]:
    """The user's live sessions, most recently used first."""
    now = clock.now()
    return list(session.scalars(
        select(UserSession).where(
            UserSession.user_id == user_id, UserSession.revoked_at.is_(None),
            UserSession.last_seen_at > now - policy.idle,
            UserSession.created_at > now - policy.absolute,
        ).order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())))


def purge_sessions(session: Session, policy: SessionPolicy) -> int:
    """Delete ended and expired sessions (they open nothing any more)."""
    now = clock.now()
    result = session.execute(delete(UserSession).where(or_(
        UserSession.revoked_at.is_not(None),
        UserSession.created_at <= now - policy.absolute,
        UserSession.last_seen_at <= now - policy.idle,
    )))
    return int(getattr(result, "rowcount", 0) or 0)
