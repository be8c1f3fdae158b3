"""OpenStreetMap extract import (synthetic .osm XML and the same as .osm.pbf; ids and tags
invented)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from geoalchemy2.shape import to_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap.errors import Forbidden, InvalidData
from locmap.io.osm import parse_other_tags, place_kind, preview_osm
from locmap.models import AuditEvent, DataImport, Feature, FeatureLayer, Place
from locmap.services.accounts import actor_for
from locmap.services.imports import import_osm
from tests.factories import LOCALITY, World

# Locality: box(-1.50, 52.50, -1.485, 52.509).
OSM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="locmap-tests">
 <node id="9001" lat="52.505" lon="-1.490" version="1">
  <tag k="amenity" v="library"/><tag k="name" v="Synthbury &quot;Central&quot; Library"/>
  <tag k="opening_hours" v="Mo-Sa 09:00-17:00"/></node>
 <node id="9002" lat="52.504" lon="-1.491" version="1">
  <tag k="amenity" v="fast_food"/><tag k="name" v="Chick Inn"/><tag k="cuisine" v="chicken"/></node>
 <node id="9003" lat="52.506" lon="-1.487" version="1">
  <tag k="amenity" v="fast_food"/></node>
 <node id="9004" lat="52.520" lon="-1.490" version="1">
  <tag k="amenity" v="fast_food"/><tag k="name" v="Far Away Fries"/></node>
 <node id="9005" lat="52.503" lon="-1.498" version="1">
  <tag k="highway" v="bus_stop"/><tag k="name" v="Synth Road"/></node>
 <node id="9006" lat="52.501" lon="-1.499" version="1"><tag k="highway" v="street_lamp"/></node>
 <node id="9007" lat="52.508" lon="-1.486" version="1">
  <tag k="shop" v="alcohol"/><tag k="name" v="Corner Wines"/></node>
 <node id="9008" lat="52.507" lon="-1.497" version="1">
  <tag k="leisure" v="park"/><tag k="name" v="Pocket Park Node"/></node>
 <node id="8001" lat="52.5020" lon="-1.4960" version="1"/>
 <node id="8002" lat="52.5020" lon="-1.4940" version="1"/>
 <node id="8003" lat="52.5035" lon="-1.4940" version="1"/>
 <node id="8004" lat="52.5035" lon="-1.4960" version="1"/>
 <way id="7001" version="1"><nd ref="8001"/><nd ref="8002"/><nd ref="8003"/><nd ref="8004"/>
  <nd ref="8001"/><tag k="leisure" v="park"/><tag k="name" v="Synth Rec Ground"/></way>
</osm>
"""


def write_osm(path: Path, body: str = OSM_XML) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def layer_features(session: Session, pilot_id: int, name: str) -> dict[int, Feature]:
    layer = session.scalar(select(FeatureLayer).where(FeatureLayer.pilot_id == pilot_id,
                                                      FeatureLayer.name == name))
    assert layer is not None, name
    return {f.osm_id: f for f in session.scalars(select(Feature).where(
        Feature.layer_id == layer.id))}


def test_other_tags_parser_and_kinds() -> None:
    assert parse_other_tags('"amenity"=>"library","note"=>"say \\"hi\\", a=>b"') == {
        "amenity": "library", "note": 'say "hi", a=>b'}
    assert parse_other_tags(None) == {}
    assert place_kind({"railway": "station"}) == "transport_hub"
    assert place_kind({"amenity": "library"}) == "library"
    assert place_kind({"shop": "alcohol"}) == "other"


