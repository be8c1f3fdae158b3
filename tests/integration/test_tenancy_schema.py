"""The migrated schema is ready to distribute by pilot (issue 20 (a), docs/scale.md).

Reads pg_catalog on the session's database (migrated to head) and checks every table
against locmap.models.tenancy: a distributed table carries ``pilot_id`` NOT NULL, and its
primary key, every unique constraint or unique index, and every foreign key to another
distributed table include it (the foreign key pairing ``pilot_id`` with ``pilot_id``);
a reference table points at no distributed or coordinator table; a coordinator table
points at no distributed table. These are the rules Citus enforces when
``create_distributed_table`` / ``create_reference_table`` run (migration 0029).
"""

from __future__ import annotations

import importlib.util
from collections import defaultdict
from typing import Any

from sqlalchemy import create_engine, text

from locmap.db import MIGRATIONS_DIR
from locmap.models import tenancy

COL = tenancy.DISTRIBUTION_COLUMN

_TABLES = """
SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
"""
_COLUMNS = """
SELECT a.attrelid, a.attnum, a.attname, a.attnotnull FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND a.attnum > 0 AND NOT a.attisdropped
"""
_CONSTRAINTS = """
SELECT con.conname, con.contype, con.conrelid, con.conkey, con.confrelid, con.confkey,
       con.conindid
FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace
WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u', 'f')
"""
_UNIQUE_INDEXES = """
SELECT i.indexrelid, ic.relname, i.indrelid, i.indkey::int2[], i.indexprs IS NOT NULL
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE n.nspname = current_schema() AND i.indisunique
"""


def kind_of(table: str) -> str:
    if table in tenancy.REFERENCE:
        return "reference"
    if table in tenancy.COORDINATOR:
        return "coordinator"
    return "distributed"


def schema_problems(url: str) -> dict[str, list[str]]:
    """Each table that breaks the rules, with every reason why."""
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            tables = {oid: name for oid, name in conn.execute(text(_TABLES))}
            cols: dict[int, dict[int, tuple[str, bool]]] = defaultdict(dict)
            for rel, num, name, notnull in conn.execute(text(_COLUMNS)):
                cols[rel][num] = (name, notnull)
            constraints = list(conn.execute(text(_CONSTRAINTS)))
            indexes = list(conn.execute(text(_UNIQUE_INDEXES)))
    finally:
        eng.dispose()

    problems: dict[str, list[str]] = defaultdict(list)
    names = set(tables.values()) - tenancy.IGNORED
    for stale in sorted((tenancy.REFERENCE | tenancy.COORDINATOR) - names):
        problems[stale].append("classified in locmap.models.tenancy but not in the schema")

    def colnames(rel: int, keys: list[int]) -> list[str]:
        return [cols[rel][k][0] for k in keys]

    for rel, table in tables.items():
        if table in tenancy.IGNORED or kind_of(table) != "distributed":
            continue
        by_name = {name: notnull for name, notnull in cols[rel].values()}
        if COL not in by_name:
            problems[table].append(f"no {COL} column")
        elif not by_name[COL]:
            problems[table].append(f"{COL} may be NULL")

    constraint_indexes = set()
    for name, contype, rel, keys, frel, fkeys, indid in constraints:
        table = tables.get(rel)
        if table is None or table in tenancy.IGNORED:
            continue
        constraint_indexes.add(indid)
        kind = kind_of(table)
        columns = colnames(rel, keys)
        if contype in ("p", "u") and kind == "distributed" and COL not in columns:
            what = "primary key" if contype == "p" else "unique constraint"
            problems[table].append(f"{what} {name} ({', '.join(columns)}) lacks {COL}")
        if contype != "f":
            continue
        target = tables.get(frel, "?")
        tkind = kind_of(target)
        if kind == "distributed" and tkind == "distributed":
            pairs = dict(zip(columns, colnames(frel, fkeys), strict=True))
            if pairs.get(COL) != COL:
                problems[table].append(
                    f"foreign key {name} ({', '.join(columns)}) -> {target} lacks {COL}")
        elif kind == "distributed" and tkind == "coordinator":
            problems[table].append(f"foreign key {name} -> coordinator table {target}")
        elif kind == "reference" and tkind != "reference":
            problems[table].append(f"foreign key {name} -> {tkind} table {target}")
        elif kind == "coordinator" and tkind == "distributed":
            problems[table].append(f"foreign key {name} -> distributed table {target}")

    for indid, iname, rel, keys, has_expr in indexes:
        table = tables.get(rel)
        if (indid in constraint_indexes or table is None or table in tenancy.IGNORED
                or kind_of(table) != "distributed"):
            continue
        columns = [cols[rel][k][0] if k else "(expression)" for k in keys]
        if COL not in columns:
            extra = " (with an expression)" if has_expr else ""
            problems[table].append(
                f"unique index {iname} ({', '.join(columns)}){extra} lacks {COL}")
    return {t: sorted(r) for t, r in sorted(problems.items())}


