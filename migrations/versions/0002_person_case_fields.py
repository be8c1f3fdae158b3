"""person case fields

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

A young person's exploitation category, case status and date of last risk assessment,
which the partnership dashboard counts (issue 9). All nullable: adults have none, and
existing people have not been recorded yet.
"""

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('person', sa.Column('exploitation_category', sa.String(length=20), nullable=True))
    op.add_column('person', sa.Column('case_status', sa.String(length=20), nullable=True))
    op.add_column('person', sa.Column('last_risk_assessment_on', sa.Date(), nullable=True))
    op.create_check_constraint(
        op.f('ck_person_exploitation_category_vocab'), 'person',
        "exploitation_category IN ('cse_1', 'cse_2', 'cse_3', 'other_exploitation', 'cce', "
        "'missing', 'none')",
    )
    op.create_check_constraint(
        op.f('ck_person_case_status_vocab'), 'person',
        "case_status IN ('early_help', 'open_case', 'child_in_need', 'child_protection', "
        "'looked_after', 'not_open')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f('ck_person_case_status_vocab'), 'person', type_='check')
    op.drop_constraint(op.f('ck_person_exploitation_category_vocab'), 'person', type_='check')
    op.drop_column('person', 'last_risk_assessment_on')
    op.drop_column('person', 'case_status')
    op.drop_column('person', 'exploitation_category')
