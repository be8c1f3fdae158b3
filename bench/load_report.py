"""The markdown report of bench_load.py, and the CPU meter that says where the time went.

Percentiles are nearest-rank over every request of a route (no histogram buckets). The
CPU meter samples, every 2 s, the CPU time of the processes that serve the load — the web
server's process tree, this database's PostgreSQL backends, the import (worker or CLI),
the load generator — and the whole machine's, so that a missed target can be put down to
service time, to queueing on busy cores, or to other people's work on a shared machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import threading
import time
from typing import Any

import psutil


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


CLASSES = {"pages": "page:", "map data": "map:", "writes": "write:"}


def route_table(samples: list[list[Any]], alone: list[list[Any]],
                cached: dict[str, int]) -> tuple[str, dict[str, list[float]], int]:
    """Per route: count, p50, p95, max, errors, p50 with one user alone (no think time),
    and how many of its views the browser's cache answered (no request) or revalidated
    (304)."""
    by: dict[str, list[list[Any]]] = {}
    for row in samples:
        by.setdefault(row[0], []).append(row)
    solo: dict[str, list[float]] = {}
    for row in alone:
        solo.setdefault(row[0], []).append(row[2])
    lines = ["| route | requests | p50 ms | p95 ms | max ms | errors | one user alone: p50 ms "
             "| of which 304 | views from the browser's cache |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    classes: dict[str, list[float]] = {c: [] for c in CLASSES}
    solo_classes: dict[str, list[float]] = {c: [] for c in CLASSES}
    for name in sorted(by, key=lambda k: (not k.startswith("page"), not k.startswith("map"), k)):
        ms = [r[2] for r in by[name]]
        errors = sum(not r[3] for r in by[name])
        lines.append(f"| {name} | {len(ms):,} | {pct(ms, 50):,.0f} | {pct(ms, 95):,.0f} | "
                     f"{max(ms):,.0f} | {errors} | {pct(solo.get(name, []), 50):,.0f} | "
                     f"{sum(r[4] == 304 for r in by[name]):,} | {cached.get(name, 0):,} |")
        for c, prefix in CLASSES.items():
            if name.startswith(prefix):
                classes[c] += ms
                solo_classes[c] += solo.get(name, [])
    for c, ms in classes.items():
        lines.append(f"| **all {c}** | {len(ms):,} | **{pct(ms, 50):,.0f}** | "
                     f"**{pct(ms, 95):,.0f}** | {max(ms, default=0):,.0f} | | "
                     f"{pct(solo_classes[c], 50):,.0f} | | |")
    return "\n".join(lines), classes, sum(not r[3] for r in samples)


def window_table(samples: list[list[Any]], start: float,
                 end: float) -> tuple[str, dict[str, float]]:
    """p50/p95 per class before the import, while it runs and after; the ratio with/without."""
    lines = ["| class | before: n / p50 / p95 ms | during | after | during / before, p50 "
             "| during / before, p95 |", "|---|---:|---:|---:|---:|---:|"]
    out: dict[str, float] = {}
    for c, prefix in CLASSES.items():
        win: dict[str, list[float]] = {"before": [], "during": [], "after": []}
        for name, t, ms, *_ in samples:
            if name.startswith(prefix):
                win["before" if t < start else "during" if t < end else "after"].append(ms)
        cells = [f"{len(v):,} / {pct(v, 50):,.0f} / {pct(v, 95):,.0f}" if v else "-"
                 for v in win.values()]
        both = bool(win["before"] and win["during"])
        r50 = pct(win["during"], 50) / pct(win["before"], 50) if both else 0
        r95 = pct(win["during"], 95) / pct(win["before"], 95) if both else 0
        out[c], out[c + " p95 during"] = r95, pct(win["during"], 95)
        lines.append(f"| {c} | {' | '.join(cells)} | {r50:.2f}x | {r95:.2f}x |")
    return "\n".join(lines), out


def versions(server: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    used = [p for p in ("gunicorn", "waitress") if p in server]
    used += ["procrastinate"] if "imports by `locmap worker`" in server else []
    for pkg in ("locmap", "locust", *used, "flask", "sqlalchemy", "psycopg"):
        try:
            found.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            continue
    return ", ".join(found)


def first_traceback(text: str) -> tuple[int, str]:
    count = text.count("Traceback (most recent call last)")
    if not count:
        return 0, ""
    lines = text[text.index("Traceback (most recent call last)"):].splitlines()
    end = next((i for i, line in enumerate(lines[1:], 1) if not line.startswith((" ", "\t"))), 0)
    return count, "\n".join(lines[:end + 1][-40:])


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"



class CpuMeter(threading.Thread):
    """CPU seconds per group of processes between start() and stop(), sampled every 2 s.

    A process first seen after the first sample counts from zero (the import starts inside
    the window); one that ends between samples loses its last two seconds at most.
    """

    def __init__(self, server_pid: int, url: str, until: float,
                 loadgen_pid: int | None = None) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        super().__init__(daemon=True)
        self.server_pid, self.until, self.loadgen_pid = server_pid, until, loadgen_pid
        self.dbname = make_url(url).database or ""
        self.engine = create_engine(url, pool_size=1)
        self.apps: dict[int, str] = {}  # backend pid -> its connection's application_name
        self.other_dbs: set[str] = set()  # backends of other databases are not ours
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self.done = threading.Event()

    def _backends(self) -> None:
        """Whose each backend is: locmap serve and locmap worker name their connections
        (PGAPPNAME), so PostgreSQL's CPU splits into the web's and the import's."""
        from sqlalchemy import text

        try:
            with self.engine.connect() as conn:
                self.apps.update(conn.execute(text(
                    "SELECT pid, application_name FROM pg_stat_activity "
                    "WHERE datname = current_database()")).tuples().all())
                if not self.other_dbs:
                    self.other_dbs = set(conn.scalars(text(
                        "SELECT datname FROM pg_database WHERE datname <> current_database()")))
        except Exception:  # noqa: BLE001 - a missed sample keeps the last mapping
            pass

    def _group(self, pid: int, cmd: str, web: set[int]) -> str | None:
        if pid in web:
            return "web server"
        if pid == self.loadgen_pid or "load_users.py" in cmd:
            return "load generator"
        if cmd.startswith("postgres: autovacuum worker") and cmd.endswith(f" {self.dbname}"):
            return "PostgreSQL autovacuum (this database)"  # its title ends with the name
        if cmd.startswith("postgres: ") and f" {self.dbname} " in cmd:
            app = self.apps.get(pid, "")
            if app == "locmap web":
                return "PostgreSQL for the web server"
            if app == "locmap worker":
                return "PostgreSQL for the worker (the import)"
            return "PostgreSQL (this database, other connections)"
        if cmd.startswith("postgres: ") and not any(
                f" {name} " in f"{cmd} " for name in self.other_dbs):
            # The WAL writer, checkpointer and background writer serve every database.
            return "PostgreSQL background (WAL, checkpoints; the whole server)"
        if "locmap import" in cmd or "locmap worker" in cmd:
            return "import"
        return None

    def _sample(self, initial: bool) -> None:
        self._backends()
        try:
            server = psutil.Process(self.server_pid)
            web = {self.server_pid} | {c.pid for c in server.children(recursive=True)}
        except psutil.Error:
            web = set()
        for proc in psutil.process_iter(["pid", "name", "cmdline", "cpu_times"]):
            info = proc.info
            group = self._group(info["pid"], " ".join(info["cmdline"] or []), web)
            if info["cpu_times"] is None:
                continue
            if group is None:  # named in the report's "other work" when it is large
                group = f"other: {info['name'] or '?'}"
            used = info["cpu_times"].user + info["cpu_times"].system
            self.first.setdefault(info["pid"], used if initial else 0.0)
            self.last[info["pid"]] = (group, used)

    def run(self) -> None:
        self.t0, self.machine0 = time.time(), psutil.cpu_times()
        self._sample(initial=True)
        while not self.done.wait(2.0) and time.time() < self.until:
            self._sample(initial=False)
        self._sample(initial=False)
        self.t1, self.machine1 = time.time(), psutil.cpu_times()

    def stop(self) -> str:
        """Stop and describe the CPU used, per group and for the whole machine."""
        self.done.set()
        self.join(30)
        self.engine.dispose()
        span = self.t1 - self.t0
        groups: dict[str, float] = {}
        for pid, (group, used) in self.last.items():
            groups[group] = groups.get(group, 0.0) + used - self.first[pid]
        others = {g[len("other: "):]: s for g, s in groups.items() if g.startswith("other: ")}
        groups = {g: s for g, s in groups.items() if not g.startswith("other: ")}
        top = ", ".join(f"{name} {s / span:.2f}" for name, s in
                        sorted(others.items(), key=lambda x: -x[1])[:4] if s / span >= 0.01)
        m0, m1 = self.machine0, self.machine1
        busy = (sum(m1) - m1.idle - m1.iowait) - (sum(m0) - m0.idle - m0.iowait)
        ours = sum(groups.values())
        parts = ", ".join(f"{g} {s:.0f} s ({s / span:.2f} cores)" for g, s in
                          sorted(groups.items(), key=lambda x: -x[1]))

        def cores(*fields: str) -> float:  # machine-wide time outside any process
            return sum(getattr(m1, f, 0.0) - getattr(m0, f, 0.0) for f in fields) / span

        return (f"CPU over the {span:.0f} s measured: {parts}; the whole machine "
                f"{busy / span:.2f} of {os.cpu_count()} cores busy, of which "
                f"{max(0.0, busy - ours) / span:.2f} cores other work than this benchmark's "
                f"(among it: the kernel's interrupt handling, mostly loopback networking, "
                f"{cores('irq', 'softirq'):.2f} cores; time the hypervisor gave other "
                f"machines, {cores('steal'):.2f} cores; the busiest other processes, in "
                f"cores: {top or 'none above 0.01'}).")


