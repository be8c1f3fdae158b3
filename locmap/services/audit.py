"""Appending to the audit trail: every write, and every read of personal data."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from locmap.models import AuditEvent
from locmap.services.permissions import Actor

__all__ = ["record"]


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    entity: str,
    entity_id: object = None,
    *,
    pilot_id: int | None = None,
    personal_data: bool = False,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an audit event to the session's transaction (it commits or rolls back with it)."""
    session.add(
        AuditEvent(
            user_id=actor.user_id if actor else None,
            user_email=actor.email if actor else None,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            pilot_id=pilot_id,
            personal_data=personal_data,
            detail=detail or {},
            remote_addr=actor.remote_addr if actor else None,
        )
    )