def test_every_table_is_ready_to_distribute_by_pilot(database_url: str) -> None:
    problems = schema_problems(database_url)
    report = "\n".join(f"{t}: " + "; ".join(r) for t, r in problems.items())
    assert not problems, f"{len(problems)} tables break the distribution rules:\n{report}"


def test_the_classification_is_sane() -> None:
    assert not tenancy.REFERENCE & tenancy.COORDINATOR
    assert tenancy.COLOCATE_WITH not in tenancy.REFERENCE | tenancy.COORDINATOR


def test_every_distributed_table_is_pilot_owned_in_the_models() -> None:
    """The session scope (locmap.models.tenancy.scope) pins what PilotOwned marks."""
    import locmap.models  # noqa: F401
    from locmap.models.base import Base, PilotOwned

    distributed = {t for t in Base.metadata.tables if kind_of(t) == "distributed"}
    owned = {m.local_table.name for m in Base.registry.mappers
             if issubclass(m.class_, PilotOwned)}
    mapped = {m.local_table.name for m in Base.registry.mappers}
    assert owned == distributed & mapped
    assert not owned - distributed


def _citus_migration() -> Any:
    path = MIGRATIONS_DIR / "versions" / "0029_citus_distribution.py"
    spec = importlib.util.spec_from_file_location("citus_0029", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_citus_migration_distributes_every_table_after_those_it_refers_to(
        database_url: str) -> None:
    """What 0029 would run on a Citus coordinator (it runs nothing here: no citus)."""
    mig = _citus_migration()
    assert (mig.REFERENCE, mig.COORDINATOR) == (tenancy.REFERENCE, tenancy.COORDINATOR), \
        "tenancy changed since 0029: a new migration must distribute or replicate the change"
    eng = create_engine(database_url)
    try:
        with eng.connect() as conn:
            assert not mig.has_citus(conn)
            statements = mig.statements(conn)
            fks = list(conn.execute(text(
                "SELECT c.relname, r.relname FROM pg_constraint k "
                "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid "
                "WHERE k.contype = 'f' AND c.oid <> r.oid")))
            tables = {t for (t,) in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))}
    finally:
        eng.dispose()
    order = [s.split("'")[1] for s in statements]
    assert len(order) == len(set(order))
    assert set(order) == tables - tenancy.IGNORED - tenancy.COORDINATOR
    position = {t: i for i, t in enumerate(order)}
    for table, referred in fks:
        if table in position and referred in position:
            assert position[referred] < position[table], (table, referred)
    for statement, table in zip(statements, order, strict=True):
        if table in tenancy.REFERENCE:
            assert statement == f"SELECT create_reference_table('{table}')"
        elif table == tenancy.COLOCATE_WITH:
            assert statement == f"SELECT create_distributed_table('{table}', 'pilot_id')"
        else:
            assert statement == (f"SELECT create_distributed_table('{table}', 'pilot_id', "
                                 f"colocate_with => '{tenancy.COLOCATE_WITH}')")
