"""Imports queued for ``locmap worker``: a real worker process runs them; a worker killed
with SIGKILL mid-import leaves nothing half-written, and the next worker to start marks
the import failed and frees its place in the queue."""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from locmap.db import Database, upgrade
from locmap.models import DataImport, Incident, Upload
from locmap.pgserver import drop_database
from locmap.services import accounts, import_jobs
from locmap.services.imports import INTERRUPTED_MESSAGE
from tests.conftest import _fresh_database
from tests.factories import make_pilot, make_user
from tests.integration.test_import_killed import big_csv  # noqa: F401 - fixture
from tests.integration.test_import_police import rows_month, write_csv


@pytest.fixture(scope="module")
def queue_db() -> Iterator[Database]:
    """A committed database of its own: a worker process cannot see a test's transaction."""
    url = _fresh_database("queue")
    upgrade(url)
    db = Database(url)
    yield db
    db.dispose()
    drop_database(url)


@pytest.fixture
def pilot_and_user(queue_db: Database) -> tuple[int, int]:
    return new_pilot_and_user(queue_db)


def new_pilot_and_user(queue_db: Database) -> tuple[int, int]:
    """A pilot and a practitioner of it, committed."""
    with queue_db.session() as s:
        n = s.scalar(text("SELECT count(*) FROM pilot"))
        pilot = make_pilot(s, f"Queue Pilot {n}")
        user = make_user(s, f"practitioner{n}@queue.invalid")
        accounts.add_membership(s, None, user, pilot, "practitioner")
        s.flush()
        return pilot.id, user.id


def queue_upload(db: Database, pilot_id: int, user_id: int, name: str, data: bytes) -> int:
    """Upload and confirm as the web does, then queue the job; returns the import's id."""
    from locmap.models import User

    with db.session() as s:
        who = accounts.actor_for(s, s.get_one(User, user_id))
        token = import_jobs.store_upload(s, who, pilot_id, name, io.BytesIO(data))
        import_id = import_jobs.confirm_upload(s, who, pilot_id, token, {})
    import_jobs.submit_import(db, import_id)
    return import_id


# The timeouts below are what a quiet machine needs; the suite runs one process per core
# beside the workers these tests start, so a busy machine gets three times as long (a
# timeout only bounds a failure: a passing test never waits for it).
SLACK = 3


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout * SLACK
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def status_of(db: Database, import_id: int) -> str:
    with Session(db.engine) as s:
        return s.get_one(DataImport, import_id).status


def incidents_of(db: Database, pilot_id: int) -> int:
    with Session(db.engine) as s:
        return s.scalar(select(func.count()).select_from(Incident)
                        .where(Incident.pilot_id == pilot_id)) or 0


def test_worker_runs_a_queued_import(
    queue_db: Database, pilot_and_user: tuple[int, int], start_worker: Any, tmp_path: Path,
) -> None:
    pilot_id, user_id = pilot_and_user
    data = write_csv(tmp_path / "m.csv", rows_month()).read_bytes()
    import_id = queue_upload(queue_db, pilot_id, user_id, "2025-03-street.csv", data)
    time.sleep(1)
    assert status_of(queue_db, import_id) == "pending"  # nobody runs it without a worker
    start_worker(queue_db.url, "--concurrency", "1")
    wait_for(lambda: status_of(queue_db, import_id) == "done", 60, "the import to finish")
    assert incidents_of(queue_db, pilot_id) == 7

    def job_status() -> str:
        with Session(queue_db.engine) as s:
            return str(s.scalar(text("SELECT status FROM procrastinate_jobs "
                                     "WHERE args->>'import_id' = :id"), {"id": str(import_id)}))

    # The import commits "done" inside the job; the queue records the job's end just after.
    wait_for(lambda: job_status() == "succeeded", 30, "the queue to record the job's end")
    with Session(queue_db.engine) as s:
        assert s.scalar(select(func.count()).select_from(Upload)
                        .where(Upload.data_import_id == import_id)) == 0


