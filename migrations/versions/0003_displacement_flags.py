"""displacement flags

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

Decisions on "possible displacement" flags (issue 9): confirmed or dismissed with a
reason, the evidence seen at the time, and — when confirmed — the two places' latest
assessments linked on the flag.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'displacement_flag',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('source_place_id', sa.Integer(), nullable=False),
        sa.Column('dest_place_id', sa.Integer(), nullable=True),
        sa.Column('dest_feature_id', sa.Integer(), nullable=True),
        sa.Column('intervention_month', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('evidence', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('source_assessment_id', sa.Integer(), nullable=True),
        sa.Column('dest_assessment_id', sa.Integer(), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint("status IN ('confirmed', 'dismissed')",
                           name=op.f('ck_displacement_flag_status_vocab')),
        sa.CheckConstraint('(dest_place_id IS NULL) <> (dest_feature_id IS NULL)',
                           name=op.f('ck_displacement_flag_one_destination')),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'],
                                name=op.f('fk_displacement_flag_pilot_id_pilot'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['source_place_id'], ['place.id'],
                                name=op.f('fk_displacement_flag_source_place_id_place'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['dest_place_id'], ['place.id'],
                                name=op.f('fk_displacement_flag_dest_place_id_place'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['dest_feature_id'], ['feature.id'],
                                name=op.f('fk_displacement_flag_dest_feature_id_feature'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['source_assessment_id'], ['assessment.id'],
                                name=op.f('fk_displacement_flag_source_assessment_id_assessment'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['dest_assessment_id'], ['assessment.id'],
                                name=op.f('fk_displacement_flag_dest_assessment_id_assessment'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'],
                                name=op.f('fk_displacement_flag_decided_by_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_displacement_flag')),
    )
    op.create_index('ix_displacement_flag_pilot', 'displacement_flag', ['pilot_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_displacement_flag_pilot', table_name='displacement_flag')
    op.drop_table('displacement_flag')
