"""Benchmark the incident vector tiles against the clustered GeoJSON map, in one run.

Run ``python bench/bench_incident_tiles.py`` (``--n 2000000``). It builds the benchmark town
of ``bench_map_view`` (N synthetic incidents over 18 months in a 16 km × 11 km city) in a
fresh PostGIS database and, through the Flask test client as the owning team, requests:

- the tiles a 1280 × 800 screen loads for three views (town at zoom 12, neighbourhood at
  zoom 15, street at zoom 18), once with no filter and once per month of the time slider
  (so that every request is distinct: **cold**, nothing cached by the app or the browser);
- the GeoJSON endpoint ``/api/v1/pilots/N/incidents/map`` for the same views and months.

It prints p50/p95 per request and per view (the sum of a view's tiles against the one
GeoJSON request), and drops the database at the end.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_map_view import _fresh_url, _login, _seed  # noqa: E402

from locmap.db import Database, upgrade  # noqa: E402
from locmap.pgserver import drop_database  # noqa: E402

SCREEN = (1280, 800)
VIEWS = {"town (zoom 12)": ((-1.86, 52.47), 12), "neighbourhood (zoom 15)": ((-1.885, 52.4525), 15),
         "street (zoom 18)": ((-1.89, 52.45), 18)}


def _tile_xy(lon: float, lat: float, z: int) -> tuple[float, float]:
    n = 2 ** z
    r = math.radians(lat)
    return (lon + 180) / 360 * n, (1 - math.asinh(math.tan(r)) / math.pi) / 2 * n


def _lonlat(x: float, y: float, z: int) -> tuple[float, float]:
    n = 2 ** z
    return x / n * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))


def view_tiles(centre: tuple[float, float], z: int) -> tuple[list[tuple[int, int, int]], str]:
    """The tiles covering a SCREEN-sized view, and the view's bbox for the GeoJSON map."""
    cx, cy = _tile_xy(*centre, z)
    hw, hh = SCREEN[0] / 2 / 256, SCREEN[1] / 2 / 256
    tiles = [(z, x, y) for x in range(math.floor(cx - hw), math.floor(cx + hw) + 1)
             for y in range(math.floor(cy - hh), math.floor(cy + hh) + 1)]
    w, n = _lonlat(cx - hw, cy - hh, z)
    e, s = _lonlat(cx + hw, cy + hh, z)
    return tiles, f"{w:.6f},{s:.6f},{e:.6f},{n:.6f}"


def _months() -> list[str]:
    out = []
    for i in range(18):
        y, m = 2024 + i // 12, 1 + i % 12
        nxt_y, nxt_m = (y, m + 1) if m < 12 else (y + 1, 1)
        last = (__import__("datetime").date(nxt_y, nxt_m, 1)
                - __import__("datetime").timedelta(days=1)).day
        out.append(f"{y}-{m:02d}-01|{y}-{m:02d}-{last:02d}")
    return out


def _timed(client: Any, url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = client.get(url)
    dt = time.perf_counter() - t0
    assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:200])
    return dt, len(r.data)


def _p(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--months", type=int, default=6, help="time-slider months measured")
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
        # Pages answer 503 until an admin exists (first run).
        app.extensions["locmap_has_admin"] = True
        client = app.test_client()
        _login(client)
        filters = [""] + [f"from={m.split('|')[0]}&to={m.split('|')[1]}"
                          for m in _months()[:args.months]]
        # The same tiles through the service alone (SQL and encoding, no HTTP, session or
        # login): what the request adds on top.
        from sqlalchemy import select

        from locmap.models import User
        from locmap.services import accounts, incidents

        service: list[float] = []
        with db.sessionmaker() as sess:
            user = sess.scalar(select(User).where(User.email == "bench@bench.invalid"))
            actor = accounts.actor_for(sess, user)
            for centre, z in VIEWS.values():
                for tile in view_tiles(centre, z)[0]:
                    t0 = time.perf_counter()
                    incidents.incident_tile(sess, actor, pid, tile, incidents.IncidentFilter(
                        date_from=__import__("datetime").date(2025, 3, 1),
                        date_to=__import__("datetime").date(2025, 3, 31)), threshold=5)
                    service.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(20):
            client.get(f"/api/v1/pilots/{pid}/workspace-options")
        baseline = (time.perf_counter() - t0) / 20
        rows = []
        all_tiles: list[float] = []
        all_json: list[float] = []
        for label, (centre, z) in VIEWS.items():
            tiles, bbox = view_tiles(centre, z)
            t_req, j_req, t_view, t_bytes, j_bytes = [], [], [], [], []
            for f in filters:
                q = f"?{f}" if f else ""
                times = []
                for tz, tx, ty in tiles:
                    tile = f"/pilots/{pid}/tiles/incidents/{tz}/{tx}/{ty}.pbf{q}"
                    dt, size = _timed(client, tile)
                    times.append(dt)
                    t_bytes.append(size)
                t_req += times
                t_view.append(sum(times))
                jf = f.replace("from=", "date_from=").replace("to=", "date_to=")
                dt, size = _timed(client, f"/api/v1/pilots/{pid}/incidents/map?bbox={bbox}"
                                          f"&zoom={z}" + (f"&{jf}" if jf else ""))
                j_req.append(dt)
                j_bytes.append(size)
            all_tiles += t_req
            all_json += j_req
            rows.append((label, len(tiles), t_req, t_view, j_req, sum(t_bytes) / len(filters),
                         statistics.mean(j_bytes)))
        ms = 1000
        print(f"\n{args.n:,} incidents loaded in {load_s:.0f} s; {os.cpu_count()} CPUs; "
              f"each view with no filter and {args.months} single months (every request "
              f"distinct: cold)\n")
        print("| view | tiles | tile p50 / p95 | view's tiles, summed p50 | KiB per view "
              "| GeoJSON p50 / p95 | GeoJSON KiB | GeoJSON p50 ÷ tile p50 |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for label, nt, t_req, t_view, j_req, tb, jb in rows:
            print(f"| {label} | {nt} | {_p(t_req, .5) * ms:.1f} / {_p(t_req, .95) * ms:.1f} ms "
                  f"| {_p(t_view, .5) * ms:.0f} ms | {tb / 1024:.1f} | "
                  f"{_p(j_req, .5) * ms:.1f} / {_p(j_req, .95) * ms:.1f} ms | {jb / 1024:.1f} "
                  f"| {_p(j_req, .5) / _p(t_req, .5):.1f}× |")
        print(f"| **all** | {len(all_tiles)} requests | {_p(all_tiles, .5) * ms:.1f} / "
              f"{_p(all_tiles, .95) * ms:.1f} ms | | | {_p(all_json, .5) * ms:.1f} / "
              f"{_p(all_json, .95) * ms:.1f} ms | | {_p(all_json, .5) / _p(all_tiles, .5):.1f}× |")
        print(f"\nThe same {len(service)} tiles (March 2025) through the service alone (SQL and "
              f"encoding): p50 {_p(service, .5) * ms:.1f} ms, p95 {_p(service, .95) * ms:.1f} ms. "
              f"A request that reads almost nothing (workspace-options) takes "
              f"{baseline * ms:.1f} ms through the same app: the request's own cost.")
    finally:
        drop_database(url)


if __name__ == "__main__":
    main()
