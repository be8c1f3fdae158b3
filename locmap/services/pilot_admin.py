"""Setting pilots up and running them (issue 15): locality, timeline, approval rule,
status and members.

An admin creates and changes pilots; a pilot's coordinator (or an admin) manages its
members. A closed or archived pilot is read-only for its members
(:data:`locmap.services.permissions.WRITES`); an admin may still reopen it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import Conflict, InvalidData, InvalidGeometry, NotFound
from locmap.geo import parse_geojson_geometry, to_geojson
from locmap.io.gis import read_gis
from locmap.models import Agency, Feature, FeatureLayer, Membership, Pilot, ReviewPoint, User
from locmap.services import audit, pilots
from locmap.services.admin import require_admin
from locmap.services.permissions import READ_ONLY_STATUSES, Actor, require
from locmap.timeline import pilot_end, review_dates
from locmap.vocab import PILOT_ROLES, PILOT_STATUSES

__all__ = [
    "locality_from_file", "create_pilot", "admin_pilot", "update_pilot", "set_timeline",
    "set_approval_rule", "set_status", "list_members", "add_member", "remove_member",
    "list_pilots", "boundary_choices", "locality_from_feature",
]

POLYGONS = ("Polygon", "MultiPolygon")


def locality_from_file(path: Path, *, crs: str | None = None,
                       feature: str | None = None) -> dict[str, Any]:
    """The locality held by a GeoJSON / GeoPackage / zipped Shapefile, as GeoJSON in WGS84.

    The file's declared CRS is used (or ``crs`` when it declares none: a file in British
    National Grid numbers with no CRS is refused with a hint). Several polygon features
    are joined into one locality, or ``feature`` picks the one whose ``name`` (or any text
    column) equals it — a ward or beat from a boundary file. An invalid polygon answers
    with the GEOS reason and the repaired shape, as a drawn one does.
    """
    gdf = read_gis(path, crs=crs)
    rows = list(gdf.itertuples(index=False))
    if feature:
        wanted = feature.strip().lower()
        text_cols = [c for c in gdf.columns if c != gdf.geometry.name]
        rows = [r for r in rows if any(str(getattr(r, c, "")).strip().lower() == wanted
                                       for c in text_cols)]
        if not rows:
            raise InvalidData(f"No feature called {feature!r} in {path.name}.")
    shapes = []
    for r in rows:
        geom = r.geometry
        if geom is None or geom.is_empty:
            continue
        if geom.geom_type not in POLYGONS:
            continue
        shapes.append(parse_geojson_geometry(dict(mapping(geom)), allowed=POLYGONS))
    if not shapes:
        raise InvalidData(f"{path.name} holds no polygon to use as the locality.")
    area = shapes[0] if len(shapes) == 1 else shapely.union_all(shapes)
    return dict(mapping(area))


_POLYGONAL = func.ST_GeometryType(Feature.geom).in_(("ST_Polygon", "ST_MultiPolygon"))


def boundary_choices(session: Session, actor: Actor, limit: int = 500) -> list[dict[str, Any]]:
    """Polygon features of imported layers (wards, beats, estates) an admin may pick as a
    new pilot's locality: boundaries, not case data, so every pilot's layers are offered.
    """
    require_admin(actor)
    rows = session.execute(
        select(Feature.id, Feature.name, FeatureLayer.name, Pilot.name)
        .join(FeatureLayer, Feature.layer_id == FeatureLayer.id)
        .join(Pilot, FeatureLayer.pilot_id == Pilot.id)
        .where(_POLYGONAL).order_by(FeatureLayer.name, Feature.name, Feature.id).limit(limit))
    return [{"id": fid, "label": f"{layer}: {name or f'feature {fid}'} ({pilot})"}
            for fid, name, layer, pilot in rows]


def locality_from_feature(session: Session, actor: Actor, feature_id: int) -> dict[str, Any]:
    """The GeoJSON of one imported polygon feature, to become a locality."""
    require_admin(actor)
    geom = session.scalar(select(Feature.geom).where(Feature.id == feature_id, _POLYGONAL))
    found = to_geojson(geom) if geom is not None else None
    if found is None:
        raise InvalidData("No imported boundary polygon with that id.")
    return found


def _check_locality(locality: dict[str, Any]) -> dict[str, Any]:
    geom = parse_geojson_geometry(locality, allowed=POLYGONS)
    if geom.area > 1.0:  # about 7,000 km² in England: a county, not a locality
        raise InvalidGeometry("The locality is larger than a county; draw the pilot's "
                              "neighbourhood, not a region.")
    return dict(mapping(geom))


def _numbers(duration: int, interval: int) -> None:
    if not 1 <= duration <= 60:
        raise InvalidData("The duration is 1 to 60 months.")
    if not 1 <= interval <= 12:
        raise InvalidData("The review interval is 1 to 12 months.")
    if interval > duration:
        raise InvalidData("The review interval is longer than the pilot.")


def create_pilot(session: Session, actor: Actor, *, name: str, locality: dict[str, Any],
                 start_date: dt.date, duration_months: int = 18,
                 review_interval_months: int = 3, description: str = "") -> Pilot:
    """An admin creates a pilot with its locality; review points follow from the timeline."""
    require_admin(actor)
    _numbers(duration_months, review_interval_months)
    if not 1990 <= start_date.year <= 2100:
        raise InvalidData("The start date is not a plausible date.")
    return pilots.create_pilot(
        session, actor, name=" ".join(name.split()), locality=_check_locality(locality),
        start_date=start_date, duration_months=duration_months,
        review_interval_months=review_interval_months, description=description.strip())


def list_pilots(session: Session, actor: Actor) -> list[dict[str, Any]]:
    require_admin(actor)
    out = []
    for p in session.scalars(select(Pilot).order_by(Pilot.name)):
        out.append({"id": p.id, "name": p.name, "status": p.status,
                    "start_date": p.start_date.isoformat(),
                    "end_date": pilot_end(p.start_date, p.duration_months).isoformat(),
                    "members": len(p.memberships)})
    return out


def admin_pilot(session: Session, actor: Actor, pilot_id: int) -> Pilot:
    require_admin(actor)
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound("No such pilot.")
    return pilot


def pilot_settings(session: Session, actor: Actor, pilot_id: int) -> dict[str, Any]:
    p = admin_pilot(session, actor, pilot_id)
    return {
        "id": p.id, "name": p.name, "description": p.description, "status": p.status,
        "start_date": p.start_date.isoformat(), "duration_months": p.duration_months,
        "review_interval_months": p.review_interval_months,
        "end_date": pilot_end(p.start_date, p.duration_months).isoformat(),
        "approval_rule": p.approval_rule, "min_approvals": p.min_approvals,
        "approver_agency_ids": [a.id for a in p.approver_agencies],
        "locality": to_geojson(p.locality),
        "review_points": [{"number": r.number, "due_on": r.due_on.isoformat(),
                           "held_on": r.held_on.isoformat() if r.held_on else None}
                          for r in p.review_points],
    }


def update_pilot(session: Session, actor: Actor, pilot_id: int, *, name: str | None = None,
                 description: str | None = None) -> Pilot:
    pilot = admin_pilot(session, actor, pilot_id)
    changes: dict[str, Any] = {}
    if name is not None:
        name = " ".join(name.split())
        if not name:
            raise InvalidData("A pilot needs a name.")
        if name != pilot.name:
            clash = pilots.same_name(session, name, other_than=pilot.id)
            if clash is not None:
                raise InvalidData(f"A pilot called {clash!r} already exists (names are "
                                  "compared ignoring case); choose another name.")
            pilot.name = name
            changes["name"] = name
    if description is not None and description.strip() != pilot.description:
        pilot.description = description.strip()
        changes["description"] = True
    if changes:
        session.flush()
        audit.record(session, actor, "update", "pilot", pilot.id, pilot_id=pilot.id,
                     detail=changes)
    return pilot


def set_timeline(session: Session, actor: Actor, pilot_id: int, *, start_date: dt.date,
                 duration_months: int, review_interval_months: int) -> Pilot:
    """Change the timeline: review points not yet held are regenerated from it; held ones
    (with their minutes) are kept as they are, and no new point falls on a held one's date.
    """
    pilot = admin_pilot(session, actor, pilot_id)
    _numbers(duration_months, review_interval_months)
    if not 1990 <= start_date.year <= 2100:
        raise InvalidData("The start date is not a plausible date.")
    held = [r for r in pilot.review_points if r.held_on is not None]
    session.execute(delete(ReviewPoint).where(ReviewPoint.pilot_id == pilot.id,
                                              ReviewPoint.held_on.is_(None)))
    session.expire(pilot, ["review_points"])
    held_dates = {r.due_on for r in held}
    last_held = max(held_dates, default=None)
    for due in review_dates(start_date, duration_months, review_interval_months):
        if due in held_dates or (last_held is not None and due <= last_held):
            continue  # the reviews already held stand for this stretch of the timeline
        session.add(ReviewPoint(pilot_id=pilot.id, number=0, due_on=due))
    pilot.start_date = start_date
    pilot.duration_months = duration_months
    pilot.review_interval_months = review_interval_months
    session.flush()
    points = list(session.scalars(select(ReviewPoint).where(
        ReviewPoint.pilot_id == pilot.id).order_by(ReviewPoint.due_on)))
    for number, r in enumerate(points, start=1):
        r.number = number
    session.flush()
    session.expire(pilot, ["review_points"])
    audit.record(session, actor, "update", "pilot", pilot.id, pilot_id=pilot.id,
                 detail={"start_date": start_date.isoformat(), "duration_months":
                         duration_months, "review_interval_months": review_interval_months,
                         "review_points": len(points), "held_kept": len(held)})
    return pilot


def set_approval_rule(session: Session, actor: Actor, pilot_id: int, *, rule: str,
                      agency_ids: list[int], min_approvals: int) -> Pilot:
    """Who must approve an assessment or plan version of the pilot: the base rule over
    whom it was sent to, the agencies that must approve every version, and the least
    number of approving partner reviewers.
    """
    pilot = admin_pilot(session, actor, pilot_id)
    if rule not in ("all_named", "one_per_agency"):
        raise InvalidData("The approval rule is all_named or one_per_agency.")
    if not 0 <= min_approvals <= 20:
        raise InvalidData("The minimum number of approvals is 0 to 20.")
    agencies = list(session.scalars(select(Agency).where(Agency.id.in_(agency_ids)))) \
        if agency_ids else []
    if len(agencies) != len(set(agency_ids)):
        raise InvalidData("An agency named in the rule does not exist.")
    pilot.approval_rule = rule
    pilot.min_approvals = min_approvals
    pilot.approver_agencies = agencies
    session.flush()
    audit.record(session, actor, "update", "pilot", pilot.id, pilot_id=pilot.id,
                 detail={"approval_rule": rule, "approver_agency_ids": sorted(agency_ids),
                         "min_approvals": min_approvals})
    return pilot


def set_status(session: Session, actor: Actor, pilot_id: int, status: str) -> Pilot:
    """Planned, active, closed or archived; closed and archived pilots are read-only."""
    pilot = admin_pilot(session, actor, pilot_id)
    if status not in PILOT_STATUSES:
        raise InvalidData(f"The status is one of {', '.join(PILOT_STATUSES)}.")
    if status != pilot.status:
        before = pilot.status
        pilot.status = status
        if status in READ_ONLY_STATUSES and before not in READ_ONLY_STATUSES:
            pilot.closed_on = clock.today()  # retention periods of its people count from it
        elif status not in READ_ONLY_STATUSES:
            pilot.closed_on = None
        session.flush()
        audit.record(session, actor, "update", "pilot", pilot.id, pilot_id=pilot.id,
                     detail={"status": status, "was": before})
    return pilot


# ---- members -------------------------------------------------------------------------


def _manage(session: Session, actor: Actor, pilot_id: int) -> Pilot:
    """An admin, or the pilot's coordinator (not while the pilot is read-only)."""
    if not actor.is_admin:
        require(actor, pilot_id, "pilot.manage")
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound("No such pilot.")
    return pilot


