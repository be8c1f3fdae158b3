"""Optimistic locking, one way for every versioned record.

A client says which ``version`` of a record it edited; :func:`check_version` compares it
with the record as the database now holds it and answers :class:`~locmap.errors.Conflict`
(409, with the current record) when someone saved first. A change without a version is
refused with :class:`~locmap.errors.InvalidData` (422, ``details.version``): the API
declares ``version`` required, so a missing one is a malformed request like any other
missing field (docs/decisions.md).

The check takes a row lock (``SELECT … FOR UPDATE`` on the record's version) before it
compares, so two concurrent edits of the same version are serialised: the second waits
for the first to commit, then sees the new version and gets the 409 with the current
record, instead of reaching the ``UPDATE … WHERE version = …`` that ``version_id_col``
guards and failing there with ``StaleDataError``. That error remains the last line of
defence (a write that skipped this check); the web layer maps it to 409 as well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from locmap.errors import Conflict, InvalidData, NotFound

__all__ = ["check_version", "STALE_MESSAGE"]

STALE_MESSAGE = ("This {kind} was changed by someone else since you opened it (you edited "
                 "version {given}, it is now version {current}). Review their change, then "
                 "apply yours again.")


def _lock_current_version(session: Session, record: Any) -> int | None:
    mapper = inspect(record).mapper
    version_col = mapper.version_id_col
    if version_col is None:
        raise TypeError(f"{type(record).__name__} has no version_id_col")
    ident = mapper.primary_key_from_instance(record)
    stmt = select(version_col).where(
        *[col == value for col, value in zip(mapper.primary_key, ident, strict=True)]
    ).with_for_update()
    value = session.scalar(stmt)
    return None if value is None else int(value)


def check_version(
    session: Session, kind: str, record: Any, given: Any,
    current: Callable[[Any], dict[str, Any]] | None = None,
    audit_read: Callable[[], None] | None = None,
) -> None:
    """Lock ``record``'s row and refuse the change unless ``given`` is its version.

    Parameters
    ----------
    session : Session
        The request's session; the row lock lasts until it commits or rolls back.
    kind : str
        What the record is, in the user's words ("place", "site visit").
    record : mapped object
        A loaded record whose model declares ``version_id_col``. Call this before
        changing any of its attributes: a stale record is refreshed from the database.
    given : int or None
        The version the client edited.
    current : callable, optional
        Turns the (refreshed) record into the dict the client receives as
        ``details.current`` with the 409.
    audit_read : callable, optional
        Records the 409's copy of the record as a read (personal data or restricted free
        text in ``current``); it is an access event, so the 409's rollback keeps it.

    Raises
    ------
    InvalidData
        ``given`` is missing or not a whole number (422).
    Conflict
        Someone saved first (409); ``details`` has ``current_version`` and, with
        ``current``, the record as it now is.
    NotFound
        The record was deleted meanwhile.
    """
    if given is None or isinstance(given, bool) or not isinstance(given, int):
        raise InvalidData(f"version is required to change a {kind} (optimistic locking): "
                          "send the version you edited.", details={"version": ["Required."]})
    now = _lock_current_version(session, record)
    if now is None:
        raise NotFound(f"No such {kind}.")
    if now != record.version:
        session.refresh(record)  # someone committed since we loaded it
    if given != record.version:
        details: dict[str, Any] = {"current_version": record.version}
        if current is not None:
            details["current"] = current(record)
            if audit_read is not None:
                audit_read()
        raise Conflict(STALE_MESSAGE.format(kind=kind, given=given, current=record.version),
                       details=details)
