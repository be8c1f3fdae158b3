"""Pilots: the ones a user may see, creating one with its review points, reading one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from geoalchemy2.shape import from_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import InvalidData, NotFound
from locmap.geo import parse_geojson_geometry, to_geojson, to_multipolygon
from locmap.models import Membership, Person, Pilot, Place, ReviewPoint
from locmap.queries.incidents import pilot_incident_total
from locmap.services import audit
from locmap.services.incidents import partner_incident_total
from locmap.services.permissions import Actor, can, require
from locmap.timeline import pilot_end, review_dates

__all__ = ["PilotSummary", "visible_pilots", "get_pilot", "create_pilot", "pilot_summary",
           "same_name"]


@dataclass(frozen=True)
class PilotSummary:
    id: int
    name: str
    description: str
    start_date: dt.date
    end_date: dt.date
    status: str
    roles: list[str]
    locality: dict[str, Any] | None
    places: int
    incidents: int | None
    people: int
    next_review: dt.date | None
    incidents_label: str | None = None
    incidents_as_of: dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        for k in ("start_date", "end_date", "next_review"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


def visible_pilots(session: Session, actor: Actor) -> list[Pilot]:
    """The pilots this user is a member of (admins see all, to manage them)."""
    stmt = select(Pilot).order_by(Pilot.name)
    if not actor.is_admin:
        stmt = stmt.where(
            Pilot.id.in_(select(Membership.pilot_id).where(Membership.user_id == actor.user_id))
        )
    return list(session.scalars(stmt))


def get_pilot(
    session: Session, actor: Actor, pilot_id: int, permission: str = "pilot.view"
) -> Pilot:
    require(actor, pilot_id, permission)
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound("No such pilot.")
    return pilot


def pilot_summary(
    session: Session, actor: Actor, pilot: Pilot, *, threshold: int
) -> PilotSummary:
    """The pilot's card: dates, the actor's roles, how many places, incidents and people.

    The incident count comes from ``map_cell_count`` (kept by triggers), not from counting
    the incidents. A partner reviewer (no ``evidence.records``) sees it as partners see
    every count, up to the last completed quarter end
    (:func:`locmap.services.incidents.partner_incident_total`): ``None`` below
    ``threshold``, else rounded to base 5, with ``incidents_label`` saying which.
    """
    def count(model: Any, *where: Any) -> int:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

    incidents: int | None
    label = as_of = None
    if can(actor, pilot.id, "evidence.records"):
        incidents = pilot_incident_total(session, pilot.id)
    else:  # up to the last completed quarter end, like every partner figure
        as_of, incidents = partner_incident_total(session, pilot.id, threshold=threshold)
        label = f"fewer than {threshold}" if incidents is None else f"about {incidents}"
    today = clock.today()
    next_review = session.scalar(
        select(func.min(ReviewPoint.due_on)).where(
            ReviewPoint.pilot_id == pilot.id, ReviewPoint.held_on.is_(None),
            ReviewPoint.due_on >= today,
        )
    )
    return PilotSummary(
        id=pilot.id, name=pilot.name, description=pilot.description,
        start_date=pilot.start_date, end_date=pilot_end(pilot.start_date, pilot.duration_months),
        status=pilot.status, roles=sorted(actor.roles_in(pilot.id)),
        locality=to_geojson(pilot.locality),
        places=count(Place, Place.pilot_id == pilot.id, Place.deleted_at.is_(None)),
        incidents=incidents, incidents_label=label, incidents_as_of=as_of,
        people=count(Person, Person.pilot_id == pilot.id),
        next_review=next_review,
    )


def same_name(session: Session, name: str, *, other_than: int | None = None) -> str | None:
    """The name of a pilot called ``name`` ignoring case (other than ``other_than``), if any:
    "Northtown" and "NORTHTOWN" are the same partnership's pilot to the people choosing it.
    """
    stmt = select(Pilot.name).where(func.lower(Pilot.name) == name.lower())
    if other_than is not None:
        stmt = stmt.where(Pilot.id != other_than)
    return session.scalar(stmt.limit(1))


def create_pilot(
    session: Session,
    by: Actor | None,
    *,
    name: str,
    locality: dict[str, Any],
    start_date: dt.date,
    duration_months: int = 18,
    review_interval_months: int = 3,
    description: str = "",
) -> Pilot:
    """Create a pilot and generate its review points from the timeline."""
    if by is not None and not by.is_admin:
        raise InvalidData("Only an admin creates pilots.")
    name = name.strip()
    if not name:
        raise InvalidData("A pilot needs a name.")
    clash = same_name(session, name)
    if clash is not None:
        raise InvalidData(f"A pilot called {clash!r} already exists (names are compared "
                          "ignoring case); choose another name.")
    area = to_multipolygon(parse_geojson_geometry(locality, allowed=("Polygon", "MultiPolygon")))
    pilot = Pilot(
        name=name, description=description, locality=from_shape(area, srid=4326),
        start_date=start_date, duration_months=duration_months,
        review_interval_months=review_interval_months,
    )
    session.add(pilot)
    session.flush()
    for number, due in enumerate(
        review_dates(start_date, duration_months, review_interval_months), start=1
    ):
        session.add(ReviewPoint(pilot_id=pilot.id, number=number, due_on=due))
    audit.record(session, by, "create", "pilot", pilot.id, pilot_id=pilot.id,
                 detail={"name": name})
    return pilot
