"""Agencies, users, pilots, memberships and review points: who works where, and when."""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from locmap.models.base import (
    Base,
    PilotOwned,
    Timestamped,
    in_vocab,
    pilot_key,
    utcnow,
    valid_geom,
)
from locmap.vocab import AGENCY_KINDS, PILOT_ROLES, PILOT_STATUSES

__all__ = ["Agency", "User", "UserSession", "Pilot", "Membership", "ReviewPoint", "PeerNetwork",
           "Invitation", "pilot_approver_agency"]


class Agency(Base):
    __tablename__ = "agency"
    __table_args__ = (in_vocab("kind", AGENCY_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True, server_default="true")


pilot_approver_agency = Table(
    "pilot_approver_agency", Base.metadata,
    Column("pilot_id", ForeignKey("pilot.id", ondelete="CASCADE"), primary_key=True),
    Column("agency_id", ForeignKey("agency.id", ondelete="CASCADE"), primary_key=True),
)


class User(Timestamped, Base):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lower"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_auditor: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default="false")
    last_login_at: Mapped[dt.datetime | None]
    # Two-factor sign-in (TOTP, RFC 6238). The secret is set while enrolling and only
    # counts once ``totp_enabled_at`` is set (a code confirmed it); it is never shown again.
    # Stored encrypted (``v1:`` and a Fernet token, locmap.crypto), never in the clear.
    totp_secret: Mapped[str | None] = mapped_column(String(512))
    totp_enabled_at: Mapped[dt.datetime | None]
    # The last 30-second step whose code was accepted: a code is good once (no replay).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # SHA-256 (hex) of the unused single-use recovery codes.
    totp_recovery: Mapped[list[str]] = mapped_column(JSONB, default=list,
                                                     server_default="[]")

    agency: Mapped[Agency | None] = relationship()
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class UserSession(Base):
    """A server-side login session: the cookie carries only a random token, this row its
    SHA-256. Logout, deactivation and a password change end it at once (issue 14).
    """

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    remote_addr: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class Pilot(Timestamped, Base):
    """A partnership's work in one locality: up to 18 months with a review every 3."""

    __tablename__ = "pilot"
    __table_args__ = (
        valid_geom("locality"),
        CheckConstraint("duration_months BETWEEN 1 AND 60", name="duration_range"),
        CheckConstraint("review_interval_months BETWEEN 1 AND 12", name="review_interval_range"),
        in_vocab("status", PILOT_STATUSES),
        in_vocab("approval_rule", ("all_named", "one_per_agency")),
        CheckConstraint("min_approvals BETWEEN 0 AND 20", name="min_approvals_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # Deferred: a real locality (a ward or borough boundary) runs to thousands of vertices,
    # and most reads of a pilot (every page's header, the inbox) never look at it.
    locality: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", srid=4326),
                                                 deferred=True)
    start_date: Mapped[dt.date]
    duration_months: Mapped[int] = mapped_column(default=18)
    review_interval_months: Mapped[int] = mapped_column(default=3)
    status: Mapped[str] = mapped_column(String(20), default="active")
    # The day it was last closed (or archived): retention periods of its people count from
    # it. NULL while open; a pilot closed before this column existed counts from its end.
    closed_on: Mapped[dt.date | None]
    approval_rule: Mapped[str] = mapped_column(String(20), default="all_named")
    # Beyond whom a version was sent to: these agencies must approve, and at least this
    # many partner reviewers (0: no minimum) — issue 15.
    min_approvals: Mapped[int] = mapped_column(default=0, server_default="0")
    approver_agencies: Mapped[list[Agency]] = relationship(
        secondary=pilot_approver_agency, order_by="Agency.name")
    version: Mapped[int] = mapped_column(default=1)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="pilot", cascade="all, delete-orphan", passive_deletes=True
    )
    review_points: Mapped[list[ReviewPoint]] = relationship(
        back_populates="pilot", order_by="ReviewPoint.due_on", cascade="all, delete-orphan",
        passive_deletes=True,
    )
    __mapper_args__ = {"version_id_col": version}


class Invitation(Base):
    """A one-time link: an invitation, a password reset or the first admin's setup.

    Only the SHA-256 of the token is stored; the link works once, until ``expires_at``.
    """

    __tablename__ = "invitation"
    __table_args__ = (in_vocab("purpose", ("invite", "reset", "setup")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class Membership(Base):
    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("user_id", "pilot_id", "role", name="uq_membership_user_pilot_role"),
        in_vocab("role", PILOT_ROLES),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())

    user: Mapped[User] = relationship(back_populates="memberships")
    pilot: Mapped[Pilot] = relationship(back_populates="memberships")


class ReviewPoint(PilotOwned, Base):
    """A dated review of the pilot, generated from its timeline; minutes once held."""

    __tablename__ = "review_point"
    __table_args__ = (
        pilot_key("id"),
        UniqueConstraint("pilot_id", "due_on", name="uq_review_point_pilot_due"),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    number: Mapped[int]
    due_on: Mapped[dt.date]
    held_on: Mapped[dt.date | None]
    attendees: Mapped[str] = mapped_column(Text, default="")
    minutes: Mapped[str] = mapped_column(Text, default="")
    decisions: Mapped[str] = mapped_column(Text, default="")

    pilot: Mapped[Pilot] = relationship(back_populates="review_points")


class PeerNetwork(PilotOwned, Timestamped, Base):
    """Why a pilot maps peer networks at all: purpose and lawful basis (Article 8 ECHR)."""

    __tablename__ = "peer_network"
    __table_args__ = (
        pilot_key("id"),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"), unique=True)
    purpose: Mapped[str] = mapped_column(Text)
    lawful_basis: Mapped[str] = mapped_column(Text)


Index("ix_membership_user", Membership.user_id)
