"""Numbers that agreed nowhere (issue 16): analysis pages on sparse data, one rule for "an
incident is at the place", review points per period, the displacement watch's two inputs,
neutral police categories and strengths that need no action."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from locmap.models import Assessment, ContextWeight, Incident, Plan
from locmap.queries import assessment as aq
from locmap.queries.at_place import PLACE_REACH_M
from locmap.queries.impact import watch_sources
from locmap.services import kpis
from locmap.services.accounts import actor_for
from locmap.services.assessment_snapshot import compute_indicators
from locmap.services.displacement import watch
from locmap.services.impact import place_impact
from tests import factories
from tests.integration.test_impact_constructed import LIBRARY, plant, town  # noqa: F401

CAFE = "SRID=4326;POINT(-1.49 52.505)"
CORNER = "SRID=4326;POINT(-1.4995 52.5088)"


def _incidents(session: Session, pilot_id: int, where: str, *days: dt.date) -> None:
    session.execute(insert(Incident), [
        {"pilot_id": pilot_id, "location": where, "time_precision": "exact",
         "occurred_at": dt.datetime(d.year, d.month, d.day, 15, tzinfo=dt.UTC),
         "category": "asb", "severity": 2} for d in days])


def _alert(page: str) -> str:
    m = re.search(r'role="alert"[^>]*>([^<]*)<', page)
    return html.unescape(m.group(1)) if m else ""


def test_impact_page_on_sparse_data_shows_no_interval_instead_of_a_500(
        client: Any, auth: Any, session: Session, world: factories.World) -> None:
    pid, cafe, park = world.pilot.id, world.places["cafe"].id, world.places["park"].id
    # Three incidents at the cafe, all before the change, one in the control after it:
    # the time series cannot be estimated with intervals.
    _incidents(session, pid, CAFE, dt.date(2024, 3, 3), dt.date(2024, 5, 3),
               dt.date(2024, 9, 3))
    _incidents(session, pid, CORNER, dt.date(2025, 4, 3))
    session.commit()
    auth.login("practitioner@test.invalid")
    for place in (cafe, park):  # park: no incident at it at all
        for query in ("", "?intervention=2025-01-01"):
            r = client.get(f"/pilots/{pid}/places/{place}/impact{query}")
            assert r.status_code == 200, (place, query)
            page = r.get_data(as_text=True)
            assert 'id="area-table"' in page and "None" not in page
    page = client.get(f"/pilots/{pid}/places/{cafe}/impact?intervention=2025-01-01"
                      ).get_data(as_text=True)
    assert "no interval: too few incidents on one side of the date" in page


def test_impact_page_with_no_incidents_at_all_says_what_is_missing(
        client: Any, auth: Any, world: factories.World) -> None:
    pid = world.pilot.id
    auth.login("practitioner@test.invalid")
    r = client.get(f"/pilots/{pid}/places/{world.places['cafe'].id}/impact")
    assert r.status_code == 422
    assert _alert(r.get_data(as_text=True)) == (
        "There are no incidents in this pilot's area to compare.")
    r = client.get(f"/pilots/{pid}/places/{world.places['chat'].id}/impact")
    assert r.status_code == 422 and "no map location" in _alert(r.get_data(as_text=True))
    for url in (f"/pilots/{pid}/displacement", f"/pilots/{pid}/dashboard",
                f"/pilots/{pid}/places/{world.places['cafe'].id}/assessments/new"):
        assert client.get(url).status_code == 200, url


def _at(session: Session, pilot_id: int, lon: float, lat: float, day: dt.date,
        place_id: int | None = None) -> None:
    session.execute(insert(Incident), [{
        "pilot_id": pilot_id, "location": f"SRID=4326;POINT({lon} {lat})",
        "place_id": place_id, "time_precision": "exact", "category": "asb", "severity": 2,
        "occurred_at": dt.datetime(day.year, day.month, day.day, 15, tzinfo=dt.UTC)}])


def _pdf_figure(pdf: bytes, name: str, tmp_path: Path) -> str | None:
    """The value printed after ``name`` in the PDF's text (None without pdftotext)."""
    if not shutil.which("pdftotext"):
        return None
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    # The figures table: the name may wrap over two lines around its value's.
    at = text.find(name.split()[0] + " " + name.split()[1])
    assert at >= 0, text
    m = re.search(r"^\s*\S.*?\s{3,}([\d,]+|\[c\])\s*$|^\s+([\d,]+|\[c\])\s*$",
                  text[at:at + 600], flags=re.M)
    assert m, text[at:at + 600]
    return m.group(1) or m.group(2)


