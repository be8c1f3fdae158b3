"""The incident table page: filters, sort, pages, CSV, edit and delete (issue 16), and
the map's "from this import" filter."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.models import Agency, AuditEvent, DataImport, Incident
from tests.conftest import AuthActions
from tests.factories import World


@pytest.fixture
def records(session: Session, world: World) -> dict[str, Any]:
    """Nine incidents: six by hand at the cafe, three from one police import at the park."""
    police = Agency(name="Test Police", kind="police")
    session.add(police)
    imp = DataImport(pilot_id=world.pilot.id, kind="police_csv", filename="street.csv",
                     sha256="0" * 64, status="done", rows_read=3, rows_accepted=3)
    session.add(imp)
    session.flush()
    rows = []
    for i in range(6):
        rows.append(Incident(
            pilot_id=world.pilot.id, location=from_shape(Point(-1.49, 52.505), srid=4326),
            place_id=world.places["cafe"].id,
            occurred_at=dt.datetime(2025, 3, 1 + i, 17, 0, tzinfo=dt.UTC),
            category="asb" if i % 2 else "drugs", severity=1 + i % 5,
            external_ref=f"=HAND-{i}" if i == 0 else f"HAND-{i}",
            description=f"Restricted note {i}"))
    for i in range(3):
        rows.append(Incident(
            pilot_id=world.pilot.id, location=from_shape(Point(-1.494, 52.5025), srid=4326),
            place_id=world.places["park"].id, place_derived=True,
            occurred_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC), time_precision="month",
            category="weapons", severity=4, source_agency_id=police.id,
            data_import_id=imp.id, external_ref=f"POL-{i}"))
    # Another pilot's incident never shows.
    rows.append(Incident(pilot_id=world.other_pilot.id,
                         location=from_shape(Point(-1.39, 52.505), srid=4326),
                         occurred_at=dt.datetime(2025, 3, 3, tzinfo=dt.UTC), category="asb"))
    session.add_all(rows)
    session.flush()
    return {"import": imp, "police": police, "rows": rows}


def _page(world: World) -> str:
    return f"/pilots/{world.pilot.id}/incidents"


def _ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-incident-id="(\d+)"', html)]


def _login(client: Any, auth: AuthActions, role: str = "practitioner") -> str:
    auth.login(f"{role}@test.invalid")
    return auth.csrf_token("/")


def test_the_table_lists_filters_and_sorts(client: Any, auth: AuthActions, world: World,
                                           records: dict[str, Any]) -> None:
    _login(client, auth)
    rows = records["rows"]
    html = client.get(_page(world)).get_data(as_text=True)
    assert "<strong>9</strong> incidents match" in html
    newest_first = _ids(html)
    assert newest_first[:3] == sorted(r.id for r in rows[6:9])[::-1]  # June before March
    assert rows[9].id not in newest_first
    weapons = _ids(client.get(_page(world) + "?category=weapons").get_data(as_text=True))
    assert sorted(weapons) == sorted(r.id for r in rows[6:9])
    sev = _ids(client.get(_page(world) + "?severity=1&severity=2").get_data(as_text=True))
    assert sorted(sev) == sorted(r.id for r in rows[:6] if r.severity in (1, 2))
    dated = _ids(client.get(_page(world) + "?date_from=2025-03-02&date_to=2025-03-03")
                 .get_data(as_text=True))
    assert sorted(dated) == [rows[1].id, rows[2].id]
    by_import = client.get(_page(world) + f"?data_import_id={records['import'].id}")
    assert sorted(_ids(by_import.get_data(as_text=True))) == sorted(r.id for r in rows[6:9])
    by_source = _ids(client.get(_page(world) + f"?source_agency_id={records['police'].id}")
                     .get_data(as_text=True))
    assert sorted(by_source) == sorted(r.id for r in rows[6:9])
    oldest = _ids(client.get(_page(world) + "?sort=oldest").get_data(as_text=True))
    assert oldest == newest_first[::-1]
    severity = _ids(client.get(_page(world) + "?sort=severity").get_data(as_text=True))
    by_id = {r.id: r for r in rows}
    assert [by_id[i].severity for i in severity] == sorted(
        (r.severity for r in rows[:9]), reverse=True)


def test_bad_filters_are_explained_not_a_500(client: Any, auth: AuthActions, world: World,
                                             records: dict[str, Any]) -> None:
    _login(client, auth)
    r = client.get(_page(world) + "?severity=9&sort=sideways")
    assert r.status_code == 422 and "were not understood" in r.get_data(as_text=True)
    r = client.get(_page(world) + "?date_from=2025-04-01&date_to=2025-03-01")
    assert r.status_code == 422 and "after" in r.get_data(as_text=True)


def test_pages_of_fifty(client: Any, auth: AuthActions, world: World,
                        session: Session) -> None:
    session.add_all(Incident(pilot_id=world.pilot.id,
                             location=from_shape(Point(-1.49, 52.505), srid=4326),
                             occurred_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
                             + dt.timedelta(hours=i), category="asb") for i in range(120))
    session.flush()
    _login(client, auth)
    first = client.get(_page(world)).get_data(as_text=True)
    third = client.get(_page(world) + "?page=3").get_data(as_text=True)
    assert len(_ids(first)) == 50 and len(_ids(third)) == 20
    assert "Page 3 of 3" in third and not set(_ids(first)) & set(_ids(third))


def test_csv_download_follows_the_filter_and_is_audited(
        client: Any, auth: AuthActions, world: World, records: dict[str, Any],
        session: Session) -> None:
    _login(client, auth)
    r = client.get(f"{_page(world)}.csv?category=drugs")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert {row["category"] for row in table} == {"Drugs"} and len(table) == 3
    assert "description" in table[0]
    first = next(row for row in table if row["id"] == str(records["rows"][0].id))
    assert first["external_ref"] == "'=HAND-0"  # formula neutralised
    event = session.scalar(select(AuditEvent).where(
        AuditEvent.action == "export", AuditEvent.entity == "incident"))
    assert event is not None and event.personal_data and event.detail["incidents"] == 3


def test_partners_and_outsiders_do_not_reach_the_table(
        client: Any, auth: AuthActions, world: World, records: dict[str, Any]) -> None:
    _login(client, auth, "partner_reviewer")
    assert client.get(_page(world)).status_code == 403
    assert client.get(_page(world) + ".csv").status_code == 403
    assert 'id="incidents-link"' not in client.get(
        f"/pilots/{world.pilot.id}").get_data(as_text=True)
    auth.logout()
    _login(client, auth, "outsider")
    assert client.get(_page(world)).status_code == 404


def test_edit_and_delete_an_incident_from_the_page(
        client: Any, auth: AuthActions, world: World, records: dict[str, Any],
        session: Session) -> None:
    token = _login(client, auth)
    inc = records["rows"][1]
    url = f"{_page(world)}/{inc.id}"
    page = client.get(url).get_data(as_text=True)
    assert "Restricted note 1" in page and 'name="version" value="1"' in page
    form = {"csrf_token": token, "version": "1", "occurred_at": "2025-03-02T17:00",
            "time_precision": "exact", "category": "weapons", "severity": "5",
            "place_id": str(world.places["park"].id), "source_agency_id": "",
            "lon": "-1.49", "lat": "52.505", "lon_was": "-1.49", "lat_was": "52.505",
            "external_ref": "HAND-1", "description": "Changed note", "back": "category=asb"}
    r = client.post(url, data=form)
    assert r.status_code == 302 and r.headers["Location"].endswith("incidents?category=asb")
    session.refresh(inc)
    assert (inc.category, inc.severity, inc.place_id, inc.description, inc.version) == (
        "weapons", 5, world.places["park"].id, "Changed note", 2)
    stale = client.post(url, data={**form, "severity": "1"})
    assert stale.status_code == 409 and "changed by someone else" in stale.get_data(as_text=True)
    session.refresh(inc)
    assert inc.severity == 5
    bad = client.post(url, data={**form, "version": "2", "lon": "-1.49", "lat": "95"})
    assert bad.status_code == 422
    r = client.post(f"{url}/delete", data={"csrf_token": token, "confirm": "on"})
    assert r.status_code == 302
    gone = inc.id
    session.expunge(inc)
    assert session.scalar(select(Incident.id).where(Incident.id == gone)) is None


def test_the_map_shows_one_import(client: Any, auth: AuthActions, world: World,
                                  records: dict[str, Any]) -> None:
    _login(client, auth)
    base = (f"/api/v1/pilots/{world.pilot.id}/incidents/map?bbox=-1.5,52.5,-1.48,52.51"
            f"&zoom=16")
    assert client.get(base).json["total"] == 9
    one = client.get(base + f"&data_import_id={records['import'].id}").json
    assert one["total"] == 3
    listed = client.get(f"/api/v1/pilots/{world.pilot.id}/incidents"
                        f"?data_import_id={records['import'].id}").json
    assert {i["data_import_id"] for i in listed["items"]} == {records["import"].id}
    auth.logout()
    _login(client, auth, "partner_reviewer")
    refused = client.get(base + f"&data_import_id={records['import'].id}")
    assert refused.status_code == 422
