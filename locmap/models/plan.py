"""Assessments, context weighting, plans, actions, KPIs and partner reviews.

Versions are rows: a submitted version is never edited; editing makes a new draft whose
``parent_id`` points at the version it came from.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from locmap.assessment.context_weighting import CONTEXT_KINDS
from locmap.models.base import (
    Base,
    PilotOwned,
    Timestamped,
    in_vocab,
    pilot_association,
    pilot_fk,
    pilot_from,
    pilot_key,
    utcnow,
)
from locmap.vocab import (
    ACTION_STATUSES,
    ASSESSMENT_STATUSES,
    FRAMEWORK_DOMAINS,
    KPI_KINDS,
    PLAN_CATEGORIES,
    REVIEW_DECISIONS,
)

__all__ = [
    "Assessment", "ContextWeight", "ContextLink", "Plan", "Action", "action_factor",
    "PlanGapReason", "KPI", "KPIMeasurement", "Review", "ReviewRequest",
]


class Assessment(PilotOwned, Timestamped, Base):
    __tablename__ = "assessment"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("place_id", "place", "CASCADE"),
        pilot_fk("parent_id", "assessment"),
        UniqueConstraint("place_id", "version_no", "pilot_id", name="uq_assessment_place_version"),
        in_vocab("status", ASSESSMENT_STATUSES),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          default=pilot_from(("place_id", "place")))
    place_id: Mapped[int]
    version_no: Mapped[int] = mapped_column(default=1)
    parent_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # The neighbourhood assessment's three sides.
    young_people: Mapped[str] = mapped_column(Text, default="")
    guardianship: Mapped[str] = mapped_column(Text, default="")
    environment: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    indicators: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[dt.datetime | None]
    approved_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    contexts: Mapped[list[ContextWeight]] = relationship(
        order_by="ContextWeight.position", cascade="all, delete-orphan", passive_deletes=True
    )
    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}


class ContextWeight(PilotOwned, Base):
    """One context's share of 100 in an assessment's context weighting.

    ``place_id`` is the pilot's record of the context when it has one (a place, or a peer
    group, school or online space — places of their kinds); ``kind`` is then the record's.
    """

    __tablename__ = "context_weight"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("assessment_id", "assessment", "CASCADE"),
        CheckConstraint("share BETWEEN 0 AND 100", name="share_range"),
        pilot_fk("place_id", "place", "SET NULL"),
        UniqueConstraint("assessment_id", "name", "pilot_id", name="uq_context_weight_name"),
        UniqueConstraint("assessment_id", "place_id", "pilot_id", name="uq_context_weight_place"),
        in_vocab("kind", CONTEXT_KINDS),
        Index("ix_context_weight_place", "place_id"),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          default=pilot_from(("assessment_id", "assessment")))
    assessment_id: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    share: Mapped[int]
    reason: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(20), default="other", server_default="other")
    place_id: Mapped[int | None]


class ContextLink(PilotOwned, Base):
    __tablename__ = "context_link"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("assessment_id", "assessment", "CASCADE"),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          default=pilot_from(("assessment_id", "assessment")))
    assessment_id: Mapped[int]
    context_a: Mapped[str] = mapped_column(String(200))
    context_b: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(String(300), default="")


class Plan(PilotOwned, Timestamped, Base):
    __tablename__ = "plan"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("assessment_id", "assessment", "CASCADE"),
        pilot_fk("parent_id", "plan"),
        UniqueConstraint("assessment_id", "version_no", "pilot_id",
                         name="uq_plan_assessment_version"),
        in_vocab("status", ASSESSMENT_STATUSES),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          default=pilot_from(("assessment_id", "assessment")))
    assessment_id: Mapped[int]
    version_no: Mapped[int] = mapped_column(default=1)
    parent_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(20), default="draft")
    starts_on: Mapped[dt.date | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[dt.datetime | None]
    approved_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    # A coordinator's recorded decision that this version may be approved while its
    # assessment is still in review (issue 16); without it the approval waits.
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    override_at: Mapped[dt.datetime | None]

    actions: Mapped[list[Action]] = relationship(
        order_by="Action.id", cascade="all, delete-orphan", passive_deletes=True
    )
    kpis: Mapped[list[KPI]] = relationship(
        order_by="KPI.id", cascade="all, delete-orphan", passive_deletes=True
    )
    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}


action_factor = pilot_association(
    "action_factor", ("action_id", "action"), ("factor_id", "safety_factor"))


class Action(PilotOwned, Timestamped, Base):
    __tablename__ = "action"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("plan_id", "plan", "CASCADE"),
        in_vocab("category", PLAN_CATEGORIES),
        in_vocab("domain", FRAMEWORK_DOMAINS),
        in_vocab("status", ACTION_STATUSES),
        Index("ix_action_plan", "plan_id"),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          default=pilot_from(("plan_id", "plan")))
    plan_id: Mapped[int]
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(60))
    domain: Mapped[str] = mapped_column(String(20), default="target")
    context_name: Mapped[str | None] = mapped_column(String(200))
    owner_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    lead: Mapped[str] = mapped_column(String(200), default="")
    due_on: Mapped[dt.date | None]
    status: Mapped[str] = mapped_column(String(20), default="planned")
    progress_notes: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}


class PlanGapReason(PilotOwned, Base):
    """Why a weighty factor or the weightiest context has no action (else it is a gap)."""

    __tablename__ = "plan_gap_reason"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("plan_id", "plan", "CASCADE"),
        pilot_fk("factor_id", "safety_factor", "CASCADE"),
        CheckConstraint("(factor_id IS NULL) <> (context_name IS NULL)", name="one_subject"),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          default=pilot_from(("plan_id", "plan")))
    plan_id: Mapped[int]
    factor_id: Mapped[int | None]
    context_name: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)


class KPI(PilotOwned, Timestamped, Base):
    __tablename__ = "kpi"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("plan_id", "plan", "CASCADE"),
        in_vocab("kind", KPI_KINDS),
        in_vocab("direction", ("increase", "decrease")),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          default=pilot_from(("plan_id", "plan")))
    plan_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(50), default="")
    baseline: Mapped[float | None]
    target: Mapped[float | None]
    direction: Mapped[str] = mapped_column(String(10), default="decrease")
    version: Mapped[int] = mapped_column(default=1)

    measurements: Mapped[list[KPIMeasurement]] = relationship(
        order_by="KPIMeasurement.period_start", cascade="all, delete-orphan",
        passive_deletes=True,
    )
    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}


class KPIMeasurement(PilotOwned, Base):
    __tablename__ = "kpi_measurement"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("kpi_id", "kpi", "CASCADE"),
        CheckConstraint("period_end >= period_start", name="period_order"),
        UniqueConstraint("kpi_id", "period_start", "pilot_id", name="uq_kpi_measurement_period"),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          default=pilot_from(("kpi_id", "kpi")))
    kpi_id: Mapped[int]
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date]
    value: Mapped[float]
    source: Mapped[str] = mapped_column(String(200), default="")
    computed: Mapped[bool] = mapped_column(default=False)


class Review(PilotOwned, Base):
    """A partner's comment or decision on an assessment or plan version (or one item of it)."""

    __tablename__ = "review"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("assessment_id", "assessment", "CASCADE"),
        pilot_fk("plan_id", "plan", "CASCADE"),
        pilot_fk("factor_id", "safety_factor"),
        pilot_fk("action_id", "action"),
        in_vocab("decision", REVIEW_DECISIONS),
        CheckConstraint("(assessment_id IS NULL) <> (plan_id IS NULL)", name="one_subject"),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(
        ForeignKey("pilot.id", ondelete="CASCADE"),
        default=pilot_from(("assessment_id", "assessment"), ("plan_id", "plan")))
    assessment_id: Mapped[int | None]
    plan_id: Mapped[int | None]
    factor_id: Mapped[int | None]
    action_id: Mapped[int | None]
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    comment: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(String(20), default="comment")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReviewRequest(PilotOwned, Base):
    """A version was submitted to a named reviewer or to any reviewer of an agency."""

    __tablename__ = "review_request"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("assessment_id", "assessment", "CASCADE"),
        pilot_fk("plan_id", "plan", "CASCADE"),
        CheckConstraint("(assessment_id IS NULL) <> (plan_id IS NULL)", name="one_subject"),
        CheckConstraint("(reviewer_id IS NULL) <> (agency_id IS NULL)", name="one_reviewer"),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(
        ForeignKey("pilot.id", ondelete="CASCADE"),
        default=pilot_from(("assessment_id", "assessment"), ("plan_id", "plan")))
    assessment_id: Mapped[int | None]
    plan_id: Mapped[int | None]
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InboxState(Base):
    """One user's state of one inbox item (issue 16): read, and emailed.

    Inbox items are computed from the workflow (requests, reviews, actions, review
    points); this row only remembers what the user has read and what was emailed.
    ``item_key`` names the item, e.g. ``review:assessment:12`` or ``changes:34``.
    """

    __tablename__ = "inbox_state"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         primary_key=True)
    item_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    read_at: Mapped[dt.datetime | None]
    mailed_at: Mapped[dt.datetime | None]
