"""The auditor's page: search the audit trail, export it, "who has seen this person",
and check the hash chain. For users with the global auditor flag (and admins); anyone
else gets 403. The page shows pseudonyms and record ids, never identities or free text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for

from locmap.errors import InvalidData, LocmapError
from locmap.services import audit
from locmap.web.context import actor, db_session, login_required

bp = Blueprint("audit", __name__)

_FIELDS = ("user", "pilot_id", "entity", "entity_id", "action", "date_from", "date_to")


def _int(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 10:
        raise InvalidData(f"{name} must be a whole number.", details={name: ["integer"]})
    return int(raw)


def _date(name: str) -> dt.date | None:
    raw = request.args.get(name, "").strip()
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        raise InvalidData(f"{name} must be a date (YYYY-MM-DD).",
                          details={name: ["date"]}) from None


def _filter() -> audit.AuditFilter:
    def s(name: str) -> str | None:
        return request.args.get(name, "").strip() or None

    return audit.AuditFilter(user=s("user"), pilot_id=_int("pilot_id"), entity=s("entity"),
                             entity_id=s("entity_id"), action=s("action"),
                             date_from=_date("date_from"), date_to=_date("date_to"))


def _args() -> dict[str, Any]:
    return {k: v for k in _FIELDS if (v := request.args.get(k, "").strip())}


def _page(**extra: Any) -> Any:
    a, s = actor(), db_session()
    audit.require_auditor(a)
    error, results, status = None, None, 200
    try:
        f = _filter()
        results = audit.search_events(s, a, f, before_id=_int("before_id"))
    except InvalidData as exc:
        error, status = exc.message, 422
    audit.record_view(s, a, "audit", None)
    args = _args()
    next_url = (url_for("audit.index", **args, before_id=results["next_before_id"])
                if results and results["next_before_id"] else None)
    return render_template("audit.html", results=results, args=args, error=error,
                           actions=audit.ACTION_CHOICES, next_url=next_url,
                           csv_url=url_for("audit.export_csv", **args), **extra), status


@bp.route("/audit")
@login_required
def index() -> Any:
    return _page()


@bp.route("/audit/export.csv")
@login_required
def export_csv() -> Any:
    # Built whole, not streamed: a streamed body would keep the request's context (and
    # its database session) alive until the client has read it all.
    body = "".join(audit.events_csv(db_session(), actor(), _filter()))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="audit-trail.csv"',
        "Cache-Control": "no-store"})


@bp.route("/audit/who-has-seen")
@login_required
def who_has_seen() -> Any:
    a, s = actor(), db_session()
    audit.require_auditor(a)
    pilot_id, pseudonym = _int("pilot_id"), request.args.get("pseudonym", "").strip()
    seen, error, status = None, None, 200
    if pilot_id is not None and pseudonym:
        try:
            seen = audit.who_has_seen(s, a, pilot_id, pseudonym[:20])
        except LocmapError as exc:
            if exc.status not in (404, 422):
                raise
            error, status = exc.message, exc.status
    elif request.args:
        error, status = "Give the pilot's id and the pseudonym (e.g. YP-001).", 422
    return render_template("audit_who.html", seen=seen, error=error, pilot_id=pilot_id,
                           pseudonym=pseudonym), status


@bp.route("/audit/verify", methods=["POST"])
@login_required
def verify() -> Any:
    audit.require_auditor(actor())
    return _page(chain=audit.verify_chain(db_session()))
