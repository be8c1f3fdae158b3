"""People in a pilot's peer network, kept apart from their identities.

``Person`` carries only a pseudonym; ``Identity`` (name, date of birth, case reference) is
a separate table that only the owning pilot's practitioners and peer assessors read,
every read audited.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from locmap.models.base import (
    Base,
    PilotOwned,
    Timestamped,
    in_vocab,
    pilot_fk,
    pilot_from,
    pilot_key,
)
from locmap.vocab import (
    AGE_BANDS,
    CASE_STATUSES,
    EXPLOITATION_CATEGORIES,
    PERSON_KINDS,
    RELATIONSHIP_TYPES,
    VALENCES,
)

__all__ = ["Person", "Identity", "Relationship", "Presence", "PseudonymCounter"]


class Person(PilotOwned, Timestamped, Base):
    __tablename__ = "person"
    __table_args__ = (
        pilot_key("id"),
        UniqueConstraint("pilot_id", "pseudonym", name="uq_person_pilot_pseudonym"),
        in_vocab("kind", PERSON_KINDS),
        in_vocab("age_band", AGE_BANDS),
        in_vocab("exploitation_category", EXPLOITATION_CATEGORIES),
        in_vocab("case_status", CASE_STATUSES),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    pseudonym: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    age_band: Mapped[str] = mapped_column(String(10), default="unknown")
    version: Mapped[int] = mapped_column(default=1)
    # Case fields of a young person (NULL for adults and when not recorded): counted,
    # never listed, on the partnership dashboard.
    exploitation_category: Mapped[str | None] = mapped_column(String(20))
    case_status: Mapped[str | None] = mapped_column(String(20))
    last_risk_assessment_on: Mapped[dt.date | None]

    identity: Mapped[Identity | None] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True
    )
    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}


class PseudonymCounter(PilotOwned, Base):
    """The highest pseudonym number ever issued per pilot and prefix (``YP`` → 40).

    Kept by a trigger on ``person`` (migration 0006) for every insert, whoever makes it,
    and never lowered: after YP-040 is erased the next young person is YP-041, so a
    pseudonym in an old minute or export never comes to mean someone else.
    """

    __tablename__ = "pseudonym_counter"

    pilot_id: Mapped[int] = mapped_column(
        ForeignKey("pilot.id", ondelete="CASCADE"), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_number: Mapped[int]


class Identity(PilotOwned, Timestamped, Base):
    __tablename__ = "identity"
    __table_args__ = (
        pilot_key("person_id"),
        pilot_fk("person_id", "person", "CASCADE"),
    )
    __mapper_args__ = {"primary_key": ["person_id"]}

    person_id: Mapped[int]
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          default=pilot_from(("person_id", "person")))
    name: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[dt.date | None]
    case_reference: Mapped[str] = mapped_column(String(100), default="")

    person: Mapped[Person] = relationship(back_populates="identity")


class Relationship(PilotOwned, Timestamped, Base):
    __tablename__ = "relationship"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("person_a_id", "person", "CASCADE"),
        pilot_fk("person_b_id", "person", "CASCADE"),
        CheckConstraint("person_a_id <> person_b_id", name="not_self"),
        CheckConstraint("strength BETWEEN 1 AND 3", name="strength_range"),
        CheckConstraint("until IS NULL OR since IS NULL OR until >= since", name="dates_order"),
        in_vocab("type", RELATIONSHIP_TYPES),
        in_vocab("valence", VALENCES),
        Index("ix_relationship_pilot", "pilot_id"),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    person_a_id: Mapped[int]
    person_b_id: Mapped[int]
    type: Mapped[str] = mapped_column(String(20))
    valence: Mapped[str] = mapped_column(String(12), default="neutral")
    strength: Mapped[int] = mapped_column(default=2)
    source: Mapped[str] = mapped_column(String(100), default="")
    since: Mapped[dt.date | None]
    until: Mapped[dt.date | None]
    version: Mapped[int] = mapped_column(default=1)

    # Both read pilot_id with their person's id (the lookup stays on the pilot's worker).
    person_a: Mapped[Person] = relationship(
        foreign_keys="[Relationship.person_a_id, Relationship.pilot_id]", overlaps="person_b")
    person_b: Mapped[Person] = relationship(
        foreign_keys="[Relationship.person_b_id, Relationship.pilot_id]", overlaps="person_a")
    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}


class Presence(PilotOwned, Timestamped, Base):
    """A person spends time at a place: how often, when, since when."""

    __tablename__ = "presence"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("person_id", "person", "CASCADE"),
        pilot_fk("place_id", "place", "CASCADE"),
        in_vocab("frequency", ("daily", "weekly", "monthly", "occasional")),
        CheckConstraint("until IS NULL OR since IS NULL OR until >= since", name="dates_order"),
        Index("ix_presence_place", "place_id"),
        Index("ix_presence_person", "person_id"),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          default=pilot_from(("person_id", "person")))
    person_id: Mapped[int]
    place_id: Mapped[int]
    frequency: Mapped[str] = mapped_column(String(12), default="weekly")
    times: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(100), default="")
    since: Mapped[dt.date | None]
    until: Mapped[dt.date | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}
