"""locality incident counts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

Issue 7: a pilot's incidents that intersect its locality, counted per harm category,
severity and UTC day in ``locality_incident_count`` and kept exact by statement-level
triggers with transition tables on ``incident`` (insert, update, delete, truncate) and a
recount when a pilot's locality changes; see ``locmap.models.evidence.LocalityIncidentCount``.
"""

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# The day of an incident is its UTC date, (i.occurred_at AT TIME ZONE 'UTC')::date;
# rows that intersect their pilot's locality count.

_FUNCTIONS = """
CREATE FUNCTION locality_incident_count_apply(
    p int[], c text[], s int[], d date[], k bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF p IS NULL THEN
    RETURN;
  END IF;
  INSERT INTO locality_incident_count AS t (pilot_id, category, severity, day, n)
  SELECT * FROM unnest(p, c, s, d, k)
  ON CONFLICT (pilot_id, category, severity, day) DO UPDATE SET n = t.n + EXCLUDED.n;
  DELETE FROM locality_incident_count t
  USING unnest(p, c, s, d) AS u(pilot_id, category, severity, day)
  WHERE t.pilot_id = u.pilot_id AND t.category = u.category AND t.severity = u.severity
    AND t.day = u.day AND t.n = 0;
END $$;

CREATE FUNCTION locality_incident_count_ins() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE p int[]; c text[]; s int[]; d date[]; k bigint[];
BEGIN
  SELECT array_agg(x.pilot_id), array_agg(x.category), array_agg(x.severity),
         array_agg(x.day), array_agg(x.n)
  INTO p, c, s, d, k
  FROM (SELECT i.pilot_id, i.category, i.severity, (i.occurred_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
        FROM new_rows i JOIN pilot pi ON pi.id = i.pilot_id
        WHERE ST_Intersects(i.location, pi.locality)
        GROUP BY 1, 2, 3, 4) AS x;
  PERFORM locality_incident_count_apply(p, c, s, d, k);
  RETURN NULL;
END $$;

CREATE FUNCTION locality_incident_count_del() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE p int[]; c text[]; s int[]; d date[]; k bigint[];
BEGIN
  SELECT array_agg(x.pilot_id), array_agg(x.category), array_agg(x.severity),
         array_agg(x.day), array_agg(x.n)
  INTO p, c, s, d, k
  FROM (SELECT i.pilot_id, i.category, i.severity, (i.occurred_at AT TIME ZONE 'UTC')::date AS day, -count(*) AS n
        FROM old_rows i JOIN pilot pi ON pi.id = i.pilot_id
        WHERE ST_Intersects(i.location, pi.locality)
        GROUP BY 1, 2, 3, 4) AS x;
  PERFORM locality_incident_count_apply(p, c, s, d, k);
  RETURN NULL;
END $$;

-- Only rows whose pilot, place on the map, category, severity or time changed move a
-- count: an old row without an identical new row (same id) is taken off, a new row
-- without an identical old row is added.
CREATE FUNCTION locality_incident_count_upd() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE p int[]; c text[]; s int[]; d date[]; k bigint[];
BEGIN
  SELECT array_agg(x.pilot_id), array_agg(x.category), array_agg(x.severity),
         array_agg(x.day), array_agg(x.n)
  INTO p, c, s, d, k
  FROM (SELECT i.pilot_id, i.category, i.severity, (i.occurred_at AT TIME ZONE 'UTC')::date AS day, sum(i.delta) AS n
        FROM (SELECT o.pilot_id, o.category, o.severity, o.occurred_at, o.location,
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
                  AND w.location = o.location)) AS i
        JOIN pilot pi ON pi.id = i.pilot_id
        WHERE ST_Intersects(i.location, pi.locality)
        GROUP BY 1, 2, 3, 4
        HAVING sum(i.delta) <> 0) AS x;
  PERFORM locality_incident_count_apply(p, c, s, d, k);
  RETURN NULL;
END $$;

CREATE FUNCTION locality_incident_count_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM locality_incident_count;
  RETURN NULL;
END $$;

CREATE FUNCTION locality_incident_count_recount() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM locality_incident_count WHERE pilot_id = OLD.id;
  INSERT INTO locality_incident_count (pilot_id, category, severity, day, n)
  SELECT i.pilot_id, i.category, i.severity, (i.occurred_at AT TIME ZONE 'UTC')::date, count(*)
  FROM incident i
  WHERE i.pilot_id = NEW.id AND _ST_Intersects(i.location, NEW.locality)
  GROUP BY 1, 2, 3, 4;
  RETURN NULL;
END $$;
"""

_TRIGGERS = """
CREATE TRIGGER locality_incident_count_ins AFTER INSERT ON incident
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION locality_incident_count_ins();
CREATE TRIGGER locality_incident_count_del AFTER DELETE ON incident
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION locality_incident_count_del();
CREATE TRIGGER locality_incident_count_upd AFTER UPDATE ON incident
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION locality_incident_count_upd();
CREATE TRIGGER locality_incident_count_truncate AFTER TRUNCATE ON incident
  FOR EACH STATEMENT EXECUTE FUNCTION locality_incident_count_truncate();
CREATE TRIGGER locality_incident_count_recount AFTER UPDATE OF locality ON pilot
  FOR EACH ROW WHEN (OLD.locality IS DISTINCT FROM NEW.locality)
  EXECUTE FUNCTION locality_incident_count_recount();
"""

_BACKFILL = """
INSERT INTO locality_incident_count (pilot_id, category, severity, day, n)
SELECT i.pilot_id, i.category, i.severity, (i.occurred_at AT TIME ZONE 'UTC')::date, count(*)
FROM incident i JOIN pilot pi ON pi.id = i.pilot_id
WHERE ST_Intersects(i.location, pi.locality)
GROUP BY 1, 2, 3, 4
"""


def upgrade() -> None:
    op.create_table(
        'locality_incident_count',
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('category', sa.String(length=40), nullable=False),
        sa.Column('severity', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'],
                                name=op.f('fk_locality_incident_count_pilot_id_pilot'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('pilot_id', 'category', 'severity', 'day',
                                name=op.f('pk_locality_incident_count')),
    )
    op.execute(_FUNCTIONS)
    op.execute(_BACKFILL)
    op.execute(_TRIGGERS)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS locality_incident_count_recount ON pilot")
    for t in ("ins", "del", "upd", "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS locality_incident_count_{t} ON incident")
    for f in ("recount()", "truncate()", "upd()", "del()", "ins()",
              "apply(int[], text[], int[], date[], bigint[])"):
        op.execute(f"DROP FUNCTION IF EXISTS locality_incident_count_{f}")
    op.drop_table('locality_incident_count')
