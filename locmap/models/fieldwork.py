"""Field work: photos on site visits and incidents, and the requests a phone resends.

Photos live in PostgreSQL (``bytea``) like :class:`~locmap.models.upload.Upload`: every
web and worker process reads them, they go with their visit or incident in the same
transaction (``ON DELETE CASCADE``), and the backup's database dump carries them
(docs/decisions.md, "Photos in the database").
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from locmap.models.base import Base, PilotOwned, pilot_fk, pilot_key, utcnow

__all__ = ["Photo", "IdempotentRequest"]


class Photo(PilotOwned, Base):
    """A photo of a site visit or of an incident: resized, re-encoded JPEG, no metadata."""

    __tablename__ = "photo"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("observation_id", "observation", "CASCADE"),
        pilot_fk("incident_id", "incident", "CASCADE"),
        CheckConstraint("(observation_id IS NULL) <> (incident_id IS NULL)",
                        name="one_owner"),
        Index("ix_photo_observation", "observation_id"),
        Index("ix_photo_incident", "incident_id"),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    observation_id: Mapped[int | None]
    incident_id: Mapped[int | None]
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id",
                                                               ondelete="SET NULL"))
    width: Mapped[int] = mapped_column(SmallInteger)
    height: Mapped[int] = mapped_column(SmallInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())


class IdempotentRequest(Base):
    """A create request sent with an ``Idempotency-Key``: its answer, kept so that a
    resend (a phone syncing its queue after a dropped connection) gets the same answer
    instead of creating the record twice. Kept 30 days.
    """

    __tablename__ = "idempotent_request"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(SmallInteger)
    body: Mapped[Any] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now(),
                                                    index=True)
