"""map cell counts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

Issue 13 (load): the town-wide map at zoom 12 clustered every incident of the pilot on
each request. ``map_cell_count`` holds, per pilot and for each zoom level of
``MAP_CELL_ZOOMS``, the incidents of one grid cell of that zoom (the grid of
``locmap.queries.incidents.map_cells``: ``floor(x / cell)``, ``floor(y / cell)``) per harm
category, severity and local (Europe/London) month: their number and the sums of their
longitudes and latitudes (so the cell's centroid is ``sx / n``, ``sy / n``), and its worst
severity is the highest severity with a row. Statement-level triggers with transition
tables on ``incident`` (insert, update, delete, truncate) keep it exact, like
``locality_incident_count`` (0004); rows reaching 0 are deleted. Every statement applies
its changes in one ``INSERT ... ON CONFLICT`` whose rows are sorted by key, so two
statements writing to one pilot lock the rows they share in the same order.
"""

from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Keep in step with locmap.queries.incidents.AGG_ZOOMS and CELL_PX (60 px of 256-px tiles).
MAP_CELL_ZOOMS = range(6, 14)

_KEY = "pilot_id, zoom, gx, gy, category, severity, month"


def _delta(rows: str, sign: str, zooms: range = MAP_CELL_ZOOMS) -> str:
    """The change to the counts from ``rows`` (with a ``delta`` column if sign is '') at
    the zoom levels ``zooms`` (revision 0030 adds zoom 14).

    Cells are computed at the finest zoom and rolled up: a cell of the next zoom out is
    exactly 2 x 2 cells (its size is twice, a power of two, so ``floor(x / 2c)`` equals
    ``floor(x / c) >> 1`` also in floating point), which saves working out every
    incident's cell and month at each level.
    """
    finest = zooms[-1]
    cell = 360.0 / (256.0 * 2.0 ** finest) * 60
    n = f"{sign}count(*)" if sign else "sum(i.delta)"
    mul = f"{sign}1" if sign else "i.delta"
    levels = [f"""l{finest} AS (
          SELECT i.pilot_id, {finest} AS zoom, floor(i.x / {cell!r}::float8)::int AS gx,
                 floor(i.y / {cell!r}::float8)::int AS gy, i.category, i.severity, i.month,
                 {n} AS n, sum({mul} * i.x) AS sx, sum({mul} * i.y) AS sy
          FROM (SELECT r.*, ST_X(r.location) AS x, ST_Y(r.location) AS y,
                       date_trunc('month', r.occurred_at AT TIME ZONE 'Europe/London')::date
                         AS month
                FROM {rows} r JOIN pilot pi ON pi.id = r.pilot_id) AS i
          GROUP BY 1, 2, 3, 4, 5, 6, 7)"""]  # noqa: S608 - constants only
    for z in range(finest - 1, zooms[0] - 1, -1):
        levels.append(f"""l{z} AS (
          SELECT pilot_id, {z} AS zoom, gx >> 1 AS gx, gy >> 1 AS gy, category, severity,
                 month, sum(n) AS n, sum(sx) AS sx, sum(sy) AS sy
          FROM l{z + 1} GROUP BY 1, 2, 3, 4, 5, 6, 7)""")  # noqa: S608 - constants only
    union = " UNION ALL ".join(f"SELECT * FROM l{z}" for z in zooms)  # noqa: S608
    return f"WITH {', '.join(levels)} {union}"


