"""retention rules per pilot (and a default); the day a pilot closed

Revision ID: 0015
Revises: 0017
Create Date: 2026-12-06

Issue 15: each pilot keeps each kind of personal and case data for a set number of
months (``retention_rule``, one default row with ``pilot_id`` NULL); the periods of its
people count from the day the pilot closed (``pilot.closed_on``). Pilots already closed
or archived get no date: their periods count from the pilot's planned end.
"""

from alembic import op
import sqlalchemy as sa

revision = '0015'
down_revision = '0017'
branch_labels = None
depends_on = None

COLUMNS = ("identity_months", "person_months", "incident_text_months", "incident_months",
           "visit_text_months", "engagement_text_months")


def upgrade() -> None:
    op.add_column('pilot', sa.Column('closed_on', sa.Date(), nullable=True))
    op.create_table(
        'retention_rule',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=True),
        *(sa.Column(c, sa.Integer(), nullable=True) for c in COLUMNS),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        *(sa.CheckConstraint(f'{c} IS NULL OR {c} BETWEEN 0 AND 600',
                             name=op.f(f'ck_retention_rule_{c}_range')) for c in COLUMNS),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'],
                                name=op.f('fk_retention_rule_pilot_id_pilot'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_rule')),
        sa.UniqueConstraint('pilot_id', name=op.f('uq_retention_rule_pilot_id')),
    )
    op.create_index('uq_retention_rule_default', 'retention_rule',
                    [sa.text('(pilot_id IS NULL)')], unique=True,
                    postgresql_where=sa.text('pilot_id IS NULL'))


def downgrade() -> None:
    op.drop_index('uq_retention_rule_default', table_name='retention_rule',
                  postgresql_where=sa.text('pilot_id IS NULL'))
    op.drop_table('retention_rule')
    op.drop_column('pilot', 'closed_on')
