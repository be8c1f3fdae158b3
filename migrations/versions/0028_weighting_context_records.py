"""context weighting: a context's kind and the pilot's record of it

Revision ID: 0028
Revises: 0026
Create Date: 2026-12-07

Issue 19 ("context weighting links contexts of different kinds within one assessment").
``context_weight`` gains ``kind`` (place, peer group, school, online, home, other) and
``place_id``, the pilot's record of the context when it has one (a place, or a peer group,
school or online space, which are places of their kinds), at most once per assessment.
Existing rows: the context named as the assessed place itself (every assessment starts
with it) is linked to that place and takes its kind; the others stay "other", unlinked.
"""

from alembic import op
import sqlalchemy as sa

revision = '0028'
down_revision = '0026'
branch_labels = None
depends_on = None

_KINDS = "'place', 'peer_group', 'school', 'online', 'home', 'other'"


def upgrade() -> None:
    op.add_column('context_weight', sa.Column('kind', sa.String(length=20),
                                              server_default='other', nullable=False))
    op.add_column('context_weight', sa.Column('place_id', sa.Integer(), nullable=True))
    op.create_foreign_key(op.f('fk_context_weight_place_id_place'), 'context_weight', 'place',
                          ['place_id'], ['id'], ondelete='SET NULL')
    op.create_unique_constraint('uq_context_weight_place', 'context_weight',
                                ['assessment_id', 'place_id'])
    op.create_check_constraint(op.f('ck_context_weight_kind_vocab'), 'context_weight',
                               f"kind IN ({_KINDS})")
    op.create_index('ix_context_weight_place', 'context_weight', ['place_id'])
    op.execute(sa.text(
        "UPDATE context_weight AS w SET place_id = p.id, "
        "kind = CASE WHEN p.kind IN ('peer_group', 'school', 'online') THEN p.kind "
        "ELSE 'place' END "
        "FROM assessment AS a JOIN place AS p ON p.id = a.place_id "
        "WHERE a.id = w.assessment_id AND w.name = p.name"))


def downgrade() -> None:
    op.drop_index('ix_context_weight_place', table_name='context_weight')
    op.drop_constraint(op.f('ck_context_weight_kind_vocab'), 'context_weight', type_='check')
    op.drop_constraint('uq_context_weight_place', 'context_weight', type_='unique')
    op.drop_constraint(op.f('fk_context_weight_place_id_place'), 'context_weight',
                       type_='foreignkey')
    op.drop_column('context_weight', 'place_id')
    op.drop_column('context_weight', 'kind')
