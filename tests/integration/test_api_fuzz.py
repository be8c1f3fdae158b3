"""Generated requests against the API's own OpenAPI document (schemathesis).

The document at ``/api/v1/openapi.json`` is loaded from the app through WSGI, and every
operation gets up to ``EXAMPLES`` generated requests (derandomized, no shrinking) as a
practitioner and as a partner reviewer of a seeded pilot (``FORBIDDEN_EXAMPLES`` for an
operation whose permission the role lacks: the registry checks it before it reads any
input, so every such request gets the same 403 whatever its body; that the 403 comes is
asserted). The session cookie comes from a
real login, writes carry the CSRF header. Path ids are replaced by the seeded records'
ids (pilot A's, the signed-in member's pilot) so that the bodies and query strings reach
the validation and the services instead of stopping at a 404; out-of-range and foreign ids
are the route matrix's job (test_route_matrix.py). Every request runs in a savepoint rolled
back afterwards, so a generated DELETE cannot starve the operations after it.

Asserted: no 5xx anywhere, and every response conforms to its declared schema (object
schemas closed, so an undeclared field fails; error answers against the ``Error`` schema):
0 server errors and 0 schema violations, as the practitioner and as a partner reviewer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from locmap.services.permissions import PERMISSIONS
from locmap.web.api import api
from locmap.web.api.registry import _RULE_ARG
from tests import factories
from tests.integration.test_route_matrix import ID_OF, _csrf, _seed

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

pytestmark = pytest.mark.slow

EXAMPLES = 25  # per operation and role (the bound): ~1.5 min a role, quiet machine
# An operation the role may not call answers 403 before its input is read (registry.view;
# 400 for a body no route accepts):
# a few requests show that, whatever they carry; 25 would repeat it (a partner reviewer
# may call fewer than half of the operations).
FORBIDDEN_EXAMPLES = 3
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Operations whose responses do not match their declared schema yet: none (issue 14). Add
# an entry only with the reason, and remove it when its operation conforms.
NOT_CONFORMING: frozenset[str] = frozenset()


def _close(node: Any) -> None:
    """Every object schema without ``additionalProperties`` gets ``false``: a response field
    the document does not declare (issue 14: ``updated_at``, ``managed_by_id``) is drift."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close(value)
    elif isinstance(node, list):
        for value in node:
            _close(value)


def _closed_schema(app: Flask) -> Any:
    """The app's document as served, its object schemas closed, bound to the app (WSGI)."""
    r = app.test_client().get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.get_json()
    _close(doc)
    schema = schemathesis.openapi.from_dict(doc)
    schema.app = app
    schema.location = "/api/v1/openapi.json"
    return schema


# Flask-Login's "strong" session protection binds the session to the client's address and
# user agent, so the login and schemathesis' requests send the same ones.
AGENT = {"User-Agent": "locmap-api-fuzz"}


def _login(app: Flask, email: str) -> tuple[Any, str]:
    c = app.test_client()
    c.environ_base["HTTP_USER_AGENT"] = AGENT["User-Agent"]
    r = c.post("/login", data={"email": email, "password": factories.PASSWORD,
                               "csrf_token": _csrf(c, "/login")})
    assert r.status_code == 302, r.status_code
    return c, _csrf(c, "/")


def _guards() -> dict[tuple[str, str], str | None]:
    """(METHOD, OpenAPI path) → the permission the API checks before reading the input."""
    return {(r.method.upper(), "/api/v1" + _RULE_ARG.sub(r"{\3}", r.rule)):
            r.permission if "<int:pilot_id>" in r.rule else None  # (checked per pilot)
            for r in api.routes}


