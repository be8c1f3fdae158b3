"""Where each table lives on a Citus cluster (issue 20 (a); docs/scale.md).

Every table is one of three kinds:

- **distributed** by ``pilot_id``, co-located: a pilot's records (places, assessments,
  plans, incidents, people, meetings ...). Each carries ``pilot_id``; its primary key,
  unique constraints and foreign keys to other distributed tables include it, so one
  pilot's rows sit on one worker and a query filtered on ``pilot_id`` goes to that worker.
- **reference**: shared, small, read on every request, replicated to every worker so a
  distributed table may join them and point at them: agencies, accounts, the pilots
  themselves and who is a member of which, the base map, retention rules, partner forms.
- **coordinator**: kept on the coordinator only (a Citus local table): written on every
  request or serialised by design (the audit hash chain, sessions, the job queue), or a
  user's own and possibly spanning pilots (board packs, inbox state).

Everything not named in ``REFERENCE`` or ``COORDINATOR`` is distributed; its model is a
:class:`~locmap.models.base.PilotOwned`. A session given to :func:`scope` with a pilot (the web
request of a ``/pilots/<id>/...`` URL, an import job) adds ``pilot_id = <its pilot>`` to
every ORM query, lazy load, UPDATE and DELETE of such a model, and gives new rows that
pilot, so that Citus routes each statement to the pilot's worker.
``tests/integration/test_tenancy_schema.py`` checks the migrated schema keeps the rules;
migration 0029 (run only where the ``citus`` extension exists) applies this list as it
stood then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from locmap.models.base import PilotOwned

__all__ = ["DISTRIBUTION_COLUMN", "REFERENCE", "COORDINATOR", "IGNORED", "COLOCATE_WITH",
           "scope", "scoped", "scoped_pilot"]

DISTRIBUTION_COLUMN = "pilot_id"

# The table every distributed table is co-located with.
COLOCATE_WITH = "place"

REFERENCE = frozenset({
    # Accounts are found by e-mail or token before any pilot is known.
    "agency", "user_account",
    # The tenants and their members: every permission check reads a user's memberships
    # across pilots; a pilot has a handful of rows.
    "pilot", "membership", "pilot_approver_agency",
    # The base map is the same for every pilot.
    "basemap_build", "basemap_feature", "basemap_tile",
    # One partnership-wide default row (pilot_id NULL) and per-pilot overrides.
    "retention_rule",
    # A partner agency's form is found by its link's key alone.
    "partner_referral_form",
})

COORDINATOR = frozenset({
    # One hash chain over every event: appended under one lock, on one node.
    "audit_event",
    # Sign-in state: per user, written on every request.
    "user_session", "invitation", "idempotent_request", "inbox_state",
    # A user's pack may cover every pilot the user sees (pilot_id NULL).
    "board_pack",
    # The job queue (procrastinate): LISTEN/NOTIFY and SKIP LOCKED on one node.
    "procrastinate_jobs", "procrastinate_workers", "procrastinate_events",
    "procrastinate_periodic_defers",
})

# Not the app's tables.
IGNORED = frozenset({"alembic_version", "spatial_ref_sys"})


_SCOPE = "locmap.pilot_id"


def scope(session: Session, pilot_id: int) -> None:
    """From now on ``session`` reads and writes the rows of ``pilot_id`` only."""
    session.info[_SCOPE] = pilot_id


@contextmanager
def scoped(session: Session, pilot_id: int) -> Iterator[None]:
    """The statements inside keep to ``pilot_id``; the session's own scope comes back after
    (a loop over a user's pilots, inside a request scoped to one of them).
    """
    before = session.info.get(_SCOPE)
    session.info[_SCOPE] = pilot_id
    try:
        yield
    finally:
        if before is None:
            session.info.pop(_SCOPE, None)
        else:
            session.info[_SCOPE] = before


def scoped_pilot(session: Session) -> int | None:
    pilot_id: int | None = session.info.get(_SCOPE)
    return pilot_id


@event.listens_for(Session, "do_orm_execute")
def _pin_to_pilot(state: ORMExecuteState) -> None:
    pilot_id = scoped_pilot(state.session)
    if pilot_id is None or not (state.is_select or state.is_update or state.is_delete):
        return
    state.statement = state.statement.options(with_loader_criteria(
        PilotOwned, lambda cls: cls.pilot_id == pilot_id, include_aliases=True))


@event.listens_for(Session, "before_flush")
def _new_rows_are_the_pilots(session: Session, context: Any, instances: Any) -> None:
    pilot_id = scoped_pilot(session)
    if pilot_id is None:
        return
    for obj in session.new:
        if isinstance(obj, PilotOwned) and obj.pilot_id is None:
            obj.pilot_id = pilot_id
