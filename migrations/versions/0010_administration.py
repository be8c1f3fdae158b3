"""administration: agencies deactivated, invitations, pilot approval rule, archived pilots

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

Issue 15 (run a partnership from the browser). ``agency.active`` lets an admin retire an
agency without losing who belonged to it; ``user_account.must_change_password`` makes the
next page after a login the password form; ``invitation`` holds the SHA-256 of one-time
links (invite, password reset, first-admin setup) — never the token itself. A pilot's
approval rule gains the agencies that must approve every plan
(``pilot_approver_agency``) and a minimum number of approving partner reviewers
(``pilot.min_approvals``); a pilot may be ``archived`` (read-only, like ``closed``).
Existing rows keep their meaning: agencies active, nobody forced to change a password,
no extra approvers (the rule is what it was).
"""

from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('agency', sa.Column('active', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
    op.add_column('user_account', sa.Column('must_change_password', sa.Boolean(),
                                            nullable=False, server_default=sa.false()))
    op.add_column('pilot', sa.Column('min_approvals', sa.Integer(), nullable=False,
                                     server_default='0'))
    op.create_check_constraint('min_approvals_range', 'pilot', 'min_approvals BETWEEN 0 AND 20')
    op.drop_constraint(op.f('ck_pilot_status_vocab'), 'pilot', type_='check')
    op.create_check_constraint('status_vocab', 'pilot',
                               "status IN ('planned', 'active', 'closed', 'archived')")
    op.create_table(
        'pilot_approver_agency',
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ondelete='CASCADE',
                                name=op.f('fk_pilot_approver_agency_pilot_id_pilot')),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], ondelete='CASCADE',
                                name=op.f('fk_pilot_approver_agency_agency_id_agency')),
        sa.PrimaryKeyConstraint('pilot_id', 'agency_id', name=op.f('pk_pilot_approver_agency')),
    )
    op.create_table(
        'invitation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=10), nullable=False),
        sa.Column('token_sha256', sa.String(length=64), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("purpose IN ('invite', 'reset', 'setup')",
                           name=op.f('ck_invitation_purpose_vocab')),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE',
                                name=op.f('fk_invitation_user_id_user_account')),
        sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ondelete='SET NULL',
                                name=op.f('fk_invitation_created_by_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation')),
        sa.UniqueConstraint('token_sha256', name=op.f('uq_invitation_token_sha256')),
    )
    op.create_index('ix_invitation_user_id', 'invitation', ['user_id'])


def downgrade() -> None:
    op.drop_index('ix_invitation_user_id', table_name='invitation')
    op.drop_table('invitation')
    op.drop_table('pilot_approver_agency')
    op.execute("UPDATE pilot SET status = 'closed' WHERE status = 'archived'")
    op.drop_constraint(op.f('ck_pilot_status_vocab'), 'pilot', type_='check')
    op.create_check_constraint('status_vocab', 'pilot',
                               "status IN ('planned', 'active', 'closed')")
    op.drop_constraint(op.f('ck_pilot_min_approvals_range'), 'pilot', type_='check')
    op.drop_column('pilot', 'min_approvals')
    op.drop_column('user_account', 'must_change_password')
    op.drop_column('agency', 'active')
