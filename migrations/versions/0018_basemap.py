"""the base map: features from an OpenStreetMap extract, builds, and a tile cache

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-06

Issue 17: locmap serves its own vector base map. ``basemap_feature`` holds roads,
railways, buildings, water, green space and points of interest in Web Mercator (with a
simplified copy for low zooms); ``basemap_build`` one row per build, whose version keys
``basemap_tile``, the cache of rendered tiles. Shared reference data: no pilot column.
"""

from alembic import op
import geoalchemy2
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0018'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'basemap_build',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.String(length=40), nullable=False),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('counts', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('bounds', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_basemap_build')),
        sa.UniqueConstraint('version', name=op.f('uq_basemap_build_version')),
    )
    op.create_table(
        'basemap_feature',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('layer', sa.String(length=20), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('osm_ref', sa.String(length=40), nullable=False),
        sa.Column('minzoom', sa.SmallInteger(), nullable=False),
        sa.Column('geom', geoalchemy2.types.Geometry(srid=3857, spatial_index=False,
                                                    from_text='ST_GeomFromEWKT',
                                                    name='geometry', nullable=False),
                  nullable=False),
        sa.Column('geom_low', geoalchemy2.types.Geometry(srid=3857, spatial_index=False,
                                                        from_text='ST_GeomFromEWKT',
                                                        name='geometry'), nullable=True),
        sa.CheckConstraint("layer IN ('roads', 'railways', 'buildings', 'water', 'green', "
                           "'pois')", name=op.f('ck_basemap_feature_layer_vocab')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_basemap_feature')),
    )
    op.create_index('ix_basemap_feature_geom', 'basemap_feature', ['geom'],
                    postgresql_using='gist')
    op.create_index('ix_basemap_feature_geom_low', 'basemap_feature', ['geom_low'],
                    postgresql_using='gist')
    op.create_index('ix_basemap_feature_name', 'basemap_feature', ['layer', 'name'])
    op.create_table(
        'basemap_tile',
        sa.Column('version', sa.String(length=40), nullable=False),
        sa.Column('z', sa.SmallInteger(), nullable=False),
        sa.Column('x', sa.Integer(), nullable=False),
        sa.Column('y', sa.Integer(), nullable=False),
        sa.Column('body', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('version', 'z', 'x', 'y', name=op.f('pk_basemap_tile')),
    )


def downgrade() -> None:
    op.drop_table('basemap_tile')
    op.drop_index('ix_basemap_feature_name', table_name='basemap_feature')
    op.drop_index('ix_basemap_feature_geom_low', table_name='basemap_feature')
    op.drop_index('ix_basemap_feature_geom', table_name='basemap_feature')
    op.drop_table('basemap_feature')
    op.drop_table('basemap_build')
