"""Field work pages (issue 18): the phone's visit form, photos, and the installable app.

* ``/pilots/<id>/field``: the visit form for a phone (one column, +/- steppers, the place
  where the practitioner stands pre-selected, light from the sun, photos, the walk with
  consent), the incident form and the pilot's places. ``static/js/field.js`` sends what is
  recorded through the API with idempotency keys, or keeps it in IndexedDB while offline
  and sends it in order when the phone is back online. Without JavaScript the visit form
  posts to :func:`record_visit`.
* Photo forms post here (``multipart/form-data``); the same service as the API stores the
  photos and the browser goes back to the visit or incident with a message: what was
  added, or why nothing was (a photo over the size limit, a file that is not a photo).
* ``/manifest.webmanifest`` and ``/sw.js`` (the service worker, at the site's root so its
  scope is the whole app) make locmap installable and let an opened field page work offline.
"""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from marshmallow import ValidationError

from locmap.errors import Conflict, InvalidData, TooLarge
from locmap.services import observations, photos, places
from locmap.services.permissions import require
from locmap.services.pilots import get_pilot
from locmap.vocab import HARM_CATEGORIES, label
from locmap.web.api.evidence_schemas import ObservationInSchema
from locmap.web.api.photos import uploaded
from locmap.web.context import actor, db_session, login_required, suppression_threshold
from locmap.web.places_pages import _form_data, _message

bp = Blueprint("fieldwork", __name__)

_PILOT = "/pilots/<int:pilot_id>"


def _back_to(pilot_id: int, observation_id: int | None, incident_id: int | None) -> str:
    if incident_id is not None:
        return url_for("incidents_pages.edit", pilot_id=pilot_id, incident_id=incident_id,
                       _anchor="photos")
    assert observation_id is not None
    place_id = observations.visit_place_id(db_session(), actor(), pilot_id, observation_id)
    return url_for("places_pages.place", pilot_id=pilot_id, place_id=place_id,
                   _anchor=f"visit-{observation_id}")


def _add(pilot_id: int, kind: photos.Owner, owner_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "evidence.edit")
    try:
        added = photos.add_photos(s, a, pilot_id, kind, owner_id, uploaded())
    except (InvalidData, TooLarge) as exc:
        s.rollback()
        flash(f"No photo added — {exc.message}", "error")
    else:
        flash(f"{len(added)} photo{'s' if len(added) != 1 else ''} added.", "info")
    ids = (owner_id, None) if kind == "observation" else (None, owner_id)
    return redirect(_back_to(pilot_id, *ids))


@bp.route(f"{_PILOT}/observations/<int:observation_id>/photos", methods=["POST"])
@login_required
def add_visit_photos(pilot_id: int, observation_id: int) -> Any:
    return _add(pilot_id, "observation", observation_id)


@bp.route(f"{_PILOT}/incidents/<int:incident_id>/photos", methods=["POST"])
@login_required
def add_incident_photos(pilot_id: int, incident_id: int) -> Any:
    return _add(pilot_id, "incident", incident_id)


@bp.route(f"{_PILOT}/photos/<int:photo_id>/delete", methods=["GET"])
@login_required
def confirm_delete_photo(pilot_id: int, photo_id: int) -> Any:
    """The confirm step before a photo is deleted: the photo, Delete and Cancel (no JS)."""
    s, a = db_session(), actor()
    photo = photos.photo_to_delete(s, a, pilot_id, photo_id)
    return render_template(
        "photo_delete.html", pilot=get_pilot(s, a, pilot_id), photo=photo,
        back=_back_to(pilot_id, photo["observation_id"], photo["incident_id"]),
        what="site visit" if photo["observation_id"] is not None else "incident")


