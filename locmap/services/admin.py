"""Administration (issue 15): the first admin, agencies, users and their one-time links.

Everything here needs an admin (:func:`require_admin`; a logged-in non-admin gets
:class:`Forbidden`) except :func:`init_first_admin`, which works only while no admin
exists, and :func:`redeem_link`, which the holder of a link uses. Every change is audited.

One-time links (an invitation, a password reset, the first admin's setup) carry a random
token of 256 bits; only its SHA-256 is stored, so a copy of the database opens no account.
A link works once and expires (invitations after 7 days, resets and setup after 24 hours).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import Conflict, Forbidden, InvalidData, LinkExpired, NotFound
from locmap.models import Agency, Invitation, User
from locmap.services import accounts, audit, mail
from locmap.services.permissions import Actor
from locmap.vocab import AGENCY_KINDS

log = logging.getLogger(__name__)

__all__ = [
    "require_admin", "has_admin", "init_first_admin", "list_agencies", "create_agency",
    "update_agency", "list_users", "count_active_users", "invite_user", "update_user",
    "reset_link", "peek_link", "redeem_link", "Link", "TTL", "link_path",
]

TTL = {"invite": dt.timedelta(days=7), "reset": dt.timedelta(hours=24),
       "setup": dt.timedelta(hours=24)}


@dataclass(frozen=True)
class Link:
    """A one-time link just made: the path to pass on (the token is in it) and when it
    expires; ``emailed`` says whether it was also sent by email, ``mail_error`` why the
    email failed (the admin passes the link on instead).
    """

    path: str
    expires_at: dt.datetime
    emailed: bool = False
    mail_error: str | None = None

    def url(self, base: str) -> str:
        return base.rstrip("/") + self.path


def link_path(token: str) -> str:
    return f"/invite/{token}"


def require_admin(actor: Actor | None) -> None:
    """Raise :class:`Forbidden` unless ``actor`` is an admin (``None`` is the system)."""
    if actor is not None and not actor.is_admin:
        raise Forbidden("Only an admin can do this.")


def has_admin(session: Session) -> bool:
    """Whether an active admin exists (until one does, only setup is reachable)."""
    return bool(session.scalar(select(func.count()).select_from(User).where(
        User.is_admin.is_(True), User.active.is_(True))))


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _issue(session: Session, by: Actor | None, user: User, purpose: str) -> Link:
    """A fresh one-time link for ``user``; earlier unused links of the same purpose end."""
    now = clock.now()
    for old in session.scalars(select(Invitation).where(
            Invitation.user_id == user.id, Invitation.purpose == purpose,
            Invitation.used_at.is_(None))):
        old.expires_at = min(old.expires_at, now)
    token = secrets.token_urlsafe(32)
    inv = Invitation(user_id=user.id, purpose=purpose, token_sha256=_sha(token),
                     created_by_id=by.user_id if by else None, expires_at=now + TTL[purpose])
    session.add(inv)
    session.flush()
    audit.record(session, by, f"link_{purpose}", "user", user.id,
                 detail={"expires_at": inv.expires_at.isoformat()})
    return Link(link_path(token), inv.expires_at)


def _unguessable_password() -> str:
    # An account made by invitation or setup has a password nobody knows until the link
    # sets one.
    return secrets.token_urlsafe(32)


def init_first_admin(session: Session, *, email: str, name: str = "",
                     password: str | None = None) -> tuple[User, Link | None]:
    """Create the first admin on an empty installation (``locmap init``).

    With ``password`` (at least 12 characters) the account is ready; without, a one-time
    setup link (24 hours) lets its holder choose the password in the browser.
    """
    if has_admin(session):
        raise Conflict("An admin already exists; log in as them (or use `locmap user add "
                       "--role admin`).")
    system = Actor(user_id=None, email="locmap init", is_admin=True)
    user = accounts.create_user(session, system, email=email, name=name,
                                password=password or _unguessable_password(), is_admin=True)
    link = None if password else _issue(session, system, user, "setup")
    return user, link


# ---- agencies ------------------------------------------------------------------------


def _agency_dict(a: Agency, users: int = 0) -> dict[str, Any]:
    return {"id": a.id, "name": a.name, "kind": a.kind, "active": a.active, "users": users}


def list_agencies(session: Session, actor: Actor) -> list[dict[str, Any]]:
    require_admin(actor)
    counts = dict(session.execute(select(User.agency_id, func.count()).group_by(
        User.agency_id)).tuples().all())
    return [_agency_dict(a, counts.get(a.id, 0))
            for a in session.scalars(select(Agency).order_by(Agency.name))]


def _agency_name(session: Session, name: str, agency_id: int | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidData("An agency needs a name.")
    if len(name) > 200:
        raise InvalidData("An agency name is at most 200 characters.")
    clash = session.scalar(select(Agency.id).where(func.lower(Agency.name) == name.lower()))
    if clash is not None and clash != agency_id:
        raise InvalidData(f"An agency called {name!r} already exists.")
    return name


def _kind(kind: str) -> str:
    if kind not in AGENCY_KINDS:
        raise InvalidData(f"{kind!r} is not an agency kind; use one of "
                          f"{', '.join(AGENCY_KINDS)}.")
    return kind


def create_agency(session: Session, actor: Actor | None, *, name: str, kind: str) -> Agency:
    require_admin(actor)
    agency = Agency(name=_agency_name(session, name), kind=_kind(kind), active=True)
    session.add(agency)
    session.flush()
    audit.record(session, actor, "create", "agency", agency.id,
                 detail={"name": agency.name, "kind": kind})
    return agency


def get_agency(session: Session, actor: Actor, agency_id: int) -> Agency:
    require_admin(actor)
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("No such agency.")
    return agency


def update_agency(session: Session, actor: Actor, agency_id: int, *, name: str | None = None,
                  kind: str | None = None, active: bool | None = None) -> Agency:
    """Rename, change the kind, deactivate or reactivate an agency."""
    agency = get_agency(session, actor, agency_id)
    changes: dict[str, Any] = {}
    if name is not None and name != agency.name:
        agency.name = _agency_name(session, name, agency.id)
        changes["name"] = agency.name
    if kind is not None and kind != agency.kind:
        agency.kind = _kind(kind)
        changes["kind"] = kind
    if active is not None and active != agency.active:
        agency.active = active
        changes["active"] = active
    if changes:
        session.flush()
        audit.record(session, actor, "update", "agency", agency.id, detail=changes)
    return agency


# ---- users ---------------------------------------------------------------------------


def _user_dict(u: User) -> dict[str, Any]:
    return {"id": u.id, "email": u.email, "name": u.name, "agency_id": u.agency_id,
            "agency": u.agency.name if u.agency else None, "is_admin": u.is_admin,
            "is_auditor": u.is_auditor, "active": u.active,
            "must_change_password": u.must_change_password,
            "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
            "pilots": sorted({m.pilot.name for m in u.memberships})}


def list_users(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Every user (names, emails, agencies): personal data, so the listing is audited
    like any other read of it (the ids listed, never the names).
    """
    require_admin(actor)
    rows = [_user_dict(u) for u in session.scalars(select(User).order_by(User.name, User.email))]
    audit.record(session, actor, "read", "user_list", None, personal_data=True,
                 detail={"count": len(rows), "user_ids": [r["id"] for r in rows][:500]})
    return rows