def level_table(levels: list[tuple[int, dict[str, Any]]], seconds: int) -> str:
    """Per number of users (no import): throughput, p50/p95 per class, errors, cores busy."""
    if not levels:
        return "Not run (no `--levels`)."
    lines = ["| users | requests / s | pages p50 / p95 ms | map data p50 / p95 ms | "
             "writes p50 / p95 ms | errors | machine cores busy | targets |",
             "|---:|---:|---:|---:|---:|---:|---:|---|"]
    for users, res in levels:
        rows = [r for r in res["samples"] if r[1] >= res["ready"]
                and not r[0].startswith("login")]
        by = {c: [r[2] for r in rows if r[0].startswith(p)] for c, p in CLASSES.items()}
        errors = sum(not r[3] for r in rows)
        ran = max(1e-9, res["ended"] - res["ready"])
        ok = errors == 0 and pct(by["pages"], 95) < 500 and pct(by["map data"], 95) < 150
        cells = " | ".join(f"{pct(v, 50):,.0f} / {pct(v, 95):,.0f}" for v in by.values())
        lines.append(f"| {users} | {len(rows) / ran:.1f} | {cells} | {errors} | "
                     f"{res['busy_cores']:.2f} | {verdict(ok)} |")
    return "\n".join(lines)


def report(args: argparse.Namespace, info: dict[str, Any], res: dict[str, Any],
           alone: dict[str, Any], imp: dict[str, Any], server: str, cpu: str,
           levels: list[tuple[int, dict[str, Any]]], logs: dict[str, str],
           load0: tuple[float, ...]) -> str:
    """The whole markdown page: setup, per-route table, before/during the import, verdict."""
    ready = res["ready"]
    samples = [r for r in res["samples"] if r[1] >= ready and not r[0].startswith("login")]
    logins = [r[2] for r in res["samples"] if r[0] == "login"]
    cached: dict[str, int] = {}
    for name, at in res.get("from_cache", []):
        if at >= ready:
            cached[name] = cached.get(name, 0) + 1
    routes, classes, errors = route_table(samples, alone["samples"], cached)
    windows, ratios = window_table(samples, imp["start"], imp.get("end") or float("inf"))
    p95_pages, p95_map = pct(classes["pages"], 95), pct(classes["map data"], 95)
    ran = res["ended"] - ready
    la = [x[1] for x in res["loadavg"] if x[0] >= ready]
    start = dt.datetime.fromtimestamp(ready, dt.UTC)
    took = (f"{imp['end'] - imp['queued']:.0f} s from confirm to done" if imp.get("end")
            else imp["status"])
    msgs: dict[str, int] = {}
    for r in samples:
        if not r[3]:
            msgs[f"{r[0]}: {r[5]}"] = msgs.get(f"{r[0]}: {r[5]}", 0) + 1
    err_lines = "".join(f"\n- {n} x {m}" for m, n in sorted(msgs.items(), key=lambda x: -x[1])[:8])
    tb_lines = []
    for name, text in logs.items():
        count, tb = first_traceback(text)
        tb_lines.append(f"{name}: {count} traceback(s)"
                        + (f", the first:\n\n```\n{tb}\n```\n" if tb else ""))
    steps = ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in imp.items() if k.endswith(" s"))
    resp = ratios["pages p95 during"]
    cmd = (f".venv/bin/python bench/bench_load.py --users {args.users} --seconds {args.seconds} "
           f"--n {args.n} --import-rows {args.import_rows} --think "
           f"{args.think[0]:g},{args.think[1]:g}"
           + (f" --levels {','.join(map(str, args.levels))}" if args.levels else "")
           + (f" --write {args.write}" if args.write else ""))
    counts = (f"accepted {imp['accepted']:,}, rejected {imp['rejected']:,}"
              if imp.get("accepted") is not None else imp.get("message") or "-")
    compare = "\n".join(
        f"| {label} | {old:,.0f} | {new:,.0f} | {old / new:.1f}x | {n_old:,} | {n_new:,} |"
        for label, old, n_old, new, n_new in info.get("map_compare", []))
    title = (f"{args.users} members, {args.think[0]:g}-{args.think[1]:g} s between actions, "
             f"{args.seconds} s, `locmap serve`, one import running")
    return f"""# Load: {title}

Command: `{cmd}`. Measured from {start:%Y-%m-%d %H:%M} UTC, once every user was logged in:
{ran:.0f} s, {len(samples):,} requests ({len(samples) / ran:.1f} per second). Machine:
{os.cpu_count()} cores shared with other engineers' work; 1-minute load average
{load0[0]:.2f} before the setup, {min(la, default=0):.2f} to {max(la, default=0):.2f} while
measured (sampled every 5 s). The load generator (locust, one gevent process) shares the
cores with the server, the import and PostgreSQL.

Server: {server}. Data: bench_map_view's town ({args.n:,} incidents in a 16 x 11 km city,
loaded in {info['load_s']:.0f} s), {len(info['accounts'])} accounts (1 coordinator,
{args.practitioners} practitioners, {args.partners} partner reviewers, taken by the users in
turn), {len(info['places'])} places, {len(info['assessments'])} draft assessments.

Mix: each user logs in through the form ({args.spawn_rate} users a second), then loops
with {args.think[0]:g}-{args.think[1]:g} s of think time over (weight in brackets) home
(2), workspace (4: the page, then what workspace.js asks for when it opens: workspace
options and the whole town's incident tiles at zoom 11, the places being in the page),
overview (1), place page (3), assessment page (2), dashboard (1), a pan at neighbourhood
zoom 15 (4) and at street zoom 17 (2), a new incident (1) and a site visit (1) through
`/api/v1` (partners, who may not write, pan instead). Tiles go through each user's own
browser cache, as in a browser: the tile endpoint answers `Cache-Control: private,
max-age=60` with an ETag, so a tile seen in the last minute is not asked for again (the
last column counts those views) and an older one is revalidated (`If-None-Match`, 304 when
unchanged). Times are to the last byte, as the client sees them. "One user alone" is the
same mix run by a single user without think time for {args.alone} s just before
({len(alone['samples']):,} requests): the service time without queueing, on the same
machine at the same moment.

Logins while the users arrived (not in the table): {len(logins)}, p50
{pct(logins, 50):,.0f} ms, p95 {pct(logins, 95):,.0f} ms (argon2 password hashing, by design
slow).

## The map's clustering query, before and after map_cell_count

`queries.incidents.map_cells` on this town just before the load (p50 of 7 runs each, no
filter, one process, same moment): "direct" clusters every incident in view (the code
before migration 0008, still used at zoom 14 and finer), "counts" reads the whole cells
from `map_cell_count` and clusters only the edge strip.

| view | direct ms | counts ms | direct / counts | incidents (direct) | incidents (counts) |
|---|---:|---:|---:|---:|---:|
{compare}

## Per route

{routes}

Errors: {errors}.{err_lines}

{cpu}

## Fewer users: where the targets hold

The same mix and think time at fewer users, without the import, each measured for
{args.level_seconds} s after its users had logged in (run before the main load, on the
same server and data). "Machine cores busy" is the whole machine, load generator included.

{level_table(levels, args.level_seconds)}

## While the import runs

Import: a police.uk CSV of {args.import_rows:,} rows started {args.quiet} s into the
measurement, via {imp['how']}; {steps or 'no web steps'}; {took}; status
{imp.get('status')} ({counts}). "Before" is every request started before the upload
began, "during" until the import finished, "after" the rest.

{windows}

## Verdict

| target | measured | |
|---|---:|---|
| 0 errors | {errors} | {verdict(errors == 0)} |
| pages p95 < 500 ms | {p95_pages:,.0f} ms | {verdict(p95_pages < 500)} |
| map data p95 < 150 ms | {p95_map:,.0f} ms | {verdict(p95_map < 150)} |
| pages p95 < 500 ms while the import runs | {resp:,.0f} ms ({ratios['pages']:.2f}x before) \
| {verdict(0 < resp < 500)} |

Server logs: {'; '.join(tb_lines)}

Versions: Python {platform.python_version()}, {info['postgres']}, {versions(server)}.
"""
