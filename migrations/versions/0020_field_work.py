"""field work: photos, idempotent creates, the walk of a site visit

Revision ID: 0020
Revises: 0013
Create Date: 2026-12-06

Issue 18: photos on site visits and incidents (resized JPEG without metadata, in the
database like uploads, deleted with their visit or incident); the answers to create
requests sent with an Idempotency-Key, so a phone's resend never creates twice; and the
route and time at each place of a visit whose walk was recorded.
"""

from alembic import op
import geoalchemy2
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0020'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'photo',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('observation_id', sa.Integer(), nullable=True),
        sa.Column('incident_id', sa.Integer(), nullable=True),
        sa.Column('uploader_id', sa.Integer(), nullable=True),
        sa.Column('width', sa.SmallInteger(), nullable=False),
        sa.Column('height', sa.SmallInteger(), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint('(observation_id IS NULL) <> (incident_id IS NULL)',
                           name=op.f('ck_photo_one_owner')),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ondelete='CASCADE',
                                name=op.f('fk_photo_pilot_id_pilot')),
        sa.ForeignKeyConstraint(['observation_id'], ['observation.id'], ondelete='CASCADE',
                                name=op.f('fk_photo_observation_id_observation')),
        sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ondelete='CASCADE',
                                name=op.f('fk_photo_incident_id_incident')),
        sa.ForeignKeyConstraint(['uploader_id'], ['user_account.id'], ondelete='SET NULL',
                                name=op.f('fk_photo_uploader_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_photo')),
    )
    op.create_index('ix_photo_observation', 'photo', ['observation_id'])
    op.create_index('ix_photo_incident', 'photo', ['incident_id'])
    op.create_table(
        'idempotent_request',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=100), nullable=False),
        sa.Column('method', sa.String(length=10), nullable=False),
        sa.Column('path', sa.String(length=500), nullable=False),
        sa.Column('status', sa.SmallInteger(), nullable=False),
        sa.Column('body', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE',
                                name=op.f('fk_idempotent_request_user_id_user_account')),
        sa.PrimaryKeyConstraint('user_id', 'key', name=op.f('pk_idempotent_request')),
    )
    op.create_index(op.f('ix_idempotent_request_created_at'), 'idempotent_request',
                    ['created_at'])
    op.add_column('observation', sa.Column(
        'route', geoalchemy2.types.Geometry(geometry_type='LINESTRING', srid=4326,
                                            spatial_index=False), nullable=True))
    op.add_column('observation', sa.Column(
        'place_times', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.create_index('ix_observation_route', 'observation', ['route'], postgresql_using='gist')


def downgrade() -> None:
    op.drop_index('ix_observation_route', table_name='observation')
    op.drop_column('observation', 'place_times')
    op.drop_column('observation', 'route')
    op.drop_index(op.f('ix_idempotent_request_created_at'), table_name='idempotent_request')
    op.drop_table('idempotent_request')
    op.drop_index('ix_photo_incident', table_name='photo')
    op.drop_index('ix_photo_observation', table_name='photo')
    op.drop_table('photo')
