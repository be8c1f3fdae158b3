"""server-side sessions and two-factor sign-in

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

Issue 14: the login session was a signed cookie that logout could not end. A
``user_session`` row now stands behind every login (the cookie carries a random token,
the row only its SHA-256), so logout, deactivation and a password change end it at once.
``user_account`` gains the TOTP columns (secret, when it was confirmed, the last step
used, hashed recovery codes). No existing data changes: every user starts without
two-factor and every old cookie session is simply no longer recognised (log in again).
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'user_session',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('remote_addr', sa.String(length=45), nullable=True),
        sa.Column('user_agent', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE',
                                name=op.f('fk_user_session_user_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_session')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_user_session_token_hash')),
    )
    op.create_index(op.f('ix_user_session_user_id'), 'user_session', ['user_id'])
    op.create_index(op.f('ix_user_session_created_at'), 'user_session', ['created_at'])
    op.add_column('user_account', sa.Column('totp_secret', sa.String(length=64), nullable=True))
    op.add_column('user_account', sa.Column('totp_enabled_at', sa.DateTime(timezone=True),
                                            nullable=True))
    op.add_column('user_account', sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
    op.add_column('user_account', sa.Column(
        'totp_recovery', postgresql.JSONB(astext_type=sa.Text()), nullable=False,
        server_default='[]'))


def downgrade() -> None:
    op.drop_column('user_account', 'totp_recovery')
    op.drop_column('user_account', 'totp_last_step')
    op.drop_column('user_account', 'totp_enabled_at')
    op.drop_column('user_account', 'totp_secret')
    op.drop_index(op.f('ix_user_session_created_at'), table_name='user_session')
    op.drop_index(op.f('ix_user_session_user_id'), table_name='user_session')
    op.drop_table('user_session')
