"""The place page: one place's evidence — incidents, site visits, safety factors, listening.

Forms post to this blueprint and are loaded through the same schemas as the API, then the
same services write them; success redirects back to the page (so a reload never posts
twice), a refusal re-renders the page with the message and what was typed (422, or 409
when someone else changed a factor first).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError

from locmap import clock
from locmap.errors import Conflict, InvalidData
from locmap.formatting import day
from locmap.services import (
    assessments,
    engagement,
    evidence,
    factors,
    observations,
    photos,
    place_map,
    places,
    reviews,
    safety_maps,
    weighting_records,
)
from locmap.services.evidence import LOCAL_TZ
from locmap.services.permissions import can, require
from locmap.services.pilots import get_pilot
from locmap.vocab import CONFIDENCE, ENGAGEMENT_GROUPS, QUADRANTS, VOICES
from locmap.web.api.evidence_schemas import (
    AwarenessInSchema,
    EngagementInSchema,
    FactorInSchema,
    FactorPatchSchema,
    ObservationInSchema,
    ObservationPatchSchema,
)
from locmap.web.context import actor, db_session, login_required, suppression_threshold

bp = Blueprint("places_pages", __name__)

_URL = "/pilots/<int:pilot_id>/places/<int:place_id>"
_INTS = {*observations.COUNT_FIELDS, "weight", "reached", "version"}
_LISTS = {"incident_ids", "observation_ids", "engagement_ids", "place_ids"}


def _form_data(schema: Schema) -> dict[str, Any]:
    """The posted form as the schema's input: numbers as ints, multi-selects as id lists."""
    out: dict[str, Any] = {}
    # A form lists its checkboxes in ``_checkboxes``: an unticked box is not posted at all,
    # and on an edit form it must read as "no", not "unchanged".
    boxes = set(request.form.get("_checkboxes", "").split()) & set(schema.fields)
    for name in boxes:
        out[name] = name in request.form
    for name in set(schema.fields) - boxes:
        if name in _LISTS:
            out[name] = [int(v) if v.isdigit() else v for v in request.form.getlist(name)]
            continue
        value = request.form.get(name)
        if value is None or value == "":
            continue
        out[name] = int(value) if name in _INTS and value.lstrip("-").isdigit() else value
    return out


def _local(value: str | None, fmt: str) -> str:
    return dt.datetime.fromisoformat(value).astimezone(LOCAL_TZ).strftime(fmt) if value else ""


def _when(obs: dict[str, Any]) -> str:
    start = _local(obs["started_at"], "%a %-d %b %Y, %H:%M")
    end = _local(obs["ended_at"], "%H:%M")
    return f"{start}–{end}" if end else start


