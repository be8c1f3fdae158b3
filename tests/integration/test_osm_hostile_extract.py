"""Real extracts are cut at their edges (issue 17): an extract written with osmium holding
a multipolygon with a 2-point ring, an unclosed area way, a relation with missing members
and a very large relation imports with a report, never a traceback, and the good elements
next to them all arrive — through ``locmap import osm`` and ``locmap basemap build``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from locmap.errors import InvalidData
from locmap.io import osm
from locmap.io.osm import iter_layer
from locmap.models import Feature, FeatureLayer
from locmap.services import basemap
from locmap.services.accounts import actor_for
from locmap.services.imports import import_osm
from tests.factories import World
from tests.osm_writer import HostileExtract, write_hostile


def test_broken_elements_are_reported_and_the_rest_read(tmp_path: Path) -> None:
    path = write_hostile(tmp_path / "edge.osm.pbf")
    read = {el.ref: el for layer in ("points", "lines", "multipolygons")
            for el in iter_layer(path, layer)}
    for ref in HostileExtract.GOOD:
        assert read[ref].geom is not None and read[ref].problem is None, ref
    assert len(read["relation/3"].geom.geoms) == HostileExtract.BIG_PARTS  # type: ignore[union-attr]
    assert read[HostileExtract.TWO_POINT_RING].geom is None
    assert "cannot be repaired" in str(read[HostileExtract.TWO_POINT_RING].problem)
    assert read[HostileExtract.UNCLOSED].geom is None
    assert "not closed" in str(read[HostileExtract.UNCLOSED].problem)
    # GDAL builds nothing for a multipolygon whose ring cannot be closed from the members
    # present: the element is absent from its layers (it cannot be reported by id).
    assert HostileExtract.MISSING_MEMBERS not in read


def test_the_reader_streams_in_batches_and_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 2 elements (a county extract's are 20,000) give what one batch gives;
    a file cut off mid-way is an error, never a silently shorter read."""
    path = write_hostile(tmp_path / "edge.osm.pbf")

    def everything() -> dict[str, tuple[str, str | None]]:
        return {el.ref: (el.geom.wkt if el.geom is not None else "", el.problem)
                for layer in ("points", "lines", "multipolygons")
                for el in iter_layer(path, layer)}

    whole = everything()
    monkeypatch.setattr(osm, "_BATCH", 2)
    assert everything() == whole and len(whole) > 2 * 2
    cut = tmp_path / "cut.osm"
    xml = ("<osm version='0.6'>" + "".join(
        f"<node id='{i}' lat='52.5' lon='-1.{i:03d}'><tag k='amenity' v='cafe'/></node>"
        for i in range(1, 30)) + "<node id='30' lat='52.5' lon=")
    cut.write_text(xml)
    with pytest.raises(InvalidData, match="could not be read"):
        list(iter_layer(cut, "points"))


def test_locmap_import_osm_reports_instead_of_failing(session: Session, world: World,
                                                      tmp_path: Path) -> None:
    a = actor_for(session, world.users["practitioner"])
    path = write_hostile(tmp_path / "edge.osm.pbf")
    di = import_osm(session, a, world.pilot.id, path, presets=["park", "library"])
    assert di.status == "done"
    rejected = {r["row"]: r["reason"] for r in di.report}
    assert HostileExtract.TWO_POINT_RING in rejected
    assert "not closed" in rejected[HostileExtract.UNCLOSED]
    names = set(session.scalars(select(Feature.name).join(FeatureLayer).where(
        FeatureLayer.pilot_id == world.pilot.id)))
    assert {"Good Library", "Good Park"} <= names
    assert "Two Point Park" not in names and "Unclosed Park" not in names


def test_locmap_basemap_build_prints_a_report(database_url: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from locmap.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    path = write_hostile(tmp_path / "edge.osm.pbf")
    engine = create_engine(database_url)
    try:
        result = CliRunner().invoke(main, ["basemap", "build", str(path)])
        assert result.exit_code == 0, result.output
        assert "Base map built from edge.osm.pbf" in result.output
        assert f"skipped {HostileExtract.TWO_POINT_RING} 'Two Point Park'" in result.output
        status = CliRunner().invoke(main, ["basemap", "status"])
        assert "Base map from edge.osm.pbf" in status.output
    finally:  # the base map is shared by the whole database: leave none behind
        with engine.begin() as conn:
            for table in ("basemap_tile", "basemap_feature", "basemap_build"):
                conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - constants
        engine.dispose()


def test_basemap_build_keeps_the_good_and_lists_the_broken(session: Session,
                                                           tmp_path: Path) -> None:
    path = write_hostile(tmp_path / "edge.osm.pbf")
    result = basemap.build(session, None, path)
    broken = {r["row"] for r in result["report"]}
    assert HostileExtract.TWO_POINT_RING in broken
    refs = set(session.scalars(text("SELECT osm_ref FROM basemap_feature")))
    assert {"node/1", "way/1", "way/2", "relation/3"} <= refs
    assert result["counts"]["roads"] == 1 and result["counts"]["green"] >= 2
