"""the board's pack (built by the worker) and partner-agency referral forms

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07

Issue 19. ``board_pack`` is one pack a user asked for: the period (quarter or year) and
its last day, one pilot or (``pilot_id`` empty) every pilot the user may see, the job's
status and, when done, the PDF and XLSX. ``partner_referral_form`` is a referral form an
admin enabled for a pilot and a named partner agency (its link's key). New tables only:
nothing existing changes.
"""

from alembic import op
import sqlalchemy as sa

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'board_pack',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=True),
        sa.Column('period', sa.String(length=10), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('pdf', sa.LargeBinary(), nullable=True),
        sa.Column('xlsx', sa.LargeBinary(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint("period IN ('quarter', 'year')",
                           name=op.f('ck_board_pack_period_vocab')),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')",
                           name=op.f('ck_board_pack_status_vocab')),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE',
                                name=op.f('fk_board_pack_user_id_user_account')),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ondelete='CASCADE',
                                name=op.f('fk_board_pack_pilot_id_pilot')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_board_pack')),
    )
    op.create_index('ix_board_pack_user', 'board_pack', ['user_id'], unique=False)
    op.create_table(
        'partner_referral_form',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ondelete='CASCADE',
                                name=op.f('fk_partner_referral_form_pilot_id_pilot')),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], ondelete='CASCADE',
                                name=op.f('fk_partner_referral_form_agency_id_agency')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_referral_form')),
        sa.UniqueConstraint('key', name=op.f('uq_partner_referral_form_key')),
    )


def downgrade() -> None:
    op.drop_table('partner_referral_form')
    op.drop_index('ix_board_pack_user', table_name='board_pack')
    op.drop_table('board_pack')
