"""Pooling partners' data: imports of every kind, their records, and the crime-type mapping.

:func:`run_import` is the one import use case (police CSV, GIS file, OSM extract) that the
CLI, the web (tests, inline) and the worker (:mod:`locmap.services.import_jobs`) all call;
the readers and writers in :mod:`locmap.io` know nothing of permissions or records. Every
import is one :class:`~locmap.models.DataImport` (who, file, SHA-256, rows read /
accepted / rejected with reasons, start and end) written in the same transaction as the
rows it added; a failed import is rolled back whole and then recorded as ``failed`` by
:func:`record_failure` in a fresh transaction, so the trail shows it too.

The default crime-type mapping (police.uk "Crime type" → locmap harm category) is seeded
for a pilot the first time it imports or reads its mapping; the coordinator changes it with
:func:`set_crime_type_mapping`. Why each default:

* Anti-social behaviour, Public order → ``asb``: the behaviours a place-based response
  targets first (loitering groups, intimidation, disorder).
* Drugs → ``drugs``; Possession of weapons → ``weapons``.
* Violence and sexual offences → ``violence_and_sexual_offences``, Robbery → ``robbery``:
  neutral, the police's own words. Police open data has no ages, so nothing in it says
  *youth* violence; a coordinator who decides the pilot counts them as serious youth
  violence (the Serious Violence Duty counts robbery with violence) maps them so.
* Everything else (thefts, burglary, vehicle crime, criminal damage, Other crime) →
  ``other``: context, not extra-familial harm in itself.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import InvalidData, NotFound
from locmap.io import gis, osm, police
from locmap.io.export import csv_lines
from locmap.io.sources import Loaded, Source, collect_sources, sha256_of
from locmap.models import CrimeTypeMapping, DataImport, Pilot
from locmap.services import audit
from locmap.services.import_locks import (
    IMPORT_LOCK_NS,
    IMPORT_QUEUE,
    INTERRUPTED_MESSAGE,
    PILOT_IMPORT_LOCK_NS,
    fail_interrupted,
    hold_import_lock,
)
from locmap.services.permissions import Actor, require
from locmap.vocab import HARM_CATEGORIES

__all__ = [
    "DEFAULT_CRIME_TYPE_MAPPING", "DEFAULT_BUFFER_M", "crime_type_mapping",
    "set_crime_type_mapping", "seed_crime_type_mapping", "KINDS", "run_import", "import_police",
    "import_gis", "import_osm", "record_failure",
    "hold_import_lock", "fail_interrupted", "IMPORT_LOCK_NS", "IMPORT_QUEUE",
    "INTERRUPTED_MESSAGE", "OSM_PRESETS", "POLICE_COLUMNS", "operator_actor",
    "police_sources", "rejected_rows_csv",
    "get_import", "list_imports", "import_dict", "pilot_bbox",
]

DEFAULT_CRIME_TYPE_MAPPING: dict[str, str] = {
    "Anti-social behaviour": "asb",
    "Public order": "asb",
    "Drugs": "drugs",
    "Possession of weapons": "weapons",
    "Violence and sexual offences": "violence_and_sexual_offences",
    "Robbery": "robbery",
    "Bicycle theft": "other",
    "Burglary": "other",
    "Criminal damage and arson": "other",
    "Other theft": "other",
    "Shoplifting": "other",
    "Theft from the person": "other",
    "Vehicle crime": "other",
    "Other crime": "other",
}
# What the preview pages show: OSM tag presets; police columns in the first rows.
OSM_PRESETS = osm.PRESETS
POLICE_COLUMNS = police.REQUIRED_COLUMNS + ("LSOA code", "Last outcome category")
# Incidents around the locality matter too (rate at the place vs its surroundings).
DEFAULT_BUFFER_M = 2000


def seed_crime_type_mapping(session: Session, pilot_id: int) -> None:
    """Add the default rows the pilot does not have yet (never overwrites a choice)."""
    stmt = pg_insert(CrimeTypeMapping).values([
        {"pilot_id": pilot_id, "crime_type": k, "category": v}
        for k, v in DEFAULT_CRIME_TYPE_MAPPING.items()
    ]).on_conflict_do_nothing(index_elements=["pilot_id", "crime_type"])
    session.execute(stmt)


def crime_type_mapping(session: Session, actor: Actor, pilot_id: int) -> dict[str, str]:
    """The pilot's mapping, crime type → harm category (defaults seeded on first read)."""
    require(actor, pilot_id, "pilot.view")
    seed_crime_type_mapping(session, pilot_id)
    rows = session.execute(
        select(CrimeTypeMapping.crime_type, CrimeTypeMapping.category)
        .where(CrimeTypeMapping.pilot_id == pilot_id).order_by(CrimeTypeMapping.crime_type)
    ).all()
    return {k: v for k, v in rows}


