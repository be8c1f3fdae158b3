"""inbox read state per user; a coordinator's recorded override of the plan approval block

Revision ID: 0017
Revises: 0021
Create Date: 2026-12-06

Issue 16: "Waiting for me" becomes an inbox with read/unread per user (and each new item
emailed once when SMTP is configured), so one row per user and item remembers when it was
read and mailed. A plan cannot be approved while its assessment is in review unless a
coordinator records an override with a reason: three columns on the plan version.
"""

from alembic import op
import sqlalchemy as sa

revision = '0017'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'inbox_state',
        sa.Column('user_id', sa.Integer(),
                  sa.ForeignKey('user_account.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('item_key', sa.String(80), primary_key=True),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('mailed_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column('plan', sa.Column('override_reason', sa.Text(), nullable=True))
    op.add_column('plan', sa.Column('override_by_id', sa.Integer(),
                                    sa.ForeignKey('user_account.id'), nullable=True))
    op.add_column('plan', sa.Column('override_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('plan', 'override_at')
    op.drop_column('plan', 'override_by_id')
    op.drop_column('plan', 'override_reason')
    op.drop_table('inbox_state')
