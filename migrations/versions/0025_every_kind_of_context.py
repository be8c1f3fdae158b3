"""peer groups, schools and online spaces as contexts: profiles and assessment sections

Revision ID: 0025
Revises: 0014
Create Date: 2026-12-07

Issue 19 (every kind of context). A peer group becomes a kind of place with no map
location (like an online space), so the place kind vocabularies (``place.kind`` and
``context_referral.new_place_kind``) and the place geometry rule gain ``peer_group``.
``context_profile`` holds a peer group's members and shared places, or an online space's
platform, channel, moderation contact and reporting route; ``context_answer`` holds one
assessment version's context section (peer-group prompts, school areas rated
red/amber/green). Downgrade deletes the peer-group places (and with them their
assessments and plans) before restoring the old rules.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0025'
down_revision = '0014'
branch_labels = None
depends_on = None

_OLD_KINDS = ("'park', 'street', 'fast_food', 'library', 'school', 'transport_hub', "
              "'shopping_centre', 'housing_estate', 'online', 'other'")
_NEW_KINDS = ("'park', 'street', 'fast_food', 'library', 'school', 'transport_hub', "
              "'shopping_centre', 'housing_estate', 'online', 'peer_group', 'other'")
_RULE = ("({none} AND geom IS NULL) OR (kind = 'street' AND geom IS NOT NULL AND "
         "GeometryType(geom) IN ('LINESTRING', 'POLYGON', 'MULTIPOLYGON')) OR (kind = 'park' "
         "AND geom IS NOT NULL AND GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON')) OR "
         "(kind = 'housing_estate' AND geom IS NOT NULL AND GeometryType(geom) IN ('POLYGON', "
         "'MULTIPOLYGON')) OR (kind NOT IN ({others}, 'street', 'park', 'housing_estate') AND "
         "geom IS NOT NULL AND GeometryType(geom) IN ('POINT', 'LINESTRING', 'POLYGON', "
         "'MULTIPOLYGON'))")
_OLD_RULE = _RULE.format(none="kind = 'online'", others="'online'")
_NEW_RULE = _RULE.format(none="kind IN ('online', 'peer_group')",
                         others="'online', 'peer_group'")
_ASSESSED = "kind IN ('peer_group', 'school', 'online')"


def _rules(kinds: str, rule: str) -> None:
    op.drop_constraint(op.f('ck_place_kind_vocab'), 'place', type_='check')
    op.drop_constraint(op.f('ck_place_geometry_fits_kind'), 'place', type_='check')
    op.drop_constraint(op.f('ck_context_referral_new_place_kind_vocab'), 'context_referral',
                       type_='check')
    op.create_check_constraint(op.f('ck_place_kind_vocab'), 'place', f"kind IN ({kinds})")
    op.create_check_constraint(op.f('ck_place_geometry_fits_kind'), 'place', rule)
    op.create_check_constraint(op.f('ck_context_referral_new_place_kind_vocab'),
                               'context_referral', f"new_place_kind IN ({kinds})")


def upgrade() -> None:
    _rules(_NEW_KINDS, _NEW_RULE)
    op.create_table(
        'context_profile',
        sa.Column('place_id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('source_group', sa.String(length=60), nullable=False),
        sa.Column('member_ids', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('shared_place_ids', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint(_ASSESSED, name=op.f('ck_context_profile_kind_vocab')),
        sa.ForeignKeyConstraint(['place_id'], ['place.id'], ondelete='CASCADE',
                                name=op.f('fk_context_profile_place_id_place')),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ondelete='CASCADE',
                                name=op.f('fk_context_profile_pilot_id_pilot')),
        sa.PrimaryKeyConstraint('place_id', name=op.f('pk_context_profile')),
    )
    op.create_table(
        'context_answer',
        sa.Column('assessment_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('answers', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint(_ASSESSED, name=op.f('ck_context_answer_kind_vocab')),
        sa.ForeignKeyConstraint(['assessment_id'], ['assessment.id'], ondelete='CASCADE',
                                name=op.f('fk_context_answer_assessment_id_assessment')),
        sa.PrimaryKeyConstraint('assessment_id', name=op.f('pk_context_answer')),
    )


def downgrade() -> None:
    op.drop_table('context_answer')
    op.drop_table('context_profile')
    op.execute("UPDATE context_referral SET new_place_kind = 'other' "
               "WHERE new_place_kind = 'peer_group'")
    op.execute("DELETE FROM place WHERE kind = 'peer_group'")
    _rules(_OLD_KINDS, _OLD_RULE)