def count_active_users(session: Session, actor: Actor) -> int:
    """How many accounts are active: a number, no personal data, so no audited read."""
    require_admin(actor)
    return session.scalar(select(func.count()).select_from(User).where(User.active)) or 0


def get_user(session: Session, actor: Actor, user_id: int) -> User:
    require_admin(actor)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def user_dict(session: Session, actor: Actor, user_id: int) -> dict[str, Any]:
    """One user's record as an admin reads it (audited)."""
    out = _user_dict(get_user(session, actor, user_id))
    audit.record(session, actor, "read", "user", user_id, personal_data=True)
    return out


def _active_agency(session: Session, agency_id: int | None) -> Agency | None:
    if agency_id is None:
        return None
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise InvalidData("No such agency.")
    if not agency.active:
        raise InvalidData(f"{agency.name} is deactivated; pick an active agency.")
    return agency


def invite_user(session: Session, actor: Actor, *, email: str, name: str = "",
                agency_id: int | None = None, is_admin: bool = False,
                is_auditor: bool = False, base_url: str | None = None) -> tuple[User, Link]:
    """Create an account that only a one-time invitation link (7 days) can open.

    The link is returned for the admin to pass on; when ``LOCMAP_SMTP_HOST`` is set and
    ``base_url`` is known it is also emailed to the new user.
    """
    require_admin(actor)
    agency = _active_agency(session, agency_id)
    user = accounts.create_user(session, actor, email=email, name=" ".join(name.split()),
                                password=_unguessable_password(),
                                agency=agency.name if agency else None,
                                is_admin=is_admin, is_auditor=is_auditor)
    link = _issue(session, actor, user, "invite")
    return user, _maybe_mail(user, link, base_url, invite=True)


def _maybe_mail(user: User, link: Link, base_url: str | None, *, invite: bool) -> Link:
    if base_url is None or not mail.configured():
        return link
    url = link.url(base_url)
    until = link.expires_at.strftime("%d %B %Y %H:%M UTC")
    if invite:
        subject = "Your locmap account"
        body = (f"Hello {user.name},\n\nYou have been given an account on locmap, the "
                f"partnership's location assessment tool. Choose your password here (the "
                f"link works once, until {until}):\n\n{url}\n")
    else:
        subject = "Reset your locmap password"
        body = (f"Hello {user.name},\n\nAn admin has reset your locmap password. Choose a new "
                f"one here (the link works once, until {until}):\n\n{url}\n")
    try:
        mail.send(user.email, subject, body)
    except mail.MailNotSent as exc:
        # The link exists and works: the admin passes it on, told why the email failed.
        log.warning("The %s link for user %s was not emailed: %s",
                    "invitation" if invite else "reset", user.id, exc)
        return Link(link.path, link.expires_at, mail_error=str(exc))
    return Link(link.path, link.expires_at, emailed=True)


