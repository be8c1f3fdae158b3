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
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, jsonify, request
from marshmallow import Schema, ValidationError

from locmap import __version__
from locmap.services import audit
from locmap.services.permissions import require
from locmap.web.context import actor, login_required

__all__ = ["ApiRegistry"]

_RULE_ARG = re.compile(r"<(?:(\w+):)?(\w+)>")


@dataclass
class _Route:
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
    path_args: list[tuple[str, str]] = field(default_factory=list)


def _authorize(pilot_id: int, permission: str | None) -> None:
    """404 for a non-member, 403 for a member without ``permission`` (raised as the domain
    errors the app's handler answers).
    """
    a = actor()
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
        auditor: bool = False,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(fn)
            def view(**kwargs: Any) -> Any:
                if not public and "pilot_id" in kwargs:
                    _authorize(kwargs["pilot_id"], permission)
                if auditor:
                    audit.require_auditor(actor())  # 403 before the input is judged
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
                return fn(**kwargs)

            wrapped = view if public else login_required(view)
            self.blueprint.add_url_rule(rule, endpoint=fn.__name__, view_func=wrapped,
                                        methods=[method])
            self.routes.append(_Route(
                rule=rule, method=method.lower(), summary=summary, tag=tag, body=body,
                query=query, response=response, many=many, status=status, auditor=auditor,
                description=(fn.__doc__ or "").strip(),
                path_args=[(conv or "string", name) for conv, name in _RULE_ARG.findall(rule)],
            ))
            return wrapped

        return decorate

    def openapi(self, prefix: str) -> dict[str, Any]:
        spec = APISpec(
            title="locmap API", version=__version__, openapi_version="3.0.3",
            plugins=[MarshmallowPlugin()],
            info={"description": "Location assessment and context mapping for Contextual "
                  "Safeguarding. Session-cookie authentication; state-changing requests need "
                  "the X-CSRFToken header."},
        )
        paths: dict[str, dict[str, Any]] = {}
        for r in self.routes:
            path = prefix + _RULE_ARG.sub(r"{\2}", r.rule)
            op: dict[str, Any] = {"summary": r.summary, "tags": [r.tag], "responses": {}}
            if r.description:
                op["description"] = r.description
            params: list[dict[str, Any]] = [
                {"in": "path", "name": name, "required": True,
                 "schema": {"type": "integer" if conv == "int" else "string"}}
                for conv, name in r.path_args
            ]
            if r.query is not None:
                params.append({"in": "query", "schema": r.query})
            if params:
                op["parameters"] = params
            if r.body is not None:
                op["requestBody"] = {"required": True,
                                     "content": {"application/json": {"schema": r.body}}}
            ok: dict[str, Any] = {"description": "OK"}
            if r.response is not None:
                schema: Any = r.response
                if r.many:
                    schema = {"type": "array", "items": r.response}
                ok["content"] = {"application/json": {"schema": schema}}
            op["responses"][str(r.status)] = ok
            if not r.rule.endswith("openapi.json"):
                op["responses"]["401"] = {"description": "Not logged in"}
                op["responses"]["404"] = {"description": "Absent or not visible to you"}
            if r.body is not None or r.query is not None:
                op["responses"]["422"] = {"description": "Invalid input, with field errors"}
            if r.method != "get":
                op["responses"]["403"] = {"description": "Your role does not allow this"}
            if r.auditor:
                op["responses"]["403"] = {"description": "For auditors (and admins) only"}
            paths.setdefault(path, {})[r.method] = op
        for path, ops in paths.items():
            spec.path(path=path, operations=ops)
        return spec.to_dict()