def set_crime_type_mapping(
    session: Session, actor: Actor, pilot_id: int, mapping: dict[str, str]
) -> dict[str, str]:
    """Set categories for the given crime types (others keep theirs); coordinators only.

    Existing incidents keep their category: the mapping applies to later imports.
    """
    require(actor, pilot_id, "pilot.manage")
    bad = {k: v for k, v in mapping.items() if v not in HARM_CATEGORIES}
    if bad:
        raise InvalidData(
            f"Unknown harm categor{'y' if len(bad) == 1 else 'ies'}: "
            f"{', '.join(sorted(set(bad.values())))}; use one of {', '.join(HARM_CATEGORIES)}.",
            details={"invalid": bad},
        )
    if any(not k.strip() or len(k) > 120 for k in mapping):
        raise InvalidData("Crime types must be 1 to 120 characters.")
    seed_crime_type_mapping(session, pilot_id)
    if mapping:
        stmt = pg_insert(CrimeTypeMapping).values([
            {"pilot_id": pilot_id, "crime_type": k.strip(), "category": v}
            for k, v in mapping.items()
        ])
        session.execute(stmt.on_conflict_do_update(
            index_elements=["pilot_id", "crime_type"], set_={"category": stmt.excluded.category}
        ))
    audit.record(session, actor, "update", "crime_type_mapping", pilot_id, pilot_id=pilot_id,
                 detail={"set": mapping})
    return crime_type_mapping(session, actor, pilot_id)


def pilot_bbox(pilot: Pilot, buffer_m: float) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the locality grown by ``buffer_m`` metres."""
    west, south, east, north = to_shape(pilot.locality).bounds
    dlat = buffer_m / 111_320.0
    dlon = buffer_m / (111_320.0 * max(math.cos(math.radians(max(abs(south), abs(north)))),
                                       0.01))
    return west - dlon, south - dlat, east + dlon, north + dlat


def _fingerprint(path: Path, sources: list[Source]) -> str:
    """SHA-256 of the file given; of its files' names and hashes for a folder."""
    if path.is_file():
        return sha256_of(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(path)}\0{sha256_of(f)}\n".encode())
    return h.hexdigest()


def import_dict(di: DataImport) -> dict[str, Any]:
    duration = None
    if di.finished_at and di.started_at:
        duration = round((di.finished_at - di.started_at).total_seconds(), 3)
    return {
        "id": di.id, "pilot_id": di.pilot_id, "kind": di.kind, "filename": di.filename,
        "sha256": di.sha256, "status": di.status, "rows_read": di.rows_read,
        "rows_accepted": di.rows_accepted, "rows_rejected": di.rows_rejected,
        "message": di.message, "summary": (di.options or {}).get("summary", {}),
        "started_at": di.started_at.isoformat() if di.started_at else None,
        "finished_at": di.finished_at.isoformat() if di.finished_at else None,
        "duration_s": duration, "created_by_id": di.created_by_id,
    }


KINDS = ("police_csv", "gis_layer", "gis_places", "osm")


