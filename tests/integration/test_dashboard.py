"""The partnership dashboard on PostGIS: districts, suppression for partners, exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from geoalchemy2.shape import from_shape
from openpyxl import load_workbook
from shapely.geometry import box
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.assessment.disclosure import TableSpec, attack, round_to_base
from locmap.errors import NotFound
from locmap.models import AuditEvent, Feature, FeatureLayer, Person, Presence
from locmap.queries import dashboard as q
from locmap.services import dashboard
from locmap.services.accounts import actor_for
from tests.factories import World

AS_OF = dt.date(2026, 11, 22)
QUARTER = dt.date(2026, 9, 30)  # the last quarter end on or before AS_OF: what partners see
RECORDED = dt.datetime(2025, 2, 1, 12, tzinfo=dt.UTC)
# (category, case status, district via place, how many, last risk assessment)
PLANTED = [
    ("cse_1", "early_help", "park", 2, dt.date(2026, 11, 1)),
    ("cce", "open_case", "park", 8, dt.date(2026, 11, 1)),
    ("cce", "child_protection", "cafe", 9, dt.date(2026, 6, 1)),
    ("missing", "child_in_need", "cafe", 3, None),
    ("none", "not_open", "cafe", 12, None),
    ("cse_2", "child_in_need", None, 1, dt.date(2026, 11, 20)),
]


@pytest.fixture
def pilot(session: Session, world: World) -> World:
    """The world's pilot with two districts and 35 young people, small counts planted."""
    layer = FeatureLayer(pilot_id=world.pilot.id, name="districts", source="test")
    session.add(layer)
    session.flush()
    for name, geom in (("West", box(-1.50, 52.50, -1.4925, 52.509)),
                       ("East", box(-1.4925, 52.50, -1.485, 52.509))):
        session.add(Feature(layer_id=layer.id, name=name, properties={"name": name},
                            geom=from_shape(geom, srid=4326)))
    # The world's own young person (YP-001) is recorded by the clock, i.e. today, but the
    # board is read as of the fixed AS_OF: date the record just before AS_OF (as it was when
    # these tests were written), or it counts only while today is before AS_OF.
    assert world.person is not None
    world.person.created_at = dt.datetime.combine(AS_OF - dt.timedelta(days=1), dt.time(12),
                                                  dt.UTC)
    n = 100
    for cat, status, place, count, last in PLANTED:
        for _ in range(count):
            n += 1
            p = Person(pilot_id=world.pilot.id, pseudonym=f"YP-{n}", kind="young_person",
                       age_band="14-15", exploitation_category=cat, case_status=status,
                       last_risk_assessment_on=last, created_at=RECORDED)
            session.add(p)
            session.flush()
            if place:
                session.add(Presence(person_id=p.id, place_id=world.places[place].id))
    session.commit()
    return world


def board_for(session: Session, w: World, role: str, **kw: Any) -> dashboard.Dashboard:
    kw.setdefault("as_of", AS_OF)
    kw.setdefault("threshold", 5)
    return dashboard.dashboard(session, actor_for(session, w.users[role]), w.pilot.id, **kw)


def test_district_is_the_polygon_containing_the_centre_of_a_young_persons_places(
        session: Session, pilot: World) -> None:
    records = q.young_people(session, pilot.pilot.id, AS_OF)
    assert q.district_names(session, pilot.pilot.id) == ["East", "West"]
    by = {}
    for r in records:
        by.setdefault((r.exploitation_category, r.district), 0)
        by[(r.exploitation_category, r.district)] += 1
    assert by[("cse_1", "West")] == 2 and by[("cce", "West")] == 8
    assert by[("cce", "East")] == 9 and by[("missing", "East")] == 3
    assert by[("cse_2", None)] == 1
    assert by[(None, None)] == 1  # the world's YP-001: nothing recorded, no place
    assert {r.recorded_on for r in records if r.exploitation_category} == {RECORDED.date()}


def test_owning_team_sees_exact_numbers(session: Session, pilot: World) -> None:
    board = board_for(session, pilot, "practitioner")
    assert not board.suppressed and board.young_people == 36
    t = board.tables[0].table
    assert t.col_labels == ("East", "West", "Unknown district", "Total")
    row = dict(zip(t.row_labels, t.display, strict=True))
    assert row["CSE category 1"] == ("0", "2", "0", "2")
    assert row["Missing from home"] == ("3", "0", "0", "3")


