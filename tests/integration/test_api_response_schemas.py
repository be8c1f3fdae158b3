"""Every JSON answer of the API goes through its response schema at run time (issue 14).

A view returns data and the registry dumps it with the route's marshmallow schema, so a
field a service adds to its dict (a person's identity, an e-mail, a free-text note) never
reaches a client unless the schema declares it. Three checks: every API route of the
running app declares how it answers (a schema, a file type, or 204); a field a service
adds is not in the answer, for the owning team and for a partner; and a view that builds
its own JSON is refused.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Blueprint, Flask, jsonify
from marshmallow import Schema, fields

from locmap.services import people, places
from locmap.web.api import api
from locmap.web.api.registry import ApiRegistry, UnschemedResponse
from locmap.web.api.schemas import Date, DateTime, Figure, PersonSchema
from tests import factories
from tests.conftest import AuthActions

_SKIP_METHODS = {"HEAD", "OPTIONS"}


def test_every_api_route_answers_through_a_response_schema(app: Flask) -> None:
    by_rule = {(r.rule, r.method.upper()): r for r in api.routes}
    seen, problems = 0, []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        for method in sorted((rule.methods or set()) - _SKIP_METHODS):
            route = by_rule.get((rule.rule.removeprefix("/api/v1"), method))
            seen += 1
            if route is None:
                problems.append(f"{method} {rule.rule}: not registered through @api.route "
                                "(no schema can apply)")
            elif route.response is None and route.produces is None and route.status != 204:
                problems.append(f"{method} {rule.rule}: no response schema (response=), "
                                "file type (produces=) or 204")
    assert seen >= 100
    assert problems == [], "\n".join(problems)


# Response fields left untyped on purpose (schema name and field → why). Anything else
# that is ``fields.Raw`` or a ``fields.Dict`` without a value type fails the walk below.
UNTYPED_ON_PURPOSE: dict[str, str] = {
    "GeoJSONGeometry.coordinates": "GeoJSON nests positions one to three lists deep by "
                                   "geometry type; the type field says which",
    "AuditEventSchema.detail": "an audit event's detail: its keys depend on the action "
                               "(numbers, flags, ids and labels; other text withheld)",
    "HistoryEventSchema.detail": "the same audit detail, on a version's history",
}


def _untyped(schema: type[Schema] | Schema, path: str, seen: set[str]) -> list[str]:
    """The fields of ``schema`` (and of every schema nested in it) whose type says nothing
    of what they hold: ``fields.Raw``, a ``fields.Dict`` without a value type, or the same
    inside a ``List``, ``Dict`` values or a ``Nested`` schema."""
    instance = schema() if isinstance(schema, type) else schema
    name = type(instance).__name__
    if name in seen:
        return []
    seen.add(name)
    found: list[str] = []

    def walk(field: fields.Field, where: str) -> None:
        if isinstance(field, Figure):
            return
        if isinstance(field, fields.Nested):
            nested = field.schema
            found.extend(_untyped(nested, f"{where}→", seen))
        elif isinstance(field, fields.List):
            walk(field.inner, f"{where}[]")
        elif isinstance(field, fields.Dict):  # fields.Dict is a Mapping
            if field.value_field is None:
                found.append(where)
            else:
                walk(field.value_field, f"{where}{{}}")
        elif type(field) is fields.Raw or type(field) is fields.Field:
            found.append(where)

    for fname, field in instance.fields.items():
        key = f"{name}.{fname}"
        if key in UNTYPED_ON_PURPOSE:
            continue
        walk(field, f"{path}{key}")
    return found


def test_every_nested_block_of_an_answer_is_typed() -> None:
    """The dump is a contract all the way down: every response schema's fields, and the
    fields of the schemas nested in them, say what they hold (no ``fields.Raw``, no
    ``fields.Dict`` without a value type), except the few in UNTYPED_ON_PURPOSE."""
    problems: dict[str, list[str]] = {}
    walked = 0
    for route in api.routes:
        if route.response is None:
            continue
        walked += 1
        found = _untyped(route.response, "", set())
        if found:
            problems[f"{route.method.upper()} {route.rule}"] = found
    assert walked >= 100
    assert problems == {}, "untyped blocks in answers:\n" + "\n".join(
        f"{k}: {', '.join(v)}" for k, v in sorted(problems.items()))


def test_the_untyped_check_catches_a_raw_block() -> None:
    class Inner(Schema):
        fine = fields.Integer()
        loose = fields.Dict()

    class Outer(Schema):
        rows = fields.List(fields.Nested(Inner))
        blob = fields.Raw()
        typed = fields.Dict(keys=fields.String(), values=fields.Integer())

    assert sorted(_untyped(Outer, "", set())) == ["Outer.blob", "Outer.rows[]→Inner.loose"]


def test_the_openapi_document_describes_each_answer(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    missing = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ok = {k: v for k, v in op["responses"].items() if k.startswith("2")}
            for status, answer in ok.items():
                if status != "204" and "content" not in answer:
                    missing.append(f"{method.upper()} {path} {status}")
    assert missing == []


def _leaky(real: Any, **extra: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        if isinstance(out, dict) and out.get("type") == "Feature":
            out["properties"] = {**out["properties"], **extra}
        return {**out, **extra} if isinstance(out, dict) else out
    return wrapper


@pytest.mark.parametrize("who", ["practitioner", "partner_reviewer"])
def test_a_field_a_service_adds_never_reaches_the_client(
        who: str, client: Any, auth: AuthActions, world: factories.World,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A service result with fields the schema does not declare: the answer has none of
    them — at the top level and inside nested objects."""
    secret = {"identity_name": "Quentin Leakwell", "email": "leak@test.invalid",
              "notes_restricted": "restricted text"}
    monkeypatch.setattr(people, "get_person", _leaky(people.get_person, **secret))
    monkeypatch.setattr(places, "get_place", _leaky(places.get_place, **secret))
    assert auth.login(f"{who}@test.invalid").status_code == 302
    base = f"/api/v1/pilots/{world.pilot.id}"
    assert world.person is not None
    for url in (f"{base}/people/{world.person.id}", f"{base}/places/{world.places['cafe'].id}"):
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        body = r.get_data(as_text=True)
        for value in secret.values():
            assert value not in body, (url, value)
    person = client.get(f"{base}/people/{world.person.id}").get_json()
    assert set(person) <= set(PersonSchema().fields)


def test_a_view_that_builds_its_own_json_is_refused() -> None:
    bp = Blueprint("t", __name__)
    reg = ApiRegistry(bp)

    @reg.route("/raw", summary="raw", tag="t", public=True)
    def raw() -> Any:
        return jsonify(secret="leak")

    @reg.route("/bare", summary="bare", tag="t", public=True)
    def bare() -> Any:
        return {"secret": "leak"}

    app = Flask(__name__)
    app.config["TESTING"] = True
    app.register_blueprint(bp)
    c = app.test_client()
    with pytest.raises(UnschemedResponse):
        c.get("/raw")
    with pytest.raises(UnschemedResponse):
        c.get("/bare")


def test_service_dates_as_text_or_objects_dump_the_same() -> None:
    """Services answer ISO text or date objects; the schema's fields take both."""

    class S(Schema):
        d = Date()
        t = DateTime()

    when = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert S().dump({"d": dt.date(2026, 3, 1), "t": when}) == \
        S().dump({"d": "2026-03-01", "t": when.isoformat()})
