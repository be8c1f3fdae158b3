"""People of a pilot's network, for the owning team (issue 16): a searchable list; one
person's page with their identity (shown on request, audited), the case fields the
current-picture dashboard counts, and their relationships and places — each added,
changed, ended or deleted here. Partners never reach these pages (the services check
``evidence.records``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError, fields, validate

from locmap import clock
from locmap.errors import Conflict, InvalidData
from locmap.services import network, people, pilots, places
from locmap.services.permissions import can, require
from locmap.vocab import (
    AGE_BANDS,
    CASE_STATUSES,
    EXPLOITATION_CATEGORIES,
    PERSON_KINDS,
    RELATIONSHIP_TYPES,
    VALENCES,
)
from locmap.web.context import actor, db_session, login_required, suppression_threshold

bp = Blueprint("people_pages", __name__)

_PILOT = "/pilots/<int:pilot_id>"


def _pilot(pilot_id: int) -> dict[str, Any]:
    s, a = db_session(), actor()
    return pilots.pilot_summary(s, a, pilots.get_pilot(s, a, pilot_id),
                                threshold=suppression_threshold()).to_dict()


@bp.route(f"{_PILOT}/network/people")
@login_required
def people_list(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    text = request.args.get("q", "")[:100]
    kind = request.args.get("kind", "")
    by_name = request.args.get("by_name") == "1" and can(a, pilot_id, "identity.read")
    error, status = "", 200
    try:
        found = people.find_people(s, a, pilot_id, text=text,
                                   kind=kind if kind in PERSON_KINDS else "", by_name=by_name)
    except InvalidData as exc:
        found, error, status = [], exc.message, 422
    return render_template(
        "people.html", pilot=_pilot(pilot_id), people=found, q=text, kind=kind,
        by_name=by_name, kinds=PERSON_KINDS, error=error,
        can_search_names=can(a, pilot_id, "identity.read"),
    ), status


def _person_page(pilot_id: int, person_id: int, *, status: int = 200, error: str = "",
                 open_form: str = "") -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "evidence.records")
    show = request.args.get("identity") == "1" and can(a, pilot_id, "identity.read")
    person = people.get_person(s, a, pilot_id, person_id, with_identity=show)
    links = network.person_links(s, a, pilot_id, person_id)
    everyone = people.list_people(s, a, pilot_id)  # pseudonyms for the "with" choice
    return render_template(
        "person.html", pilot=_pilot(pilot_id), person=person, links=links, error=error,
        open_form=open_form, others=[p for p in everyone if p["id"] != person_id],
        place_names=_places(pilot_id),
        can_edit=can(a, pilot_id, "network.edit"),
        can_identity=can(a, pilot_id, "identity.read"),
        can_case=can(a, pilot_id, "aggregate.unsuppressed"),
        categories=EXPLOITATION_CATEGORIES, statuses=CASE_STATUSES, age_bands=AGE_BANDS,
        types=RELATIONSHIP_TYPES, valences=VALENCES, frequencies=network.FREQUENCIES,
        today=clock.today().isoformat(),
    ), status


def _places(pilot_id: int) -> list[tuple[int, str]]:
    collection = places.list_places(db_session(), actor(), pilot_id,
                                    threshold=suppression_threshold())
    return sorted(((f["id"], f["properties"]["name"]) for f in collection["features"]),
                  key=lambda kv: kv[1])


@bp.route(f"{_PILOT}/people/<int:person_id>")
@login_required
def person(pilot_id: int, person_id: int) -> Any:
    return _person_page(pilot_id, person_id)


class _CaseForm(Schema):
    version = fields.Integer(required=True)
    age_band = fields.String(validate=validate.OneOf(AGE_BANDS))
    exploitation_category = fields.String(allow_none=True,
                                          validate=validate.OneOf(EXPLOITATION_CATEGORIES))
    case_status = fields.String(allow_none=True, validate=validate.OneOf(CASE_STATUSES))
    last_risk_assessment_on = fields.Date(allow_none=True)


class _RelationshipForm(Schema):
    type = fields.String(validate=validate.OneOf(RELATIONSHIP_TYPES))
    valence = fields.String(validate=validate.OneOf(VALENCES))
    strength = fields.Integer(validate=validate.Range(1, 3))
    source = fields.String(validate=validate.Length(max=100))
    since = fields.Date(allow_none=True)
    until = fields.Date(allow_none=True)


class _PresenceForm(Schema):
    frequency = fields.String(validate=validate.OneOf(network.FREQUENCIES))
    times = fields.String(validate=validate.Length(max=200))
    source = fields.String(validate=validate.Length(max=100))
    since = fields.Date(allow_none=True)
    until = fields.Date(allow_none=True)


_OPTIONAL = {"exploitation_category", "case_status", "last_risk_assessment_on", "since",
             "until"}


def _load(schema: Schema, names: tuple[str, ...]) -> dict[str, Any]:
    """The posted fields ``names`` through ``schema``; an empty optional field is None."""
    raw: dict[str, Any] = {}
    for name in names:
        if name not in request.form:
            continue
        value = request.form[name].strip()
        raw[name] = None if value == "" and name in _OPTIONAL else value
    try:
        return schema.load(raw)
    except ValidationError as exc:
        msgs = "; ".join(f"{k.replace('_', ' ')}: {' '.join(map(str, v))}"
                         for k, v in exc.normalized_messages().items())
        raise InvalidData(msgs) from exc


def _write(pilot_id: int, person_id: int, form: str, done: str, action: Any) -> Any:
    """Run ``action()``; back to the person page, or the page again with the reason."""
    s = db_session()
    require(actor(), pilot_id, "network.edit")
    try:
        action()
    except (InvalidData, Conflict) as exc:
        s.rollback()
        return _person_page(pilot_id, person_id, status=exc.status, open_form=form,
                            error=f"Not saved — {exc.message}")
    flash(done, "info")
    return redirect(url_for("people_pages.person", pilot_id=pilot_id, person_id=person_id,
                            _anchor=form.split("-")[0]))


@bp.route(f"{_PILOT}/people/<int:person_id>/case", methods=["POST"])
@login_required
def save_case(pilot_id: int, person_id: int) -> Any:
    def act() -> None:
        d = _load(_CaseForm(), ("version", "age_band", *people.CASE_FIELDS))
        version = d.pop("version")
        people.update_person(db_session(), actor(), pilot_id, person_id, version=version,
                             changes=d)
    return _write(pilot_id, person_id, "case", "Case fields saved.", act)


@bp.route(f"{_PILOT}/people/<int:person_id>/relationships", methods=["POST"])
@login_required
def add_relationship(pilot_id: int, person_id: int) -> Any:
    def act() -> None:
        d = _load(_RelationshipForm(), ("type", "valence", "strength", "source", "since"))
        other = request.form.get("other_id", "")
        if not other.isdigit():
            raise InvalidData("Choose who the relationship is with.")
        network.create_relationship(db_session(), actor(), pilot_id, person_a_id=person_id,
                                    person_b_id=int(other), **d)
    return _write(pilot_id, person_id, "relationships", "Relationship recorded.", act)


def _edit_or_end(load: Any, update: Any, names: tuple[str, ...]) -> None:
    version = request.form.get("version", "")
    if request.form.get("end") == "1":
        changes: dict[str, Any] = {"until": clock.today()}
    else:
        changes = load(names)
    update(changes, int(version) if version.isdigit() else None)


@bp.route(f"{_PILOT}/relationships/<int:rel_id>", methods=["POST"])
@login_required
def edit_relationship(pilot_id: int, rel_id: int) -> Any:
    require(actor(), pilot_id, "network.edit")
    person_id = _person_from_form()
    network.check_on_person_page(db_session(), actor(), pilot_id, person_id, rel_id=rel_id)

    def act() -> None:
        _edit_or_end(lambda n: _load(_RelationshipForm(), n),
                     lambda c, v: network.update_relationship(db_session(), actor(), pilot_id,
                                                              rel_id, c, v,
                                                              person_id=person_id),
                     ("type", "valence", "strength", "source", "since", "until"))
    return _write(pilot_id, person_id, f"relationships-{rel_id}", "Relationship updated.",
                  act)


@bp.route(f"{_PILOT}/relationships/<int:rel_id>/delete", methods=["POST"])
@login_required
def delete_relationship(pilot_id: int, rel_id: int) -> Any:
    require(actor(), pilot_id, "network.edit")
    person_id = _person_from_form()
    network.check_on_person_page(db_session(), actor(), pilot_id, person_id, rel_id=rel_id)
    return _write(pilot_id, person_id, "relationships", "Relationship deleted.",
                  lambda: network.delete_relationship(db_session(), actor(), pilot_id, rel_id,
                                                      person_id=person_id))


@bp.route(f"{_PILOT}/people/<int:person_id>/presences", methods=["POST"])
@login_required
def add_presence(pilot_id: int, person_id: int) -> Any:
    def act() -> None:
        d = _load(_PresenceForm(), ("frequency", "times", "source", "since"))
        place = request.form.get("place_id", "")
        if not place.isdigit():
            raise InvalidData("Choose the place.")
        network.create_presence(db_session(), actor(), pilot_id, person_id=person_id,
                                place_id=int(place), **d)
    return _write(pilot_id, person_id, "places", "Place recorded.", act)


@bp.route(f"{_PILOT}/presences/<int:presence_id>", methods=["POST"])
@login_required
def edit_presence(pilot_id: int, presence_id: int) -> Any:
    require(actor(), pilot_id, "network.edit")
    person_id = _person_from_form()
    network.check_on_person_page(db_session(), actor(), pilot_id, person_id,
                                 presence_id=presence_id)

    def act() -> None:
        _edit_or_end(lambda n: _load(_PresenceForm(), n),
                     lambda c, v: network.update_presence(db_session(), actor(), pilot_id,
                                                          presence_id, c, v,
                                                          person_id=person_id),
                     ("frequency", "times", "source", "since", "until"))
    return _write(pilot_id, person_id, f"places-{presence_id}", "Place updated.", act)


@bp.route(f"{_PILOT}/presences/<int:presence_id>/delete", methods=["POST"])
@login_required
def delete_presence(pilot_id: int, presence_id: int) -> Any:
    require(actor(), pilot_id, "network.edit")
    person_id = _person_from_form()
    network.check_on_person_page(db_session(), actor(), pilot_id, person_id,
                                 presence_id=presence_id)
    return _write(pilot_id, person_id, "places", "Place deleted.",
                  lambda: network.delete_presence(db_session(), actor(), pilot_id,
                                                  presence_id, person_id=person_id))


def _person_from_form() -> int:
    """The person page the form came from (a relationship has two ends). The services
    check that the presence or relationship is that person's (else 404, nothing changed).
    """
    value = request.form.get("person_id", "")
    if not value.isdigit() or len(value) > 9:
        raise InvalidData("The form does not say which person's page it came from.")
    return int(value)

