"""pseudonyms are never reused

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Issue 14 (privacy decision): after YP-040 is erased, the next young person must not
become YP-040 again. ``pseudonym_counter`` holds the highest number ever issued per pilot
and prefix; a trigger on ``person`` raises it on every insert (the services, the demo
loader and any import alike) and nothing lowers it. Existing pilots are seeded from
their people, so a database upgraded after an erasure can still reuse the erased
numbers above the highest remaining one — nothing records them any more; the audit trail
does, and the note in docs/decisions.md says so.
"""

from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

def upgrade() -> None:
    op.create_table(
        'pseudonym_counter',
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('prefix', sa.String(length=8), nullable=False),
        sa.Column('last_number', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ondelete='CASCADE',
                                name=op.f('fk_pseudonym_counter_pilot_id_pilot')),
        sa.PrimaryKeyConstraint('pilot_id', 'prefix', name=op.f('pk_pseudonym_counter')),
    )
    op.execute("""
        CREATE FUNCTION pseudonym_counter_raise() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.pseudonym ~ '^[A-Z]+-[0-9]{1,9}$' THEN
            INSERT INTO pseudonym_counter (pilot_id, prefix, last_number)
            VALUES (NEW.pilot_id, split_part(NEW.pseudonym, '-', 1),
                    split_part(NEW.pseudonym, '-', 2)::int)
            ON CONFLICT (pilot_id, prefix) DO UPDATE
              SET last_number = GREATEST(pseudonym_counter.last_number, EXCLUDED.last_number);
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER person_pseudonym_counter AFTER INSERT ON person
          FOR EACH ROW EXECUTE FUNCTION pseudonym_counter_raise();
        INSERT INTO pseudonym_counter (pilot_id, prefix, last_number)
          SELECT pilot_id, split_part(pseudonym, '-', 1),
                 max(split_part(pseudonym, '-', 2)::int)
          FROM person WHERE pseudonym ~ '^[A-Z]+-[0-9]{1,9}$' GROUP BY 1, 2;
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER person_pseudonym_counter ON person; "
               "DROP FUNCTION pseudonym_counter_raise();")
    op.drop_table('pseudonym_counter')
