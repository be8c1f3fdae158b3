"""Police street-level crime CSV import against the real database (synthetic rows only)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap.errors import Forbidden, InvalidData, NotFound
from locmap.models import AuditEvent, DataImport, Incident
from locmap.services import imports
from locmap.services.accounts import actor_for
from locmap.services.permissions import Actor
from tests.factories import World

HEADER = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
          "Location", "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context"]


def crime_row(crime_id: str, month: str = "2025-03", lon: str = "-1.4920",
              lat: str = "52.5040", crime_type: str = "Drugs",
              location: str = "On or near Test Street") -> list[str]:
    return [crime_id, month, "Test Police", "Test Police", lon, lat, location, "E01000001",
            "Testshire 001A", crime_type, "Under investigation" if crime_id else "", ""]


def rows_month(month: str = "2025-03") -> list[list[str]]:
    return [
        crime_row("a" * 63 + "1", month),
        crime_row("a" * 63 + "2", month, crime_type="Violence and sexual offences"),
        crime_row("", month, crime_type="Anti-social behaviour"),
        crime_row("", month, crime_type="Anti-social behaviour"),  # identical: both kept
        crime_row("", month, crime_type="Anti-social behaviour", location="On or near Park"),
        crime_row("a" * 63 + "3", month, lon="", lat=""),  # no location
        crime_row("a" * 63 + "4", month, crime_type="Robbery",
                  location="=HYPERLINK(\"http://x.invalid\")"),
        crime_row("a" * 63 + "5", month, lon="-1.2000", lat="52.3000"),  # far outside
        crime_row("a" * 63 + "6", month, crime_type="Unheard-of crime type"),
    ]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(HEADER)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def practitioner(session: Session, world: World) -> Actor:
    return actor_for(session, world.users["practitioner"])


def count(session: Session, pilot_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Incident)
                          .where(Incident.pilot_id == pilot_id)) or 0


def test_import_maps_reports_and_dedupes(session: Session, world: World, tmp_path: Path) -> None:
    a = practitioner(session, world)
    path = write_csv(tmp_path / "2025-03-test-street.csv", rows_month())
    di = imports.import_police(session, a, world.pilot.id, path)
    assert di.status == "done" and len(di.sha256) == 64
    assert (di.rows_read, di.rows_accepted, di.rows_rejected) == (9, 7, 1)
    summary = di.options["summary"]
    assert summary["rows_outside_area"] == 1
    assert summary["unmapped_crime_types"] == ["Unheard-of crime type"]
    assert di.report == [{
        "file": path.name, "row": 7, "reason": "no coordinates (police.uk: no location)",
        "crime_id": "a" * 63 + "3", "month": "2025-03", "crime_type": "Drugs",
        "location": "On or near Test Street",
    }]
    got = session.execute(
        select(Incident.category, Incident.occurred_at, Incident.time_precision,
               Incident.dedupe_key, Incident.description)
        .where(Incident.data_import_id == di.id).order_by(Incident.id)
    ).all()
    assert sorted(c for c, *_ in got) == [
        "asb", "asb", "asb", "drugs", "other", "robbery", "violence_and_sexual_offences"]
    assert {t for _, t, *_ in got} == {dt.datetime(2025, 3, 1, tzinfo=dt.UTC)}
    assert {p for _, _, p, *_ in got} == {"month"}
    asb_keys = [k for c, _, _, k, _ in got if c == "asb"]
    assert len(set(asb_keys)) == 3 and all(k.startswith("row:") for k in asb_keys)
    # The formula is stored as text, as given (exports neutralise it).
    assert any(d.startswith("Robbery: =HYPERLINK") for *_, d in got)
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "import", AuditEvent.entity_id == str(di.id))) == 1

    again = imports.import_police(session, a, world.pilot.id, path)
    assert again.rows_accepted == 0 and again.options["summary"]["rows_already_present"] == 7
    assert count(session, world.pilot.id) == 7


def test_overlapping_months_in_a_zip_add_only_the_new_month(
    session: Session, world: World, tmp_path: Path
) -> None:
    a = practitioner(session, world)
    march = write_csv(tmp_path / "march.csv", rows_month("2025-03"))
    imports.import_police(session, a, world.pilot.id, march)
    april_rows = [[("b" + r[0][1:]) if r[0] else "", *r[1:]] for r in rows_month("2025-04")]
    zpath = tmp_path / "download.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(march, "2025-03/2025-03-test-street.csv")
        zf.writestr("2025-04/2025-04-test-street.csv",
                    write_csv(tmp_path / "april.csv", april_rows).read_bytes())
    di = imports.import_police(session, a, world.pilot.id, zpath)
    assert di.rows_read == 18 and di.rows_accepted == 7
    assert [f["file"] for f in di.options["summary"]["files"]] == [
        "download.zip:2025-03/2025-03-test-street.csv",
        "download.zip:2025-04/2025-04-test-street.csv"]
    assert count(session, world.pilot.id) == 14


def test_cp1252_file_from_excel(session: Session, world: World, tmp_path: Path) -> None:
    rows = [crime_row("c" * 64, location="On or near Café Street – £5 shop")]
    path = write_csv(tmp_path / "excel.csv", rows, encoding="cp1252")
    di = imports.import_police(session, practitioner(session, world), world.pilot.id, path)
    assert di.options["summary"]["files"][0]["encoding"] == "cp1252"
    desc = session.scalar(select(Incident.description).where(Incident.data_import_id == di.id))
    assert desc is not None and "Café Street – £5" in desc


@pytest.mark.parametrize("content, fragment", [
    (b"Crime ID,Month,Longitude\r\nx,2025-01,1\r\n", "missing column(s) Latitude"),
    (",".join(HEADER).encode() + b"\r\nx,2025-01,only three\r\n", "line 4: 3 fields"),
    (",".join(HEADER).encode() + b'\r\n"unterminated,2025-01\r\n', "not valid CSV"),
    (b"", "is empty"),
])
def test_malformed_csv_is_refused_and_nothing_written(
    session: Session, world: World, tmp_path: Path, content: bytes, fragment: str
) -> None:
    good = "\r\n".join(",".join(r) for r in rows_month()[:2]).encode() + b"\r\n"
    head, _, tail = content.partition(b"\r\n")
    path = tmp_path / "bad.csv"
    # Good rows before the defect prove that nothing staged survives the error.
    path.write_bytes(head + b"\r\n" + good + tail if tail else content)
    before = count(session, world.pilot.id)
    a = practitioner(session, world)
    with pytest.raises(InvalidData, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        with session.begin_nested():  # the caller's transaction, rolled back on error
            imports.import_police(session, a, world.pilot.id, path)
    assert count(session, world.pilot.id) == before


def test_zip_bomb_and_unsafe_paths_are_refused(
    session: Session, world: World, tmp_path: Path
) -> None:
    a = practitioner(session, world)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("2025-01/big.csv", b"\0" * (20 * 2**20))
    with pytest.raises(InvalidData, match="zip bomb"):
        imports.import_police(session, a, world.pilot.id, bomb)
    sneaky = tmp_path / "sneaky.zip"
    with zipfile.ZipFile(sneaky, "w") as zf:
        zf.writestr("../../etc/x.csv", b"Crime ID\r\n")
    with pytest.raises(InvalidData, match="unsafe path"):
        imports.import_police(session, a, world.pilot.id, sneaky)
    nested = tmp_path / "nested.zip"
    with zipfile.ZipFile(nested, "w") as zf:
        zf.writestr("inner.zip", b"PK")
    with pytest.raises(InvalidData, match="inside the archive"):
        imports.import_police(session, a, world.pilot.id, nested)
    assert count(session, world.pilot.id) == 0


def test_permissions_and_failure_record(session: Session, world: World, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", rows_month())
    reviewer = actor_for(session, world.users["partner_reviewer"])
    with pytest.raises(Forbidden):
        imports.import_police(session, reviewer, world.pilot.id, path)
    with pytest.raises(NotFound):
        imports.import_police(session, actor_for(session, world.users["outsider"]),
                              world.pilot.id, path)
    a = practitioner(session, world)
    di = imports.record_failure(session, a, world.pilot.id, kind="police_csv",
                                filename="x.csv", sha256="0" * 64, message="broken")
    assert session.get(DataImport, di.id).status == "failed"  # type: ignore[union-attr]


def test_crime_type_mapping_is_seeded_and_changed_by_the_coordinator(
    session: Session, world: World, tmp_path: Path
) -> None:
    coord = actor_for(session, world.users["coordinator"])
    mapping = imports.crime_type_mapping(session, coord, world.pilot.id)
    assert mapping["Anti-social behaviour"] == "asb" and mapping["Burglary"] == "other"
    with pytest.raises(InvalidData, match="Unknown harm category: gang"):
        imports.set_crime_type_mapping(session, coord, world.pilot.id, {"Drugs": "gang"})
    with pytest.raises(Forbidden):
        imports.set_crime_type_mapping(session, practitioner(session, world), world.pilot.id,
                                       {"Drugs": "cce"})
    imports.set_crime_type_mapping(session, coord, world.pilot.id, {"Drugs": "cce"})
    di = imports.import_police(session, practitioner(session, world), world.pilot.id,
                               write_csv(tmp_path / "x.csv", [crime_row("d" * 64)]))
    assert session.scalar(select(Incident.category)
                          .where(Incident.data_import_id == di.id)) == "cce"


def test_cli_imports_with_a_progress_bar(database_url: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner
    from sqlalchemy import create_engine

    from locmap.cli import main
    from tests.factories import make_pilot

    monkeypatch.setenv("DATABASE_URL", database_url)
    eng = create_engine(database_url)
    try:
        with Session(eng) as s:
            pilot = make_pilot(s, "CLI Import Pilot")
            s.commit()
            pilot_id = pilot.id
        good = write_csv(tmp_path / "good.csv", rows_month())
        bad = tmp_path / "bad.csv"
        bad.write_bytes(b"Crime ID,Month\r\n")
        r = CliRunner().invoke(main, ["import", "police", str(good), str(bad),
                                      "--pilot", "CLI Import Pilot"])
        assert r.exit_code == 1, r.output
        assert "7 incidents added from 9 rows" in r.output
        assert "bad.csv: FAILED, nothing imported: bad.csv is not a police.uk" in r.output
        with Session(eng) as s:
            statuses = s.scalars(select(DataImport.status).where(
                DataImport.pilot_id == pilot_id).order_by(DataImport.id)).all()
            assert statuses == ["done", "failed"]
    finally:
        with Session(eng) as s:  # this test commits: clean up behind it
            from locmap.models import Pilot
            s.delete(s.get(Pilot, pilot_id))
            s.commit()
        eng.dispose()
