"""Hostile input stops at the door with a 4xx, before any service sees it.

What generated API cases found reaching the database as 500s:

* NUL bytes (PostgreSQL text cannot hold them) and lone UTF-16 surrogates (``U+D800``
  in JSON: valid JSON, not encodable as UTF-8) in any text field, query argument or form
  value → 400 naming where;
* ids of 2³¹ and more in a path (PostgreSQL ``integer``) → 404, like any id that names
  nothing — the ``int`` URL converter is bounded;
* JSON nested thousands deep (the parser's recursion limit) → 400;
* any other value the database refuses as out of range (an id in a body or a query) →
  422 instead of the driver's error;
* an ``UPDATE`` that a concurrent save made stale (``StaleDataError`` from
  ``version_id_col``) → 409, like the optimistic-locking check in
  :mod:`locmap.services.versioning` that normally catches it first.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import DataError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.routing import IntegerConverter

__all__ = ["init_app", "MAX_DB_INT", "MAX_JSON_DEPTH"]

MAX_DB_INT = 2**31 - 1
MAX_JSON_DEPTH = 64


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` that matches only ids a PostgreSQL ``integer`` column can hold."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", MAX_DB_INT)
        super().__init__(map, *args, **kwargs)


def _bad_text(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (a lone surrogate)"
    return None


def _scan(value: Any, where: str, depth: int = 0) -> tuple[str, str] | None:
    """The first hostile string or too-deep nesting in a JSON value, as (where, why)."""
    if depth > MAX_JSON_DEPTH:
        return where, f"is nested more than {MAX_JSON_DEPTH} levels deep"
    if isinstance(value, str):
        problem = _bad_text(value)
        return (where, problem) if problem else None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _scan(k, f"{where} key", depth + 1) or _scan(v, f"{where}.{k}", depth + 1)
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _scan(v, f"{where}[{i}]", depth + 1)
            if found:
                return found
    return None


def _refuse(status: int, error: str, message: str) -> Any:
    if request.path.startswith("/api/"):
        return jsonify(error=error, message=message), status
    return render_template("error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter

    @app.before_request
    def _hostile_text() -> Any:
        for source, values in (("query", request.args), ("form", request.form)):
            for key, value in values.items(multi=True):
                problem = _bad_text(key) or _bad_text(value)
                if problem:
                    return _refuse(400, "bad_text", f"The {source} field {key[:40]!r} "
                                   f"{problem}.")
        if request.is_json and request.content_length:
            try:
                body = request.get_json(silent=True)
            except RecursionError:
                return _refuse(400, "too_deep",
                               f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")
            found = _scan(body, "body")
            if found:
                return _refuse(400, "bad_text", f"The JSON {found[0][:80]} {found[1]}.")
        return None

    @app.errorhandler(RecursionError)
    def _too_deep(exc: RecursionError) -> Any:
        return _refuse(400, "too_deep", "The request is nested too deeply to read.")

    @app.errorhandler(DataError)
    def _out_of_range(exc: DataError) -> Any:
        # The database refused a value (an id beyond integer, a number beyond its column)
        # that validation let through: the request is wrong, not the server.
        return _refuse(422, "invalid", "A value in the request is out of range or not of "
                       "the right kind.")

    @app.errorhandler(StaleDataError)
    def _stale(exc: StaleDataError) -> Any:
        # Someone saved the record between our check and our write: the client must
        # reload it (the response rolls the request back).
        return _refuse(409, "conflict", "This record was changed by someone else at the "
                       "same time. Reload it, check their change, then apply yours again.")