def run_import(
    session: Session,
    actor: Actor,
    pilot_id: int,
    kind: str,
    path: Path,
    *,
    options: dict[str, Any] | None = None,
    filename: str | None = None,
    data_import: DataImport | None = None,
    progress: Callable[[int, int], None] | None = None,
    sources: list[Source] | None = None,
) -> DataImport:
    """Import one file into the pilot: the one use case behind the CLI, the web and the worker.

    ``kind`` is one of :data:`KINDS`; ``options`` are the kind's choices (police:
    ``buffer_m``; GIS: ``layer_name``, ``crs``, ``name_column``, ``kind_column``,
    ``source_layer``; OSM: ``presets``, ``as_places``, ``pick``, ``buffer_m``).
    ``data_import`` continues a record created earlier (a queued web import); otherwise one
    is created. All-or-nothing: on a :class:`~locmap.errors.LocmapError` the caller
    rolls back and may call :func:`record_failure`.
    """
    opts = dict(options or {})
    if kind not in KINDS:
        raise InvalidData(f"Unknown import kind {kind!r}; use one of {', '.join(KINDS)}.")
    require(actor, pilot_id, "import.run")
    if kind == "gis_places" or (kind == "osm" and (opts.get("as_places") or opts.get("pick"))):
        require(actor, pilot_id, "place.edit")
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound("No such pilot.")
    path = Path(path)
    if kind == "police_csv":
        buffer_m = float(opts.get("buffer_m", DEFAULT_BUFFER_M))
        if buffer_m < 0 or buffer_m > 50_000:
            raise InvalidData("The buffer around the locality must be 0 to 50,000 metres.")
        if sources is None:
            sources = collect_sources([path])
    elif kind == "osm":
        osm.check_options(opts.get("presets", ()), opts.get("as_places", ()),
                          opts.get("pick", ()))
    # One import at a time per pilot, whoever runs it (CLI, worker): concurrent imports
    # into one pilot would contend on its incidents' dedupe keys and locality counts, in
    # orders that can deadlock. Held until the import's transaction ends.
    session.execute(text("SELECT pg_advisory_xact_lock(:ns, :pilot_id)"),
                    {"ns": PILOT_IMPORT_LOCK_NS, "pilot_id": pilot_id})
    started = time.perf_counter()
    if data_import is None:
        data_import = DataImport(
            pilot_id=pilot_id, kind=kind, filename=filename or path.name,
            sha256=_fingerprint(path, sources or []), created_by_id=actor.user_id,
        )
        session.add(data_import)
    data_import.status = "running"
    data_import.started_at = clock.now()
    session.flush()
    shown = filename or data_import.filename
    if kind == "police_csv":
        assert sources is not None
        loaded = _write_police(session, actor, pilot, sources, data_import.id, buffer_m,
                               progress)
    elif kind == "osm":
        loaded = osm.write_osm(
            session, pilot, path, data_import_id=data_import.id, created_by_id=actor.user_id,
            filename=shown, **{k: opts[k] for k in ("presets", "as_places", "pick", "buffer_m")
                               if k in opts})
    else:
        loaded = gis.write_gis(
            session, pilot_id, path, data_import_id=data_import.id,
            created_by_id=actor.user_id, as_=kind.removeprefix("gis_"), filename=shown,
            **{k: opts[k] for k in ("layer_name", "crs", "name_column", "kind_column",
                                    "source_layer") if k in opts})
    data_import.status = "done"
    data_import.rows_read = loaded.rows_read
    data_import.rows_accepted = loaded.rows_accepted
    data_import.rows_rejected = loaded.rows_rejected
    data_import.report = loaded.report
    data_import.options = loaded.options
    data_import.message = loaded.message
    data_import.finished_at = data_import.started_at + dt.timedelta(
        seconds=time.perf_counter() - started)
    session.flush()
    audit.record(session, actor, "import", "data_import", data_import.id, pilot_id=pilot_id,
                 detail={"kind": kind, "filename": data_import.filename,
                         "sha256": data_import.sha256, **loaded.audit})
    return data_import


def _write_police(session: Session, actor: Actor, pilot: Pilot, sources: list[Source],
                  data_import_id: int, buffer_m: float,
                  progress: Callable[[int, int], None] | None) -> Loaded:
    seed_crime_type_mapping(session, pilot.id)
    result = police.stage_and_insert(
        session.connection(), sources, pilot_id=pilot.id, data_import_id=data_import_id,
        created_by_id=actor.user_id, bbox=pilot_bbox(pilot, buffer_m), progress=progress,
    )
    return Loaded(
        rows_read=result.rows_read, rows_accepted=result.rows_accepted,
        rows_rejected=result.rows_rejected, report=result.rejects,
        options={"buffer_m": buffer_m, "summary": result.summary()},
        message=(
            f"{result.rows_accepted:,} incidents added from {result.rows_read:,} rows; "
            f"{result.rows_rejected:,} rejected, {result.rows_duplicate:,} already present, "
            f"{result.rows_outside:,} outside the area ({buffer_m:,.0f} m around the "
            "locality)."),
        audit={"accepted": result.rows_accepted, "rejected": result.rows_rejected},
    )


