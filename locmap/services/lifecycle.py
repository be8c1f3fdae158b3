"""The one lifecycle of a reviewed record: draft → in review → approved → superseded.

Assessments and plans share it (and so do their pages' words for each status):

* a **draft** is the only status that can change;
* **submitting** freezes the draft (``in_review``, ``submitted_at``); a parent version still
  under review is superseded by it — an *approved* parent stays in force until its
  successor is approved;
* **approving** a version (the review rule was met, :mod:`locmap.services.reviews`)
  supersedes the approved version it replaces;
* a **superseded** version is history: nothing more is recorded in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import Conflict

__all__ = ["DRAFT", "IN_REVIEW", "APPROVED", "SUPERSEDED", "STATUS_WORDS", "Versioned",
           "status_word", "assert_draft", "submit", "approve"]

DRAFT, IN_REVIEW, APPROVED, SUPERSEDED = "draft", "in_review", "approved", "superseded"
STATUS_WORDS = {DRAFT: "draft", IN_REVIEW: "in review", APPROVED: "approved",
                SUPERSEDED: "superseded"}


class Versioned(Protocol):
    """What an assessment and a plan version have in common."""

    id: Any
    version_no: Any
    status: Any
    parent_id: Any
    submitted_at: Any
    approved_at: Any


def status_word(status: str) -> str:
    """``"in_review"`` → "in review"."""
    return STATUS_WORDS.get(status, status.replace("_", " "))


def assert_draft(record: Versioned, noun: str = "Version") -> None:
    """Raise :class:`Conflict` unless ``record`` is a draft (the only status that changes)."""
    if record.status != DRAFT:
        raise Conflict(f"{noun} {record.version_no} is {status_word(record.status)} and can "
                       "no longer be changed. Start a new version to make changes.",
                       details={"status": record.status})


def submit(session: Session, record: Versioned, model: type[Any], noun: str = "Version") -> None:
    """Freeze the draft ``record`` for review; a parent still under review is superseded."""
    if record.status != DRAFT:
        raise Conflict(f"{noun} {record.version_no} is already {status_word(record.status)}.",
                       details={"status": record.status})
    record.status = IN_REVIEW
    record.submitted_at = clock.now()
    if record.parent_id is not None:
        parent = session.get(model, record.parent_id)
        if parent is not None and parent.status == IN_REVIEW:
            parent.status = SUPERSEDED
    session.flush()


def approve(session: Session, record: Versioned, in_force: Iterable[Versioned]) -> None:
    """Approve ``record``; the approved versions it replaces (``in_force``) are superseded."""
    for other in in_force:
        if other is not record and other.status == APPROVED:
            other.status = SUPERSEDED
    record.status = APPROVED
    record.approved_at = clock.now()
    session.flush()
