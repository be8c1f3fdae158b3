"""API routes that validate with marshmallow schemas and document themselves from them.

``@api.route(...)`` registers a view on the API blueprint, loads and validates the JSON
body and the query string with the given schemas (422 with field errors otherwise), and
records the same schemas for the OpenAPI 3 document — the document cannot drift from the
validation because both read the same classes.

Authorization comes before validation: a route under ``/pilots/<pilot_id>`` answers 404 to
a user who is not a member of that pilot, and a route that declares ``permission`` answers
403 to a member whose role lacks it, whatever the body holds — otherwise the field errors
of a 422 would tell anyone what a route accepts before the permission table has spoken.
The services still check every permission themselves; this only moves the answer first.

Answers go out through their schemas: a view returns data (or ``(data, status)``) and the
registry dumps it with the route's ``response`` schema, so a field the schema does not
declare can never reach a client, whatever a service puts in its dict (a person's identity
to a partner, say). A view may build its own ``Response`` only for a file (``produces``, a
mimetype, e.g. ``text/csv``) or for an empty 204; one that returns hand-built JSON is a
programming error (``UnschemedResponse``), and a test walks every API route to check that
each JSON answer has a schema. The current record a 409 carries (``details.current``) is
dumped by the same schema.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, jsonify, make_response, request
from marshmallow import Schema, ValidationError

from locmap import __version__
from locmap.errors import Conflict
from locmap.services import audit, idempotency
from locmap.services.permissions import require
from locmap.web.api.schemas import figure_property
from locmap.web.context import actor, db_session, login_required

__all__ = ["ApiRegistry", "UnschemedResponse"]


class UnschemedResponse(RuntimeError):
    """An API view answered JSON that did not go through its response schema."""

# A werkzeug rule argument: <name>, <conv:name> or <conv(args):name>.
_RULE_ARG = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")
_WRITES = frozenset({"post", "put", "patch", "delete"})

# The one body of every error answer (domain errors, validation, the request guards).
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "machine-readable code"},
        "message": {"type": "string", "description": "what went wrong, in words"},
        "details": {"type": "object", "additionalProperties": True,
                    "description": "field errors, the current record of a conflict, ..."},
    },
    "additionalProperties": False,
}


def _path_param(conv: str, args: str, name: str) -> dict[str, Any]:
    """The OpenAPI path parameter of one rule argument (``any(...)`` is an enum)."""
    schema: dict[str, Any]
    if conv == "int":
        schema = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    elif conv == "any":
        schema = {"type": "string",
                  "enum": [a.strip().strip("'\"") for a in args.split(",") if a.strip()]}
    else:
        schema = {"type": "string"}
    return {"in": "path", "name": name, "required": True, "schema": schema}


@dataclass
class _Route:
    endpoint: str
    rule: str
    method: str
    summary: str
    tag: str
    body: type[Schema] | None
    query: type[Schema] | None
    response: type[Schema] | None
    many: bool
    status: int
    description: str
    auditor: bool = False
    files: str | None = None
    produces: str | None = None
    idempotent: bool = False
    path_args: list[tuple[str, str, str]] = field(default_factory=list)
    # The permission checked before the input is read (403 for a member without it).
    permission: str | None = None


IDEMPOTENCY_KEY = "Idempotency-Key"


def _idempotent(raw_key: str, run: Callable[[], Any]) -> Any:
    """Answer a create sent with an Idempotency-Key: replay the kept answer, or run it and
    keep its answer when it succeeds (:mod:`locmap.services.idempotency`).
    """
    session, user_id = db_session(), actor().user_id
    if user_id is None:  # an API create always has a signed-in user; nothing to key
        return run()
    key = idempotency.check_key(raw_key)
    kept = idempotency.replay(session, user_id, key, request.method, request.path)
    if kept is not None:
        response = jsonify(kept[1])
        response.status_code = kept[0]
        response.headers["Idempotent-Replayed"] = "true"
        return response
    response = make_response(run())
    if 200 <= response.status_code < 300 and response.is_json:
        idempotency.remember(session, user_id, key, request.method, request.path,
                             response.status_code, response.get_json())
    return response


def _authorize(pilot_id: int, permission: str | None, admin_too: bool = False) -> None:
    """404 for a non-member, 403 for a member without ``permission`` (raised as the domain
    errors the app's handler answers). ``admin_too``: an admin passes as the pilot's
    coordinator would (the service lets them act; its page does too).
    """
    a = actor()
    if admin_too and a.is_admin:
        return
    if permission is not None:
        require(a, pilot_id, permission)
    elif not a.is_member(pilot_id):
        require(a, pilot_id, "pilot.view")  # raises the same NotFound as every service


class ApiRegistry:
    def __init__(self, blueprint: Blueprint) -> None:
        self.blueprint = blueprint
        self.routes: list[_Route] = []

    def route(
        self,
        rule: str,
        method: str = "GET",
        *,
        summary: str,
        tag: str,
        body: type[Schema] | None = None,
        query: type[Schema] | None = None,
        response: type[Schema] | None = None,
        many: bool = False,
        status: int = 200,
        public: bool = False,
        permission: str | None = None,
        admin_too: bool = False,
        auditor: bool = False,
        files: str | None = None,
        produces: str | None = None,
        idempotent: bool = False,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(fn)
            def view(**kwargs: Any) -> Any:
                if not public and "pilot_id" in kwargs:
                    _authorize(kwargs["pilot_id"], permission, admin_too)
                if auditor:
                    audit.require_auditor(actor())  # 403 before the input is judged
                key = request.headers.get(IDEMPOTENCY_KEY) if idempotent else None
                if key is not None:
                    return _idempotent(key, lambda: _run(kwargs))
                return _run(kwargs)

            def _run(kwargs: dict[str, Any]) -> Any:
                try:
                    if body is not None:
                        payload = request.get_json(silent=True)
                        if payload is None:
                            return jsonify(error="invalid", message="Expected a JSON body."), 400
                        kwargs["body"] = body().load(payload)
                    if query is not None:
                        kwargs["query"] = query().load(request.args.to_dict())
                except ValidationError as exc:
                    return jsonify(error="invalid", message="The request is not valid.",
                                   details=exc.normalized_messages()), 422
                try:
                    result = fn(**kwargs)
                except Conflict as exc:
                    # The 409's copy of the record goes out through the same schema.
                    if response is not None and isinstance(exc.details.get("current"), dict):
                        exc.details["current"] = response().dump(exc.details["current"])
                    raise
                return self._answer(fn.__name__, result, response, many, status, produces)

            wrapped = view if public else login_required(view)
            self.blueprint.add_url_rule(rule, endpoint=fn.__name__, view_func=wrapped,
                                        methods=[method])
            self.routes.append(_Route(
                endpoint=fn.__name__, rule=rule, method=method.lower(), summary=summary,
                tag=tag, body=body, query=query, response=response, many=many, status=status,
                auditor=auditor, files=files, produces=produces, idempotent=idempotent,
                description=(fn.__doc__ or "").strip(), permission=permission,
                path_args=[(conv or "string", args, name)
                           for conv, args, name in _RULE_ARG.findall(rule)],
            ))
            return wrapped

        return decorate

    @staticmethod
    def _answer(name: str, result: Any, response: type[Schema] | None, many: bool,
                status: int, produces: str | None) -> Any:
        """The view's result as the client gets it: data dumped through ``response``."""
        if isinstance(result, Response):
            if (produces is None and status != 204) or (result.is_json and produces is None):
                raise UnschemedResponse(f"api.{name} built its own answer: return the data "
                                        "and declare response= (or produces= for a file)")
            return result
        data, code = result if isinstance(result, tuple) else (result, status)
        if code == 204:
            return "", 204
        if response is None:
            raise UnschemedResponse(f"api.{name} has no response schema")
        return jsonify(response(many=many).dump(data)), code

    def openapi(self, prefix: str) -> dict[str, Any]:
        plugin = MarshmallowPlugin()
        spec = APISpec(
            title="locmap API", version=__version__, openapi_version="3.0.3",
            plugins=[plugin],
            info={"description": "Location assessment and context mapping for Contextual "
                  "Safeguarding. Session-cookie authentication; state-changing requests need "
                  "the X-CSRFToken header."},
        )
        assert plugin.converter is not None
        plugin.converter.add_attribute_function(figure_property)
        spec.components.schema("Error", _ERROR_SCHEMA)
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

        def answer(description: str) -> dict[str, Any]:
            return {"description": description, "content": error}

        paths: dict[str, dict[str, Any]] = {}
        for r in self.routes:
            path = prefix + _RULE_ARG.sub(r"{\3}", r.rule)
            op: dict[str, Any] = {"summary": r.summary, "tags": [r.tag], "responses": {}}
            if r.description:
                op["description"] = r.description
            params: list[dict[str, Any]] = [_path_param(*arg) for arg in r.path_args]
            if r.query is not None:
                params.append({"in": "query", "schema": r.query})
            if r.idempotent:
                params.append({"in": "header", "name": IDEMPOTENCY_KEY, "required": False,
                               "schema": {"type": "string", "maxLength": 100},
                               "description": "Send again with the same key: the first "
                               "answer is replayed, nothing is created twice (kept 30 days)."})
            if params:
                op["parameters"] = params
            if r.body is not None:
                op["requestBody"] = {"required": True,
                                     "content": {"application/json": {"schema": r.body}}}
            if r.files is not None:
                # A multipart upload of one or more files under the field ``files``.
                op["requestBody"] = {"required": True, "content": {"multipart/form-data": {
                    "schema": {"type": "object", "required": [r.files], "properties": {
                        r.files: {"type": "array",
                                  "items": {"type": "string", "format": "binary"}}}}}}}
            ok: dict[str, Any] = {"description": "OK"}
            if r.produces is not None and r.response is None:
                doc = ({"type": "object"} if r.produces.endswith("json")  # a JSON file
                       else {"type": "string", "format": "binary"})
                ok["content"] = {r.produces: {"schema": doc}}
            if r.response is not None:
                schema: Any = r.response
                if r.many:
                    schema = {"type": "array", "items": r.response}
                ok["content"] = {"application/json": {"schema": schema}}
            responses = op["responses"]
            responses[str(r.status)] = ok
            write = r.method in _WRITES
            if r.rule.endswith("openapi.json"):
                paths.setdefault(path, {})[r.method] = op
                continue
            # 400: a request the guards refuse before validation (NUL bytes or lone
            # surrogates in any query or body text, JSON nested too deep, a write without
            # its CSRF token or with no JSON body).
            responses["400"] = answer("Malformed request: unreadable text or JSON, or a "
                                      "write without its CSRF token")
            responses["401"] = answer("Not logged in")
            if write:
                responses["403"] = answer("Your role does not allow this")
            responses["404"] = answer("Absent or not visible to you")
            if write:
                responses["409"] = answer("Someone else changed the record first (the "
                                          "current record is in details), or it can no "
                                          "longer change")
            if r.body is not None or r.files is not None:
                responses["413"] = answer("The request body is over the size limit")
            # 422: field errors, and any value the services or the database refuse.
            responses["422"] = answer("Invalid input, with the reason (field errors in "
                                      "details)")
            if r.tag in ("impact",) or r.rule.endswith(("/indicators", "/submit")):
                responses["503"] = answer("The analysis took too long and was stopped "
                                          "(LOCMAP_ANALYSIS_SECONDS)")
            if r.auditor:
                responses["403"] = answer("For auditors (and admins) only")
            paths.setdefault(path, {})[r.method] = op
        for path, ops in paths.items():
            spec.path(path=path, operations=ops)
        return spec.to_dict()
