"""The base map: building it from an OpenStreetMap extract (admins), serving its vector
tiles (any signed-in user: it is shared reference data, not a pilot's), and the gazetteer
search over its named streets and points of interest plus a pilot's places.

Tiles are cached in ``basemap_tile`` under the current build's ``version``: a rebuild
gets a new version, so the cache, the tile URLs (``?v=``) and the ETags all change with
the data and a stale tile is never served.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import secrets
import shutil
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from locmap import clock
from locmap.db import Database
from locmap.errors import Conflict, InvalidData, LocmapError, NotFound
from locmap.io.basemap import MAX_ZOOM, SETTLEMENT_KINDS, load_extract, render_tile
from locmap.io.osm import OSM_SUFFIXES
from locmap.models import BasemapBuild, BasemapTile
from locmap.services import audit
from locmap.services.admin import require_admin
from locmap.services.permissions import Actor, require
from locmap.vocab import label

__all__ = ["build", "current", "tile", "search", "client_settings", "MAX_ZOOM", "job_status",
           "store_extract", "run_build_job", "submit_build", "tile_etag"]

log = logging.getLogger(__name__)

_REPORT_LIMIT = 500
_TASK = "locmap:build_basemap"  # the worker's task (locmap.jobs)
_SEARCH_LIMIT = 10


def build(session: Session, actor: Actor | None, path: Path, *,
          source: str | None = None) -> dict[str, Any]:
    """Replace the base map with the extract at ``path`` (admins; ``None`` is the system,
    e.g. ``locmap demo``). Broken elements are listed in ``report`` (the first
    :data:`_REPORT_LIMIT`; ``broken`` counts them all), never fatal.
    """
    require_admin(actor)
    path = Path(path)
    name = (source or path.name)[:200]
    result = load_extract(session, path)
    if not sum(result["counts"].values()):
        raise InvalidData(f"{name} has nothing a base map draws (no roads, buildings, water, "
                          "green space or named places).")
    version = result["version"]
    old = session.scalar(select(BasemapBuild).where(BasemapBuild.version == version))
    if old is not None:
        session.delete(old)
        session.flush()
    session.add(BasemapBuild(version=version, source=name, counts=result["counts"],
                             bounds=result["bounds"]))
    audit.record(session, actor, "basemap.build", "basemap", version,
                 detail={"source": name, "counts": result["counts"],
                         "broken": len(result["report"]), "repaired": result["repaired"]})
    session.flush()
    result["broken"] = len(result["report"])  # the true count: the list is cut below
    result["report"] = result["report"][:_REPORT_LIMIT]
    result["source"] = name
    return result


def current(session: Session) -> dict[str, Any] | None:
    """The newest build: version, source, built_at, counts, bounds; None if none."""
    b = session.scalar(select(BasemapBuild).order_by(BasemapBuild.id.desc()).limit(1))
    if b is None:
        return None
    return {"version": b.version, "source": b.source, "built_at": b.built_at,
            "counts": b.counts, "bounds": b.bounds}


# Tiles further than this from the built area (a fraction of the tile's side, plus degrees
# for the rounding of the stored bounds) are empty: answered without rendering or caching.
_TILE_MARGIN = 1 / 8
_BOUNDS_MARGIN_DEG = 0.01


def _tile_box(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's [w, s, e, n] in degrees, grown by :data:`_TILE_MARGIN` of its side."""
    n = 2 ** z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    m = _TILE_MARGIN
    return ((x - m) / n * 360 - 180, lat(y + 1 + m), (x + 1 + m) / n * 360 - 180, lat(y - m))


def _outside(bounds: list[float] | None, z: int, x: int, y: int) -> bool:
    if not bounds:
        return False
    w, s, e, n = _tile_box(z, x, y)
    d = _BOUNDS_MARGIN_DEG
    return e < bounds[0] - d or w > bounds[2] + d or n < bounds[1] - d or s > bounds[3] + d


def tile_etag(version: str, z: int, x: int, y: int) -> str:
    """The ETag of tile z/x/y of build ``version``."""
    return hashlib.sha1(f"{version}/{z}/{x}/{y}".encode()).hexdigest()[:20]


