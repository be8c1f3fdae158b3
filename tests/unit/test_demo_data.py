"""The synthetic Eastbrook demo data: reproducible, valid, and telling its story."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest
from shapely.geometry import shape

from locmap import vocab

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "geodata" / "make_demo.py"
DEMO = ROOT / "geodata" / "demo"
M_LON, M_LAT = 67884.0, 111277.0  # metres per degree at lat 52.52


def files_under(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file()}


def generate(out: Path, *extra: str) -> dict[str, bytes]:
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), *extra], check=True,
                   capture_output=True)
    return files_under(out)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> dict[str, bytes]:
    return generate(tmp_path_factory.mktemp("demo_a"))


def load_json(name: str):
    return json.loads((DEMO / name).read_text(encoding="utf-8"))


def load_csv(name: str) -> list[dict]:
    with open(DEMO / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def features(name: str) -> list[dict]:
    fc = load_json(name)
    assert fc["type"] == "FeatureCollection"
    return fc["features"]


def metres(a, b) -> float:
    return math.hypot((a[0] - b[0]) * M_LON, (a[1] - b[1]) * M_LAT)


@pytest.fixture(scope="module")
def places() -> dict[str, dict]:
    return {f["properties"]["key"]: f for f in features("places.geojson")}


@pytest.fixture(scope="module")
def locality():
    return shape(load_json("pilot.json")["locality"])


# ------------------------------------------------------------------------ reproducibility

def test_two_runs_are_byte_identical(fresh, tmp_path):
    again = generate(tmp_path / "b")
    assert again.keys() == fresh.keys()
    for name in fresh:
        assert again[name] == fresh[name], name


def test_committed_demo_equals_a_fresh_run(fresh):
    committed = files_under(DEMO)
    assert committed.keys() == fresh.keys()
    for name in fresh:
        assert committed[name] == fresh[name], f"{name}: run geodata/make_demo.py and commit"


def test_another_seed_changes_the_detail(fresh, tmp_path):
    other = generate(tmp_path / "c", "--seed", "7")
    assert other["incidents.csv"] != fresh["incidents.csv"]
    assert other["pilot.json"] == fresh["pilot.json"]


def test_text_format_and_size(fresh):
    assert sum(len(b) for b in fresh.values()) < 3_000_000
    for name, data in fresh.items():
        text = data.decode("utf-8")
        assert "\r" not in text and text.endswith("\n"), name
        if name.endswith((".json", ".geojson")):
            json.loads(text)


# ----------------------------------------------------------------------------- geometry

def all_geometries():
    yield "pilot.json", load_json("pilot.json")["locality"]
    for name in ["places.geojson", "safety_maps.geojson", "districts.geojson",
                 *(f"feature_layers/{p.name}" for p in sorted((DEMO / "feature_layers")
                                                               .glob("*.geojson")))]:
        for f in features(name):
            if f["geometry"] is not None:
                yield name, f["geometry"]


def test_geometry_is_valid_wgs84_and_in_the_locality(locality):
    near = locality.buffer(0.003)  # ~200 m
    seen = 0
    for name, geom in all_geometries():
        g = shape(geom)
        assert g.is_valid, name
        assert near.contains(g), name
        for x, y in (g.bounds[:2], g.bounds[2:]):
            assert -180 <= x <= 180 and -90 <= y <= 90
            assert -1.49 < x < -1.45 and 52.51 < y < 52.53, "the demo town is in England"
        seen += 1
    assert seen > 350


def test_polygons_are_counter_clockwise_closed_and_rounded():
    def ring_area(ring):
        return sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:], strict=False)) / 2

    for name, geom in all_geometries():
        rings = [geom["coordinates"]] if geom["type"] == "LineString" else (
            geom["coordinates"] if geom["type"] == "Polygon" else [[geom["coordinates"]]])
        for ring in rings:
            for x, y in ring:
                assert round(x, 6) == x and round(y, 6) == y, name
        if geom["type"] == "Polygon":
            ext = geom["coordinates"][0]
            assert ext[0] == ext[-1]
            assert ring_area(ext) > 0, f"{name}: exterior ring must be counter-clockwise"


def test_locality_size_is_a_neighbourhood(locality):
    minx, miny, maxx, maxy = locality.bounds
    assert 1300 < (maxx - minx) * M_LON < 1700
    assert 1000 < (maxy - miny) * M_LAT < 1400


def test_districts_tile_the_locality(locality):
    ds = [shape(f["geometry"]) for f in features("districts.geojson")]
    assert [f["properties"]["name"] for f in features("districts.geojson")] == [
        "Eastbrook South", "Eastbrook Central", "Eastbrook North"]
    total = sum(d.area for d in ds)
    assert total == pytest.approx(locality.area, rel=1e-4)
    for i, a in enumerate(ds):
        for b in ds[i + 1:]:
            assert a.intersection(b).area < 1e-4 * locality.area


def test_places(places):
    kinds = {p["properties"]["key"]: (p["properties"]["kind"], p["geometry"] and
                                      p["geometry"]["type"]) for p in places.values()}
    assert kinds["burger-hub"] == ("fast_food", "Point")
    assert kinds["millfield-park"] == ("park", "Polygon")
    assert kinds["high-street"] == ("street", "LineString")
    assert kinds["eastbrook-academy"] == ("school", "Polygon")
    assert kinds["eastbrook-station"] == ("transport_hub", "Point")
    assert kinds["orchard-estate"] == ("housing_estate", "Polygon")
    assert kinds["group-chat-snapchat"] == ("online", None)
    assert kinds["eastbrook-library"][0] == "library"
    assert "shopping_centre" in {k for k, _ in kinds.values()}
    for p in places.values():
        assert p["properties"]["kind"] in vocab.PLACE_KINDS
        assert (p["geometry"] is None) == (p["properties"]["kind"] == "online")
        assert p["properties"]["osm_id"] is None
    d = metres(places["burger-hub"]["geometry"]["coordinates"],
               shape(places["eastbrook-library"]["geometry"]).centroid.coords[0])
    assert 300 < d < 400


def test_feature_layers(places):
    counts = {}
    ids = set()
    for p in sorted((DEMO / "feature_layers").glob("*.geojson")):
        fs = features(f"feature_layers/{p.name}")
        counts[p.stem] = len(fs)
        for f in fs:
            assert f["geometry"]["type"] == "Point"
            assert set(f["properties"]) == {"name", "osm_id", "tags"}
            assert f["properties"]["osm_id"] < 0 and f["properties"]["osm_id"] not in ids
            ids.add(f["properties"]["osm_id"])
    assert counts.keys() == {"fast_food_outlets", "bus_stops", "street_lights", "off_licences"}
    assert 10 <= counts["fast_food_outlets"] <= 15
    assert 20 <= counts["bus_stops"] <= 30
    assert 250 <= counts["street_lights"] <= 350
    assert 5 <= counts["off_licences"] <= 8
    hub = places["burger-hub"]["geometry"]["coordinates"]
    assert any(f["geometry"]["coordinates"] == hub
               for f in features("feature_layers/fast_food_outlets.geojson"))


# -------------------------------------------------------------------------- vocabularies

def test_agencies_users_and_pilot():
    agencies = load_json("agencies.json")
    names = {a["name"] for a in agencies}
    for required in ["Eastbrook Borough Council Children's Services", "Midshire Police",
                     "Eastbrook Community Safety Partnership", "Eastbrook Academy",
                     "Eastbrook Library Service", "Burger Hub Eastbrook (franchise)",
                     "Midshire NHS Trust", "Eastbrook Youth Service"]:
        assert required in names
    assert all(a["kind"] in vocab.AGENCY_KINDS for a in agencies)
    users = load_json("users.json")
    assert Counter(u["role"] for u in users) == Counter(
        {"coordinator": 1, "practitioner": 1, "peer_assessor": 1, "partner_reviewer": 2,
         "admin": 1, "auditor": 1})
    for u in users:
        assert u["email"].endswith("@demo.locmap.invalid")
        assert u["agency"] in names and u["password"] == "demo-password"
    reviewers = {u["agency"] for u in users if u["role"] == "partner_reviewer"}
    assert reviewers == {"Midshire Police", "Eastbrook Community Safety Partnership"}
    pilot = load_json("pilot.json")
    assert (pilot["name"], pilot["start_date"], pilot["duration_months"],
            pilot["review_interval_months"]) == ("Eastbrook Town Centre", "2025-01-06", 18, 3)
    places = {f["properties"]["managed_by"] for f in features("places.geojson")} - {None}
    assert places <= names


def test_incident_columns_and_vocabularies(places):
    rows = load_csv("incidents.csv")
    assert list(rows[0]) == ["ref", "occurred_at", "precision", "lon", "lat", "category",
                             "severity", "source_agency", "place_key", "description"]
    assert 2000 <= len(rows) <= 3000
    assert len({r["ref"] for r in rows}) == len(rows)
    agencies = {a["name"] for a in load_json("agencies.json")}
    for r in rows:
        assert r["precision"] in vocab.TIME_PRECISIONS
        assert r["category"] in vocab.HARM_CATEGORIES
        assert 1 <= int(r["severity"]) <= 5
        assert r["source_agency"] in agencies
        assert r["place_key"] == "" or r["place_key"] in places
        assert "2024-01-01" <= r["occurred_at"][:10] < load_json("pilot.json")["reference_today"]
        assert r["occurred_at"].endswith("Z") and len(r["occurred_at"]) == 20
        if r["precision"] == "month":
            assert r["occurred_at"][8:] == "01T00:00:00Z"
        elif r["precision"] == "day":
            assert r["occurred_at"][10:] == "T00:00:00Z"
        assert len(r["lon"].split(".")[1]) == 6 and len(r["lat"].split(".")[1]) == 6
    share = Counter(r["precision"] for r in rows)
    assert 0.55 < share["exact"] / len(rows) < 0.65
    assert 0.15 < share["month"] / len(rows) < 0.25


def test_observations_and_factors():
    obs = load_json("observations.json")
    assert 10 <= len(obs) <= 16
    observers = {u["email"] for u in load_json("users.json")
                 if u["role"] in ("practitioner", "peer_assessor", "coordinator")}
    for o in obs:
        assert o["observer_email"] in observers
        assert o["started_at"] < o["ended_at"]
        assert o["light"] in ("daylight", "dusk", "dark")
        assert o["guardianship"] in ("none", "low", "moderate", "strong")
        assert o["lighting"] in ("poor", "adequate", "good")
        assert o["sight_lines"] in ("poor", "adequate", "good")
        assert o["cctv"] in ("none", "present_not_working", "present_working")
        assert set(o["young_people_by_age_band"]) == {"10-13", "14-15", "16-17"}
        assert isinstance(o["signs_of_dealing"], bool)
    assert {o["place_key"] for o in obs} >= {"burger-hub", "eastbrook-library",
                                              "millfield-park", "eastbrook-station"}
    refs = {r["ref"]: r for r in load_csv("incidents.csv")}
    factors = load_json("safety_factors.json")
    assert {f["quadrant"] for f in factors} == set(vocab.QUADRANTS)
    for f in factors:
        assert f["place_key"] in ("burger-hub", "eastbrook-library")
        assert f["quadrant"] in vocab.QUADRANTS and f["confidence"] in vocab.CONFIDENCE
        assert f["voice"] in vocab.VOICES and 0 <= f["weight"] <= 3
        for ref in f["evidence_incident_refs"]:
            assert refs[ref]["place_key"] == f["place_key"]
        for i in f["evidence_observation_indexes"]:
            assert obs[i]["place_key"] == f["place_key"]
    assert sum(bool(f["evidence_incident_refs"]) for f in factors) >= 4


def test_safety_maps_engagement_awareness():
    maps = features("safety_maps.geojson")
    assert len(maps) >= 8
    for m in maps:
        assert m["properties"]["rating"] in vocab.SAFETY_RATINGS
        assert set(m["properties"]) == {"map_id", "drawn_on", "period", "rating", "reason",
                                        "respondent_group"}
    for e in load_json("engagement.json"):
        assert e["with_group"] in vocab.ENGAGEMENT_GROUPS
        assert "YP-" not in e["group_description"] + e["summary"]
    assert all(a["reached"] > 0 for a in load_json("awareness.json"))


def test_safety_maps_follow_the_move(places):
    hub = places["burger-hub"]["geometry"]["coordinates"]
    lib = shape(places["eastbrook-library"]["geometry"]).centroid.coords[0]
    red = defaultdict(set)
    for m in features("safety_maps.geojson"):
        if m["properties"]["rating"] == "red":
            c = shape(m["geometry"]).centroid.coords[0]
            which = "hub" if metres(c, hub) < 60 else "library" if metres(c, lib) < 60 else "-"
            red[m["properties"]["period"][:4]].add(which)
    assert "hub" in red["2024"] and "library" not in red["2024"]
    assert "library" in red["2025"] and "hub" not in red["2025"]


# ------------------------------------------------------------------------------- the story

def monthly_near(rows, centre, categories=None) -> Counter:
    out = Counter({f"{y}-{m:02d}": 0 for y in (2024, 2025) for m in range(1, 13)})
    for r in rows:
        if categories and r["category"] not in categories:
            continue
        if metres((float(r["lon"]), float(r["lat"])), centre) <= 80:
            out[r["occurred_at"][:7]] += 1
    return out


def mean(counter: Counter, lo: str, hi: str) -> float:
    vals = [v for k, v in counter.items() if lo <= k <= hi]
    return sum(vals) / len(vals)


def test_displacement_story(places):
    rows = load_csv("incidents.csv")
    hub = monthly_near(rows, places["burger-hub"]["geometry"]["coordinates"])
    lib = monthly_near(rows, shape(places["eastbrook-library"]["geometry"]).centroid.coords[0])
    assert mean(hub, "2025-01", "2025-12") < 0.5 * mean(hub, "2024-01", "2024-12")
    assert mean(lib, "2025-01", "2025-12") > 2 * mean(lib, "2024-01", "2024-12")
    # the restaurant area was steady through 2024
    assert max(hub[f"2024-{m:02d}"] for m in range(1, 13)) < 1.5 * min(
        hub[f"2024-{m:02d}"] for m in range(1, 13))


def test_youth_club_cuts_library_asb(places):
    rows = load_csv("incidents.csv")
    lib = shape(places["eastbrook-library"]["geometry"]).centroid.coords[0]
    asb = monthly_near(rows, lib, {"asb"})
    assert mean(asb, "2025-07", "2025-12") < 0.75 * mean(asb, "2025-01", "2025-06")


def test_library_after_school_weekday_peak(places):
    from datetime import datetime, timedelta
    rows = load_csv("incidents.csv")
    lib = shape(places["eastbrook-library"]["geometry"]).centroid.coords[0]
    hours = Counter()
    for r in rows:
        if (r["precision"] == "exact" and r["occurred_at"] >= "2025-01"
                and metres((float(r["lon"]), float(r["lat"])), lib) <= 80):
            t = datetime.strptime(r["occurred_at"], "%Y-%m-%dT%H:%M:%SZ")
            bst = date(2025, 3, 30) <= t.date() < date(2025, 10, 26)
            local = t + timedelta(hours=1 if bst else 0)
            hours["after_school" if local.weekday() < 5 and 15 <= local.hour < 19
                  else "other"] += 1
    assert hours["after_school"] > 2 * hours["other"]


def test_background_is_evening_and_summer_heavy():
    rows = [r for r in load_csv("incidents.csv") if r["place_key"] in ("", "millfield-park")]
    exact = [r for r in rows if r["precision"] == "exact"]
    evening = sum(17 <= int(r["occurred_at"][11:13]) <= 22 for r in exact)
    small_hours = sum(3 <= int(r["occurred_at"][11:13]) <= 8 for r in exact)
    assert evening > 3 * small_hours
    by_month = Counter(int(r["occurred_at"][5:7]) for r in rows)
    assert by_month[7] + by_month[8] > by_month[1] + by_month[2]


# ------------------------------------------------------------------------------- people

@pytest.fixture(scope="module")
def network():
    people = {p["pseudonym"]: p for p in load_csv("people.csv")}
    rels = load_csv("relationships.csv")
    # friendship groups = connected components of friend ties between young people
    parent = {p: p for p in people}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r in rels:
        if r["type"] == "friend":
            parent[find(r["a_pseudonym"])] = find(r["b_pseudonym"])
    group = {p: find(p) for p, v in people.items() if v["kind"] == "young_person"}
    return people, rels, group


def test_people_and_identities(network):
    people, _, _ = network
    rows = load_csv("people.csv")
    assert len(rows) == len(people)
    kinds = Counter(p["kind"] for p in rows)
    assert 35 <= kinds["young_person"] <= 45
    assert kinds["adult_of_concern"] == 4 and kinds["trusted_adult"] == 3
    prefix = {"young_person": "YP-", "adult_of_concern": "AD-", "trusted_adult": "TA-"}
    for p in rows:
        assert p["pseudonym"].startswith(prefix[p["kind"]])
        assert p["age_band"] in vocab.AGE_BANDS
    ids = load_csv("identities.csv")
    assert [i["pseudonym"] for i in ids] == [p["pseudonym"] for p in rows]
    assert len({i["case_reference"] for i in ids}) == len(ids)
    assert len({i["name"] for i in ids}) == len(ids)
    for i in ids:
        assert i["name"] != i["pseudonym"] and " " in i["name"]
        assert i["case_reference"].startswith("EB-CS-") and len(i["case_reference"]) == 11
        lo, _, hi = people[i["pseudonym"]]["age_band"].partition("-")
        lo, hi = int(lo.rstrip("+")), int(hi) if hi else 200
        dob = date.fromisoformat(i["date_of_birth"])
        for on in (date(2025, 1, 1), date(2025, 12, 31)):
            age = on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))
            assert lo <= age <= hi, (i["pseudonym"], age)


def test_network_shape(network):
    people, rels, group = network
    for r in rels:
        assert r["a_pseudonym"] in people and r["b_pseudonym"] in people
        assert r["type"] in vocab.RELATIONSHIP_TYPES and r["valence"] in vocab.VALENCES
        assert r["source"] in ("peer_assessment", "school", "police", "youth_service")
        assert r["strength"] in ("1", "2", "3")
        assert r["until"] == "" or r["since"] <= r["until"]
    sizes = Counter(group.values())
    assert len([s for s in sizes.values() if s >= 5]) >= 3
    bridges = [r for r in rels if r["a_pseudonym"] in group and r["b_pseudonym"] in group
               and group[r["a_pseudonym"]] != group[r["b_pseudonym"]]]
    assert 2 <= len(bridges) <= 10
    for adult, p in people.items():
        ties = [r for r in rels if adult in (r["a_pseudonym"], r["b_pseudonym"])]
        others = {r["b_pseudonym"] if r["a_pseudonym"] == adult else r["a_pseudonym"]
                  for r in ties}
        if p["kind"] == "adult_of_concern":
            harmful = {o for o in others if o in group and any(
                r["valence"] == "harmful" and r["type"] in ("exploitative", "associate")
                for r in ties if o in (r["a_pseudonym"], r["b_pseudonym"]))}
            assert len(harmful) >= 3
            assert len({group[o] for o in harmful}) >= 2
        elif p["kind"] == "trusted_adult":
            assert ties and all(r["valence"] == "protective" for r in ties)


def test_presences_show_the_move(network):
    _, _, group = network
    pres = load_csv("presences.csv")
    places = {f["properties"]["key"] for f in features("places.geojson")}
    for p in pres:
        assert p["place_key"] in places
        assert p["frequency"] in ("daily", "weekly", "monthly", "occasional")

    def groups_at(key, on):
        on = on.isoformat()
        return {group[p["pseudonym"]] for p in pres if p["place_key"] == key
                and p["pseudonym"] in group and p["since"] <= on
                and (p["until"] == "" or p["until"] >= on)}

    assert len(groups_at("burger-hub", date(2024, 6, 1))) == 2
    assert groups_at("burger-hub", date(2025, 3, 1)) == set()
    assert len(groups_at("eastbrook-library", date(2024, 6, 1))) == 1
    assert len(groups_at("eastbrook-library", date(2025, 3, 1))) >= 2
    ended = {p["pseudonym"] for p in pres
             if p["place_key"] == "burger-hub" and p["until"] == "2024-12-31"}
    started = {p["pseudonym"] for p in pres
               if p["place_key"] == "eastbrook-library" and p["since"].startswith("2025-01")}
    assert len(ended & started) >= 15


def _file_dates() -> list[tuple[str, str]]:
    """Every (where, ISO date) in the files that records something that already happened."""
    out = [("incidents", r["occurred_at"][:10]) for r in load_csv("incidents.csv")]
    out += [("observations", o["ended_at"][:10]) for o in load_json("observations.json")]
    out += [(n, r[k]) for n, k in (("engagement.json", "held_on"), ("awareness.json", "held_on"))
            for r in load_json(n)]
    out += [("safety maps", f["properties"]["drawn_on"]) for f in features("safety_maps.geojson")]
    for name, cols in (("people.csv", ("last_risk_assessment_on", "recorded_on")),
                       ("relationships.csv", ("since", "until")),
                       ("presences.csv", ("since", "until")),
                       ("identities.csv", ("date_of_birth",))):
        out += [(name, r[c]) for r in load_csv(name) for c in cols if r[c]]
    work = load_json("workflow.json")
    out += [("review points", r["held_on"]) for r in work["review_points"]]
    for a in work["assessments"]:
        p = a["plan"]
        out += [("work", t[:10]) for t in (a["started_at"], a["submitted_at"],
                                           p["created_at"], p["submitted_at"])]
        out += [("work", d["at"][:10]) for d in a["decisions"] + p["decisions"]]
    return out


def test_nothing_has_happened_by_the_reference_day_yet():
    """The loader moves the files' "today" up to six days before the anchor, so nothing
    recorded as done may fall on or after it (action due dates are the future)."""
    today = load_json("pilot.json")["reference_today"]
    late = [(w, d) for w, d in _file_dates() if d >= today]
    assert not late


def test_reference_day_is_part_way_with_the_next_review_point_due_soon():
    from locmap.assessment.review_rules import review_point_status
    from locmap.timeline import pilot_end, review_dates

    pilot = load_json("pilot.json")
    start, ref = (date.fromisoformat(pilot[k]) for k in ("start_date", "reference_today"))
    dates = review_dates(start, pilot["duration_months"], pilot["review_interval_months"])
    held = {r["number"]: date.fromisoformat(r["held_on"])
            for r in load_json("workflow.json")["review_points"]}
    assert start < ref < pilot_end(start, pilot["duration_months"])
    # The loader's today is the reference day plus 0-6 days: the next point is "due"
    # (within 14 days) on each of them, and every earlier one was held, on or after its day.
    for extra in range(7):
        today = date.fromordinal(ref.toordinal() + extra)
        statuses = [review_point_status(d, held.get(n), today)
                    for n, d in enumerate(dates, start=1)]
        assert statuses[:len(held)] == ["held"] * len(held)
        assert statuses[len(held)] == "due"
        assert set(statuses[len(held) + 1:]) == {"upcoming"}
    assert all(dates[n - 1] <= d < ref for n, d in held.items())


def test_workflow_names_real_users_agencies_and_vocabularies():
    work = load_json("workflow.json")
    emails = {u["email"]: u["role"] for u in load_json("users.json")}
    names = {a["name"] for a in load_json("agencies.json")}
    for a in work["assessments"]:
        p = a["plan"]
        assert emails[a["author"]] == "practitioner"
        assert {emails[e] for e in a["reviewers"] + p["reviewers"]} == {"partner_reviewer"}
        assert sum(c["share"] for c in a["contexts"]) == 100
        approvals = {d["reviewer"] for d in a["decisions"] if d["decision"] == "approve"}
        assert approvals == set(a["reviewers"])  # all named reviewers approve: approved
        for act in p["actions"]:
            assert act["category"] in vocab.PLAN_CATEGORIES
            assert act["status"] in vocab.ACTION_STATUSES and act["owner_agency"] in names
        assert a["submitted_at"] < min(d["at"] for d in a["decisions"]) < p["created_at"]
        assert p["created_at"] < p["submitted_at"] < min(d["at"] for d in p["decisions"])
    # the library's plan is still in review: nobody has decided on it yet
    assert {d["decision"] for d in work["assessments"][-1]["plan"]["decisions"]} == {"comment"}