def _specs_and_links(board: dashboard.Dashboard) -> tuple[list[TableSpec], list[Any]]:
    """The structure a reader knows, written out independently of the service: which
    margins each table prints, and which printed numbers count the same young people."""
    t = {p.key: p for p in board.tables}
    specs = [TableSpec(p.key, [[0] * (len(p.table.col_labels) - 1)] * (len(p.table.row_labels) - 1),
                       row_totals=p.show_row_totals) for p in board.tables]
    cats, dists = len(t["by_district"].table.row_labels), len(t["by_district"].table.col_labels)
    statuses, quarters = len(t["by_case_status"].table.col_labels), len(t["trend"].table.col_labels)
    assert t["trend"].table.col_labels[-2] == board.as_of.isoformat()
    links = [(("by_district", i, dists - 1), ("by_case_status", i, statuses - 1))
             for i in range(cats)]
    links += [(("by_district", i, dists - 1), ("trend", i, quarters - 2)) for i in range(cats)]
    links += [(("by_district", cats - 1, j), ("risk_assessment", j, 3)) for j in range(dists)]
    return specs, links


@pytest.mark.parametrize("role,kw", [("partner_reviewer", {}),
                                     ("partner_reviewer", {"partner_view": False}),
                                     ("coordinator", {"partner_view": True})])
def test_a_partners_quarter_passes_the_joint_lp_audit_across_all_its_tables(
        session: Session, pilot: World, role: str, kw: dict[str, Any]) -> None:
    partner = board_for(session, pilot, role, **kw)
    assert partner.suppressed and partner.as_of == QUARTER  # AS_OF is not a quarter end
    exact = dashboard.dashboard(session, actor_for(session, pilot.users["coordinator"]),
                                pilot.pilot.id, as_of=QUARTER, threshold=5)
    truth = {(e.key, i, j): v for e in exact.tables
             for i, row in enumerate(e.table.values) for j, v in enumerate(row)}
    small = 0
    for p in partner.tables:
        for i, row in enumerate(p.table.values):
            for j, shown in enumerate(row):
                value, flag = truth[(p.key, i, j)], p.table.flags[i][j]
                if flag == "absent":
                    assert not p.show_row_totals and shown is None
                    continue
                if 0 < value < 5:
                    small += 1
                    assert flag == "withheld" and p.table.display[i][j] == "[c]", (p.key, i, j)
                if flag == "published":
                    assert shown == round_to_base(value) and shown % 5 == 0
                else:
                    assert shown is None
        assert "rounded to the nearest 5" in p.table.rule_text
    specs, links = _specs_and_links(partner)
    intervals = attack(specs, {p.key: p.table.values for p in partner.tables}, links=links)
    assert intervals
    for ref, (low, high) in intervals.items():
        assert high - low >= 5, (ref, low, high)  # at least the threshold wide
        assert low <= truth[ref] <= high
    assert small >= 6  # the planted small counts really were there to protect


def test_an_arbitrary_date_is_not_computed_for_partners(
        session: Session, pilot: World, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[dt.date] = []
    real = q.young_people

    def spy(session: Session, pilot_id: int, as_of: dt.date) -> Any:
        asked.append(as_of)
        return real(session, pilot_id, as_of)

    monkeypatch.setattr(dashboard.q, "young_people", spy)
    boards = [board_for(session, pilot, "partner_reviewer", as_of=d)
              for d in (AS_OF, dt.date(2026, 10, 1), QUARTER)]
    assert set(asked) == {QUARTER}
    assert all(b.to_dict()["tables"] == boards[0].to_dict()["tables"] for b in boards)
    assert [b.snapped for b in boards] == [True, True, False]
    # the owning team keeps exact arbitrary dates
    asked.clear()
    assert board_for(session, pilot, "coordinator").as_of == AS_OF and asked == [AS_OF]


def test_the_page_prints_withheld_cells_and_the_rule_for_the_reviewer(
        client: Any, auth: Any, pilot: World) -> None:
    url = f"/pilots/{pilot.pilot.id}/dashboard?as_of={AS_OF}"
    auth.login("partner_reviewer@test.invalid")
    html = client.get(url).get_data(as_text=True)
    assert 'class="n flag-withheld"' in html and "[c]" in html and "&lt;5" not in html
    assert ("figures at quarter ends, rounded to the nearest 5, small numbers withheld"
            in html)
    assert 'id="dash-snapped"' in html and QUARTER.isoformat() in html
    assert '<select name="as_of" id="dash-quarter">' in html
    assert f'<option value="{QUARTER.isoformat()}" selected>' in html
    assert 'type="date"' not in html  # no free date for partners
    assert "exact numbers</label>" not in html  # no toggle for partners
    assert "YP-1" not in html  # counts only
    # asking for the exact version changes nothing for a partner
    assert 'class="n flag-withheld"' in client.get(url + "&view=exact").get_data(as_text=True)
    quarter = client.get(f"/pilots/{pilot.pilot.id}/dashboard?as_of={QUARTER}")
    assert 'id="dash-snapped"' not in quarter.get_data(as_text=True)


def test_the_team_sees_exact_and_can_preview_the_partner_version(
        client: Any, auth: Any, pilot: World) -> None:
    url = f"/pilots/{pilot.pilot.id}/dashboard?as_of={AS_OF}"
    auth.login("coordinator@test.invalid")
    html = client.get(url).get_data(as_text=True)
    assert "flag-withheld" not in html and "Exact numbers" in html
    assert f'type="date" name="as_of" value="{AS_OF.isoformat()}"' in html
    assert "partner version (suppressed)" in html
    preview = client.get(url + "&view=partner").get_data(as_text=True)
    assert "flag-withheld" in preview and "[c]" in preview and 'id="dash-snapped"' in preview


def test_api_json_has_display_strings_and_flags(client: Any, auth: Any, pilot: World) -> None:
    auth.login("partner_reviewer@test.invalid")
    doc = client.get(f"/api/v1/pilots/{pilot.pilot.id}/dashboard?as_of={AS_OF}").get_json()
    assert doc["suppressed"] is True and doc["threshold"] == 5
    assert doc["as_of"] == QUARTER.isoformat() and doc["requested_as_of"] == AS_OF.isoformat()
    assert doc["quarters"][0] == QUARTER.isoformat() or doc["quarters"][0] > QUARTER.isoformat()
    t = doc["tables"][0]
    assert t["key"] == "by_district"
    cells = [(d, v, f) for dr, vr, fr in zip(t["display"], t["values"], t["flags"], strict=True)
             for d, v, f in zip(dr, vr, fr, strict=True)]
    assert any(d == "[c]" and v is None and f == "withheld" for d, v, f in cells)
    assert all((v is None) == (f != "published") for _, v, f in cells)
    assert all(v % 5 == 0 for _, v, _ in cells if v is not None)
    assert client.get(f"/api/v1/pilots/{pilot.pilot.id}/dashboard?as_of=nope").status_code == 422


def _audits(session: Session, pilot_id: int) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "dashboard", AuditEvent.pilot_id == pilot_id)))


