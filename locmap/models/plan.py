"""Assessments, context weighting, plans, actions, KPIs and partner reviews.

Versions are rows: a submitted version is never edited; editing makes a new draft whose
``parent_id`` points at the version it came from.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from locmap.models.base import Base, Timestamped, in_vocab, utcnow
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


class Assessment(Timestamped, Base):
    __tablename__ = "assessment"
    __table_args__ = (
        UniqueConstraint("place_id", "version_no", name="uq_assessment_place_version"),
        in_vocab("status", ASSESSMENT_STATUSES),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    place_id: Mapped[int] = mapped_column(ForeignKey("place.id", ondelete="CASCADE"))
    version_no: Mapped[int] = mapped_column(default=1)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("assessment.id"))
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
    __mapper_args__ = {"version_id_col": version}


class ContextWeight(Base):
    """One context's share of 100 in an assessment's context weighting."""

    __tablename__ = "context_weight"
    __table_args__ = (
        CheckConstraint("share BETWEEN 0 AND 100", name="share_range"),
        UniqueConstraint("assessment_id", "name", name="uq_context_weight_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    share: Mapped[int]
    reason: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(default=0)


class ContextLink(Base):
    __tablename__ = "context_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id", ondelete="CASCADE"))
    context_a: Mapped[str] = mapped_column(String(200))
    context_b: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(String(300), default="")


class Plan(Timestamped, Base):
    __tablename__ = "plan"
    __table_args__ = (
        UniqueConstraint("assessment_id", "version_no", name="uq_plan_assessment_version"),
        in_vocab("status", ASSESSMENT_STATUSES),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id", ondelete="CASCADE"))
    version_no: Mapped[int] = mapped_column(default=1)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("plan.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    starts_on: Mapped[dt.date | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[dt.datetime | None]
    approved_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    actions: Mapped[list[Action]] = relationship(
        order_by="Action.id", cascade="all, delete-orphan", passive_deletes=True
    )
    kpis: Mapped[list[KPI]] = relationship(
        order_by="KPI.id", cascade="all, delete-orphan", passive_deletes=True
    )
    __mapper_args__ = {"version_id_col": version}


action_factor = Table(
    "action_factor", Base.metadata,
    Column("action_id", ForeignKey("action.id", ondelete="CASCADE"), primary_key=True),
    Column("factor_id", ForeignKey("safety_factor.id", ondelete="CASCADE"), primary_key=True),
)


class Action(Timestamped, Base):
    __tablename__ = "action"
    __table_args__ = (
        in_vocab("category", PLAN_CATEGORIES),
        in_vocab("domain", FRAMEWORK_DOMAINS),
        in_vocab("status", ACTION_STATUSES),
        Index("ix_action_plan", "plan_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
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

    __mapper_args__ = {"version_id_col": version}


class PlanGapReason(Base):
    """Why a weighty factor or the weightiest context has no action (else it is a gap)."""

    __tablename__ = "plan_gap_reason"
    __table_args__ = (
        CheckConstraint("(factor_id IS NULL) <> (context_name IS NULL)", name="one_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    factor_id: Mapped[int | None] = mapped_column(
        ForeignKey("safety_factor.id", ondelete="CASCADE")
    )
    context_name: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)


class KPI(Timestamped, Base):
    __tablename__ = "kpi"
    __table_args__ = (
        in_vocab("kind", KPI_KINDS),
        in_vocab("direction", ("increase", "decrease")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
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
    __mapper_args__ = {"version_id_col": version}


class KPIMeasurement(Base):
    __tablename__ = "kpi_measurement"
    __table_args__ = (
        CheckConstraint("period_end >= period_start", name="period_order"),
        UniqueConstraint("kpi_id", "period_start", name="uq_kpi_measurement_period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kpi_id: Mapped[int] = mapped_column(ForeignKey("kpi.id", ondelete="CASCADE"))
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date]
    value: Mapped[float]
    source: Mapped[str] = mapped_column(String(200), default="")
    computed: Mapped[bool] = mapped_column(default=False)


class Review(Base):
    """A partner's comment or decision on an assessment or plan version (or one item of it)."""

    __tablename__ = "review"
    __table_args__ = (
        in_vocab("decision", REVIEW_DECISIONS),
        CheckConstraint("(assessment_id IS NULL) <> (plan_id IS NULL)", name="one_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE")
    )
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    factor_id: Mapped[int | None] = mapped_column(ForeignKey("safety_factor.id"))
    action_id: Mapped[int | None] = mapped_column(ForeignKey("action.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    comment: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(String(20), default="comment")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReviewRequest(Base):
    """A version was submitted to a named reviewer or to any reviewer of an agency."""

    __tablename__ = "review_request"
    __table_args__ = (
        CheckConstraint("(assessment_id IS NULL) <> (plan_id IS NULL)", name="one_subject"),
        CheckConstraint("(reviewer_id IS NULL) <> (agency_id IS NULL)", name="one_reviewer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE")
    )
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
