"""Site visits (observations): recording what a practitioner saw and felt at a place.

A visit follows how one is done: when (start, end), the weather and light, who was present
(young people by age band, 10 to 24, adults, staff or guardians), guardianship, lighting, sight
lines, CCTV, signs of dealing or drug use, what felt safe and what felt unsafe, and notes.
All members read visits — partners without the free text (what felt safe or unsafe,
notes), which is the owning team's (``evidence.records``); coordinators and
practitioners record, change (optimistic locking on ``version``) and delete them; every
write is audited.

The light is read from the sun at the place when the practitioner leaves it to the time
(``light`` omitted or empty): daylight, dusk or dark at the place's centre at the start
of the visit (:mod:`locmap.sun`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import LineString
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from locmap import clock, sun
from locmap.errors import InvalidData, NotFound
from locmap.models import Observation, Pilot, Place, User
from locmap.services import audit
from locmap.services.evidence import (
    as_local_aware,
    check_text,
    check_vocab,
    iso,
    live_place,
)
from locmap.services.permissions import Actor, can, require
from locmap.services.versioning import check_version

__all__ = [
    "LIGHT", "GUARDIANSHIP", "LEVELS", "CCTV", "COUNT_FIELDS", "list_observations",
    "get_observation", "create_observation", "update_observation", "delete_observation",
    "visit_form_defaults", "field_defaults", "visit_place_id", "my_recent_visits",
    "nearest_place", "NEAREST_M", "WALK_REACH_M",
]

LIGHT = ("daylight", "dusk", "dark")
GUARDIANSHIP = ("none", "low", "moderate", "strong")
LEVELS = ("poor", "adequate", "good")
CCTV = ("none", "present_not_working", "present_working", "unknown")
YOUNG_FIELDS = ("young_people_10_13", "young_people_14_15", "young_people_16_17",
                "young_people_18_24")
COUNT_FIELDS = (*YOUNG_FIELDS, "adults_present", "staff_guardians_present")
_VOCAB = {"light": LIGHT, "guardianship": GUARDIANSHIP, "lighting": LEVELS,
          "sight_lines": LEVELS, "cctv": CCTV}
_TEXT = {"weather": 100, "felt_safe": 4000, "felt_unsafe": 4000, "notes": 8000}
_FLAGS = ("signs_of_dealing", "signs_of_drug_use")
EDITABLE = ("started_at", "ended_at", *_VOCAB, *_TEXT, *COUNT_FIELDS, *_FLAGS)
MAX_COUNT = 10_000
FREE_TEXT = ("felt_safe", "felt_unsafe", "notes")


def _dict(obs: Observation, observer: str | None = None, *, free_text: bool = True,
          session: Session | None = None) -> dict[str, Any]:
    young = sum(getattr(obs, f) for f in YOUNG_FIELDS)
    concerns = [w for w, on in (("signs of dealing", obs.signs_of_dealing),
                                ("signs of drug use", obs.signs_of_drug_use)) if on]
    return {
        "id": obs.id, "place_id": obs.place_id, "observer": observer,
        "started_at": iso(obs.started_at), "ended_at": iso(obs.ended_at),
        "weather": obs.weather, "light": obs.light,
        **{f: getattr(obs, f) for f in COUNT_FIELDS},
        "young_people": young,
        "guardianship": obs.guardianship, "lighting": obs.lighting,
        "sight_lines": obs.sight_lines, "cctv": obs.cctv,
        "signs_of_dealing": obs.signs_of_dealing, "signs_of_drug_use": obs.signs_of_drug_use,
        "concerns": concerns,
        **({f: getattr(obs, f) for f in FREE_TEXT} if free_text else {}),
        **(_walk_dict(session, obs) if session is not None else {}),
        "version": obs.version,
    }


def _walk_dict(session: Session, obs: Observation) -> dict[str, Any]:
    """The walk: the route as GeoJSON and the time at each place, with the places' names."""
    if obs.route is None:
        return {"route": None, "place_times": None}
    route = json.loads(session.scalar(select(func.ST_AsGeoJSON(obs.route, 6))) or "null")
    times = obs.place_times or []
    names = dict(session.execute(select(Place.id, Place.name).where(
        Place.id.in_([t["place_id"] for t in times]))).tuples().all()) if times else {}
    return {"route": route, "place_times": [
        {**t, "name": names.get(t["place_id"], "(place deleted)")} for t in times]}