def test_presets_are_clipped_layered_and_places_made_idempotently(
        session: Session, world: World, tmp_path: Path) -> None:
    a = actor_for(session, world.users["practitioner"])
    pid = world.pilot.id
    path = write_osm(tmp_path / "synthbury.osm")
    di = import_osm(session, a, pid, path, as_places=["amenity=library"])
    assert di.kind == "osm" and di.status == "done" and len(di.sha256) == 64
    summary = di.options["summary"]
    assert summary["features_added"] == 8 and summary["places_made"] == 1
    assert summary["outside_area"] == 0  # Far Away Fries is outside the bbox: never read

    food = layer_features(session, pid, "OSM fast food")
    assert set(food) == {9002, 9003}  # 9004 is outside the locality
    chick = food[9002]
    assert chick.name == "Chick Inn"
    assert chick.properties == {"osm_type": "node", "osm_id": 9002,
                                "tags": {"amenity": "fast_food", "name": "Chick Inn",
                                         "cuisine": "chicken"}}
    pt = to_shape(chick.geom)
    assert (pt.x, pt.y) == (-1.491, 52.504)
    parks = layer_features(session, pid, "OSM parks")
    assert set(parks) == {7001, 9008}
    rec = to_shape(parks[7001].geom)
    assert rec.geom_type == "Polygon" and parks[7001].properties["osm_type"] == "way"
    assert set(layer_features(session, pid, "OSM street lamps")) == {9006}
    assert set(layer_features(session, pid, "OSM off-licences")) == {9007}
    assert set(layer_features(session, pid, "OSM bus stops")) == {9005}

    lib = session.scalar(select(Place).where(Place.pilot_id == pid, Place.osm_id == 9001))
    assert lib is not None and lib.kind == "library"
    assert lib.name == 'Synthbury "Central" Library'
    assert lib.osm_tags == {"amenity": "library", "name": 'Synthbury "Central" Library',
                            "opening_hours": "Mo-Sa 09:00-17:00", "@type": "node"}
    assert to_shape(lib.geom).equals(to_shape(lib.geom).__class__((-1.49, 52.505)))
    assert session.scalar(select(AuditEvent).where(
        AuditEvent.action == "import", AuditEvent.entity_id == str(di.id))) is not None

    # The same extract again: nothing duplicated, features refreshed, place kept.
    lib.name = "Renamed by a practitioner"
    session.flush()
    di2 = import_osm(session, a, pid, path, as_places=["amenity=library"])
    assert di2.id != di.id
    assert di2.options["summary"]["features_added"] == 0
    assert di2.options["summary"]["features_refreshed"] == 8
    assert di2.options["summary"]["places_already_present"] == 1
    assert set(layer_features(session, pid, "OSM fast food")) == {9002, 9003}
    assert session.scalar(select(func.count()).select_from(Place).where(
        Place.pilot_id == pid, Place.osm_id.is_not(None))) == 1
    assert session.get(Place, lib.id).name == "Renamed by a practitioner"  # type: ignore[union-attr]


def write_pbf(path: Path, body: str = OSM_XML) -> Path:
    """The same extract in the binary .osm.pbf format, written by libosmium (pyosmium)."""
    import osmium  # the dev extra pyosmium (libosmium) writes the binary format
    xml = write_osm(path.with_suffix(".xml.osm"), body)
    with osmium.SimpleWriter(str(path)) as writer:
        for obj in osmium.FileProcessor(str(xml)):
            writer.add(obj)
    xml.unlink()
    assert path.read_bytes()[4:15] == b"\n\tOSMHeader"  # a PBF blob header, not XML
    return path


def test_pbf_extract_imports_like_the_xml(session: Session, world: World,
                                          tmp_path: Path) -> None:
    a = actor_for(session, world.users["practitioner"])
    pid = world.pilot.id
    di = import_osm(session, a, pid, write_pbf(tmp_path / "synthbury.osm.pbf"),
                    as_places=["amenity=library"])
    assert di.status == "done", di.message
    summary = di.options["summary"]
    assert summary["features_added"] == 8 and summary["places_made"] == 1
    food = layer_features(session, pid, "OSM fast food")
    assert set(food) == {9002, 9003}
    pt = to_shape(food[9002].geom)
    # PBF stores degrees as integers of 1e-7 (about 1 cm): equal to that resolution.
    assert (pt.x, pt.y) == (pytest.approx(-1.491, abs=1e-7), pytest.approx(52.504, abs=1e-7))
    assert food[9002].properties["tags"] == {"amenity": "fast_food", "name": "Chick Inn",
                                             "cuisine": "chicken"}
    assert set(layer_features(session, pid, "OSM parks")) == {7001, 9008}
    lib = session.scalar(select(Place).where(Place.pilot_id == pid, Place.osm_id == 9001))
    assert lib is not None and lib.kind == "library"
    assert lib.name == 'Synthbury "Central" Library'


