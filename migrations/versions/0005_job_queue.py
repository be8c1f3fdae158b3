"""job queue and uploads in the database

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Issue 13: imports run in ``locmap worker`` through procrastinate, whose schema (tables
``procrastinate_jobs``, ``procrastinate_workers``, ``procrastinate_events``,
``procrastinate_periodic_defers``, their types, functions and triggers) is applied here
from the installed package's ``schema.sql`` (procrastinate 3.10; a later procrastinate
version brings its own migration files, to be applied in a later revision). Uploads
waiting for their import move from the web server's disk into the ``upload`` table, so
any web or worker process can read them.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    from procrastinate.schema import SchemaManager

    # Driver-level, so :name sequences are not taken for parameters; % is doubled as
    # procrastinate's own SchemaManager.apply_schema does.
    op.get_bind().exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))
    op.create_table('upload',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('pilot_id', sa.Integer(), nullable=False),
    sa.Column('uploader_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('meta', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('data_import_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['data_import_id'], ['data_import.id'], name=op.f('fk_upload_data_import_id_data_import'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], name=op.f('fk_upload_pilot_id_pilot'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploader_id'], ['user_account.id'], name=op.f('fk_upload_uploader_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upload')),
    sa.UniqueConstraint('token', name=op.f('uq_upload_token'))
    )
    op.create_index(op.f('ix_upload_created_at'), 'upload', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_upload_created_at'), table_name='upload')
    op.drop_table('upload')
    for table in ('procrastinate_events', 'procrastinate_periodic_defers',
                  'procrastinate_jobs', 'procrastinate_workers'):
        op.execute(f'DROP TABLE IF EXISTS {table} CASCADE')
    # Every function the schema created (their signatures vary between versions).
    op.execute("""
        DO $$
        DECLARE f regprocedure;
        BEGIN
          FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
                   JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%'
          LOOP
            EXECUTE 'DROP FUNCTION ' || f || ' CASCADE';
          END LOOP;
        END $$""")
    for type_ in ('procrastinate_job_to_defer_v1', 'procrastinate_job_event_type',
                  'procrastinate_job_status'):
        op.execute(f'DROP TYPE IF EXISTS {type_} CASCADE')
