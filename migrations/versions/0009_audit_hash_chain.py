"""audit trail: a hash chain for tamper evidence

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

Issue 15 (the auditor's page): every audit event carries ``prev_hash`` (the hash of the
event before it) and ``hash`` (SHA-256 of a canonical text of the event, ``prev_hash``
included), so that editing or deleting any event breaks every link after it and
``locmap audit verify`` reports the first broken one.

A BEFORE INSERT trigger computes both. It first takes a transaction-scoped advisory lock,
so concurrent appends are serialised and the chain cannot fork: the second transaction
waits until the first commits or rolls back, then reads the chain's head afresh (a
plpgsql query takes a new snapshot under READ COMMITTED). The id is drawn from the
sequence *after* the lock, so id order is chain order. Existing events are chained in id
order here (the append-only trigger is lifted for the backfill only).

The canonical text is a JSON array (``jsonb``'s text form is deterministic, and a JSON
null is not an empty string); the same expression is in
``locmap.services.audit.CANONICAL_SQL``, which verification uses instead of this
function, so replacing the function does not fool the check.
"""

from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
# Keep identical to locmap.services.audit.CANONICAL_SQL (with NEW. for e.).
CANONICAL = """jsonb_build_array(
    {e}id, to_char({e}at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), {e}user_id,
    {e}user_email, {e}action, {e}entity, {e}entity_id, {e}pilot_id, {e}personal_data,
    {e}detail, {e}remote_addr::text, {e}prev_hash)::text"""
DIGEST = "encode(sha256(convert_to({canonical}, 'UTF8')), 'hex')"


def upgrade() -> None:
    op.add_column('audit_event', sa.Column('prev_hash', sa.String(64), nullable=True))
    op.add_column('audit_event', sa.Column('hash', sa.String(64), nullable=True))
    row = DIGEST.format(canonical=CANONICAL.format(e="r."))
    op.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
    op.execute(f"""
        DO $$
        DECLARE r audit_event; prev text := '{GENESIS}';
        BEGIN
          FOR r IN SELECT * FROM audit_event ORDER BY id LOOP
            r.prev_hash := prev;
            prev := {row};
            UPDATE audit_event SET prev_hash = r.prev_hash, hash = prev WHERE id = r.id;
          END LOOP;
        END $$
    """)  # noqa: S608 - constants of this file only
    op.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")
    op.alter_column('audit_event', 'prev_hash', nullable=False)
    op.alter_column('audit_event', 'hash', nullable=False)
    # The trigger draws the id (after the lock); a column default would draw one too.
    op.execute("ALTER TABLE audit_event ALTER COLUMN id DROP DEFAULT")
    new = DIGEST.format(canonical=CANONICAL.format(e="NEW."))
    op.execute(f"""
        CREATE FUNCTION audit_event_chain() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE head text;
        BEGIN
          -- One appender at a time, until its transaction ends: the chain cannot fork.
          PERFORM pg_advisory_xact_lock(hashtext('locmap'), hashtext('audit_event chain'));
          NEW.id := nextval('audit_event_id_seq'::regclass);
          SELECT hash INTO head FROM audit_event ORDER BY id DESC LIMIT 1;
          NEW.prev_hash := coalesce(head, '{GENESIS}');
          NEW.hash := {new};
          RETURN NEW;
        END $$;
        CREATE TRIGGER audit_event_chain BEFORE INSERT ON audit_event
            FOR EACH ROW EXECUTE FUNCTION audit_event_chain();
    """)  # noqa: S608 - constants of this file only


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_event_chain ON audit_event")
    op.execute("DROP FUNCTION audit_event_chain()")
    op.execute("ALTER TABLE audit_event ALTER COLUMN id SET DEFAULT "
               "nextval('audit_event_id_seq'::regclass)")
    op.drop_column('audit_event', 'hash')
    op.drop_column('audit_event', 'prev_hash')