def _trigger_function(name: str, delta: str, create: str = "CREATE") -> str:
    # RETURNING gives the rows as updated; those left at 0 are deleted by their ctid (this
    # statement holds their lock, so nobody else changed them in between).
    return f"""
{create} FUNCTION map_cell_count_{name}() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE zero tid[];
BEGIN
  WITH up AS (
    INSERT INTO map_cell_count AS t ({_KEY}, n, sx, sy)
    SELECT * FROM ({delta}) AS d
    WHERE d.n <> 0 OR d.sx <> 0 OR d.sy <> 0
    -- Sorted by key: concurrent statements lock shared rows in one order (no deadlock).
    ORDER BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT ({_KEY}) DO UPDATE
      SET n = t.n + EXCLUDED.n, sx = t.sx + EXCLUDED.sx, sy = t.sy + EXCLUDED.sy
    RETURNING t.ctid AS tid, t.n)
  SELECT array_agg(up.tid) INTO zero FROM up WHERE up.n = 0;
  IF zero IS NOT NULL THEN
    DELETE FROM map_cell_count WHERE ctid = ANY(zero);
  END IF;
  RETURN NULL;
END $$;
"""  # noqa: S608 - constants only


_UPDATED = """(SELECT o.pilot_id, o.category, o.severity, o.occurred_at, o.location,
                 -1 AS delta
          FROM old_rows o
          WHERE NOT EXISTS (
            SELECT 1 FROM new_rows w
            WHERE w.id = o.id AND w.pilot_id = o.pilot_id AND w.category = o.category
              AND w.severity = o.severity AND w.occurred_at = o.occurred_at
              AND w.location = o.location)
          UNION ALL
          SELECT w.pilot_id, w.category, w.severity, w.occurred_at, w.location, 1
          FROM new_rows w
          WHERE NOT EXISTS (
            SELECT 1 FROM old_rows o
            WHERE w.id = o.id AND w.pilot_id = o.pilot_id AND w.category = o.category
              AND w.severity = o.severity AND w.occurred_at = o.occurred_at
              AND w.location = o.location))"""

def counting_functions(zooms: range, create: str = "CREATE") -> str:
    """The insert, delete and update trigger functions counting at ``zooms``."""
    return (_trigger_function("ins", _delta("new_rows", "+", zooms), create)
            + _trigger_function("del", _delta("old_rows", "-", zooms), create)
            + _trigger_function("upd", _delta(_UPDATED, "", zooms), create))


_FUNCTIONS = (
    counting_functions(MAP_CELL_ZOOMS)  # noqa: S608 - constants only
    + """
CREATE FUNCTION map_cell_count_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM map_cell_count;
  RETURN NULL;
END $$;
"""
)

_TRIGGERS = """
CREATE TRIGGER map_cell_count_ins AFTER INSERT ON incident
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION map_cell_count_ins();
CREATE TRIGGER map_cell_count_del AFTER DELETE ON incident
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION map_cell_count_del();
CREATE TRIGGER map_cell_count_upd AFTER UPDATE ON incident
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION map_cell_count_upd();
CREATE TRIGGER map_cell_count_truncate AFTER TRUNCATE ON incident
  FOR EACH STATEMENT EXECUTE FUNCTION map_cell_count_truncate();
"""


def upgrade() -> None:
    op.create_table(
        'map_cell_count',
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('zoom', sa.SmallInteger(), nullable=False),
        sa.Column('gx', sa.Integer(), nullable=False),
        sa.Column('gy', sa.Integer(), nullable=False),
        sa.Column('category', sa.String(length=40), nullable=False),
        sa.Column('severity', sa.SmallInteger(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.Column('sx', sa.Float(precision=53), nullable=False),
        sa.Column('sy', sa.Float(precision=53), nullable=False),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'],
                                name=op.f('fk_map_cell_count_pilot_id_pilot'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('pilot_id', 'zoom', 'gx', 'gy', 'category', 'severity',
                                'month', name=op.f('pk_map_cell_count')),
    )
    op.execute(_FUNCTIONS)
    op.execute(f"INSERT INTO map_cell_count ({_KEY}, n, sx, sy) "
               f"{_delta('incident', '+')} ORDER BY 1, 2, 3, 4, 5, 6, 7")
    op.execute(_TRIGGERS)


def downgrade() -> None:
    for t in ("ins", "del", "upd", "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS map_cell_count_{t} ON incident")
    for f in ("truncate", "upd", "del", "ins"):
        op.execute(f"DROP FUNCTION IF EXISTS map_cell_count_{f}()")
    op.drop_table('map_cell_count')
