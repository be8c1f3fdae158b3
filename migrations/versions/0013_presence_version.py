"""presences carry a version (optimistic locking)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

Issue 16: a presence can now be changed and ended from the person page, so two people
editing one must not overwrite each other silently; like every other editable record it
carries a version. Existing presences start at version 1.
"""

from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('presence', sa.Column('version', sa.Integer(), nullable=False,
                                        server_default='1'))
    op.alter_column('presence', 'version', server_default=None)


def downgrade() -> None:
    op.drop_column('presence', 'version')