def _listed(client: Any, pid: int, place_id: int, query: str = "") -> int:
    """The incident list's total for the place filter ("N incidents")."""
    page = client.get(f"/pilots/{pid}/incidents?place_id={place_id}{query}").get_data(
        as_text=True)
    m = re.search(r'id="incident-total"[^>]*>\s*<strong>([\d,]+)</strong>', page)
    assert m, page[:3000]
    return int(m.group(1).replace(",", ""))


def test_every_view_counts_the_same_incidents_at_a_place(
        client: Any, auth: Any, session: Session, world: factories.World,
        tmp_path: Path) -> None:
    """The rule of locmap/queries/at_place.py, in every view: the place page, the
    workspace list, the incident list, the assessment and its PDF report, the impact
    analysis, the displacement watch, KPI (b), the review point, the board pack and the
    export give the same count for the same place and period. Incidents in two periods
    (all of 2024, and the pilot's first review period in 2025), so a view that ignores
    its period gives another number."""
    from locmap.services import place_series, timeline

    pid, cafe, park = world.pilot.id, world.places["cafe"], world.places["park"]
    lon, lat = -1.49, 52.505  # the cafe, a point place
    east30, east70 = 30 / 67_800, 70 / 67_800  # degrees of longitude at 52.5° N
    assert PLACE_REACH_M == 50.0
    for m in (1, 4, 7):  # at the cafe, imported before it was drawn: no place_id
        _at(session, pid, lon, lat, dt.date(2024, m, 5))
    for m in (2, 9):  # 30 m away, recorded under the park by mistake: at the cafe
        _at(session, pid, lon + east30, lat, dt.date(2024, m, 5), place_id=park.id)
    for m in (3, 10):  # recorded under the cafe but 70 m away: not at it
        _at(session, pid, lon + east70, lat, dt.date(2024, m, 5), place_id=cafe.id)
    for m in (5, 6):  # inside the park polygon
        _at(session, pid, -1.494, 52.5025, dt.date(2024, m, 5))
    _at(session, pid, -1.4995, 52.5088, dt.date(2025, 2, 5))  # the control, after 2024
    # The first review period (from the pilot's start, 6 Jan 2025): two at the cafe (one
    # filed under the park), one 70 m away filed under the cafe, one in the park.
    _at(session, pid, lon, lat, dt.date(2025, 2, 10))
    _at(session, pid, lon + east30, lat, dt.date(2025, 3, 10), place_id=park.id)
    _at(session, pid, lon + east70, lat, dt.date(2025, 2, 20), place_id=cafe.id)
    _at(session, pid, -1.494, 52.5025, dt.date(2025, 3, 1))
    a = Assessment(place_id=cafe.id, version_no=1, status="approved")
    session.add(a)
    session.flush()
    session.add(ContextWeight(assessment_id=a.id, name="Test Cafe", share=100,
                              reason="Where the dealing is", kind="place"))
    # The snapshot stored when it was submitted (every incident by then: all of them).
    a.indicators = compute_indicators(session, aq.place_row(session, cafe.id))
    plan = Plan(assessment_id=a.id, version_no=1, starts_on=dt.date(2025, 1, 1))
    session.add(plan)
    session.flush()
    session.add_all(kpis.suggested_kpis(plan.id))
    session.commit()
    in_2024 = {cafe.id: 5, park.id: 2}
    in_first_period = {cafe.id: 2, park.id: 1}
    all_time = {k: in_2024[k] + in_first_period[k] for k in in_2024}
    auth.login("coordinator@test.invalid")

    # The place page and the workspace's list of places (every incident).
    for place in (cafe, park):
        page = client.get(f"/pilots/{pid}/places/{place.id}").get_data(as_text=True)
        assert f'id="incident-count">{all_time[place.id]}<' in page
    listed = client.get(f"/api/v1/pilots/{pid}/places").get_json()["features"]
    assert {f["id"]: f["properties"]["incidents"] for f in listed
            if f["id"] in all_time} == all_time
    # The incident list filtered by place, over every date and then each period.
    for place in (cafe, park):
        assert _listed(client, pid, place.id) == all_time[place.id]
        assert _listed(client, pid, place.id, "&date_from=2024-01-01&date_to=2024-12-31") \
            == in_2024[place.id]
        assert _listed(client, pid, place.id, "&date_from=2025-01-06&date_to=2025-04-05") \
            == in_first_period[place.id]
    # The assessment page and its PDF report print the stored snapshot's count.
    page = client.get(f"/pilots/{pid}/assessments/{a.id}").get_data(as_text=True)
    assert re.search(r'id="incident-counts">\s*' + str(all_time[cafe.id]) + " incidents at",
                     page)
    r = client.get(f"/pilots/{pid}/assessments/{a.id}/report.pdf")
    assert r.status_code == 200 and r.data[:5] == b"%PDF-"
    printed = _pdf_figure(r.data, "Incidents at the place", tmp_path)
    assert printed in (None, str(all_time[cafe.id]))
    actor = actor_for(session, world.users["coordinator"], None)
    from locmap.services.report import report_data

    figures = {k: v for k, v, _ in report_data(session, actor, pid, "assessment", a.id,
                                                threshold=5)[
        "assessment"]["figures"]}
    assert figures["Incidents at the place"] == all_time[cafe.id]
    # The snapshot as of the end of 2024.
    for place in (cafe, park):
        row = aq.place_row(session, place.id)
        assert row is not None
        snap = compute_indicators(session, row, as_of=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        assert snap["incidents"]["place"] == in_2024[place.id]
    # The impact analysis: 2024 is "before" the change of 2025-01, the first period after.
    out = place_impact(session, actor, pid, cafe.id, intervention=dt.date(2025, 1, 1))
    assert (out["wdq"]["target"]["count_before"], out["wdq"]["target"]["count_after"]) == (
        in_2024[cafe.id], in_first_period[cafe.id])
    # The displacement watch's candidates (every incident).
    sources = {s.id: s.incidents for s in watch_sources(session, pid, place_m=PLACE_REACH_M)}
    assert {k: sources[k] for k in all_time} == all_time
    # KPI (b): its baseline is incidents per month over the 12 months before the plan.
    kpis.set_computed_baselines(session, plan)
    b = next(k for k in plan.kpis if k.kind == "b")
    assert b.baseline is not None and round(b.baseline * 12) == in_2024[cafe.id]
    # The first review point: what happened in its period.
    points = timeline.list_review_points(session, actor, pid, today=dt.date(2027, 1, 1))
    assert points[0]["due_on"] >= dt.date(2025, 4, 5)
    d1 = timeline.review_point_detail(session, actor, pid, points[0]["id"],
                                      today=dt.date(2027, 1, 1), threshold=5)
    assert {r["place"]: r["count"] for r in d1["incidents"]["by_place"]} == {
        cafe.name: in_first_period[cafe.id], park.name: in_first_period[park.id]}
    # The board pack's incidents by quarter: the four quarters of 2024.
    series = place_series.incidents_by_quarter(session, actor, pid, dt.date(2024, 12, 31),
                                               partner=False, threshold=5)
    totals = {row[0]: row[-1] for row in series["rows"]}
    assert (totals[cafe.name], totals[park.name]) == (in_2024[cafe.id], in_2024[park.id])
    # The export: every place an incident is at.
    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/api/v1/pilots/{pid}/export.csv").get_data(as_text=True))))
    for place_id, n in all_time.items():
        assert sum(str(place_id) in r["at_place_ids"].split(";") for r in rows) == n


def test_displacement_watch_uses_plans_and_the_month_together(
        session: Session, town: dict[str, Any]) -> None:  # noqa: F811
    """A plan at the library must not silence the cafe (no plan): the cafe is watched
    around the month set and its harm is seen moving to the library."""
    plant(session, town["pilot"], LIBRARY, 10, 25)
    lib = Assessment(place_id=town["library"].id, version_no=1, status="approved")
    session.add(lib)
    session.flush()
    session.add(Plan(assessment_id=lib.id, version_no=1, starts_on=dt.date(2025, 1, 1)))
    session.commit()
    coord = actor_for(session, town["world"].users["coordinator"], None)
    out = watch(session, coord, town["pilot"], month=dt.date(2025, 1, 1))
    assert out["selection"] == "plans_and_incidents"
    blocks = {b["place"]["name"]: b["month"] for b in out["places"]}
    assert blocks == {"Test Cafe": "2025-01", "Test Library": "2025-01"}
    assert [f["label"] for f in out["flags"]] == ["Test Cafe → Test Library"]
    # The month set moves only the place without a plan.
    later = watch(session, coord, town["pilot"], month=dt.date(2025, 6, 1))
    assert {b["place"]["name"]: b["month"] for b in later["places"]} == {
        "Test Cafe": "2025-06", "Test Library": "2025-01"}


def test_a_review_point_lists_only_what_belongs_to_its_period(
        client: Any, auth: Any, session: Session, world: factories.World) -> None:
    from locmap.services import timeline

    pid, cafe, park = world.pilot.id, world.places["cafe"], world.places["park"]
    coord = actor_for(session, world.users["coordinator"], None)
    points = timeline.list_review_points(session, coord, pid, today=dt.date(2027, 1, 1))
    first, second = points[0], points[1]
    end1 = first["due_on"]

    def at(day: dt.date) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC)

    waiting = Assessment(place_id=cafe.id, version_no=1, status="in_review",
                         submitted_at=at(end1 - dt.timedelta(days=20)))
    approved_later = Assessment(place_id=park.id, version_no=1, status="approved",
                                submitted_at=at(end1 - dt.timedelta(days=10)),
                                approved_at=at(end1 + dt.timedelta(days=5)))
    approved_in_time = Assessment(place_id=park.id, version_no=2, status="approved",
                                  submitted_at=at(end1 - dt.timedelta(days=9)),
                                  approved_at=at(end1 - dt.timedelta(days=2)))
    late = Assessment(place_id=cafe.id, version_no=2, status="in_review",  # 17 months on
                      submitted_at=at(end1 + dt.timedelta(days=520)))
    session.add_all([waiting, approved_later, approved_in_time, late])
    # An incident at the cafe in the first period (no place_id: counted by the rule).
    _at(session, pid, -1.49, 52.505, end1 - dt.timedelta(days=3))
    session.commit()
    d1 = timeline.review_point_detail(session, coord, pid, first["id"],
                                      today=dt.date(2027, 1, 1), threshold=5)
    assert {x["id"] for x in d1["awaiting_review"]} == {waiting.id, approved_later.id}
    assert d1["incidents"]["by_place"] == [{"place": "Test Cafe", "count": 1}]
    d2 = timeline.review_point_detail(session, coord, pid, second["id"],
                                      today=dt.date(2027, 1, 1), threshold=5)
    assert {x["id"] for x in d2["awaiting_review"]} == {waiting.id}
    assert d2["incidents"]["by_place"] == []
    auth.login("coordinator@test.invalid")
    page = client.get(f"/pilots/{pid}/review-points/{first['id']}").get_data(as_text=True)
    assert "Test Cafe — assessment v2" not in page and "Test Cafe — assessment v1" in page


