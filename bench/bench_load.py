"""Load test: simulated partnership members against ``locmap serve`` while an import runs.

Run from the repository root (needs a PostGIS server; ``DATABASE_URL`` or the local one)::

    .venv/bin/python bench/bench_load.py [--users 50 --seconds 60 --n 2000000
        --import-rows 250000] [--write docs/perf/load.md]

Setup: a fresh database (dropped at the end, also on failure) gets bench_map_view's
2-million-incident town (``INSERT ... SELECT generate_series``), one coordinator,
practitioners and partner reviewers made through ``services.accounts``, eight places and
three draft assessments. The script then starts ``locmap serve --host 127.0.0.1 --port P``
and, if ``locmap worker --help`` succeeds, ``locmap worker`` (each in its own process
group, killed at the end) with ``DATABASE_URL`` of that database.

Load: locust (as a library, headless, in the child process bench/load_users.py, so that
gevent's monkey patching stays out of this one) runs ``--users`` members who log in
through the real form and loop, 3-10 s of think time apart (``--think``: a person reading
what they opened; ``--think 0.5,1.5`` is the stress pace of the capacity table in
docs/performance.md), over a weighted mix
of pages (home, workspace, overview, place, assessment, dashboard), the workspace's map
data requests (workspace options, and the incident vector tiles its GL
layer asks for — ``load_users.tiles_covering`` — over the town, a neighbourhood and a
street) and writes through ``/api/v1`` (an incident, a site visit;
partners, who may not write, pan the map instead). After ``--quiet`` seconds a police.uk
CSV of ``--import-rows`` rows is uploaded through the import pages (upload, preview,
confirm) and run by the worker; without a worker command it is run by ``locmap import
police`` in a subprocess instead (``--import-via web`` uploads it anyway: before the
worker existed the web process ran imports in a thread). Every request's time is kept, so
the report gives p50/p95 per route and per class (pages, map data, writes) before the
import and while it runs, as the ratio "with import / without" (the obvious alternative
measured in the same run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from load_users import CSRF, hot_spot  # noqa: E402 - the bench folder is on the path now

PASSWORD = "bench-password-123"  # noqa: S105 - bench_map_view's synthetic coordinator's
LOCMAP = str(Path(sys.executable).with_name("locmap"))
PLACES = [("Market square", "shopping_centre"), ("Rec ground", "park"),
          ("Chicken shop", "fast_food"), ("Central library", "library"),
          ("Bus station", "transport_hub"), ("Northfield estate", "housing_estate"),
          ("High school", "school"), ("Canal park", "park")]
POINT_KINDS = {"fast_food", "library", "transport_hub"}


# ------------------------------------------------------------------- setup (parent process)

def setup(url: str, n: int, practitioners: int, partners: int) -> dict[str, Any]:
    """Load the town, make the members, places and assessments; return what the users need."""
    from bench_map_view import CITY, _seed
    from shapely.geometry import Point, mapping
    from sqlalchemy import text

    from locmap.db import Database, upgrade
    from locmap.models import Pilot
    from locmap.services import accounts, assessments, places

    upgrade(url)
    db = Database(url)
    t0 = time.perf_counter()
    pid = _seed(db, n)  # also the coordinator bench@bench.invalid
    t_load = time.perf_counter() - t0
    with db.session() as s:
        pilot = s.get(Pilot, pid)
        logins, users = [("bench@bench.invalid", "coordinator")], []
        # A partnership's server has an admin (until one exists only setup is reachable).
        accounts.create_user(s, None, email="admin@bench.invalid", name="Bench admin",
                             password=PASSWORD, is_admin=True)
        for role, count in (("practitioner", practitioners), ("partner_reviewer", partners)):
            for i in range(count):
                user = accounts.create_user(s, None, email=f"{role}{i}@bench.invalid",
                                            name=f"{role} {i}", password=PASSWORD)
                accounts.add_membership(s, None, user, pilot, role)
                logins.append((user.email, role))
                users.append(user)
        s.flush()
        writer = accounts.actor_for(s, users[0])  # a practitioner draws the places
        place_ids = []
        for k, (name, kind) in enumerate(PLACES):
            x, y = hot_spot(k * 4 + 1)
            geom = Point(x, y) if kind in POINT_KINDS else Point(x, y).buffer(0.0015, cap_style=3)
            place_ids.append(places.create_place(s, writer, pid, {
                "name": name, "kind": kind, "geometry": dict(mapping(geom))})["id"])
        assessment_ids = [assessments.start_assessment(s, writer, pid, p).id
                          for p in place_ids[:3]]
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))
        c.execute(text("CHECKPOINT"))  # the load's dirty pages written now, not under load
        pg = c.execute(text("SELECT split_part(version(), ' ', 2), postgis_lib_version()")).one()
    compare = compare_map_queries(db, pid)
    db.dispose()
    return {"map_compare": compare, "pilot_id": pid, "pilot_name": "Bench City", "accounts": logins,
            "places": place_ids, "assessments": assessment_ids, "bbox": list(CITY.bounds),
            "load_s": t_load, "postgres": f"PostgreSQL {pg[0]}, PostGIS {pg[1]}"}


def compare_map_queries(db: Any, pid: int, repeats: int = 7) -> list[list[Any]]:
    """p50 of ``map_cells`` clustering every incident vs reading map_cell_count, per view.

    The views are the town at zoom 12 (the locality's bbox, and widened to whole cells as
    workspace.js and the users ask for it) and a neighbourhood pan at zoom 13 and 15 (15 has
    no counts: both columns are the direct query). Same data, same moment.
    """
    import statistics

    from bench_map_view import CITY

    from locmap.queries import incidents as q

    x, y = hot_spot(11)
    from load_users import whole_cells

    views = [("town (z12), the locality's bbox", CITY.bounds, 12),
             ("town (z12), widened to whole cells as workspace.js asks",
              tuple(whole_cells(list(CITY.bounds), 12)), 12),
             ("neighbourhood (z13)", (x - 0.03, y - 0.016, x + 0.03, y + 0.016), 13),
             ("neighbourhood (z15)", (x - 0.015, y - 0.008, x + 0.015, y + 0.008), 15)]
    out = []
    with db.sessionmaker() as s:
        for label, bbox, zoom in views:
            row: list[Any] = [label]
            for use_counts in (False, True):
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    cells = q.map_cells(s, pid, bbox, zoom, q.IncidentFilter(),
                                        use_counts=use_counts)
                    times.append(time.perf_counter() - t0)
                row += [statistics.median(times) * 1000, sum(c["n"] for c in cells)]
            out.append(row)
            s.rollback()
    return out


def write_csv(path: Path, rows: int, bbox: list[float], seed: int = 7) -> None:
    """A police.uk street-level CSV like bench_import's, its points inside the town."""
    import csv
    import random

    from bench_import import HEADER, TYPES

    rnd, (w, s, e, n) = random.Random(seed), bbox
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\r\n")
        out.writerow(HEADER)
        for i in range(rows):
            asb = i % 4 == 0
            lon, lat = f"{w + rnd.random() * (e - w):.6f}", f"{s + rnd.random() * (n - s):.6f}"
            out.writerow(["" if asb else f"{i:064x}", f"2025-{1 + i % 12:02d}", "Test Police",
                          "Test Police", lon, lat, f"On or near Street {rnd.randrange(800)}",
                          "E01000001", "Testshire 001A",
                          "Anti-social behaviour" if asb else TYPES[i % len(TYPES)],
                          "" if asb else "Investigation complete; no suspect identified", ""])


