"""Benchmark place indicators on a synthetic county: locmap vs the analyst's geopandas path.

Run from the repository root (needs a PostGIS server; ``DATABASE_URL`` or the local one)::

    PYTHONPATH=. python bench/bench_place_indicators.py [--n 2000000] \
        [--write docs/perf/place_indicators.md]

A fresh database gets one pilot whose locality is a 30 x 30 km square round
lon -1.5, lat 52.5, one polygon place (a 200 m square park at the centre) and ``--n``
incidents uniformly at random in the square over two years (``INSERT ... SELECT
generate_series``). Then, in one process:

1. locmap: ``queries.assessment.place_incidents`` (the place's incidents as rows, the
   ring's as counts, the rest of the locality from ``locality_incident_count``) +
   ``area_sizes`` and the pure ``assessment.indicators.place_indicators_from_counts`` for
   the place (what an assessment snapshot runs), p50 over up to 20 runs;
2. the analyst: ``geopandas.read_postgis`` of the pilot's incidents, ``to_crs(27700)``,
   ``sjoin`` with the place and with its 500 m ring, and the same three counts.

The database is dropped at the end, also on failure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
import uuid
import warnings
from importlib.metadata import version

LON, LAT = -1.5, 52.5
HALF_LAT = 15.0 / 111.2  # 15 km in degrees of latitude
HALF_LON = 15.0 / (111.32 * 0.6088)  # cos(52.5 deg) = 0.6088
PARK_M = 100.0  # half side of the park


def _square(lon: float, lat: float, half_lon: float, half_lat: float) -> dict:
    ring = [[lon - half_lon, lat - half_lat], [lon + half_lon, lat - half_lat],
            [lon + half_lon, lat + half_lat], [lon - half_lon, lat + half_lat],
            [lon - half_lon, lat - half_lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _setup(url: str, n: int) -> tuple[int, int, float]:
    from sqlalchemy import text

    from locmap.db import Database, upgrade
    from locmap.services import pilots

    upgrade(url)
    db = Database(url)
    t0 = time.perf_counter()
    with db.session() as s:
        pilot = pilots.create_pilot(
            s, None, name="Synthetic county", locality=_square(LON, LAT, HALF_LON, HALF_LAT),
            start_date=dt.date(2024, 1, 1))
        s.flush()
        park = _square(LON, LAT, PARK_M / 1000 / (111.32 * 0.6088), PARK_M / 1000 / 111.2)
        place_id = s.execute(text(
            "INSERT INTO place (pilot_id, name, kind, notes, version, geom) VALUES "
            "(:p, 'Central park', 'park', '', 1, "
            " ST_SetSRID(ST_GeomFromGeoJSON(CAST(:gj AS text)), 4326)) RETURNING id"),
            {"p": pilot.id, "gj": __import__("json").dumps(park)}).scalar_one()
        s.execute(text(
            """
            INSERT INTO incident (pilot_id, location, place_derived, occurred_at, time_precision,
                                  category, severity, description, version)
            SELECT :p,
                   ST_SetSRID(ST_MakePoint(:lon - :hl + random() * 2 * :hl,
                                           :lat - :ha + random() * 2 * :ha), 4326),
                   false,
                   timestamptz '2024-01-01 00:00+00' + random() * interval '730 days',
                   'exact',
                   (ARRAY['asb', 'drugs', 'cce', 'serious_youth_violence', 'other'])
                     [1 + floor(random() * 5)::int],
                   1 + floor(random() * 5)::int, '', 1
            FROM generate_series(1, :n)
            """), {"p": pilot.id, "lon": LON, "lat": LAT, "hl": HALF_LON, "ha": HALF_LAT,
                   "n": n})
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))  # incident and the locality counts its triggers wrote
        # Write the load's dirty pages out now, not while the queries are being timed.
        c.execute(text("CHECKPOINT"))
    db.dispose()
    return pilot.id, place_id, time.perf_counter() - t0


def _locmap(session, place_id: int):
    from locmap.assessment.indicators import (
        LONDON,
        Exposure,
        Incident,
        place_indicators_from_counts,
    )
    from locmap.queries import assessment as q

    t0 = time.perf_counter()
    found = q.place_incidents(session, place_id)
    sizes = q.area_sizes(session, place_id)
    t_query = time.perf_counter() - t0
    first, last = (dt.date(t.year, t.month, 1) for t in
                   (x.astimezone(LONDON) for x in (found.first_at, found.last_at)))
    exposure = Exposure(first, last, sizes.place_km2, sizes.ring_km2,
                        max(sizes.locality_km2, sizes.place_km2 + sizes.ring_km2 + 1e-9))
    ind = place_indicators_from_counts(
        [Incident(r.occurred_at, r.precision, r.category, r.severity, r.area)
         for r in found.at_place], found.ring, found.rest_of_locality, exposure)
    counts = {a: found.count(a) for a in ("place", "ring", "locality")}
    return time.perf_counter() - t0, t_query, counts, ind


def _per_row(session, place_id: int) -> float:
    """The path before issue 7: every incident of the locality sent to Python as a row."""
    from locmap.assessment.indicators import LONDON, Exposure, Incident, place_indicators
    from locmap.queries import assessment as q

    t0 = time.perf_counter()
    rows = q.classified_incidents(session, place_id)
    sizes = q.area_sizes(session, place_id)
    months = [dt.date(t.year, t.month, 1) for t in
              (r.occurred_at.astimezone(LONDON) for r in rows)]
    exposure = Exposure(min(months), max(months), sizes.place_km2, sizes.ring_km2,
                        max(sizes.locality_km2, sizes.place_km2 + sizes.ring_km2 + 1e-9))
    place_indicators(
        [Incident(r.occurred_at, r.precision, r.category, r.severity, r.area) for r in rows],
        exposure)
    return time.perf_counter() - t0


def _analyst(engine, pilot_id: int, place_id: int):
    import geopandas as gpd
    from sqlalchemy import text

    t0 = time.perf_counter()
    inc = gpd.read_postgis(
        text("SELECT id, occurred_at, time_precision, category, severity, location "
             "FROM incident WHERE pilot_id = :p"),
        engine, geom_col="location", params={"p": pilot_id})
    t_read = time.perf_counter() - t0
    place = gpd.read_postgis(text("SELECT id, geom FROM place WHERE id = :p"),
                             engine, geom_col="geom", params={"p": place_id}).to_crs(27700)
    inc = inc.to_crs(27700)
    ring = gpd.GeoDataFrame(
        geometry=place.buffer(500.0).difference(place.geometry), crs=27700)
    at_place = gpd.sjoin(inc, place, predicate="intersects")
    in_ring = gpd.sjoin(inc, ring, predicate="intersects")
    n_place, n_ring = len(at_place), len(in_ring)
    counts = {"place": n_place, "ring": n_ring, "locality": len(inc) - n_place - n_ring}
    return time.perf_counter() - t0, t_read, counts


def _sql_aggregate(session, place_id: int) -> tuple[float, dict]:
    """Reference only (not locmap code): the same CASE, grouped in SQL."""
    from sqlalchemy import text

    from locmap.queries.assessment import _CLASSIFY

    sql = text(f"SELECT area, count(*) AS n FROM ({_CLASSIFY.text}) AS c GROUP BY area")  # noqa: S608
    t0 = time.perf_counter()
    rows = session.execute(sql, {"place_id": place_id, "ring_m": 500.0, "place_m": 50.0,
                                 "since": None, "until": None}).all()
    return time.perf_counter() - t0, {r.area: r.n for r in rows}


def main() -> None:
    """Run the benchmark, print a markdown report and optionally write it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--write", help="write the markdown report to this path")
    parser.add_argument("--before", action="store_true",
                        help="also time the per-row path of classified_incidents once")
    args = parser.parse_args()

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from locmap.config import load_settings
    from locmap.pgserver import drop_database, ensure_database, resolve_url

    settings = load_settings()
    url = make_url(resolve_url(settings.database_url, settings.data_dir)).set(
        database=f"locmap_bench_pi_{uuid.uuid4().hex[:8]}").render_as_string(
        hide_password=False)
    ensure_database(url)
    engine = create_engine(url)
    try:
        started, load0 = dt.datetime.now(dt.UTC), os.getloadavg()[0]
        pilot_id, place_id, t_load = _setup(url, args.n)
        print(f"loaded {args.n:,} incidents in {t_load:.1f} s", flush=True)
        from sqlalchemy.orm import Session

        with Session(engine) as s, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = _locmap(s, place_id)  # also warms the cache
            for _ in range(2):  # two more untimed runs: the place's pages now in memory
                _locmap(s, place_id)
            # 20 runs of a query that takes seconds would dominate the benchmark; the
            # number of runs actually used is reported.
            repeats = args.repeats if first[0] < 2.0 else min(args.repeats, 3)
            runs = [_locmap(s, place_id) for _ in range(repeats)]
            t_sql, agg = _sql_aggregate(s, place_id)
            days = s.execute(text("SELECT count(*) FROM locality_incident_count "
                                  "WHERE pilot_id = :p"), {"p": pilot_id}).scalar_one()
            t_before = _per_row(s, place_id) if args.before else None
        p50 = statistics.median(r[0] for r in runs)
        p50_query = statistics.median(r[1] for r in runs)
        ours = runs[-1][2]
        rr = runs[-1][3].overall.place_vs_ring
        print(f"locmap p50 {p50:.3f} s ({repeats} runs)", flush=True)
        t_an, t_read, theirs = _analyst(engine, pilot_id, place_id)
        print(f"analyst {t_an:.3f} s", flush=True)
        ended, load1 = dt.datetime.now(dt.UTC), os.getloadavg()[0]
    finally:
        engine.dispose()
        drop_database(url)

    ratio = t_an / p50
    cmd = ("PYTHONPATH=. python bench/bench_place_indicators.py "
           + ("--before " if args.before else "") + "--write docs/perf/place_indicators.md")
    before_row = ("" if t_before is None else
                  "| before (per-row `classified_incidents` + `place_indicators`), once | "
                  f"{t_before:.3f} | {t_before / p50:.1f}x |\n")
    run_ms = ", ".join(f"{t * 1000:.0f}" for t in sorted(r[0] for r in runs))
    verdict_p50 = "met" if p50 < 0.050 else "**missed**"
    verdict_ratio = "met" if ratio >= 20 else "**missed**"
    report = f"""# Place indicators on a 2-million-incident county: performance

Command: `{cmd}` ({args.n:,} incidents; locmap p50 over {repeats} runs in one process
after the data was loaded, the database `VACUUM ANALYZE`d and checkpointed, after three untimed
runs; the analyst path run once). locmap's runs, sorted (ms): {run_ms}. Run on
{started:%Y-%m-%d} from {started:%H:%M} to {ended:%H:%M} UTC: 1-minute load average
{load0:.2f} at the start, {load1:.2f} at the end ({os.cpu_count()} cores).

Data: one pilot whose locality is a 30 x 30 km square round lon {LON}, lat {LAT}; one
polygon place (a 200 x 200 m park at the centre); incidents uniform at random in the
square over 2024-2025 (`INSERT ... SELECT generate_series`, loaded in {t_load:.0f} s).

| what | seconds | vs locmap |
|---|---:|---:|
| locmap: `place_incidents`, `area_sizes`, `place_indicators_from_counts` (p50) | {p50:.3f} | 1x |
| of which the two queries (p50) | {p50_query:.3f} | - |
{before_row}| analyst: `read_postgis`, `to_crs`, 2 x `sjoin`, counts | {t_an:.3f} | {ratio:.1f}x |
| of which `read_postgis` alone | {t_read:.3f} | - |
| reference (not locmap code): the per-row classification `GROUP BY area` in SQL | {t_sql:.3f} | - |

Targets: p50 < 50 ms: {verdict_p50} ({p50 * 1000:.0f} ms); locmap >= 20x faster than the
analyst path: {verdict_ratio} ({ratio:.1f}x).

Counts (place / ring / rest of locality): locmap {ours['place']:,} / {ours['ring']:,} /
{ours['locality']:,}; analyst {theirs['place']:,} / {theirs['ring']:,} /
{theirs['locality']:,} (the analyst buffers in EPSG:27700, locmap on the geography, so a
few points on the ring edge may differ); SQL aggregate {agg}. Rate ratio place vs ring:
{rr.ratio} (95% CI {rr.ci_low} to {rr.ci_high}).

How: `place_incidents` sends rows only for the place's own incidents (their times feed
the time profile and the monthly series) and counts the ring's per category and severity
in the same statement. It finds them through the geometry index on a buffer of the place
1 % + 1 m wider than the ring; rows inside a buffer 1 % + 1 m narrower are in, and only
the band between the two pays for the exact `ST_DWithin` on the geography (spheroid); the
locality test is skipped when the locality covers the wider buffer. The rest of the
locality comes from `locality_incident_count` (migration 0004): the pilot's incidents that
intersect its locality counted per harm category, severity and UTC day, kept exact by
statement-level triggers on `incident` (transition tables, one `GROUP BY` per statement)
and recounted when the pilot's locality changes. A request sums the whole days of its
window from that table (here about {days:,} rows), counts the partial first and last
days of the window from `incident` through `ix_incident_pilot_time`, reads the first and
last incident times from one day's rows each, and subtracts the place's and ring's
counts; `place_indicators_from_counts` computes the same numbers from those counts
(tests/integration/test_assessment_queries.py compares it with the per-row path, for
points, polygons, places at the locality edge, rings narrower than the place and time
windows, and the table with a fresh `GROUP BY` after inserts, updates, deletes and
locality changes). The two-sided p-values of the rate ratios are scipy's `binomtest`
rule computed with its special functions (`binomtest_p_value`, tested against scipy). The
load above includes the insert trigger's one `GROUP BY` over the {args.n:,} new rows.

Machine: nproc = {os.cpu_count()}, {platform.machine()}, Python {sys.version.split()[0]};
PostgreSQL/PostGIS local server; numpy {version("numpy")}, SQLAlchemy {version("sqlalchemy")},
psycopg {version("psycopg")}, geopandas {version("geopandas")}, shapely {version("shapely")},
pyproj {version("pyproj")}.
"""  # noqa: S608 (a report, not SQL)
    print(report)
    if args.write:
        with open(args.write, "w", encoding="utf-8") as fh:
            fh.write(report)


if __name__ == "__main__":
    main()
