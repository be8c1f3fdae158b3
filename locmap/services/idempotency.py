"""Idempotency keys on create requests (issue 18): a resend never creates twice.

A phone that records offline sends its queue when it is back online; a connection that
drops after the server saved but before the answer arrived makes it send again. A create
request may carry an ``Idempotency-Key`` header (any unique text the client chose, at most
100 characters): the first answer to a successful request is kept with the key, per user,
and a request with the same key gets that answer again (``Idempotent-Replayed: true``)
without running twice. The same key on another route is refused (422). Two requests with
one key at the same time: the second waits for the first, then answers 409 and the client
resends, which then gets the replay. Keys are kept :data:`KEEP_DAYS` days.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import Conflict, InvalidData
from locmap.models import IdempotentRequest

__all__ = ["KEEP_DAYS", "check_key", "replay", "remember", "purge"]

KEEP_DAYS = 30
MAX_KEY = 100


def check_key(key: str) -> str:
    key = key.strip()
    if not 0 < len(key) <= MAX_KEY or not key.isprintable():
        raise InvalidData(f"Idempotency-Key: printable text of 1 to {MAX_KEY} characters.")
    return key


def replay(session: Session, user_id: int, key: str, method: str, path: str
           ) -> tuple[int, Any] | None:
    """The kept answer to this key, or None when the key is new."""
    row = session.scalar(select(IdempotentRequest).where(
        IdempotentRequest.user_id == user_id, IdempotentRequest.key == key))
    if row is None:
        return None
    if (row.method, row.path) != (method, path):
        raise InvalidData("This Idempotency-Key was used for another request; "
                          "send a new key.")
    return row.status, row.body


def remember(session: Session, user_id: int, key: str, method: str, path: str,
             status: int, body: Any) -> None:
    """Keep the answer in the request's transaction (so it is kept if the write is)."""
    done = session.execute(
        insert(IdempotentRequest).values(user_id=user_id, key=key, method=method, path=path,
                                         status=status, body=body)
        .on_conflict_do_nothing().returning(IdempotentRequest.key)
    ).first()
    if done is None:
        raise Conflict("The same request (Idempotency-Key) was being saved at the same "
                       "time; send it again to read its answer.")


def purge(session: Session) -> int:
    """Forget keys older than KEEP_DAYS; returns how many."""
    cutoff = clock.now() - dt.timedelta(days=KEEP_DAYS)
    result = session.execute(delete(IdempotentRequest)
                             .where(IdempotentRequest.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
