"""How long a pilot keeps each kind of personal and case data (UK GDPR storage limitation).

One row holds the partnership's default (``pilot_id`` NULL, at most one), and a pilot may
have its own row; for each kind of data a pilot's value, when set, replaces the default.
A month count of NULL in both means "kept": nothing is erased until someone decides a
period. The kinds, what erasing each one does and from when its months count are
:data:`locmap.services.retention.KINDS`.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from locmap.models.base import Base, Timestamped

__all__ = ["RetentionRule", "RETENTION_COLUMNS"]

# One column per kind of data (months; NULL: the default's, or kept).
RETENTION_COLUMNS = ("identity_months", "person_months", "incident_text_months",
                     "incident_months", "visit_text_months", "engagement_text_months")


class RetentionRule(Timestamped, Base):
    __tablename__ = "retention_rule"
    __table_args__ = (
        *(CheckConstraint(f"{c} IS NULL OR {c} BETWEEN 0 AND 600", name=f"{c}_range")
          for c in RETENTION_COLUMNS),
        Index("uq_retention_rule_default", text("(pilot_id IS NULL)"), unique=True,
              postgresql_where=text("pilot_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pilot_id: Mapped[int | None] = mapped_column(
        ForeignKey("pilot.id", ondelete="CASCADE"), unique=True)
    identity_months: Mapped[int | None]
    person_months: Mapped[int | None]
    incident_text_months: Mapped[int | None]
    incident_months: Mapped[int | None]
    visit_text_months: Mapped[int | None]
    engagement_text_months: Mapped[int | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
