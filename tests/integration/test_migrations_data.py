"""Upgrades carry real data: the demo town, taken down to every earlier schema revision
and migrated back to head, keeps every row and field the older schema could hold.

The revisions come from the Alembic script directory, so a new migration is covered as
soon as it exists. For each earlier revision R (newest first): downgrade head -> R, check
that every table R has still holds all its rows with every column R has, field by field
(geometries by their exact EWKB); upgrade R -> head, check the same again, and that the
tables a migration derives from others (:data:`DERIVED`) are rebuilt exactly. What a
downgrade must lose (a table or column R does not have) is the only difference allowed.

A new migration that changes existing data (rewrites values rather than adding or
dropping) lists here, in :data:`CHANGED`, the columns whose values it changes and gets a
test of its own that carries data across it (docs/decisions.md, "Migrations carry data").
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text

from locmap.db import alembic_config, downgrade, grant_app_role, upgrade
from locmap.pgserver import APP_ROLE, OWNER_ROLE, role_url

# Tables whose rows are computed from other tables by their migration's backfill and kept
# by triggers: after a round trip they must equal the original exactly.
DERIVED = frozenset({"locality_incident_count", "pseudonym_counter"})
# revision -> {"table.column"} whose values that migration rewrites on the way up.
CHANGED: dict[str, frozenset[str]] = {
    # Encrypted with a fresh IV each time: the same secret reads differently after a trip.
    "0014": frozenset({"user_account.totp_secret"}),
}
# revision -> {table: the rows a schema older than that revision keeps}: a downgrade below
# it deletes the others (0030 counts zoom 14 in map_cell_count; 0029 and older do not).
KEPT_BELOW: dict[str, dict[str, str]] = {"0030": {"map_cell_count": "zoom < 14"}}
SNAP = "migration_snapshot"


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config("postgresql://"))
    return [r.revision for r in script.walk_revisions()]  # head first


def _columns(conn: Connection, schema: str) -> dict[str, list[str]]:
    rows = conn.execute(text(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = :s AND t.table_type = 'BASE TABLE' "
        "AND c.table_name NOT IN ('spatial_ref_sys', 'alembic_version') "
        "ORDER BY c.table_name, c.ordinal_position"), {"s": schema}).all()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def _digest(conn: Connection, schema: str, table: str, cols: list[str],
            where: str = "true") -> tuple[int, str]:
    """Row count and md5 of every row's chosen fields (text form; geometry as hex EWKB)."""
    fields = ", ".join(f'"{c}"' for c in cols)
    return tuple(conn.execute(text(
        f"SELECT count(*), md5(coalesce(string_agg(r, E'\\n' ORDER BY r), '')) "
        f'FROM (SELECT ROW({fields})::text AS r FROM "{schema}"."{table}" '
        f"WHERE {where}) x")).one())


@pytest.fixture(scope="module")
def populated(demo_database: dict[str, str]) -> Iterator[str]:
    """The admin URL of the session's demo database (at head), with a copy of every table
    in the schema :data:`SNAP` to compare against (dropped afterwards).
    """
    admin = demo_database["admin"]
    eng = create_engine(admin)
    with eng.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {SNAP}"))
        for table in _columns(conn, "public"):
            conn.execute(text(f'CREATE TABLE {SNAP}."{table}" AS TABLE public."{table}"'))
    try:
        yield admin
    finally:
        with eng.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {SNAP} CASCADE"))
        eng.dispose()


def _compare(conn: Connection, revision: str, stage: str,
             held: dict[str, list[str]]) -> list[str]:
    """What differs from the snapshot in the tables and columns ``revision``'s schema
    holds (``held``); the rest a downgrade loses by design.
    """
    now, snap = held, _columns(conn, SNAP)
    changed = set().union(*(v for k, v in CHANGED.items()))
    problems = []
    for table, snap_cols in snap.items():
        if table not in now:
            continue  # the older schema has no such table: its rows are lost by design
        cols = [c for c in snap_cols if c in now[table] and f"{table}.{c}" not in changed]
        if not cols:
            continue
        kept = [cond for since, tables in KEPT_BELOW.items() for t, cond in tables.items()
                if t == table and stage == "down to" and revision < since]
        where = " AND ".join(kept) or "true"
        got = _digest(conn, "public", table, cols, where)
        want = _digest(conn, SNAP, table, cols, where)
        if got != want:
            problems.append(f"{stage} {revision}: {table} ({', '.join(cols)}) "
                            f"has {got[0]} rows, had {want[0]}, or their fields differ")
    return problems


