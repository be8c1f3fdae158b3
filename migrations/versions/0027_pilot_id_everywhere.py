"""every table holding a pilot's data carries pilot_id (issue 20 (a): Citus-ready)

Revision ID: 0027
Revises: 0028
Create Date: 2026-12-07

The tables that reached their pilot only through a parent (an assessment through its
place, a plan through its assessment, an action through its plan ...) get ``pilot_id``:
added, filled from the parent in dependency order, then NOT NULL, with the foreign key to
``pilot`` every other pilot_id has. The association tables take it into their primary key,
and the unique constraints of distributed tables include it (locmap.models.tenancy).

Then every table distributed by pilot is keyed by (its id, pilot_id), and every foreign
key between two such tables becomes (column, pilot_id) -> (id, pilot_id) under its old
name; ON DELETE SET NULL empties the column only (``SET NULL (column)``, PostgreSQL 15).
The ids stay unique from their sequences; the app still finds a row by its id.

On downgrade the keys and constraints go back to what they were and the added columns are
dropped. The app fills the column from the parent (locmap.models.base.pilot_from).
"""

import re

from alembic import op
import sqlalchemy as sa

revision = '0027'
down_revision = '0028'
branch_labels = None
depends_on = None

# (table, ((parent foreign key column, parent table), ...)) in the order they are filled:
# a parent before its children.
CHILDREN = (
    ('assessment', (('place_id', 'place'),)),
    ('observation', (('place_id', 'place'),)),
    ('safety_factor', (('place_id', 'place'),)),
    ('safety_map_area', (('safety_map_id', 'safety_map'),)),
    ('feature', (('layer_id', 'feature_layer'),)),
    ('context_weight', (('assessment_id', 'assessment'),)),
    ('context_link', (('assessment_id', 'assessment'),)),
    ('context_answer', (('assessment_id', 'assessment'),)),
    ('plan', (('assessment_id', 'assessment'),)),
    ('action', (('plan_id', 'plan'),)),
    ('plan_gap_reason', (('plan_id', 'plan'),)),
    ('kpi', (('plan_id', 'plan'),)),
    ('kpi_measurement', (('kpi_id', 'kpi'),)),
    ('review', (('assessment_id', 'assessment'), ('plan_id', 'plan'))),
    ('review_request', (('assessment_id', 'assessment'), ('plan_id', 'plan'))),
    ('identity', (('person_id', 'person'),)),
    ('presence', (('person_id', 'person'),)),
    ('incident_person', (('incident_id', 'incident'),)),
    ('factor_incident', (('factor_id', 'safety_factor'),)),
    ('factor_observation', (('factor_id', 'safety_factor'),)),
    ('factor_engagement', (('factor_id', 'safety_factor'),)),
    ('engagement_place', (('engagement_id', 'engagement_record'),)),
    ('awareness_place', (('awareness_id', 'awareness_activity'),)),
    ('action_factor', (('action_id', 'action'),)),
)

# Association tables: their primary key (the two ids) takes pilot_id too.
ASSOCIATIONS = {
    'incident_person': ('incident_id', 'person_id'),
    'factor_incident': ('factor_id', 'incident_id'),
    'factor_observation': ('factor_id', 'observation_id'),
    'factor_engagement': ('factor_id', 'engagement_id'),
    'engagement_place': ('engagement_id', 'place_id'),
    'awareness_place': ('awareness_id', 'place_id'),
    'action_factor': ('action_id', 'factor_id'),
}

# Unique constraints that take pilot_id (last, so lookups by their leading columns keep
# using them): (table, name, columns before).
UNIQUES = (
    ('assessment', 'uq_assessment_place_version', ('place_id', 'version_no')),
    ('context_weight', 'uq_context_weight_name', ('assessment_id', 'name')),
    ('context_weight', 'uq_context_weight_place', ('assessment_id', 'place_id')),
    ('plan', 'uq_plan_assessment_version', ('assessment_id', 'version_no')),
    ('kpi_measurement', 'uq_kpi_measurement_period', ('kpi_id', 'period_start')),
    ('meeting_attendance', 'uq_meeting_attendance_agency', ('meeting_id', 'agency_id')),
    ('upload', 'uq_upload_token', ('token',)),
)

