"""Migrations build the whole schema from nothing, tear it down, and match the models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, inspect, text

import locmap.models  # noqa: F401
from locmap.db import downgrade, upgrade
from locmap.models.base import Base
from locmap.pgserver import drop_database
from tests.conftest import _fresh_database


@pytest.fixture(scope="module")
def empty_url() -> Iterator[str]:
    url = _fresh_database("mig")
    yield url
    drop_database(url)


def _tables(url: str) -> set[str]:
    eng = create_engine(url)
    try:
        return set(inspect(eng).get_table_names()) - {"spatial_ref_sys"}
    finally:
        eng.dispose()


def test_upgrade_from_empty_to_head_and_back_to_base(empty_url: str) -> None:
    assert _tables(empty_url) == set()
    upgrade(empty_url)
    tables = _tables(empty_url)
    assert set(Base.metadata.tables) <= tables
    downgrade(empty_url, "base")
    assert _tables(empty_url) == {"alembic_version"}
    upgrade(empty_url)  # and up again: downgrade left nothing behind that blocks it
    assert set(Base.metadata.tables) <= _tables(empty_url)


def _include(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    if type_ == "table" and reflected and compare_to is None:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def test_models_and_migrations_agree(database_url: str) -> None:
    eng = create_engine(database_url)
    try:
        with eng.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"include_object": _include, "compare_type": True}
            )
            assert compare_metadata(ctx, Base.metadata) == []
            # The append-only trigger is not in the models; check the migration made it.
            assert conn.scalar(text(
                "SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_event_append_only'"
            )) == 1
    finally:
        eng.dispose()
