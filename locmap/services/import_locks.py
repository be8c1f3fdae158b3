"""The advisory locks and checks that tell a live import from one whose process died.

Namespace "loc1" keys a running import by its id (held by the job for its whole run, see
:func:`locmap.services.import_jobs.run_import_job`); namespace "loc2" keys a pilot, so
imports into one pilot take turns (:func:`locmap.services.imports.run_import`).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["IMPORT_LOCK_NS", "PILOT_IMPORT_LOCK_NS", "IMPORT_QUEUE", "INTERRUPTED_AFTER_S",
           "INTERRUPTED_MESSAGE", "hold_import_lock", "fail_interrupted"]

PILOT_IMPORT_LOCK_NS = 0x6C6F6332  # "loc2": the second key is the pilot's id
# Advisory-lock namespace of running imports (the second key is the import's id).
IMPORT_LOCK_NS = 0x6C6F6331  # "loc1"
# The procrastinate queue that web imports wait in (see locmap.jobs).
IMPORT_QUEUE = "imports"
# A queued import with no job to run it (the enqueue failed) is given this long.
INTERRUPTED_AFTER_S = 60
INTERRUPTED_MESSAGE = ("Interrupted: the server stopped while this import ran. Nothing was "
                       "imported (an import is written all at once or not at all); upload the "
                       "file again.")


def hold_import_lock(session: Session, import_id: int) -> None:
    """Hold the running import's lock until the session's transaction ends.

    The worker (:func:`locmap.services.import_jobs.run_import_job`) holds the same key at
    session level for the whole job, from before it commits ``running`` until after it
    commits ``done`` or ``failed``. If the process dies, PostgreSQL drops its connections
    and releases the lock, which is how :func:`fail_interrupted` tells a dead job from a
    live one, whichever process or machine runs it.
    """
    session.execute(text("SELECT pg_advisory_xact_lock(:ns, :id)"),
                    {"ns": IMPORT_LOCK_NS, "id": import_id})


def fail_interrupted(session: Session, pilot_id: int | None = None) -> int:
    """Mark imports whose job is gone as failed (one pilot's, or everyone's for None).

    Gone means: ``running`` while nobody holds its lock (see :func:`hold_import_lock`), or
    ``pending`` for a minute with no queued or running job to pick it up. An import waiting
    in the queue behind others stays ``pending``. Returns how many were marked.
    """
    return session.connection().execute(text(
        "UPDATE data_import d SET status = 'failed', message = :message, finished_at = now() "
        "WHERE (CAST(:pilot_id AS int) IS NULL OR d.pilot_id = :pilot_id) AND ("
        " (d.status = 'running' AND pg_try_advisory_xact_lock(:ns, d.id)) OR"
        " (d.status = 'pending' AND d.started_at < now() - make_interval(secs => :after)"
        "  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.queue_name = :queue"
        "   AND j.status IN ('todo', 'doing') AND j.args->>'import_id' = d.id::text)"
        "  AND pg_try_advisory_xact_lock(:ns, d.id)))"),
        {"message": INTERRUPTED_MESSAGE, "pilot_id": pilot_id, "after": INTERRUPTED_AFTER_S,
         "ns": IMPORT_LOCK_NS, "queue": IMPORT_QUEUE}).rowcount or 0
