"""A practitioner uploads a police CSV, checks the preview and mapping, imports it and sees
the new incidents counted on the pilot: the import waits in the queue until a real
``locmap worker`` process, started by the test, runs it."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from locmap.db import Database
from tests.browser.conftest import login

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/locmap-shots")


def police_csv() -> bytes:
    header = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
              "Location", "LSOA code", "LSOA name", "Crime type", "Last outcome category",
              "Context"]
    rows = [
        ["f" * 63 + str(i), "2025-05", "Test Police", "Test Police", f"{-1.470 + i / 5000:.4f}",
         "52.5200", "On or near Eastbrook High Street", "E01000002", "Eastbrook 002B",
         kind, "Under investigation", ""]
        for i, kind in enumerate(["Drugs", "Robbery", "Public order", "Drugs", "Burglary"])
    ]
    rows += [["", "2025-05", "Test Police", "Test Police", "-1.4710", "52.5210",
              "On or near Library Walk", "E01000002", "Eastbrook 002B",
              "Anti-social behaviour", "", ""]] * 3
    rows.append(["", "2025-05", "Test Police", "Test Police", "", "", "No location", "", "",
                 "Anti-social behaviour", "", ""])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def incident_count(page: Any) -> int:
    page.goto("/")
    stats = page.locator("#pilot-list .card:has-text('Eastbrook Town Centre') .stats").inner_text()
    return int(re.search(r"(\d+) incidents", stats).group(1))  # type: ignore[union-attr]


def test_upload_preview_confirm_and_see_the_incidents(
    page: Any, tmp_path: Path, demo_db: Database, start_worker: Any
) -> None:
    SHOTS.mkdir(exist_ok=True)
    login(page, "practitioner@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    before = incident_count(page)
    page.click("text=Eastbrook Town Centre")
    page.click("text=Import data")
    page.wait_for_selector("form.upload")
    csv_path = tmp_path / "2025-05-test-street.csv"
    csv_path.write_bytes(police_csv())
    page.set_input_files("input[type=file]", str(csv_path))
    page.click("text=Upload and preview")
    page.wait_for_selector("#preview-rows")
    assert page.locator("#preview-rows tbody tr").count() == 9
    # Robbery maps to the neutral "Robbery", never to serious youth violence (issue 16).
    mapped = page.locator("#preview-rows tbody tr td:last-child").all_inner_texts()
    assert "Robbery" in mapped and "Serious youth violence" not in mapped
    assert page.locator("#mapping tr.seen").count() == 5
    page.screenshot(path=str(SHOTS / "import-preview.png"), full_page=True)
    page.click("#confirm-import")
    # Queued: the web process does not run imports itself.
    page.wait_for_selector("#import-status")
    import_id = int(page.url.rsplit("/", 1)[1])
    assert page.locator("#import-status").inner_text() == "pending"
    assert "Queued" in page.locator("#import-progress").inner_text()
    page.wait_for_timeout(1500)
    assert page.locator("#import-status").inner_text() == "pending"
    start_worker(demo_db.url, "--concurrency", "1")
    # A new worker process imports geopandas and friends before it takes the job: on a
    # loaded 2-core machine that alone took longer than 30 s.
    page.wait_for_selector("#import-status:text('done')", timeout=120_000)
    assert page.locator("#rows-accepted").inner_text() == "8"
    assert page.locator("#rows-rejected").inner_text() == "1"
    page.screenshot(path=str(SHOTS / "import-result.png"), full_page=True)
    with page.expect_download() as dl:
        page.click("#report-link")
    report = Path(dl.value.path()).read_text()
    assert "no coordinates" in report
    # The page survives a reload; the pilot now counts the new incidents.
    page.reload()
    assert page.locator("#import-status").inner_text() == "done"
    assert incident_count(page) == before + 8
    with demo_db.engine.connect() as conn:  # run by the worker's job, not by the web
        assert conn.scalar(text("SELECT status FROM procrastinate_jobs WHERE task_name = "
                                "'locmap:run_import' AND args->>'import_id' = :id"),
                           {"id": str(import_id)}) == "succeeded"


def test_coordinator_adds_a_crime_type_to_the_mapping(page: Any) -> None:
    SHOTS.mkdir(exist_ok=True)
    login(page, "coordinator@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    page.click("text=Eastbrook Town Centre")
    page.click("text=Import data")
    page.click("#crime-type-link")
    page.wait_for_selector("#crime-type-form")
    assert "Possession of weapons" in page.locator("#mapping").inner_text()
    page.fill("input[name=new_type]", "Knife crime (force code)")
    page.select_option("select[name=new_category]", "weapons")
    page.click("#save-mapping")
    page.wait_for_selector(".flash-info", timeout=10_000)
    assert "Saved" in page.content()
    row = page.locator("#mapping tr:has-text('Knife crime (force code)')")
    assert row.locator("select").input_value() == "weapons"
    page.screenshot(path=str(SHOTS / "crime-type-mapping.png"), full_page=True)
