"""Map cells from map_cell_count (migration 0008) equal clustering the incidents directly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from locmap.db import downgrade, upgrade
from locmap.pgserver import drop_database
from locmap.queries import incidents as q
from tests.conftest import AuthActions, _fresh_database
from tests.factories import World

# A town of 0.12 x 0.09 degrees around the test pilot's locality: several zoom-12 cells.
TOWN = (-1.56, 52.46, -1.44, 52.55)

_SEED = """
    INSERT INTO incident (pilot_id, location, occurred_at, time_precision, category,
                          severity, place_derived, description, version)
    SELECT :pid,
           ST_SetSRID(ST_MakePoint(-1.56 + random() * 0.12, 52.46 + random() * 0.09), 4326),
           timestamptz '2024-11-01 00:00+00' + random() * interval '240 days',
           'exact', (ARRAY['asb', 'drugs', 'cce', 'weapons'])[1 + g % 4], 1 + g % 5,
           false, '', 1
    FROM generate_series(1, :n) AS g
"""


def _seed(session: Session, pilot_id: int, n: int) -> None:
    session.execute(text("SELECT setseed(0.13)"))
    session.execute(text(_SEED), {"pid": pilot_id, "n": n})
    # Local-month edges: 23:30 UTC on 31 March 2025 is 1 April in London (BST).
    session.execute(text(
        "INSERT INTO incident (pilot_id, location, occurred_at, time_precision, category, "
        "severity, place_derived, description, version) VALUES "
        "(:p, ST_SetSRID(ST_MakePoint(-1.5, 52.5), 4326), '2025-03-31 23:30+00', 'exact', "
        "'asb', 5, false, '', 1), "
        "(:p, ST_SetSRID(ST_MakePoint(-1.5, 52.5), 4326), '2025-01-31 23:30+00', 'exact', "
        "'asb', 4, false, '', 1)"), {"p": pilot_id})


FILTERS = [
    q.IncidentFilter(),
    q.IncidentFilter(categories=("asb", "cce")),
    q.IncidentFilter(date_from=dt.date(2025, 1, 1), date_to=dt.date(2025, 3, 31)),
    q.IncidentFilter(date_from=dt.date(2025, 4, 1)),
    q.IncidentFilter(date_to=dt.date(2025, 1, 31), categories=("asb",)),
]
VIEWS = [(TOWN, 12), (TOWN, 13), (TOWN, 14), ((-1.5512, 52.4633, -1.4471, 52.5410), 12),
         ((-1.5512, 52.4633, -1.4471, 52.5410), 13),
         ((-1.5512, 52.4633, -1.4471, 52.5410), 14), ((-3.0, 51.5, 0.1, 53.9), 6),
         ((-1.7, 52.3, -1.3, 52.7), 9)]


def _cells(session: Session, pilot_id: int, bbox: Any, zoom: int, f: q.IncidentFilter,
           use_counts: bool) -> dict[tuple[int, int], dict[str, Any]]:
    rows = q.map_cells(session, pilot_id, bbox, zoom, f, use_counts=use_counts)
    out = {(c["gx"], c["gy"]): c for c in rows}
    assert len(out) == len(rows)  # a cell comes from the counts or the edge, never both
    return out


def _assert_same(session: Session, pilot_id: int) -> None:
    for bbox, zoom in VIEWS:
        for f in FILTERS:
            counted = _cells(session, pilot_id, bbox, zoom, f, True)
            direct = _cells(session, pilot_id, bbox, zoom, f, False)
            assert counted.keys() == direct.keys(), (bbox, zoom, f)
            for key, c in counted.items():
                d = direct[key]
                assert (c["n"], c["max_severity"]) == (d["n"], d["max_severity"]), (key, f)
                assert c["lon"] == pytest.approx(d["lon"], abs=1e-9)
                assert c["lat"] == pytest.approx(d["lat"], abs=1e-9)
    assert session.scalar(text("SELECT count(*) FROM map_cell_count WHERE n <= 0")) == 0


def test_counted_cells_equal_direct_clustering_through_inserts_updates_deletes(
    session: Session, world: World
) -> None:
    pid, other = world.pilot.id, world.other_pilot.id
    _seed(session, pid, 3000)
    _assert_same(session, pid)
    total = session.scalar(text("SELECT count(*) FROM incident WHERE pilot_id = :p"),
                           {"p": pid})
    assert q.pilot_incident_total(session, pid) == total == 3002
    # The counts are really read: spoil one counted cell and the answer changes.
    session.execute(text("SAVEPOINT spoil"))
    session.execute(text("UPDATE map_cell_count SET n = n + 1000 WHERE pilot_id = :p "
                         "AND zoom = 12"), {"p": pid})
    spoilt = q.map_cells(session, pid, TOWN, 12, q.IncidentFilter())
    assert sum(c["n"] for c in spoilt) > total
    session.execute(text("ROLLBACK TO SAVEPOINT spoil"))

    # Moves (within and across cells), new categories, severities and months, another
    # pilot, rows that change nothing counted, and deletes.
    session.execute(text(
        "UPDATE incident SET location = ST_Translate(location, 0.013, -0.007) "
        "WHERE pilot_id = :p AND id % 7 = 0"), {"p": pid})
    session.execute(text(
        "UPDATE incident SET category = 'drugs', severity = 1 + (id % 3), "
        "occurred_at = occurred_at + interval '17 days' WHERE pilot_id = :p AND id % 5 = 0"),
        {"p": pid})
    session.execute(text("UPDATE incident SET location = ST_Translate(location, 1e-7, 0) "
                         "WHERE pilot_id = :p AND id % 11 = 0"), {"p": pid})
    session.execute(text("UPDATE incident SET description = 'x' WHERE pilot_id = :p "
                         "AND id % 3 = 0"), {"p": pid})
    session.execute(text("UPDATE incident SET pilot_id = :o WHERE pilot_id = :p "
                         "AND id % 13 = 0"), {"p": pid, "o": other})
    session.execute(text("DELETE FROM incident WHERE pilot_id = :p AND id % 4 = 1"),
                    {"p": pid})
    _assert_same(session, pid)
    _assert_same(session, other)
    session.execute(text("DELETE FROM incident WHERE pilot_id IN (:p, :o)"),
                    {"p": pid, "o": other})
    assert session.scalar(text("SELECT count(*) FROM map_cell_count")) == 0
    assert q.pilot_incident_total(session, pid) == 0


def test_partner_map_and_team_map_are_unchanged_by_the_counts(
    session: Session, world: World, client: Any, auth: AuthActions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _seed(session, world.pilot.id, 3000)
    session.commit()
    url = (f"/api/v1/pilots/{world.pilot.id}/incidents/map?zoom=12&bbox="
           + ",".join(map(str, TOWN)))
    answers: dict[str, list[Any]] = {}
    for role in ("partner_reviewer", "practitioner"):
        auth.login(f"{role}@test.invalid")
        # The pilot's card counts from map_cell_count; partners get it as every count.
        card = client.get(f"/api/v1/pilots/{world.pilot.id}").get_json()
        home = client.get("/").get_data(as_text=True)
        if role == "partner_reviewer":
            assert (card["incidents"], card["incidents_label"]) == (3000, "about 3000")
            assert "about 3000 incidents" in home
        else:
            assert (card["incidents"], card["incidents_label"]) == (3002, None)
            assert "3,002 incidents" in home
        for dates in ("", "&date_from=2025-02-10&date_to=2025-05-02"):
            answers.setdefault(role, []).append(client.get(url + dates).get_json())
        auth.logout()
    monkeypatch.setattr(q, "AGG_ZOOMS", range(0))  # every cell clustered directly
    for role in ("partner_reviewer", "practitioner"):
        auth.login(f"{role}@test.invalid")
        for i, dates in enumerate(("", "&date_from=2025-02-10&date_to=2025-05-02")):
            direct, counted = client.get(url + dates).get_json(), answers[role][i]
            key = lambda c: tuple(c["geometry"]["coordinates"])  # noqa: E731
            if role == "partner_reviewer":  # cells at their centres: identical
                assert sorted(direct["features"], key=key) == sorted(counted["features"],
                                                                     key=key)
                assert counted["suppressed"] and counted["total"] == direct["total"] > 0
            else:
                assert counted["total"] == direct["total"] > 0
                pairs = zip(sorted(direct["features"], key=key),
                            sorted(counted["features"], key=key), strict=True)
                for a, b in pairs:
                    assert a["properties"] == b["properties"]
                    assert a["geometry"]["coordinates"] == pytest.approx(
                        b["geometry"]["coordinates"], abs=2e-6)
        auth.logout()


@pytest.fixture
def url_at_0006() -> Iterator[str]:
    url = _fresh_database("mapcell")
    upgrade(url, "0006")
    yield url
    drop_database(url)


_OLD_PILOT = text(
    "INSERT INTO pilot (name, description, locality, start_date, duration_months, "
    "review_interval_months, status, approval_rule, version) VALUES ('Old', '', "
    "ST_Multi(ST_MakeEnvelope(-1.5, 52.5, -1.49, 52.51, 4326)), '2025-01-06', 18, "
    "3, 'active', 'all_named', 1) RETURNING id")


def _zoom_totals(session: Session) -> dict[int, int]:
    return dict(session.execute(text(
        "SELECT zoom, sum(n) FROM map_cell_count GROUP BY zoom")).tuples().all())


def test_the_migration_counts_existing_incidents(url_at_0006: str) -> None:
    eng = create_engine(url_at_0006)
    try:
        with Session(eng) as s:
            pid = s.execute(_OLD_PILOT).scalar_one()
            _seed(s, pid, 1500)
            s.commit()
        upgrade(url_at_0006, "0008")
        with Session(eng) as s:
            assert q.pilot_incident_total(s, pid) == 1502
            assert _zoom_totals(s) == dict.fromkeys(range(6, 14), 1502)  # 0008's levels
            s.execute(text("DELETE FROM incident WHERE id % 2 = 0"))  # the triggers run
            assert set(_zoom_totals(s).values()) == {q.pilot_incident_total(s, pid)}
            s.rollback()
        downgrade(url_at_0006, "0006")
        with eng.connect() as c:
            assert c.execute(text("SELECT to_regclass('map_cell_count')")).scalar() is None
            assert c.execute(text("SELECT count(*) FROM incident")).scalar_one() == 1502
    finally:
        eng.dispose()


def test_revision_0030_counts_zoom_14_and_going_back_forgets_it() -> None:
    url = _fresh_database("mapcell14")
    eng = create_engine(url)
    try:
        upgrade(url, "0029")
        with Session(eng) as s:
            pid = s.execute(_OLD_PILOT).scalar_one()
            _seed(s, pid, 1500)
            s.commit()
            assert _zoom_totals(s) == dict.fromkeys(range(6, 14), 1502)
        upgrade(url, "0030")
        with Session(eng) as s:
            assert _zoom_totals(s) == dict.fromkeys(q.AGG_ZOOMS, 1502)
            assert 14 in q.AGG_ZOOMS
            _assert_same(s, pid)  # zoom 14 from the counts equals clustering directly
            s.execute(text("DELETE FROM incident WHERE id % 3 = 0"))
            s.execute(text("UPDATE incident SET location = ST_Translate(location, 0.003, 0) "
                           "WHERE id % 5 = 0"))
            _assert_same(s, pid)  # and the triggers keep zoom 14 exact
            s.commit()
            left = q.pilot_incident_total(s, pid)
        downgrade(url, "0029")
        with Session(eng) as s:
            assert _zoom_totals(s) == dict.fromkeys(range(6, 14), left)
            s.execute(text("DELETE FROM incident WHERE id % 2 = 0"))
            totals = _zoom_totals(s)
            assert 14 not in totals and set(totals.values()) == {
                q.pilot_incident_total(s, pid)}
            s.rollback()
    finally:
        eng.dispose()
        drop_database(url)