# The walk (issue 18): a position counts as at a place within this distance of it.
WALK_REACH_M = 25.0
MAX_WALK_POINTS = 20_000


def _set_walk(session: Session, obs: Observation, pilot_id: int, walk: dict[str, Any]
              ) -> None:
    """Store the route and the seconds spent at each place of the pilot along it: the time
    from each position to the next is counted at every place that position is at.
    """
    points = walk.get("points")
    if not isinstance(points, list) or not 2 <= len(points) <= MAX_WALK_POINTS:
        raise InvalidData(f"walk: from 2 to {MAX_WALK_POINTS} positions are needed.",
                          details={"walk": ["Too few or too many positions."]})
    clean: list[tuple[float, float, float]] = []
    for p in points:
        if (not isinstance(p, list) or len(p) != 3
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in p)
                or not (-180 <= p[0] <= 180 and -90 <= p[1] <= 90)):
            raise InvalidData("walk: each position is [lon, lat, unix seconds].",
                              details={"walk": ["Each position is [lon, lat, time]."]})
        if clean and p[2] < clean[-1][2]:
            raise InvalidData("walk: the positions must be in time order.",
                              details={"walk": ["Positions out of time order."]})
        clean.append((float(p[0]), float(p[1]), float(p[2])))
    at = session.execute(text(
        """SELECT w.i::int, p.id FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[]))
                  WITH ORDINALITY AS w(lon, lat, i)
           JOIN place p ON p.pilot_id = :pilot_id AND p.deleted_at IS NULL
                AND p.geom IS NOT NULL
                AND ST_DWithin(p.geom::geography,
                               ST_SetSRID(ST_MakePoint(w.lon, w.lat), 4326)::geography, :m)"""
    ), {"lons": [c[0] for c in clean], "lats": [c[1] for c in clean], "pilot_id": pilot_id,
        "m": WALK_REACH_M}).tuples().all()
    seconds: dict[int, float] = {}
    for i, place_id in at:  # i counts from 1
        if i < len(clean):
            seconds[place_id] = seconds.get(place_id, 0.0) + clean[i][2] - clean[i - 1][2]
    obs.route = from_shape(LineString([(lon, lat) for lon, lat, _ in clean]), srid=4326)
    obs.place_times = [{"place_id": pid, "seconds": round(sec)}
                       for pid, sec in sorted(seconds.items(), key=lambda kv: -kv[1])]


def _centre(session: Session, place_id: int) -> tuple[float, float] | None:
    """The place's centre as WGS84 (lon, lat), or None for a place without a shape."""
    row = session.execute(
        select(func.ST_X(func.ST_PointOnSurface(Place.geom)),
               func.ST_Y(func.ST_PointOnSurface(Place.geom))).where(Place.id == place_id)
    ).first()
    return None if row is None or row[0] is None else (float(row[0]), float(row[1]))


def _clean(data: dict[str, Any], base: dict[str, Any],
           centre: tuple[float, float] | None = None) -> dict[str, Any]:
    """Check a whole visit (``base`` updated with ``data``) and return the clean values.

    ``light`` given as None or "" is read from the sun at ``centre`` when the visit
    started (daylight for a place without a shape, as before).
    """
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise InvalidData(f"Unknown fields: {', '.join(sorted(unknown))}.")
    v = {**base, **data}
    out: dict[str, Any] = {}
    started = as_local_aware(v.get("started_at"))
    ended = as_local_aware(v.get("ended_at"))
    if not isinstance(started, dt.datetime):
        raise InvalidData("started_at: when the visit started is required.",
                          details={"started_at": ["Required."]})
    for name, value in (("started_at", started), ("ended_at", ended)):
        if value is not None and (problem := clock.event_date_problem(value)):
            raise InvalidData(f"{name}: {problem}.", details={name: [f"{problem}."]})
    if ended is not None and ended < started:
        raise InvalidData("ended_at: the visit cannot end before it started.",
                          details={"ended_at": ["Must not be before started_at."]})
    out["started_at"], out["ended_at"] = started, ended
    if v.get("light") in (None, ""):
        v["light"] = sun.light_at(*centre, started) if centre else "daylight"
    for f, words in _VOCAB.items():
        out[f] = check_vocab(f, v.get(f), words)
    for f, max_len in _TEXT.items():
        out[f] = check_text(f, v.get(f), max_len)
    for f in COUNT_FIELDS:
        n = v.get(f, 0)
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_COUNT:
            raise InvalidData(f"{f}: a count from 0 to {MAX_COUNT} is required.",
                              details={f: [f"A whole number from 0 to {MAX_COUNT}."]})
        out[f] = n
    for f in _FLAGS:
        out[f] = bool(v.get(f, False))
    return out