def test_pick_refuses_unnamed_and_wrong_geometry(session: Session, world: World,
                                                 tmp_path: Path) -> None:
    a = actor_for(session, world.users["coordinator"])
    path = write_osm(tmp_path / "x.osm")
    di = import_osm(session, a, world.pilot.id, path, presets=["fast_food", "park"],
                    pick=["way/7001", "node/9003", "node/9008", "node/424242"])
    reasons = {r["row"]: r["reason"] for r in di.report}
    assert "no name" in reasons["node/9003"]
    assert "park must be a POLYGON" in reasons["node/9008"]
    assert "not found" in reasons["node/424242"]
    park = session.scalar(select(Place).where(Place.osm_id == 7001))
    assert park is not None and park.kind == "park" and to_shape(park.geom).geom_type == "Polygon"
    names = {lyr.name for lyr in session.scalars(select(FeatureLayer).where(
        FeatureLayer.pilot_id == world.pilot.id, FeatureLayer.name.like("OSM %")))}
    assert names == {"OSM fast food", "OSM parks"}


def test_preview_lists_named_candidates_without_writing(session: Session, world: World,
                                                        tmp_path: Path) -> None:
    before = session.scalar(select(func.count()).select_from(Feature))
    pv = preview_osm(write_osm(tmp_path / "p.osm"), LOCALITY, ["library", "fast_food"])
    assert pv["presets"] == {"library": 1, "fast_food": 2}
    assert [n["ref"] for n in pv["named"]] == ["node/9002", "node/9001"]  # preset order
    assert pv["named"][1]["kind"] == "library"
    assert session.scalar(select(func.count()).select_from(Feature)) == before


def test_bad_input_is_refused_cleanly(session: Session, world: World, tmp_path: Path) -> None:
    a = actor_for(session, world.users["practitioner"])
    path = write_osm(tmp_path / "x.osm")
    with pytest.raises(InvalidData, match="Unknown preset"):
        import_osm(session, a, world.pilot.id, path, presets=["casino"])
    with pytest.raises(InvalidData, match="not among the chosen presets"):
        import_osm(session, a, world.pilot.id, path, presets=["library"],
                   as_places=["amenity=fast_food"])
    with pytest.raises(InvalidData, match="TAG=VALUE"):
        import_osm(session, a, world.pilot.id, path, as_places=["library"])
    broken = write_osm(tmp_path / "broken.osm", "<osm><node id='1' lat='x'")
    with pytest.raises(InvalidData):
        import_osm(session, a, world.pilot.id, broken)
    with pytest.raises(InvalidData, match="expected an OpenStreetMap"):
        import_osm(session, a, world.pilot.id, write_osm(tmp_path / "x.txt"))
    reviewer = actor_for(session, world.users["partner_reviewer"])
    with pytest.raises(Forbidden):
        import_osm(session, reviewer, world.pilot.id, path)


def test_cli_import_osm(session: Session, world: World, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch, db: object) -> None:
    from locmap.cli import imports as cli_import

    monkeypatch.setattr(cli_import.Database, "from_settings", lambda _s: db)
    path = write_osm(tmp_path / "cli.osm")
    res = CliRunner().invoke(cli_import.import_group, [
        "osm", str(path), "--pilot", "Test Pilot", "--preset", "library",
        "--preset", "fast_food", "--as-places", "amenity=library"])
    assert res.exit_code == 0, res.output
    assert "2 features added" in res.output or "3 features added" in res.output
    assert session.scalar(select(func.count()).select_from(DataImport).where(
        DataImport.kind == "osm")) == 1
    assert session.scalar(select(Place.kind).where(Place.osm_id == 9001)) == "library"
