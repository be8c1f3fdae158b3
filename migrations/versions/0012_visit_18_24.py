"""site visits count young adults aged 18-24

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

Issue 16: the CSAP strategy covers young people up to 25, so a site visit counts those
aged 18-24 as well. Existing visits keep their counts; the new band starts at 0 (nobody
counted them before, which the place page does not pretend otherwise about: it shows 0).
"""

from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

_OLD = ("young_people_10_13 >= 0 AND young_people_14_15 >= 0 AND young_people_16_17 >= 0 "
        "AND adults_present >= 0 AND staff_guardians_present >= 0")
_NEW = ("young_people_10_13 >= 0 AND young_people_14_15 >= 0 AND young_people_16_17 >= 0 "
        "AND young_people_18_24 >= 0 AND adults_present >= 0 AND staff_guardians_present >= 0")


def upgrade() -> None:
    op.add_column('observation', sa.Column('young_people_18_24', sa.Integer(),
                                           nullable=False, server_default='0'))
    op.alter_column('observation', 'young_people_18_24', server_default=None)
    op.drop_constraint(op.f('ck_observation_counts_non_negative'), 'observation', type_='check')
    op.create_check_constraint(op.f('ck_observation_counts_non_negative'), 'observation', _NEW)


def downgrade() -> None:
    op.drop_constraint(op.f('ck_observation_counts_non_negative'), 'observation', type_='check')
    op.create_check_constraint(op.f('ck_observation_counts_non_negative'), 'observation', _OLD)
    op.drop_column('observation', 'young_people_18_24')
