"""Two-factor sign-in with time-based one-time codes (TOTP, RFC 6238, via pyotp).

Anyone may enrol; admins and auditors must (``LOCMAP_REQUIRE_TOTP_FOR_ADMINS``, enforced
in the web layer). Enrolling stores a fresh secret as *pending*; it counts only once the
user confirms it with a code from their app, and it is never shown again after that.
Each code is good once (the last accepted 30-second step is kept, so a code read over a
shoulder cannot be replayed), and a code from the step before or after is accepted for a
phone whose clock drifts. Ten single-use recovery codes are issued at enrolment and kept
only as SHA-256 hashes. Wrong codes count towards the same lockout as wrong passwords
(:func:`locmap.services.accounts.is_locked`). Enrolment, disabling, a used recovery code
and every failed code are audited.

The secret is stored encrypted (:class:`locmap.crypto.FieldBox`, a key derived from the
app's secret key): callers pass the box, and a value it cannot decrypt fails closed (no
code matches; an operator resets two-factor).

The codes follow the real time of the machine (:func:`locmap.clock.real_now`), never a
moved clock: the user's phone knows nothing of ``LOCMAP_CLOCK``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
import segno
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.crypto import FieldBox, Unreadable
from locmap.errors import InvalidData, NotFound
from locmap.models import User
from locmap.services import accounts, audit
from locmap.services.permissions import Actor

__all__ = ["ISSUER", "is_enrolled", "must_enrol", "pending_secret", "provisioning_uri",
           "qr_svg", "confirm", "check_code", "disable", "reset", "RECOVERY_CODES"]

ISSUER = "locmap"
RECOVERY_CODES = 10
_DRIFT_STEPS = 1  # accept the previous and the next 30-second code too


def is_enrolled(user: User) -> bool:
    return user.totp_enabled_at is not None and bool(user.totp_secret)


def must_enrol(user: User, required_for_admins: bool) -> bool:
    """True while ``user`` holds a global role that needs two-factor and has not enrolled."""
    return required_for_admins and (user.is_admin or user.is_auditor) and not is_enrolled(user)


def _secret(user: User, box: FieldBox) -> str | None:
    """The user's secret in the clear, or None when there is none or it is unreadable."""
    if not user.totp_secret:
        return None
    try:
        return box.decrypt(user.totp_secret)
    except Unreadable:
        return None


def pending_secret(session: Session, user: User, box: FieldBox) -> str:
    """The secret being enrolled: kept while the user has not confirmed it, so reloading
    the page shows the same QR code; a fresh one when there is none (or the stored one no
    longer decrypts).
    """
    if is_enrolled(user):
        raise InvalidData("Two-factor sign-in is already on for this account.")
    secret = _secret(user, box)
    if secret is None:
        secret = pyotp.random_base32()
        user.totp_secret = box.encrypt(secret)
        session.flush()
    return secret


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The ``otpauth://`` URI as an inline SVG QR code (dark on white, no script)."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff")
    return svg


def _hash_recovery(code: str) -> str:
    return hashlib.sha256(
        code.replace("-", "").strip().lower().encode("utf-8", "replace")).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
    user.totp_recovery = [_hash_recovery(c) for c in codes]
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def _matching_step(secret: str, code: str, after: int | None) -> int | None:
    """The 30-second step whose code is ``code`` (around the real time), if any and later
    than ``after`` (the last one used).
    """
    totp = pyotp.TOTP(secret)
    current = totp.timecode(clock.real_now())
    for step in range(current - _DRIFT_STEPS, current + _DRIFT_STEPS + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _digits(code: str) -> str:
    return "".join(code.split())


def confirm(session: Session, by: Actor, user: User, code: str, box: FieldBox) -> list[str]:
    """Turn two-factor on once ``code`` matches the pending secret; returns the recovery
    codes (shown once).
    """
    if is_enrolled(user):
        raise InvalidData("Two-factor sign-in is already on for this account.")
    secret = _secret(user, box)
    if secret is None:
        raise InvalidData("Start the enrolment first.")
    step = _matching_step(secret, _digits(code), None)
    if step is None:
        audit.record(session, by, "totp_failed", "user", user.id, detail={"stage": "enrol"})
        raise InvalidData("That code does not match. Check the time on your phone and "
                          "enter the code the app shows now.")
    user.totp_enabled_at = clock.now()
    user.totp_last_step = step
    codes = _new_recovery_codes(user)
    audit.record(session, by, "totp_enrol", "user", user.id)
    return codes


def check_code(session: Session, user_id: int, code: str, remote_addr: str | None,
               box: FieldBox) -> User | None:
    """The second step of a login: the enrolled, active user if ``code`` is their current
    code (or an unused recovery code), else None. Audited either way; refused without
    checking while the email or the address is locked out.
    """
    user = session.get(User, user_id)
    if user is None or not user.active or not is_enrolled(user):
        return None
    who = Actor(user_id=user.id, email=user.email, remote_addr=remote_addr)
    if accounts.is_locked(session, user.email, remote_addr):
        audit.record(session, who, "login_locked", "user", user.id, detail={"stage": "code"})
        return None
    code = code.strip()
    digits = _digits(code)
    if digits.isdigit() and len(digits) == 6:
        secret = _secret(user, box)
        step = None if secret is None else _matching_step(secret, digits, user.totp_last_step)
        if step is not None:
            user.totp_last_step = step
            audit.record(session, who, "login_code", "user", user.id)
            return user
    elif code:
        hashed = _hash_recovery(code)
        if hashed in user.totp_recovery:
            user.totp_recovery = [h for h in user.totp_recovery if h != hashed]
            audit.record(session, who, "totp_recovery_used", "user", user.id,
                         detail={"left": len(user.totp_recovery)})
            return user
    audit.record(session, who, "totp_failed", "user", user.id, detail={"stage": "login"})
    return None


def _clear(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.totp_recovery = []


def disable(session: Session, by: Actor, user: User, password: str) -> None:
    """The user turns two-factor off, proving it with their password."""
    if not accounts.verify_password(user.password_hash, password):
        audit.record(session, by, "totp_disable_refused", "user", user.id)
        raise InvalidData("The password is not right; two-factor sign-in stays on.")
    _clear(user)
    audit.record(session, by, "totp_disable", "user", user.id)


def reset(session: Session, by: Actor | None, email: str) -> User:
    """An operator's reset (``locmap user totp-reset``) for a lost phone: two-factor off
    and every session ended; the user enrols again at the next login.
    """
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"No user with email {email}.")
    _clear(user)
    ended = accounts.revoke_sessions(session, user.id)
    audit.record(session, by, "totp_reset", "user", user.id, detail={"sessions_ended": ended})
    return user
