"""Subject access over the API (issue 15): one person's export, ``?format=zip`` (CSVs
and the PDF summary; the default) or ``pdf``. Members who read identities use the pilot's
route; admins, usually no member, the ``/admin`` one. Every export is audited.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from marshmallow import Schema, fields

from locmap.errors import InvalidData
from locmap.services import subject_access
from locmap.services.admin import require_admin
from locmap.web.api import api
from locmap.web.context import actor, db_session


class FoundSchema(Schema):
    person_id = fields.Integer()
    pseudonym = fields.String()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "Rows each file of the export would hold, by file"})


def _export(pilot_id: int, person_id: int) -> Response:
    fmt = request.args.get("format", "zip")
    if fmt not in ("zip", "pdf"):
        raise InvalidData("format is zip or pdf.")
    s, a = db_session(), actor()
    if fmt == "pdf":
        data, mime = subject_access.export_pdf(s, a, pilot_id, person_id), "application/pdf"
    else:
        data, mime = subject_access.export_zip(s, a, pilot_id, person_id), "application/zip"
    return Response(data, mimetype=mime, headers={
        "Content-Disposition": f'attachment; filename="subject-access-{person_id}.{fmt}"',
        "Cache-Control": "no-store"})


@api.route("/pilots/<int:pilot_id>/people/<int:person_id>/subject-access",
           summary="Subject access export of one person (ZIP of CSVs + PDF, or ?format=pdf)",
           tag="people", permission="identity.read", produces="application/zip")
def subject_access_export(pilot_id: int, person_id: int) -> Any:
    return _export(pilot_id, person_id)


@api.route("/admin/pilots/<int:admin_pilot_id>/people/<int:person_id>/subject-access",
           summary="Subject access export of one person, for admins", tag="admin",
           produces="application/zip")
def admin_subject_access_export(admin_pilot_id: int, person_id: int) -> Any:
    require_admin(actor())
    return _export(admin_pilot_id, person_id)


@api.route("/admin/pilots/<int:admin_pilot_id>/people", summary="Find a person of a pilot "
           "by pseudonym for a subject access request (admins; ?pseudonym=YP-001)",
           tag="admin", response=FoundSchema)
def admin_subject_access_find(admin_pilot_id: int) -> Any:
    s, a = db_session(), actor()
    require_admin(a)
    pid = subject_access.find(s, a, admin_pilot_id, request.args.get("pseudonym", ""))
    return subject_access.preview(s, a, admin_pilot_id, pid)