def import_police(session: Session, actor: Actor, pilot_id: int, path: Path, *,
                  buffer_m: float = DEFAULT_BUFFER_M, **kw: Any) -> DataImport:
    """:func:`run_import` of a police.uk CSV, zip of CSVs or folder."""
    return run_import(session, actor, pilot_id, "police_csv", path,
                      options={"buffer_m": buffer_m}, **kw)


def import_gis(session: Session, actor: Actor, pilot_id: int, path: Path, *,
               as_: str = "layer", **options: Any) -> DataImport:
    """:func:`run_import` of a GIS file as a feature layer (``as_="layer"``) or places."""
    if as_ not in ("layer", "places"):
        raise InvalidData("Import a GIS file as 'layer' or as 'places'.")
    return run_import(session, actor, pilot_id, f"gis_{as_}", path, options=options)


def import_osm(session: Session, actor: Actor, pilot_id: int, path: Path,
               **options: Any) -> DataImport:
    """:func:`run_import` of an OpenStreetMap extract."""
    return run_import(session, actor, pilot_id, "osm", path, options=options)


def record_failure(
    session: Session, actor: Actor, pilot_id: int, *, kind: str, filename: str, sha256: str,
    message: str, data_import_id: int | None = None,
) -> DataImport:
    """Record (in a fresh transaction, after the rollback) that an import failed."""
    di = session.get(DataImport, data_import_id) if data_import_id else None
    if di is None:
        di = DataImport(pilot_id=pilot_id, kind=kind, filename=filename, sha256=sha256,
                        created_by_id=actor.user_id)
        session.add(di)
    di.status = "failed"
    di.message = message[:2000]
    di.finished_at = clock.now()
    session.flush()
    audit.record(session, actor, "import_failed", "data_import", di.id, pilot_id=pilot_id,
                 detail={"kind": kind, "filename": filename, "message": message[:500]})
    return di


def get_import(session: Session, actor: Actor, pilot_id: int, import_id: int) -> DataImport:
    require(actor, pilot_id, "evidence.records")  # rejected rows are records
    if fail_interrupted(session, pilot_id):
        session.expire_all()
    di = session.scalar(
        select(DataImport).where(DataImport.id == import_id, DataImport.pilot_id == pilot_id)
    )
    if di is None:
        raise NotFound("No such import in this pilot.")
    return di


def list_imports(
    session: Session, actor: Actor, pilot_id: int, limit: int = 50
) -> list[DataImport]:
    require(actor, pilot_id, "evidence.records")
    if fail_interrupted(session, pilot_id):
        session.expire_all()
    return list(session.scalars(
        select(DataImport).where(DataImport.pilot_id == pilot_id)
        .order_by(DataImport.id.desc()).limit(limit)
    ))


def operator_actor(session: Session, pilot_name: str, email: str | None) -> tuple[int, Actor]:
    """The pilot (by name) and who a command-line import is recorded as.

    Without ``email``: the server's operator, recorded by OS account name and acting as the
    pilot's coordinator (whoever runs the CLI already holds the database). With it: that
    user, with their own rights.
    """
    from locmap.models import User
    from locmap.services.accounts import actor_for

    pilot_id = session.scalar(select(Pilot.id).where(Pilot.name == pilot_name))
    if pilot_id is None:
        raise NotFound(f"No pilot called {pilot_name!r}.")
    if email is None:
        return pilot_id, Actor(user_id=None, email=f"cli:{getpass.getuser()}",
                               roles={pilot_id: frozenset({"coordinator"})})
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"No user with email {email}.")
    return pilot_id, actor_for(session, user)


def police_sources(path: Path) -> list[Source]:
    """The CSV files a police import of ``path`` reads (for a progress bar's total)."""
    return collect_sources([Path(path)])


def rejected_rows_csv(session: Session, actor: Actor, pilot_id: int,
                      import_id: int) -> tuple[str, str]:
    """(file name, CSV text) of an import's rejected rows, formula cells neutralised;
    the export is audited.
    """
    di = get_import(session, actor, pilot_id, import_id)
    header = ["file", "row", "reason", "crime_id", "month", "crime_type", "location"]
    rows = [[r.get(k, "") for k in header] for r in di.report or []]
    audit.record(session, actor, "export", "data_import_report", di.id, pilot_id=pilot_id,
                 detail={"rows": len(rows)})
    return f"import-{di.id}-rejected-rows.csv", "".join(csv_lines(header, rows))