def _render(pilot_id: int, place_id: int, *, status: int = 200, open_form: str = "",
            values: dict[str, Any] | None = None, error: str = "",
            invalid: list[str] | None = None) -> Any:
    s, a = db_session(), actor()
    pilot = get_pilot(s, a, pilot_id)
    threshold = suppression_threshold()
    place = evidence.place_overview(s, a, pilot_id, place_id, threshold=threshold)
    visits = observations.list_observations(s, a, pilot_id, place_id)
    for v in visits:
        v["when"] = _when(v)
        v["started_local"] = _local(v["started_at"], "%Y-%m-%dT%H:%M")
        v["ended_local"] = _local(v["ended_at"], "%Y-%m-%dT%H:%M")
    factor_list = factors.list_factors(s, a, pilot_id, place_id, threshold=threshold)
    by_quadrant: dict[str, list[dict[str, Any]]] = {q: [] for q in QUADRANTS}
    for f in factor_list:
        by_quadrant[f["quadrant"]].append(f)
    # Partners see the place's incidents as suppressed counts by quarter, never one by one.
    records = can(a, pilot_id, "evidence.records")
    recent, choices = evidence.place_incident_lists(s, a, pilot_id, place_id)
    for c in choices:
        c["date"] = _local(c["occurred_at"], "%-d %b %Y")
    engagements = engagement.list_engagement(s, a, pilot_id, place_id)
    other_places = places.other_place_names(s, a, pilot_id, place_id)
    # Photos are the owning team's; the page lists them, each image read is audited.
    visit_photos = (photos.list_photos(s, a, pilot_id, "observation", [v["id"] for v in visits])
                    if records else {})
    summary = None if records else evidence.incident_summary(s, a, pilot_id, place_id,
                                                              threshold=threshold)
    # The map's perceived-safety cells: the combined surface of the latest period with maps
    # around this place only (partners: withheld below the threshold, counts rounded).
    perceived_layer = None
    if place["geometry"] is not None:
        perceived_layer = place_map.perceived_layer(s, a, pilot_id, place_id,
                                                    threshold=threshold)
    versions = assessments.list_assessments(s, a, pilot_id, place_id)
    weighted = weighting_records.weighted_in(s, a, pilot_id, place_id)
    # Each version listed shows the one status every page shows.
    labels = reviews.version_labels(s, a, pilot_id, "assessment",
                                    [v["id"] for v in versions[:1]]
                                    + [w["assessment_id"] for w in weighted])
    for r in recent:
        r["date"] = _local(r["occurred_at"], "%-d %b %Y" if r["time_precision"] != "month"
                           else "%b %Y")
    return render_template(
        "place.html", pilot=pilot, place=place, incidents=recent, incident_summary=summary,
        can_children=can(a, pilot_id, "identity.read"),
        incident_choices=choices, incident_labels={c["id"]: c for c in choices},
        visits=visits, visit_photos=visit_photos, show_photos=records,
        visit_labels={v["id"]: v["when"] for v in visits},
        linked_visits={o for f in factor_list for o in f["observation_ids"]},
        factors=by_quadrant, factor_total=len(factor_list),
        engagements=engagements,
        engagement_labels={e["id"]: f"{day(e['held_on'])} · {e['with_group']}"
                           for e in engagements},
        awareness=engagement.list_awareness(s, a, pilot_id, place_id),
        other_places=other_places, can_edit=can(a, pilot_id, "evidence.edit"),
        assessment_versions=versions, weighted_in=weighted, assessment_labels=labels,
        can_assess=can(a, pilot_id, "assessment.edit"),
        perceived=safety_maps.place_surface(s, a, pilot_id, place_id, threshold=threshold),
        perceived_layer=perceived_layer,
        quadrants=QUADRANTS, confidence=CONFIDENCE, voices=VOICES, groups=ENGAGEMENT_GROUPS,
        vocab={"light": observations.LIGHT, "guardianship": observations.GUARDIANSHIP,
               "levels": observations.LEVELS, "cctv": observations.CCTV},
        open_form=open_form, values=values or {}, error=error, invalid=invalid or [],
        now=clock.local_now().strftime("%Y-%m-%dT%H:%M"),
        visit_defaults=observations.visit_form_defaults(s, a, pilot_id, place_id),
        today=clock.today().isoformat(),
        map_data={"geometry": place["geometry"], "kind": place["kind"],
                  "perceived": perceived_layer,
                  "tile_url": current_app.config["LOCMAP_TILE_URL"],
                  "tile_attribution": current_app.config["LOCMAP_TILE_ATTRIBUTION"]},
    ), status


def _invalid_fields(exc: ValidationError | InvalidData | Conflict) -> list[str]:
    """The names of the form's fields the refusal is about (the form macros mark them
    ``aria-invalid`` and point them at the message with ``aria-describedby``).
    """
    if isinstance(exc, ValidationError):
        return [str(k) for k in exc.normalized_messages()]
    details = exc.details if isinstance(exc, InvalidData) else {}
    if not isinstance(details, dict):
        return []
    if isinstance(details.get("field"), str):
        return [details["field"]]
    return [str(k) for k in details]


def _message(exc: ValidationError) -> str:
    parts = []
    for field, msgs in exc.normalized_messages().items():
        text = "; ".join(str(m) for m in msgs) if isinstance(msgs, list) else str(msgs)
        parts.append(f"{field.replace('_', ' ')}: {text}")
    return "Not saved — " + " · ".join(parts)


