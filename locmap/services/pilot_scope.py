"""Keep a session on one pilot's rows (issue 20 (a); locmap.models.tenancy).

The web layer scopes each request of a ``/pilots/<id>/...`` URL to that pilot, and an
import job to its import's pilot: every ORM statement of a table distributed by pilot then
names the pilot, which is what lets Citus send it to one worker.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from locmap.models import tenancy

__all__ = ["scope_session", "scoped"]

# For a loop over a user's pilots (the inbox, what is waiting): each pilot's statements
# keep to it, whatever the request's own pilot.
scoped = tenancy.scoped


def scope_session(session: Session, pilot_id: int) -> None:
    tenancy.scope(session, pilot_id)
