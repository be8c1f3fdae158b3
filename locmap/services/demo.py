"""Load the synthetic demo town (``geodata/demo``) into the database, idempotently.

Everything in it is fictional (see geodata/README.md). Loading twice changes nothing: a
pilot of the same name means the demo is already there.

The demo is anchored to the day it is loaded (``anchor``, by default the clock's today):
every date in the files moves by the whole weeks between ``reference_today`` in
``pilot.json`` and the anchor (:mod:`locmap.io.demo_shift`), so the pilot is always
part-way, with review points held, one due soon, an approved assessment and a plan in
review (:mod:`locmap.services.demo_workflow`). The clock is stopped at story times while the
rows are written, so one anchor always gives the same rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geoalchemy2.shape import from_shape
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.geo import parse_geojson_geometry, to_multipolygon
from locmap.io.demo_shift import DemoShift
from locmap.models import (
    Agency,
    AwarenessActivity,
    EngagementRecord,
    Feature,
    FeatureLayer,
    Identity,
    Incident,
    Observation,
    PeerNetwork,
    Person,
    Pilot,
    Place,
    Presence,
    Relationship,
    SafetyFactor,
    SafetyMap,
    SafetyMapArea,
    User,
)
from locmap.services import accounts, basemap, pilots
from locmap.services.demo_workflow import replay_workflow
from locmap.services.safety_maps import period_of

__all__ = ["DEMO_DIR", "DemoReport", "load_demo"]

DEMO_DIR = Path(__file__).resolve().parents[2] / "geodata" / "demo"
DEMO_BASEMAP_SOURCE = "Eastbrook demo base map (synthetic)"


@dataclass
class DemoReport:
    pilot: str
    already_loaded: bool
    password: str
    anchor: dt.date | None = None
    shift: DemoShift | None = None
    counts: dict[str, int] = field(default_factory=dict)
    logins: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        if self.already_loaded:
            return f"demo pilot {self.pilot!r} is already loaded"
        parts = ", ".join(f"{n} {k}" for k, n in self.counts.items())
        when = f" (anchored to {self.anchor.isoformat()})" if self.anchor else ""
        return f"loaded demo pilot {self.pilot!r}{when}: {parts}"


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _ts(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def load_demo(session: Session, folder: Path = DEMO_DIR,
              anchor: dt.date | None = None) -> DemoReport:
    """Load the demo town as it stands on ``anchor`` (default: today), unless it is there.

    The same files and anchor always give the same rows, but for the salted password
    hashes and the audit trail's ``at`` (the database stamps the real time of the load).
    Nothing is committed: the caller owns the transaction.
    """
    meta = _json(folder / "pilot.json")
    users = _json(folder / "users.json")
    report = DemoReport(pilot=meta["name"], already_loaded=False, password=users[0]["password"])
    report.logins = [(u["email"], u["role"]) for u in users]
    if session.scalar(select(Pilot.id).where(Pilot.name == meta["name"])):
        report.already_loaded = True
        return report
    report.anchor = anchor or clock.today()
    shift = DemoShift.between(dt.date.fromisoformat(meta["reference_today"]), report.anchor)
    report.shift = shift
    start = shift.date(dt.date.fromisoformat(meta["start_date"]))
    # Rows without a story time of their own (agencies, places, incidents, ...) are
    # recorded as made on the pilot's first morning; the clock stays stopped so that
    # every default timestamp, and so every row, is the same for the same anchor.
    with clock.frozen(shift.instant(dt.datetime.combine(start, dt.time(9)))):
        _load(session, folder, meta, users, shift, report)
        # The town's synthetic base map, unless the server has one built from a real extract.
        if (folder / "basemap.osm").exists() and basemap.current(session) is None:
            basemap.build(session, None, folder / "basemap.osm", source=DEMO_BASEMAP_SOURCE)
    return report


def _load(session: Session, folder: Path, meta: dict[str, Any], users: list[dict[str, Any]],
          shift: DemoShift, report: DemoReport) -> None:
    def _date(text: str | None) -> dt.date | None:
        return shift.date(dt.date.fromisoformat(text)) if text else None

    def _instant(text: str | None, precision: str = "exact") -> dt.datetime | None:
        value = _ts(text)
        return shift.timestamp(value, precision) if value else None

    agencies: dict[str, Agency] = {}
    for a in _json(folder / "agencies.json"):
        row = session.scalar(select(Agency).where(Agency.name == a["name"]))
        if row is None:
            row = Agency(name=a["name"], kind=a["kind"])
            session.add(row)
        agencies[a["name"]] = row
    session.flush()

    pilot = pilots.create_pilot(
        session, None, name=meta["name"], locality=meta["locality"],
        start_date=shift.date(dt.date.fromisoformat(meta["start_date"])),
        duration_months=meta["duration_months"],
        review_interval_months=meta["review_interval_months"],
        description=meta.get("description", ""),
    )
    user_rows: dict[str, User] = {}
    for u in users:
        account = session.scalar(select(User).where(User.email == u["email"]))
        if account is None:
            account = accounts.create_user(
                session, None, email=u["email"], name=u["name"], password=u["password"],
                agency=u.get("agency"), is_admin=u["role"] == "admin",
                is_auditor=u["role"] == "auditor",
            )
        if u["role"] not in ("admin", "auditor"):
            accounts.add_membership(session, None, account, pilot, u["role"])
        user_rows[u["email"]] = account

    places: dict[str, Place] = {}
    for f in _json(folder / "places.geojson")["features"]:
        p = f["properties"]
        geom = f["geometry"]
        place = Place(
            pilot_id=pilot.id, name=p["name"], kind=p["kind"], notes=p.get("notes") or "",
            osm_id=p.get("osm_id"),
            geom=from_shape(parse_geojson_geometry(geom), srid=4326) if geom else None,
            managed_by=agencies.get(p.get("managed_by") or ""),
        )
        session.add(place)
        places[p["key"]] = place
    session.flush()

    layers = sorted((folder / "feature_layers").glob("*.geojson"))
    layers.append(folder / "districts.geojson")
    n_features = 0
    for path in layers:
        layer = FeatureLayer(pilot_id=pilot.id, name=path.stem.replace("_", " "),
                             source="synthetic demo data")
        session.add(layer)
        session.flush()
        rows = []
        for f in _json(path)["features"]:
            props = f["properties"]
            rows.append({
                "layer_id": layer.id, "name": props.get("name", ""),
                "osm_id": props.get("osm_id"), "properties": props,
                "geom": from_shape(parse_geojson_geometry(f["geometry"]), srid=4326),
            })
        session.execute(insert(Feature), rows)
        n_features += len(rows)

    incident_rows = []
    for r in _csv(folder / "incidents.csv"):
        agency = agencies.get(r["source_agency"])
        incident_rows.append({
            "pilot_id": pilot.id, "location": f"SRID=4326;POINT({r['lon']} {r['lat']})",
            "place_id": places[r["place_key"]].id if r["place_key"] else None,
            "occurred_at": _instant(r["occurred_at"], r["precision"]),
            "time_precision": r["precision"],
            "category": r["category"], "severity": int(r["severity"]),
            "source_agency_id": agency.id if agency else None, "external_ref": r["ref"],
            "dedupe_key": r["ref"], "description": r["description"],
        })
    session.execute(insert(Incident), incident_rows)
    incident_ids = dict(session.execute(
        select(Incident.external_ref, Incident.id).where(Incident.pilot_id == pilot.id)
    ).tuples().all())

    observations = []
    for o in _json(folder / "observations.json"):
        bands = o.get("young_people_by_age_band", {})
        obs = Observation(
            place_id=places[o["place_key"]].id,
            observer_id=user_rows[o["observer_email"]].id if o.get("observer_email") in user_rows
            else None,
            started_at=_instant(o["started_at"]), ended_at=_instant(o.get("ended_at")),
            weather=o.get("weather", ""), light=o["light"],
            young_people_10_13=bands.get("10-13", 0), young_people_14_15=bands.get("14-15", 0),
            young_people_16_17=bands.get("16-17", 0),
            young_people_18_24=bands.get("18-24", 0), adults_present=o["adults_present"],
            staff_guardians_present=o["staff_guardians_present"],
            guardianship=o["guardianship"], lighting=o["lighting"], sight_lines=o["sight_lines"],
            cctv=o["cctv"], signs_of_dealing=o["signs_of_dealing"],
            signs_of_drug_use=o["signs_of_drug_use"], felt_safe=o.get("felt_safe", ""),
            felt_unsafe=o.get("felt_unsafe", ""), notes=o.get("notes", ""),
        )
        session.add(obs)
        observations.append(obs)
    session.flush()

    engagements = []
    for e in _json(folder / "engagement.json"):
        rec = EngagementRecord(
            pilot_id=pilot.id, held_on=_date(e["held_on"]), with_group=e["with_group"],
            group_description=e.get("group_description", ""), summary=e.get("summary", ""),
            places=[places[k] for k in e.get("place_keys", [])],
        )
        session.add(rec)
        engagements.append(rec)
    for a in _json(folder / "awareness.json"):
        session.add(AwarenessActivity(
            pilot_id=pilot.id, held_on=_date(a["held_on"]), audience=a["audience"],
            method=a.get("method", ""), reached=a["reached"],
            places=[places[k] for k in a.get("place_keys", [])],
        ))
    session.flush()

    factors = 0
    for f in _json(folder / "safety_factors.json"):
        factor = SafetyFactor(
            place_id=places[f["place_key"]].id, quadrant=f["quadrant"], statement=f["statement"],
            weight=f["weight"], confidence=f["confidence"], voice=f["voice"],
        )
        factor.incidents = [session.get_one(Incident, incident_ids[ref])
                            for ref in f.get("evidence_incident_refs", [])]
        factor.observations = [observations[i] for i in f.get("evidence_observation_indexes", [])]
        # A factor is written down once its evidence is in: the review point pages list
        # the factors that are new in their period.
        seen = [i.occurred_at for i in factor.incidents] + [
            o.started_at for o in factor.observations]
        factor.created_at = factor.updated_at = max([clock.now(), *seen])
        session.add(factor)
        factors += 1

    people: dict[str, Person] = {}
    for p in _csv(folder / "people.csv"):
        person = Person(pilot_id=pilot.id, pseudonym=p["pseudonym"], kind=p["kind"],
                        age_band=p["age_band"],
                        exploitation_category=p.get("exploitation_category") or None,
                        case_status=p.get("case_status") or None,
                        last_risk_assessment_on=_date(p.get("last_risk_assessment_on")))
        if p.get("recorded_on"):
            # The demo simulates records made over two years: the dashboard's quarterly
            # trend counts a young person from the day their record was created.
            person.created_at = dt.datetime.combine(_date(p["recorded_on"]) or dt.date.min,
                                                    dt.time(12), dt.UTC)
        session.add(person)
        people[p["pseudonym"]] = person
    session.flush()
    for i in _csv(folder / "identities.csv"):
        session.add(Identity(person_id=people[i["pseudonym"]].id, name=i["name"],
                             date_of_birth=_date(i["date_of_birth"]),
                             case_reference=i["case_reference"]))
    relationships = _csv(folder / "relationships.csv")
    session.execute(insert(Relationship), [{
        "pilot_id": pilot.id, "person_a_id": people[r["a_pseudonym"]].id,
        "person_b_id": people[r["b_pseudonym"]].id, "type": r["type"], "valence": r["valence"],
        "strength": int(r["strength"]), "source": r["source"], "since": _date(r["since"]),
        "until": _date(r["until"]),
    } for r in relationships])
    presences = _csv(folder / "presences.csv")
    session.execute(insert(Presence), [{
        "person_id": people[r["pseudonym"]].id, "place_id": places[r["place_key"]].id,
        "frequency": r["frequency"], "times": r["times"], "source": r["source"],
        "since": _date(r["since"]), "until": _date(r["until"]),
    } for r in presences])
    session.add(PeerNetwork(
        pilot_id=pilot.id,
        purpose="Understand which peer groups spend time at the High Street places, so that "
                "the partnership can make those places safer (synthetic demo).",
        lawful_basis="Public task (UK GDPR Art. 6(1)(e)); substantial public interest, "
                     "safeguarding of children (DPA 2018 Sch. 1 para 18). Synthetic demo.",
    ))

    maps: dict[str, SafetyMap] = {}
    for f in _json(folder / "safety_maps.geojson")["features"]:
        p = f["properties"]
        smap = maps.get(p["map_id"])
        if smap is None:
            drawn = _date(p["drawn_on"])
            assert drawn is not None, "every demo safety map has a date"
            smap = SafetyMap(pilot_id=pilot.id, drawn_on=drawn, period=period_of(pilot, drawn),
                             respondent_group=p.get("respondent_group", ""))
            session.add(smap)
            maps[p["map_id"]] = smap
        area = to_multipolygon(parse_geojson_geometry(f["geometry"],
                                                      allowed=("Polygon", "MultiPolygon")))
        smap.areas.append(SafetyMapArea(geom=from_shape(area, srid=4326), rating=p["rating"],
                                        reason=p.get("reason", "")))
    session.flush()
    user_by_role = {u["role"]: user_rows[u["email"]] for u in users}
    work = replay_workflow(session, pilot, places, user_rows, user_by_role["coordinator"],
                           _json(folder / "workflow.json"), shift)
    report.counts = {
        "places": len(places), "incidents": len(incident_rows),
        "observations": len(observations), "safety factors": factors,
        "people": len(people), "relationships": len(relationships),
        "presences": len(presences), "feature layers": len(layers),
        "features": n_features, "safety maps": len(maps), "engagement records": len(engagements),
        **work,
    }