def _save(pilot_id: int, place_id: int, form: str, schema: Schema, write: Any,
          anchor: str, done: str) -> Any:
    """Load the form with ``schema``, call ``write(data)``; redirect, or re-render on refusal."""
    s, a = db_session(), actor()
    require(a, pilot_id, "evidence.edit")
    raw = _form_data(schema)
    try:
        write(s, a, schema.load(raw))
    except ValidationError as exc:
        return _render(pilot_id, place_id, status=422, open_form=form, values=raw,
                       error=_message(exc), invalid=_invalid_fields(exc))
    except (InvalidData, Conflict) as exc:
        s.rollback()
        return _render(pilot_id, place_id, status=exc.status, open_form=form, values=raw,
                       error=f"Not saved — {exc.message}", invalid=_invalid_fields(exc))
    flash(done, "info")
    return redirect(url_for("places_pages.place", pilot_id=pilot_id, place_id=place_id,
                            _anchor=anchor))


@bp.route(_URL)
@login_required
def place(pilot_id: int, place_id: int) -> Any:
    return _render(pilot_id, place_id)


@bp.route(f"{_URL}/observations", methods=["POST"])
@login_required
def add_observation(pilot_id: int, place_id: int) -> Any:
    return _save(pilot_id, place_id, "visit", ObservationInSchema(),
                 lambda s, a, d: observations.create_observation(s, a, pilot_id, place_id, d),
                 "visits", "Site visit recorded.")


@bp.route(f"{_URL}/observations/<int:observation_id>", methods=["POST"])
@login_required
def edit_observation(pilot_id: int, place_id: int, observation_id: int) -> Any:
    def write(s: Any, a: Any, d: dict[str, Any]) -> Any:
        version = d.pop("version")
        return observations.update_observation(s, a, pilot_id, observation_id, d, version)

    return _save(pilot_id, place_id, f"visit-{observation_id}", ObservationPatchSchema(),
                 write, f"visit-{observation_id}", "Site visit updated.")


@bp.route(f"{_URL}/observations/<int:observation_id>/delete", methods=["POST"])
@login_required
def delete_observation(pilot_id: int, place_id: int, observation_id: int) -> Any:
    s, a = db_session(), actor()
    version = request.form.get("version", "")
    try:
        observations.delete_observation(s, a, pilot_id, observation_id,
                                        int(version) if version.isdigit() else None)
    except Conflict as exc:
        s.rollback()
        return _render(pilot_id, place_id, status=exc.status,
                       error=f"Not deleted — {exc.message}")
    flash("Site visit deleted.", "info")
    return redirect(url_for("places_pages.place", pilot_id=pilot_id, place_id=place_id,
                            _anchor="visits"))


@bp.route(f"{_URL}/factors", methods=["POST"])
@login_required
def add_factor(pilot_id: int, place_id: int) -> Any:
    return _save(pilot_id, place_id, "factor", FactorInSchema(),
                 lambda s, a, d: factors.create_factor(s, a, pilot_id, place_id, d),
                 "factors", "Safety factor added.")


@bp.route(f"{_URL}/factors/<int:factor_id>", methods=["POST"])
@login_required
def edit_factor(pilot_id: int, place_id: int, factor_id: int) -> Any:
    def write(s: Any, a: Any, d: dict[str, Any]) -> Any:
        version = d.pop("version")
        return factors.update_factor(s, a, pilot_id, factor_id, d, version)

    return _save(pilot_id, place_id, f"factor-{factor_id}", FactorPatchSchema(), write,
                 f"factor-{factor_id}", "Safety factor updated.")


@bp.route(f"{_URL}/engagement", methods=["POST"])
@login_required
def add_engagement(pilot_id: int, place_id: int) -> Any:
    def write(s: Any, a: Any, d: dict[str, Any]) -> Any:
        d["place_ids"] = sorted({place_id, *d["place_ids"]})
        return engagement.create_engagement(s, a, pilot_id, d)

    return _save(pilot_id, place_id, "engagement", EngagementInSchema(), write,
                 "listening", "Engagement record saved.")


@bp.route(f"{_URL}/awareness", methods=["POST"])
@login_required
def add_awareness(pilot_id: int, place_id: int) -> Any:
    def write(s: Any, a: Any, d: dict[str, Any]) -> Any:
        d["place_ids"] = sorted({place_id, *d["place_ids"]})
        return engagement.create_awareness(s, a, pilot_id, d)

    return _save(pilot_id, place_id, "awareness", AwarenessInSchema(), write,
                 "listening", "Awareness activity saved.")
