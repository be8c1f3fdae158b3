"""The audit trail and the record of every data import.

``audit_event`` is append-only: a trigger in the migration refuses UPDATE and DELETE, so
the trail cannot be edited from the application or by a careless SQL session. Each event
carries a hash chained to the one before it (migration 0009), so an edit by someone who
can lift the trigger is still detected (``locmap audit verify``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    FetchedValue,
    ForeignKey,
    Index,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from locmap.models.base import Base, PilotOwned, in_vocab, pilot_key, utcnow

__all__ = ["AuditEvent", "DataImport"]


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_at", "at"),
        Index("ix_audit_event_entity", "entity", "entity_id"),
        Index("ix_audit_event_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(server_default=func.clock_timestamp())
    # No foreign key: the trail must outlive the accounts and records it speaks of.
    user_id: Mapped[int | None]
    user_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    pilot_id: Mapped[int | None]
    personal_data: Mapped[bool] = mapped_column(default=False)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    remote_addr: Mapped[str | None] = mapped_column(INET)
    # Tamper evidence (migration 0009): set by the BEFORE INSERT trigger, never by the app.
    prev_hash: Mapped[str] = mapped_column(String(64), server_default=FetchedValue())
    hash: Mapped[str] = mapped_column(String(64), server_default=FetchedValue())


class DataImport(PilotOwned, Base):
    __tablename__ = "data_import"
    __table_args__ = (
        pilot_key("id"),
        in_vocab("status", ("pending", "running", "done", "failed", "cancelled")),
        CheckConstraint(
            "rows_read >= 0 AND rows_accepted >= 0 AND rows_rejected >= 0", name="counts"
        ),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_accepted: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    report: Mapped[list[Any]] = mapped_column(JSONB, default=list)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())
    finished_at: Mapped[dt.datetime | None]
