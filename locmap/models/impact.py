"""Decisions on displacement flags: "possible displacement: <place> → <place>".

Flags themselves are computed live from incidents (see :mod:`locmap.services.displacement`);
a row is written only when someone confirms or dismisses one, with their reason. A
confirmed flag links the two places' latest assessments, so each assessment can point at
the other context the harm moved between. The evidence snapshot holds the figures seen at
decision time (WDQ, level changes, the *number* of people whose presence moved) and never
pseudonyms: erasing a person must not leave them behind in a snapshot.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from locmap.models.base import Base, PilotOwned, Timestamped, in_vocab, pilot_fk, pilot_key, utcnow
from locmap.vocab import FLAG_STATUSES

__all__ = ["DisplacementFlag"]



class DisplacementFlag(PilotOwned, Timestamped, Base):
    __tablename__ = "displacement_flag"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("source_place_id", "place", "CASCADE"),
        pilot_fk("dest_place_id", "place", "CASCADE"),
        pilot_fk("dest_feature_id", "feature", "CASCADE"),
        pilot_fk("source_assessment_id", "assessment", "SET NULL"),
        pilot_fk("dest_assessment_id", "assessment", "SET NULL"),
        in_vocab("status", FLAG_STATUSES),
        CheckConstraint("(dest_place_id IS NULL) <> (dest_feature_id IS NULL)",
                        name="one_destination"),
        Index("ix_displacement_flag_pilot", "pilot_id"),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    source_place_id: Mapped[int]
    dest_place_id: Mapped[int | None]
    dest_feature_id: Mapped[int | None]
    intervention_month: Mapped[dt.date]  # first day of the month
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    source_assessment_id: Mapped[int | None]
    dest_assessment_id: Mapped[int | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}
