"""Zoom-14 incident tiles from map_cell_count against clustering every incident of the tile.

Run ``python bench/bench_tile_counts.py`` (``--n 2000000``; ``--url`` reuses a database that
already holds bench_map_view's town). It builds the town in a fresh PostGIS database (as
bench_map_view does), then renders every zoom-14 tile over the city three times in one
process: from the counts (migration 0030), clustering the incidents directly (the code
before 0030, by taking zoom 14 out of ``AGG_ZOOMS`` for the run), and from the counts
again. It prints p50 / p95 per tile, the totals and their ratio, and the rows each zoom
level of ``map_cell_count`` holds.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from typing import Any

from bench_map_view import CITY, town_database
from sqlalchemy import text

from locmap.db import Database
from locmap.queries import incident_tiles as qt
from locmap.queries import incidents as q
from locmap.services import incidents as si

ZOOM = 14


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    k = 2 ** z
    x = int((lon + 180) / 360 * k)
    rad = math.radians(lat)
    y = int((1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * k)
    return x, y


def _render(db: Database, pilot_id: int, tiles: list[tuple[int, int, int]]) -> list[float]:
    out = []
    with db.session() as s:
        for tile in tiles:
            t0 = time.perf_counter()
            rows = qt.tile_cells(s, pilot_id, tile, ZOOM, q.IncidentFilter())
            qt.cells_mvt(s, tile, si._tile_features(rows, ZOOM, None))
            out.append(time.perf_counter() - t0)
    return sorted(out)


def _line(label: str, ts: list[float]) -> str:
    p95 = ts[min(len(ts) - 1, int(len(ts) * 0.95))]
    return (f"| {label} | {statistics.median(ts) * 1000:.1f} | {p95 * 1000:.1f} | "
            f"{sum(ts):.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--url", help="a database holding the town already (kept)")
    args = ap.parse_args()
    with town_database(args.url, args.n) as (db, pilot_id):
        w, s, e, n = CITY.bounds
        (x0, y0), (x1, y1) = _tile_of(w, n, ZOOM), _tile_of(e, s, ZOOM)
        tiles = [(ZOOM, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
        counted = _render(db, pilot_id, tiles)
        saved: Any = qt.AGG_ZOOMS
        qt.AGG_ZOOMS = range(saved[0], ZOOM)  # type: ignore[assignment]
        try:
            direct = _render(db, pilot_id, tiles)
        finally:
            qt.AGG_ZOOMS = saved
        again = _render(db, pilot_id, tiles)
        with db.session() as ses:
            rows = ses.execute(text("SELECT zoom, count(*) FROM map_cell_count "
                                    "GROUP BY zoom ORDER BY zoom")).all()
        print(f"{len(tiles)} tiles at zoom {ZOOM} over the town\n")
        print("| how | p50 ms | p95 ms | total s |\n|---|---:|---:|---:|")
        print(_line("counts", counted))
        print(_line("direct", direct))
        print(_line("counts again", again))
        ratio = sum(direct) / ((sum(counted) + sum(again)) / 2)
        print(f"\ndirect / counts: {ratio:.1f}x")
        print("map_cell_count rows by zoom: " + ", ".join(f"{z}: {c:,}" for z, c in rows))


if __name__ == "__main__":
    main()
