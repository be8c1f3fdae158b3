"""distribute the tables over a Citus cluster, where the citus extension is installed

Revision ID: 0029
Revises: 0027
Create Date: 2026-12-07

Issue 20 (a). On plain PostgreSQL (no ``citus`` in pg_extension) this revision does
nothing. On a Citus coordinator it makes the shared tables reference tables (copied to
every worker) and distributes every table holding a pilot's data by ``pilot_id``,
co-located with ``place`` so that one pilot's rows of every table sit on the same worker
and joins and foreign keys between them stay on it (revision 0027 put pilot_id in their
keys). The coordinator's own tables (audit chain, sessions, job queue, board packs) stay
local to it; the coordinator must be in Citus' metadata (``citus_set_coordinator_host``)
for their foreign keys to the reference tables. The lists are frozen here as
locmap.models.tenancy stood at this revision. docs/scale.md says what was verified.
"""

from __future__ import annotations

from graphlib import TopologicalSorter

from alembic import op
import sqlalchemy as sa

revision = '0029'
down_revision = '0027'
branch_labels = None
depends_on = None

COLUMN = 'pilot_id'
COLOCATE_WITH = 'place'
REFERENCE = frozenset({
    'agency', 'user_account', 'pilot', 'membership', 'pilot_approver_agency',
    'basemap_build', 'basemap_feature', 'basemap_tile', 'retention_rule',
    'partner_referral_form',
})
COORDINATOR = frozenset({
    'audit_event', 'user_session', 'invitation', 'idempotent_request', 'inbox_state',
    'board_pack', 'procrastinate_jobs', 'procrastinate_workers', 'procrastinate_events',
    'procrastinate_periodic_defers',
})
IGNORED = frozenset({'alembic_version', 'spatial_ref_sys'})

_FOREIGN_KEYS = sa.text("""
SELECT c.relname, r.relname FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype = 'f' AND n.nspname = current_schema() AND c.oid <> r.oid
""")
_TABLES = sa.text("""
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
""")


def has_citus(conn: sa.Connection) -> bool:
    return bool(conn.scalar(sa.text(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")))


def statements(conn: sa.Connection) -> list[str]:
    """What upgrade runs on a Citus coordinator: each table after the tables it refers to
    (Citus refuses a foreign key to a table not yet distributed or replicated)."""
    tables = {t for (t,) in conn.execute(_TABLES)} - IGNORED - COORDINATOR
    graph: dict[str, set[str]] = {t: set() for t in tables}
    for table, referred in conn.execute(_FOREIGN_KEYS):
        if table in tables and referred in tables:
            graph[table].add(referred)
    order = list(TopologicalSorter(graph).static_order())
    # Reference tables first, then the co-location anchor, then the other distributed
    # tables (the anchor refers to none of them).
    assert not graph[COLOCATE_WITH] - REFERENCE, graph[COLOCATE_WITH]
    order = ([t for t in order if t in REFERENCE] + [COLOCATE_WITH]
             + [t for t in order if t not in REFERENCE and t != COLOCATE_WITH])
    out = []
    for table in order:
        if table in REFERENCE:
            out.append(f"SELECT create_reference_table('{table}')")
        elif table == COLOCATE_WITH:
            out.append(f"SELECT create_distributed_table('{table}', '{COLUMN}')")
        else:
            out.append(f"SELECT create_distributed_table('{table}', '{COLUMN}', "
                       f"colocate_with => '{COLOCATE_WITH}')")
    return out


def upgrade() -> None:
    conn = op.get_bind()
    if not has_citus(conn):
        return
    # Distributing tables that refer to reference tables made in the same transaction.
    op.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
    for statement in statements(conn):
        op.execute(statement)


def downgrade() -> None:
    conn = op.get_bind()
    if not has_citus(conn):
        return
    for statement in reversed(statements(conn)):
        table = statement.split("'")[1]
        # Undistributing one table takes those its foreign keys connect along with it.
        op.execute(sa.text(
            "SELECT undistribute_table(CAST(:t AS regclass), cascade_via_foreign_keys => true) "
            "WHERE EXISTS (SELECT 1 FROM pg_dist_partition "
            "WHERE logicalrelid = CAST(:t AS regclass))").bindparams(t=table))
