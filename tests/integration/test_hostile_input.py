"""Hostile input gets a clear 4xx and changes nothing (never a 500)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.models import Incident
from tests.conftest import AuthActions
from tests.factories import World


def _h(auth: AuthActions) -> dict[str, str]:
    auth.login("practitioner@test.invalid")
    return {"X-CSRFToken": auth.csrf_token("/")}


def _incident(**kw: Any) -> dict[str, Any]:
    body = {"location": {"type": "Point", "coordinates": [-1.49, 52.505]}, "category": "asb",
            "severity": 3, "occurred_at": "2025-03-04T16:30:00+00:00", "description": "x"}
    body.update(kw)
    return body


@pytest.mark.parametrize("field, value", [
    ("description", "before\x00after"),
    ("description", "lone \ud800 surrogate"),
    ("external_ref", "\x00"),
])
def test_nul_bytes_and_lone_surrogates_in_json_are_400(
    client: Any, auth: AuthActions, world: World, session: Session, field: str, value: str
) -> None:
    r = client.post(f"/api/v1/pilots/{world.pilot.id}/incidents", headers=_h(auth),
                    json=_incident(**{field: value}))
    assert r.status_code == 400, r.get_json()
    assert field in r.get_json()["message"]
    assert session.scalar(select(Incident.id).where(Incident.pilot_id == world.pilot.id)) is None


def test_nul_in_a_query_or_form_is_400(client: Any, auth: AuthActions, world: World) -> None:
    h = _h(auth)
    r = client.get(f"/api/v1/pilots/{world.pilot.id}/incidents?category=asb%00")
    assert r.status_code == 400
    r = client.post("/login", data={"email": "a\x00@x.invalid", "password": "x",
                                    "csrf_token": h["X-CSRFToken"]})
    assert r.status_code == 400


@pytest.mark.parametrize("path", [
    "/api/v1/pilots/2147483648/places",
    "/api/v1/pilots/{pilot}/places/99999999999999999999",
    "/pilots/{pilot}/places/2147483648",
    "/pilots/9223372036854775808",
])
def test_ids_beyond_the_database_integer_are_404(
    client: Any, auth: AuthActions, world: World, path: str
) -> None:
    _h(auth)
    assert client.get(path.format(pilot=world.pilot.id)).status_code == 404


def test_big_ids_in_a_body_or_query_are_4xx(client: Any, auth: AuthActions,
                                            world: World) -> None:
    h = _h(auth)
    r = client.post(f"/api/v1/pilots/{world.pilot.id}/incidents", headers=h,
                    json=_incident(place_id=2**31))
    assert 400 <= r.status_code < 500, r.status_code
    r = client.get(f"/api/v1/pilots/{world.pilot.id}/incidents?place_id={2**40}")
    assert 400 <= r.status_code < 500, r.status_code


def test_json_nested_thousands_deep_is_400(client: Any, auth: AuthActions,
                                           world: World) -> None:
    h = {**_h(auth), "Content-Type": "application/json"}
    deep = "[" * 5000 + "]" * 5000
    r = client.post(f"/api/v1/pilots/{world.pilot.id}/incidents", headers=h, data=deep)
    assert r.status_code == 400
    deep_obj = '{"a":' * 100 + "1" + "}" * 100
    r = client.post(f"/api/v1/pilots/{world.pilot.id}/incidents", headers=h, data=deep_obj)
    assert r.status_code == 400
    assert "nested" in r.get_json()["message"]