def test_the_report_says_what_each_figure_means() -> None:
    from locmap.services.report import _figures

    snap = {"settings": {"ring_m": 500, "place_m": 50},
            "incidents": {"place": 12, "ring": 2078, "locality": 460, "place_ids": [1, 2]},
            "indicators": {"first_month": "2024-01", "last_month": "2025-06",
                           "overall": {"place_vs_ring": {"ratio": 0.05, "ci_low": 0.03,
                                                         "ci_high": 0.09}}}}
    rows = {name: (value, meaning) for name, value, meaning in
            _figures({"indicators": snap}, suppress=False, threshold=5)}
    assert rows["Incidents at the place"] == (
        12, "inside the place, or within 50 m of it when it is a point or a line from "
            "January 2024 to June 2025")
    assert rows["Incidents around it"][0] == 2078
    assert rows["Incidents around it"][1].startswith("within 500 m of the place but not at it")
    assert rows["Incidents in the rest of the locality"][0] == 460
    value, meaning = rows["Rate ratio, place vs the area around it"]
    assert value == "0.05" and meaning == (
        "per square kilometre the place has 0.05 times the rate of the 500 m around it "
        "(95% interval 0.03 to 0.09): fewer incidents for its size than its surroundings")
    # Partners: small counts are withheld (marked [c], as every partner figure).
    small = {"indicators": {**snap, "incidents": {"place": 3}}}
    assert _figures(small, suppress=True, threshold=5)[0][1] == "[c]"
    # ... and get no rate ratio: with the areas and its interval it gives the counts back.
    assert not any(name.startswith("Rate ratio") for name, _, _ in
                   _figures({"indicators": snap}, suppress=True, threshold=5))


