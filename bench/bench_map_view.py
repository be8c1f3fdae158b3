"""Benchmark the clustered incident map against embedding every incident in a folium map.

Run ``python bench/bench_map_view.py`` (``--n 200000 --repeats 30``). It creates a fresh
PostGIS database (as the tests do), migrates it, loads N synthetic incidents into one
city-sized pilot with ``INSERT … SELECT generate_series`` and drops the database at the end.
It prints a markdown table: the payload and p50 time of the city-wide map view
(``/api/v1/pilots/<id>/incidents/map`` through the Flask test client, JSON included) and the
HTML size and build time of a folium map holding every incident as a GeoJson layer.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from shapely.geometry import box, mapping
from sqlalchemy import text
from sqlalchemy.engine import make_url

from locmap.config import load_settings
from locmap.db import Database, upgrade
from locmap.pgserver import drop_database, ensure_database, resolve_url
from locmap.services import accounts, pilots

# A 16 km × 11 km fictional city (about the size of a large English town's urban area).
CITY = box(-1.98, 52.42, -1.74, 52.52)


def _fresh_url() -> str:
    settings = load_settings()
    base = make_url(resolve_url(settings.database_url, settings.data_dir))
    name = f"locmap_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = base.set(database=name).render_as_string(hide_password=False)
    ensure_database(url)
    return url


@contextmanager
def town_database(url: str | None, n: int,
                  prepare: Callable[[Database, int], None] | None = None
                  ) -> Iterator[tuple[Database, int]]:
    """The town's database and pilot id: ``url`` if given (a database holding the town
    already, kept), else a fresh one loaded with ``n`` incidents (then ``prepare(db,
    pilot_id)``) and dropped at the end.
    """
    db = Database(url or _fresh_url())
    try:
        if url:
            with db.session() as s:
                pilot_id = s.scalar(text("SELECT min(id) FROM pilot WHERE name = 'Bench City'"))
        else:
            upgrade(db.url)
            pilot_id = _seed(db, n)
            if prepare is not None:
                prepare(db, pilot_id)
        yield db, pilot_id
    finally:
        db.dispose()
        if not url:
            drop_database(db.url)


def _seed(db: Database, n: int) -> int:
    with db.session() as s:
        pilot = pilots.create_pilot(s, None, name="Bench City", locality=dict(mapping(CITY)),
                                    start_date=__import__("datetime").date(2024, 1, 1))
        user = accounts.create_user(s, None, email="bench@bench.invalid", name="Bench",
                                    password="bench-password-123")  # noqa: S106
        accounts.add_membership(s, None, user, pilot, "coordinator")
        s.flush()
        w, so, e, no = CITY.bounds
        # Hot spots (a town centre, a station, an estate) plus a uniform background.
        s.execute(text("SELECT setseed(0.42)"))
        s.execute(text(f"""
            INSERT INTO incident (pilot_id, location, occurred_at, time_precision, category,
                                  severity, place_derived, description, version)
            SELECT :pid,
                   ST_SetSRID(ST_MakePoint(
                     CASE WHEN g % 3 = 0 THEN {w} + random() * {e - w}
                          ELSE -1.89 + (g % 7) * 0.02 + (random() - 0.5) * 0.02 END,
                     CASE WHEN g % 3 = 0 THEN {so} + random() * {no - so}
                          ELSE 52.45 + (g % 5) * 0.012 + (random() - 0.5) * 0.012 END), 4326),
                   timestamptz '2024-01-01' + random() * interval '540 days',
                   (ARRAY['exact','day','month'])[1 + g % 3],
                   (ARRAY['asb','drugs','serious_youth_violence','cce','weapons','other'])
                     [1 + g % 6],
                   1 + g % 5, false, '', 1
            FROM generate_series(1, :n) AS g
        """), {"pid": pilot.id, "n": n})  # noqa: S608 - constants only
        s.execute(text("ANALYZE incident"))
        return pilot.id


def _login(client: Any) -> None:
    import re

    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)  # type: ignore
    client.post("/login", data={"email": "bench@bench.invalid", "password": "bench-password-123",
                                "csrf_token": token})


def _p50(fn: Any, repeats: int) -> tuple[float, Any]:
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    os.environ.setdefault("LOCMAP_COOKIE_SECURE", "0")
    url = _fresh_url()
    try:
        upgrade(url)
        db = Database(url)
        t0 = time.perf_counter()
        pid = _seed(db, args.n)
        load_s = time.perf_counter() - t0
        from locmap.web import create_app

        app = create_app({"DATABASE": db, "SESSION_COOKIE_SECURE": False})
        client = app.test_client()
        _login(client)
        w, s, e, n = CITY.bounds
        views = {"city-wide (zoom 12)": (f"{w},{s},{e},{n}", 12),
                 "neighbourhood (zoom 15)": ("-1.90,52.445,-1.87,52.46", 15),
                 "street (zoom 18)": ("-1.8905,52.4495,-1.8895,52.4505", 18)}
        rows = []
        for label, (bbox, zoom) in views.items():
            path = f"/api/v1/pilots/{pid}/incidents/map?bbox={bbox}&zoom={zoom}"
            p50, resp = _p50(lambda p=path: client.get(p), args.repeats)
            body = resp.get_json()
            rows.append((label, len(resp.data), p50, body["mode"], len(body["features"]),
                         body["total"]))
        from locmap.queries import incidents as q

        with db.sessionmaker() as sess:
            sql_p50, _ = _p50(lambda: q.map_cells(sess, pid, CITY.bounds, 12, q.IncidentFilter()),
                              args.repeats)
        with db.engine.connect() as c:
            plan = "\n".join(r[0] for r in c.execute(text(
                "EXPLAIN SELECT count(*) FROM incident WHERE pilot_id = :p AND location && "
                "ST_MakeEnvelope(-1.90, 52.445, -1.87, 52.46, 4326)"), {"p": pid}))
            derive_plan = "\n".join(r[0] for r in c.execute(text(
                "EXPLAIN SELECT id FROM incident WHERE ST_DWithin(location::geography, "
                "ST_SetSRID(ST_MakePoint(-1.89, 52.45), 4326)::geography, 50)")))
            coords = c.execute(text(
                "SELECT ST_X(location), ST_Y(location), category, severity FROM incident "
                "WHERE pilot_id = :p"), {"p": pid}).all()
        import folium

        def build() -> str:
            m = folium.Map(location=[52.47, -1.86], zoom_start=12, tiles=None)
            folium.GeoJson({"type": "FeatureCollection", "features": [
                {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
                 "properties": {"category": cat, "severity": sev}}
                for x, y, cat, sev in coords]}).add_to(m)
            buf = io.BytesIO()
            m.save(buf, close_file=False)
            return buf.getvalue().decode()

        t0 = time.perf_counter()
        html = build()
        folium_s = time.perf_counter() - t0
        embed = len(html.encode())
        print(f"\n{args.n:,} synthetic incidents, loaded in {load_s:.1f} s; "
              f"{platform.python_implementation()} {platform.python_version()}, "
              f"{os.cpu_count()} CPUs, p50 of {args.repeats} requests\n")
        print("| view | payload | p50 | mode | features | incidents in view "
              "| payload / embed-all |")
        print("|---|---:|---:|---|---:|---:|---:|")
        for label, size, p50, mode, feats, total in rows:
            print(f"| {label} | {size / 1024:,.1f} KiB | {p50 * 1000:,.0f} ms | {mode} | "
                  f"{feats:,} | {total:,} | 1/{embed / size:,.0f} |")
        print(f"| folium, every incident as GeoJson | {embed / 2**20:,.1f} MiB | "
              f"{folium_s * 1000:,.0f} ms (one build) | all | {len(coords):,} | "
              f"{len(coords):,} | 1 |")
        print(f"\nThe city-wide clustering query alone (queries.incidents.map_cells): "
              f"p50 {sql_p50 * 1000:,.0f} ms.")
        print("\nEXPLAIN (bbox filter):\n" + plan)
        print("\nEXPLAIN (50 m on geography):\n" + derive_plan)
    finally:
        drop_database(url)


if __name__ == "__main__":
    main()
