"""Benchmark the police CSV importer against a raw COPY of the same rows.

For each size a synthetic street-level crime CSV is written to a temp folder (fictional
Crime IDs; a quarter anti-social behaviour without one; 1 % without coordinates), a fresh
database is created and migrated, and in a child process (so peak RSS is per run):

* ``locmap``: ``services.imports.import_police`` — parse, check, COPY to staging,
  INSERT … SELECT … ON CONFLICT into ``incident`` with all its indexes, one transaction;
* ``raw COPY`` (the issue's baseline, "a raw COPY of the same rows into the same table"):
  the same accepted rows, already in ``incident``'s column format (prepared untimed),
  COPYed into ``incident`` itself — its indexes, constraints, foreign keys (pilot, import
  record) and triggers — tagged with a ``data_import`` row as locmap's are;
* ``floor`` (for information): the same rows COPYed into ``CREATE TABLE … (LIKE incident
  INCLUDING ALL)``, which copies indexes and checks but no foreign keys or triggers — the
  least any import into a table of that shape could cost.

Usage::

    .venv/bin/python bench/bench_import.py --rows 250000 --rows 1000000
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEADER = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
          "Location", "LSOA code", "LSOA name", "Crime type", "Last outcome category",
          "Context"]
TYPES = ["Violence and sexual offences", "Drugs", "Public order", "Shoplifting", "Robbery",
         "Possession of weapons", "Burglary", "Other theft"]


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(HEADER)
        for i in range(rows):
            month = f"20{22 + i % 3}-{1 + i % 12:02d}"
            asb = i % 4 == 0
            lon, lat = f"{-1.50 + rnd.random() * 0.06:.6f}", f"{52.49 + rnd.random() * 0.05:.6f}"
            if i % 100 == 99:
                lon = lat = ""
            w.writerow(["" if asb else f"{i:064x}", month, "Test Police", "Test Police", lon,
                        lat, f"On or near Street {rnd.randrange(800)}", "E01000001",
                        "Testshire 001A",
                        "Anti-social behaviour" if asb else TYPES[i % len(TYPES)],
                        "" if asb else "Investigation complete; no suspect identified", ""])


def raw_tsv(csv_path: Path, out: Path) -> int:
    n = 0
    with csv_path.open(encoding="utf-8", newline="") as fh, out.open("w") as o:
        r = csv.reader(fh)
        next(r)
        for i, row in enumerate(r):
            if not row[4]:
                continue
            ref = row[0] or "\\N"
            o.write(f"1\tSRID=4326;POINT({row[4]} {row[5]})\tf\t{row[1]}-01 00:00+00\tmonth\t"
                    f"other\t3\t{ref}\trow:{i}\t{row[9]}: {row[6]}\t1\t1\n")
            n += 1
    return n


def child(url: str, csv_path: Path, mode: str) -> dict[str, float]:
    from shapely.geometry import box, mapping
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from locmap.db import Database
    from locmap.models.audit import DataImport
    from locmap.services import imports, pilots
    from locmap.services.permissions import Actor

    db = Database(url)
    sql_s = {"insert": 0.0}
    if mode == "locmap":
        from sqlalchemy import event

        @event.listens_for(db.engine, "before_cursor_execute")
        def _start(conn: Any, *_: Any) -> None:
            conn.info["t0"] = time.perf_counter()

        @event.listens_for(db.engine, "after_cursor_execute")
        def _stop(conn: Any, _cur: Any, statement: str, *_: Any) -> None:
            if "INSERT INTO incident" in statement:  # the set-based insert from staging
                sql_s["insert"] += time.perf_counter() - conn.info["t0"]

        with Session(db.engine) as s:
            p = pilots.create_pilot(s, None, name="Bench", start_date=dt.date(2024, 1, 1),
                                    locality=dict(mapping(box(-1.49, 52.50, -1.46, 52.53))))
            s.commit()
            who = Actor(user_id=None, email="bench", roles={p.id: frozenset({"coordinator"})})
            t0 = time.perf_counter()
            di = imports.import_police(s, who, p.id, csv_path)
            s.commit()
            seconds = time.perf_counter() - t0
            accepted = di.rows_accepted
    else:
        tsv = csv_path.with_suffix(".tsv")
        accepted = raw_tsv(csv_path, tsv)
        table = "incident" if mode == "raw" else "incident_floor"
        with Session(db.engine) as s:  # the pilot and import record the rows belong to (id 1)
            p = pilots.create_pilot(s, None, name="Bench", start_date=dt.date(2024, 1, 1),
                                    locality=dict(mapping(box(-1.49, 52.50, -1.46, 52.53))))
            s.flush()
            s.add(DataImport(pilot_id=p.id, kind="police_csv", filename="bench.csv",
                             sha256="0" * 64, status="running"))
            if mode == "floor":
                s.execute(text("CREATE TABLE incident_floor (LIKE incident INCLUDING ALL)"))
            s.commit()
        raw = db.engine.raw_connection()
        t0 = time.perf_counter()
        with raw.cursor() as cur:
            with cur.copy(f"COPY {table} (pilot_id, location, place_derived, occurred_at, "
                          "time_precision, category, severity, external_ref, dedupe_key, "
                          "description, version, data_import_id) FROM STDIN"
                          ) as copy, tsv.open("rb") as fh:
                while block := fh.read(1 << 20):
                    copy.write(block)
        raw.commit()
        seconds = time.perf_counter() - t0
        raw.close()
    db.dispose()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "accepted": accepted, "peak_rss_mb": rss_mb,
            "insert_seconds": sql_s["insert"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, action="append")
    ap.add_argument("--child", nargs=3, metavar=("URL", "CSV", "MODE"))
    args = ap.parse_args()
    if args.child:
        url, path, mode = args.child
        print(json.dumps(child(url, Path(path), mode)))
        return
    from locmap.db import upgrade
    from locmap.pgserver import drop_database
    from tests.conftest import _fresh_database

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
          flush=True)
    for rows in args.rows or [250_000, 1_000_000]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.csv"
            write_csv(path, rows)
            size_mb = path.stat().st_size / 2**20
            out = {}
            for mode in ("locmap", "raw", "floor"):
                url = _fresh_database(f"bench{mode}")
                try:
                    upgrade(url)
                    res = subprocess.run([sys.executable, __file__, "--child", url, str(path),
                                          mode], check=True, capture_output=True, text=True)
                    out[mode] = json.loads(res.stdout.strip().splitlines()[-1])
                finally:
                    drop_database(url)
            lm, raw, floor = out["locmap"], out["raw"], out["floor"]
            print(f"{rows:>9,} rows ({size_mb:,.0f} MB): locmap {lm['seconds']:.1f} s "
                  f"({rows / lm['seconds']:,.0f} rows/s, {lm['accepted']:,} added, peak RSS "
                  f"{lm['peak_rss_mb']:.0f} MB; INSERT…SELECT {lm['insert_seconds']:.1f} s) "
                  f"| raw COPY {raw['seconds']:.1f} s "
                  f"({rows / raw['seconds']:,.0f} rows/s) | ratio "
                  f"{lm['seconds'] / raw['seconds']:.2f}x | floor (no FKs/triggers) "
                  f"{floor['seconds']:.1f} s, ratio {lm['seconds'] / floor['seconds']:.2f}x",
                  flush=True)


if __name__ == "__main__":
    main()
