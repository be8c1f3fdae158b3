"""Incident vector tiles: every incident counted once, filters in SQL, the partners' rule."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from locmap.queries import incident_tiles as qt
from tests.conftest import AuthActions
from tests.factories import World
from tests.integration.test_map_cells import TOWN, _seed
from tests.mvt import decode

MVT = "application/vnd.mapbox-vector-tile"


def _tiles(z: int, bbox: tuple[float, float, float, float],
           ring: int = 1) -> list[tuple[int, int, int]]:
    """Tiles covering bbox widened by ``ring`` tiles each side (cells reach past it)."""
    w, s, e, n = bbox
    scale = 2 ** z

    def col(lon: float) -> int:
        return int((lon + 180) / 360 * scale)

    def row(lat: float) -> int:
        r = math.radians(lat)
        return int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * scale)

    return [(z, x, y) for x in range(col(w) - ring, col(e) + ring + 1)
            for y in range(row(n) - ring, row(s) + ring + 1)]


def _get(client: Any, pid: int, tile: tuple[int, int, int], query: str = "") -> list[dict]:
    z, x, y = tile
    r = client.get(f"/pilots/{pid}/tiles/incidents/{z}/{x}/{y}.pbf{query}")
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    assert r.mimetype == MVT
    return decode(r.data).get("incidents", [])


def _count(session: Session, pid: int, where: str = "true") -> int:
    return int(session.scalar(text(
        f"SELECT count(*) FROM incident WHERE pilot_id = :p AND {where}"), {"p": pid}))


@pytest.fixture
def town(session: Session, world: World) -> int:
    _seed(session, world.pilot.id, 3000)
    session.commit()
    return world.pilot.id


QUERIES = [
    ("", "true"),
    ("?category=asb,cce", "category IN ('asb', 'cce')"),
    # Whole months: from map_cell_count at zoom 6-13.
    ("?from=2025-01-01&to=2025-03-31",
     "occurred_at >= '2025-01-01 00:00 Europe/London' "
     "AND occurred_at < '2025-04-01 00:00 Europe/London'"),
    # Not whole months: clustered from the incidents.
    ("?from=2025-02-10&to=2025-05-02",
     "occurred_at >= '2025-02-10 00:00 Europe/London' "
     "AND occurred_at < '2025-05-03 00:00 Europe/London'"),
]


@pytest.mark.parametrize("z", [9, 12, 14])
def test_team_tiles_count_every_incident_once(
    session: Session, town: int, client: Any, auth: AuthActions, z: int,
) -> None:
    auth.login("practitioner@test.invalid")
    for query, where in QUERIES:
        feats = [f for t in _tiles(z, TOWN) for f in _get(client, town, t, query)]
        assert sum(f["props"]["n"] for f in feats) == _count(session, town, where) > 0
        assert {f["props"]["category"] for f in feats} <= {"asb", "drugs", "cce", "weapons"}
        assert all(1 <= f["props"]["max_severity"] <= 5 for f in feats)


def test_counted_tiles_equal_clustered_tiles(
    session: Session, town: int, client: Any, auth: AuthActions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth.login("coordinator@test.invalid")
    tiles = _tiles(12, TOWN)
    counted = [_get(client, town, t, "?from=2025-01-01") for t in tiles]
    monkeypatch.setattr(qt, "AGG_ZOOMS", range(0))
    direct = [_get(client, town, t, "?from=2025-01-01") for t in tiles]

    def key(f: dict[str, Any]) -> tuple[Any, ...]:
        return (f["x"], f["y"], f["props"]["n"], f["props"]["category"])

    assert [sorted(map(key, t)) for t in counted] == [sorted(map(key, t)) for t in direct]
    # The counts are really read: spoil them and the tiles change.
    monkeypatch.undo()
    session.execute(text("DELETE FROM map_cell_count WHERE pilot_id = :p AND category = 'asb'"),
                    {"p": town})
    session.commit()
    spoilt = sum(f["props"]["n"] for t in tiles for f in _get(client, town, t))
    assert spoilt == _count(session, town, "category <> 'asb'")


def test_points_at_street_zoom_with_source_filter(
    session: Session, town: int, world: World, client: Any, auth: AuthActions,
) -> None:
    agency = session.scalar(text("SELECT id FROM agency LIMIT 1"))
    marked = session.scalar(text(
        "UPDATE incident SET source_agency_id = :a WHERE id = (SELECT max(id) FROM incident "
        "WHERE pilot_id = :p AND ST_X(location) = -1.5) RETURNING id"), {"a": agency, "p": town})
    session.commit()
    auth.login("practitioner@test.invalid")
    tile = _tiles(17, (-1.5, 52.5, -1.5, 52.5))[4]
    w, s, e, n = qt.tile_bounds(*tile)
    inside = (f"ST_Intersects(location, ST_MakeEnvelope({w}, {s}, {e}, {n}, 4326))")
    feats = _get(client, town, tile)
    ids = {f["props"]["id"] for f in feats if 0 <= f["x"] <= 4096 and 0 <= f["y"] <= 4096}
    assert len(ids) == _count(session, town, inside) >= 2
    assert {"id", "category", "severity", "month"} <= set(feats[0]["props"])
    only = {f["props"]["id"] for f in _get(client, town, tile, f"?source={agency}")}
    assert only == {marked}


def test_partners_get_whole_suppressed_cells_at_every_zoom(
    session: Session, town: int, client: Any, auth: AuthActions,
) -> None:
    session.execute(text(
        "INSERT INTO incident (pilot_id, location, occurred_at, time_precision, category, "
        "severity, place_derived, description, version) SELECT :p, ST_SetSRID(ST_MakePoint("
        "-1.5 + g * 1e-5, 52.5), 4326), '2025-03-03 12:00+00', 'exact', 'drugs', 2, false, "
        "'', 1 FROM generate_series(1, 12) AS g"), {"p": town})
    session.commit()
    auth.login("partner_reviewer@test.invalid")
    for z in (12, 15, 18):
        tiles = _tiles(z, TOWN) if z < 15 else _tiles(z, (-1.5, 52.5, -1.5, 52.5), ring=3)
        feats = [f for t in tiles for f in _get(client, town, t, "?from=2025-02-10")]
        assert feats
        for f in feats:
            assert set(f["props"]) == {"n", "category", "max_severity"}  # no ids
            assert f["props"]["n"] >= 5 and f["props"]["n"] % 5 == 0
    r = client.get(f"/pilots/{town}/tiles/incidents/12/2030/1340.pbf?source=1")
    assert r.status_code == 422


def test_bad_tiles_and_filters_are_4xx_and_tiles_revalidate(
    town: int, client: Any, auth: AuthActions,
) -> None:
    auth.login("practitioner@test.invalid")
    base = f"/pilots/{town}/tiles/incidents"
    for url in (f"{base}/23/0/0.pbf", f"{base}/3/8/0.pbf", f"{base}/12/2030/1340.pbf?category=x",
                f"{base}/12/2030/1340.pbf?from=2025-05-01&to=2025-01-01",
                f"{base}/12/2030/1340.pbf?from=yesterday"):
        r = client.get(url)
        assert 400 <= r.status_code < 500, url
    z, x, y = _tiles(12, TOWN)[4]
    r = client.get(f"{base}/{z}/{x}/{y}.pbf")
    assert r.status_code == 200 and r.headers["Cache-Control"].startswith("private")
    again = client.get(f"{base}/{z}/{x}/{y}.pbf", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and not again.data


def test_workspace_options_give_the_time_sliders_months(
    session: Session, town: int, client: Any, auth: AuthActions,
) -> None:
    first, last = session.execute(text(
        "SELECT to_char(min(occurred_at AT TIME ZONE 'Europe/London'), 'YYYY-MM'), "
        "to_char(max(occurred_at AT TIME ZONE 'Europe/London'), 'YYYY-MM') FROM incident "
        "WHERE pilot_id = :p"), {"p": town}).one()
    for role in ("practitioner", "partner_reviewer"):
        auth.login(f"{role}@test.invalid")
        months = client.get(f"/api/v1/pilots/{town}/workspace-options").get_json()[
            "incident_months"]
        assert months[0] == first and months[-1] == last
        assert len(months) == len(set(months)) == 1 + (int(last[:4]) - int(first[:4])) * 12 \
            + int(last[5:]) - int(first[5:])
        auth.logout()
    # The workspace's "only this import" filter reaches the tiles too (none here).
    auth.login("practitioner@test.invalid")
    tiles = _tiles(12, TOWN)
    assert any(_get(client, town, t) for t in tiles)
    assert not any(_get(client, town, t, "?import=999999") for t in tiles)