def tile(session: Session, z: int, x: int, y: int) -> tuple[bytes, str] | None:
    """(MVT bytes, ETag) of tile z/x/y from the cache, rendering it on a miss; None for a
    tile outside the built area (with a margin): it has nothing to draw, and is neither
    rendered nor cached, so requests from anywhere on Earth cannot fill the cache.
    """
    if not 0 <= z <= MAX_ZOOM or not (0 <= x < 2 ** z and 0 <= y < 2 ** z):
        raise NotFound("No such tile.")
    row = session.execute(select(BasemapBuild.version, BasemapBuild.bounds).order_by(
        BasemapBuild.id.desc()).limit(1)).first()
    if row is None:
        raise NotFound("No base map has been built.")
    version, bounds = row
    if _outside(bounds, z, x, y):
        return None
    body = session.scalar(select(BasemapTile.body).where(
        BasemapTile.version == version, BasemapTile.z == z, BasemapTile.x == x,
        BasemapTile.y == y))
    if body is None:
        body = render_tile(session, z, x, y)
        session.execute(insert(BasemapTile).values(version=version, z=z, x=x, y=y, body=body)
                        .on_conflict_do_nothing())
    return bytes(body), tile_etag(version, z, x, y)


def _like(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Segments of one street are one hit; the same name a town away is another street.
# ST_ClusterDBSCAN works in the geometry's units (Web Mercator metres, about 1.6 ground
# metres at British latitudes): 400 units keeps a street cut by a junction together.
_SAME_STREET_M = 400.0
_AREA_WITHIN_M = 8000.0  # (about 5 km) a settlement further away does not name the area
_GAZETTEER_SQL = text(
    "WITH names AS ("
    "  SELECT name, layer, bool_or(name ILIKE :prefix) AS starts FROM basemap_feature"
    "  WHERE layer IN ('roads', 'pois', 'water') AND name ILIKE :pattern"
    "  GROUP BY name, layer ORDER BY starts DESC, length(name), name LIMIT :n"
    "), parts AS ("
    "  SELECT f.name, f.layer, f.kind, f.geom, n.starts, ST_ClusterDBSCAN(f.geom, eps => :eps,"
    "         minpoints => 1) OVER (PARTITION BY f.name, f.layer) AS cluster"
    "  FROM basemap_feature f JOIN names n ON n.name = f.name AND n.layer = f.layer"
    "), streets AS ("
    "  SELECT name, layer, min(kind) AS kind, bool_or(starts) AS starts,"
    "         ST_SetSRID(ST_Extent(geom)::geometry, 3857) AS box"
    "  FROM parts GROUP BY name, layer, cluster"
    ") "
    "SELECT s.name, s.layer, s.kind, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), s.starts,"
    "  (SELECT p.name FROM basemap_feature p WHERE p.layer = 'pois'"
    "   AND p.kind = ANY(:settlements) AND p.name <> '' AND p.name <> s.name"
    "   AND ST_DWithin(p.geom, s.box, :near) ORDER BY p.geom <-> s.box LIMIT 1) AS area,"
    "  (SELECT p.name FROM basemap_feature p WHERE p.layer IN ('pois', 'roads')"
    "   AND p.name <> '' AND p.name <> s.name AND ST_DWithin(p.geom, s.box, :near)"
    "   ORDER BY (p.layer = 'roads'), p.geom <-> s.box LIMIT 1) AS near "
    "FROM streets s CROSS JOIN LATERAL ST_Transform(s.box, 4326) AS e "
    "ORDER BY s.starts DESC, length(s.name), s.name, ST_XMin(e)")


def search(session: Session, actor: Actor, q: str, pilot_id: int | None = None) -> list[
        dict[str, Any]]:
    """Named streets, points of interest and water of the base map, and (with
    ``pilot_id``, for its members) the pilot's places, whose names contain ``q``: names
    starting with it first. Each hit has name, kind, kind_label, source, lat, lon and
    bbox [w, s, e, n]. A street's segments are one hit, but streets of the same name in
    different parts of the extract (a Church Street in each town) are one hit each, with
    ``area``: the nearest settlement (an OSM ``place`` node: town, village, suburb…) or
    else "near" the nearest named point of interest or street, so they can be told apart.
    """
    q = " ".join(q.split())
    if len(q) < 2:
        raise InvalidData("Type at least 2 characters to search.")
    if len(q) > 100:
        raise InvalidData("A search is at most 100 characters.")
    pattern, prefix = f"%{_like(q)}%", f"{_like(q)}%"
    hits: list[dict[str, Any]] = []
    if pilot_id is not None:
        require(actor, pilot_id, "place.view")
        rows = session.execute(text(
            "SELECT id, name, kind, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), "
            "       ST_X(c), ST_Y(c), name ILIKE :prefix AS starts "
            "FROM (SELECT id, name, kind, ST_Envelope(geom) AS e, ST_PointOnSurface(geom) AS c "
            "      FROM place WHERE pilot_id = :p AND deleted_at IS NULL "
            "      AND geom IS NOT NULL AND name ILIKE :pattern) s "
            "ORDER BY starts DESC, length(name), name LIMIT :n"),
            {"p": pilot_id, "pattern": pattern, "prefix": prefix, "n": _SEARCH_LIMIT}).all()
        hits += [{"name": r[1], "kind": r[2], "kind_label": label(r[2]), "source": "place",
                  "place_id": r[0], "bbox": [r[3], r[4], r[5], r[6]], "lon": r[7], "lat": r[8],
                  "starts": r[9]} for r in rows]
    rows = session.execute(_GAZETTEER_SQL, {
        "pattern": pattern, "prefix": prefix, "n": _SEARCH_LIMIT, "eps": _SAME_STREET_M,
        "near": _AREA_WITHIN_M, "settlements": list(SETTLEMENT_KINDS)}).all()
    for name, layer, kind, w, s, e, n, starts, area, near in rows:
        kind_label = "street" if layer == "roads" else label(kind).replace("_", " ")
        hit = {"name": name, "kind": kind, "kind_label": kind_label,
               "source": "basemap", "bbox": [w, s, e, n], "lon": (w + e) / 2,
               "lat": (s + n) / 2, "starts": starts}
        if area:
            hit["area"] = area
        elif near:
            hit["area"] = f"near {near}"
        hits.append(hit)
    hits.sort(key=lambda h: (not h.pop("starts"), h["source"] != "place", len(h["name"])))
    return hits[:_SEARCH_LIMIT]


def client_settings(session: Session | None, *, raster_url: str | None,
                    raster_attribution: str | None) -> dict[str, Any]:
    """What the browser's map module needs (the #basemap-config block)."""
    b = current(session) if session is not None else None
    version = b["version"] if b else None
    return {
        "version": version,
        "tiles": f"/tiles/basemap/{{z}}/{{x}}/{{y}}.pbf?v={version}" if version else None,
        "attribution": ("© OpenStreetMap contributors" if b and "demo" not in b["source"]
                        else "Synthetic demo base map") if b else "",
        "bounds": b["bounds"] if b else None,
        "raster": raster_url,
        "raster_attribution": raster_attribution or "",
        "glyphs": "/static/glyphs/{fontstack}/{range}.pbf",
        "worker": "/static/vendor/maplibre-gl/maplibre-gl-csp-worker.js",
        "search": "/api/v1/search",
        "settlements": list(SETTLEMENT_KINDS),
    }


# ---- the admin page's build, as a worker job -------------------------------------------

def _job_dir(data_dir: Path, *, make: bool = True) -> Path:
    """The build's folder in the data folder, made owner-only if missing (as config makes the
    data folder: it holds the secret key; a folder made open would stop the next start).
    """
    folder = Path(data_dir) / "basemap"
    if make:
        Path(data_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.mkdir(exist_ok=True, mode=0o700)
    return folder


_STUCK_STATES = ("queued", "running")


def job_status(data_dir: Path, session: Session | None = None, *,
               max_hours: float = 6.0) -> dict[str, Any] | None:
    """The last build started from the admin page: state (queued, running, done, failed),
    source, message, report of broken elements (the first :data:`_REPORT_LIMIT`; ``broken``
    counts them all); None if there was none.

    With ``session``, a build still queued or running whose worker job is gone (ended,
    deleted, or held by a worker with no heartbeat: the worker died mid-build) or that
    began more than ``max_hours`` ago (``LOCMAP_BASEMAP_BUILD_HOURS``) is taken as failed:
    the status file says so and its upload is deleted, so the page shows it and takes a
    new upload instead of waiting for good.
    """
    path = _job_dir(data_dir, make=False) / "status.json"
    try:
        status = dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None
    if session is None or status.get("state") not in _STUCK_STATES:
        return status
    why = _stuck(session, status, max_hours)
    if why is None:
        return status
    if status.get("upload"):
        Path(status["upload"]).unlink(missing_ok=True)
    _set_status(data_dir, state="failed", source=status.get("source", ""),
                message=f"{why} The base map is unchanged; upload the extract again.")
    log.warning("base map build from %s taken as failed: %s", status.get("source"), why)
    return job_status(data_dir)


def _stuck(session: Session, status: dict[str, Any], max_hours: float) -> str | None:
    """Why a queued or running build will never finish, or None while it may."""
    from locmap.services.import_jobs import STALLED_AFTER_S

    try:
        since = dt.datetime.fromisoformat(str(status.get("started") or status.get("at")))
    except ValueError:
        since = None
    if since is None or clock.now() - since > dt.timedelta(hours=max_hours):
        hours = f"{max_hours:g} hour{'' if max_hours == 1 else 's'}"
        return f"The build was still {status['state']} after {hours}, so it is taken as failed."
    if not status.get("upload") or status.get("inline"):
        return None  # run inline (tests, LOCMAP_IMPORT_SYNC): only the age tells
    job = session.execute(text(
        "SELECT j.status, j.status = 'doing' AND (w.id IS NULL OR w.last_heartbeat < now() "
        "       - make_interval(secs => :stalled)) "
        "FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id "
        "WHERE j.task_name = :task AND j.args->>'path' = :path ORDER BY j.id DESC LIMIT 1"),
        {"task": _TASK, "path": status["upload"], "stalled": STALLED_AFTER_S}).first()
    if job is None and clock.now() - since < dt.timedelta(seconds=STALLED_AFTER_S):
        return None  # stored a moment ago: its job is being queued
    if job is None or job[0] not in ("todo", "doing") or job[1]:
        return ("The build stopped without finishing: its worker job is gone (the worker "
                "was stopped or died).")
    return None


def _set_status(data_dir: Path, **status: Any) -> None:
    status["at"] = clock.now().isoformat(timespec="seconds")
    tmp = _job_dir(data_dir) / "status.json.tmp"
    tmp.write_text(json.dumps(status, default=str))
    tmp.replace(_job_dir(data_dir) / "status.json")


def store_extract(session: Session, actor: Actor, data_dir: Path, filename: str,
                  stream: IO[bytes], *, max_hours: float = 6.0) -> Path:
    """Keep an uploaded extract for the worker (admins); the build is queued by the caller.
    Refused while another build may still finish (see :func:`job_status`).
    """
    require_admin(actor)
    name = Path(filename or "").name
    if not name.lower().endswith(OSM_SUFFIXES):
        raise InvalidData("Choose an OpenStreetMap extract (.osm.pbf or .osm).")
    current_job = job_status(data_dir, session, max_hours=max_hours)
    if current_job and current_job.get("state") in ("queued", "running"):
        raise Conflict("A base map build is already under way; wait for it to finish.")
    suffix = ".osm.pbf" if name.lower().endswith(".pbf") else ".osm"
    path = _job_dir(data_dir) / f"upload-{secrets.token_hex(8)}{suffix}"
    with path.open("wb") as out:
        shutil.copyfileobj(stream, out, 1 << 20)
    _set_status(data_dir, state="queued", source=name[:200], message="Waiting for the worker.",
                upload=str(path), started=clock.now().isoformat(timespec="seconds"))
    return path


def run_build_job(db: Database, data_dir: Path, path: Path, source: str, user_id: int | None,
                  email: str, *, inline: bool = False) -> str:
    """Build the base map from a stored upload (the worker's task, or ``inline`` in the web
    process), recording the outcome in the status file the admin page shows; the upload
    is deleted afterwards.
    """
    who = Actor(user_id=user_id, email=email, is_admin=True)
    _set_status(data_dir, state="running", source=source, message="Building the base map…",
                upload=str(path), inline=inline, started=clock.now().isoformat(timespec="seconds"))
    try:
        with db.session() as s:
            result = build(s, who, Path(path), source=source)
            s.commit()
        counts = ", ".join(f"{n:,} {k}" for k, n in result["counts"].items())
        _set_status(data_dir, state="done", source=source, report=result["report"],
                    broken=result["broken"],
                    message=f"Built: {counts}; {result['broken']:,} broken elements skipped, "
                            f"{result['repaired']:,} repaired.")
        return "done"
    except LocmapError as exc:
        _set_status(data_dir, state="failed", source=source, message=exc.message)
        return "failed"
    except Exception as exc:
        log.exception("base map build from %s failed", source)
        _set_status(data_dir, state="failed", source=source,
                     message=f"The build failed ({type(exc).__name__}); the base map is unchanged.")
        return "failed"
    finally:
        Path(path).unlink(missing_ok=True)


def submit_build(db: Database, data_dir: Path, path: Path, source: str, actor: Actor, *,
                 inline: bool = False) -> None:
    """Run the build now (``inline``: tests, ``LOCMAP_IMPORT_SYNC``) or queue it for
    ``locmap worker``; a queue that cannot be reached marks the build failed at once.
    """
    require_admin(actor)
    source = source[:200]
    if inline:
        run_build_job(db, data_dir, path, source, actor.user_id, actor.email, inline=True)
        return
    from locmap.jobs import defer_basemap, defer_or_fail

    def fail(error: str) -> None:
        Path(path).unlink(missing_ok=True)
        _set_status(data_dir, state="failed", source=source,
                    message=f"The build could not be queued ({error}); try again later.")

    defer_or_fail("base map build", lambda: defer_basemap(
        db, data_dir=str(data_dir), path=str(path), source=source,
        user_id=actor.user_id, email=actor.email), fail)