def _other_active_admins(session: Session, user: User) -> int:
    return session.scalar(select(func.count()).select_from(User).where(
        User.is_admin.is_(True), User.active.is_(True), User.id != user.id)) or 0


def update_user(session: Session, actor: Actor, user_id: int, *, name: str | None = None,
                agency_id: int | None | bool = False, is_admin: bool | None = None,
                is_auditor: bool | None = None, active: bool | None = None,
                must_change_password: bool | None = None) -> User:
    """Change a user's name, agency (``None`` clears it; ``False`` leaves it), global flags,
    whether they are active (deactivated: no login, and open sessions stop at the next
    request) and whether they must change their password at the next page.
    """
    user = get_user(session, actor, user_id)
    changes: dict[str, Any] = {}
    if name is not None:
        name = " ".join(name.split())
        if not name:
            raise InvalidData("A user needs a name.")
        if name != user.name:
            user.name = name[:200]
            changes["name"] = True  # the name itself is personal data: not in the trail
    if agency_id is not False and agency_id != user.agency_id:
        agency = _active_agency(session, agency_id if isinstance(agency_id, int) else None)
        user.agency_id = agency.id if agency else None
        changes["agency_id"] = user.agency_id
    losing_admin = (is_admin is False and user.is_admin) or (active is False and user.is_admin)
    if losing_admin and user.active and _other_active_admins(session, user) == 0:
        raise Conflict("This is the only active admin: make someone else an admin first.")
    for key, value in (("is_admin", is_admin), ("is_auditor", is_auditor),
                       ("active", active), ("must_change_password", must_change_password)):
        if value is not None and value != getattr(user, key):
            setattr(user, key, value)
            changes[key] = value
    if changes:
        session.flush()
        audit.record(session, actor, "update", "user", user.id, detail=changes)
    if active is False and "active" in changes:
        _end_sessions(session, actor, user)
    return user


def _end_sessions(session: Session, actor: Actor, user: User) -> None:
    """A deactivated user's open sessions end: every request reloads the user and refuses
    an inactive one (``accounts.active_user``); where the accounts service also keeps a
    server-side session list it is cleared too.
    """
    accounts.revoke_sessions(session, user.id)


def reset_link(session: Session, actor: Actor, user_id: int, *,
               base_url: str | None = None) -> Link:
    """A one-time password-reset link (24 hours) for the admin to pass on (or emailed)."""
    user = get_user(session, actor, user_id)
    if not user.active:
        raise Conflict("The account is deactivated; reactivate it first.")
    return _maybe_mail(user, _issue(session, actor, user, "reset"), base_url, invite=False)


# ---- redeeming a link ----------------------------------------------------------------

_EXPIRED = ("This link cannot be used: it was used already, has expired or is not a "
            "locmap link. Ask your admin for a new one.")


def peek_link(session: Session, token: str) -> Invitation:
    """The open invitation behind ``token`` (:class:`LinkExpired` otherwise)."""
    if not token or len(token) > 100:
        raise LinkExpired(_EXPIRED)
    inv = session.scalar(select(Invitation).where(Invitation.token_sha256 == _sha(token)))
    if (inv is None or inv.used_at is not None or inv.expires_at <= clock.now()
            or not inv.user.active):
        raise LinkExpired(_EXPIRED)
    return inv


def redeem_link(session: Session, token: str, *, password: str, confirm: str,
                remote_addr: str | None = None) -> User:
    """Set the password through a one-time link; the link is spent and every other
    session of the user ends (:func:`locmap.services.accounts.set_password`).
    """
    inv = peek_link(session, token)
    if password != confirm:
        raise InvalidData("The two passwords differ.")
    user = inv.user
    if password.strip().lower() in (user.email, user.name.lower()):
        raise InvalidData("Choose a password that is not your email or name.")
    who = Actor(user_id=user.id, email=user.email, remote_addr=remote_addr)
    accounts.set_password(session, who, user, password)
    inv.used_at = clock.now()
    session.flush()
    return user


def change_password(session: Session, actor: Actor, *, current: str, new: str,
                    confirm: str, keep_session_id: int | None = None) -> None:
    """The user's own password change when an admin required one: the account page's
    rule (:func:`locmap.services.accounts.change_password`), which also clears the
    requirement and ends the user's other sessions.
    """
    user = session.get(User, actor.user_id) if actor.user_id else None
    if user is None:
        raise NotFound("No such user.")
    if new != confirm:
        raise InvalidData("The two new passwords differ.")
    if new == current:
        raise InvalidData("Choose a password different from the current one.")
    accounts.change_password(session, actor, user, current, new,
                             keep_session_id=keep_session_id)


