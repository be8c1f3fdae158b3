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


def test_0010_keeps_agencies_users_and_pilots_and_archived_goes_back_to_closed(
        empty_url: str) -> None:
    """Issue 15's migration: rows made before it keep their meaning (agencies active,
    no forced password change, no extra approvers); downgrading turns archived into closed.
    """
    upgrade(empty_url, "0010-1")
    eng = create_engine(empty_url)
    try:
        with eng.begin() as conn:
            conn.execute(text("INSERT INTO agency (name, kind) VALUES ('Old Police', 'police')"))
            conn.execute(text(
                "INSERT INTO user_account (email, name, password_hash, is_admin, is_auditor, "
                "active) VALUES ('old@test.invalid', 'Old', 'x', false, false, true)"))
            conn.execute(text(
                "INSERT INTO pilot (name, description, locality, start_date, duration_months, "
                "review_interval_months, status, approval_rule, version) VALUES ('Old Pilot', "
                "'', ST_Multi(ST_MakeEnvelope(-1.5, 52.5, -1.49, 52.51, 4326)), '2025-01-06', "
                "18, 3, 'closed', 'all_named', 1)"))
        upgrade(empty_url, "0010")
        with eng.begin() as conn:
            assert conn.execute(text("SELECT active FROM agency")).scalar() is True
            assert conn.execute(text(
                "SELECT must_change_password FROM user_account")).scalar() is False
            assert conn.execute(text("SELECT min_approvals FROM pilot")).scalar() == 0
            conn.execute(text("UPDATE pilot SET status = 'archived'"))
        downgrade(empty_url, "0010-1")
        with eng.begin() as conn:
            assert conn.execute(text("SELECT status FROM pilot")).scalar() == "closed"
            conn.execute(text("DELETE FROM pilot; DELETE FROM user_account; DELETE FROM agency"))
    finally:
        eng.dispose()
    upgrade(empty_url)


def test_totp_secrets_are_encrypted_on_upgrade_and_decrypted_on_downgrade(
        empty_url: str) -> None:
    """Migration 0014 encrypts the secrets already stored (with the app's secret key) and
    gives them back in the clear on the way down."""
    from locmap.config import load_settings
    from locmap.crypto import PREFIX, FieldBox

    downgrade(empty_url, "base")
    upgrade(empty_url, "0013")
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    eng = create_engine(empty_url)
    try:
        with eng.begin() as conn:
            conn.execute(text(
                "INSERT INTO user_account (email, name, password_hash, is_admin, is_auditor, "
                "active, totp_secret) VALUES ('totp@test.invalid', 'T', 'x', false, false, "
                "true, :s)"), {"s": secret})
        upgrade(empty_url, "0014")
        with eng.connect() as conn:
            stored = conn.execute(text("SELECT totp_secret FROM user_account")).scalar_one()
        assert stored.startswith(PREFIX) and secret not in stored
        assert FieldBox(load_settings().secret_key).decrypt(stored) == secret
        upgrade(empty_url)
        downgrade(empty_url, "0013")
        with eng.connect() as conn:
            assert conn.execute(text("SELECT totp_secret FROM user_account")).scalar_one() \
                == secret
    finally:
        eng.dispose()
        downgrade(empty_url, "base")