@pytest.mark.slow
def test_demo_data_survive_every_revision_down_and_back_up(populated: str) -> None:
    revisions = _revisions()
    assert len(revisions) >= 6 and revisions[-1] == "0001"
    owner = role_url(populated, OWNER_ROLE)
    eng = create_engine(populated)
    problems: list[str] = []
    try:
        with eng.connect() as conn:
            before = {t: _digest(conn, SNAP, t, cols) for t, cols in _columns(conn, SNAP).items()}
        assert before["incident"][0] > 100 and before["person"][0] > 0
        for revision in revisions[1:]:
            downgrade(owner, revision)
            with eng.connect() as conn:
                held = _columns(conn, "public")
                problems += _compare(conn, revision, "down to", held)
            upgrade(owner, "head")  # the app's grants once, at the end
            with eng.connect() as conn:
                problems += _compare(conn, revision, "back up from", held)
                for table in DERIVED - set(held):
                    cols = _columns(conn, SNAP)[table]
                    if _digest(conn, "public", table, cols) != before[table]:
                        problems.append(f"{table} was not rebuilt exactly after {revision}")
    finally:
        eng.dispose()
        grant_app_role(owner, APP_ROLE)
    assert problems == [], "\n".join(problems)


def test_geometries_and_sample_records_equal_after_the_round_trips(populated: str) -> None:
    """Field by field for a sample, and every geometry by ST_OrderingEquals (same points
    in the same order), after the whole database went down to the first revision and back.
    """
    owner = role_url(populated, OWNER_ROLE)
    downgrade(owner, _revisions()[-1])
    eng = create_engine(populated)
    with eng.connect() as conn:
        held = _columns(conn, "public")
    upgrade(owner, "head", app_role=APP_ROLE)
    try:
        with eng.connect() as conn:
            geometry_columns = conn.execute(text(
                "SELECT g.f_table_name, g.f_geometry_column FROM geometry_columns g "
                "WHERE g.f_table_schema = 'public' AND EXISTS (SELECT 1 FROM "
                "information_schema.columns c WHERE c.table_schema = 'public' AND "
                "c.table_name = g.f_table_name AND c.column_name = 'id') ORDER BY 1, 2")).all()
            assert ("incident", "location") in geometry_columns
            for table, geom in geometry_columns:
                if geom not in held.get(table, ()):
                    continue  # the first revision had no such table or column
                unequal = conn.execute(text(
                    f"SELECT count(*) FROM public.{table} a FULL JOIN {SNAP}.{table} b "
                    f"USING (id) WHERE a.id IS NULL OR b.id IS NULL OR NOT coalesce("
                    f"ST_OrderingEquals(a.{geom}, b.{geom}), "
                    f"a.{geom} IS NULL AND b.{geom} IS NULL)")).scalar()
                assert unequal == 0, (table, geom)
                sample = conn.execute(text(
                    f"SELECT id FROM {SNAP}.{table} ORDER BY id LIMIT 5")).scalars().all()
                for pk in sample:
                    fields = ", ".join(f'"{c}"' for c in held[table])
                    a = conn.execute(text(f"SELECT {fields} FROM public.{table} WHERE id = :i"),
                                     {"i": pk}).mappings().one()
                    b = conn.execute(text(f"SELECT {fields} FROM {SNAP}.{table} WHERE id = :i"),
                                     {"i": pk}).mappings().one()
                    assert dict(a) == dict(b), (table, pk)
    finally:
        eng.dispose()
