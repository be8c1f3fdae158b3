import math

import pytest
import shapely

from locmap.errors import InvalidGeometry
from locmap.geo import PLACE_MAX_VERTICES, parse_geojson_geometry, to_multipolygon


def test_valid_polygon_is_normalised_to_rfc7946_winding() -> None:
    clockwise = {"type": "Polygon",
                 "coordinates": [[[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]]}
    geom = parse_geojson_geometry(clockwise)
    assert geom.exterior.is_ccw
    assert to_multipolygon(geom).geom_type == "MultiPolygon"


def test_self_intersection_is_explained_with_a_repair_offered() -> None:
    bowtie = {"type": "Polygon",
              "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    with pytest.raises(InvalidGeometry) as err:
        parse_geojson_geometry(bowtie)
    assert "Self-intersection" in err.value.message
    repaired = shapely.geometry.shape(err.value.details["repaired"])
    assert repaired.is_valid and repaired.area == pytest.approx(0.5)


def test_british_national_grid_numbers_are_refused_with_a_hint() -> None:
    with pytest.raises(InvalidGeometry) as err:
        parse_geojson_geometry({"type": "Point", "coordinates": [530000, 180000]})
    assert "British National Grid" in err.value.message


@pytest.mark.parametrize("coords", [[-1.5, 95.0], [181.0, 52.0], [float("nan"), 52.0]])
def test_out_of_range_or_nan_coordinates_are_refused(coords: list[float]) -> None:
    with pytest.raises(InvalidGeometry):
        parse_geojson_geometry({"type": "Point", "coordinates": coords})


def test_wrong_type_and_garbage_are_refused() -> None:
    with pytest.raises(InvalidGeometry, match="not accepted"):
        parse_geojson_geometry({"type": "GeometryCollection", "geometries": []})
    with pytest.raises(InvalidGeometry, match="not valid JSON"):
        parse_geojson_geometry("{nope")
    with pytest.raises(InvalidGeometry):
        parse_geojson_geometry({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]})


def test_z_values_are_refused_not_dropped() -> None:
    with pytest.raises(InvalidGeometry, match=r"\(-1.5, 52.5, 80\) has a third value"):
        parse_geojson_geometry({"type": "Point", "coordinates": [-1.5, 52.5, 80.0]})
    with pytest.raises(InvalidGeometry, match="height"):
        parse_geojson_geometry({"type": "Polygon", "coordinates": [
            [[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 0, 1]]]})


def test_unclosed_rings_are_refused_not_closed() -> None:
    with pytest.raises(InvalidGeometry, match="ring is not closed"):
        parse_geojson_geometry({"type": "MultiPolygon", "coordinates": [
            [[[0, 0], [1, 0], [1, 1], [0, 0]]], [[[2, 2], [3, 2], [3, 3], [2, 3]]]]})


def test_places_have_a_lower_vertex_cap() -> None:
    def circle(n: int) -> dict[str, object]:  # n vertices, the last repeating the first
        ring = [[math.cos(i / (n - 1) * 2 * math.pi), math.sin(i / (n - 1) * 2 * math.pi)]
                for i in range(n - 1)]
        return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}

    assert parse_geojson_geometry(circle(5_000), max_vertices=PLACE_MAX_VERTICES).is_valid
    assert parse_geojson_geometry(circle(5_001)).is_valid  # a locality may be detailed
    with pytest.raises(InvalidGeometry, match="5,001 vertices; the limit is 5,000 for a place"):
        parse_geojson_geometry(circle(5_001), max_vertices=PLACE_MAX_VERTICES)
