"""The simulated partnership members of bench_load.py: locust users, run headless.

``python bench/load_users.py CONFIG.json`` (bench_load.py starts it; it is no benchmark on
its own). A separate process because locust patches the standard library for gevent at
import, which the parent's SQLAlchemy setup must not see. Each user logs in through the
real form (its CSRF token), then loops over the weighted tasks below with ``think``
seconds (a range) between them. The run lasts ``seconds`` from the moment every user is
logged in (written to the ``ready`` file); every request's name, start time, duration and
outcome goes to the ``out`` file of the configuration for the parent to report.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

CSRF = re.compile(r'name="csrf[-_]token" (?:content|value)="([^"]+)"')
MAX_AGE = re.compile(r"max-age=(\d+)")


def hot_spot(k: int) -> tuple[float, float]:
    """The k-th hot spot of bench_map_view's town (its seed clusters incidents there)."""
    return -1.89 + (k % 7) * 0.02, 52.45 + (k % 5) * 0.012


def whole_cells(bbox: list[float], zoom: int) -> list[float]:
    """The bbox widened to whole 60-px grid cells, as workspace.js asks at zoom <= 13."""
    import math

    cell = 360 / (256 * 2 ** zoom) * 60
    w, s, e, n = bbox
    return [math.floor(math.floor(w / cell) * cell * 1e6) / 1e6,
            math.floor(math.floor(s / cell) * cell * 1e6) / 1e6,
            math.ceil(math.ceil(e / cell) * cell * 1e6) / 1e6,
            math.ceil(math.ceil(n / cell) * cell * 1e6) / 1e6]


