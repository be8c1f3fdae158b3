"""The board's pack: a partner asks for the quarterly pack on its page, the worker makes it,
the PDF is downloaded and its sections read (the partner version, suppressed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from locmap.db import Database
from locmap.services.board_pack import SECTIONS
from tests.browser.conftest import login

pytestmark = pytest.mark.browser


def test_quarterly_pack_is_made_by_the_worker_and_downloaded(
    page: Any, tmp_path: Path, demo_db: Database, start_worker: Any
) -> None:
    login(page, "reviewer.police@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    page.click("text=Eastbrook Town Centre")
    page.click("#board-pack-link")
    page.wait_for_selector("#pack-form")
    assert page.locator("#pack-scope option:checked").inner_text() == "Eastbrook Town Centre"
    page.select_option("#pack-period", "quarter")
    end = page.locator("#pack-end option").first.get_attribute("value")
    page.click("#pack-form button[type=submit]")
    page.wait_for_selector("#packs tbody tr")
    row = page.locator("#packs tbody tr").first
    assert row.get_attribute("data-status") == "queued"
    start_worker(demo_db.url, "--concurrency", "1")
    for _ in range(60):
        page.reload()
        if page.locator("#packs tbody tr").first.get_attribute("data-status") != "queued" \
                and page.locator("#packs tbody tr").first.get_attribute(
                    "data-status") != "running":
            break
        page.wait_for_timeout(1000)
    assert page.locator("#packs tbody tr").first.get_attribute("data-status") == "done"
    with page.expect_download() as dl:
        page.locator("#packs tbody tr").first.locator("a.pack-pdf").click()
    pdf = Path(dl.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    assert dl.value.suggested_filename.startswith(f"board-pack-quarter-{end}")
    if shutil.which("pdftotext"):
        (tmp_path / "pack.pdf").write_bytes(pdf)
        subprocess.run(["pdftotext", str(tmp_path / "pack.pdf")], check=True)
        text_ = (tmp_path / "pack.txt").read_text()
        for _, title in SECTIONS:
            assert title in text_, title
        assert "Eastbrook Town Centre (partner version)" in " ".join(text_.split())
    with demo_db.engine.connect() as conn:  # made by the worker's job, not by the web
        assert conn.scalar(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = "
                                "'locmap:board_pack' AND status = 'succeeded'")) >= 1
