"""safety maps carry a version (optimistic locking)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

Issue 16: safety maps are now drawn, changed and deleted from the web app and the API, so
two practitioners editing one map must not overwrite each other silently; like every other
editable record it carries a version. Existing maps start at version 1.
"""

from alembic import op
import sqlalchemy as sa

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('safety_map', sa.Column('version', sa.Integer(), nullable=False,
                                          server_default='1'))
    op.alter_column('safety_map', 'version', server_default=None)


def downgrade() -> None:
    op.drop_column('safety_map', 'version')
