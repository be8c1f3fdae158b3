"""The database itself refuses bad data, whatever the application does."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, InternalError, ProgrammingError
from sqlalchemy.orm import Session

from tests.factories import World

POINT = "SRID=4326;POINT(-1.49 52.505)"
WHEN = dt.datetime(2025, 3, 1, 17, 30, tzinfo=dt.UTC)


def _insert_incident(session: Session, world: World, **over: object) -> None:
    values: dict[str, object] = {
        "pilot_id": world.pilot.id, "location": POINT, "occurred_at": WHEN,
        "time_precision": "exact", "category": "asb", "severity": 3,
    }
    values.update(over)
    cols = ", ".join(values)
    params = ", ".join(
        "ST_GeomFromEWKT(:location)" if k == "location" and v is not None else f":{k}"
        for k, v in values.items()
    )
    with session.begin_nested():
        session.execute(
            text(f"INSERT INTO incident ({cols}, description, place_derived, created_at, "  # noqa: S608
                 f"updated_at, version) VALUES ({params}, '', false, now(), now(), 1)"),
            values,
        )


def test_a_well_formed_incident_is_accepted(session: Session, world: World) -> None:
    _insert_incident(session, world)
    assert session.scalar(text("SELECT count(*) FROM incident")) == 1


@pytest.mark.parametrize(
    "override, constraint",
    [
        ({"location": None}, "location"),
        ({"occurred_at": None}, "occurred_at"),
        ({"category": "gang_activity"}, "ck_incident_category_vocab"),
        ({"severity": 9}, "ck_incident_severity_range"),
        ({"severity": 0}, "ck_incident_severity_range"),
        ({"time_precision": "year"}, "ck_incident_time_precision_vocab"),
    ],
)
def test_bad_incidents_are_refused_by_the_database(
    session: Session, world: World, override: dict[str, object], constraint: str
) -> None:
    with pytest.raises(IntegrityError) as err:
        _insert_incident(session, world, **override)
    assert constraint in str(err.value)


def _insert_place(session: Session, world: World, kind: str, wkt: str | None) -> None:
    geom = "ST_GeomFromText(:wkt, 4326)" if wkt else "NULL"
    with session.begin_nested():
        session.execute(
            text(f"INSERT INTO place (pilot_id, name, kind, geom, notes, created_at, updated_at, "  # noqa: S608
                 f"version) VALUES (:pilot, 'x', :kind, {geom}, '', now(), now(), 1)"),
            {"pilot": world.pilot.id, "kind": kind, "wkt": wkt},
        )


def test_self_intersecting_polygon_is_refused(session: Session, world: World) -> None:
    bowtie = "POLYGON((-1.49 52.50, -1.48 52.51, -1.48 52.50, -1.49 52.51, -1.49 52.50))"
    with pytest.raises(IntegrityError) as err:
        _insert_place(session, world, "park", bowtie)
    assert "ck_place_geom_valid" in str(err.value)


@pytest.mark.parametrize(
    "kind, wkt, ok",
    [
        ("online", None, True),
        ("online", "POINT(-1.49 52.505)", False),
        ("park", None, False),
        ("park", "POINT(-1.49 52.505)", False),
        ("park", "POLYGON((-1.49 52.50, -1.48 52.50, -1.48 52.51, -1.49 52.50))", True),
        ("street", "LINESTRING(-1.49 52.50, -1.48 52.51)", True),
        ("library", "POINT(-1.49 52.505)", True),
        ("library", None, False),
    ],
)
def test_place_geometry_must_fit_its_kind(
    session: Session, world: World, kind: str, wkt: str | None, ok: bool
) -> None:
    if ok:
        _insert_place(session, world, kind, wkt)
    else:
        with pytest.raises(IntegrityError) as err:
            _insert_place(session, world, kind, wkt)
        assert "geometry_fits_kind" in str(err.value)


def test_geometry_columns_carry_srid_4326_and_a_gist_index(session: Session) -> None:
    rows = session.execute(text(
        "SELECT f_table_name, f_geometry_column, srid FROM geometry_columns"
    )).all()
    assert rows, "no geometry columns registered"
    # Everything recorded is WGS84; the base map alone is stored in Web Mercator, the CRS of
    # the vector tiles cut from it (docs/decisions.md, the base map).
    assert {r.srid for r in rows if not r.f_table_name.startswith("basemap_")} == {4326}
    assert {r.srid for r in rows if r.f_table_name.startswith("basemap_")} <= {3857}
    for table, column, _ in rows:
        index = session.scalar(text(
            "SELECT count(*) FROM pg_indexes WHERE tablename = :t AND indexdef ILIKE '%gist%' "
            "AND indexdef ILIKE '%' || :c || '%'"
        ), {"t": table, "c": column})
        assert index >= 1, f"{table}.{column} has no GiST index"


def test_pseudonyms_are_unique_per_pilot(session: Session, world: World) -> None:
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(text(
            "INSERT INTO person (pilot_id, pseudonym, kind, age_band, version, created_at, "
            "updated_at) VALUES (:p, 'YP-001', 'young_person', '14-15', 1, now(), now())"
        ), {"p": world.pilot.id})


def test_audit_trail_is_append_only(session: Session, world: World,
                                    database_url: str) -> None:
    """Two locks: the app's role may not change the trail, and even the owner is stopped
    by the append-only trigger."""


    count = session.scalar(text("SELECT count(*) FROM audit_event"))
    assert count > 0
    session.commit()
    for statement in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"):
        with pytest.raises((InternalError, ProgrammingError)) as err, session.begin_nested():
            session.execute(text(statement))
        assert "permission denied" in str(err.value)
    assert session.scalar(text("SELECT count(*) FROM audit_event")) == count


def test_even_the_owner_cannot_change_the_audit_trail(database_url: str) -> None:
    """No test transaction here: appending takes the chain's lock (migration 0009), which
    the per-test transaction of the fixtures would hold once it had audited anything."""
    from sqlalchemy import create_engine

    from locmap.pgserver import OWNER_ROLE, role_url

    owner = create_engine(role_url(database_url, OWNER_ROLE))
    try:
        with owner.connect() as conn:
            outer = conn.begin()  # rolled back: the owner's own event leaves no trace
            conn.execute(text("INSERT INTO audit_event (action, entity, personal_data, "
                              "detail) VALUES ('test', 'test', false, '{}')"))
            for statement in ("UPDATE audit_event SET action = 'x'",
                              "DELETE FROM audit_event"):
                with pytest.raises((InternalError, ProgrammingError)) as err, \
                        conn.begin_nested():
                    conn.execute(text(statement))
                assert "append-only" in str(err.value)
            outer.rollback()
    finally:
        owner.dispose()


def test_timestamps_are_timestamptz(session: Session) -> None:
    naive = session.execute(text(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type = 'timestamp without time zone'"
    )).all()
    assert naive == []
