"""Users, passwords and logins.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106). A login with an
unknown email still verifies against a dummy hash so the response time does not reveal
which emails exist; ten failures in fifteen minutes lock the email for the rest of the
window. Every login, failed login and account change is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import InvalidData, NotFound
from locmap.models import Agency, AuditEvent, Membership, Pilot, User
from locmap.services import audit
from locmap.services.permissions import READ_ONLY_STATUSES, Actor
from locmap.vocab import PILOT_ROLES

__all__ = [
    "hash_password", "verify_password", "authenticate", "actor_for", "create_user",
    "add_membership", "grant_role", "active_user", "LOCKOUT_FAILURES", "MIN_PASSWORD_LENGTH",
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
        stmt = stmt.where(AuditEvent.action == "login_failed", AuditEvent.user_email == email)
    else:
        stmt = stmt.where(AuditEvent.action.in_(("login_failed", "login_locked")),
                          AuditEvent.remote_addr == remote_addr)
    return session.scalar(stmt) or 0


def authenticate(
    session: Session, email: str, password: str, remote_addr: str | None = None
) -> User | None:
    """Return the active user with these credentials, or None; audit either way."""
    email = email.strip().lower()
    who = Actor(user_id=None, email=email, remote_addr=remote_addr)
    locked = _recent_failures(session, email=email) >= LOCKOUT_FAILURES or (
        remote_addr is not None
        and _recent_failures(session, remote_addr=remote_addr) >= ADDRESS_FAILURES)
    if locked:
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
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidData(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
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
    session.add(Membership(user_id=user.id, pilot_id=pilot.id, role=role))
    session.flush()
    audit.record(session, by, "create", "membership", user.id, pilot_id=pilot.id,
                 detail={"role": role})