# Tables that are not distributed by pilot (locmap.models.tenancy as of this revision).
NOT_DISTRIBUTED = frozenset({
    'agency', 'user_account', 'pilot', 'membership', 'pilot_approver_agency',
    'basemap_build', 'basemap_feature', 'basemap_tile', 'retention_rule',
    'partner_referral_form', 'audit_event', 'user_session', 'invitation',
    'idempotent_request', 'inbox_state', 'board_pack', 'procrastinate_jobs',
    'procrastinate_workers', 'procrastinate_events', 'procrastinate_periodic_defers',
    'alembic_version', 'spatial_ref_sys',
})


def _distributed(inspector: sa.Inspector) -> list[str]:
    return sorted(t for t in inspector.get_table_names() if t not in NOT_DISTRIBUTED)


def _keys_with_pilot() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = _distributed(inspector)
    fks = []
    for table in tables:
        for fk in inspector.get_foreign_keys(table):
            if fk['referred_table'] in tables and 'pilot_id' not in fk['constrained_columns']:
                fks.append((table, fk))
                op.drop_constraint(fk['name'], table, type_='foreignkey')
    for table in tables:
        pk = inspector.get_pk_constraint(table)
        if 'pilot_id' not in pk['constrained_columns']:
            op.drop_constraint(pk['name'], table, type_='primary')
            op.create_primary_key(pk['name'], table, [*pk['constrained_columns'], 'pilot_id'])
    for table, fk in fks:
        (column,) = fk['constrained_columns']
        ondelete = fk['options'].get('ondelete')
        if ondelete == 'SET NULL':
            ondelete = f'SET NULL ({column})'
        op.create_foreign_key(fk['name'], table, fk['referred_table'], [column, 'pilot_id'],
                              [*fk['referred_columns'], 'pilot_id'], ondelete=ondelete)


# Primary keys that held pilot_id before this revision.
PILOT_KEYED_BEFORE = frozenset({'locality_incident_count', 'map_cell_count',
                                'pseudonym_counter', *ASSOCIATIONS})


def _keys_without_pilot() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = _distributed(inspector)
    fks = []
    for table in tables:
        for fk in inspector.get_foreign_keys(table):
            if fk['referred_table'] in tables and len(fk['constrained_columns']) == 2:
                fks.append((table, fk))
                op.drop_constraint(fk['name'], table, type_='foreignkey')
    for table in tables:
        pk = inspector.get_pk_constraint(table)
        if table not in PILOT_KEYED_BEFORE:
            op.drop_constraint(pk['name'], table, type_='primary')
            op.create_primary_key(pk['name'], table,
                                  [c for c in pk['constrained_columns'] if c != 'pilot_id'])
    for table, fk in fks:
        (column,) = [c for c in fk['constrained_columns'] if c != 'pilot_id']
        (referred,) = [c for c in fk['referred_columns'] if c != 'pilot_id']
        ondelete = fk['options'].get('ondelete')
        if ondelete:
            ondelete = re.sub(r'\s*\(.*\)$', '', ondelete)
        op.create_foreign_key(fk['name'], table, fk['referred_table'], [column], [referred],
                              ondelete=ondelete)


def upgrade() -> None:
    for table, parents in CHILDREN:
        op.add_column(table, sa.Column('pilot_id', sa.Integer(), nullable=True))
        sources = ', '.join(
            f'(SELECT p.pilot_id FROM {parent} p WHERE p.id = {table}.{column})'  # noqa: S608
            for column, parent in parents)
        op.execute(f'UPDATE {table} SET pilot_id = COALESCE({sources}, NULL)')  # noqa: S608
        op.alter_column(table, 'pilot_id', nullable=False)
        op.create_foreign_key(op.f(f'fk_{table}_pilot_id_pilot'), table, 'pilot',
                              ['pilot_id'], ['id'], ondelete='CASCADE')
    for table, columns in ASSOCIATIONS.items():
        op.drop_constraint(op.f(f'pk_{table}'), table, type_='primary')
        op.create_primary_key(op.f(f'pk_{table}'), table, [*columns, 'pilot_id'])
    for table, name, columns in UNIQUES:
        op.drop_constraint(name, table, type_='unique')
        op.create_unique_constraint(name, table, [*columns, 'pilot_id'])
    _keys_with_pilot()


def downgrade() -> None:
    _keys_without_pilot()
    for table, name, columns in UNIQUES:
        op.drop_constraint(name, table, type_='unique')
        op.create_unique_constraint(name, table, list(columns))
    for table, columns in ASSOCIATIONS.items():
        op.drop_constraint(op.f(f'pk_{table}'), table, type_='primary')
        op.create_primary_key(op.f(f'pk_{table}'), table, list(columns))
    for table, _parents in reversed(CHILDREN):
        op.drop_column(table, 'pilot_id')
