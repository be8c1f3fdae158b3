"""Real extracts are cut at their edges (issue 17): an extract written with osmium holding
a multipolygon with a 2-point ring, an unclosed area way, a relation with missing members
and a very large relation imports with a report, never a traceback, and the good elements
next to them all arrive — through ``locmap import osm`` and ``locmap basemap build``."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

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
from tests.conftest import AuthActions
from tests.factories import World
from tests.integration.test_import_web import data_dir, upload  # noqa: F401 - fixture
from tests.integration.test_import_web_gis import confirm
from tests.osm_writer import HostileExtract, write_cut_off, write_hostile


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
    # present and drops it silently; a pass over the file's relations reports it by id.
    missing = read[HostileExtract.MISSING_MEMBERS]
    assert missing.geom is None and missing.tags["name"] == "Missing Pond"
    assert "members missing from the extract" in str(missing.problem)
    assert [ref for ref in read if ref.startswith("relation/")].count(
        HostileExtract.MISSING_MEMBERS) == 1


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
        # More broken elements than any list shows: the count is the true one.
        cut = write_cut_off(tmp_path / "cut.osm.pbf", 620)
        many = CliRunner().invoke(main, ["basemap", "build", str(cut)])
        assert many.exit_code == 0, many.output
        assert "620 broken elements skipped" in many.output
        assert many.output.count("  skipped way/") == 20
        assert "… and 600 more." in many.output
    finally:  # the base map is shared by the whole database: leave none behind
        with engine.begin() as conn:
            for table in ("basemap_tile", "basemap_feature", "basemap_build"):
                conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - constants
        engine.dispose()


def test_basemap_build_keeps_the_good_and_lists_the_broken(session: Session,
                                                           tmp_path: Path) -> None:
    path = write_hostile(tmp_path / "edge.osm.pbf")
    result = basemap.build(session, None, path)
    broken = {r["row"]: r["reason"] for r in result["report"]}
    assert HostileExtract.TWO_POINT_RING in broken
    assert "members missing" in broken[HostileExtract.MISSING_MEMBERS]
    refs = set(session.scalars(text("SELECT osm_ref FROM basemap_feature")))
    assert {"node/1", "way/1", "way/2", "relation/3"} <= refs
    assert result["counts"]["roads"] == 1 and result["counts"]["green"] >= 2


def test_cli_locmap_import_osm_lists_the_broken_and_keeps_the_good(
        session: Session, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        db: object) -> None:
    """``locmap import osm`` on a hostile extract: a report on stderr by OSM type/id, never
    a traceback, and the good elements imported."""
    from locmap.cli import imports as cli_import

    monkeypatch.setattr(cli_import.Database, "from_settings", lambda _s: db)
    path = write_hostile(tmp_path / "edge.osm.pbf")
    res = CliRunner().invoke(cli_import.import_group, [
        "osm", str(path), "--pilot", world.pilot.name, "--preset", "park",
        "--preset", "library", "--user", world.users["practitioner"].email])
    assert res.exit_code == 0, res.output
    assert res.exception is None and "Traceback" not in res.output
    assert f"{HostileExtract.TWO_POINT_RING} 'Two Point Park': " in res.stderr
    assert f"{HostileExtract.UNCLOSED} 'Unclosed Park': an area whose way is not closed" \
        in res.stderr
    names = set(session.scalars(select(Feature.name).join(FeatureLayer).where(
        FeatureLayer.pilot_id == world.pilot.id)))
    assert {"Good Library", "Good Park", "Big Allotments"} <= names
    assert not names & {"Two Point Park", "Unclosed Park", "Missing Pond"}


def test_web_osm_upload_preview_confirm_report_a_hostile_extract(
        client: Any, auth: AuthActions, world: World, session: Session,
        data_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    """The import pages on a hostile extract: the preview offers the good elements, the
    import finishes, the result counts the broken ones and their CSV lists them by OSM
    type/id with the reason."""
    pid = world.pilot.id
    auth.login(world.users["practitioner"].email)
    content = write_hostile(tmp_path / "edge.osm.pbf").read_bytes()
    r = upload(client, auth, pid, content, name="edge.osm.pbf")
    assert r.status_code == 302, r.get_data(as_text=True)
    preview = client.get(r.location).get_data(as_text=True)
    assert 'id="osm-named"' in preview
    assert 'value="node/1"' in preview and "Good Park" in preview
    assert "Two Point Park" not in preview and "Unclosed Park" not in preview
    done = confirm(client, auth, r.location, preset=["park", "library"], place=["node/1"])
    assert done.status_code == 302
    result = client.get(done.location).get_data(as_text=True)
    assert "status-done" in result and 'id="places-made">1<' in result
    rejected = re.search(r'id="rows-rejected">([0-9,]+)<', result)
    assert rejected is not None and int(rejected.group(1)) >= 2
    report = client.get(re.search(r'id="report-link" href="([^"]+)"', result)  # type: ignore[union-attr]
                        .group(1).replace("&amp;", "&"))
    assert report.status_code == 200
    rows = {row["row"]: row["reason"] for row in csv.DictReader(
        io.StringIO(report.get_data(as_text=True)))}
    assert "cannot be repaired" in rows[HostileExtract.TWO_POINT_RING]
    assert "not closed" in rows[HostileExtract.UNCLOSED]
    names = set(session.scalars(select(Feature.name).join(FeatureLayer).where(
        FeatureLayer.pilot_id == pid)))
    assert {"Good Library", "Good Park", "Big Allotments"} <= names
    assert not names & {"Two Point Park", "Unclosed Park"}