def list_members(session: Session, actor: Actor, pilot_id: int) -> list[dict[str, Any]]:
    pilot = _manage(session, actor, pilot_id)
    rows = session.execute(
        select(Membership, User).join(User, Membership.user_id == User.id)
        .where(Membership.pilot_id == pilot.id).order_by(User.name, Membership.role)).all()
    return [{"id": m.id, "user_id": u.id, "name": u.name, "email": u.email, "role": m.role,
             "agency": u.agency.name if u.agency else None, "active": u.active}
            for m, u in rows]


def add_member(session: Session, actor: Actor, pilot_id: int, *, email: str,
               role: str) -> Membership:
    pilot = _manage(session, actor, pilot_id)
    if role not in PILOT_ROLES:
        raise InvalidData(f"{role!r} is not a pilot role; use one of {', '.join(PILOT_ROLES)}.")
    user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None or not user.active:
        raise InvalidData(f"No active user with email {email.strip()!r}; an admin invites "
                          "them first.")
    exists = session.scalar(select(Membership).where(
        Membership.user_id == user.id, Membership.pilot_id == pilot.id,
        Membership.role == role))
    if exists is not None:
        raise InvalidData(f"{user.name} is already a {role.replace('_', ' ')} of this pilot.")
    m = Membership(user_id=user.id, pilot_id=pilot.id, role=role)
    session.add(m)
    session.flush()
    audit.record(session, actor, "create", "membership", m.id, pilot_id=pilot.id,
                 detail={"role": role, "user_id": user.id})
    return m


def remove_member(session: Session, actor: Actor, pilot_id: int, membership_id: int) -> None:
    pilot = _manage(session, actor, pilot_id)
    m = session.get(Membership, membership_id)
    if m is None or m.pilot_id != pilot.id:
        raise NotFound("No such member of this pilot.")
    if m.user_id == actor.user_id and m.role == "coordinator" and not actor.is_admin:
        raise Conflict("You cannot remove yourself as coordinator; ask an admin.")
    session.delete(m)
    session.flush()
    audit.record(session, actor, "delete", "membership", membership_id, pilot_id=pilot.id,
                 detail={"role": m.role, "user_id": m.user_id})


def pilot_name(session: Session, pilot_id: int) -> str:
    """The pilot's name (for a page whose permission was already checked)."""
    return session.scalar(select(Pilot.name).where(Pilot.id == pilot_id)) or ""


def is_read_only(pilot: Pilot) -> bool:
    return pilot.status in READ_ONLY_STATUSES
