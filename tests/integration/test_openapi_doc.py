"""The OpenAPI document names every path parameter properly and documents its errors."""

from __future__ import annotations

from typing import Any

from tests.conftest import AuthActions
from tests.factories import World


def _doc(client: Any) -> dict[str, Any]:
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.get_json()
    return doc


def test_path_converters_become_parameters_with_an_enum(client: Any) -> None:
    doc = _doc(client)
    assert not [p for p in doc["paths"] if "<" in p or ">" in p or "(" in p]
    path = "/api/v1/pilots/{pilot_id}/{kinds}/{subject_id}/reviews"
    params = {p["name"]: p for p in doc["paths"][path]["post"]["parameters"]}
    assert params["kinds"]["schema"] == {"type": "string", "enum": ["assessments", "plans"]}
    assert params["subject_id"]["schema"]["type"] == "integer"


def test_error_answers_are_documented_where_they_can_occur(client: Any) -> None:
    doc = _doc(client)
    assert set(doc["components"]["schemas"]["Error"]["required"]) == {"error", "message"}
    for path, ops in doc["paths"].items():
        if path.endswith("openapi.json"):
            continue
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {"400", "401", "404", "422"} <= codes, (method, path, codes)
            if method in ("post", "put", "patch", "delete"):
                assert {"403", "409"} <= codes, (method, path, codes)
            if "requestBody" in op:
                assert "413" in codes, (method, path)
    displacement = doc["paths"]["/api/v1/pilots/{pilot_id}/displacement"]["get"]
    assert "503" in displacement["responses"]


def test_documented_error_bodies_match_the_error_schema(
        client: Any, auth: AuthActions, world: World) -> None:
    auth.login("practitioner@test.invalid")
    h = {"X-CSRFToken": auth.csrf_token("/")}
    p = world.pilot.id
    answers = [
        client.post(f"/api/v1/pilots/{p}/places", json={"kind": "park"}, headers=h),  # 422
        client.post(f"/api/v1/pilots/{p}/places", json={"name": "x"}),  # 400 no CSRF
        client.get(f"/api/v1/pilots/{p}/places/999999"),  # 404
        client.get(f"/api/v1/pilots/{p}/incidents?category=a%00"),  # 400 NUL
    ]
    for r in answers:
        body = r.get_json()
        assert 400 <= r.status_code < 500 and set(body) <= {"error", "message", "details"}
        assert isinstance(body["error"], str) and isinstance(body["message"], str)


def test_405_carries_allow(client: Any, auth: AuthActions, world: World) -> None:
    auth.login("practitioner@test.invalid")
    r = client.put(f"/api/v1/pilots/{world.pilot.id}/places")
    assert r.status_code == 405
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert r.get_json()["error"] == "method_not_allowed"
    r = client.delete("/login")
    assert r.status_code == 405 and "POST" in r.headers["Allow"]