def _fuzz(operation: Any, call: Callable[[Any], Any], ids: dict[str, Any],
          errors: dict[str, list[str]], nonconforming: dict[str, str], counter: list[int],
          statuses: dict[int, int], forbidden: bool) -> None:
    label = operation.label

    @settings(max_examples=FORBIDDEN_EXAMPLES if forbidden else EXAMPLES,
              phases=[Phase.explicit, Phase.generate], derandomize=True, deadline=None,
              database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        for name in list(case.path_parameters or {}):
            if name in ID_OF:
                case.path_parameters[name] = ids[ID_OF[name]]
            elif name == "subject_id":
                kind = case.path_parameters.get("kinds", "assessments")
                case.path_parameters[name] = ids["plan" if kind == "plans" else "assessment"]
        response = call(case)
        counter[0] += 1
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        # (400: a body no API accepts, such as malformed JSON, is refused before any route)
        if forbidden and response.status_code not in (400, 403):
            errors.setdefault(label, []).append(
                f"{case.method} {case.formatted_path}: {response.status_code}, not the 403 "
                "of an operation the role lacks the permission for")
            return
        # Failures are collected and reported together at the end (schemathesis raises a
        # FailureGroup, a BaseExceptionGroup of AssertionErrors).
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except (AssertionError, FailureGroup) as exc:
            errors.setdefault(label, []).append(f"{case.method} {case.formatted_path}: "
                                                f"{str(exc)[:800]}")
            return
        if label in nonconforming:
            return
        try:
            case.validate_response(response, checks=[response_schema_conformance])
        except (AssertionError, FailureGroup) as exc:
            nonconforming[label] = str(exc).split("Schema at")[0][:400]

    run()


def test_generated_requests_never_get_a_server_error(
        app: Flask, connection: Connection, session: Session, world: factories.World,
        figure: Callable[[str], None]) -> None:
    """As a practitioner (the partner reviewer's run is test_api_fuzz_partner.py, a file of
    its own so that the two runs can go to two test processes)."""
    fuzz_as("practitioner", app, connection, session, world, figure)


def fuzz_as(role: str, app: Flask, connection: Connection, session: Session,
            world: factories.World, figure: Callable[[str], None]) -> None:
    """Every operation of the document as ``role``; asserts no 5xx and conformance."""
    seeder, seeder_token = _login(app, "practitioner@test.invalid")
    ids = _seed(session, seeder, seeder_token, world.pilot.id, world.users["practitioner"].id,
                [world.places["park"], world.places["cafe"]], world.person, "Alpha")
    client, token = (seeder, seeder_token) if role == "practitioner" else _login(
        app, f"{role}@test.invalid")
    schema = _closed_schema(app)
    # schemathesis' WSGI client has its own host, so the session cookie is passed by value.
    cookies = {"session": client.get_cookie("session").value}

    def call(case: Any) -> Any:
        savepoint = connection.begin_nested() if case.method.upper() in WRITES else None
        try:
            return case.call(headers={"X-CSRFToken": token, **AGENT}, cookies=cookies,
                             environ_base={"REMOTE_ADDR": "127.0.0.1"})
        finally:
            if savepoint is not None:
                savepoint.rollback()

    errors: dict[str, list[str]] = {}
    nonconforming: dict[str, str] = {}
    counter = [0]
    statuses: dict[int, int] = {}
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    guards = _guards()
    forbidden = 0
    for operation in operations:
        need = guards[(operation.method.upper(), operation.path)]
        refused = need is not None and role not in PERMISSIONS[need]
        forbidden += refused
        _fuzz(operation, call, ids, errors, nonconforming, counter, statuses, refused)
    figure(f"schemathesis as {role}: {counter[0]} generated requests over "
          f"{len(operations)} operations ({forbidden} refused to the role: "
          f"{FORBIDDEN_EXAMPLES} each) in {time.monotonic() - started:.0f} s; "
          f"{sum(map(len, errors.values()))} server errors; "
          f"{len(nonconforming)} operations not conforming to their response schema; "
          f"statuses {dict(sorted(statuses.items()))}")
    assert not errors, "server errors:\n" + "\n\n".join(
        f"{label}: {len(found)} cases, first:\n{found[0]}" for label, found in errors.items())
    unexpected = {k: v for k, v in nonconforming.items() if k not in NOT_CONFORMING}
    assert not unexpected, "responses not matching their declared schema:\n" + "\n\n".join(
        f"{label}: {msg}" for label, msg in sorted(unexpected.items()))
