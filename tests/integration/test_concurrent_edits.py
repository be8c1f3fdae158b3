"""Ten clients save the same version of one record at once: one wins, nine get 409.

The usual fixtures bind every session to one rolled-back outer transaction, which
serialises all requests; here the app runs over a committed database of its own
(``_fresh_database``) with a real connection pool, so ten threads — each with its own
logged-in test client — really race on the row. Before the optimistic-locking helper
(services/versioning.py) a third of them answered 500 (``StaleDataError``).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from locmap.db import Database, upgrade
from locmap.models import Incident
from locmap.pgserver import drop_database
from tests import factories
from tests.conftest import AuthActions, _fresh_database

CLIENTS = 10


@pytest.fixture(scope="module")
def race() -> Iterator[tuple[Any, dict[str, int]]]:
    url = _fresh_database("race")
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        w = factories.build_world(s)
        incident = Incident(pilot_id=w.pilot.id, location="SRID=4326;POINT(-1.494 52.5025)",
                            occurred_at=dt.datetime(2025, 3, 4, 16, 30, tzinfo=dt.UTC),
                            category="asb", severity=3, description="Synthetic.")
        s.add(incident)
        s.flush()
        ids = {"pilot": w.pilot.id, "place": w.places["park"].id, "incident": incident.id}
    from locmap.web import create_app

    app = create_app({"DATABASE": db, "TESTING": True, "SESSION_COOKIE_SECURE": False})
    yield app, ids
    db.dispose()
    drop_database(url)


def _clients(app: Any) -> list[tuple[Any, dict[str, str]]]:
    out = []
    for _ in range(CLIENTS):
        client = app.test_client()
        auth = AuthActions(client)
        assert auth.login("practitioner@test.invalid").status_code == 302
        out.append((client, {"X-CSRFToken": auth.csrf_token("/")}))
    return out


def _all_at_once(app: Any, url: str, bodies: list[dict[str, Any]]) -> list[Any]:
    clients = _clients(app)
    start = threading.Barrier(CLIENTS)
    results: list[Any] = [None] * CLIENTS

    def one(i: int) -> None:
        client, headers = clients[i]
        start.wait()
        results[i] = client.patch(url, json=bodies[i], headers=headers)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(r is not None for r in results), "a request did not finish"
    return results


def _one_winner(results: list[Any], version: int) -> dict[str, Any]:
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [409] * (CLIENTS - 1), statuses
    winner = next(r.get_json() for r in results if r.status_code == 200)
    for r in results:
        if r.status_code == 409:
            body = r.get_json()
            assert body["error"] == "conflict"
            assert body["details"]["current_version"] == version + 1
    return winner


def test_ten_clients_patch_one_place_with_one_version(race: Any) -> None:
    app, ids = race
    url = f"/api/v1/pilots/{ids['pilot']}/places/{ids['place']}"
    client, _ = _clients(app)[0]
    version = client.get(url).get_json()["properties"]["version"]
    results = _all_at_once(app, url, [{"name": f"Park edit {i}", "version": version}
                                      for i in range(CLIENTS)])
    winner = _one_winner(results, version)
    now = client.get(url).get_json()
    assert now["properties"]["name"] == winner["properties"]["name"]
    assert now["properties"]["version"] == version + 1
    # The losers see the winner's record, so they can redo their change on top of it.
    lost = next(r.get_json() for r in results if r.status_code == 409)
    assert lost["details"]["current"]["properties"]["name"] == winner["properties"]["name"]


def test_ten_clients_patch_one_incident_with_one_version(race: Any) -> None:
    app, ids = race
    url = f"/api/v1/pilots/{ids['pilot']}/incidents/{ids['incident']}"
    client, _ = _clients(app)[0]
    version = client.get(url).get_json()["version"]
    results = _all_at_once(app, url, [{"severity": 1 + i % 5, "external_ref": f"R{i}",
                                       "version": version} for i in range(CLIENTS)])
    winner = _one_winner(results, version)
    now = client.get(url).get_json()
    assert (now["external_ref"], now["version"]) == (winner["external_ref"], version + 1)
    lost = next(r.get_json() for r in results if r.status_code == 409)
    # The current record comes back without the restricted description (a GET reads it).
    assert "description" not in lost["details"]["current"]


def test_a_change_without_its_version_is_refused(race: Any) -> None:
    app, ids = race
    client, headers = _clients(app)[0]
    url = f"/api/v1/pilots/{ids['pilot']}/places/{ids['place']}"
    r = client.patch(url, json={"name": "No version"}, headers=headers)
    assert r.status_code == 422 and "version" in r.get_json()["details"]