@bp.route(f"{_PILOT}/photos/<int:photo_id>/delete", methods=["POST"])
@login_required
def delete_photo(pilot_id: int, photo_id: int) -> Any:
    """Delete a photo once confirmed; a post without ``confirm`` goes to the confirm step."""
    s, a = db_session(), actor()
    if request.form.get("confirm") != "yes":
        photos.photo_to_delete(s, a, pilot_id, photo_id)  # 403/404 as the delete would
        return redirect(url_for("fieldwork.confirm_delete_photo", pilot_id=pilot_id,
                                photo_id=photo_id))
    owner = photos.delete_photo(s, a, pilot_id, photo_id)
    flash("Photo deleted.", "info")
    return redirect(_back_to(pilot_id, owner["observation"], owner["incident"]))


@bp.app_context_processor
def _photo_limits() -> dict[str, Any]:
    return {"photo_limits": {"mb": photos.MAX_PHOTO_BYTES // 2**20, "max": photos.MAX_PHOTOS}}


# --- the phone's visit form ------------------------------------------------------------

@bp.route(f"{_PILOT}/field")
@login_required
def field(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    pilot = get_pilot(s, a, pilot_id)
    require(a, pilot_id, "evidence.edit")
    collection = places.list_places(s, a, pilot_id, threshold=suppression_threshold())
    return render_template(
        "field.html", pilot=pilot, places=collection,
        recent=observations.my_recent_visits(s, a, pilot_id),
        defaults=observations.field_defaults(s, a, pilot_id), open_form="", values={},
        vocab={"light": observations.LIGHT, "guardianship": observations.GUARDIANSHIP,
               "levels": observations.LEVELS, "cctv": observations.CCTV},
        categories=[(c, label(c)) for c in HARM_CATEGORIES],
        field_data={"pilot": pilot_id, "places": collection},
    )


@bp.route(f"{_PILOT}/field", methods=["POST"])
@login_required
def record_visit(pilot_id: int) -> Any:
    """The visit form without JavaScript: the visit, then its photos, in one transaction."""
    s, a = db_session(), actor()
    require(a, pilot_id, "evidence.edit")
    place_id = request.form.get("place_id", "")
    schema = ObservationInSchema()
    try:
        if not place_id.isdigit():
            raise InvalidData("Choose the place.")
        visit = observations.create_observation(s, a, pilot_id, int(place_id),
                                                schema.load(_form_data(schema)))
        files = uploaded()
        if files:
            photos.add_photos(s, a, pilot_id, "observation", visit["id"], files)
    except ValidationError as exc:
        s.rollback()
        flash(_message(exc), "error")
        return redirect(url_for("fieldwork.field", pilot_id=pilot_id))
    except (InvalidData, TooLarge, Conflict) as exc:
        s.rollback()
        flash(f"Not saved — {exc.message}", "error")
        return redirect(url_for("fieldwork.field", pilot_id=pilot_id))
    flash("Site visit recorded.", "info")
    return redirect(url_for("places_pages.place", pilot_id=pilot_id, place_id=int(place_id),
                            _anchor=f"visit-{visit['id']}"))


# --- the installable app ----------------------------------------------------------------

@bp.route("/manifest.webmanifest")
def manifest() -> Any:
    body = {
        "name": "locmap", "short_name": "locmap", "start_url": "/", "scope": "/",
        "display": "standalone", "background_color": "#ffffff", "theme_color": "#1d3557",
        "description": "Location assessment and context mapping for Contextual "
                       "Safeguarding: site visits on a phone, offline too.",
        "icons": [{"src": url_for("static", filename="icons/locmap.svg"), "sizes": "any",
                   "type": "image/svg+xml", "purpose": "any"}] + [
            {"src": url_for("static", filename=f"icons/locmap-{n}.png"), "sizes": f"{n}x{n}",
             "type": "image/png", "purpose": "any"} for n in (192, 512)],
    }
    response = current_app.response_class(json.dumps(body), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/sw.js")
def service_worker() -> Any:
    """The service worker, served from the root so that its scope is the whole site."""
    static = current_app.static_folder
    assert static is not None
    response = send_from_directory(static, "js/sw.js", mimetype="text/javascript",
                                   max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response