def test_exports_carry_the_same_suppression_and_are_audited(
        session: Session, client: Any, auth: Any, pilot: World) -> None:
    auth.login("partner_reviewer@test.invalid")
    base = f"/api/v1/pilots/{pilot.pilot.id}/dashboard"
    board = board_for(session, pilot, "partner_reviewer")
    expected = [row for t in board.tables for row in t.rows()]

    res = client.get(f"{base}.csv?as_of={AS_OF}")
    assert res.status_code == 200 and "attachment" in res.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(res.get_data(as_text=True).lstrip("\ufeff"))))
    for row in expected:
        assert row in rows
    text = res.get_data(as_text=True)
    assert "[c]" in text and "Suppression threshold: 5." in text and "No pseudonyms" in text
    assert "rounded to the nearest 5" in text and f"as of {QUARTER.isoformat()}" in text

    res = client.get(f"{base}.xlsx?as_of={AS_OF}")
    wb = load_workbook(io.BytesIO(res.data))
    ws = wb["by_district"]
    sheet = [["" if c is None else str(c) for c in r] for r in ws.iter_rows(values_only=True)]
    assert board.tables[0].rows()[1] in [r[:len(board.tables[0].rows()[1])] for r in sheet]
    assert any("[c]" in cell for r in sheet for cell in r)

    events = _audits(session, pilot.pilot.id)
    assert sorted(e.detail["format"] for e in events) == ["csv", "xlsx"]
    assert all(e.action == "export" and e.detail["suppressed"] for e in events)


def test_export_cells_are_formula_neutralised(session: Session, pilot: World) -> None:
    feature = session.scalars(select(Feature).where(Feature.name == "West")).one()
    feature.name = "=HYPERLINK(\"http://x\")"
    session.flush()
    body, _, _ = dashboard.export_dashboard(
        session, actor_for(session, pilot.users["coordinator"]), pilot.pilot.id, "csv",
        as_of=AS_OF, threshold=5)
    header = next(r for r in csv.reader(io.StringIO(body.decode("utf-8-sig")))
                  if "East" in r)
    assert "'=HYPERLINK(\"http://x\")" in header


def test_outsiders_get_404(session: Session, client: Any, auth: Any, pilot: World) -> None:
    with pytest.raises(NotFound):
        board_for(session, pilot, "outsider")
    auth.login("outsider@test.invalid")
    for url in (f"/pilots/{pilot.pilot.id}/dashboard",
                f"/api/v1/pilots/{pilot.pilot.id}/dashboard",
                f"/api/v1/pilots/{pilot.pilot.id}/dashboard.csv"):
        assert client.get(url).status_code == 404, url
    assert _audits(session, pilot.pilot.id) == []
