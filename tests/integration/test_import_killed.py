"""An import killed mid-way (kill -9) leaves the database exactly as it was."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from locmap.models import DataImport, Incident, Pilot
from tests.factories import make_pilot
from tests.integration.test_import_police import HEADER, crime_row

ROWS = 400_000


@pytest.fixture
def big_csv(tmp_path: Path) -> Path:
    path = tmp_path / "2025-03-street.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i in range(ROWS):
            out.writerow(crime_row(f"kill-{i:07d}", lon=f"{-1.4990 + (i % 997) * 1e-5:.5f}",
                                   lat=f"{52.5010 + (i % 991) * 7e-6:.6f}"))
    return path


def test_kill_9_mid_import_writes_nothing(big_csv: Path, database_url: str) -> None:
    engine = create_engine(database_url)
    with Session(engine) as s:
        pilot = make_pilot(s, "Killed Import Pilot")
        s.commit()
        pilot_id = pilot.id
    env = dict(os.environ, DATABASE_URL=database_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "locmap.cli", "import", "police", str(big_csv),
         "--pilot", "Killed Import Pilot", "--quiet"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        # Wait until the import is really writing: its backend is busy in a transaction.
        deadline = time.monotonic() + 60
        busy = False
        while time.monotonic() < deadline and proc.poll() is None:
            with engine.connect() as conn:
                busy = bool(conn.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND query ILIKE 'COPY%'")))
            if busy:
                break
            time.sleep(0.05)
        assert proc.poll() is None and busy, "the import finished or never started copying"
        time.sleep(0.5)
        assert proc.poll() is None, "the import finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
        with Session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Incident)
                            .where(Incident.pilot_id == pilot_id)) == 0
            assert s.scalar(select(func.count()).select_from(DataImport)
                            .where(DataImport.pilot_id == pilot_id)) == 0
            s.delete(s.get_one(Pilot, pilot_id))
            s.commit()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
        engine.dispose()