def tiles_covering(bbox: list[float], z: int) -> list[tuple[int, int]]:
    """The (x, y) of the Web Mercator tiles of zoom z that a WGS84 bbox touches."""
    import math

    def tile(lon: float, lat: float) -> tuple[int, int]:
        n = 2 ** z
        y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
        return int((lon + 180) / 360 * n), int(y)

    (x0, y0), (x1, y1) = tile(bbox[0], bbox[3]), tile(bbox[2], bbox[1])
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def run_load(cfg_path: str) -> None:
    """Run the locust users headless for the configured time; write every request's time."""
    from gevent import monkey

    monkey.patch_all()
    import itertools
    import random

    import gevent
    from locust import HttpUser, between, events, task
    from locust.env import Environment

    cfg = json.loads(Path(cfg_path).read_text())
    pid, samples, loads, logged_in = cfg["pilot_id"], [], [], []
    from_cache: list[list[Any]] = []  # tile views the browser's cache answered: name, time
    accounts = itertools.cycle(cfg["accounts"])

    @events.request.add_listener
    def _record(name: str, response_time: float, exception: Any = None, response: Any = None,
                start_time: float | None = None, **_: Any) -> None:
        status = getattr(response, "status_code", 0) or 0
        samples.append([name, start_time or time.time() - response_time / 1000,
                        response_time, exception is None, status,
                        None if exception is None else str(exception)[:300]])

    class Member(HttpUser):
        host = cfg["base"]
        wait_time = between(*cfg["think"])

        def on_start(self) -> None:
            email, role = next(accounts)
            self.writer, self.csrf = role != "partner_reviewer", ""
            # The browser's HTTP cache: path -> (ETag, fresh until).
            self.cache: dict[str, tuple[str, float]] = {}
            try:  # a failed login shows as errors on every route, and never blocks the run
                page = self.client.get("/login", name="login (form)")
                with self.client.post("/login", name="login", catch_response=True, data={
                        "email": email, "password": cfg["password"],
                        "csrf_token": CSRF.search(page.text).group(1),  # type: ignore[union-attr]
                }) as r:
                    if r.status_code != 200 or r.url.endswith("/login"):
                        r.failure(f"login failed: {r.status_code}")
                    found = CSRF.search(r.text)
                    self.csrf = found.group(1) if found else ""
            finally:
                logged_in.append(email)

        def _get(self, path: str, name: str) -> None:
            with self.client.get(path, name=name, catch_response=True) as r:
                if not r.status_code or r.url is None:  # no response at all
                    r.failure(f"no response: {getattr(r, 'error', None)}")
                elif r.status_code >= 400:
                    r.failure(f"{r.status_code} {r.text[:200]}")
                elif "/login" in r.url:
                    r.failure("sent to the login page")

        def _api(self, path: str, name: str) -> None:
            self._get(f"/api/v1/pilots/{pid}{path}", name)

        def _pan(self, zoom: int, half_lon: float, half_lat: float) -> None:
            x, y = hot_spot(random.randrange(35))
            x, y = x + random.uniform(-0.01, 0.01), y + random.uniform(-0.005, 0.005)
            self._tiles([x - half_lon, y - half_lat, x + half_lon, y + half_lat], zoom,
                        "neighbourhood" if zoom < 17 else "street")

        def _tiles(self, bbox: list[float], zoom: int, view: str) -> None:
            # What the workspace's GL incident layer asks for (static/js/incident_layer.js):
            # the 512-px vector tiles covering the view, at one zoom below Leaflet's.
            # Through the browser's HTTP cache, as a browser does: a tile still fresh by
            # its Cache-Control max-age is not asked for again (counted apart); a stale
            # one is revalidated with its ETag (If-None-Match; 304 if unchanged).
            z = zoom - 1
            for x, y in tiles_covering(bbox, z):
                path, name = (f"/pilots/{pid}/tiles/incidents/{z}/{x}/{y}.pbf",
                              f"map: incident tile, {view} (z{z})")
                held = self.cache.get(path)
                if held and held[1] > time.monotonic():
                    from_cache.append([name, time.time()])
                    continue
                headers = {"If-None-Match": held[0]} if held and held[0] else {}
                with self.client.get(path, name=name, headers=headers,
                                     catch_response=True) as r:
                    if not r.status_code or r.url is None:
                        r.failure(f"no response: {getattr(r, 'error', None)}")
                        continue
                    if r.status_code >= 400:
                        r.failure(f"{r.status_code} {r.text[:200]}")
                        continue
                    age = MAX_AGE.search(r.headers.get("Cache-Control", ""))
                    if age and "no-store" not in r.headers.get("Cache-Control", ""):
                        self.cache[path] = (r.headers.get("ETag") or (held or ("",))[0],
                                            time.monotonic() + int(age.group(1)))

        def _post(self, path: str, body: dict[str, Any], name: str) -> None:
            with self.client.post(f"/api/v1/pilots/{pid}{path}", json=body, name=name,
                                  headers={"X-CSRFToken": self.csrf}, catch_response=True) as r:
                if r.status_code != 201:
                    r.failure(f"{r.status_code} {r.text[:200]}")

        @task(2)
        def home(self) -> None:
            self._get("/", "page: home")

        @task(4)
        def workspace(self) -> None:
            # What workspace.js asks for when the page opens, fitted to the locality (the
            # places come in the page itself, as JSON: it fetches /places only to refresh
            # their counts after a new incident).
            self._get(f"/pilots/{pid}", "page: workspace")
            self._api("/workspace-options", "map: workspace options")
            self._tiles(cfg["bbox"], 12, "town")

        @task(1)
        def overview(self) -> None:
            self._get(f"/pilots/{pid}/overview", "page: overview")

        @task(3)
        def place(self) -> None:
            self._get(f"/pilots/{pid}/places/{random.choice(cfg['places'])}", "page: place")

        @task(2)
        def assessment(self) -> None:
            self._get(f"/pilots/{pid}/assessments/{random.choice(cfg['assessments'])}",
                      "page: assessment")

        @task(1)
        def dashboard(self) -> None:
            self._get(f"/pilots/{pid}/dashboard", "page: dashboard")

        @task(4)
        def neighbourhood(self) -> None:
            self._pan(15, 0.015, 0.008)

        @task(2)
        def street(self) -> None:
            self._pan(17, 0.002, 0.001)

        @task(1)
        def incident(self) -> None:
            if not self.writer:
                return self._pan(15, 0.015, 0.008)
            x, y = hot_spot(random.randrange(35))
            self._post("/incidents", {
                "location": {"type": "Point", "coordinates": [x + random.uniform(-0.003, 0.003),
                                                              y + random.uniform(-0.002, 0.002)]},
                "occurred_at": "2025-06-14T21:30:00+01:00", "time_precision": "exact",
                "category": random.choice(["asb", "drugs", "weapons"]), "severity": 2,
                "description": "Recorded by the load test."}, "write: incident")

        @task(1)
        def site_visit(self) -> None:
            if not self.writer:
                return self._pan(17, 0.002, 0.001)
            self._post(f"/places/{random.choice(cfg['places'])}/observations", {
                "started_at": "2025-06-14T20:00:00+01:00", "ended_at": "2025-06-14T21:00:00+01:00",
                "young_people_14_15": 6, "adults_present": 2, "guardianship": "low",
                "notes": "Recorded by the load test."}, "write: site visit")

    env = Environment(user_classes=[Member], events=events)
    runner = env.create_local_runner()
    started = time.time()
    runner.start(cfg["users"], spawn_rate=cfg["spawn_rate"])

    def sample_load() -> None:
        while True:
            loads.append([time.time(), *os.getloadavg()])
            gevent.sleep(5)

    sampler = gevent.spawn(sample_load)
    # Measure only once every user is in: a burst of logins (argon2 on purpose) is not
    # the steady state the targets are about; the logins are reported on their own.
    limit = time.monotonic() + cfg["ramp_limit"]
    while len(logged_in) < cfg["users"] and time.monotonic() < limit:
        gevent.sleep(0.2)
    ready = time.time()
    Path(cfg["ready"]).write_text(str(ready))
    gevent.spawn_later(cfg["seconds"], runner.quit)
    runner.greenlet.join(timeout=cfg["seconds"] + 60)
    sampler.kill()
    Path(cfg["out"]).write_text(json.dumps(
        {"started": started, "ready": ready, "ended": time.time(), "samples": samples,
         "loadavg": loads, "from_cache": from_cache}))


if __name__ == "__main__":
    run_load(sys.argv[1])