def test_migration_0011_carries_mappings_both_ways() -> None:
    """0011 lets the neutral words in and keeps existing rows; going back to 0006 maps
    them to serious youth violence (the old default) instead of losing the rows."""
    import pytest
    from sqlalchemy import create_engine, exc, text

    from locmap.db import downgrade, upgrade
    from locmap.pgserver import drop_database
    from tests.conftest import _fresh_database

    url = _fresh_database("m0011")
    eng = create_engine(url)
    try:
        upgrade(url, "0006")
        pilot = ("INSERT INTO pilot (name, description, locality, start_date, "
                 "duration_months, review_interval_months, status, approval_rule, version) "
                 "VALUES ('Seed', '', ST_Multi(ST_MakeEnvelope(-1.5, 52.5, -1.49, 52.51, "
                 "4326)), '2025-01-06', 18, 3, 'active', 'all_named', 1) RETURNING id")
        mapping = ("INSERT INTO crime_type_mapping (pilot_id, crime_type, category) "
                   "VALUES (:p, :t, :c)")
        with eng.begin() as c:
            pid = c.execute(text(pilot)).scalar_one()
            c.execute(text(mapping), {"p": pid, "t": "Drugs", "c": "drugs"})
        with pytest.raises(exc.IntegrityError), eng.begin() as c:
            c.execute(text(mapping), {"p": pid, "t": "Robbery", "c": "robbery"})
        upgrade(url, "0011")
        with eng.begin() as c:
            c.execute(text(mapping), {"p": pid, "t": "Robbery", "c": "robbery"})
            c.execute(text("INSERT INTO incident (pilot_id, location, occurred_at, "
                           "time_precision, category, severity, place_derived, description, "
                           "version) VALUES (:p, ST_SetSRID(ST_MakePoint(-1.495, 52.505), "
                           "4326), '2025-03-01', 'month', 'violence_and_sexual_offences', 3, "
                           "false, '', 1)"),
                      {"p": pid})
        downgrade(url, "0006")
        with eng.connect() as c:
            got = dict(c.execute(text("SELECT crime_type, category FROM crime_type_mapping"
                                      )).tuples().all())
            cats = c.execute(text("SELECT category FROM incident")).scalars().all()
        assert got == {"Drugs": "drugs", "Robbery": "serious_youth_violence"}
        assert cats == ["serious_youth_violence"]
    finally:
        eng.dispose()
        drop_database(url)