# ---------------------------------------------------------------- processes and the import

def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a command in its own process group (so stop() reaches its children too)."""
    with log.open("ab") as fh:
        return subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def wait_until_serving(base: str, proc: subprocess.Popen, log: Path, limit_s: float = 90) -> None:
    import urllib.request

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"locmap serve exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/login", timeout=5) as r:  # noqa: S310 - loopback
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"locmap serve did not answer within {limit_s:.0f} s")


def web_import(base: str, pid: int, email: str, csv_path: Path, deadline: float) -> dict[str, Any]:
    """Upload → preview → confirm through the pages; poll the import until done or deadline."""
    import requests

    steps: dict[str, Any] = {"how": "the web import pages"}
    with requests.Session() as web:
        form = web.get(f"{base}/login", timeout=60).text
        web.post(f"{base}/login", timeout=60, data={
            "email": email, "password": PASSWORD, "csrf_token": CSRF.search(form).group(1)})  # type: ignore[union-attr]
        token = CSRF.search(web.get(f"{base}/pilots/{pid}/imports", timeout=60).text).group(1)  # type: ignore[union-attr]
        steps["start"] = t0 = time.time()
        with csv_path.open("rb") as fh:
            r = web.post(f"{base}/pilots/{pid}/imports/upload", timeout=600,
                         data={"csrf_token": token},
                         files={"file": ("2025-street.csv", fh, "text/csv")})
        steps["upload + preview s"] = time.time() - t0
        r.raise_for_status()
        confirm = re.search(r'action="([^"]+/confirm)"', r.text)
        if confirm is None:
            raise RuntimeError(f"no confirm form on {r.url}")
        t1 = time.time()
        r = web.post(f"{base}{confirm.group(1)}", timeout=600,
                     data={"csrf_token": CSRF.search(r.text).group(1)})  # type: ignore[union-attr]
        r.raise_for_status()
        steps["confirm s"] = time.time() - t1
        steps["queued"] = time.time()
        import_id = int(r.url.rstrip("/").rsplit("/", 1)[1])
        status_url = f"{base}/api/v1/pilots/{pid}/imports/{import_id}"
        while time.time() < deadline:
            d = web.get(status_url, timeout=60).json()
            if d["status"] not in ("pending", "running"):
                steps.update(end=time.time(), status=d["status"], accepted=d.get("rows_accepted"),
                             rejected=d.get("rows_rejected"), message=d.get("message"))
                return steps
            time.sleep(2)
    steps.update(end=None, status="still running at the deadline")
    return steps


def cli_import(env: dict[str, str], pilot: str, email: str, csv_path: Path, log: Path,
               deadline: float) -> dict[str, Any]:
    steps: dict[str, Any] = {"how": "`locmap import police` in a subprocess (no `locmap worker` "
                                    "command yet)", "start": time.time()}
    proc = start([LOCMAP, "import", "police", "--pilot", pilot, "--user", email, "--quiet",
                  str(csv_path)], env, log)
    steps["queued"] = steps["start"]
    try:
        rc = proc.wait(max(1.0, deadline - time.time()))
        lines = log.read_text(errors="replace").strip().splitlines() or [""]
        steps.update(end=time.time(), status="done" if rc == 0 else f"failed (exit {rc})",
                     message=lines[-1][:300])
    except subprocess.TimeoutExpired:
        steps.update(end=None, status="still running at the deadline")
    finally:
        stop(proc)
    return steps


def run_users(cfg: dict[str, Any], tmp: Path, label: str,
              procs: list[subprocess.Popen]) -> tuple[subprocess.Popen, float, Path]:
    """Start load_users.py with this configuration; return once every user is logged in."""
    cfg = {**cfg, "out": str(tmp / f"{label}.json"), "ready": str(tmp / f"{label}.ready")}
    (tmp / f"{label}.cfg").write_text(json.dumps(cfg))
    child = subprocess.Popen([sys.executable, str(HERE / "load_users.py"),
                              str(tmp / f"{label}.cfg")], start_new_session=True)
    procs.append(child)
    limit = time.monotonic() + cfg["ramp_limit"] + 60
    while not Path(cfg["ready"]).exists():
        if child.poll() is not None or time.monotonic() > limit:
            raise RuntimeError(f"the {label} users never all logged in")
        time.sleep(0.5)
    return child, float(Path(cfg["ready"]).read_text()), Path(cfg["out"])


def _pair(value: str) -> list[float]:
    low, high = (float(v) for v in value.split(","))
    return [low, high]


def _ints(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v.strip()]


def machine_busy() -> float:
    """CPU seconds the whole machine has spent not idle since boot."""
    import psutil

    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def main() -> None:
    """Set up, serve, load, report; drop the database and stop every process at the end."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=60, help="measured, once all are logged in")
    ap.add_argument("--quiet", type=int, default=20, help="seconds measured before the import")
    ap.add_argument("--spawn-rate", type=float, default=2.0, help="users arriving a second")
    ap.add_argument("--alone", type=int, default=30,
                    help="seconds of the one-user baseline run before the load")
    ap.add_argument("--n", type=int, default=2_000_000, help="incidents in the town")
    ap.add_argument("--import-rows", type=int, default=250_000)
    ap.add_argument("--import-wait", type=int, default=600,
                    help="seconds after the load that the import may still take")
    ap.add_argument("--practitioners", type=int, default=10)
    ap.add_argument("--partners", type=int, default=4)
    ap.add_argument("--import-via", choices=("auto", "web", "cli"), default="auto",
                    help="auto: the web pages if `locmap worker` exists, else the CLI")
    ap.add_argument("--think", type=_pair, default=[3.0, 10.0],
                    help="seconds of think time between a user's actions, as MIN,MAX")
    ap.add_argument("--levels", type=_ints, default=[],
                    help="user counts (e.g. 10,20,30) run first, without the import")
    ap.add_argument("--level-seconds", type=int, default=40, help="measured at each level")
    ap.add_argument("--write", help="write the markdown report to this path")
    args = ap.parse_args()

    import shutil
    import socket

    from bench_map_view import _fresh_url
    from load_report import CpuMeter, report

    from locmap.pgserver import drop_database

    load0 = os.getloadavg()
    url, procs = _fresh_url(), []
    tmp = Path(tempfile.mkdtemp(prefix="locmap-load-"))
    try:
        info = setup(url, args.n, args.practitioners, args.partners)
        print(f"town of {args.n:,} incidents loaded in {info['load_s']:.0f} s", flush=True)
        csv_path = tmp / "2025-street.csv"
        write_csv(csv_path, args.import_rows, info["bbox"])
        env = {**os.environ, "DATABASE_URL": url, "LOCMAP_DATA_DIR": str(tmp / "data"),
               "LOCMAP_COOKIE_SECURE": "0", "LOCMAP_MAX_UPLOAD_MB": "200"}
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        serve_help = subprocess.run([LOCMAP, "serve", "--help"], env=env, capture_output=True,
                                    text=True, timeout=60).stdout
        has_worker = subprocess.run([LOCMAP, "worker", "--help"], env=env, capture_output=True,
                                    timeout=60).returncode == 0
        logs = {name: tmp / f"{name}.log" for name in ("server", "worker", "import")}
        server = start([LOCMAP, "serve", "--host", "127.0.0.1", "--port", str(port)], env,
                       logs["server"])
        procs.append(server)
        wait_until_serving(base, server, logs["server"])
        if has_worker:
            procs.append(start([LOCMAP, "worker"], env, logs["worker"]))
        cfg = {**info, "base": base, "password": PASSWORD, "ramp_limit": 600}
        solo, _, out = run_users({**cfg, "users": 1, "spawn_rate": 1, "think": [0, 0],
                                  "seconds": args.alone}, tmp, "alone", procs)
        solo.wait(args.alone + 120)
        alone = json.loads(out.read_text())
        print(f"one user alone: {len(alone['samples'])} requests; now {args.users} users",
              flush=True)
        levels = []  # the same mix at fewer users, without the import: where the knee is
        for users in args.levels:
            child, ready, out = run_users(
                {**cfg, "users": users, "spawn_rate": args.spawn_rate, "think": args.think,
                 "seconds": args.level_seconds}, tmp, f"level-{users}", procs)
            busy0 = machine_busy()
            child.wait(timeout=args.level_seconds + 120)
            level = json.loads(out.read_text())
            level["busy_cores"] = (machine_busy() - busy0) / max(1e-9, time.time() - ready)
            levels.append((users, level))
            print(f"{users} users: {len(level['samples'])} requests", flush=True)
        child, ready, out = run_users(
            {**cfg, "users": args.users, "spawn_rate": args.spawn_rate, "think": args.think,
             "seconds": args.seconds}, tmp, "load", procs)
        meter = CpuMeter(server.pid, url, ready + args.seconds, child.pid)
        meter.start()
        print(f"all logged in; import in {args.quiet} s", flush=True)
        time.sleep(args.quiet)
        deadline, email = ready + args.seconds + args.import_wait, info["accounts"][1][0]
        try:
            via_web = args.import_via == "web" or (args.import_via == "auto" and has_worker)
            imp = (web_import(base, info["pilot_id"], email, csv_path, deadline) if via_web else
                   cli_import(env, info["pilot_name"], email, csv_path, logs["import"], deadline))
        except Exception as exc:  # noqa: BLE001 - reported with the load figures
            imp = {"how": "web pages", "start": ready + args.quiet, "end": None,
                   "status": f"error: {type(exc).__name__}: {exc}"}
        child.wait(timeout=max(1.0, ready + args.seconds + 120 - time.time()))
        cpu = meter.stop()
        res = json.loads(out.read_text())
        booted = logs["server"].read_text(errors="replace").count("Booting worker")
        web_env = [f"{k}={v}" for k, v in os.environ.items() if k.startswith("LOCMAP_WEB_")]
        serving = (f"gunicorn through `locmap serve` ({booted} worker processes booted; "
                   f"{', '.join(web_env) or 'its defaults'})" if "--workers" in serve_help
                   else "waitress through `locmap serve` (8 threads)")
        serving += "; imports by `locmap worker`" if has_worker else "; no `locmap worker`"
        for p in reversed(procs):
            stop(p)
        text = report(args, info, res, alone, imp, serving, cpu, levels,
                      {k: v.read_text(errors="replace") for k, v in logs.items() if v.exists()},
                      load0)
    finally:
        for p in reversed(procs):
            stop(p)
        drop_database(url)
        shutil.rmtree(tmp, ignore_errors=True)
    print(text)
    if args.write:
        Path(args.write).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