_DEFAULTS: dict[str, Any] = {
    "light": None, "guardianship": "none", "lighting": "adequate",
    "sight_lines": "adequate", "cctv": "unknown",
}


def _observation(session: Session, pilot_id: int, observation_id: int) -> Observation:
    obs = session.scalar(
        select(Observation).join(Place, Place.id == Observation.place_id)
        .where(Observation.id == observation_id, Place.pilot_id == pilot_id,
               Place.deleted_at.is_(None))
    )
    if obs is None:
        raise NotFound("No such site visit in this pilot.")
    return obs


def _observer_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
                .tuples().all())


def list_observations(session: Session, actor: Actor, pilot_id: int, place_id: int
                      ) -> list[dict[str, Any]]:
    """The place's visits, newest first."""
    require(actor, pilot_id, "evidence.view")
    live_place(session, pilot_id, place_id)
    rows = session.scalars(
        select(Observation).where(Observation.place_id == place_id)
        .order_by(Observation.started_at.desc(), Observation.id.desc())
    ).all()
    names = _observer_names(session, {o.observer_id for o in rows})
    free_text = can(actor, pilot_id, "evidence.records")
    return [_dict(o, names.get(o.observer_id or 0), free_text=free_text, session=session)
            for o in rows]


def get_observation(session: Session, actor: Actor, pilot_id: int, observation_id: int
                    ) -> dict[str, Any]:
    require(actor, pilot_id, "evidence.view")
    obs = _observation(session, pilot_id, observation_id)
    return _dict(obs, _observer_names(session, {obs.observer_id}).get(obs.observer_id or 0),
                 free_text=can(actor, pilot_id, "evidence.records"), session=session)


def create_observation(session: Session, actor: Actor, pilot_id: int, place_id: int,
                       data: dict[str, Any]) -> dict[str, Any]:
    """Record a site visit at the place, observed by the actor."""
    require(actor, pilot_id, "evidence.edit")
    live_place(session, pilot_id, place_id)
    data = dict(data)
    walk = data.pop("walk", None)
    values = _clean(data, _DEFAULTS, _centre(session, place_id))
    obs = Observation(place_id=place_id, observer_id=actor.user_id, **values)
    if walk is not None:
        _set_walk(session, obs, pilot_id, walk)
    session.add(obs)
    session.flush()
    audit.record(session, actor, "create", "observation", obs.id, pilot_id=pilot_id,
                 detail={"place_id": place_id, **({"walk": True} if walk is not None else {})})
    return get_observation(session, actor, pilot_id, obs.id)


def _audit_409(session: Session, actor: Actor, pilot_id: int, observation_id: int
               ) -> Callable[[], None]:
    """The 409 returns the visit with its free text (notes): audited like a read."""
    return lambda: audit.record(session, actor, "read", "observation", observation_id,
                                pilot_id=pilot_id, personal_data=True,
                                detail={"fields": ["notes"], "status": 409})


def update_observation(session: Session, actor: Actor, pilot_id: int, observation_id: int,
                       data: dict[str, Any], version: int | None) -> dict[str, Any]:
    """Change some fields of a visit; ``version`` must be the one the client edited."""
    require(actor, pilot_id, "evidence.edit")
    obs = _observation(session, pilot_id, observation_id)
    check_version(session, "site visit", obs, version, current=_dict,
                  audit_read=_audit_409(session, actor, pilot_id, obs.id))
    data = dict(data)
    walk = data.pop("walk", None)
    current = {f: getattr(obs, f) for f in EDITABLE}
    values = _clean(data, current, _centre(session, obs.place_id))
    changed = sorted(f for f in values if values[f] != current[f])
    for f in changed:
        setattr(obs, f, values[f])
    if walk is not None:
        _set_walk(session, obs, pilot_id, walk)
        changed.append("walk")
    session.flush()
    audit.record(session, actor, "update", "observation", obs.id, pilot_id=pilot_id,
                 detail={"fields": changed})
    return get_observation(session, actor, pilot_id, obs.id)


