"""Generate the synthetic demo town "Eastbrook" used by the locmap demo and tests.

Everything written here is invented: the town, its streets, organisations, people,
incidents and drawings. The coordinates (around lon -1.470, lat 52.520) were picked only
to put the town somewhere in England; nothing here describes a real place.

Run::

    python geodata/make_demo.py [--out geodata/demo] [--seed 20240101]

The output is reproducible byte for byte: only the standard library (``random.Random``
seeded per section with a string, which Python hashes with SHA-512) and plain float
arithmetic are used to build it; shapely is used only to check what was built. Geometry
is computed in metres on a local plane around the town centre and converted to WGS84
lon/lat with fixed scale factors, then rounded to 6 decimals.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import random
from datetime import date, datetime, timedelta
from pathlib import Path

from shapely.geometry import Point, shape

# ---------------------------------------------------------------------------- geometry

LON0, LAT0 = -1.470, 52.520
# Metres per degree at latitude 52.52 (WGS84 ellipsoid), fixed so output never depends on
# a projection library's version.
M_PER_DEG_LON = 67884.0
M_PER_DEG_LAT = 111277.0

PILOT_START = date(2025, 1, 6)
WIFI_OFF = date(2025, 1, 1)  # Burger Hub turns its customer WiFi off (month 13)
YOUTH_CLUB = date(2025, 7, 1)  # pop-up youth club at the library opens
FIRST_DAY, LAST_DAY = date(2024, 1, 1), date(2025, 12, 31)
# The day the files describe as "today": eleven and a half months into the 18-month pilot,
# two weeks before its fourth review point. The loader (locmap/services/demo.py) moves every
# date by the whole weeks between this day and the day the demo is loaded, so the pilot
# is always part-way; nothing in the files happens on or after this day.
REFERENCE_TODAY = date(2025, 12, 24)
STORY_RADIUS_M = 80.0  # "the area around" a point place


def lonlat(x: float, y: float) -> list[float]:
    """Convert local metres (east, north of the centre) to rounded [lon, lat]."""
    return [round(LON0 + x / M_PER_DEG_LON, 6), round(LAT0 + y / M_PER_DEG_LAT, 6)]


def signed_area(ring: list[tuple[float, float]]) -> float:
    s = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        s += x1 * y2 - x2 * y1
    return s / 2.0


def polygon_geojson(ring: list[tuple[float, float]]) -> dict:
    """A GeoJSON Polygon (counter-clockwise exterior, closed) from an open ring in metres."""
    pts = list(ring)
    if signed_area(pts) < 0:
        pts.reverse()
    coords = [lonlat(x, y) for x, y in pts]
    coords.append(coords[0])
    return {"type": "Polygon", "coordinates": [coords]}


def line_geojson(pts: list[tuple[float, float]]) -> dict:
    return {"type": "LineString", "coordinates": [lonlat(x, y) for x, y in pts]}


def point_geojson(x: float, y: float) -> dict:
    return {"type": "Point", "coordinates": lonlat(x, y)}


def rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def clip_band(ring: list[tuple[float, float]], y_lo: float, y_hi: float) -> list:
    """Clip a polygon ring to lo <= y <= hi (Sutherland-Hodgman, deterministic)."""

    def clip(pts: list, inside, cross) -> list:
        out = []
        for i, cur in enumerate(pts):
            prev = pts[i - 1]
            if inside(cur):
                if not inside(prev):
                    out.append(cross(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cross(prev, cur))
        return out

    def at_y(yc: float):
        def cross(a, b):
            t = (yc - a[1]) / (b[1] - a[1])
            return (a[0] + t * (b[0] - a[0]), yc)

        return cross

    pts = clip(ring, lambda p: p[1] >= y_lo, at_y(y_lo))
    return clip(pts, lambda p: p[1] <= y_hi, at_y(y_hi))


def blob(cx: float, cy: float, radius: float, rng: random.Random, n: int = 12) -> list:
    """A hand-drawn looking, star-shaped (hence valid) ring around a centre."""
    out = []
    for i in range(n):
        a = 2 * math.pi * i / n
        r = radius * rng.uniform(0.75, 1.2)
        out.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return out


def along(pts: list[tuple[float, float]], d: float) -> tuple[float, float, float, float]:
    """Point at distance ``d`` along a polyline, with the unit direction there."""
    for (x1, y1), (x2, y2) in zip(pts, pts[1:], strict=False):
        seg = math.hypot(x2 - x1, y2 - y1)
        if d <= seg:
            ux, uy = (x2 - x1) / seg, (y2 - y1) / seg
            return x1 + ux * d, y1 + uy * d, ux, uy
        d -= seg
    (x1, y1), (x2, y2) = pts[-2], pts[-1]
    seg = math.hypot(x2 - x1, y2 - y1)
    return x2, y2, (x2 - x1) / seg, (y2 - y1) / seg


def length(pts: list[tuple[float, float]]) -> float:
    return sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(pts, pts[1:], strict=False))


# ------------------------------------------------------------------------- the town plan

LOCALITY = [
    (-740, -600), (-260, -625), (250, -590), (760, -610), (775, -180), (750, 240),
    (765, 600), (280, 620), (-300, 590), (-760, 605), (-775, 180), (-750, -250),
]
DISTRICT_SPLITS = [("Eastbrook South", -1e4, -200.0), ("Eastbrook Central", -200.0, 230.0),
                   ("Eastbrook North", 230.0, 1e4)]

HIGH_STREET = [(-520, -10), (-300, 0), (-100, 20), (100, 10), (300, 25), (520, -20)]
STREETS = {  # other streets: not places, but where lights, stops and incidents are
    "High Street": HIGH_STREET,
    "Mill Lane": [(-300, 0), (-320, 250), (-330, 560)],
    "Church Street": [(185, 15), (190, 300), (200, 560)],
    "Station Road": [(520, -20), (600, -300), (620, -560)],
    "Orchard Way": [(-300, 0), (-250, -200), (-200, -560)],
    "School Lane": [(100, 10), (200, -200), (240, -560)],
    "Park Road": [(-700, 150), (-320, 160), (190, 200), (700, 220)],
    "Southgate": [(-700, -380), (-230, -400), (215, -380), (700, -420)],
    "Northgate": [(-330, 470), (195, 480), (700, 450)],
}

BURGER_HUB = (-135.0, 32.0)
LIBRARY = (205.0, 130.0)  # ~354 m from Burger Hub
STATION = (575.0, -45.0)
PARK = [(-640, 215), (-360, 205), (-345, 330), (-380, 505), (-620, 520), (-690, 380)]
SCHOOL = rect(290, -470, 520, -250)
ESTATE = [(-640, -540), (-290, -540), (-270, -330), (-300, -225), (-620, -215)]
SHOPPING = rect(-10, -95, 125, -25)

PLACES = [
    # key, name, kind, geometry-maker, managed_by, notes
    ("burger-hub", "Burger Hub", "fast_food", ("point", BURGER_HUB),
     "Burger Hub Eastbrook (franchise)",
     "Franchise restaurant on the High Street, open until 23:00. It turned its free "
     "customer WiFi off a few days before the pilot began."),
    ("eastbrook-library", "Eastbrook Library", "library", ("point", LIBRARY),
     "Eastbrook Library Service",
     "Public library on Church Street, open until 19:00 on weekdays; study tables, public "
     "computers and free WiFi."),
    ("millfield-park", "Millfield Park", "park", ("polygon", PARK),
     "Eastbrook Borough Council Parks and Open Spaces",
     "Park with a skate area and a pavilion; paths are unlit after dark."),
    ("high-street", "High Street", "street", ("line", HIGH_STREET), None,
     "Main shopping street running east to the station."),
    ("eastbrook-academy", "Eastbrook Academy", "school", ("polygon", SCHOOL),
     "Eastbrook Academy", "Secondary academy, 11-18, about 1,100 pupils. School day ends 15:10."),
    ("eastbrook-station", "Eastbrook Station", "transport_hub", ("point", STATION), None,
     "Railway station with a bus interchange at the east end of the High Street."),
    ("orchard-estate", "Orchard Estate", "housing_estate", ("polygon", ESTATE),
     "Eastbrook Homes", "Low-rise social housing estate with garages and a walkway."),
    ("kingsgate-centre", "Kingsgate Shopping Centre", "shopping_centre", ("polygon", SHOPPING),
     None, "Small covered shopping centre off the High Street; security staff until 18:00."),
    ("group-chat-snapchat", "Group chat (Snapchat)", "online", None, None,
     "An online context: a group chat many young people in the area are part of. "
     "No geometry."),
]

# ------------------------------------------------------------------------- organisations

AGENCIES = [
    ("Eastbrook Borough Council Children's Services", "children_services"),
    ("Midshire Police", "police"),
    ("Midshire NHS Trust", "health"),
    ("Eastbrook Academy", "school"),
    ("Eastbrook Community Safety Partnership", "community_safety"),
    ("Eastbrook Homes", "housing"),
    ("Midshire Youth Justice Service", "youth_justice"),
    ("Eastbrook Youth Service", "voluntary"),
    ("Burger Hub Eastbrook (franchise)", "business"),
    ("Eastbrook Library Service", "other"),
    ("Eastbrook Borough Council Parks and Open Spaces", "other"),
]
CS, POLICE, NHS, ACADEMY, CSP = (a[0] for a in AGENCIES[:5])
YOUTH, BURGER_CO, LIBRARY_SVC = AGENCIES[7][0], AGENCIES[8][0], AGENCIES[9][0]

PASSWORD = "demo-password"
USERS = [
    ("coordinator@demo.locmap.invalid", "Alex Demoworth", CSP, "coordinator"),
    ("practitioner@demo.locmap.invalid", "Priya Samplecombe", YOUTH, "practitioner"),
    ("peer.assessor@demo.locmap.invalid", "Jordan Mockridge", CS, "peer_assessor"),
    ("reviewer.police@demo.locmap.invalid", "Chris Fictonby", POLICE, "partner_reviewer"),
    ("reviewer.csp@demo.locmap.invalid", "Dana Exampleton", CSP, "partner_reviewer"),
    ("admin@demo.locmap.invalid", "Riley Testbury", CS, "admin"),
    ("auditor@demo.locmap.invalid", "Morgan Auditmere", CS, "auditor"),
]
COORDINATOR, PRACTITIONER, PEER_ASSESSOR = (u[0] for u in USERS[:3])

# ---------------------------------------------------------------------------- time helpers


def last_sunday(year: int, month: int) -> date:
    d = date(year, month, 31)
    while d.weekday() != 6:
        d -= timedelta(days=1)
    return d


def local_to_utc(dt: datetime) -> datetime:
    """UK civil time (GMT/BST, Europe/London rules since 1996) to UTC, without tzdata."""
    start = datetime.combine(last_sunday(dt.year, 3), datetime.min.time()) + timedelta(hours=1)
    end = datetime.combine(last_sunday(dt.year, 10), datetime.min.time()) + timedelta(hours=2)
    return dt - timedelta(hours=1) if start <= dt < end else dt


def iso_z(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


MONTHS = [(2024 + i // 12, i % 12 + 1) for i in range(24)]

HOUR_PROFILES = {
    # relative weight of each local hour 0..23
    "background": [3, 2, 1.5, 1, .6, .5, .6, 1, 1.5, 1.8, 2, 2.3, 2.6, 2.8, 3, 3.8, 4.5, 5,
                   5.5, 5.8, 5.6, 5, 4.3, 3.6],
    "afterschool": [0] * 15 + [4, 6, 5, 3.5, 0, 0, 0, 0, 0],
    "evening": [1.5, .8, .3, 0, 0, 0, 0, 0, 0, 0, 0, .3, .6, .8, 1, 2, 3, 3.5, 4, 4.5, 4.5,
                4, 3, 2],
    "night": [3, 2, .8, .3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, .5, 1.5, 3, 4, 4.5, 4],
    "daytime": [0, 0, 0, 0, 0, 0, 0, .3, .8, 1.5, 2, 2.5, 3, 3, 3, 3, 3.5, 3.5, 2.5, 1, .3,
                0, 0, 0],
    "school": [0] * 8 + [2, 3, 3, 3, 4, 3, 3, 2, 0.5, 0, 0, 0, 0, 0, 0, 0],
}


def day_weight(d: date, profile: str) -> float:
    wd = d.weekday()
    if profile in ("afterschool", "school"):
        w = 1.0 if wd < 5 else 0.0
        if profile == "school" and d.month == 8:
            w *= 0.1
        return w
    if profile == "night":
        return 1.7 if wd in (4, 5) else 1.0
    return {4: 1.35, 5: 1.45, 6: 1.15}.get(wd, 1.0)


def pick_time(rng: random.Random, year: int, month: int, profile: str) -> datetime:
    ndays = (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days
    # The reference month is cut at "today"; one draw per pick whatever the list's length,
    # so the earlier months are the same as without the cut.
    days = [date(year, month, i + 1) for i in range(ndays)
            if date(year, month, i + 1) < REFERENCE_TODAY]
    d = rng.choices(days, weights=[day_weight(x, profile) for x in days])[0]
    h = rng.choices(range(24), weights=HOUR_PROFILES[profile])[0]
    return datetime(d.year, d.month, d.day, h, rng.randrange(60))


# ------------------------------------------------------------------------------ incidents

CATEGORY_TEXT = {
    "cse": ["Concern raised about an older male giving a young person lifts and gifts.",
            "Young person seen getting into a car with unknown adults.",
            "Report of a young person being sent explicit requests by an adult."],
    "cce": ["Young person believed to be holding drugs for older males.",
            "Young person found with large amount of cash and two phones.",
            "Concern young person is being used to run errands for a dealer."],
    "trafficking": ["Young person found far from home with train ticket bought by others.",
                    "Concern about a young person being moved between addresses."],
    "missing": ["Young person reported missing from home; returned next day.",
                "Young person missing overnight; located by police.",
                "Young person missing after school; found late evening."],
    "serious_youth_violence": ["Fight between two groups of young people; one injured.",
                               "Young person assaulted by a group; minor injuries.",
                               "Robbery of a phone by a group of youths."],
    "asb": ["Group of young people shouting and throwing food at passers-by.",
            "Youths blocking the entrance and being abusive to staff.",
            "Noise and littering by a large group; dispersed on arrival.",
            "Young people climbing on roofs and damaging fittings."],
    "drugs": ["Suspected drug deal observed between a young person and an adult.",
              "Strong smell of cannabis; group of young people using.",
              "Young person found in possession of cannabis."],
    "weapons": ["Report of a young person carrying a knife.",
                "Knife found hidden in a bush; no arrests.",
                "Young person threatened with a bladed article."],
    "peer_on_peer": ["Young person reports repeated bullying by peers.",
                     "Harmful sexual behaviour between pupils reported by school.",
                     "Image shared without consent among pupils."],
    "radicalisation": ["Concern about extremist material shared by a pupil."],
    "online_harm": ["Threats made in a group chat; screenshots provided by school.",
                    "Young person contacted online by an unknown adult.",
                    "Fight filmed and shared online."],
    "other": ["Shoplifting by young people.", "Welfare concern about a young person out late.",
              "Criminal damage to a bus shelter."],
}
BASE_SEVERITY = {"cse": 4, "cce": 4, "trafficking": 5, "missing": 3, "serious_youth_violence": 4,
                 "asb": 2, "drugs": 3, "weapons": 4, "peer_on_peer": 3, "radicalisation": 4,
                 "online_harm": 3, "other": 1}
SOURCES = {
    "asb": [(POLICE, .5), (CSP, .5)],
    "missing": [(POLICE, .7), (CS, .3)],
    "cse": [(POLICE, .5), (CS, .5)],
    "cce": [(POLICE, .6), (CS, .25), (YOUTH, .15)],
    "trafficking": [(POLICE, .7), (CS, .3)],
    "peer_on_peer": [(ACADEMY, .6), (CS, .4)],
    "online_harm": [(ACADEMY, .6), (CS, .4)],
    "radicalisation": [(ACADEMY, .5), (POLICE, .5)],
    "drugs": [(POLICE, .75), (NHS, .25)],
    "serious_youth_violence": [(POLICE, .8), (NHS, .2)],
    "weapons": [(POLICE, 1.0)],
    "other": [(POLICE, .7), (CSP, .3)],
}
BG_AREAS = {  # share of background incidents, hour profile, category weights
    "streets": (.38, "background", {"asb": 35, "drugs": 10, "serious_youth_violence": 10,
                                    "weapons": 6, "other": 20, "missing": 7, "cce": 5,
                                    "cse": 3, "trafficking": 2, "radicalisation": 1,
                                    "peer_on_peer": 1}),
    "station": (.09, "evening", {"asb": 25, "cce": 20, "trafficking": 8, "missing": 15,
                                 "drugs": 12, "cse": 8, "weapons": 5, "other": 7}),
    "park": (.13, "night", {"asb": 30, "drugs": 25, "serious_youth_violence": 12, "cse": 8,
                            "weapons": 8, "other": 12, "peer_on_peer": 5}),
    "estate": (.15, "evening", {"asb": 30, "drugs": 15, "cce": 10, "missing": 15,
                                "serious_youth_violence": 8, "weapons": 5, "other": 12,
                                "cse": 5}),
    "school": (.06, "school", {"peer_on_peer": 45, "online_harm": 35, "radicalisation": 5,
                               "asb": 15}),
    "shopping": (.07, "daytime", {"asb": 40, "other": 35, "drugs": 5, "cse": 5,
                                  "peer_on_peer": 5, "serious_youth_violence": 10}),
    "anywhere": (.12, "background", {"asb": 35, "drugs": 10, "serious_youth_violence": 8,
                                     "other": 25, "missing": 10, "cce": 5, "cse": 4,
                                     "weapons": 3}),
}
BG_MONTHLY_MEAN = 72.0  # before seasonality
BURGER_BEFORE, BURGER_AFTER_FACTOR = 32.0, 0.4
LIBRARY_BEFORE, LIBRARY_AFTER_FACTOR, YOUTH_CLUB_ASB_FACTOR = 6.0, 3.0, 0.6
BURGER_CATS = {"asb": 35, "drugs": 30, "cce": 15, "serious_youth_violence": 20}
LIBRARY_BEFORE_CATS = {"asb": 45, "other": 35, "missing": 10, "drugs": 10}
LIBRARY_AFTER_CATS = {"serious_youth_violence": 30, "drugs": 30, "cce": 20, "cse": 10,
                      "peer_on_peer": 10}  # plus ASB, generated separately


def wchoice(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def monthly_count(rng: random.Random, mean: float) -> int:
    """A count near ``mean``: noisy enough to look real, tight enough to keep the story."""
    return max(0, round(mean * rng.uniform(0.85, 1.15)))


class Town:
    """Shapely views of the town plan, used to sample locations and derive place keys."""

    def __init__(self) -> None:
        self.locality = shape(polygon_geojson(LOCALITY))
        self.polys = {
            "millfield-park": shape(polygon_geojson(PARK)),
            "eastbrook-academy": shape(polygon_geojson(SCHOOL)),
            "orchard-estate": shape(polygon_geojson(ESTATE)),
            "kingsgate-centre": shape(polygon_geojson(SHOPPING)),
        }
        self.street_len = {k: length(v) for k, v in STREETS.items()}

    @staticmethod
    def _contains_m(ring: list, x: float, y: float) -> bool:
        inside = False
        for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        return inside

    def in_ring(self, ring: list, rng: random.Random) -> tuple[float, float]:
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        while True:
            x, y = rng.uniform(min(xs), max(xs)), rng.uniform(min(ys), max(ys))
            if self._contains_m(ring, x, y):
                return x, y

    def on_street(self, rng: random.Random, offset: float = 9.0) -> tuple[float, float]:
        names = list(STREETS)
        name = rng.choices(names, weights=[self.street_len[n] for n in names])[0]
        x, y, ux, uy = along(STREETS[name], rng.uniform(0, self.street_len[name]))
        o = rng.uniform(-offset, offset)
        return x - uy * o, y + ux * o

    def place_key(self, x: float, y: float) -> str:
        for key, (px, py), r in (("burger-hub", BURGER_HUB, STORY_RADIUS_M),
                                 ("eastbrook-library", LIBRARY, STORY_RADIUS_M),
                                 ("eastbrook-station", STATION, 60.0)):
            if math.hypot(x - px, y - py) <= r:
                return key
        for key, ring in (("kingsgate-centre", SHOPPING), ("millfield-park", PARK),
                          ("eastbrook-academy", SCHOOL), ("orchard-estate", ESTATE)):
            if self._contains_m(ring, x, y):
                return key
        for (x1, y1), (x2, y2) in zip(HIGH_STREET, HIGH_STREET[1:], strict=False):
            dx, dy = x2 - x1, y2 - y1
            t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
            if math.hypot(x - (x1 + t * dx), y - (y1 + t * dy)) <= 15.0:
                return "high-street"
        return ""


def near(rng: random.Random, centre: tuple[float, float], sd: float, cap: float) -> tuple:
    r = min(cap, abs(rng.gauss(0.0, sd)))
    a = rng.uniform(0, 2 * math.pi)
    return centre[0] + r * math.cos(a), centre[1] + r * math.sin(a)


def make_incidents(seed: int, town: Town) -> list[dict]:
    rng = random.Random(f"{seed}-incidents")
    raw = []

    def add(local: datetime, xy: tuple, cat: str, extra_sources=()) -> None:
        srcs = list(SOURCES[cat]) + list(extra_sources)
        src = rng.choices([s for s, _ in srcs], weights=[w for _, w in srcs])[0]
        sev = min(5, max(1, BASE_SEVERITY[cat] + rng.choice((-1, 0, 0, 0, 1))))
        raw.append({"utc": local_to_utc(local), "x": xy[0], "y": xy[1], "category": cat,
                    "severity": sev, "source_agency": src,
                    "description": rng.choice(CATEGORY_TEXT[cat])})

    areas = list(BG_AREAS)
    for mi, (y, m) in enumerate(MONTHS):
        after = mi >= 12
        # Burger Hub: steady through 2024, WiFi off on 2025-01-01 -> ~60% fewer.
        mean = BURGER_BEFORE * (BURGER_AFTER_FACTOR if after else 1.0)
        for _ in range(monthly_count(rng, mean)):
            prof = "afterschool" if rng.random() < 0.5 else "evening"
            add(pick_time(rng, y, m, prof), near(rng, BURGER_HUB, 30, 75),
                wchoice(rng, BURGER_CATS), [(BURGER_CO, .15)])
        # Library: quiet in 2024; the displaced groups arrive in 2025 (after-school peak);
        # the youth club from July 2025 cuts ASB by ~40%.
        if not after:
            for _ in range(monthly_count(rng, LIBRARY_BEFORE)):
                add(pick_time(rng, y, m, "daytime"), near(rng, LIBRARY, 30, 75),
                    wchoice(rng, LIBRARY_BEFORE_CATS), [(LIBRARY_SVC, .2)])
        else:
            total = LIBRARY_BEFORE * LIBRARY_AFTER_FACTOR
            n_asb = total / 2 * (YOUTH_CLUB_ASB_FACTOR if date(y, m, 1) >= YOUTH_CLUB else 1)
            cats = ["asb"] * monthly_count(rng, n_asb) + [
                wchoice(rng, LIBRARY_AFTER_CATS) for _ in range(monthly_count(rng, total / 2))]
            for cat in cats:
                prof = "afterschool" if rng.random() < 0.75 else "evening"
                add(pick_time(rng, y, m, prof), near(rng, LIBRARY, 30, 75), cat,
                    [(LIBRARY_SVC, .3)])
        # Background: spread over the locality, evenings and weekends, summer higher.
        season = 1 + 0.18 * math.cos(2 * math.pi * (m - 7) / 12)
        for _ in range(monthly_count(rng, BG_MONTHLY_MEAN * season)):
            area = rng.choices(areas, weights=[BG_AREAS[a][0] for a in areas])[0]
            _, prof, cats = BG_AREAS[area]
            if area == "streets":
                xy = town.on_street(rng)
            elif area == "station":
                xy = near(rng, STATION, 30, 58)
            elif area == "park":
                xy = town.in_ring(PARK, rng)
            elif area == "estate":
                xy = town.in_ring(ESTATE, rng)
            elif area == "school":
                xy = town.in_ring(SCHOOL, rng)
            elif area == "shopping":
                xy = town.in_ring(SHOPPING, rng)
            else:
                xy = town.in_ring(LOCALITY, rng)
            add(pick_time(rng, y, m, prof), xy, wchoice(rng, cats))

    raw.sort(key=lambda r: (r["utc"], r["x"], r["y"]))
    out = []
    for i, r in enumerate(raw, start=1):
        u = rng.random()
        t = r["utc"]
        if u < 0.6:
            precision, when = "exact", t
        elif u < 0.8:
            precision, when = "day", datetime(t.year, t.month, t.day)
        else:
            precision, when = "month", datetime(t.year, t.month, 1)
        lon, lat = lonlat(r["x"], r["y"])
        out.append({
            "ref": f"EB-INC-{i:05d}", "occurred_at": iso_z(when), "precision": precision,
            "lon": f"{lon:.6f}", "lat": f"{lat:.6f}", "category": r["category"],
            "severity": r["severity"], "source_agency": r["source_agency"],
            "place_key": town.place_key(r["x"], r["y"]), "description": r["description"],
        })
    return out


# ---------------------------------------------------------------------------- feature layers

FAST_FOOD_NAMES = [
    ("Cluckers Fried Chicken", "chicken"), ("Golden Wok Takeaway", "chinese"),
    ("Pizza Vesuvio", "pizza"), ("Kebab Corner", "kebab"), ("The Chippy", "fish_and_chips"),
    ("Peri Peri Place", "chicken"), ("Dough & Go", "pizza"), ("Sizzle Grill", "burger"),
    ("Noodle Box", "noodle"), ("Fry Days", "fish_and_chips"), ("Bap Shack", "sandwich"),
]


def make_layers(seed: int, town: Town) -> dict[str, list[dict]]:
    rng = random.Random(f"{seed}-layers")

    def feat(xy, name, osm_id, tags):
        return {"type": "Feature", "geometry": point_geojson(*xy),
                "properties": {"name": name, "osm_id": osm_id, "tags": tags}}

    hs_len = length(HIGH_STREET)
    fast = [feat(BURGER_HUB, "Burger Hub", -1001,
                 {"amenity": "fast_food", "cuisine": "burger", "internet_access": "no"})]
    for i, (name, cuisine) in enumerate(FAST_FOOD_NAMES):
        if i < 7:
            x, y, ux, uy = along(HIGH_STREET, hs_len * (i + 0.5) / 7.3 + rng.uniform(-20, 20))
            side = 1 if i % 2 else -1
            xy = (x - uy * 14 * side, y + ux * 14 * side)
        elif i < 9:
            xy = near(rng, STATION, 40, 70)
        else:
            xy = town.in_ring([(-290, -230), (-230, -230), (-230, -120), (-290, -120)], rng)
        fast.append(feat(xy, name, -1002 - i, {"amenity": "fast_food", "cuisine": cuisine}))

    stops = []
    spots = [("High Street", 0.1), ("High Street", 0.3), ("High Street", 0.5),
             ("High Street", 0.72), ("High Street", 0.92), ("Mill Lane", 0.35),
             ("Mill Lane", 0.8), ("Church Street", 0.2), ("Church Street", 0.55),
             ("Church Street", 0.9), ("Station Road", 0.3), ("Station Road", 0.75),
             ("Orchard Way", 0.3), ("Orchard Way", 0.65), ("Orchard Way", 0.95),
             ("School Lane", 0.4), ("School Lane", 0.8), ("Park Road", 0.1),
             ("Park Road", 0.35), ("Park Road", 0.65), ("Park Road", 0.9),
             ("Southgate", 0.15), ("Southgate", 0.55), ("Southgate", 0.85),
             ("Northgate", 0.5)]
    for i, (street, frac) in enumerate(spots):
        pts = STREETS[street]
        x, y, ux, uy = along(pts, length(pts) * frac)
        side = 1 if i % 2 else -1
        stops.append(feat((x - uy * 8 * side, y + ux * 8 * side), f"{street} (stop {i + 1})",
                          -2001 - i, {"highway": "bus_stop", "shelter": rng.choice(
                              ["yes", "yes", "no"])}))

    lights = []
    total = sum(town.street_len.values())
    spacing = total / 300.0
    n = 0
    for street, pts in STREETS.items():
        d = spacing / 2
        k = 0
        while d < town.street_len[street]:
            x, y, ux, uy = along(pts, d)
            side = 1 if k % 2 else -1
            n += 1
            lamp = rng.choices(["LED", "sodium"], weights=[3, 1])[0]
            tags = {"highway": "street_lamp", "lamp_type": "electric", "light:method": lamp}
            if rng.random() < 0.04:
                tags["operational_status"] = "broken"
            lights.append(feat((x - uy * 6 * side, y + ux * 6 * side), f"{street} lamp {k + 1}",
                               -3000 - n, tags))
            d += spacing
            k += 1

    offs = []
    off_spots = [near(rng, STATION, 40, 70), near(rng, (-420, 5), 10, 20),
                 near(rng, (40, 28), 10, 20), (-265, -300), (300, -395),
                 near(rng, (-60, 470), 10, 20)]
    off_names = ["Station Wines", "High Street Booze & News", "Corner Cellar",
                 "Orchard Off-Licence", "Southgate Mini Market", "Northgate Convenience"]
    for i, (xy, name) in enumerate(zip(off_spots, off_names, strict=True)):
        offs.append(feat(xy, name, -4001 - i, {"shop": "alcohol" if i < 3 else "convenience",
                                                "opening_hours": "08:00-23:00"}))
    return {"fast_food_outlets": fast, "bus_stops": stops, "street_lights": lights,
            "off_licences": offs}


# --------------------------------------------------------------------------------- people

FIRST_NAMES = [
    "Ava", "Ben", "Chloe", "Daniel", "Ella", "Finley", "Grace", "Harry", "Isla", "Jack",
    "Kian", "Leah", "Mason", "Nia", "Oscar", "Poppy", "Reece", "Sophie", "Tyler", "Zara",
    "Aaron", "Bethany", "Callum", "Demi", "Ethan", "Freya", "George", "Hollie", "Imran",
    "Jade", "Kyle", "Lacey", "Marcus", "Niamh", "Owen", "Paige", "Rhys", "Shannon", "Theo",
    "Amira", "Dylan", "Kelsey", "Luca", "Maisie", "Nathan", "Ruby", "Sami",
]
SURNAMES = [
    "Quillborne", "Vexhollow", "Pimbleworth", "Ashquiver", "Dapplemere", "Fernwhistle",
    "Goblethorpe", "Hollowbeck", "Inkridge", "Jumbleton", "Kettlewisp", "Larkspindle",
    "Mossgrave", "Oddlebury", "Puddingfield", "Quenchley", "Rumblesworth", "Snickleby",
    "Tumbleworth", "Umberwick", "Vandersnoot", "Wobbleton", "Yarrowick", "Zephyrdale",
    "Brindlemoss", "Crumbleigh", "Dimplethorn", "Eddlewick", "Fizzlecombe", "Glimmerford",
    "Hobblesworth", "Jinglethorpe", "Knucklebury", "Lollingham", "Muddlecombe", "Nimblewick",
    "Pinglethorpe", "Quibbleford", "Rattleby", "Sprocketts", "Tinkerbeck", "Wimbleforth",
    "Zanzibarr", "Bumbleridge", "Cobbleswick",
]
# Four friendship groups of young people (pseudonym numbers), then adults.
GROUPS = {
    "A": (range(1, 13), ["14-15"] * 7 + ["16-17"] * 5),  # Burger Hub -> library
    "B": (range(13, 23), ["14-15"] * 4 + ["16-17"] * 5 + ["18-24"]),  # Burger Hub -> library
    "C": (range(23, 33), ["10-13"] * 6 + ["14-15"] * 4),  # library regulars throughout
    "D": (range(33, 41), ["14-15"] * 3 + ["16-17"] * 4 + ["18-24"]),  # park, estate, station
}
ADULTS_OF_CONCERN = ["25+", "18-24", "18-24", "25+"]
TRUSTED_ADULTS = ["25+", "25+", "25+"]  # youth worker, librarian, football coach
BAND_YEARS = {"10-13": (2012, 2014), "14-15": (2010, 2010), "16-17": (2008, 2008),
              "18-24": (2001, 2006), "25+": (1965, 1998)}


def yp(n: int) -> str:
    return f"YP-{n:03d}"


def make_people(seed: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(f"{seed}-people")
    people = []
    for _, (nums, bands) in GROUPS.items():
        for n, band in zip(nums, bands, strict=True):
            people.append({"pseudonym": yp(n), "kind": "young_person", "age_band": band})
    for i, band in enumerate(ADULTS_OF_CONCERN, start=1):
        people.append({"pseudonym": f"AD-{i:03d}", "kind": "adult_of_concern", "age_band": band})
    for i, band in enumerate(TRUSTED_ADULTS, start=1):
        people.append({"pseudonym": f"TA-{i:03d}", "kind": "trusted_adult", "age_band": band})

    firsts = list(FIRST_NAMES)
    surnames = list(SURNAMES)
    rng.shuffle(firsts)
    rng.shuffle(surnames)
    refs = rng.sample(range(10000, 100000), len(people))
    identities = []
    for i, p in enumerate(people):
        y0, y1 = BAND_YEARS[p["age_band"]]
        year = rng.randint(y0, y1)
        dob = date(year, 1, 2) + timedelta(days=rng.randint(0, 362))
        identities.append({"pseudonym": p["pseudonym"],
                           "name": f"{firsts[i % len(firsts)]} {surnames[i % len(surnames)]}",
                           "date_of_birth": dob.isoformat(),
                           "case_reference": f"EB-CS-{refs[i]:05d}"})
    # Siblings share a surname (see relationships).
    by = {r["pseudonym"]: r for r in identities}
    for a, b in SIBLINGS:
        by[b]["name"] = by[b]["name"].split(" ")[0] + " " + by[a]["name"].split(" ", 1)[1]
    return people, identities


SIBLINGS = [(yp(5), yp(27)), (yp(16), yp(36))]

# Case fields of young people for the partnership dashboard: category weights, and the
# case statuses plausible for each category (more serious categories, more statutory).
CATEGORY_WEIGHTS = {"none": 30, "cse_1": 12, "cse_2": 9, "cse_3": 5, "other_exploitation": 10,
                    "cce": 22, "missing": 12}
STATUS_BY_CATEGORY = {
    "none": ("not_open", "not_open", "early_help"),
    "cse_1": ("early_help", "open_case", "child_in_need"),
    "cse_2": ("child_in_need", "open_case", "child_protection"),
    "cse_3": ("child_protection", "looked_after"),
    "other_exploitation": ("early_help", "open_case", "child_in_need"),
    "cce": ("open_case", "child_in_need", "child_protection", "looked_after"),
    "missing": ("early_help", "child_in_need", "looked_after"),
}
RECORDED_FROM, RECORDED_TO = date(2024, 7, 1), REFERENCE_TODAY - timedelta(days=5)
ASSESSED_FROM, ASSESSED_TO = date(2025, 7, 1), REFERENCE_TODAY - timedelta(days=5)


def add_case_fields(seed: int, people: list[dict]) -> None:
    """Give each young person a category, case status, last risk assessment and the date
    their record was created (own random stream, so the other files do not change).
    """
    rng = random.Random(f"{seed}-case-fields")
    span = (RECORDED_TO - RECORDED_FROM).days
    assessed_span = (ASSESSED_TO - ASSESSED_FROM).days
    for p in people:
        p.update(exploitation_category="", case_status="", last_risk_assessment_on="",
                 recorded_on="")
        if p["kind"] != "young_person":
            continue
        category = wchoice(rng, CATEGORY_WEIGHTS)
        recorded = RECORDED_FROM + timedelta(days=rng.randint(0, span))
        assessed = ""
        if category != "none" or rng.random() < 0.3:
            day = ASSESSED_FROM + timedelta(days=rng.randint(0, assessed_span))
            assessed = max(day, recorded).isoformat()
        p.update(exploitation_category=category,
                 case_status=rng.choice(STATUS_BY_CATEGORY[category]),
                 last_risk_assessment_on=assessed, recorded_on=recorded.isoformat())


def make_relationships(seed: int) -> list[dict]:
    rng = random.Random(f"{seed}-relationships")
    rows = []

    def rel(a, b, typ, val, strength, source, since, until=""):
        rows.append({"a_pseudonym": a, "b_pseudonym": b, "type": typ, "valence": val,
                     "strength": strength, "source": source, "since": since, "until": until})

    def some_date(y0: int, y1: int) -> str:
        return (date(y0, 1, 1) + timedelta(days=rng.randint(0, (y1 - y0 + 1) * 365 - 1))
                ).isoformat()

    for g, (nums, _) in GROUPS.items():
        members = [yp(n) for n in nums]
        k = len(members)
        pairs = set()
        for i in range(k):  # a ring keeps every group connected
            pairs.add((i, (i + 1) % k))
        for i in range(k):
            for j in range(i + 2, k):
                if rng.random() < 0.42:
                    pairs.add((i, j))
        for i, j in sorted(pairs):
            a, b = sorted((members[i], members[j]))
            rel(a, b, "friend", "protective" if rng.random() < 0.55 else "neutral",
                rng.choice((1, 2, 2, 3, 3)),
                rng.choice(("peer_assessment", "peer_assessment", "school", "youth_service")),
                some_date(2021 if g == "C" else 2020, 2023))
    # Bridges between groups: siblings, school peers, online contact.
    for a, b in SIBLINGS:
        rel(a, b, "sibling", "protective", 3, "school", "")
    for a, b, typ, src in [(yp(3), yp(14), "school_peer", "school"),
                           (yp(9), yp(19), "school_peer", "school"),
                           (yp(21), yp(35), "school_peer", "school"),
                           (yp(11), yp(24), "online", "peer_assessment"),
                           (yp(7), yp(15), "online", "peer_assessment")]:
        rel(a, b, typ, "neutral", 1, src, some_date(2022, 2024))
    # A harmful peer relationship inside group D (peer-on-peer abuse), ended.
    rel(yp(34), yp(38), "partner", "harmful", 2, "youth_service", "2024-02-10", "2025-03-31")
    # Adults of concern: each tied to young people in at least two groups.
    aoc = {
        "AD-001": [(1, "exploitative", "2024-02-15", ""), (2, "exploitative", "2024-03-02", ""),
                   (4, "associate", "2024-04-20", ""), (13, "exploitative", "2024-05-11", ""),
                   (17, "associate", "2024-06-01", "")],
        "AD-002": [(15, "exploitative", "2024-07-19", ""), (20, "associate", "2024-08-03", ""),
                   (33, "exploitative", "2023-11-12", ""), (37, "associate", "2024-01-30", "")],
        "AD-003": [(6, "exploitative", "2025-02-03", ""), (10, "associate", "2025-02-17", ""),
                   (29, "exploitative", "2025-03-21", "")],
        "AD-004": [(36, "exploitative", "2024-05-05", "2025-06-30"),
                   (39, "associate", "2024-05-05", ""), (8, "exploitative", "2024-10-14", ""),
                   (26, "exploitative", "2025-04-09", "")],
    }
    for adult, ties in aoc.items():
        for n, typ, since, until in ties:
            rel(adult, yp(n), typ, "harmful", 3 if typ == "exploitative" else 2,
                rng.choice(("police", "police", "youth_service", "peer_assessment")), since,
                until)
    trusted = {
        "TA-001": [(1, "2024-09-01"), (5, "2024-09-01"), (12, "2025-07-07"), (14, "2025-07-07"),
                   (18, "2025-07-14")],  # youth worker; runs the library youth club
        "TA-002": [(23, "2023-01-10"), (25, "2023-01-10"), (30, "2023-06-01"),
                   (3, "2025-03-03")],  # librarian
        "TA-003": [(33, "2022-09-01"), (35, "2022-09-01"), (40, "2023-09-01"),
                   (16, "2023-09-01")],  # football coach
    }
    for adult, ties in trusted.items():
        for n, since in ties:
            rel(adult, yp(n), "associate", "protective", 2, "youth_service", since)
    return rows


def make_presences(seed: int) -> list[dict]:
    rng = random.Random(f"{seed}-presences")
    rows = []

    def pres(p, key, freq, times, since, until, source):
        rows.append({"pseudonym": p, "place_key": key, "frequency": freq, "times": times,
                     "since": since, "until": until, "source": source})

    for g in ("A", "B"):
        for n in GROUPS[g][0]:
            p = yp(n)
            since = date(2023, 9, 4) + timedelta(days=rng.randint(0, 150))
            pres(p, "burger-hub", rng.choice(("daily", "daily", "weekly")),
                 "after school; evenings", since.isoformat(), "2024-12-31", "peer_assessment")
            moved = date(2025, 1, 2) + timedelta(days=rng.randint(0, 26))
            pres(p, "eastbrook-library", rng.choice(("daily", "daily", "weekly")),
                 "after school", moved.isoformat(), "", "peer_assessment")
            if rng.random() < 0.4:
                pres(p, "high-street", "weekly", "weekends", since.isoformat(), "", "youth_service")
            if rng.random() < 0.5:
                pres(p, "group-chat-snapchat", "daily", "evenings", "2024-01-01", "",
                     "peer_assessment")
    for n in GROUPS["C"][0]:
        since = date(2023, 1, 9) + timedelta(days=rng.randint(0, 300))
        pres(yp(n), "eastbrook-library", rng.choice(("weekly", "weekly", "daily")),
             "after school", since.isoformat(), "", "school")
    for n in GROUPS["D"][0]:
        since = date(2023, 4, 1) + timedelta(days=rng.randint(0, 300))
        pres(yp(n), "millfield-park", "weekly", "evenings", since.isoformat(), "", "youth_service")
        if rng.random() < 0.6:
            pres(yp(n), "orchard-estate", "daily", "evenings", since.isoformat(), "",
                 "youth_service")
        if rng.random() < 0.5:
            pres(yp(n), "eastbrook-station", "occasional", "weekends", since.isoformat(), "",
                 "police")
    pres("AD-001", "burger-hub", "weekly", "after school", "2024-02-01", "2024-12-31", "police")
    pres("AD-001", "eastbrook-library", "weekly", "after school", "2025-01-20", "", "police")
    pres("AD-002", "eastbrook-station", "weekly", "evenings", "2023-10-01", "", "police")
    pres("AD-003", "eastbrook-library", "occasional", "after school", "2025-02-01", "",
         "youth_service")
    pres("AD-004", "group-chat-snapchat", "daily", "evenings", "2024-05-01", "", "police")
    pres("AD-004", "millfield-park", "occasional", "evenings", "2024-05-01", "", "police")
    pres("TA-001", "eastbrook-library", "weekly", "after school (youth club)", "2025-07-07", "",
         "youth_service")
    pres("TA-002", "eastbrook-library", "daily", "opening hours", "2019-04-01", "",
         "youth_service")
    pres("TA-003", "millfield-park", "weekly", "weekends", "2022-09-01", "", "youth_service")
    return rows


# ------------------------------------------------------------------- visits and factors

OBSERVATIONS = [
    # place, observer, local start, minutes, weather, light, (10-13, 14-15, 16-17), adults,
    # staff, guardianship, lighting, sight lines, cctv, dealing, drug use, safe, unsafe, notes
    ("burger-hub", PRACTITIONER, "2024-03-14 15:30", 90, "dry, cold", "daylight", (4, 22, 15),
     3, 2, "low", "good", "adequate", "present_not_working", True, True,
     "Staff greet young people by name; bright inside.",
     "Older males outside handing small packages to young people; staff stay behind counter.",
     "About 40 young people arrived 15:20-15:40, most using the free WiFi at window tables."),
    ("burger-hub", PRACTITIONER, "2024-06-20 19:00", 75, "warm, clear", "daylight",
     (2, 18, 20), 5, 2, "low", "good", "poor", "present_not_working", True, True,
     "Busy street; passers-by.",
     "Side alley by the bins used for dealing; cannabis smell; a car waiting with engine on.",
     "Two groups of young people mixing; a scuffle at 19:40 broken up by staff."),
    ("burger-hub", PEER_ASSESSOR, "2024-10-17 18:30", 90, "drizzle", "dark", (1, 20, 24), 4, 2,
     "none", "adequate", "poor", "present_not_working", True, True,
     "Young people said staff are kind to them.",
     "Adults approaching young people at the door; no one challenges them.",
     "Young people say they come 'for the WiFi and because everyone is here'."),
    ("burger-hub", PRACTITIONER, "2025-02-13 15:30", 60, "dry, cold", "daylight", (2, 5, 3), 2, 3,
     "moderate", "good", "adequate", "present_working", False, False,
     "Calmer; manager says CCTV repaired since the WiFi went off.",
     "Nothing specific.",
     "WiFi off now. Young people who used to gather here now go to the library."),
    ("burger-hub", PRACTITIONER, "2025-09-11 16:00", 60, "sunny", "daylight", (3, 6, 4), 1, 3,
     "moderate", "good", "adequate", "present_working", False, False,
     "Staff trained and confident to speak to young people.", "Nothing specific.",
     "Low numbers; no signs of dealing."),
    ("eastbrook-library", PRACTITIONER, "2024-05-09 15:45", 75, "showers", "daylight", (6, 4, 1),
     1, 4, "strong", "good", "good", "present_working", False, False,
     "Quiet study tables; librarians know the regulars.", "Nothing specific.",
     "Mostly younger pupils doing homework."),
    ("eastbrook-library", PRACTITIONER, "2025-01-23 15:30", 90, "cold, dry", "dusk",
     (8, 35, 27), 4, 3, "low", "adequate", "poor", "present_not_working", True, True,
     "Warm inside; some young people said it is somewhere to be together.",
     "Unknown adults waiting at the entrance after school; staff outnumbered.",
     "About 70 young people arrived 15:20-16:00; the younger regulars left early."),
    ("eastbrook-library", PEER_ASSESSOR, "2025-03-06 15:30", 90, "windy", "daylight",
     (10, 38, 30), 5, 3, "low", "adequate", "poor", "present_not_working", True, True,
     "Staff keep the children's area separate.",
     "Fight outside at 16:45; two adults watching from a car on Church Street.",
     "Up to 80 young people at peak; staff say they feel unable to intervene."),
    ("eastbrook-library", PRACTITIONER, "2025-04-24 17:00", 60, "mild", "daylight", (6, 30, 25),
     3, 3, "low", "adequate", "poor", "present_working", True, False,
     "Young people asked about a youth club.",
     "Groups from two schools meeting outside; tension between groups.",
     "CCTV repaired; the side path remains a blind spot."),
    ("eastbrook-library", PRACTITIONER, "2025-08-14 15:30", 90, "warm", "daylight", (12, 25, 14),
     2, 5, "strong", "good", "adequate", "present_working", False, False,
     "Youth club in the meeting room; youth workers and library staff talk to young people.",
     "One unknown adult at the entrance, left when approached by staff.",
     "Pop-up youth club running for six weeks; staff completed bystander training."),
    ("eastbrook-library", PEER_ASSESSOR, "2025-11-20 15:30", 90, "cold, rain", "dusk",
     (9, 28, 18), 2, 5, "strong", "good", "adequate", "present_working", False, False,
     "Young people say the youth club is 'ours'.", "Dark path to the bus stop after 17:00.",
     "Calmer than before the youth club; new lighting on the side path requested."),
    ("millfield-park", PRACTITIONER, "2024-08-22 21:30", 75, "warm, dry", "dark", (0, 8, 12), 3,
     0, "none", "poor", "poor", "none", True, True,
     "Skate area busy and friendly early in the evening.",
     "No lighting on the paths; groups near the pavilion using drugs; adults arriving by car.",
     "Paths unlit after dusk; pavilion roof used to hide items."),
    ("eastbrook-station", PEER_ASSESSOR, "2025-04-10 19:00", 60, "dry", "dusk", (0, 4, 7), 6, 1,
     "low", "adequate", "adequate", "present_working", True, False,
     "Staffed ticket office until 20:00.",
     "Young people meeting adults off trains and walking off together.",
     "Pattern consistent with county lines travel."),
]

Y2024, H1_2025 = ("2024-01", "2024-12"), ("2025-01", "2025-06")
SAFETY_FACTORS = [
    # place, quadrant, statement, weight, confidence, voice,
    # (evidence incident categories, (first month, last month)), observation indexes
    ("burger-hub", "risk", "Older males seen handing packages to young people outside the "
     "restaurant after school", 3, "high", "professional", (["drugs", "cce"], Y2024), [0, 1, 2]),
    ("burger-hub", "risk", "Free WiFi and window seating draw large groups who stay for hours",
     2, "high", "business", (["asb"], Y2024), [0, 2]),
    ("burger-hub", "vulnerability", "Many young people in the group are 14-15 and out until late",
     2, "medium", "data", (["asb", "serious_youth_violence"], Y2024), [1, 2]),
    ("burger-hub", "vulnerability", "CCTV not working and the side alley is out of sight", 2,
     "high", "professional", ([], Y2024), [0, 1]),
    ("burger-hub", "resilience", "Young people say staff are kind and know them by name", 1,
     "medium", "child", ([], Y2024), [0, 2]),
    ("burger-hub", "resource", "Franchise manager willing to change the layout and WiFi", 3,
     "high", "business", ([], Y2024), [3]),
    ("burger-hub", "resource", "CCTV repaired and staff trained to speak to young people", 2,
     "medium", "business", ([], H1_2025), [3, 4]),
    ("burger-hub", "resilience", "Some young people look out for younger ones and walk them home",
     1, "low", "child", ([], Y2024), [2]),
    ("eastbrook-library", "risk", "Unknown adults seen meeting young people at the library "
     "entrance after school", 3, "high", "professional",
     (["cce", "cse", "drugs"], H1_2025), [6, 7, 9]),
    ("eastbrook-library", "risk", "Fights between groups from two schools outside the library",
     2, "high", "data", (["serious_youth_violence"], H1_2025), [7, 8]),
    ("eastbrook-library", "vulnerability", "Staff outnumbered after school and unsure how to "
     "intervene", 2, "high", "professional", (["asb"], H1_2025), [6, 7]),
    ("eastbrook-library", "vulnerability", "Side path to the bus stop is dark and out of sight",
     2, "medium", "community", ([], H1_2025), [8, 10]),
    ("eastbrook-library", "resilience", "Young people describe the library as warm and "
     "somewhere they can be together", 2, "high", "child", ([], H1_2025), [6, 10]),
    ("eastbrook-library", "resilience", "Younger regulars and their families value the library "
     "and want it back", 1, "medium", "family", ([], H1_2025), [5]),
    ("eastbrook-library", "resource", "Library staff willing to take part in bystander training",
     3, "high", "professional", ([], H1_2025), [8, 9]),
    ("eastbrook-library", "resource", "Meeting room free after school for a pop-up youth club",
     3, "high", "community", ([], H1_2025), [9, 10]),
]


def make_observations() -> list[dict]:
    out = []
    for (key, email, start, minutes, weather, light, bands, adults, staff, guard, lighting,
         sight, cctv, dealing, drugs, safe, unsafe, notes) in OBSERVATIONS:
        t0 = datetime.strptime(start, "%Y-%m-%d %H:%M")
        out.append({
            "place_key": key, "observer_email": email,
            "started_at": iso_z(local_to_utc(t0)),
            "ended_at": iso_z(local_to_utc(t0 + timedelta(minutes=minutes))),
            "weather": weather, "light": light,
            "young_people_by_age_band": dict(zip(("10-13", "14-15", "16-17"), bands, strict=True)),
            "adults_present": adults, "staff_guardians_present": staff, "guardianship": guard,
            "lighting": lighting, "sight_lines": sight, "cctv": cctv,
            "signs_of_dealing": dealing, "signs_of_drug_use": drugs,
            "felt_safe": safe, "felt_unsafe": unsafe, "notes": notes,
        })
    return out


def make_factors(seed: int, incidents: list[dict], observations: list[dict]) -> list[dict]:
    rng = random.Random(f"{seed}-factors")
    out = []
    for key, quadrant, statement, weight, conf, voice, (cats, (lo, hi)), obs in SAFETY_FACTORS:
        refs = []
        if cats:
            pool = [i["ref"] for i in incidents if i["place_key"] == key
                    and i["category"] in cats and lo <= i["occurred_at"][:7] <= hi]
            refs = sorted(rng.sample(pool, min(4, len(pool))))
        assert all(observations[i]["place_key"] == key for i in obs), statement
        out.append({"place_key": key, "quadrant": quadrant, "statement": statement,
                    "weight": weight, "confidence": conf, "voice": voice,
                    "evidence_incident_refs": refs, "evidence_observation_indexes": obs})
    return out


# -------------------------------------------------------- safety maps, listening, awareness

SAFETY_MAPS = [
    # id, drawn on, period, rating, centre, radius, reason, respondent group
    ("SM-01", "2024-05-16", "2024-Q2", "red", BURGER_HUB, 110,
     "Older boys hang around outside and offer you things", "Year 10 group"),
    ("SM-02", "2024-05-16", "2024-Q2", "green", LIBRARY, 90,
     "Quiet and the staff are nice", "Year 10 group"),
    ("SM-03", "2024-11-21", "2024-Q4", "red", BURGER_HUB, 130,
     "Fights after school and people selling", "Year 9 group"),
    ("SM-04", "2024-11-21", "2024-Q4", "amber", (-500, 360), 150,
     "Dark at night, no lights on the paths", "Year 9 group"),
    ("SM-05", "2024-12-05", "2024-Q4", "red", STATION, 100,
     "Men ask you to carry bags for them", "Youth service drop-in group"),
    ("SM-06", "2025-02-20", "2025-Q1", "red", LIBRARY, 120,
     "Everyone goes there now; fights and people watching you", "Year 10 group"),
    ("SM-07", "2025-02-20", "2025-Q1", "amber", BURGER_HUB, 100,
     "Calmer since the WiFi went off but some people still wait outside", "Year 10 group"),
    ("SM-08", "2025-05-15", "2025-Q2", "red", LIBRARY, 110,
     "Big kids took over the library so we can't do homework", "Year 8 group"),
    ("SM-09", "2025-05-15", "2025-Q2", "amber", (-500, 360), 140,
     "OK in the day, scary when it's dark", "Year 8 group"),
    ("SM-10", "2025-10-16", "2025-Q4", "amber", LIBRARY, 110,
     "Youth club helps and staff know us; still people outside sometimes", "Year 10 group"),
    ("SM-11", "2025-10-16", "2025-Q4", "green", BURGER_HUB, 90,
     "Nothing happens there any more", "Year 10 group"),
]

ENGAGEMENT = [
    ("2024-06-12", "children", "Year 10 tutor group at Eastbrook Academy (about 25 pupils)",
     "Pupils said Burger Hub is where everyone goes after school because of the WiFi, and that "
     "older people outside 'offer you jobs'.", ["burger-hub", "high-street"]),
    ("2024-09-25", "businesses", "High Street traders' meeting",
     "Traders reported groups outside Burger Hub and dealing in the side alley; the franchise "
     "manager offered to review WiFi and seating.", ["burger-hub", "high-street"]),
    ("2025-02-05", "services", "Library staff team",
     "Staff described up to 80 young people arriving after school since the restaurant "
     "turned its WiFi off, fights outside and unknown adults at the door; asked for training "
     "and support.",
     ["eastbrook-library"]),
    ("2025-03-12", "families", "Parents at the Church Street community centre coffee morning",
     "Parents of younger children said they stopped using the library after school; parents of "
     "older children asked for somewhere for teenagers to go.", ["eastbrook-library"]),
    ("2025-04-02", "children", "Youth service drop-in group (about 15 young people)",
     "Young people said the library is warm and somewhere to be together and asked for a youth "
     "club there; some said men wait for people by the side path.",
     ["eastbrook-library", "burger-hub"]),
    ("2025-10-08", "community", "Residents' meeting, Church Street",
     "Residents noticed fewer groups outside the library since the youth club opened and "
     "asked for better lighting on the side path.", ["eastbrook-library"]),
]

AWARENESS = [
    ("2024-10-03", "High Street businesses", "Briefing on spotting exploitation", 18,
     ["high-street", "burger-hub"]),
    ("2025-02-26", "Library and leisure staff", "Bystander training session", 14,
     ["eastbrook-library"]),
    ("2025-03-20", "Parents and carers", "Newsletter article via Eastbrook Academy", 640,
     ["eastbrook-library"]),
    ("2025-05-14", "Year 9 and 10 pupils", "Assembly on exploitation and safe places", 410,
     ["eastbrook-library", "burger-hub", "eastbrook-station"]),
    ("2025-06-18", "Station and bus staff", "Briefing on county lines travel", 22,
     ["eastbrook-station"]),
    ("2025-09-24", "Young people at the youth club", "Workshop on online grooming", 35,
     ["eastbrook-library", "group-chat-snapchat"]),
]


# ------------------------------------------------------------------ the partnership's work
# What the partnership has done by REFERENCE_TODAY: three review points held (the fourth is
# due in two weeks), the library's assessment approved and its plan sent for review. The
# loader replays these through the services at these (moved) dates and times, local time.
LIB_STAFF, POLICE_REVIEWER, CSP_REVIEWER = ("Eastbrook Library Service",
                                            "reviewer.police@demo.locmap.invalid",
                                            "reviewer.csp@demo.locmap.invalid")
REVIEW_POINTS = [
    (1, "2025-04-08",
     "Community Safety Partnership (chair), Youth Service, Children's Services, Midshire "
     "Police, Library Service",
     "Incidents around Burger Hub are down by more than half since its WiFi went off; "
     "incidents within 80 m of the library have nearly tripled, peaking on weekdays after "
     "school. Library staff have had bystander training. Staff and families describe up to "
     "80 young people arriving after school.",
     "Youth Service to open a pop-up youth club in the library meeting room. Police to "
     "patrol Church Street after school. Practitioners to keep visiting both places."),
    (2, "2025-07-08",
     "Community Safety Partnership (chair), Youth Service, Children's Services, Midshire "
     "Police, Library Service, Eastbrook Academy",
     "The pop-up youth club opened last week in the library meeting room. Library incidents "
     "are still high; the station briefing on county lines travel is done.",
     "Keep the youth club on weekdays 15:00-18:00 for at least six months. Measure library "
     "ASB monthly."),
    (3, "2025-10-07",
     "Community Safety Partnership (chair), Youth Service, Midshire Police, Library Service, "
     "residents' representative",
     "ASB at the library has fallen since the youth club opened; other library incidents are "
     "level. Residents ask for better lighting on the side path. Burger Hub's assessment "
     "and plan are approved.",
     "Practitioner to bring the library assessment up to date after the next visit and to "
     "write the library plan for the rest of the pilot; police and community safety to "
     "review both."),
]
# Burger Hub's assessment came after the September visit; its plan records the
# restaurant's response from the day the WiFi went off (so the displacement watch scans
# Burger Hub from that month).
HUB_ASSESSMENT = {
    "place_key": "burger-hub", "author": PRACTITIONER,
    "started_at": "2025-09-15 10:00", "submitted_at": "2025-09-17 15:00",
    "reviewers": [POLICE_REVIEWER, CSP_REVIEWER],
    "decisions": [(POLICE_REVIEWER, "2025-09-22 09:30", "approve", ""),
                  (CSP_REVIEWER, "2025-09-24 12:00", "approve", "")],
    "young_people": "Two friendship groups used the restaurant's WiFi after school until it "
                    "went off; few young people stay now.",
    "guardianship": "The franchise manager works with the partnership; staff call the police "
                    "when groups gather in the side alley.",
    "environment": "The side alley is out of sight of the street; CCTV works again.",
    "contexts": [("Burger Hub", 60, "The place being assessed"),
                 ("Eastbrook Library", 40, "Where the groups went")],
}
HUB_PLAN = {
    "created_at": "2025-09-29 10:00", "starts_on": WIFI_OFF.isoformat(),
    "submitted_at": "2025-09-30 11:00", "reviewers": [POLICE_REVIEWER, CSP_REVIEWER],
    "decisions": [(POLICE_REVIEWER, "2025-10-01 10:00", "approve", ""),
                  (CSP_REVIEWER, "2025-10-02 16:30", "approve", "")],
    "actions": [
        ("Turn the customer WiFi off", "do_things_differently",
         "Burger Hub Eastbrook (franchise)", "Franchise manager", "2025-01-01", "done"),
        ("Repair the CCTV over the side alley", "enhance_safe_behaviours_and_locations",
         "Burger Hub Eastbrook (franchise)", "Franchise manager", "2025-03-31", "done"),
    ],
}
ASSESSMENT = {
    "place_key": "eastbrook-library", "author": PRACTITIONER,
    "started_at": "2025-11-24 10:00", "submitted_at": "2025-12-01 16:00",
    "reviewers": [POLICE_REVIEWER, CSP_REVIEWER],
    "decisions": [(POLICE_REVIEWER, "2025-12-04 11:30", "comment",
                   "Agree with the weighting; our patrol data show the same after-school peak."),
                  (POLICE_REVIEWER, "2025-12-05 09:15", "approve", ""),
                  (CSP_REVIEWER, "2025-12-08 14:00", "approve", "")],
    "young_people": "Up to 80 young people, mostly 13-16, spend weekday afternoons at the "
                    "library since Burger Hub turned its WiFi off; two friendship groups "
                    "share it with the younger regulars. They say the youth club is theirs.",
    "guardianship": "Library staff are few after 16:00 and had bystander training; the youth "
                    "worker runs the club on weekdays. Two adults of concern wait outside.",
    "environment": "The side path to the bus stop is dark after 17:00; the study tables and "
                   "free WiFi draw groups; CCTV covers the entrance only.",
    "contexts": [("Eastbrook Library", 45, "Where the groups now meet after school"),
                 ("Peer groups A and B", 30, "The groups that moved from Burger Hub"),
                 ("Online group chat", 10, "Where meeting up is arranged"),
                 ("Burger Hub", 15, "Where the groups met before the WiFi went off")],
}
PLAN = {
    "created_at": "2025-12-09 10:00", "starts_on": "2025-12-09",
    "submitted_at": "2025-12-15 15:00", "reviewers": [POLICE_REVIEWER, CSP_REVIEWER],
    "decisions": [(POLICE_REVIEWER, "2025-12-18 10:45", "comment",
                   "We can cover the after-school patrol on Tuesdays and Thursdays only until "
                   "the end of March.")],
    "actions": [
        ("Keep the pop-up youth club open on weekdays 15:00-18:00",
         "enhance_safe_behaviours_and_locations", "Eastbrook Youth Service", "Youth worker",
         "2026-07-06", "in_progress"),
        ("Refresher bystander training for library and leisure staff", "build_resilience",
         LIB_STAFF, "Library manager", "2026-02-27", "planned"),
        ("Light the side path from the library to the bus stop", "allocate_resources",
         "Eastbrook Borough Council Parks and Open Spaces", "", "2026-03-31", "planned"),
        ("Police patrol on Church Street after school", "targeted_interventions",
         "Midshire Police", "Neighbourhood sergeant", "2026-01-31", "in_progress"),
        ("Invite Burger Hub to the High Street business safety forum", "connect_people",
         "Eastbrook Community Safety Partnership", "", "2026-04-30", "planned"),
    ],
}


def make_workflow() -> dict:
    def decisions(spec: dict) -> list[dict]:
        return [{"reviewer": e, "at": t, "decision": d, "comment": c}
                for e, t, d, c in spec["decisions"]]

    def assessment(a: dict, p: dict) -> dict:
        return {**a, "decisions": decisions(a),
                "contexts": [{"name": n, "share": s, "reason": r} for n, s, r in a["contexts"]],
                "plan": {**p, "decisions": decisions(p),
                         "actions": [{"description": d, "category": c, "owner_agency": o,
                                      "lead": ld, "due_on": due, "status": st}
                                     for d, c, o, ld, due, st in p["actions"]]}}

    return {
        "review_points": [{"number": n, "held_on": d, "attendees": a, "minutes": m,
                           "decisions": x} for n, d, a, m, x in REVIEW_POINTS],
        "assessments": [assessment(HUB_ASSESSMENT, HUB_PLAN), assessment(ASSESSMENT, PLAN)],
    }

# ------------------------------------------------------------------------------- writing


def dump_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def dump_fc(features: list[dict]) -> str:
    """A FeatureCollection with one feature per line (small, diff-friendly diffs)."""
    lines = [json.dumps(f, sort_keys=True, ensure_ascii=False) for f in features]
    return '{"features": [\n' + ",\n".join(lines) + '\n], "type": "FeatureCollection"}\n'


def dump_csv(rows: list[dict], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def build(seed: int) -> dict[str, str]:
    """Return every output file as {relative path: text}."""
    town = Town()
    files: dict[str, str] = {}
    files["pilot.json"] = dump_json({
        "name": "Eastbrook Town Centre",
        "locality": polygon_geojson(LOCALITY),
        "start_date": PILOT_START.isoformat(),
        "duration_months": 18,
        "review_interval_months": 3,
        "description": "Synthetic demo pilot. Eastbrook town centre: the High Street between "
                       "Millfield Park and the station, the library on Church Street and the "
                       "Orchard Estate. Partners responded after young people moved from "
                       "Burger Hub to the library when the restaurant turned its WiFi off, a "
                       "few days before the pilot began.",
        "reference_today": REFERENCE_TODAY.isoformat(),
    })
    files["agencies.json"] = dump_json([{"name": n, "kind": k} for n, k in AGENCIES])
    files["users.json"] = dump_json([
        {"email": e, "name": n, "agency": a, "role": r, "password": PASSWORD}
        for e, n, a, r in USERS])

    places = []
    for key, name, kind, geom, managed_by, notes in PLACES:
        if geom is None:
            g = None
        elif geom[0] == "point":
            g = point_geojson(*geom[1])
        elif geom[0] == "line":
            g = line_geojson(geom[1])
        else:
            g = polygon_geojson(geom[1])
        places.append({"type": "Feature", "geometry": g, "properties": {
            "key": key, "name": name, "kind": kind, "managed_by": managed_by, "osm_id": None,
            "notes": notes}})
    files["places.geojson"] = dump_fc(places)

    for name, feats in make_layers(seed, town).items():
        files[f"feature_layers/{name}.geojson"] = dump_fc(feats)

    incidents = make_incidents(seed, town)
    files["incidents.csv"] = dump_csv(incidents, [
        "ref", "occurred_at", "precision", "lon", "lat", "category", "severity",
        "source_agency", "place_key", "description"])

    observations = make_observations()
    files["observations.json"] = dump_json(observations)
    files["safety_factors.json"] = dump_json(make_factors(seed, incidents, observations))

    people, identities = make_people(seed)
    add_case_fields(seed, people)
    files["people.csv"] = dump_csv(people, [
        "pseudonym", "kind", "age_band", "exploitation_category", "case_status",
        "last_risk_assessment_on", "recorded_on"])
    files["identities.csv"] = dump_csv(identities, [
        "pseudonym", "name", "date_of_birth", "case_reference"])
    files["relationships.csv"] = dump_csv(make_relationships(seed), [
        "a_pseudonym", "b_pseudonym", "type", "valence", "strength", "source", "since", "until"])
    files["presences.csv"] = dump_csv(make_presences(seed), [
        "pseudonym", "place_key", "frequency", "times", "since", "until", "source"])

    rng = random.Random(f"{seed}-safety-maps")
    maps = []
    for map_id, drawn_on, period, rating, centre, radius, reason, group in SAFETY_MAPS:
        maps.append({"type": "Feature", "geometry": polygon_geojson(blob(*centre, radius, rng)),
                     "properties": {"map_id": map_id, "drawn_on": drawn_on, "period": period,
                                    "rating": rating, "reason": reason,
                                    "respondent_group": group}})
    files["safety_maps.geojson"] = dump_fc(maps)

    files["engagement.json"] = dump_json([
        {"held_on": d, "with_group": g, "group_description": gd, "summary": s, "place_keys": k}
        for d, g, gd, s, k in ENGAGEMENT])
    files["awareness.json"] = dump_json([
        {"held_on": d, "audience": a, "method": m, "reached": r, "place_keys": k}
        for d, a, m, r, k in AWARENESS])

    districts = []
    for name, lo, hi in DISTRICT_SPLITS:
        districts.append({"type": "Feature",
                          "geometry": polygon_geojson(clip_band(LOCALITY, lo, hi)),
                          "properties": {"name": name}})
    files["districts.geojson"] = dump_fc(districts)
    files["workflow.json"] = dump_json(make_workflow())
    files["basemap.osm"] = make_basemap()

    _check(files, town)
    return files


# ------------------------------------------------------------------------- the base map

ROAD_CLASS = {"High Street": "secondary", "Station Road": "tertiary", "Park Road": "tertiary",
              "Southgate": "tertiary"}
RAILWAY = [(650, -640), (640, -300), (630, 0), (640, 300), (655, 640)]
BROOK = [(-790, 420), (-560, 380), (-470, 330), (-300, 300), (-100, 330), (120, 390),
         (400, 420), (790, 400)]
POND = [(-560, 420), (-500, 410), (-470, 445), (-510, 475), (-565, 460)]
FOOTPATHS = {"Millfield Walk": [(-640, 215), (-520, 330), (-380, 505)],
             "Estate Walkway": [(-620, -380), (-460, -390), (-290, -400)]}
POIS = [  # extra named points so the base map reads like a town
    ("Eastbrook Post Office", (-60, 40), "amenity", "post_office"),
    ("St Mary's Church", (170, 330), "amenity", "place_of_worship"),
    ("Eastbrook Pharmacy", (40, -12), "amenity", "pharmacy"),
    ("The Red Lion", (330, 45), "amenity", "pub"),
    ("Orchard Community Centre", (-420, -300), "amenity", "community_centre"),
    ("Millfield Pavilion", (-470, 300), "leisure", "sports_centre"),
]
# Areas no terrace is drawn in: the park, school, shopping centre, estate (it has its own
# blocks), the station yard and the library's plot.
NO_HOUSES = [PARK, SCHOOL, SHOPPING, ESTATE, rect(540, -110, 700, 40), rect(170, 100, 240, 160)]


def _seg_dist(px: float, py: float, a: tuple, b: tuple) -> float:
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy or 1.0)))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def _inside(ring: list, x: float, y: float) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _terraces() -> list[list[tuple[float, float]]]:
    """Houses along both sides of every street: 11 x 8 m, 14 m from the centre line, one
    every 16 m, none on another street, in a park, school or the like.
    """
    lines = list(STREETS.values()) + list(FOOTPATHS.values()) + [RAILWAY]
    houses = []
    for pts in STREETS.values():
        total = length(pts)
        d = 12.0
        while d < total - 12.0:
            x, y, ux, uy = along(pts, d)
            for side in (1, -1):
                cx, cy = x - uy * 14.0 * side, y + ux * 14.0 * side
                corners = [(cx + ux * ex - uy * ey, cy + uy * ex + ux * ey)
                           for ex, ey in ((-5.5, -4), (5.5, -4), (5.5, 4), (-5.5, 4))]
                clear = all(_seg_dist(px, py, a, b) > 6.0 for px, py in corners + [(cx, cy)]
                            for line in lines for a, b in zip(line, line[1:], strict=False))
                if clear and not any(_inside(r, px, py) for r in NO_HOUSES
                                     for px, py in corners + [(cx, cy)]) \
                        and _inside(LOCALITY, cx, cy):
                    houses.append(corners)
            d += 16.0
    return houses


class _Osm:
    """A small OSM XML writer: nodes, then ways, then relations, ids in order."""

    def __init__(self) -> None:
        self.nodes: list[str] = []
        self.ways: list[str] = []
        self.next_node = 1
        self.next_way = 1

    @staticmethod
    def _tags(tags: dict[str, str]) -> str:
        return "".join(f'    <tag k="{k}" v="{v}"/>\n' for k, v in tags.items())

    def node(self, x: float, y: float, tags: dict[str, str] | None = None) -> int:
        lon, lat = lonlat(x, y)
        nid = self.next_node
        self.next_node += 1
        if tags:
            self.nodes.append(f'  <node id="{nid}" version="1" lat="{lat:.6f}" lon="{lon:.6f}">\n'
                              f"{self._tags(tags)}  </node>\n")
        else:
            self.nodes.append(f'  <node id="{nid}" version="1" lat="{lat:.6f}" lon="{lon:.6f}"/>\n')
        return nid

    def way(self, pts: list, tags: dict[str, str], closed: bool = False) -> int:
        refs = [self.node(x, y) for x, y in pts]
        if closed:
            refs.append(refs[0])
        wid = self.next_way
        self.next_way += 1
        nds = "".join(f'    <nd ref="{r}"/>\n' for r in refs)
        self.ways.append(f'  <way id="{wid}" version="1">\n{nds}{self._tags(tags)}  </way>\n')
        return wid

    def area(self, ring: list, tags: dict[str, str]) -> int:
        pts = list(ring)
        if signed_area(pts) < 0:
            pts.reverse()
        return self.way(pts, tags, closed=True)

    def text(self) -> str:
        return ("<?xml version='1.0' encoding='UTF-8'?>\n"
                '<osm version="0.6" generator="locmap geodata/make_demo.py (synthetic)">\n'
                + "".join(self.nodes) + "".join(self.ways) + "</osm>\n")


def make_basemap() -> str:
    """The demo's base map as an OpenStreetMap XML extract (synthetic): the streets of
    STREETS with the names the places use, footpaths, the railway, the brook and a pond,
    the park, the school, the estate with its blocks, the shopping centre, the station, the
    library's building and terraced houses along the streets.
    """
    osm = _Osm()
    osm.node(*BURGER_HUB, {"amenity": "fast_food", "name": "Burger Hub"})
    osm.node(*STATION, {"railway": "station", "name": "Eastbrook Station"})
    for name, xy, key, value in POIS:
        osm.node(*xy, {key: value, "name": name})
    for name, pts in STREETS.items():
        osm.way(pts, {"highway": ROAD_CLASS.get(name, "residential"), "name": name})
    for name, pts in FOOTPATHS.items():
        osm.way(pts, {"highway": "footway", "name": name})
    osm.way(RAILWAY, {"railway": "rail", "name": "Midshire Line"})
    osm.way(BROOK, {"waterway": "stream", "name": "Mill Brook"})
    osm.area(POND, {"natural": "water", "name": "Millfield Pond"})
    osm.area(PARK, {"leisure": "park", "name": "Millfield Park"})
    osm.area(SCHOOL, {"amenity": "school", "name": "Eastbrook Academy"})
    osm.area(rect(330, -420, 470, -350), {"building": "school"})
    osm.area(ESTATE, {"landuse": "residential", "name": "Orchard Estate"})
    for i in range(4):
        for j in range(3):
            x0, y0 = -600 + i * 75, -510 + j * 85
            osm.area(rect(x0, y0, x0 + 50, y0 + 22), {"building": "apartments"})
    osm.area(SHOPPING, {"shop": "mall", "building": "retail",
                        "name": "Kingsgate Shopping Centre"})
    osm.area(rect(LIBRARY[0] - 18, LIBRARY[1] - 12, LIBRARY[0] + 18, LIBRARY[1] + 12),
             {"building": "public", "amenity": "library", "name": "Eastbrook Library"})
    osm.area(rect(STATION[0] - 25, STATION[1] - 15, STATION[0] + 25, STATION[1] + 15),
             {"building": "train_station"})
    for corners in _terraces():
        osm.area(corners, {"building": "house"})
    return osm.text()


def _check(files: dict[str, str], town: Town) -> None:
    """Fail loudly rather than write geometry the app would reject."""
    for path, text in files.items():
        if path.endswith(".geojson"):
            for f in json.loads(text)["features"]:
                if f["geometry"] is not None:
                    g = shape(f["geometry"])
                    if not g.is_valid:
                        raise ValueError(f"invalid geometry in {path}: {f['properties']}")
                    if not town.locality.buffer(0.002).contains(g):
                        raise ValueError(f"outside the locality in {path}: {f['properties']}")
    assert town.locality.is_valid
    assert Point(lonlat(*BURGER_HUB)).within(town.locality)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "demo")
    ap.add_argument("--seed", type=int, default=20240101)
    args = ap.parse_args(argv)
    files = build(args.seed)
    for rel, text in sorted(files.items()):
        path = args.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    print(f"wrote {len(files)} files to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
