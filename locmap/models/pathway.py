"""The Contextual Safeguarding pathway (issue 19): context thresholds, context referrals and
their screening; context conferences / MACE meetings, their agendas and actions, and the
high-risk contexts log.

Every table carries ``pilot_id``. A referral names its context by kind: an existing place
(``place_id``), a new place (name, kind and location waiting for a Level 2 screening to
create it), a peer group of the network, a school or an online space (``context_name``).
Children affected are pseudonyms of the pilot's network (``referral_person``) or a count.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from locmap.models.base import Base, PilotOwned, Timestamped, in_vocab, pilot_fk, pilot_key
from locmap.vocab import (
    ACTION_STATUSES,
    AGENDA_SOURCES,
    CONTEXT_KINDS,
    PLACE_KINDS,
    REFERRAL_URGENCIES,
    SCREENING_OUTCOMES,
    THRESHOLD_LEVELS,
)

__all__ = ["ContextThreshold", "ContextReferral", "ReferralPerson", "ContextMeeting",
           "MeetingAttendance", "HighRiskContext", "AgendaItem", "MeetingAction"]


class ContextThreshold(PilotOwned, Timestamped, Base):
    """The criteria written beside one threshold level, per pilot."""

    __tablename__ = "context_threshold"
    __table_args__ = (
        pilot_key("id"),
        UniqueConstraint("pilot_id", "level", name="uq_context_threshold_pilot_level"),
        in_vocab("level", THRESHOLD_LEVELS),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(20))
    criteria: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}


class ContextReferral(PilotOwned, Timestamped, Base):
    __tablename__ = "context_referral"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("place_id", "place", "SET NULL"),
        pilot_fk("action_id", "action", "SET NULL"),
        pilot_fk("assessment_id", "assessment", "SET NULL"),
        in_vocab("context_kind", CONTEXT_KINDS),
        in_vocab("urgency", REFERRAL_URGENCIES),
        in_vocab("threshold_level", THRESHOLD_LEVELS),
        in_vocab("outcome", SCREENING_OUTCOMES),
        in_vocab("new_place_kind", PLACE_KINDS),
        CheckConstraint("children_count IS NULL OR children_count >= 0",
                        name="children_count_range"),
        CheckConstraint("(outcome IS NULL) = (screened_at IS NULL)", name="screened"),
        Index("ix_context_referral_pilot", "pilot_id", "referred_on"),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    context_kind: Mapped[str] = mapped_column(String(20))
    place_id: Mapped[int | None]
    # What identifies a context that is not an existing place (a new place's name, the
    # network group, the school, the platform and group or channel).
    context_name: Mapped[str] = mapped_column(String(200), default="")
    new_place_kind: Mapped[str | None] = mapped_column(String(30))
    new_place_geometry: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    concern: Mapped[str] = mapped_column(Text)
    harm_types: Mapped[list[str]] = mapped_column(JSONB, default=list)
    children_count: Mapped[int | None]
    referrer_name: Mapped[str] = mapped_column(String(200))
    referrer_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    urgency: Mapped[str] = mapped_column(String(20), default="routine")
    referred_on: Mapped[dt.date]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Screening by the owning team.
    threshold_level: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(20))
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    screened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    screened_at: Mapped[dt.datetime | None]
    action_id: Mapped[int | None]
    assessment_id: Mapped[int | None]
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}


class ReferralPerson(PilotOwned, Base):
    """A young person (by pseudonym) a referral says the context affects."""

    __tablename__ = "referral_person"
    __table_args__ = (
        pilot_key("referral_id", "person_id"),
        pilot_fk("referral_id", "context_referral", "CASCADE"),
        pilot_fk("person_id", "person", "CASCADE"),
    )
    __mapper_args__ = {"primary_key": ["referral_id", "person_id"]}

    referral_id: Mapped[int]
    person_id: Mapped[int]
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))


class ContextMeeting(PilotOwned, Timestamped, Base):
    """A context conference or MACE meeting of the pilot's partnership."""

    __tablename__ = "context_meeting"
    __table_args__ = (
        pilot_key("id"),
        Index("ix_context_meeting_pilot", "pilot_id", "held_on"),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    held_on: Mapped[dt.date]
    title: Mapped[str] = mapped_column(String(200), default="MACE meeting")
    chair: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}


class MeetingAttendance(PilotOwned, Base):
    """How many people of one agency attended a meeting."""

    __tablename__ = "meeting_attendance"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("meeting_id", "context_meeting", "CASCADE"),
        UniqueConstraint("meeting_id", "agency_id", "pilot_id",
                         name="uq_meeting_attendance_agency"),
        CheckConstraint("attendees BETWEEN 0 AND 100", name="attendees_range"),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    meeting_id: Mapped[int]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    attendees: Mapped[int] = mapped_column(default=1)


class HighRiskContext(PilotOwned, Timestamped, Base):
    """A context open at the panel: since when, why, the latest decision, closed with why."""

    __tablename__ = "high_risk_context"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("place_id", "place", "SET NULL"),
        pilot_fk("opened_at_meeting_id", "context_meeting", "SET NULL"),
        CheckConstraint("(closed_on IS NULL) = (close_reason IS NULL)", name="closed_reason"),
        CheckConstraint("closed_on IS NULL OR closed_on >= opened_on", name="closed_after"),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    place_id: Mapped[int | None]
    context_name: Mapped[str] = mapped_column(String(200))
    opened_on: Mapped[dt.date]
    reason: Mapped[str] = mapped_column(Text)
    latest_decision: Mapped[str] = mapped_column(Text, default="")
    opened_at_meeting_id: Mapped[int | None]
    closed_on: Mapped[dt.date | None]
    close_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}


class AgendaItem(PilotOwned, Timestamped, Base):
    """One context on a meeting's agenda, under the VOLT headings (pseudonyms only)."""

    __tablename__ = "agenda_item"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("meeting_id", "context_meeting", "CASCADE"),
        pilot_fk("place_id", "place", "SET NULL"),
        pilot_fk("referral_id", "context_referral", "SET NULL"),
        pilot_fk("log_entry_id", "high_risk_context", "SET NULL"),
        in_vocab("source", AGENDA_SOURCES),
        Index("ix_agenda_item_meeting", "meeting_id"),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    meeting_id: Mapped[int]
    position: Mapped[int] = mapped_column(default=0)
    place_id: Mapped[int | None]
    context_name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20), default="added")
    referral_id: Mapped[int | None]
    log_entry_id: Mapped[int | None]
    # VOLT: victim, offender, location, theme — young people and adults by pseudonym only.
    victim: Mapped[str] = mapped_column(Text, default="")
    offender: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(Text, default="")
    theme: Mapped[str] = mapped_column(Text, default="")
    # What partners shared at the table: restricted (owning team; not in the partner minutes).
    shared: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}


class MeetingAction(PilotOwned, Timestamped, Base):
    """An action a meeting agreed: on the context's draft plan (``action_id``), or in the
    panel's own action log when there is no plan to put it on.
    """

    __tablename__ = "meeting_action"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("item_id", "agenda_item", "CASCADE"),
        pilot_fk("action_id", "action", "SET NULL"),
        in_vocab("status", ACTION_STATUSES),
        Index("ix_meeting_action_item", "item_id"),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    item_id: Mapped[int]
    action_id: Mapped[int | None]
    description: Mapped[str] = mapped_column(Text)
    owner_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    lead: Mapped[str] = mapped_column(String(200), default="")
    due_on: Mapped[dt.date | None]
    status: Mapped[str] = mapped_column(String(20), default="planned")
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}
