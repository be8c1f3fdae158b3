"""Synthetic OpenStreetMap extracts written with osmium (pyosmium), as real extracts are
written: a hostile one (elements broken the way extracts cut at their edges are) and a
large town of any size for the memory benchmark. Ids, names and tags are invented.

Coordinates carry a seeded jitter: GDAL's PBF reader refuses a block that compresses
too well (a guard against compression bombs), and a perfectly regular grid of nodes does.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import osmium
from osmium.osm.mutable import Node, Relation, Way

__all__ = ["HostileExtract", "write_hostile", "write_town", "write_two_towns", "write_street",
           "write_cut_off"]


class _Writer:
    """One pass over a layout: writes only nodes, only ways or only relations (an OSM file
    has them in that order), so a large extract is streamed, never held in memory."""

    def __init__(self, w: osmium.SimpleWriter, seed: int, phase: str) -> None:
        self.w, self.phase = w, phase
        self.rng = random.Random(seed)
        self.nid = 0

    def node(self, lon: float, lat: float, tags: dict[str, str] | None = None) -> int:
        self.nid += 1
        if self.phase == "nodes":
            j = self.rng.uniform(-2e-6, 2e-6)
            self.w.add_node(Node(id=self.nid, location=(lon + j, lat - j),
                                 tags=list((tags or {}).items()), version=1))
        return self.nid

    def way(self, wid: int, refs: list[int], tags: dict[str, str] | None = None) -> None:
        if self.phase == "ways":
            self.w.add_way(Way(id=wid, nodes=refs, tags=list((tags or {}).items()), version=1))

    def relation(self, rid: int, members: list[tuple[str, int, str]],
                 tags: dict[str, str]) -> None:
        if self.phase == "relations":
            self.w.add_relation(Relation(id=rid, members=members, tags=list(tags.items()),
                                         version=1))


def _write(path: Path, seed: int, layout: Callable[[_Writer], None],
           phases: tuple[str, ...] = ("nodes", "ways", "relations")) -> Path:
    if path.exists():
        path.unlink()
    w = osmium.SimpleWriter(str(path))
    try:
        for phase in phases:
            layout(_Writer(w, seed, phase))
    finally:
        w.close()
    return path


class HostileExtract:
    """What :func:`write_hostile` puts in the file."""

    GOOD = {"node/1": "Good Library", "way/1": "Good Street", "way/2": "Good Park",
            "relation/3": "Big Allotments"}
    TWO_POINT_RING = "relation/1"     # multipolygon whose only outer ring has 2 points
    UNCLOSED = "way/4"                # tagged as an area, not closed
    MISSING_MEMBERS = "relation/2"    # multipolygon whose member ways are not in the file
    BIG_PARTS = 2000                  # outer rings of relation/3


def write_hostile(path: Path, lon0: float = -1.495, lat0: float = 52.503) -> Path:
    """An extract with a 2-point-ring multipolygon, an unclosed area way, a relation with
    missing members and a very large relation, next to good elements."""
    return _write(path, 17, lambda o: _hostile(o, lon0, lat0))


def _hostile(o: _Writer, lon0: float, lat0: float) -> None:
    o.node(lon0, lat0, {"amenity": "library", "name": "Good Library"})
    street = [o.node(lon0 - 0.003 + i * 0.001, lat0 - 0.002) for i in range(4)]
    o.way(1, street, {"highway": "residential", "name": "Good Street"})
    sq = [o.node(lon0 + 0.001, lat0 + 0.001), o.node(lon0 + 0.002, lat0 + 0.001),
          o.node(lon0 + 0.002, lat0 + 0.002), o.node(lon0 + 0.001, lat0 + 0.002)]
    o.way(2, [*sq, sq[0]], {"leisure": "park", "name": "Good Park"})
    p, q = o.node(lon0 - 0.001, lat0 + 0.001), o.node(lon0 - 0.0012, lat0 + 0.0013)
    o.way(3, [p, q, p])
    o.relation(1, [("w", 3, "outer")], {"type": "multipolygon", "leisure": "park",
                                          "name": "Two Point Park"})
    u = [o.node(lon0 + 0.003, lat0 - 0.001), o.node(lon0 + 0.004, lat0 - 0.001),
         o.node(lon0 + 0.004, lat0)]
    o.way(4, u, {"building": "yes", "leisure": "park", "name": "Unclosed Park"})
    cut = [o.node(lon0 - 0.002, lat0 + 0.002), o.node(lon0 - 0.0015, lat0 + 0.0025),
           o.node(lon0 - 0.001, lat0 + 0.002)]
    o.way(5, cut)  # the half of the pond's ring inside the extract; the rest is cut off
    o.relation(2, [("w", 5, "outer"), ("w", 999999, "outer"), ("w", 999998, "inner")],
               {"type": "multipolygon", "natural": "water", "leisure": "park",
                "name": "Missing Pond"})
    members = []
    for i in range(HostileExtract.BIG_PARTS):
        x, y = lon0 - 0.004 + (i % 50) * 0.00005, lat0 - 0.004 + (i // 50) * 0.00005
        r = [o.node(x, y), o.node(x + 0.00003, y), o.node(x + 0.00003, y + 0.00003),
             o.node(x, y + 0.00003)]
        o.way(100 + i, [*r, r[0]])
        members.append(("w", 100 + i, "outer"))
    o.relation(3, members, {"type": "multipolygon", "landuse": "allotments",
                            "leisure": "park", "name": "Big Allotments"})


def write_town(path: Path, blocks: int, lon0: float = -1.6, lat0: float = 52.4) -> Path:
    """A large synthetic town: ``blocks`` x ``blocks`` street blocks, each with its named
    street, 8 buildings and now and then a park, a pond or a shop (about 60 bytes of PBF
    per node: blocks=300 gives an extract of some 60 MB)."""
    return _write(path, blocks, lambda o: _town(o, blocks, lon0, lat0), ("nodes", "ways"))


def _town(o: _Writer, blocks: int, lon0: float, lat0: float) -> None:
    d = 0.0015
    wid = 1
    for by in range(blocks):
        for bx in range(blocks):
            x0, y0 = lon0 + bx * d, lat0 + by * d * 0.62
            pts = [o.node(x0 + k * d / 4, y0) for k in range(5)]
            o.way(wid, pts, {"highway": "residential" if bx % 5 else "tertiary",
                             "name": f"Synth Street {by}-{bx}"})
            wid += 1
            for k in range(8):
                hx, hy = x0 + (k % 4) * d / 4.5 + d / 20, y0 + d * 0.12 + (k // 4) * d * 0.2
                r = [o.node(hx, hy), o.node(hx + d / 6, hy), o.node(hx + d / 6, hy + d / 9),
                     o.node(hx, hy + d / 9)]
                o.way(wid, [*r, r[0]], {"building": "house"})
                wid += 1
            if (bx * 7 + by) % 13 == 0:
                r = [o.node(x0, y0 + d * 0.5), o.node(x0 + d * 0.9, y0 + d * 0.5),
                     o.node(x0 + d * 0.9, y0 + d * 0.6), o.node(x0, y0 + d * 0.6)]
                o.way(wid, [*r, r[0]], {"leisure": "park", "name": f"Synth Park {by}-{bx}"})
                wid += 1
            if (bx + by) % 17 == 0:
                o.node(x0 + d / 2, y0 + d / 3, {"shop": "convenience",
                                                "name": f"Synth Shop {by}-{bx}"})


def write_two_towns(path: Path) -> Path:
    """Two towns 30 km apart, each with its own Church Street (the one in Northtown cut in
    two ways at a junction) and a place=town node; a Mill Lane only in Southville, far
    from any place node but next to a named pub."""
    return _write(path, 24, _two_towns)


def _two_towns(o: _Writer) -> None:
    wid = 1
    for town, lat, split in (("Northtown", 52.60, True), ("Southville", 52.33, False)):
        o.node(-1.50, lat + 0.002, {"place": "town", "name": town})
        pts = [o.node(-1.505 + i * 0.002, lat) for i in range(5)]
        parts = [pts[:3], pts[2:]] if split else [pts]
        for refs in parts:
            o.way(wid, refs, {"highway": "residential", "name": "Church Street"})
            wid += 1
    lane = [o.node(-1.90 + i * 0.002, 52.10) for i in range(3)]
    o.node(-1.899, 52.1005, {"amenity": "pub", "name": "The Plough"})
    o.way(wid, lane, {"highway": "unclassified", "name": "Mill Lane"})


def write_street(path: Path, name: str, highway: str = "residential") -> Path:
    """One street (way/1, four nodes) called ``name``: the same geometry whatever its name."""
    def layout(o: _Writer) -> None:
        o.way(1, [o.node(-1.50 + i * 0.001, 52.50) for i in range(4)],
              {"highway": highway, "name": name})
    return _write(path, 5, layout)


def write_cut_off(path: Path, broken: int) -> Path:
    """``broken`` named cafés whose building ways are not closed (way/2 …), next to one
    good street (way/1): an extract with more broken elements than a report lists."""
    def layout(o: _Writer) -> None:
        o.way(1, [o.node(-1.50 + i * 0.001, 52.50) for i in range(4)],
              {"highway": "residential", "name": "Good Street"})
        for i in range(broken):
            x, y = -1.50 + (i % 40) * 0.0002, 52.501 + (i // 40) * 0.0002
            refs = [o.node(x, y), o.node(x + 0.0001, y), o.node(x + 0.0001, y + 0.0001)]
            o.way(2 + i, refs, {"building": "yes", "amenity": "cafe", "name": f"Cut Cafe {i}"})
    return _write(path, 6, layout)