def delete_observation(session: Session, actor: Actor, pilot_id: int, observation_id: int,
                       version: int | None = None) -> None:
    """Delete a visit (its links to safety factors go with it)."""
    require(actor, pilot_id, "evidence.edit")
    obs = _observation(session, pilot_id, observation_id)
    if version is not None:
        check_version(session, "site visit", obs, version, current=_dict,
                      audit_read=_audit_409(session, actor, pilot_id, obs.id))
    place_id = obs.place_id
    session.delete(obs)
    session.flush()
    audit.record(session, actor, "delete", "observation", observation_id, pilot_id=pilot_id,
                 detail={"place_id": place_id})


def visit_form_defaults(session: Session, actor: Actor, pilot_id: int, place_id: int
                        ) -> dict[str, Any]:
    """What the visit form starts from: now, the light now, and today's sunrise/sunset
    at the place (None for a place without a shape).
    """
    require(actor, pilot_id, "evidence.view")
    live_place(session, pilot_id, place_id)
    centre = _centre(session, place_id)
    now = clock.local_now()
    times = sun.sun_times(*centre, now.date()) if centre else None
    return {
        "started_at": now.strftime("%Y-%m-%dT%H:%M"),
        "light": sun.light_at(*centre, now) if centre else "daylight",
        "sunrise": times[0].strftime("%H:%M") if times else None,
        "sunset": times[1].strftime("%H:%M") if times else None,
    }


# The visit form pre-selects the place the practitioner stands at: the nearest live place
# of the pilot within this distance of the phone's position (issue 18).
NEAREST_M = 100.0


def nearest_place(session: Session, actor: Actor, pilot_id: int, lon: float, lat: float
                  ) -> dict[str, Any] | None:
    """The pilot's nearest place with a shape within NEAREST_M metres of (lon, lat)."""
    require(actor, pilot_id, "place.view")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidData("lon and lat must be WGS84 degrees.")
    here = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    distance = func.ST_Distance(func.Geography(Place.geom), func.Geography(here))
    row = session.execute(
        select(Place.id, Place.name, Place.kind, distance.label("m"))
        .where(Place.pilot_id == pilot_id, Place.deleted_at.is_(None), Place.geom.is_not(None),
               func.ST_DWithin(func.Geography(Place.geom), func.Geography(here), NEAREST_M))
        .order_by(distance, Place.id).limit(1)
    ).first()
    if row is None:
        return None
    return {"id": row.id, "name": row.name, "kind": row.kind, "distance_m": round(row.m)}


def field_defaults(session: Session, actor: Actor, pilot_id: int) -> dict[str, Any]:
    """What the phone's visit form starts from before a place is chosen: now, and the
    light now and today's sunset at the centre of the pilot's locality.
    """
    require(actor, pilot_id, "evidence.edit")
    row = session.execute(select(func.ST_X(func.ST_PointOnSurface(Pilot.locality)),
                                 func.ST_Y(func.ST_PointOnSurface(Pilot.locality)))
                          .where(Pilot.id == pilot_id)).first()
    now = clock.local_now()
    if row is None or row[0] is None:
        return {"started_at": now.strftime("%Y-%m-%dT%H:%M"), "light": "",
                "sunset": None}
    lon, lat = float(row[0]), float(row[1])
    times = sun.sun_times(lon, lat, now.date())
    return {"started_at": now.strftime("%Y-%m-%dT%H:%M"), "light": sun.light_at(lon, lat, now),
            "sunset": times[1].strftime("%H:%M") if times else None}


def visit_place_id(session: Session, actor: Actor, pilot_id: int, observation_id: int) -> int:
    """The place of a visit of this pilot (404 otherwise)."""
    require(actor, pilot_id, "evidence.view")
    return _observation(session, pilot_id, observation_id).place_id


def my_recent_visits(session: Session, actor: Actor, pilot_id: int, limit: int = 10
                     ) -> list[dict[str, Any]]:
    """The actor's own latest visits in the pilot, with their place's name."""
    require(actor, pilot_id, "evidence.edit")
    rows = session.execute(
        select(Observation.id, Place.name).join(Place, Place.id == Observation.place_id)
        .where(Place.pilot_id == pilot_id, Place.deleted_at.is_(None),
               Observation.observer_id == actor.user_id)
        .order_by(Observation.started_at.desc(), Observation.id.desc()).limit(limit)
    ).tuples().all()
    return [{**get_observation(session, actor, pilot_id, obs_id), "place": name}
            for obs_id, name in rows]
