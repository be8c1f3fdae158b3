"""Contexts other than neighbourhood places (issue 19): peer groups, schools, online spaces.

Each is a :class:`~locmap.models.place.Place` of its kind (``peer_group`` and ``online``
have no map location), so assessments, plans, reviews, KPIs and PDFs work for it as for
any place. ``context_profile`` holds what identifies the context beyond its name: a peer
group's members (pseudonyms of the pilot's network) and the places they share, taken from
a network group when it was seeded; an online space's platform, channel, moderation
contact and reporting route. ``context_answer`` holds one assessment version's context
section: the peer-group prompts' answers or the school's areas rated red/amber/green.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from locmap.assessment.context_kinds import ASSESSED_KINDS
from locmap.models.base import (
    Base,
    PilotOwned,
    Timestamped,
    in_vocab,
    pilot_fk,
    pilot_from,
    pilot_key,
)

__all__ = ["ContextProfile", "ContextAnswer"]


class ContextProfile(PilotOwned, Timestamped, Base):
    __tablename__ = "context_profile"
    __table_args__ = (
        pilot_key("place_id"),
        pilot_fk("place_id", "place", "CASCADE"),
        in_vocab("kind", ASSESSED_KINDS),
    )

    place_id: Mapped[int]
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    # The network group it was seeded from ("Group A") and the date of that analysis.
    source_group: Mapped[str] = mapped_column(String(60), default="")
    member_ids: Mapped[list[int]] = mapped_column(JSONB, default=list)
    shared_place_ids: Mapped[list[int]] = mapped_column(JSONB, default=list)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"primary_key": ["place_id"], "version_id_col": version}


class ContextAnswer(PilotOwned, Base):
    """One assessment version's context section (its edits bump the assessment's version)."""

    __tablename__ = "context_answer"
    __table_args__ = (
        pilot_key("assessment_id"),
        pilot_fk("assessment_id", "assessment", "CASCADE"),
        in_vocab("kind", ASSESSED_KINDS),
    )
    __mapper_args__ = {"primary_key": ["assessment_id"]}

    assessment_id: Mapped[int]
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          default=pilot_from(("assessment_id", "assessment")))
    kind: Mapped[str] = mapped_column(String(20))
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
