"""The board's pack on PostGIS: its sections, the partner version's suppression (the same
numbers as the overview and the dashboard), the files the job stores, who may download.

The clock is frozen in every test (15 July 2025: the quarter to 30 June is complete), so
nothing depends on today.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment.disclosure import MARK
from locmap.errors import InvalidData, NotFound
from locmap.models import AuditEvent, BoardPack, Person
from locmap.services import board_pack, dashboard, referrals
from locmap.services.accounts import actor_for
from tests.factories import World
from tests.integration.test_referrals import _planted

TODAY = dt.datetime(2025, 7, 15, 10, tzinfo=clock.LOCAL_TZ)
END = dt.date(2025, 6, 30)


def _young_people(session: Session, world: World, n: int) -> None:
    for i in range(n):
        session.add(Person(pilot_id=world.pilot.id, pseudonym=f"YP-B{i}", kind="young_person",
                           age_band="14-15", exploitation_category="cce",
                           case_status="open_case",
                           created_at=dt.datetime(2025, 3, 1, tzinfo=dt.UTC)))
    session.commit()


def _table(pilot: dict[str, Any], key: str) -> dict[str, Any]:
    return next(t for s in pilot["sections"] for t in s["tables"] if t["key"] == key)


def test_partner_pack_is_suppressed_like_the_overview_and_the_dashboard(
        session: Session, world: World) -> None:
    a = _planted(session, world)
    _young_people(session, world, 2)
    partner, coordinator = a["partner_reviewer"], a["coordinator"]
    with clock.frozen(TODAY):
        pack = board_pack.pack_data(session, partner, world.pilot.id, "quarter", END, threshold=5)
        team = board_pack.pack_data(session, coordinator, world.pilot.id, "quarter", END,
                                    threshold=5)
        measures = referrals.referral_measures(session, partner, world.pilot.id,
                                               since=dt.date(2025, 4, 1), threshold=5)
        board = dashboard.dashboard(session, partner, world.pilot.id, as_of=END, threshold=5)
    assert pack["start"] == dt.date(2025, 4, 1)
    [p] = pack["pilots"]
    assert p["partner"] is True
    assert [s["title"] for s in p["sections"]] == [t for _, t in board_pack.SECTIONS]
    # The referrals: 6 police referrals round to 5, the 2 schools withheld, as the
    # overview shows the partner.
    sources = _table(p, "referral_sources")
    assert sources["rows"][1][1:] == [*measures["by_agency"]["cells"][1],
                                      measures["by_agency"]["row_totals"][1]]
    assert MARK in sources["rows"][0] and 5 in sources["rows"][1] or "5" in sources["rows"][1]
    outcomes = dict(_table(p, "referral_outcomes")["rows"])
    assert outcomes == measures["outcomes"]
    assert outcomes["Level 2: a context assessment"] == MARK
    times = dict(_table(p, "referral_measures")["rows"])
    assert times["Median days from referral to a submitted assessment"] == MARK
    # The current picture by district: the dashboard's partner tables, cell for cell
    # (2 young people: withheld).
    district = _table(p, "by_district")
    shown = next(t for t in board.tables if t.key == "by_district").rows()
    assert [district["columns"], *district["rows"]] == [list(r) for r in shown]
    assert MARK in str(district["rows"])
    # The owning team's pack is exact: nothing withheld anywhere.
    [t] = team["pilots"]
    assert t["partner"] is False and MARK not in str(t["sections"])
    team_sources = _table(t, "referral_sources")
    assert team_sources["rows"][-1] == ["All agencies", 6, 2, 8]


def test_pack_built_by_the_job_holds_every_section_in_pdf_and_xlsx(
        session: Session, world: World, tmp_path: Path) -> None:
    a = _planted(session, world)
    partner = a["partner_reviewer"]
    with clock.frozen(TODAY):
        pack = board_pack.request_pack(session, partner, world.pilot.id, "quarter", END)
        session.commit()
        assert board_pack.run_pack(session, pack.id, threshold=5) == "done"
        session.commit()
        pdf, ctype, name = board_pack.pack_file(session, partner, pack.id, "pdf")
        xlsx, _, _ = board_pack.pack_file(session, partner, pack.id, "xlsx")
    assert ctype == "application/pdf" and pdf.startswith(b"%PDF")
    assert name == f"board-pack-quarter-2025-06-30-pilot{world.pilot.id}.pdf"
    wb = load_workbook(io.BytesIO(xlsx))
    assert wb.sheetnames == ["About", *[t[:31] for _, t in board_pack.SECTIONS]]
    cells = [c for row in wb["Referrals and screening"].iter_rows(values_only=True)
             for c in row if c is not None]
    assert MARK in cells and "Test Pilot" in cells
    if shutil.which("pdftotext"):
        (tmp_path / "pack.pdf").write_bytes(pdf)
        subprocess.run(["pdftotext", str(tmp_path / "pack.pdf")], check=True)
        text = (tmp_path / "pack.txt").read_text()
        for _, title in board_pack.SECTIONS:
            assert title in text
        assert "[c]" in text and "partner version" in text
    downloads = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "board_pack", AuditEvent.action == "export")).all()
    assert {d.detail["format"] for d in downloads} == {"pdf", "xlsx"}


def test_only_completed_quarter_ends_and_only_the_requester_downloads(
        session: Session, world: World) -> None:
    a = {k: actor_for(session, u) for k, u in world.users.items()}
    with clock.frozen(TODAY):
        for end in (dt.date(2025, 5, 31), dt.date(2025, 9, 30)):
            with pytest.raises(InvalidData):
                board_pack.request_pack(session, a["coordinator"], None, "quarter", end)
        with pytest.raises(InvalidData):
            board_pack.request_pack(session, a["coordinator"], None, "month", END)
        with pytest.raises(NotFound):  # not a member of the other pilot
            board_pack.request_pack(session, a["coordinator"], world.other_pilot.id,
                                    "quarter", END)
        pack = board_pack.request_pack(session, a["coordinator"], None, "year", END)
        session.commit()
        assert board_pack.run_pack(session, pack.id, threshold=5) == "done"
        session.commit()
        data = board_pack.pack_data(session, a["coordinator"], None, "year", END, threshold=5)
        with pytest.raises(NotFound):
            board_pack.pack_file(session, a["practitioner"], pack.id, "pdf")
    # Across "all my pilots": only the pilots the user is a member of.
    assert [p["name"] for p in data["pilots"]] == ["Test Pilot"]
    assert data["start"] == dt.date(2024, 7, 1)
    assert session.get(BoardPack, pack.id).status == "done"


def test_pack_page_asks_builds_and_downloads(client: Any, auth: Any, session: Session,
                                             world: World) -> None:
    _planted(session, world)
    auth.login("partner_reviewer@test.invalid")
    token = auth.csrf_token("/board-packs")
    with clock.frozen(TODAY):
        page = client.get(f"/board-packs?pilot={world.pilot.id}").get_data(as_text=True)
        assert 'value="2025-06-30"' in page and "Test Pilot" in page
        r = client.post("/board-packs", data={"csrf_token": token, "scope": world.pilot.id,
                                              "period": "quarter", "period_end": "2025-06-30"})
        assert r.status_code == 302
        bad = client.post("/board-packs", data={"csrf_token": token, "scope": "all",
                                                "period": "quarter", "period_end": "nonsense"},
                          follow_redirects=True)
        assert "Choose the pilots" in bad.get_data(as_text=True)
        listing = client.get("/board-packs").get_data(as_text=True)
    pack = session.scalars(select(BoardPack)).one()
    assert pack.status == "done" and 'data-status="done"' in listing
    got = client.get(f"/board-packs/file?pack={pack.id}&format=pdf")
    assert got.status_code == 200 and got.mimetype == "application/pdf"
    assert client.get("/board-packs/file?pack=x").status_code == 400
    auth.login("coordinator@test.invalid")
    assert client.get(f"/board-packs/file?pack={pack.id}&format=pdf").status_code == 404