@pytest.mark.slow
def test_killed_worker_leaves_nothing_and_the_next_one_fails_the_import(
    queue_db: Database, pilot_and_user: tuple[int, int], start_worker: Any,
    big_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    # One import at a time: the dead job's queue lock would block the next import if it
    # were not settled.
    monkeypatch.setenv("LOCMAP_MAX_IMPORTS", "1")
    pilot_id, user_id = pilot_and_user
    import_id = queue_upload(queue_db, pilot_id, user_id, big_csv.name, big_csv.read_bytes())
    worker = start_worker(queue_db.url, LOCMAP_MAX_IMPORTS="1")

    def copying() -> bool:
        with queue_db.engine.connect() as conn:
            return bool(conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'active' AND query ILIKE 'COPY%'")))

    wait_for(copying, 60, "the worker to start copying rows")
    time.sleep(0.5)
    assert worker.poll() is None, "the import finished before it could be killed"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    wait_for(lambda: not copying(), 10, "PostgreSQL to end the dead worker's COPY")
    assert incidents_of(queue_db, pilot_id) == 0
    assert status_of(queue_db, import_id) == "running"  # until someone notices

    start_worker(queue_db.url, LOCMAP_MAX_IMPORTS="1")
    wait_for(lambda: status_of(queue_db, import_id) == "failed", 30,
             "the new worker to mark the import failed")
    with Session(queue_db.engine) as s:
        assert s.get_one(DataImport, import_id).message == INTERRUPTED_MESSAGE
        assert s.scalar(text("SELECT status FROM procrastinate_jobs WHERE "
                             "args->>'import_id' = :id"), {"id": str(import_id)}) == "failed"
    assert incidents_of(queue_db, pilot_id) == 0
    # The queue goes on: the next import runs on the restarted worker.
    data = write_csv(tmp_path / "m.csv", rows_month()).read_bytes()
    after = queue_upload(queue_db, pilot_id, user_id, "2025-03-street.csv", data)
    wait_for(lambda: status_of(queue_db, after) == "done", 60, "the next import")
    assert incidents_of(queue_db, pilot_id) == 7


def test_recover_requeues_a_job_a_dead_worker_never_began(
    queue_db: Database, pilot_and_user: tuple[int, int], tmp_path: Path,
) -> None:
    from locmap.jobs import recover

    pilot_id, user_id = pilot_and_user
    data = write_csv(tmp_path / "m.csv", rows_month()).read_bytes()
    never_begun = queue_upload(queue_db, pilot_id, user_id, "a.csv", data)
    read_as_dead = queue_upload(queue_db, pilot_id, user_id, "b.csv", data)
    with queue_db.session() as s:
        # A worker fetched both jobs, then went silent a minute ago; the second import had
        # begun (running) when it died.
        stale = s.scalar(text("INSERT INTO procrastinate_workers (last_heartbeat) VALUES "
                              "(now() - interval '1 minute') RETURNING id"))
        s.execute(text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w "
                       "WHERE args->>'import_id' IN (:a, :b)"),
                  {"w": stale, "a": str(never_begun), "b": str(read_as_dead)})
        s.execute(text("UPDATE data_import SET status = 'running' WHERE id = :id"),
                  {"id": read_as_dead})
    done = recover(queue_db)
    with Session(queue_db.engine) as s:
        jobs = dict(s.execute(text("SELECT args->>'import_id', status FROM procrastinate_jobs "
                                   "WHERE args->>'import_id' IN (:a, :b)"),
                              {"a": str(never_begun), "b": str(read_as_dead)}).all())
    assert jobs == {str(never_begun): "todo", str(read_as_dead): "failed"}
    assert len(done["requeued"]) == 1 and len(done["failed"]) == 1
    assert status_of(queue_db, never_begun) == "pending"
    assert status_of(queue_db, read_as_dead) == "failed"
    assert recover(queue_db) == {"failed": [], "requeued": [], "closed": [],
                                 "uploads_purged": 0, "idempotency_keys_purged": 0}


@pytest.mark.slow
def test_at_most_max_imports_run_at_once_across_workers(
    queue_db: Database, start_worker: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two workers of concurrency 2, LOCMAP_MAX_IMPORTS=1: the imports never overlap (each
    into its own pilot, since imports into one pilot take turns anyway)."""
    from tests.integration.test_import_police import crime_row

    monkeypatch.setenv("LOCMAP_MAX_IMPORTS", "1")
    ids, pilots = [], []
    for n in range(3):
        pilot_id, user_id = new_pilot_and_user(queue_db)
        pilots.append(pilot_id)
        rows = [crime_row(f"slot-{n}-{i:06d}", lon=f"{-1.4990 + (i % 997) * 1e-5:.5f}")
                for i in range(40_000)]
        data = write_csv(tmp_path / f"{n}.csv", rows).read_bytes()
        ids.append(queue_upload(queue_db, pilot_id, user_id, f"2025-0{n + 1}.csv", data))
    for _ in range(2):
        start_worker(queue_db.url, "--concurrency", "2", LOCMAP_MAX_IMPORTS="1")
    wait_for(lambda: all(status_of(queue_db, i) == "done" for i in ids), 120,
             "the three imports")
    with Session(queue_db.engine) as s:
        spans = sorted((d.started_at, d.finished_at) for d in s.scalars(
            select(DataImport).where(DataImport.id.in_(ids))))
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), spans
    assert [incidents_of(queue_db, p) for p in pilots] == [40_000] * 3


def test_worker_on_a_database_without_the_queue_says_so(
    start_worker: Any, tmp_path: Path
) -> None:
    url = _fresh_database("noqueue")
    try:
        upgrade(url, "0004")
        proc = start_worker(url)
        assert proc.wait(60) == 1
        out = (tmp_path / "worker-0.log").read_text()
        assert "no job queue yet: run `locmap db upgrade` first" in out
        assert "Traceback" not in out
    finally:
        drop_database(url)
