"""The upload → preview → confirm → result flow, the import API and the mapping API."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap.models import AuditEvent, DataImport, Incident, Upload
from locmap.services.imports import hold_import_lock
from tests.conftest import AuthActions
from tests.factories import World
from tests.integration.test_import_police import rows_month, write_csv


@pytest.fixture
def data_dir(app: Any, tmp_path: Path) -> Path:
    app.config["LOCMAP_DATA_DIR"] = str(tmp_path / "data")
    return tmp_path / "data"


def upload(client: Any, auth: AuthActions, pilot_id: int, content: bytes,
           name: str = "2025-03-street.csv") -> Any:
    token = auth.csrf_token(f"/pilots/{pilot_id}/imports")
    return client.post(f"/pilots/{pilot_id}/imports/upload",
                       data={"csrf_token": token, "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def test_upload_preview_confirm_result(
    client: Any, auth: AuthActions, world: World, session: Session, tmp_path: Path,
    data_dir: Path,
) -> None:
    pid = world.pilot.id
    auth.login("practitioner@test.invalid")
    content = write_csv(tmp_path / "m.csv", rows_month()).read_bytes()
    r = upload(client, auth, pid, content)
    assert r.status_code == 302 and "/imports/preview/" in r.location
    preview = client.get(r.location).get_data(as_text=True)
    assert "2025-03-street.csv" in preview and "On or near Test Street" in preview
    assert 'id="mapping"' in preview and "Anti-social behaviour" in preview
    assert "(not mapped)" in preview  # the unheard-of crime type
    # Nothing is written by the upload or the preview.
    assert session.scalar(select(func.count()).select_from(Incident)
                          .where(Incident.pilot_id == pid)) == 0
    confirm_url = re.search(r'action="([^"]+/confirm)"', preview).group(1)  # type: ignore[union-attr]
    token = auth.csrf_token(r.location)
    done = client.post(confirm_url, data={"csrf_token": token})
    assert done.status_code == 302
    page = client.get(done.location).get_data(as_text=True)
    assert "status-done" in page and "7 incidents added from 9 rows" in page
    import_id = int(done.location.rsplit("/", 1)[1])
    status = client.get(f"/api/v1/pilots/{pid}/imports/{import_id}").get_json()
    assert status["status"] == "done" and status["rows_rejected"] == 1
    assert session.scalar(select(func.count()).select_from(Incident)
                          .where(Incident.pilot_id == pid)) == 7
    # The upload is consumed: confirming again finds nothing.
    assert client.post(confirm_url, data={"csrf_token": token}).status_code == 404
    # The stored file goes once its import has run.
    assert session.scalar(select(func.count()).select_from(Upload)
                          .where(Upload.pilot_id == pid)) == 0
    report = client.get(f"/api/v1/pilots/{pid}/imports/{import_id}/report.csv")
    assert report.mimetype == "text/csv"
    lines = report.get_data(as_text=True).splitlines()
    assert lines[0] == "file,row,reason,crime_id,month,crime_type,location"
    assert lines[1].startswith("2025-03-street.csv,7,no coordinates") or ",7,no coord" in lines[1]


def test_report_csv_neutralises_formulas(
    client: Any, auth: AuthActions, world: World, tmp_path: Path, data_dir: Path
) -> None:
    pid = world.pilot.id
    auth.login("practitioner@test.invalid")
    bad = ["", "2025-03", "x", "x", "", "", "=cmd|' /C calc'!A0", "", "", "@SUM(1)", "", ""]
    r = upload(client, auth, pid, write_csv(tmp_path / "f.csv", [bad]).read_bytes())
    token = auth.csrf_token(r.location)
    done = client.post(r.location + "/confirm", data={"csrf_token": token})
    import_id = int(done.location.rsplit("/", 1)[1])
    text = client.get(f"/api/v1/pilots/{pid}/imports/{import_id}/report.csv").get_data(
        as_text=True)
    assert "'=cmd|' /C calc'!A0" in text and "'@SUM(1)" in text
    assert ",=cmd" not in text


def test_failed_import_is_recorded(
    client: Any, auth: AuthActions, world: World, data_dir: Path
) -> None:
    pid = world.pilot.id
    auth.login("practitioner@test.invalid")
    header = b"Crime ID,Month,Longitude,Latitude,Location,Crime type\r\n"
    r = upload(client, auth, pid, header + b"x,2025-01,-1.49,52.50,a,Drugs\r\n" * 12
               + b"y,2025-01,too,many,fields,here,!\r\n")
    assert r.status_code == 302  # the defect is past the previewed rows
    token = auth.csrf_token(r.location)
    done = client.post(r.location + "/confirm", data={"csrf_token": token})
    status = client.get("/api/v1" + done.location).get_json()
    assert status["status"] == "failed" and "line 14: 7 fields" in status["message"]
    page = client.get(done.location).get_data(as_text=True)
    assert "status-failed" in page


def test_interrupted_web_import_is_marked_failed(
    client: Any, auth: AuthActions, world: World, session: Session, engine: Any
) -> None:
    """A job whose process died (its lock is free a minute on) reads as failed; a job
    another process still runs (its lock held) and a just-queued one stay as they are."""
    pid = world.pilot.id
    ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    rows = {name: DataImport(pilot_id=pid, kind="police_csv", filename=f"{name}.csv",
                             sha256="0" * 64, status=status, started_at=started)
            for name, status, started in [
                ("dead", "running", ago), ("queued-dead", "pending", ago),
                ("alive", "running", ago),
                ("just-queued", "pending", dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))]}
    session.add_all(rows.values())
    session.flush()
    auth.login("practitioner@test.invalid")
    with engine.connect() as other, other.begin():  # the live job's process
        hold_import_lock(Session(bind=other), rows["alive"].id)
        got = {name: client.get(f"/api/v1/pilots/{pid}/imports/{di.id}").get_json()
               for name, di in rows.items()}
    assert got["dead"]["status"] == got["queued-dead"]["status"] == "failed"
    assert got["dead"]["message"].startswith("Interrupted: the server stopped")
    assert got["alive"]["status"] == "running"
    assert got["just-queued"]["status"] == "pending"
    # The other process has let go without finishing: now that job is gone too.
    page = client.get(f"/pilots/{pid}/imports").get_data(as_text=True)
    assert page.count("status-failed") == 3 and page.count("status-pending") == 1


def test_upload_refusals(
    app: Any, client: Any, auth: AuthActions, world: World, data_dir: Path
) -> None:
    pid = world.pilot.id
    auth.login("practitioner@test.invalid")
    r = upload(client, auth, pid, b"hello", name="notes.txt")
    assert r.status_code == 422 and "Upload a police.uk .csv" in r.get_data(as_text=True)
    r = upload(client, auth, pid, b"Crime ID,Month\r\n")
    assert r.status_code == 422 and "missing column(s)" in r.get_data(as_text=True)
    app.config["MAX_CONTENT_LENGTH"] = 4096
    r = upload(client, auth, pid, b"x" * 20_000)
    assert r.status_code == 413
    auth.logout()
    auth.login("partner_reviewer@test.invalid")
    assert client.get(f"/pilots/{pid}/imports").status_code == 403
    auth.logout()
    auth.login("outsider@test.invalid")
    assert client.get(f"/pilots/{pid}/imports").status_code == 404


def test_crime_type_mapping_api(
    client: Any, auth: AuthActions, world: World, session: Session
) -> None:
    pid = world.pilot.id
    auth.login("coordinator@test.invalid")
    got = client.get(f"/api/v1/pilots/{pid}/crime-type-mapping").get_json()
    assert got["mapping"]["Drugs"] == "drugs" and "cce" in got["categories"]
    headers = {"X-CSRFToken": auth.csrf_token("/")}
    r = client.put(f"/api/v1/pilots/{pid}/crime-type-mapping",
                   json={"mapping": {"Drugs": "gang"}}, headers=headers)
    assert r.status_code == 422
    r = client.put(f"/api/v1/pilots/{pid}/crime-type-mapping",
                   json={"mapping": {"Drugs": "cce", "Other crime": "cse"}}, headers=headers)
    assert r.status_code == 200 and r.get_json()["mapping"]["Drugs"] == "cce"
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "crime_type_mapping")) == 1
    auth.logout()
    auth.login("practitioner@test.invalid")
    r = client.put(f"/api/v1/pilots/{pid}/crime-type-mapping",
                   json={"mapping": {"Drugs": "drugs"}},
                   headers={"X-CSRFToken": auth.csrf_token("/")})
    assert r.status_code == 403


def test_crime_type_mapping_page(
    client: Any, auth: AuthActions, world: World, session: Session
) -> None:
    pid = world.pilot.id
    url = f"/pilots/{pid}/imports/crime-types"
    auth.login("coordinator@test.invalid")
    page = client.get(url).get_data(as_text=True)
    assert 'id="crime-type-form"' in page and "Possession of weapons" in page
    fields = dict(re.findall(r'name="(type-\d+)" value="([^"]+)"', page))
    number = {v: k[5:] for k, v in fields.items()}
    form = {"csrf_token": auth.csrf_token(url)}
    for key, crime_type in fields.items():
        form[key] = crime_type
        form["category-" + key[5:]] = "cce" if crime_type == "Drugs" else re.search(
            rf'id="category-{key[5:]}" name="category-{key[5:]}">.*?value="([a-z_]+)" selected',
            page, re.S).group(1)  # type: ignore[union-attr]
    form["new_type"] = '=HYPERLINK("x") <script>alert(1)</script>'
    form["new_category"] = "cse"
    r = client.post(url, data=form)
    assert r.status_code == 302
    got = client.get(f"/api/v1/pilots/{pid}/crime-type-mapping").get_json()["mapping"]
    assert got["Drugs"] == "cce" and got["Robbery"] == "robbery"
    assert got['=HYPERLINK("x") <script>alert(1)</script>'] == "cse"
    page = client.get(url).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert f'id="category-{number["Drugs"]}"' in page
    bad = dict(form, new_type="Knife crime", new_category="gang")
    r = client.post(url, data=bad, follow_redirects=True)
    assert "Unknown harm category: gang" in r.get_data(as_text=True)
    assert "Knife crime" not in client.get(
        f"/api/v1/pilots/{pid}/crime-type-mapping").get_json()["mapping"]
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "crime_type_mapping")) == 1
    auth.logout()
    auth.login("practitioner@test.invalid")
    page = client.get(url).get_data(as_text=True)
    assert 'id="crime-type-form"' not in page and "The pilot's coordinator can change" in page
    r = client.post(url, data={"csrf_token": auth.csrf_token(url), "type-1": "Drugs",
                               "category-1": "drugs"})
    assert r.status_code == 403
    auth.logout()
    auth.login("partner_reviewer@test.invalid")
    assert client.get(url).status_code == 403
    auth.logout()
    auth.login("outsider@test.invalid")
    assert client.get(url).status_code == 404
