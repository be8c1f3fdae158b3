"""Incidents at the places, the fast forms against the plain rule, on the 2M-incident town.

Run ``python bench/bench_at_place.py`` (``--n 2000000``; ``--url`` reuses a database that
already holds bench_load's town and places, and keeps it). It builds bench_map_view's
town in a fresh PostGIS database with bench_load's eight places (five polygons, three
points), then, in one process and one session, times (p50 of ``--repeats``):

* every place's count (``at_place.place_counts``, the workspace list) against counting
  the rows of ``at_place.PLAIN_RULE`` (the rule as one join, the code before the fast
  forms);
* one polygon place's incident ids (``ids_at_place``, the place page and the incident
  list's filter) against the plain rule's rows of that place;
* every incident's places (``places_of``, the export) against the plain rule's rows.

Each pair must give the same answer; the script stops if one does not. It prints a
markdown table with both times and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent)]

from bench_map_view import town_database  # noqa: E402
from sqlalchemy import Integer, select, text  # noqa: E402

from locmap.db import Database  # noqa: E402
from locmap.models import Incident  # noqa: E402
from locmap.queries import at_place  # noqa: E402


def _p50(fn: Callable[[], Any], repeats: int) -> tuple[Any, float]:
    out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times) * 1000


def _places(db: Database, pilot_id: int) -> None:
    from bench_load import PLACES, POINT_KINDS
    from load_users import hot_spot
    from shapely.geometry import Point, mapping

    from locmap.models import User
    from locmap.services import accounts, places

    with db.session() as s:
        coordinator = s.scalar(select(User).where(User.email == "bench@bench.invalid"))
        writer = accounts.actor_for(s, coordinator)
        for k, (name, kind) in enumerate(PLACES):
            x, y = hot_spot(k * 4 + 1)
            geom = Point(x, y) if kind in POINT_KINDS else Point(x, y).buffer(0.0015, cap_style=3)
            places.create_place(s, writer, pilot_id, {
                "name": name, "kind": kind, "geometry": dict(mapping(geom))})
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--url", help="a database holding the town and its places (kept)")
    args = ap.parse_args()
    with town_database(args.url, args.n, _places) as (db, pid):
        reach = {"pilot_id": pid, "place_m": at_place.PLACE_REACH_M}
        with db.sessionmaker() as s:
            poly = s.scalar(text("SELECT min(id) FROM place WHERE pilot_id = :p AND "
                                 "GeometryType(geom) = 'POLYGON'"), {"p": pid})

            def plain() -> list[tuple[int, int]]:
                return [(r.id, r.incident_id) for r in s.execute(at_place.PLAIN_RULE, reach)]

            plain_sql = at_place.PLAIN_RULE.text
            counted = text(f"SELECT id, count(*) AS n FROM ({plain_sql}) r GROUP BY id")  # noqa: S608

            def plain_counts() -> dict[int, int]:
                got = dict(s.execute(counted, reach).tuples().all())
                return {p: got.get(p, 0) for p in at_place.place_counts(s, pid)}

            # The plain rule for one place: the same query with the one place's row.
            one = at_place.PLAIN_RULE.text.replace(
                "WHERE p.pilot_id = :pilot_id AND p.deleted_at IS NULL",
                "WHERE p.pilot_id = :pilot_id AND p.deleted_at IS NULL AND p.id = :place_id")
            plain_ids = text(f"SELECT incident_id FROM ({one}) r").bindparams(  # noqa: S608
                **reach, place_id=poly).columns(incident_id=Integer)
            pairs = [
                ("every place's count (workspace list)",
                 lambda: at_place.place_counts(s, pid), plain_counts),
                ("one polygon place's incident ids (place page)",
                 lambda: sorted(s.scalars(select(Incident.id).where(
                     Incident.pilot_id == pid,
                     Incident.id.in_(at_place.ids_at_place(pid, poly)))).all()),
                 lambda: sorted(s.scalars(select(Incident.id).where(
                     Incident.pilot_id == pid, Incident.id.in_(plain_ids))).all())),
                ("every incident's places (export)",
                 lambda: sorted((p, i) for i, ps in at_place.places_of(s, pid).items()
                                for p, _ in ps),
                 lambda: sorted(plain())),
            ]
            total = s.scalar(text("SELECT count(*) FROM incident WHERE pilot_id = :p"),
                             {"p": pid})
            print(f"{total:,} incidents, 8 places; p50 of {args.repeats} runs, one session\n")
            print("| what | fast ms | plain rule ms | plain / fast |\n|---|---:|---:|---:|")
            for label, fast, slow in pairs:
                got, t_fast = _p50(fast, args.repeats)
                want, t_slow = _p50(slow, args.repeats)
                if got != want:
                    raise SystemExit(f"{label}: the fast form differs from the plain rule")
                print(f"| {label} | {t_fast:.1f} | {t_slow:.1f} | {t_slow / t_fast:.1f}x |")


if __name__ == "__main__":
    main()
