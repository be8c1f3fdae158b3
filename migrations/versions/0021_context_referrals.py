"""context referrals and screening, context thresholds, MACE meetings and the high-risk log

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06

Issue 19 (the Contextual Safeguarding pathway). ``context_threshold`` holds the criteria
a pilot writes beside each level (universal / targeted / specialist); until it writes one
the default wording applies. ``context_referral`` is a referral of a context (an existing
place, a new place, a peer group, a school or an online space) and its screening: the
decision, its reason, who and when, and the plan action (Level 1) or draft assessment
(Level 2) it led to. ``referral_person`` names the young people affected by pseudonym.
``context_meeting`` (date, chair), ``meeting_attendance`` (agency, how many),
``agenda_item`` (a context under the VOLT headings, what was shared, the decision),
``meeting_action`` (on a plan through ``action_id``, or standalone) and
``high_risk_context`` (the panel's log: open since, why, latest decision, closed with a
reason) are the context conferences.
Every table carries ``pilot_id``. New tables only: nothing existing changes.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'context_threshold',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('level', sa.String(length=20), nullable=False),
        sa.Column('criteria', sa.Text(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint("level IN ('universal', 'targeted', 'specialist')",
                           name=op.f('ck_context_threshold_level_vocab')),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ondelete='CASCADE',
                                name=op.f('fk_context_threshold_pilot_id_pilot')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_context_threshold')),
        sa.UniqueConstraint('pilot_id', 'level', name='uq_context_threshold_pilot_level'),
    )
    op.create_table(
        'context_referral',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('context_kind', sa.String(length=20), nullable=False),
        sa.Column('place_id', sa.Integer(), nullable=True),
        sa.Column('context_name', sa.String(length=200), nullable=False),
        sa.Column('new_place_kind', sa.String(length=30), nullable=True),
        sa.Column('new_place_geometry', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column('concern', sa.Text(), nullable=False),
        sa.Column('harm_types', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('children_count', sa.Integer(), nullable=True),
        sa.Column('referrer_name', sa.String(length=200), nullable=False),
        sa.Column('referrer_agency_id', sa.Integer(), nullable=True),
        sa.Column('urgency', sa.String(length=20), nullable=False),
        sa.Column('referred_on', sa.Date(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('threshold_level', sa.String(length=20), nullable=True),
        sa.Column('outcome', sa.String(length=20), nullable=True),
        sa.Column('decision_reason', sa.Text(), nullable=False),
        sa.Column('screened_by_id', sa.Integer(), nullable=True),
        sa.Column('screened_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('action_id', sa.Integer(), nullable=True),
        sa.Column('assessment_id', sa.Integer(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint("context_kind IN ('place', 'new_place', 'peer_group', 'school', "
                           "'online')", name=op.f('ck_context_referral_context_kind_vocab')),
        sa.CheckConstraint("urgency IN ('routine', 'priority', 'urgent')",
                           name=op.f('ck_context_referral_urgency_vocab')),
        sa.CheckConstraint("threshold_level IN ('universal', 'targeted', 'specialist')",
                           name=op.f('ck_context_referral_threshold_level_vocab')),
        sa.CheckConstraint("outcome IN ('no_further_action', 'level_1', 'level_2')",
                           name=op.f('ck_context_referral_outcome_vocab')),
        sa.CheckConstraint("new_place_kind IN ('park', 'street', 'fast_food', 'library', "
                           "'school', 'transport_hub', 'shopping_centre', 'housing_estate', "
                           "'online', 'other')",
                           name=op.f('ck_context_referral_new_place_kind_vocab')),
        sa.CheckConstraint('children_count IS NULL OR children_count >= 0',
                           name=op.f('ck_context_referral_children_count_range')),
        sa.CheckConstraint('(outcome IS NULL) = (screened_at IS NULL)',
                           name=op.f('ck_context_referral_screened')),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ondelete='CASCADE',
                                name=op.f('fk_context_referral_pilot_id_pilot')),
        sa.ForeignKeyConstraint(['place_id'], ['place.id'], ondelete='SET NULL',
                                name=op.f('fk_context_referral_place_id_place')),
        sa.ForeignKeyConstraint(['referrer_agency_id'], ['agency.id'],
                                name=op.f('fk_context_referral_referrer_agency_id_agency')),
        sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'],
                                name=op.f('fk_context_referral_created_by_id_user_account')),
        sa.ForeignKeyConstraint(['screened_by_id'], ['user_account.id'],
                                name=op.f('fk_context_referral_screened_by_id_user_account')),
        sa.ForeignKeyConstraint(['action_id'], ['action.id'], ondelete='SET NULL',
                                name=op.f('fk_context_referral_action_id_action')),
        sa.ForeignKeyConstraint(['assessment_id'], ['assessment.id'], ondelete='SET NULL',
                                name=op.f('fk_context_referral_assessment_id_assessment')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_context_referral')),
    )
    op.create_index('ix_context_referral_pilot', 'context_referral',
                    ['pilot_id', 'referred_on'])
    op.create_table(
        'referral_person',
        sa.Column('referral_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['referral_id'], ['context_referral.id'], ondelete='CASCADE',
                                name=op.f('fk_referral_person_referral_id_context_referral')),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], ondelete='CASCADE',
                                name=op.f('fk_referral_person_person_id_person')),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ondelete='CASCADE',
                                name=op.f('fk_referral_person_pilot_id_pilot')),
        sa.PrimaryKeyConstraint('referral_id', 'person_id', name=op.f('pk_referral_person')),
    )

    op.create_table(
        'context_meeting',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('held_on', sa.Date(), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('chair', sa.String(length=200), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ondelete='CASCADE',
                                name=op.f('fk_context_meeting_pilot_id_pilot')),
        sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'],
                                name=op.f('fk_context_meeting_created_by_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_context_meeting')),
    )
    op.create_index('ix_context_meeting_pilot', 'context_meeting', ['pilot_id', 'held_on'])
    op.create_table(
        'meeting_attendance',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('meeting_id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('attendees', sa.Integer(), nullable=False),
        sa.CheckConstraint('attendees BETWEEN 0 AND 100',
                           name=op.f('ck_meeting_attendance_attendees_range')),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ondelete='CASCADE',
                                name=op.f('fk_meeting_attendance_pilot_id_pilot')),
        sa.ForeignKeyConstraint(['meeting_id'], ['context_meeting.id'], ondelete='CASCADE',
                                name=op.f('fk_meeting_attendance_meeting_id_context_meeting')),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'],
                                name=op.f('fk_meeting_attendance_agency_id_agency')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_attendance')),
        sa.UniqueConstraint('meeting_id', 'agency_id', name='uq_meeting_attendance_agency'),
    )
    op.create_table(
        'high_risk_context',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('place_id', sa.Integer(), nullable=True),
        sa.Column('context_name', sa.String(length=200), nullable=False),
        sa.Column('opened_on', sa.Date(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('latest_decision', sa.Text(), nullable=False),
        sa.Column('opened_at_meeting_id', sa.Integer(), nullable=True),
        sa.Column('closed_on', sa.Date(), nullable=True),
        sa.Column('close_reason', sa.Text(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint('(closed_on IS NULL) = (close_reason IS NULL)',
                           name=op.f('ck_high_risk_context_closed_reason')),
        sa.CheckConstraint('closed_on IS NULL OR closed_on >= opened_on',
                           name=op.f('ck_high_risk_context_closed_after')),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ondelete='CASCADE',
                                name=op.f('fk_high_risk_context_pilot_id_pilot')),
        sa.ForeignKeyConstraint(['place_id'], ['place.id'], ondelete='SET NULL',
                                name=op.f('fk_high_risk_context_place_id_place')),
        sa.ForeignKeyConstraint(
            ['opened_at_meeting_id'], ['context_meeting.id'], ondelete='SET NULL',
            name=op.f('fk_high_risk_context_opened_at_meeting_id_context_meeting')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_high_risk_context')),
    )
    op.create_table(
        'agenda_item',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('meeting_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('place_id', sa.Integer(), nullable=True),
        sa.Column('context_name', sa.String(length=200), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('referral_id', sa.Integer(), nullable=True),
        sa.Column('log_entry_id', sa.Integer(), nullable=True),
        sa.Column('victim', sa.Text(), nullable=False),
        sa.Column('offender', sa.Text(), nullable=False),
        sa.Column('location', sa.Text(), nullable=False),
        sa.Column('theme', sa.Text(), nullable=False),
        sa.Column('shared', sa.Text(), nullable=False),
        sa.Column('decision', sa.Text(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint("source IN ('added', 'log', 'overdue', 'referral')",
                           name=op.f('ck_agenda_item_source_vocab')),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ondelete='CASCADE',
                                name=op.f('fk_agenda_item_pilot_id_pilot')),
        sa.ForeignKeyConstraint(['meeting_id'], ['context_meeting.id'], ondelete='CASCADE',
                                name=op.f('fk_agenda_item_meeting_id_context_meeting')),
        sa.ForeignKeyConstraint(['place_id'], ['place.id'], ondelete='SET NULL',
                                name=op.f('fk_agenda_item_place_id_place')),
        sa.ForeignKeyConstraint(['referral_id'], ['context_referral.id'], ondelete='SET NULL',
                                name=op.f('fk_agenda_item_referral_id_context_referral')),
        sa.ForeignKeyConstraint(['log_entry_id'], ['high_risk_context.id'],
                                ondelete='SET NULL',
                                name=op.f('fk_agenda_item_log_entry_id_high_risk_context')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_agenda_item')),
    )
    op.create_index('ix_agenda_item_meeting', 'agenda_item', ['meeting_id'])
    op.create_table(
        'meeting_action',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('action_id', sa.Integer(), nullable=True),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('owner_agency_id', sa.Integer(), nullable=True),
        sa.Column('lead', sa.String(length=200), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint("status IN ('planned', 'in_progress', 'done', 'dropped')",
                           name=op.f('ck_meeting_action_status_vocab')),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ondelete='CASCADE',
                                name=op.f('fk_meeting_action_pilot_id_pilot')),
        sa.ForeignKeyConstraint(['item_id'], ['agenda_item.id'], ondelete='CASCADE',
                                name=op.f('fk_meeting_action_item_id_agenda_item')),
        sa.ForeignKeyConstraint(['action_id'], ['action.id'], ondelete='SET NULL',
                                name=op.f('fk_meeting_action_action_id_action')),
        sa.ForeignKeyConstraint(['owner_agency_id'], ['agency.id'],
                                name=op.f('fk_meeting_action_owner_agency_id_agency')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_action')),
    )
    op.create_index('ix_meeting_action_item', 'meeting_action', ['item_id'])


def downgrade() -> None:
    op.drop_index('ix_meeting_action_item', table_name='meeting_action')
    op.drop_table('meeting_action')
    op.drop_index('ix_agenda_item_meeting', table_name='agenda_item')
    op.drop_table('agenda_item')
    op.drop_table('high_risk_context')
    op.drop_table('meeting_attendance')
    op.drop_index('ix_context_meeting_pilot', table_name='context_meeting')
    op.drop_table('context_meeting')
    op.drop_table('referral_person')
    op.drop_index('ix_context_referral_pilot', table_name='context_referral')
    op.drop_table('context_referral')
    op.drop_table('context_threshold')