def test_strengths_are_not_gaps_in_the_api_the_page_or_at_submission(
        client: Any, auth: Any, session: Session, world: factories.World) -> None:
    """A weight-3 resilience or resource factor needs no action and takes no reason; a
    weight-3 risk does (issue 16: strengths were counted as plan gaps)."""
    from locmap.models import SafetyFactor
    from locmap.services import assessments

    pid, cafe = world.pilot.id, world.places["cafe"].id
    practitioner = actor_for(session, world.users["practitioner"], None)
    a = assessments.start_assessment(session, practitioner, pid, cafe)
    factors = {q: SafetyFactor(place_id=cafe, assessment_id=a.id, quadrant=q, weight=3,
                               statement=f"A weighty {q}", voice="professional")
               for q in ("risk", "resilience", "resource")}
    session.add_all(factors.values())
    session.flush()
    assessments.submit_assessment(session, practitioner, pid, a.id)
    session.commit()
    auth.login("practitioner@test.invalid")
    csrf = re.search(r'name="csrf-token" content="([^"]+)"',
                     client.get("/").get_data(as_text=True))
    assert csrf
    headers = {"X-CSRFToken": csrf.group(1)}
    api = f"/api/v1/pilots/{pid}"
    r = client.post(f"{api}/assessments/{a.id}/plans", json={"starts_on": "2025-01-06"},
                    headers=headers)
    assert r.status_code == 201, r.get_json()
    plan_id = r.get_json()["id"]

    def factor_gaps() -> set[int]:
        gaps = client.get(f"{api}/plans/{plan_id}/gaps").get_json()["gaps"]
        return {g["factor_id"] for g in gaps if g["kind"] == "factor"}

    assert factor_gaps() == {factors["risk"].id}
    page = client.get(f"/pilots/{pid}/plans/{plan_id}").get_data(as_text=True)
    assert f'data-gap="factor-{factors["risk"].id}"' in page
    for q in ("resilience", "resource"):
        assert f'data-gap="factor-{factors[q].id}"' not in page
        # ... and a strength takes no reason either: there is nothing to explain.
        r = client.post(f"{api}/plans/{plan_id}/gap-reasons", headers=headers,
                        json={"factor_id": factors[q].id, "reason": "Not needed"})
        assert r.status_code == 422 and "strengths need no action" in r.get_json()["message"]
    # One action answers the risk: no factor is left without one, the strengths included,
    # and the plan is submitted.
    r = client.post(f"{api}/plans/{plan_id}/actions", headers=headers, json={
        "description": "Move the dealing away from the door", "category": "targeted_interventions",
        "factor_ids": [factors["risk"].id]})
    assert r.status_code == 201, r.get_json()
    assert factor_gaps() == set()
    r = client.post(f"{api}/plans/{plan_id}/submit", headers=headers, json={})
    assert r.status_code == 200, r.get_json()
    assert client.get(f"{api}/plans/{plan_id}").get_json()["status"] == "in_review"
    assert factor_gaps() == set()
